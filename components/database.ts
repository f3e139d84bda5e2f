import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { serviceTrustPolicy } from "./arns";
import { DatabaseSettings, Environment } from "./config";
import { TYPE } from "./tokens";

export const ENGINE = "aurora-postgresql";

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
    readonly instances: aws.rds.ClusterInstance[];

    constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE.Database, name, {}, opts);
        const s = args.settings;
        const prod = args.environment === "prod";
        const child = { parent: this };
        // A fixed identifier lets us create the PostgreSQL log group before RDS does, with retention and our key.
        const clusterIdentifier = `${args.namePrefix}-aurora`;

        const subnetGroup = new aws.rds.SubnetGroup(`${name}-subnets`, {
            description: `Isolated subnets of ${args.namePrefix}`,
            subnetIds: args.subnetIds,
        }, child);

        // Versions age out: a pinned minor is retired after about a year and CreateDBCluster then refuses it.
        // Resolve at deploy time: the newest available version of the major, unless a preferred one is still
        // offered (aws_rds_engine_version errors when no preferred version matches, so the newest is appended
        // as the last preference: the first match in preference order wins).
        const newest = aws.rds.getEngineVersionOutput({ engine: ENGINE, version: String(s.engineMajor), latest: true }, child);
        const chosen = s.preferredEngineVersions.length === 0 ? newest : aws.rds.getEngineVersionOutput({
            engine: ENGINE,
            version: String(s.engineMajor),
            preferredVersions: newest.versionActual.apply((v) => [...s.preferredEngineVersions, v]),
        }, child);

        const parameters = new aws.rds.ClusterParameterGroup(`${name}-params`, {
            family: `${ENGINE}${s.engineMajor}`,
            // The description is ForceNew (a new group, then a reboot): keep it as first written.
            description: `${args.namePrefix}: TLS forced, connections logged`,
            parameters: [
                // pending-reboot is accepted for every parameter; at creation the group is in force from the first boot.
                { name: "rds.force_ssl", value: "1", applyMethod: "pending-reboot" },
                { name: "log_connections", value: "1", applyMethod: "pending-reboot" },
                { name: "log_disconnections", value: "1", applyMethod: "pending-reboot" },
                // Every role and grant change (CREATE/ALTER/DROP/GRANT/REVOKE) reaches the exported PostgreSQL log,
                // including the bootstrap's, which the Data API runs as the master user (CloudTrail records Data
                // API calls only as data events, off by default). The bootstrap never sends password material in
                // statement text. log_statement is dynamic, so an existing cluster picks it up without a reboot.
                { name: "log_statement", value: "ddl", applyMethod: "immediate" },
            ],
        }, child);

        const logGroup = new aws.cloudwatch.LogGroup(`${name}-postgresql-logs`, {
            name: `/aws/rds/cluster/${clusterIdentifier}/postgresql`,
            retentionInDays: s.logRetentionDays,
            kmsKeyId: args.kmsKeyArn,
        }, { parent: this, deleteBeforeReplace: true });

        // A final snapshot name that no earlier cluster of this name can have used: RDS refuses to delete a
        // cluster whose final snapshot name exists (DBClusterSnapshotAlreadyExistsFault), which would fail the
        // second destroy or a replacement. A new suffix comes with anything that replaces the cluster.
        const snapshotSuffix = new random.RandomId(`${name}-final-snapshot`, {
            byteLength: 4,
            keepers: { clusterIdentifier, databaseName: s.name, masterUsername: s.masterUsername, kmsKeyId: args.kmsKeyArn },
        }, child);

        const cluster = new aws.rds.Cluster(`${name}-cluster`, {
            clusterIdentifier,
            engine: ENGINE,
            engineMode: "provisioned",
            engineVersion: chosen.versionActual,
            databaseName: s.name,
            masterUsername: s.masterUsername,
            // RDS generates, stores and rotates the master password in Secrets Manager; it never passes through Pulumi.
            manageMasterUserPassword: true,
            masterUserSecretKmsKeyId: args.kmsKeyArn,
            iamDatabaseAuthenticationEnabled: true,
            storageEncrypted: true,
            kmsKeyId: args.kmsKeyArn,
            // Only Serverless v2 instances read it. Moving a cluster between Serverless v2 and a provisioned class
            // modifies each instance in place (a restart of a few minutes; docs/cost.md), the cluster keeps its data.
            // Declared whatever the class: only db.serverless instances read it, and a cluster that had it keeps it
            // with no diff (an instance class change then touches only the instances).
            serverlessv2ScalingConfiguration: { minCapacity: s.minCapacity, maxCapacity: s.maxCapacity },
            dbSubnetGroupName: subnetGroup.name,
            vpcSecurityGroupIds: [args.securityGroupId],
            dbClusterParameterGroupName: parameters.name,
            enabledCloudwatchLogsExports: ["postgresql"],
            // The RDS Data API lets the post-deploy bootstrap run SQL (as the master user, via its secret and IAM)
            // without a second network path into the database: its security group admits the proxy only.
            enableHttpEndpoint: true,
            backupRetentionPeriod: s.backupRetentionDays,
            preferredBackupWindow: "02:00-03:00",
            preferredMaintenanceWindow: "sun:04:00-sun:05:00",
            copyTagsToSnapshot: true,
            deletionProtection: s.deletionProtection,
            skipFinalSnapshot: !prod,
            finalSnapshotIdentifier: prod ? pulumi.interpolate`${clusterIdentifier}-final-${snapshotSuffix.hex}` : undefined,
            applyImmediately: !prod,
        }, {
            parent: this,
            dependsOn: [logGroup],
            // AWS applies minor upgrades in the maintenance window (autoMinorVersionUpgrade), and the resolved version
            // moves as AWS releases new minors; an existing cluster keeps its own. See the README for upgrades.
            ignoreChanges: ["engineVersion"],
            // prod: Pulumi refuses to delete or replace the cluster (unprotect it deliberately first). dev: a change
            // that replaces it deletes the old one first, as the fixed identifier would collide.
            protect: prod,
            deleteBeforeReplace: true,
        });

        // Enhanced Monitoring publishes OS metrics through a role RDS assumes; only when it is turned on.
        const monitoringRole = s.monitoringIntervalSeconds > 0
            ? new aws.iam.Role(`${name}-monitoring`, {
                description: `Enhanced Monitoring for ${clusterIdentifier}`,
                assumeRolePolicy: serviceTrustPolicy("monitoring.rds.amazonaws.com"),
            }, child)
            : undefined;
        const monitoringPolicy = monitoringRole && new aws.iam.RolePolicyAttachment(`${name}-monitoring`, {
            role: monitoringRole.name,
            policyArn: aws.iam.ManagedPolicy.AmazonRDSEnhancedMonitoringRole,
        }, child);

        // The first instance an Aurora cluster gets becomes its writer. Instances 2..n wait for instance 1, so the
        // writer is instance 1 (promotion tier 0) and the tiers below describe the readers as the README says.
        const instances: aws.rds.ClusterInstance[] = [];
        for (let i = 0; i < s.instanceCount; i++) instances.push(new aws.rds.ClusterInstance(`${name}-instance-${i + 1}`, {
            clusterIdentifier: cluster.id,
            identifier: `${clusterIdentifier}-${i + 1}`,
            engine: ENGINE,
            instanceClass: s.instanceClass,
            publiclyAccessible: false,
            dbSubnetGroupName: subnetGroup.name,
            // Spread over the subnet group's AZs so a reader in another AZ can be promoted.
            availabilityZone: pulumi.output(args.availabilityZones).apply((azs) => azs[i % azs.length]),
            // Serverless v2 readers in tiers 0-1 scale with the writer, so the first reader can take over at the
            // writer's size; further readers (tier 2) scale with their own read load, which costs less.
            promotionTier: i === 0 ? 0 : i === 1 ? 1 : 2,
            performanceInsightsEnabled: s.performanceInsights,
            performanceInsightsKmsKeyId: s.performanceInsights ? args.kmsKeyArn : undefined,
            performanceInsightsRetentionPeriod: s.performanceInsights ? 7 : undefined,
            monitoringInterval: s.monitoringIntervalSeconds,
            monitoringRoleArn: monitoringRole?.arn,
            autoMinorVersionUpgrade: true,
            applyImmediately: !prod,
        }, {
            parent: this,
            dependsOn: [...(monitoringPolicy ? [monitoringPolicy] : []), ...(i > 0 ? [instances[0]] : [])],
            deleteBeforeReplace: true,
        }));
        this.instances = instances;

        // What the cluster runs, not what the lookup would choose today (an existing cluster keeps its version).
        this.engineVersion = cluster.engineVersionActual;
        this.clusterIdentifier = cluster.clusterIdentifier;
        this.clusterArn = cluster.arn;
        this.clusterResourceId = cluster.clusterResourceId;
        this.endpoint = cluster.endpoint;
        this.readerEndpoint = cluster.readerEndpoint;
        this.port = cluster.port;
        this.masterSecretArn = cluster.masterUserSecrets.apply((secrets) => {
            const arn = secrets?.[0]?.secretArn;
            if (!arn && !pulumi.runtime.isDryRun()) throw new Error(`${clusterIdentifier}: RDS did not report a managed master secret`);
            return arn ?? "";
        });
        this.registerOutputs({
            engineVersion: chosen.versionActual,
            clusterArn: this.clusterArn,
            endpoint: this.endpoint,
            readerEndpoint: this.readerEndpoint,
        });
    }
}
