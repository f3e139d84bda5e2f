import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { adoptionProblems, DescribedCluster, describedFromDataSources } from "./adopt";
import { serviceTrustPolicy } from "./arns";
import { CLUSTER_PARAMETERS, ENGINE, ENGINE_MODE } from "./cluster-spec";
import { DatabaseSettings, Environment } from "./config";
import { describeSecretKey } from "./existing-cluster";
import { TYPE } from "./tokens";

export interface DatabaseArgs {
    namePrefix: string;
    environment: Environment;
    settings: DatabaseSettings;
    /** Isolated subnets (no route out of the VPC), one per AZ. */
    subnetIds: pulumi.Input<pulumi.Input<string>[]>;
    /** The AZ of each subnet above, in the same order; instances are spread over them. */
    availabilityZones: pulumi.Input<string[]>;
    securityGroupId: pulumi.Input<string>;
    kmsKeyArn: pulumi.Input<string>;
    /** The VPC of the subnets: an adopted cluster's subnet group must be in it. */
    vpcId?: pulumi.Input<string>;
}

/**
 * Aurora PostgreSQL, Serverless v2 or a provisioned class (settings.instanceClass): IAM auth on, TLS forced,
 * storage and master secret under the stack's CMK.
 */
export class Database extends pulumi.ComponentResource {
    readonly clusterIdentifier: pulumi.Output<string>;
    /**
     * The engine version the cluster runs: chosen at its creation (the first preferred version still offered,
     * else the newest of the configured major), then kept; engineVersion changes are ignored.
     */
    readonly engineVersion: pulumi.Output<string>;
    readonly clusterArn: pulumi.Output<string>;
    /** The cluster's resource id (cluster-XXXX), which IAM's rds-db:connect ARNs name for direct connections. */
    readonly clusterResourceId: pulumi.Output<string>;
    readonly endpoint: pulumi.Output<string>;
    readonly readerEndpoint: pulumi.Output<string>;
    readonly port: pulumi.Output<number>;
    /** The RDS-managed master secret: only the bootstrap reads it. */
    readonly masterSecretArn: pulumi.Output<string>;
    /**
     * The master secret's KMS key where it is customer-managed (the bootstrap may decrypt with it, through Secrets
     * Manager only): the stack's key, or an adopted cluster's own; undefined under the AWS-managed aws/secretsmanager key.
     */
    readonly masterSecretKmsKeyArn: pulumi.Output<string | undefined>;
    readonly instances: aws.rds.ClusterInstance[];

    constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE.Database, name, {}, opts);
        const s = args.settings;
        const prod = args.environment === "prod";
        const child = { parent: this };
        // An adopted cluster (docs/adopt-existing-cluster.md): the cluster, its instances, its subnet group and its
        // log group are imported (the `import` resource option: `pulumi up` reads each one and then updates it in
        // place to what is declared here) and protected. Every input only a replacement could change is checked
        // against the cluster at preview time, before anything is imported.
        const adopt = s.adopt;
        // An adopted resource keeps the tags it has (aws_* tags are not computed: undeclared, an update would remove
        // them); the provider's default tags are added beside them (tagsAll).
        const adopted = (id: string) => (adopt ? { import: id, protect: true, ignoreChanges: ["tags"] } : {});
        // A fixed identifier lets us create the PostgreSQL log group before RDS does, with retention and our key.
        const clusterIdentifier = adopt?.clusterIdentifier ?? `${args.namePrefix}-aurora`;
        const described = adopt ? describeAdopted(pulumi.getStack(), s, args.vpcId, child) : undefined;
        // Each imported resource's inputs wait on the check, so a mismatch fails the preview before any import.
        const afterCheck = <T>(value: T): pulumi.Input<T> => (described ? described.apply(() => value) : value);

        const subnetGroup = new aws.rds.SubnetGroup(
            `${name}-subnets`,
            {
                ...(adopt ? { name: afterCheck(adopt.subnetGroupName) } : {}),
                // An adopted group keeps its description (another cluster may share the group).
                description: described ? described.subnetGroup.description : `Isolated subnets of ${args.namePrefix}`,
                subnetIds: args.subnetIds,
            },
            { ...child, ...(adopt ? adopted(adopt.subnetGroupName) : {}) },
        );

        // Versions age out: a pinned minor is retired after about a year and CreateDBCluster then refuses it.
        // Resolve at deploy time: the newest available version of the major, unless a preferred one is still
        // offered (aws_rds_engine_version errors when no preferred version matches, so the newest is appended
        // as the last preference: the first match in preference order wins). An adopted cluster runs its own.
        const resolveVersion = () => {
            const newest = aws.rds.getEngineVersionOutput({ engine: ENGINE, version: String(s.engineMajor), latest: true }, child);
            return (
                s.preferredEngineVersions.length === 0
                    ? newest
                    : aws.rds.getEngineVersionOutput(
                          {
                              engine: ENGINE,
                              version: String(s.engineMajor),
                              preferredVersions: newest.versionActual.apply((v) => [...s.preferredEngineVersions, v]),
                          },
                          child,
                      )
            ).versionActual;
        };
        const engineVersion = described ? described.engineVersion : resolveVersion();

        // An adopted cluster moves to this group (not imported: the cluster's own group may be shared, or a default
        // one nobody can modify), with the parameters its group sets carried over; the old group is left as it is.
        const parameters = new aws.rds.ClusterParameterGroup(
            `${name}-params`,
            {
                family: `${ENGINE}${s.engineMajor}`,
                // The description is ForceNew (a new group, then a reboot): keep it as first written.
                description: `${args.namePrefix}: TLS forced, connections logged`,
                parameters: [...CLUSTER_PARAMETERS, ...(adopt?.parameters ?? [])],
            },
            child,
        );

        // RDS creates this group the first time a cluster exports its PostgreSQL log: an adopted cluster that does
        // brings it along (database.adopt.importLogGroup), with the events it holds.
        const logGroupName = `/aws/rds/cluster/${clusterIdentifier}/postgresql`;
        const logGroup = new aws.cloudwatch.LogGroup(
            `${name}-postgresql-logs`,
            {
                name: adopt?.importLogGroup ? afterCheck(logGroupName) : logGroupName,
                retentionInDays: s.logRetentionDays,
                kmsKeyId: args.kmsKeyArn,
            },
            { parent: this, deleteBeforeReplace: true, ...(adopt?.importLogGroup ? adopted(logGroupName) : {}) },
        );

        // A final snapshot name that no earlier cluster of this name can have used: RDS refuses to delete a
        // cluster whose final snapshot name exists (DBClusterSnapshotAlreadyExistsFault), which would fail the
        // second destroy or a replacement. A new suffix comes with anything that replaces the cluster.
        const storageKey = adopt?.kmsKeyId ?? args.kmsKeyArn;
        const snapshotSuffix = new random.RandomId(
            `${name}-final-snapshot`,
            {
                byteLength: 4,
                keepers: { clusterIdentifier, databaseName: s.name, masterUsername: s.masterUsername, kmsKeyId: storageKey },
            },
            child,
        );
        // A cluster this stack did not create holds data it must never lose without a snapshot, in dev too.
        const finalSnapshot = prod || adopt !== undefined;

        const cluster = new aws.rds.Cluster(
            `${name}-cluster`,
            {
                clusterIdentifier: afterCheck(clusterIdentifier),
                engine: ENGINE,
                engineMode: ENGINE_MODE,
                engineVersion,
                databaseName: s.name,
                masterUsername: s.masterUsername,
                // RDS generates, stores and rotates the master password in Secrets Manager; it never passes through Pulumi.
                manageMasterUserPassword: true,
                // An adopted cluster's secret keeps its key: "If the DB cluster already manages the master user password in
                // Secrets Manager, you can't change the KMS key" (RDS API reference, ModifyDBCluster, MasterUserSecretKmsKeyId).
                // So it is left undeclared there: the provider's Read never sets master_user_secret_kms_key_id (cluster.go sets
                // only master_user_secret), so any value declared would show as a change after the import and send that
                // ModifyDBCluster; undeclared, the Optional+Computed argument keeps whatever the state holds.
                masterUserSecretKmsKeyId: adopt ? undefined : args.kmsKeyArn,
                iamDatabaseAuthenticationEnabled: true,
                storageEncrypted: true,
                kmsKeyId: storageKey,
                // Only Serverless v2 instances read it. Moving a cluster between Serverless v2 and a provisioned class
                // modifies each instance in place (a restart of a few minutes; docs/cost.md), the cluster keeps its data.
                // Declared whatever the class: only db.serverless instances read it, and a cluster that had it keeps it
                // with no diff (an instance class change then touches only the instances).
                serverlessv2ScalingConfiguration: { minCapacity: s.minCapacity, maxCapacity: s.maxCapacity },
                dbSubnetGroupName: subnetGroup.name,
                // An adopted cluster keeps its own groups (whoever they admit today still gets in) beside ours.
                vpcSecurityGroupIds: [...(adopt?.securityGroupIds ?? []), args.securityGroupId],
                dbClusterParameterGroupName: parameters.name,
                // An adopted cluster keeps the logs it exports already.
                enabledCloudwatchLogsExports: described
                    ? described.logExports.apply((l) => [...new Set([...l, "postgresql"])])
                    : ["postgresql"],
                // The RDS Data API lets the post-deploy bootstrap run SQL (as the master user, via its secret and IAM)
                // without a second network path into the database: its security group admits the proxy only. It does not
                // serve a T-class writer or an older engine version (components/bootstrap-path.ts): the bootstrap then runs
                // in the VPC, and the endpoint stays off, as nothing could use it.
                enableHttpEndpoint: s.bootstrapPath === "data-api",
                backupRetentionPeriod: s.backupRetentionDays,
                preferredBackupWindow: "02:00-03:00",
                preferredMaintenanceWindow: "sun:04:00-sun:05:00",
                copyTagsToSnapshot: true,
                deletionProtection: s.deletionProtection,
                skipFinalSnapshot: !finalSnapshot,
                finalSnapshotIdentifier: finalSnapshot ? pulumi.interpolate`${clusterIdentifier}-final-${snapshotSuffix.hex}` : undefined,
                applyImmediately: !prod,
            },
            {
                ...adopted(clusterIdentifier),
                parent: this,
                dependsOn: [logGroup],
                // AWS applies minor upgrades in the maintenance window (autoMinorVersionUpgrade), and the resolved version
                // moves as AWS releases new minors; an existing cluster keeps its own. See the README for upgrades.
                // Adopted: manageMasterUserPassword is a write-only flag the provider never reads back (cluster.go), so
                // an import would see it unset and send it again; the check above has found the secret RDS manages.
                ignoreChanges: ["engineVersion", ...(adopt ? ["tags", "manageMasterUserPassword"] : [])],
                // prod and adopted: Pulumi refuses to delete or replace the cluster (unprotect it deliberately first). dev: a
                // change that replaces it deletes the old one first, as the fixed identifier would collide.
                protect: prod || adopt !== undefined,
                deleteBeforeReplace: true,
            },
        );

        // Enhanced Monitoring publishes OS metrics through a role RDS assumes; only when it is turned on.
        const monitoringRole =
            s.monitoringIntervalSeconds > 0
                ? new aws.iam.Role(
                      `${name}-monitoring`,
                      {
                          description: `Enhanced Monitoring for ${clusterIdentifier}`,
                          assumeRolePolicy: serviceTrustPolicy("monitoring.rds.amazonaws.com"),
                      },
                      child,
                  )
                : undefined;
        const monitoringPolicy =
            monitoringRole &&
            new aws.iam.RolePolicyAttachment(
                `${name}-monitoring`,
                {
                    role: monitoringRole.name,
                    policyArn: aws.iam.ManagedPolicy.AmazonRDSEnhancedMonitoringRole,
                },
                child,
            );

        // The first instance an Aurora cluster gets becomes its writer. Instances 2..n wait for instance 1, so the
        // writer is instance 1 (promotion tier 0) and the tiers below describe the readers as the README says.
        // An adopted cluster's instances come first, as listed (the writer first), and keep their AZ (ForceNew).
        const instances: aws.rds.ClusterInstance[] = [];
        for (let i = 0; i < s.instanceCount; i++) {
            const adoptedId = adopt?.instanceIdentifiers[i];
            instances.push(
                new aws.rds.ClusterInstance(
                    `${name}-instance-${i + 1}`,
                    {
                        clusterIdentifier: cluster.id,
                        identifier: adoptedId ? afterCheck(adoptedId) : `${clusterIdentifier}-${i + 1}`,
                        engine: ENGINE,
                        instanceClass: s.instanceClass,
                        publiclyAccessible: false,
                        dbSubnetGroupName: subnetGroup.name,
                        // Spread over the subnet group's AZs so a reader in another AZ can be promoted.
                        availabilityZone: adoptedId ? undefined : pulumi.output(args.availabilityZones).apply((azs) => azs[i % azs.length]),
                        // Serverless v2 readers in tiers 0-1 scale with the writer, so the first reader can take over at the
                        // writer's size; further readers (tier 2) scale with their own read load, which costs less.
                        promotionTier: i === 0 ? 0 : i === 1 ? 1 : 2,
                        performanceInsightsEnabled: s.performanceInsights,
                        // Left undeclared on an adopted instance (the provider reads both as computed): it keeps the key and
                        // the retention it has (a longer one keeps its history), or AWS's defaults if the update turns it on.
                        performanceInsightsKmsKeyId: s.performanceInsights && !adoptedId ? args.kmsKeyArn : undefined,
                        performanceInsightsRetentionPeriod: s.performanceInsights && !adoptedId ? 7 : undefined,
                        monitoringInterval: s.monitoringIntervalSeconds,
                        monitoringRoleArn: monitoringRole?.arn,
                        autoMinorVersionUpgrade: true,
                        applyImmediately: !prod,
                    },
                    {
                        parent: this,
                        dependsOn: [...(monitoringPolicy ? [monitoringPolicy] : []), ...(i > 0 ? [instances[0]] : [])],
                        deleteBeforeReplace: true,
                        ...(adoptedId ? adopted(adoptedId) : {}),
                    },
                ),
            );
        }
        this.instances = instances;

        // What the cluster runs, not what the lookup would choose today (an existing cluster keeps its version). An
        // adopted cluster's, as checked at preview: the stack's outputs wait on the check and fail with its lines.
        this.engineVersion = described ? described.engineVersion : cluster.engineVersionActual;
        this.clusterIdentifier = cluster.clusterIdentifier;
        this.clusterArn = cluster.arn;
        this.clusterResourceId = cluster.clusterResourceId;
        this.endpoint = cluster.endpoint;
        this.readerEndpoint = cluster.readerEndpoint;
        this.port = cluster.port;
        // An adopted cluster's secret keeps the key it has (described at preview): like a fronted cluster's, it is granted
        // only if it is customer-managed (aws_kms_key key_manager CUSTOMER). Under the AWS-managed aws/secretsmanager key
        // no grant is needed: its key policy lets Secrets Manager use it for any principal of the account allowed to read
        // the secret (Secrets Manager User Guide, "Secret encryption and decryption").
        this.masterSecretKmsKeyArn = described
            ? described.apply((d) => customerManagedKeyArn(pulumi.getStack(), d, child))
            : pulumi.output(args.kmsKeyArn);
        this.masterSecretArn = cluster.masterUserSecrets.apply((secrets) => {
            const arn = secrets?.[0]?.secretArn;
            if (!arn && !pulumi.runtime.isDryRun()) throw new Error(`${clusterIdentifier}: RDS did not report a managed master secret`);
            return arn ?? "";
        });
        this.registerOutputs({
            engineVersion,
            clusterArn: this.clusterArn,
            endpoint: this.endpoint,
            readerEndpoint: this.readerEndpoint,
        });
    }
}

/** The adopted cluster's master secret key ARN if it is customer-managed, else undefined; one line if it can't be described. */
async function customerManagedKeyArn(stack: string, d: DescribedCluster, opts: pulumi.InvokeOptions): Promise<string | undefined> {
    const keyId = d.masterUserSecret?.kmsKeyId;
    if (!keyId) return undefined;
    const key = await describeSecretKey(keyId, opts);
    if ("error" in key) {
        throw new pulumi.RunError(
            `${stack}: the master secret's KMS key of cluster ${d.identifier} (${keyId}) can't be described (${key.error}); ` +
                "let the deployer call kms:DescribeKey on it, so the bootstrap is granted kms:Decrypt on exactly that key",
        );
    }
    return key.customerManaged ? key.arn : undefined;
}

/**
 * The adopted cluster as RDS describes it at preview time (the aws_rds_cluster, aws_db_instance and
 * aws_db_subnet_group data sources), once every input only a replacement could change has been found equal to it;
 * otherwise the preview fails with one line per difference (components/adopt.ts adoptionProblems).
 */
function describeAdopted(
    stack: string,
    s: DatabaseSettings,
    vpcId: pulumi.Input<string> | undefined,
    opts: pulumi.InvokeOutputOptions,
): pulumi.Output<DescribedCluster> {
    const adopt = s.adopt!;
    const cluster = aws.rds.getClusterOutput({ clusterIdentifier: adopt.clusterIdentifier }, opts);
    const instances = pulumi.all(adopt.instanceIdentifiers.map((id) => aws.rds.getInstanceOutput({ dbInstanceIdentifier: id }, opts)));
    const subnetGroup = aws.rds.getSubnetGroupOutput({ name: adopt.subnetGroupName }, opts);
    return pulumi.all([cluster, instances, subnetGroup, vpcId ?? ""]).apply(([c, i, g, vpc]) => {
        const described = describedFromDataSources(c, i, g);
        const declared = {
            name: s.name,
            masterUsername: s.masterUsername,
            engineVersion: s.engineVersion,
            engineMajor: s.engineMajor,
            adopt,
            instanceCount: s.instanceCount,
            instanceClass: s.instanceClass,
            bootstrapPath: s.bootstrapPath,
            vpcId: vpc,
        };
        const problems = adoptionProblems(stack, declared, described);
        if (problems.length > 0) throw new Error(problems.join("\n"));
        return described;
    });
}
