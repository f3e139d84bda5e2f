// RDS: Aurora clusters, their instances, and plain instances. AWSGuard's RDS rules only match
// aws.rds.Instance; these match the Aurora cluster types too.
import * as aws from "@pulumi/aws";
import {
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationPolicy,
    validateResourceOfType,
} from "@pulumi/policy";
import { environmentConfigSchema, environmentOf, isYes, label, ofType, peek, refersTo, show, stackProviders, Unknown } from "../util";
import { T } from "./types";

const envOf = (args: ResourceValidationArgs) => environmentOf(args, [args.provider], args.props);

const isPostgres = (engine: unknown) => typeof engine === "string" && /postgres/i.test(engine);

/**
 * The stack fronts an Aurora cluster it does not declare (AuroraIamProxy's database.existingCluster): it declares
 * no cluster, and its post-deploy functions say so (DB_EXISTING_DATABASE=true). The component reads and checks that
 * cluster at preview time (components/existing-cluster.ts); the rules that need a declared cluster then judge only
 * what the stack adds to it. A stack that declares a cluster is judged strictly, whatever its functions say.
 */
export function frontsExistingCluster(resources: PolicyResource[]): boolean {
    return (
        ofType(resources, T.rdsCluster).length === 0 &&
        ofType(resources, T.lambdaFunction).some((fn) => peek(fn.props, "environment", "variables", "DB_EXISTING_DATABASE") === "true")
    );
}

/**
 * A KMS key id that names a customer-managed key, not the AWS-managed `alias/aws/...` one. An id
 * unknown at preview comes from a resource this stack creates (a key or alias), never an AWS-managed key.
 */
export function isCustomerManagedKey(keyId: unknown): boolean {
    return keyId === Unknown || (typeof keyId === "string" && keyId !== "" && !/alias\/aws\//.test(keyId));
}

export const rdsIamAuthentication: ResourceValidationPolicy = {
    name: "rds-iam-authentication",
    description: "RDS clusters and instances enable IAM database authentication.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: [
        validateResourceOfType(aws.rds.Cluster, (cluster, args, report) => {
            if (cluster.iamDatabaseAuthenticationEnabled !== true) {
                report(
                    `${label(args)}: iamDatabaseAuthenticationEnabled is ${show(cluster.iamDatabaseAuthenticationEnabled)}; ` +
                        "set iamDatabaseAuthenticationEnabled: true so clients authenticate with IAM tokens",
                );
            }
        }),
        validateResourceOfType(aws.rds.Instance, (instance, args, report) => {
            if (instance.iamDatabaseAuthenticationEnabled !== true) {
                report(
                    `${label(args)}: iamDatabaseAuthenticationEnabled is ${show(instance.iamDatabaseAuthenticationEnabled)}; ` +
                        "set iamDatabaseAuthenticationEnabled: true so clients authenticate with IAM tokens",
                );
            }
        }),
    ],
};

export const rdsStorageEncryptedCmk: ResourceValidationPolicy = {
    name: "rds-storage-encrypted-cmk",
    description: "RDS storage is encrypted with a customer-managed KMS key.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: [
        validateResourceOfType(aws.rds.Cluster, (cluster, args, report) => checkStorage(args, report)),
        validateResourceOfType(aws.rds.Instance, (instance, args, report) => {
            // A read replica inherits its source's encryption.
            if (!instance.replicateSourceDb) {
                checkStorage(args, report);
            }
        }),
    ],
};

function checkStorage(args: ResourceValidationArgs, report: (m: string) => void) {
    const encrypted = args.props.storageEncrypted;
    const keyId = peek(args.props, "kmsKeyId");
    if (encrypted !== true) {
        report(`${label(args)}: storageEncrypted is ${show(encrypted)}; set storageEncrypted: true and kmsKeyId to a customer-managed key`);
    } else if (!isCustomerManagedKey(keyId)) {
        report(
            `${label(args)}: kmsKeyId is ${show(keyId)}, so the AWS-managed aws/rds key is used; set kmsKeyId to a customer-managed aws.kms.Key with rotation on`,
        );
    }
}

export const rdsManagedMasterPassword: ResourceValidationPolicy = {
    name: "rds-managed-master-password",
    description: "The master password is generated and kept by RDS in Secrets Manager under a customer-managed key, never in the program.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: validateResourceOfType(aws.rds.Cluster, (cluster, args, report) => {
        // A cluster restored from a snapshot or replicating another one inherits its credentials.
        if (
            peek(args.props, "snapshotIdentifier") ||
            peek(args.props, "replicationSourceIdentifier") ||
            peek(args.props, "globalClusterIdentifier")
        ) {
            return;
        }
        if (cluster.masterPassword !== undefined) {
            report(
                `${label(args)}: masterPassword is set in the program (plaintext in state and config); ` +
                    "remove it and set manageMasterUserPassword: true so RDS generates and rotates it in Secrets Manager",
            );
        } else if (cluster.manageMasterUserPassword !== true) {
            report(
                `${label(args)}: manageMasterUserPassword is ${show(cluster.manageMasterUserPassword)}; ` +
                    "set manageMasterUserPassword: true so RDS keeps the master password in Secrets Manager",
            );
        }
        const secretKey = peek(args.props, "masterUserSecretKmsKeyId");
        if (cluster.manageMasterUserPassword === true && !isCustomerManagedKey(secretKey)) {
            report(
                `${label(args)}: masterUserSecretKmsKeyId is ${show(secretKey)}, so the master secret uses the AWS-managed key; ` +
                    "set masterUserSecretKmsKeyId to a customer-managed aws.kms.Key",
            );
        }
    }),
};

export const rdsBackupRetention: ResourceValidationPolicy = {
    name: "rds-backup-retention",
    description: "RDS automated backups are kept at least 1 day, and at least 7 days in prod.",
    enforcementLevel: "mandatory",
    severity: "medium",
    configSchema: environmentConfigSchema,
    validateResource: [
        validateResourceOfType(aws.rds.Cluster, (cluster, args, report) => checkRetention(cluster.backupRetentionPeriod, args, report)),
        validateResourceOfType(aws.rds.Instance, (instance, args, report) => {
            if (!instance.replicateSourceDb) {
                checkRetention(instance.backupRetentionPeriod, args, report);
            }
        }),
    ],
};

function checkRetention(days: number | undefined, args: ResourceValidationArgs, report: (m: string) => void) {
    const env = envOf(args);
    const minimum = env === "prod" ? 7 : 1;
    // AWS's default retention is 1 day.
    const effective = days ?? 1;
    if (effective < minimum) {
        report(
            `${label(args)}: backupRetentionPeriod is ${days === undefined ? "unset (1 day)" : days} in ${env}; ` +
                `set backupRetentionPeriod >= ${minimum}`,
        );
    }
}

export const rdsDeletionProtectionProd: ResourceValidationPolicy = {
    name: "rds-deletion-protection-prod",
    description: "Prod RDS clusters and instances have deletion protection on.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: environmentConfigSchema,
    validateResource: [
        validateResourceOfType(aws.rds.Cluster, (cluster, args, report) => {
            if (envOf(args) === "prod" && cluster.deletionProtection !== true) {
                report(`${label(args)}: deletionProtection is ${show(cluster.deletionProtection)} in prod; set deletionProtection: true`);
            }
        }),
        validateResourceOfType(aws.rds.Instance, (instance, args, report) => {
            if (envOf(args) === "prod" && instance.deletionProtection !== true) {
                report(`${label(args)}: deletionProtection is ${show(instance.deletionProtection)} in prod; set deletionProtection: true`);
            }
        }),
    ],
};

export const rdsFinalSnapshotProd: ResourceValidationPolicy = {
    name: "rds-final-snapshot-prod",
    description: "Deleting a prod RDS cluster or instance takes a final snapshot.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: environmentConfigSchema,
    validateResource: [
        validateResourceOfType(aws.rds.Cluster, (cluster, args, report) =>
            checkFinalSnapshot(cluster.skipFinalSnapshot, cluster.finalSnapshotIdentifier, args, report),
        ),
        validateResourceOfType(aws.rds.Instance, (instance, args, report) =>
            checkFinalSnapshot(instance.skipFinalSnapshot, instance.finalSnapshotIdentifier, args, report),
        ),
    ],
};

function checkFinalSnapshot(
    skip: boolean | undefined,
    identifier: string | undefined,
    args: ResourceValidationArgs,
    report: (m: string) => void,
) {
    if (envOf(args) !== "prod") {
        return;
    }
    if (skip === true) {
        report(`${label(args)}: skipFinalSnapshot is true in prod; set skipFinalSnapshot: false and a finalSnapshotIdentifier`);
    } else if (!identifier) {
        report(`${label(args)}: finalSnapshotIdentifier is unset in prod, so deletion fails or loses data; set finalSnapshotIdentifier`);
    }
}

export const rdsPostgresqlLogsExported: ResourceValidationPolicy = {
    name: "rds-postgresql-logs-exported",
    description: "PostgreSQL clusters and instances export the `postgresql` log to CloudWatch.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: [
        validateResourceOfType(aws.rds.Cluster, (cluster, args, report) => {
            const exports = cluster.enabledCloudwatchLogsExports ?? [];
            if (isPostgres(cluster.engine) && !exports.includes("postgresql")) {
                report(`${label(args)}: enabledCloudwatchLogsExports is ${show(cluster.enabledCloudwatchLogsExports)}; add "postgresql"`);
            }
        }),
        validateResourceOfType(aws.rds.Instance, (instance, args, report) => {
            const exports = instance.enabledCloudwatchLogsExports ?? [];
            if (isPostgres(instance.engine) && !exports.includes("postgresql")) {
                report(`${label(args)}: enabledCloudwatchLogsExports is ${show(instance.enabledCloudwatchLogsExports)}; add "postgresql"`);
            }
        }),
    ],
};

export const rdsCopyTagsToSnapshot: ResourceValidationPolicy = {
    name: "rds-copy-tags-to-snapshot",
    description: "RDS snapshots carry the resource's tags (ownership and cost allocation survive restores).",
    enforcementLevel: "mandatory",
    severity: "low",
    validateResource: [
        validateResourceOfType(aws.rds.Cluster, (cluster, args, report) => {
            if (cluster.copyTagsToSnapshot !== true) {
                report(`${label(args)}: copyTagsToSnapshot is ${show(cluster.copyTagsToSnapshot)}; set copyTagsToSnapshot: true`);
            }
        }),
        validateResourceOfType(aws.rds.Instance, (instance, args, report) => {
            if (instance.copyTagsToSnapshot !== true) {
                report(`${label(args)}: copyTagsToSnapshot is ${show(instance.copyTagsToSnapshot)}; set copyTagsToSnapshot: true`);
            }
        }),
    ],
};

export const rdsNotPubliclyAccessible: ResourceValidationPolicy = {
    name: "rds-not-publicly-accessible",
    description: "RDS cluster instances and instances are not publicly accessible.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: [
        validateResourceOfType(aws.rds.ClusterInstance, (instance, args, report) => {
            if (instance.publiclyAccessible === true) {
                report(`${label(args)}: publiclyAccessible is true; set publiclyAccessible: false and reach it through the proxy`);
            }
        }),
        validateResourceOfType(aws.rds.Instance, (instance, args, report) => {
            if (instance.publiclyAccessible === true) {
                report(`${label(args)}: publiclyAccessible is true; set publiclyAccessible: false and reach it through the proxy`);
            }
        }),
    ],
};

/** Oldest Aurora PostgreSQL major version still in AWS standard support (13 left it in Feb 2026). */
export const DEFAULT_MINIMUM_POSTGRES_MAJOR = 14;

export const rdsSupportedEngineVersion: ResourceValidationPolicy = {
    name: "rds-supported-engine-version",
    description: "Clusters run Aurora PostgreSQL (provisioned or Serverless v2) on a pinned major version still in standard support.",
    enforcementLevel: "mandatory",
    severity: "medium",
    configSchema: {
        properties: {
            minimumMajorVersion: { type: "integer", default: DEFAULT_MINIMUM_POSTGRES_MAJOR },
        },
    },
    validateResource: validateResourceOfType(aws.rds.Cluster, (cluster, args, report) => {
        const minimum = args.getConfig<{ minimumMajorVersion?: number }>().minimumMajorVersion ?? DEFAULT_MINIMUM_POSTGRES_MAJOR;
        if (cluster.engine !== "aurora-postgresql") {
            report(
                `${label(args)}: engine is ${show(cluster.engine)}; set engine: "aurora-postgresql" (RDS Proxy engineFamily POSTGRESQL)`,
            );
            return;
        }
        if (cluster.engineMode === "serverless") {
            report(
                `${label(args)}: engineMode is "serverless" (Serverless v1, retired); use engineMode "provisioned" with serverlessv2ScalingConfiguration`,
            );
        }
        const version = cluster.engineVersion;
        const major = typeof version === "string" ? Number.parseInt(version.split(".")[0], 10) : NaN;
        if (version === undefined) {
            report(
                `${label(args)}: engineVersion is unset, so AWS picks a default that changes over time; pin engineVersion to ${minimum} or later`,
            );
        } else if (!Number.isFinite(major) || major < minimum) {
            report(
                `${label(args)}: engineVersion is ${show(version)}; use Aurora PostgreSQL ${minimum} or later (older majors are out of standard support)`,
            );
        }
    }),
};

/** A stack rule: TLS is forced by the cluster parameter group the cluster actually uses. */
export const rdsClusterForcesTls: StackValidationPolicy = {
    name: "rds-cluster-forces-tls",
    description: "Each PostgreSQL cluster uses a cluster parameter group from this stack that sets rds.force_ssl = 1.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateStack: (args, report) => {
        const groups = ofType(args.resources, T.clusterParameterGroup);
        for (const cluster of ofType(args.resources, T.rdsCluster)) {
            if (!isPostgres(peek(cluster.props, "engine"))) {
                continue;
            }
            const groupName = peek(cluster.props, "dbClusterParameterGroupName");
            if (groupName === undefined || groupName === "" || (typeof groupName === "string" && groupName.startsWith("default."))) {
                report(
                    `${label(cluster)}: dbClusterParameterGroupName is ${show(groupName)} (default group, rds.force_ssl not enforced); ` +
                        "use an aws.rds.ClusterParameterGroup with rds.force_ssl = 1",
                    cluster.urn,
                );
                continue;
            }
            const group = groups.find((g) => isYes(refersTo(cluster, "dbClusterParameterGroupName", groupName, g, ["name", "id"])));
            if (!group) {
                report(
                    `${label(cluster)}: dbClusterParameterGroupName ${show(groupName)} is not a cluster parameter group of this stack, so TLS enforcement can't be checked; ` +
                        "define the group in this stack with rds.force_ssl = 1",
                    cluster.urn,
                );
                continue;
            }
            const problem = forceSslProblem(group);
            if (problem) {
                report(
                    `${label(cluster)}: its parameter group ${label(group)} ${problem}; add parameter { name: "rds.force_ssl", value: "1" }`,
                    cluster.urn,
                );
            }
        }
    },
};

function forceSslProblem(group: PolicyResource): string | undefined {
    const parameters = peek(group.props, "parameters");
    if (parameters === Unknown) {
        return "has parameters unknown until apply";
    }
    const list = Array.isArray(parameters) ? parameters : [];
    const forceSsl = list.find((p) => peek(p, "name") === "rds.force_ssl");
    if (!forceSsl) {
        return "does not set rds.force_ssl";
    }
    const value = peek(forceSsl, "value");
    return String(value) === "1" ? undefined : `sets rds.force_ssl to ${show(value)}`;
}

export const rdsAutoMinorVersionUpgrade: ResourceValidationPolicy = {
    name: "rds-auto-minor-version-upgrade",
    description: "RDS instances take minor engine versions (security fixes) automatically in the maintenance window.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: [
        validateResourceOfType(aws.rds.ClusterInstance, (instance, args, report) => {
            if (instance.autoMinorVersionUpgrade === false) {
                report(`${label(args)}: autoMinorVersionUpgrade is false; set autoMinorVersionUpgrade: true`);
            }
        }),
        validateResourceOfType(aws.rds.Instance, (instance, args, report) => {
            if (instance.autoMinorVersionUpgrade === false) {
                report(`${label(args)}: autoMinorVersionUpgrade is false; set autoMinorVersionUpgrade: true`);
            }
        }),
    ],
};

export const rdsPerformanceInsights: ResourceValidationPolicy = {
    name: "rds-performance-insights",
    description: "Performance Insights data (which holds query text) is encrypted with a customer-managed key; prod instances have it on.",
    enforcementLevel: "mandatory",
    severity: "medium",
    configSchema: environmentConfigSchema,
    validateResource: [
        validateResourceOfType(aws.rds.ClusterInstance, (instance, args, report) =>
            checkInsights(instance.performanceInsightsEnabled, args, report),
        ),
        validateResourceOfType(aws.rds.Instance, (instance, args, report) =>
            checkInsights(instance.performanceInsightsEnabled, args, report),
        ),
    ],
};

function checkInsights(enabled: boolean | undefined, args: ResourceValidationArgs, report: (m: string) => void) {
    const keyId = peek(args.props, "performanceInsightsKmsKeyId");
    if (enabled === true && !isCustomerManagedKey(keyId)) {
        report(
            `${label(args)}: performanceInsightsKmsKeyId is ${show(keyId)}, so query text is kept under the AWS-managed key; set it to a customer-managed aws.kms.Key`,
        );
    }
    if (enabled !== true && envOf(args) === "prod") {
        report(
            `${label(args)}: performanceInsightsEnabled is ${show(enabled)} in prod; set performanceInsightsEnabled: true with performanceInsightsKmsKeyId`,
        );
    }
}

export const rdsEnhancedMonitoringProd: ResourceValidationPolicy = {
    name: "rds-enhanced-monitoring-prod",
    description:
        "Prod RDS instances publish OS-level Enhanced Monitoring metrics (monitoringInterval > 0). Advisory: operational visibility, not an exposure.",
    enforcementLevel: "advisory",
    severity: "low",
    configSchema: environmentConfigSchema,
    validateResource: [
        validateResourceOfType(aws.rds.ClusterInstance, (instance, args, report) => {
            if (envOf(args) === "prod" && !(typeof instance.monitoringInterval === "number" && instance.monitoringInterval > 0)) {
                report(
                    `${label(args)}: monitoringInterval is ${show(instance.monitoringInterval)} in prod; set monitoringInterval (e.g. 60) and monitoringRoleArn`,
                );
            }
        }),
        validateResourceOfType(aws.rds.Instance, (instance, args, report) => {
            if (envOf(args) === "prod" && !(typeof instance.monitoringInterval === "number" && instance.monitoringInterval > 0)) {
                report(
                    `${label(args)}: monitoringInterval is ${show(instance.monitoringInterval)} in prod; set monitoringInterval (e.g. 60) and monitoringRoleArn`,
                );
            }
        }),
    ],
};

export const rdsMultiAzProd: StackValidationPolicy = {
    name: "rds-multi-az-prod",
    description: "A prod Aurora cluster has at least two instances in different availability zones, so a failover has somewhere to go.",
    enforcementLevel: "mandatory",
    severity: "medium",
    configSchema: environmentConfigSchema,
    validateStack: (args, report) => {
        if (environmentOf(args, stackProviders(args.resources)) !== "prod") {
            return;
        }
        const instances = ofType(args.resources, T.rdsClusterInstance);
        for (const cluster of ofType(args.resources, T.rdsCluster)) {
            const members = instances.filter((i) =>
                isYes(refersTo(i, "clusterIdentifier", peek(i.props, "clusterIdentifier"), cluster, ["clusterIdentifier", "id"])),
            );
            const zones = new Set(members.map((i) => peek(i.props, "availabilityZone")).filter((z) => typeof z === "string"));
            const pinnedTogether =
                members.length >= 2 && zones.size === 1 && members.every((i) => typeof peek(i.props, "availabilityZone") === "string");
            if (members.length < 2) {
                report(
                    `${label(cluster)}: ${members.length} instance(s) in prod; add a second aws.rds.ClusterInstance in another availability zone`,
                    cluster.urn,
                );
            } else if (pinnedTogether) {
                report(
                    `${label(cluster)}: all ${members.length} instances are pinned to ${[...zones][0]}; spread them over availability zones`,
                    cluster.urn,
                );
            }
        }
    },
};
