import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { serviceTrustPolicy } from "./arns";
import { DatabaseSettings, Environment } from "./config";

export interface DatabaseArgs {
    namePrefix: string;
    environment: Environment;
    settings: DatabaseSettings;
    /** Isolated subnets (no route out of the VPC), one per AZ. */
    subnetIds: pulumi.Input<string>[];
    /** The AZ of each subnet above, in the same order; instances are spread over them. */
    availabilityZones: pulumi.Input<string>[];
    securityGroupId: pulumi.Input<string>;
    kmsKeyArn: pulumi.Input<string>;
}

/** Aurora PostgreSQL Serverless v2: IAM auth on, TLS forced, storage and master secret under the stack's CMK. */
export class Database extends pulumi.ComponentResource {
    readonly clusterIdentifier: pulumi.Output<string>;
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
        super("aurora-iam-proxy:index:Database", name, {}, opts);
        const s = args.settings;
        const prod = args.environment === "prod";
        const child = { parent: this };
        // A fixed identifier lets us create the PostgreSQL log group before RDS does, with retention and our key.
        const clusterIdentifier = `${args.namePrefix}-aurora`;

        const subnetGroup = new aws.rds.SubnetGroup(`${name}-subnets`, {
            description: `Isolated subnets of ${args.namePrefix}`,
            subnetIds: args.subnetIds,
        }, child);

        const parameters = new aws.rds.ClusterParameterGroup(`${name}-params`, {
            family: `aurora-postgresql${s.engineMajor}`,
            description: `${args.namePrefix}: TLS forced, connections logged`,
            parameters: [
                // pending-reboot is accepted for every parameter; at creation the group is in force from the first boot.
                { name: "rds.force_ssl", value: "1", applyMethod: "pending-reboot" },
                { name: "log_connections", value: "1", applyMethod: "pending-reboot" },
                { name: "log_disconnections", value: "1", applyMethod: "pending-reboot" },
            ],
        }, child);

        const logGroup = new aws.cloudwatch.LogGroup(`${name}-postgresql-logs`, {
            name: `/aws/rds/cluster/${clusterIdentifier}/postgresql`,
            retentionInDays: s.logRetentionDays,
            kmsKeyId: args.kmsKeyArn,
        }, child);

        const cluster = new aws.rds.Cluster(`${name}-cluster`, {
            clusterIdentifier,
            engine: "aurora-postgresql",
            engineMode: "provisioned",
            engineVersion: s.engineVersion,
            databaseName: s.name,
            masterUsername: s.masterUsername,
            // RDS generates, stores and rotates the master password in Secrets Manager; it never passes through Pulumi.
            manageMasterUserPassword: true,
            masterUserSecretKmsKeyId: args.kmsKeyArn,
            iamDatabaseAuthenticationEnabled: true,
            storageEncrypted: true,
            kmsKeyId: args.kmsKeyArn,
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
            finalSnapshotIdentifier: prod ? `${clusterIdentifier}-final` : undefined,
            applyImmediately: !prod,
        }, {
            parent: this,
            dependsOn: [logGroup],
            // AWS applies minor upgrades in the maintenance window (autoMinorVersionUpgrade); without this the next
            // `pulumi up` would try to go back to the configured minor version and fail. See the README for upgrades.
            ignoreChanges: ["engineVersion"],
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

        this.instances = Array.from({ length: s.instanceCount }, (_, i) => new aws.rds.ClusterInstance(`${name}-instance-${i + 1}`, {
            clusterIdentifier: cluster.id,
            identifier: `${clusterIdentifier}-${i + 1}`,
            engine: "aurora-postgresql",
            instanceClass: "db.serverless",
            publiclyAccessible: false,
            dbSubnetGroupName: subnetGroup.name,
            // Spread over the subnet group's AZs so a reader in another AZ can be promoted.
            availabilityZone: args.availabilityZones[i % args.availabilityZones.length],
            promotionTier: i,
            performanceInsightsEnabled: s.performanceInsights,
            performanceInsightsKmsKeyId: s.performanceInsights ? args.kmsKeyArn : undefined,
            performanceInsightsRetentionPeriod: s.performanceInsights ? 7 : undefined,
            monitoringInterval: s.monitoringIntervalSeconds,
            monitoringRoleArn: monitoringRole?.arn,
            autoMinorVersionUpgrade: true,
            applyImmediately: !prod,
        }, { parent: this, dependsOn: monitoringPolicy ? [monitoringPolicy] : [] }));

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
            clusterArn: this.clusterArn,
            endpoint: this.endpoint,
            readerEndpoint: this.readerEndpoint,
        });
    }
}
