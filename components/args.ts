// AuroraIamProxy's inputs: plain data every Pulumi language can pass, shaped key for key like the stack files'
// settings. Defaults and the rules behind them are applied in one place, components/config.ts (resolveArgs);
// each property documents its default ("Default: ...") in the text the package schema carries to every language's SDK
// (the analyzer keeps a JSDoc comment's text, not its tags).
import * as pulumi from "@pulumi/pulumi";

/** A VPC you already have. Nothing in it is modified except the security groups and rules the component owns. */
export interface ExistingVpc {
    /** The VPC's id, e.g. `vpc-0123456789abcdef0` or an awsx `ec2.Vpc`'s `vpcId`. */
    vpcId: pulumi.Input<string>;
    /**
     * Subnets with a route out (a NAT gateway, or VPC endpoints for SSM, SSM Messages, EC2 Messages and CloudWatch
     * Logs): the post-deploy smoke function and the operator relay run here. At least 2 availability zones.
     */
    privateSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * Subnets with no route out of the VPC: the database and the proxy run here. At least 2 availability zones.
     * A VPC without an isolated tier may pass private subnets here (and says so in its own review).
     */
    isolatedSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
}

/** The network: created by the component (the default), or an existing VPC (`existingVpc`). */
export interface NetworkOptions {
    /** Use this VPC instead of creating one; `cidr`, `azCount` and `flowLogs` then do not apply. */
    existingVpc?: ExistingVpc;
    /**
     * The created VPC's IPv4 block, /16 to /22, inside RFC 1918.
     * Default: "10.20.0.0/16".
     */
    cidr?: string;
    /**
     * Availability zones of the created VPC (2 to 4).
     * Default: 2 in dev, 3 in prod.
     */
    azCount?: number;
    /**
     * VPC flow logs on the created VPC (always on in prod).
     * Default: false in dev, true in prod.
     */
    flowLogs?: boolean;
    /**
     * Days the flow-log group keeps its events (a CloudWatch Logs retention value).
     * Default: 30 in dev, 365 in prod.
     */
    flowLogRetentionDays?: number;
}

/** When a DB cluster parameter takes effect: "immediate" (dynamic parameters only) or "pending-reboot". */
export const ParameterApplyMethod = { Immediate: "immediate", PendingReboot: "pending-reboot" } as const;
/** When a DB cluster parameter takes effect: "immediate" (dynamic parameters only) or "pending-reboot". */
export type ParameterApplyMethod = (typeof ParameterApplyMethod)[keyof typeof ParameterApplyMethod];

/** A parameter the adopted cluster's parameter group sets (`aws rds describe-db-cluster-parameters --source user`). */
export interface AdoptedParameter {
    name: string;
    value: string;
    /** Default: "pending-reboot". */
    applyMethod?: ParameterApplyMethod;
}

/**
 * An Aurora PostgreSQL cluster you already run, brought under this component's full management: `pulumi up`
 * imports its cluster, instances, subnet group and PostgreSQL log group (the `import` resource option) and
 * protects them. Every value is what `aws rds describe-db-clusters` / `describe-db-instances` report
 * (`npm run adopt:settings` writes this block from them). Needs `network.existingVpc` (the cluster's VPC); not
 * with `existingCluster`, which fronts a cluster instead of managing it.
 * See docs/adopt-existing-cluster.md
 */
export interface AdoptCluster {
    /**
     * The cluster's DBClusterIdentifier, as `aws rds describe-db-clusters` prints it (`npm run adopt:settings`
     * writes this whole block; see docs/adopt-existing-cluster.md).
     */
    clusterIdentifier: string;
    /**
     * Every member instance (DBClusterMembers), the writer first: imported as instances 1..n; database.instanceCount
     * may add new ones after them.
     */
    instanceIdentifiers: string[];
    /** The cluster's DBSubnetGroup: imported; its subnets are network.existingVpc.isolatedSubnetIds. */
    subnetGroupName: string;
    /** The cluster's VpcSecurityGroups: they stay on it beside the component's database group (drop one later to retire it). */
    securityGroupIds: string[];
    /** The cluster's KmsKeyId: the key ARN its storage is encrypted with (a cluster keeps its key for life). */
    kmsKeyId: string;
    /**
     * Whether `/aws/rds/cluster/<clusterIdentifier>/postgresql` exists (the cluster exports its PostgreSQL log):
     * then it is imported, else created.
     * Default: false.
     */
    importLogGroup?: boolean;
    /**
     * The parameters the cluster's own parameter group sets: they are carried into the component's group, which
     * the cluster then uses (the old group is left as it is).
     */
    parameters?: AdoptedParameter[];
}

/**
 * An Aurora PostgreSQL cluster you already have, which the component fronts instead of creating one. It is read
 * at preview time and never modified: the one change to anything the component does not own is an ingress rule on
 * the cluster's security group admitting the component's cluster-access group on the cluster's port.
 * Needs `network.existingVpc` (the cluster's VPC). See docs/existing-cluster.md.
 */
export interface ExistingCluster {
    /** The cluster's identifier (DBClusterIdentifier), e.g. `orders-prod`. */
    identifier: string;
    /**
     * A Secrets Manager secret holding the master user's credentials as JSON `{"username", "password"}`, for a
     * cluster whose master password RDS does not manage.
     * Default: the cluster's RDS-managed master secret.
     * See https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-secrets-manager.html
     */
    masterSecretArn?: string;
    /**
     * The cluster's security group that gets the ingress rule admitting the component.
     * Default: the cluster's only VPC security group (a cluster with several must name one).
     */
    securityGroupId?: string;
}

/** The Aurora PostgreSQL cluster: created by the component (the default), or an existing one (`existingCluster`). */
export interface DatabaseOptions {
    /**
     * Front this cluster instead of creating one. Then only `name`, `user` and `logRetentionDays` apply here, and
     * `name` is required.
     */
    existingCluster?: ExistingCluster;
    /**
     * The application database. With `existingCluster`, required: the database on that cluster the application uses.
     * Default: "appdb".
     */
    name?: string;
    /**
     * The user the application connects as by default (DB_USER): a readwrite user of `access.users`, never the
     * master user.
     * Default: "app_user".
     */
    user?: string;
    /**
     * The master user; RDS keeps its password in Secrets Manager and only the bootstrap reads it. An adopted
     * cluster's is its own (`postgres` included).
     * Default: "dbadmin".
     */
    masterUsername?: string;
    /**
     * A major ("16": the newest 16.x AWS offers when the cluster is created) or a preferred MAJOR.MINOR ("16.8").
     * Default: "16".
     * See https://docs.aws.amazon.com/AmazonRDS/latest/AuroraPostgreSQLReleaseNotes/AuroraPostgreSQL.Updates.html
     */
    engineVersion?: string;
    /** MAJOR.MINOR versions of the same major to prefer while AWS still offers them, first match wins. */
    preferredEngineVersions?: string[];
    /**
     * `db.serverless` (Aurora Serverless v2) or a provisioned class Aurora PostgreSQL offers for the major, e.g.
     * "db.r6g.large" (components/aurora-classes.ts lists them); burstable T classes are refused in prod. The RDS
     * Data API does not serve a T class, so there the post-deploy bootstrap runs inside the VPC instead.
     * Default: "db.serverless".
     * @see https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.limitations.html
     */
    instanceClass?: string;
    /**
     * Aurora Serverless v2 minimum capacity, in ACUs (steps of 0.5).
     * Default: 0.5.
     */
    minCapacity?: number;
    /**
     * Aurora Serverless v2 maximum capacity, in ACUs (at least 1).
     * Default: 1 in dev, 8 in prod.
     */
    maxCapacity?: number;
    /**
     * Instances: the first is the writer, the others readers (at least 2 in prod).
     * Default: 1 in dev, 2 in prod.
     */
    instanceCount?: number;
    /**
     * Days of automated backups (at least 7 in prod).
     * Default: 1 in dev, 14 in prod.
     */
    backupRetentionDays?: number;
    /**
     * Deletion protection (always on in prod).
     * Default: false in dev, true in prod.
     */
    deletionProtection?: boolean;
    /**
     * Performance Insights on every instance (7 days, the free tier).
     * Default: false in dev, true in prod.
     */
    performanceInsights?: boolean;
    /**
     * Enhanced Monitoring granularity in seconds: 0 (off), 1, 5, 10, 15, 30 or 60.
     * Default: 0 in dev, 60 in prod.
     */
    monitoringIntervalSeconds?: number;
    /**
     * Days the PostgreSQL log group keeps its events.
     * Default: 14 in dev, 365 in prod.
     */
    logRetentionDays?: number;
    /**
     * A cluster you already run, imported into the component's full management and protected, instead of a new
     * one; needs network.existingVpc. See docs/adopt-existing-cluster.md
     */
    adopt?: AdoptCluster;
}

/** RDS Proxy's authentication behind the proxy: end-to-end IAM, or a per-user secret the proxy reads. */
export const AuthMode = { Iam: "iam", Secrets: "secrets" } as const;
/** RDS Proxy's authentication behind the proxy: end-to-end IAM, or a per-user secret the proxy reads. */
export type AuthMode = (typeof AuthMode)[keyof typeof AuthMode];

/** RDS Proxy. Clients always need TLS and an IAM token. */
export interface ProxyOptions {
    /**
     * `iam`: the proxy also connects to the database with IAM (no password exists); `secrets`: a per-user
     * Secrets Manager secret behind the proxy.
     * Default: "iam".
     * See https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-connecting.html
     */
    authMode?: AuthMode;
    /**
     * The share of the database's max_connections the proxy may open, 1 to 100.
     * Default: 90.
     */
    maxConnectionsPercent?: number;
    /**
     * The share of max_connections the proxy keeps open while idle, 0 to maxConnectionsPercent.
     * Default: 50.
     */
    maxIdleConnectionsPercent?: number;
    /**
     * Seconds a client waits for a pooled connection before the proxy gives up, 0 to 3600.
     * Default: 120.
     */
    connectionBorrowTimeoutSeconds?: number;
    /**
     * Seconds an idle client connection stays open, 1 to 28800.
     * Default: 1800.
     */
    idleClientTimeoutSeconds?: number;
    /**
     * Logs SQL text (never in prod).
     * Default: false.
     */
    debugLogging?: boolean;
}

/** What a database user may do: rows in schema app (readwrite), SELECT only (readonly), or migrations (ddl: CREATE in app). */
export const AccessProfile = { Readwrite: "readwrite", Readonly: "readonly", Ddl: "ddl" } as const;
/** What a database user may do: rows in schema app (readwrite), SELECT only (readonly), or migrations (ddl: CREATE in app). */
export type AccessProfile = (typeof AccessProfile)[keyof typeof AccessProfile];
/** Which proxy endpoint a user is meant for: the writer's, or the READ_ONLY endpoint on the readers. */
export const UserEndpoint = { Writer: "writer", Reader: "reader" } as const;
/** Which proxy endpoint a user is meant for: the writer's, or the READ_ONLY endpoint on the readers. */
export type UserEndpoint = (typeof UserEndpoint)[keyof typeof UserEndpoint];

/** One database user, authenticated with IAM tokens through the proxy. */
export interface DatabaseUser {
    /** A PostgreSQL identifier, lower case; never the master user. */
    name: string;
    access: AccessProfile;
    /** Default: "writer". */
    endpoint?: UserEndpoint;
}

/** The database users and who may reach the proxy. */
export interface AccessOptions {
    /**
     * Every database user. The bootstrap creates them with exactly their profile's grants, and the smoke proves
     * each one after every update.
     * Default: [{ name: database.user, access: "readwrite" }].
     */
    users?: DatabaseUser[];
    /**
     * Security groups of your own to admit to the proxy on 5432, besides the component's client group
     * (`clientSecurityGroupId`), e.g. your service's group.
     */
    clientSecurityGroupIds?: pulumi.Input<string>[];
}

/** A Session Manager relay and an operator role, for `npm run db:connect`. */
export interface OperatorOptions {
    /**
     * The Session Manager relay and the operator role, for `npm run db:connect`.
     * Default: true.
     */
    enabled?: boolean;
    /** IAM role or user ARNs that may assume the operator role; empty: this account decides (its root). */
    principals?: string[];
    /**
     * Set for one update to move the relay to the newest Amazon Linux 2023 AMI (it is replaced); otherwise the
     * relay keeps its AMI and dnf-automatic installs security updates. Default: false.
     */
    followLatestAmi?: boolean;
    /**
     * The users operators may connect as.
     * Default: the readonly and ddl users of access.users.
     */
    users?: string[];
}

/** The post-deploy bootstrap and smoke, and the smoke between deploys. */
export interface SmokeOptions {
    /**
     * Prove the path after every update (turning it off is discouraged).
     * Default: true.
     */
    enabled?: boolean;
    /**
     * Seconds the post-deploy smoke may take, 60 to 900 (a first deploy waits for the proxy's target).
     * Default: 300.
     */
    timeoutSeconds?: number;
    /** Any new value re-runs the bootstrap and the smoke on the next update. */
    rerun?: string;
    /**
     * When the smoke runs between deploys: `rate(N minutes|hours|days)` or `off`; prod at least every 5 minutes.
     * Default: "rate(1 hour)" in dev, "rate(5 minutes)" in prod.
     */
    schedule?: string;
    /**
     * The smoke's warning rows (what the component can't enforce on an existing cluster: `rds.force_ssl` off, audit
     * logging off, a CIDR rule on the cluster's port, a PUBLIC grant on the app schema) fail the post-deploy smoke.
     * Default: false (they are reported, and the deploy goes on).
     */
    warningsFail?: boolean;
}

/** An SNS protocol the alarm topic can deliver to. */
export const SubscriptionProtocol = { Email: "email", Https: "https", Sqs: "sqs", Lambda: "lambda" } as const;
/** An SNS protocol the alarm topic can deliver to. */
export type SubscriptionProtocol = (typeof SubscriptionProtocol)[keyof typeof SubscriptionProtocol];

/** One subscriber to the alarm topic. */
export interface AlarmSubscription {
    protocol: SubscriptionProtocol;
    /** An e-mail address, an https:// URL, or a queue or function ARN. */
    endpoint: string;
}

/** Where alarms go, and how early a certificate expiry is raised. */
export interface AlarmsOptions {
    /** Who hears the alarms; e-mail subscriptions must be confirmed. Default: none. */
    subscriptions?: AlarmSubscription[];
    /**
     * Days before the proxy's TLS certificate (as the smoke sees it) expires that its alarm fires, 1 to 365.
     * Default: 30.
     */
    certExpiryDays?: number;
}

/** Who owns the resources and who pays. `Application` also appears in security-group descriptions. */
export interface TagsOptions {
    /**
     * The Application tag; also in security-group descriptions, so only characters AWS accepts there.
     * Default: "aurora-iam-proxy".
     */
    Application?: string;
    /** The Owner tag: the team that runs the stack. */
    Owner: string;
    /** The CostCenter tag: who pays. */
    CostCenter: string;
}

/** dev or prod: the presets (defaults) and the rules that apply. */
export const EnvironmentName = { Dev: "dev", Prod: "prod" } as const;
/** dev or prod: the presets (defaults) and the rules that apply. */
export type EnvironmentName = (typeof EnvironmentName)[keyof typeof EnvironmentName];

/** AuroraIamProxy's inputs: the stack files' settings, key for key. */
export interface AuroraIamProxyArgs {
    /** dev or prod: picks the defaults and the rules (prod: 3 AZs, 2+ instances, deletion protection, ...). */
    environment: EnvironmentName;
    /** The AWS region of the provider the component runs with, e.g. "eu-west-1". */
    region: string;
    /**
     * Short lower-case name; physical names start with `<name>-<environment>`.
     * Default: "aurora-iam-proxy".
     */
    name?: string;
    network?: NetworkOptions;
    database?: DatabaseOptions;
    proxy?: ProxyOptions;
    access?: AccessOptions;
    operator?: OperatorOptions;
    smoke?: SmokeOptions;
    alarms?: AlarmsOptions;
    tags: TagsOptions;
}
