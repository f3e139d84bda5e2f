// Adopting an Aurora PostgreSQL cluster a team already runs into the component's full management
// (docs/adopt-existing-cluster.md), in four pure parts:
// - adoptSettingsProblems: what database.adopt must look like (the settings parser's one-line refusals);
// - DescribedCluster: a cluster as RDS describes it, read from the AWS CLI's JSON (describedFromCli) or, at
//   preview time, from the provider's data sources (describedFromDataSources);
// - adoptionSettings: the settings a team writes for a described cluster (npm run adopt:settings prints them);
// - adoptionProblems: each input the component declares that only a replacement could change (or that RDS
//   cannot change in place) compared with the described cluster, one line per difference naming both values.
// No Pulumi import: the settings parser and ops/ load this without the SDK.
import { DB_PORT } from "../access/spec";
import { SECURITY_GROUP_ID } from "../smoke/aws-ids";
import { BootstrapPath, dataApiClassProblem, dataApiProblem, dataApiVersionProblem } from "./bootstrap-path";
import { CLUSTER_PARAMETERS, ClusterParameter, ENGINE, ENGINE_MODE } from "./cluster-spec";

/** database.adopt with its defaults applied (components/args.ts AdoptCluster documents each field). */
export interface AdoptSettings {
    clusterIdentifier: string;
    /** The writer first. */
    instanceIdentifiers: string[];
    subnetGroupName: string;
    securityGroupIds: string[];
    kmsKeyId: string;
    importLogGroup: boolean;
    /** The adopted group's own parameters, less those the component sets itself. */
    parameters: ClusterParameter[];
}

export const ADOPT_KEYS = [
    "clusterIdentifier",
    "instanceIdentifiers",
    "subnetGroupName",
    "securityGroupIds",
    "kmsKeyId",
    "importLogGroup",
    "parameters",
] as const;

// CreateDBCluster / CreateDBInstance: 1-63 letters, digits or hyphens, a letter first, no "--", no trailing "-";
// RDS stores identifiers in lower case, as describe-db-clusters prints them (and as an import id must be).
const RDS_IDENTIFIER = /^[a-z](?!.*--)[a-z0-9-]{0,62}(?<!-)$/;
// CreateDBSubnetGroup: up to 255 letters, digits, periods, underscores, spaces or hyphens (stored in lower case).
const SUBNET_GROUP_NAME = /^[a-z0-9 ._-]{1,255}$/;
const KMS_KEY_ARN =
    /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
const PARAMETER_NAME = /^[A-Za-z_][A-Za-z0-9_.]{0,254}$/;

function show(value: unknown): string {
    return value === undefined ? "unset" : JSON.stringify(value);
}

/**
 * What is wrong with `database.adopt` (one line each, the stack not named), and the resolved settings when nothing
 * is. Only its own shape: the parser adds the rules that involve other settings.
 */
export function adoptSettingsProblems(value: unknown): { problems: string[]; adopt?: AdoptSettings } {
    const key = "database.adopt";
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return {
            problems: [
                `${key} (${show(value)}) must be { clusterIdentifier, instanceIdentifiers, subnetGroupName, securityGroupIds, kmsKeyId } as describe-db-clusters reports them (npm run adopt:settings writes it)`,
            ],
        };
    }
    const v = value as Record<string, unknown>;
    const problems: string[] = [];
    const extra = Object.keys(v).filter((k) => !(ADOPT_KEYS as readonly string[]).includes(k));
    if (extra.length > 0) problems.push(`${key} has ${extra.join(", ")}; allowed: ${ADOPT_KEYS.join(", ")}`);
    const identifier = (k: string, id: unknown) => {
        if (typeof id !== "string" || !RDS_IDENTIFIER.test(id)) {
            problems.push(
                `${key}.${k} (${show(id)}) must be an RDS identifier as describe-db-clusters prints it: 1-63 lower-case letters, digits and hyphens, a letter first, no "--", no trailing "-"`,
            );
        }
    };
    const list = (k: string, item: (x: unknown) => void) => {
        const l = v[k];
        if (!Array.isArray(l) || l.length === 0) {
            problems.push(`${key}.${k} (${show(l)}) must be a non-empty list`);
            return;
        }
        l.forEach(item);
        if (new Set(l.map((x) => JSON.stringify(x))).size !== l.length) problems.push(`${key}.${k} (${show(l)}) names an entry twice`);
    };
    identifier("clusterIdentifier", v.clusterIdentifier);
    list("instanceIdentifiers", (id) => identifier("instanceIdentifiers", id));
    if (typeof v.subnetGroupName !== "string" || !SUBNET_GROUP_NAME.test(v.subnetGroupName)) {
        problems.push(
            `${key}.subnetGroupName (${show(v.subnetGroupName)}) must be the cluster's DBSubnetGroup: up to 255 lower-case letters, digits, spaces and . _ -`,
        );
    } else if (/^default$/i.test(v.subnetGroupName)) {
        // The provider refuses to declare an aws_db_subnet_group named "default" (terraform-provider-aws
        // internal/service/rds/validate.go, validSubnetGroupName: (?i)^default$), so it can't be imported, and the
        // cluster can't leave it without a replacement (db_subnet_group_name is ForceNew).
        problems.push(
            `${key}.subnetGroupName ("${v.subnetGroupName}") is the VPC's default DB subnet group, which the AWS provider cannot declare or import; front this cluster instead (database.existingCluster, docs/existing-cluster.md)`,
        );
    }
    list("securityGroupIds", (id) => {
        if (typeof id !== "string" || !SECURITY_GROUP_ID.test(id))
            problems.push(`${key}.securityGroupIds: ${show(id)} is not a security group id such as sg-0123456789abcdef0`);
    });
    if (typeof v.kmsKeyId !== "string" || !KMS_KEY_ARN.test(v.kmsKeyId)) {
        problems.push(
            `${key}.kmsKeyId (${show(v.kmsKeyId)}) must be the cluster's KmsKeyId, a KMS key ARN such as arn:aws:kms:eu-west-1:123456789012:key/<key id>; a cluster without one is not encrypted and cannot be adopted`,
        );
    }
    if (v.importLogGroup !== undefined && typeof v.importLogGroup !== "boolean")
        problems.push(`${key}.importLogGroup (${show(v.importLogGroup)}) must be true or false`);
    const parameters: ClusterParameter[] = [];
    const rawParameters = v.parameters ?? [];
    if (!Array.isArray(rawParameters))
        problems.push(`${key}.parameters (${show(rawParameters)}) must be a list of { name, value, applyMethod }`);
    else
        for (const p of rawParameters) {
            const {
                name,
                value: raw,
                applyMethod = "pending-reboot",
                ...rest
            } = (typeof p === "object" && p !== null ? p : {}) as Record<string, unknown>;
            const value = typeof raw === "number" && Number.isFinite(raw) ? String(raw) : raw;
            if (
                typeof p !== "object" ||
                p === null ||
                Object.keys(rest).length > 0 ||
                typeof name !== "string" ||
                !PARAMETER_NAME.test(name) ||
                typeof value !== "string" ||
                (applyMethod !== "immediate" && applyMethod !== "pending-reboot")
            ) {
                problems.push(
                    `${key}.parameters: ${show(p)} must be { name, value, applyMethod } with applyMethod immediate or pending-reboot (describe-db-cluster-parameters --source user lists them)`,
                );
                continue;
            }
            const ours = CLUSTER_PARAMETERS.find((c) => c.name === name);
            if (ours && ours.value !== value)
                problems.push(
                    `${key}.parameters: ${name} (${show(value)}) is set by the component (${show(ours.value)}); remove it from the list`,
                );
            else if (parameters.some((q) => q.name === name)) problems.push(`${key}.parameters names ${name} twice`);
            else if (!ours) parameters.push({ name, value, applyMethod });
        }
    if (problems.length > 0) return { problems };
    return {
        problems,
        adopt: {
            clusterIdentifier: v.clusterIdentifier as string,
            instanceIdentifiers: v.instanceIdentifiers as string[],
            subnetGroupName: v.subnetGroupName as string,
            securityGroupIds: v.securityGroupIds as string[],
            kmsKeyId: v.kmsKeyId as string,
            importLogGroup: (v.importLogGroup as boolean | undefined) ?? false,
            parameters,
        },
    };
}

/** One instance of a described cluster. */
export interface DescribedInstance {
    identifier: string;
    clusterIdentifier: string;
    engine: string;
    instanceClass: string;
    availabilityZone: string;
    subnetGroupName: string;
    publiclyAccessible: boolean;
    monitoringInterval: number;
    /** Only the AWS CLI's description says (the provider's aws_db_instance data source does not). */
    performanceInsights?: boolean;
}

/** A cluster as RDS describes it: the fields the component declares or must not contradict. */
export interface DescribedCluster {
    identifier: string;
    engine: string;
    engineMode: string;
    engineVersion: string;
    /** Absent when the cluster was created without an initial database. */
    databaseName?: string;
    masterUsername: string;
    port: number;
    storageEncrypted: boolean;
    kmsKeyId?: string;
    subnetGroupName: string;
    securityGroupIds: string[];
    parameterGroupName: string;
    /** Member instances; the writer first where the description says which one it is. */
    members: string[];
    /** The RDS-managed master secret, if RDS manages the master password. */
    masterUserSecret?: { secretArn: string; kmsKeyId: string };
    logExports: string[];
    iamAuth: boolean;
    /** Only the AWS CLI's description says (the provider's aws_rds_cluster data source does not). */
    dataApi?: boolean;
    deletionProtection: boolean;
    backupRetentionPeriod: number;
    /** Only the AWS CLI's description says. */
    serverlessV2?: { minCapacity: number; maxCapacity: number };
    instances: DescribedInstance[];
    subnetGroup: { name: string; description: string; vpcId: string; subnetIds: string[] };
}

type Json = Record<string, any>;

function field<T>(from: Json, name: string, type: "string" | "number" | "boolean" | "object", where: string): T {
    const value = from?.[name];
    if (typeof value !== type || value === null)
        throw new Error(`${where}: ${name} is ${show(value)}, expected a ${type} (is this the AWS CLI's JSON output?)`);
    return value as T;
}

/**
 * A cluster from the JSON the AWS CLI prints for `aws rds describe-db-clusters --db-cluster-identifier ID` and
 * `aws rds describe-db-instances --filters Name=db-cluster-id,Values=ID` (the DescribeDBClusters and
 * DescribeDBInstances responses: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBCluster.html,
 * .../API_DBInstance.html). Throws one line naming a missing field.
 */
export function describedFromCli(clustersOutput: unknown, instancesOutput: unknown): DescribedCluster {
    const clusters = (clustersOutput as Json)?.DBClusters;
    if (!Array.isArray(clusters) || clusters.length !== 1) {
        throw new Error(
            `describe-db-clusters output: expected DBClusters with exactly one cluster, found ${Array.isArray(clusters) ? clusters.length : show(clusters)}; pass --db-cluster-identifier`,
        );
    }
    const c: Json = clusters[0];
    const id = field<string>(c, "DBClusterIdentifier", "string", "describe-db-clusters");
    const where = `describe-db-clusters ${id}`;
    const all = (instancesOutput as Json)?.DBInstances;
    if (!Array.isArray(all))
        throw new Error(`describe-db-instances output: DBInstances is ${show(all)}; pass --filters Name=db-cluster-id,Values=${id}`);
    const instances: DescribedInstance[] = all
        .filter((i: Json) => i?.DBClusterIdentifier === id)
        .map((i: Json) => {
            const at = `describe-db-instances ${i.DBInstanceIdentifier}`;
            return {
                identifier: field<string>(i, "DBInstanceIdentifier", "string", at),
                clusterIdentifier: id,
                engine: field<string>(i, "Engine", "string", at),
                instanceClass: field<string>(i, "DBInstanceClass", "string", at),
                availabilityZone: field<string>(i, "AvailabilityZone", "string", at),
                subnetGroupName: field<string>(field<Json>(i, "DBSubnetGroup", "object", at), "DBSubnetGroupName", "string", at),
                publiclyAccessible: field<boolean>(i, "PubliclyAccessible", "boolean", at),
                monitoringInterval: typeof i.MonitoringInterval === "number" ? i.MonitoringInterval : 0,
                performanceInsights: i.PerformanceInsightsEnabled === true,
            };
        });
    const members: Json[] = Array.isArray(c.DBClusterMembers) ? c.DBClusterMembers : [];
    const memberIds = [...members.filter((m) => m.IsClusterWriter === true), ...members.filter((m) => m.IsClusterWriter !== true)].map(
        (m) => field<string>(m, "DBInstanceIdentifier", "string", `${where} DBClusterMembers`),
    );
    const missing = memberIds.filter((m) => !instances.some((i) => i.identifier === m));
    if (missing.length > 0)
        throw new Error(
            `describe-db-instances output lacks ${missing.join(", ")}, members of ${id}; pass --filters Name=db-cluster-id,Values=${id}`,
        );
    const group = instances.length > 0 ? (all.find((i: Json) => i.DBClusterIdentifier === id).DBSubnetGroup as Json) : undefined;
    const secret = c.MasterUserSecret as Json | undefined;
    const scaling = c.ServerlessV2ScalingConfiguration as Json | undefined;
    return {
        identifier: id,
        engine: field<string>(c, "Engine", "string", where),
        engineMode: typeof c.EngineMode === "string" ? c.EngineMode : ENGINE_MODE,
        engineVersion: field<string>(c, "EngineVersion", "string", where),
        databaseName: typeof c.DatabaseName === "string" && c.DatabaseName !== "" ? c.DatabaseName : undefined,
        masterUsername: field<string>(c, "MasterUsername", "string", where),
        port: field<number>(c, "Port", "number", where),
        storageEncrypted: field<boolean>(c, "StorageEncrypted", "boolean", where),
        kmsKeyId: typeof c.KmsKeyId === "string" ? c.KmsKeyId : undefined,
        subnetGroupName: field<string>(c, "DBSubnetGroup", "string", where),
        securityGroupIds: (Array.isArray(c.VpcSecurityGroups) ? c.VpcSecurityGroups : []).map((g: Json) =>
            field<string>(g, "VpcSecurityGroupId", "string", `${where} VpcSecurityGroups`),
        ),
        parameterGroupName: field<string>(c, "DBClusterParameterGroup", "string", where),
        members: memberIds,
        masterUserSecret: secret
            ? {
                  secretArn: field<string>(secret, "SecretArn", "string", where),
                  kmsKeyId: field<string>(secret, "KmsKeyId", "string", where),
              }
            : undefined,
        logExports: Array.isArray(c.EnabledCloudwatchLogsExports) ? c.EnabledCloudwatchLogsExports : [],
        iamAuth: c.IAMDatabaseAuthenticationEnabled === true,
        dataApi: c.HttpEndpointEnabled === true,
        deletionProtection: c.DeletionProtection === true,
        backupRetentionPeriod: field<number>(c, "BackupRetentionPeriod", "number", where),
        serverlessV2: scaling
            ? {
                  minCapacity: field<number>(scaling, "MinCapacity", "number", where),
                  maxCapacity: field<number>(scaling, "MaxCapacity", "number", where),
              }
            : undefined,
        instances,
        subnetGroup: {
            name: group?.DBSubnetGroupName ?? c.DBSubnetGroup,
            description: group?.DBSubnetGroupDescription ?? "",
            vpcId: group?.VpcId ?? "",
            subnetIds: (group?.Subnets ?? []).map((s: Json) => s.SubnetIdentifier),
        },
    };
}

/** The user-set parameters of `aws rds describe-db-cluster-parameters --db-cluster-parameter-group-name G --source user`. */
export function parametersFromCli(output: unknown): ClusterParameter[] {
    const list = (output as Json)?.Parameters;
    if (!Array.isArray(list)) throw new Error(`describe-db-cluster-parameters output: Parameters is ${show(list)}; pass --source user`);
    return list
        .filter((p: Json) => p.Source === "user" && typeof p.ParameterValue === "string")
        .map((p: Json) => ({
            name: field<string>(p, "ParameterName", "string", "describe-db-cluster-parameters"),
            value: p.ParameterValue,
            applyMethod: p.ApplyMethod === "immediate" ? "immediate" : "pending-reboot",
        }));
}

/** The fields of the provider's aws_rds_cluster data source (rds.getCluster) that describedFromDataSources reads. */
export interface ClusterDataSource {
    clusterIdentifier: string;
    engine: string;
    engineMode: string;
    engineVersion: string;
    databaseName: string;
    masterUsername: string;
    port: number;
    storageEncrypted: boolean;
    kmsKeyId: string;
    dbSubnetGroupName: string;
    vpcSecurityGroupIds: string[];
    dbClusterParameterGroupName: string;
    clusterMembers: string[];
    masterUserSecrets: Array<{ secretArn: string; kmsKeyId: string }>;
    enabledCloudwatchLogsExports: string[];
    iamDatabaseAuthenticationEnabled: boolean;
    deletionProtection: boolean;
    backupRetentionPeriod: number;
}
/** The fields of the aws_db_instance data source (rds.getInstance) read here. */
export interface InstanceDataSource {
    dbInstanceIdentifier: string;
    dbClusterIdentifier: string;
    engine: string;
    dbInstanceClass: string;
    availabilityZone: string;
    dbSubnetGroup: string;
    publiclyAccessible: boolean;
    monitoringInterval: number;
}
/** The fields of the aws_db_subnet_group data source (rds.getSubnetGroup) read here. */
export interface SubnetGroupDataSource {
    name: string;
    description: string;
    vpcId: string;
    subnetIds: string[];
}

/** The same description, from the provider's data sources at preview time. */
export function describedFromDataSources(
    c: ClusterDataSource,
    instances: InstanceDataSource[],
    group: SubnetGroupDataSource,
): DescribedCluster {
    const secret = c.masterUserSecrets?.[0];
    return {
        identifier: c.clusterIdentifier,
        engine: c.engine,
        engineMode: c.engineMode || ENGINE_MODE,
        engineVersion: c.engineVersion,
        databaseName: c.databaseName || undefined,
        masterUsername: c.masterUsername,
        port: c.port,
        storageEncrypted: c.storageEncrypted,
        kmsKeyId: c.kmsKeyId || undefined,
        subnetGroupName: c.dbSubnetGroupName,
        securityGroupIds: c.vpcSecurityGroupIds ?? [],
        parameterGroupName: c.dbClusterParameterGroupName,
        members: c.clusterMembers ?? [],
        masterUserSecret: secret?.secretArn ? { secretArn: secret.secretArn, kmsKeyId: secret.kmsKeyId } : undefined,
        logExports: c.enabledCloudwatchLogsExports ?? [],
        iamAuth: c.iamDatabaseAuthenticationEnabled,
        deletionProtection: c.deletionProtection,
        backupRetentionPeriod: c.backupRetentionPeriod,
        instances: instances.map((i) => ({
            identifier: i.dbInstanceIdentifier,
            clusterIdentifier: i.dbClusterIdentifier,
            engine: i.engine,
            instanceClass: i.dbInstanceClass,
            availabilityZone: i.availabilityZone,
            subnetGroupName: i.dbSubnetGroup,
            publiclyAccessible: i.publiclyAccessible,
            monitoringInterval: i.monitoringInterval,
        })),
        subnetGroup: { name: group.name, description: group.description, vpcId: group.vpcId, subnetIds: group.subnetIds },
    };
}

/** The settings the check compares with a described cluster. */
export interface AdoptionDeclared {
    /** database.name, database.masterUsername, database.engineVersion as written and its major. */
    name: string;
    masterUsername: string;
    engineVersion: string;
    engineMajor: number;
    adopt: AdoptSettings;
    /** database.instanceCount: instances beyond the adopted ones are created as <clusterIdentifier>-<n>. */
    instanceCount: number;
    /** database.instanceClass, and the bootstrap's path the settings chose from it and engineVersion. */
    instanceClass: string;
    bootstrapPath: BootstrapPath;
    /** network.existingVpc.vpcId. */
    vpcId: string;
}

/**
 * Every difference between what the component declares for an adopted cluster and the cluster itself that a
 * `pulumi up` could only resolve by replacing the cluster (the provider's ForceNew arguments: engine, engine mode,
 * database name, master username, storage encryption and its key, subnet group, identifiers), or that RDS cannot
 * change in place, one line each naming the setting, both values and the fix. Empty: the first `up` replaces nothing.
 */
export function adoptionProblems(stack: string, declared: AdoptionDeclared, cluster: DescribedCluster): string[] {
    const id = cluster.identifier;
    const problems: string[] = [];
    const REPLACED = "only a replacement could change it";
    const differs = (setting: string, ours: unknown, fieldName: string, theirs: unknown, why: string, fix: string) =>
        problems.push(`${stack}: ${setting} (${show(ours)}) differs from ${fieldName} ${show(theirs)} of cluster ${id}: ${why}; ${fix}`);
    if (cluster.engine !== ENGINE)
        differs("engine", ENGINE, "Engine", cluster.engine, REPLACED, `the component runs ${ENGINE} clusters only`);
    if (cluster.engineMode !== ENGINE_MODE)
        differs(
            "engine mode",
            ENGINE_MODE,
            "EngineMode",
            cluster.engineMode,
            REPLACED,
            "move it to a provisioned cluster (Serverless v2) first",
        );
    const major = Number(cluster.engineVersion.split(".")[0]);
    if (major !== declared.engineMajor) {
        differs(
            "database.engineVersion",
            declared.engineVersion,
            "EngineVersion",
            cluster.engineVersion,
            "the component's parameter group family follows the major version",
            `set database.engineVersion: "${cluster.engineVersion}"`,
        );
    }
    if (cluster.masterUsername !== declared.masterUsername)
        differs(
            "database.masterUsername",
            declared.masterUsername,
            "MasterUsername",
            cluster.masterUsername,
            REPLACED,
            `set database.masterUsername: ${cluster.masterUsername}`,
        );
    if (cluster.databaseName === undefined) {
        differs(
            "database.name",
            declared.name,
            "DatabaseName",
            "(none: created without an initial database)",
            REPLACED,
            "adopting needs a cluster created with a DatabaseName; front this one instead (database.existingCluster)",
        );
    } else if (cluster.databaseName !== declared.name)
        differs(
            "database.name",
            declared.name,
            "DatabaseName",
            cluster.databaseName,
            REPLACED,
            `set database.name: ${cluster.databaseName}`,
        );
    if (!cluster.storageEncrypted) {
        differs(
            "storage encryption",
            true,
            "StorageEncrypted",
            false,
            REPLACED,
            "restore an encrypted copy of a snapshot and adopt that cluster, or front this one (database.existingCluster)",
        );
    } else if (cluster.kmsKeyId !== declared.adopt.kmsKeyId)
        differs(
            "database.adopt.kmsKeyId",
            declared.adopt.kmsKeyId,
            "KmsKeyId",
            cluster.kmsKeyId,
            REPLACED,
            `set database.adopt.kmsKeyId: ${cluster.kmsKeyId}`,
        );
    if (cluster.subnetGroupName !== declared.adopt.subnetGroupName) {
        differs(
            "database.adopt.subnetGroupName",
            declared.adopt.subnetGroupName,
            "DBSubnetGroup",
            cluster.subnetGroupName,
            REPLACED,
            `set database.adopt.subnetGroupName: ${cluster.subnetGroupName}`,
        );
    }
    if (cluster.port !== DB_PORT) {
        differs(
            "port",
            DB_PORT,
            "Port",
            cluster.port,
            `the proxy, its security-group rules and the smoke use ${DB_PORT}`,
            `move the cluster with aws rds modify-db-cluster --db-cluster-identifier ${id} --port ${DB_PORT} --apply-immediately (its instances restart; clients move with it)`,
        );
    }
    // Every adopted instance is a member; any other member is one the component created itself, growing the cluster to
    // database.instanceCount (<clusterIdentifier>-<n> for n after the adopted ones, components/database.ts), so later
    // previews of a grown cluster pass, as does one after an update that created only some of them.
    const adopted = declared.adopt.instanceIdentifiers;
    const grown = Array.from({ length: Math.max(0, declared.instanceCount - adopted.length) }, (_, i) => `${id}-${adopted.length + i + 1}`);
    if (adopted.some((m) => !cluster.members.includes(m)) || cluster.members.some((m) => !adopted.includes(m) && !grown.includes(m))) {
        differs(
            "database.adopt.instanceIdentifiers",
            declared.adopt.instanceIdentifiers,
            "DBClusterMembers",
            cluster.members,
            "an instance the component does not declare stays unmanaged, one it declares but the cluster lacks is created",
            "list every member, the writer first",
        );
    }
    if (cluster.subnetGroup.vpcId !== declared.vpcId) {
        problems.push(
            `${stack}: network.existingVpc.vpcId (${show(declared.vpcId)}) differs from VpcId ${show(cluster.subnetGroup.vpcId)} of subnet group ` +
                `${cluster.subnetGroup.name} of cluster ${id}: a subnet group cannot move to another VPC; set network.existingVpc to the cluster's VPC`,
        );
    }
    // The settings chose the Data API for the bootstrap (a class and version it serves, as written), but it cannot serve
    // this cluster as it is: its writer is of a T class, or it runs a version before the Data API's. The cluster's HTTP
    // endpoint would be turned on before any instance changes class. The fix is to write the cluster's own class or
    // version, which puts the bootstrap inside the VPC (components/bootstrap-path.ts), or to change the cluster first.
    const writer = cluster.instances.find((i) => i.identifier === declared.adopt.instanceIdentifiers[0]);
    if (declared.bootstrapPath === "data-api" && writer && dataApiClassProblem(writer.instanceClass)) {
        differs(
            "database.instanceClass",
            declared.instanceClass,
            "DBInstanceClass",
            writer.instanceClass,
            `the RDS Data API the bootstrap would use does not serve the T class of writer ${writer.identifier}`,
            `set database.instanceClass: ${writer.instanceClass} (the bootstrap then runs inside the VPC), or change the writer's class first: ` +
                `aws rds modify-db-instance --db-instance-identifier ${writer.identifier} --db-instance-class ${declared.instanceClass} --apply-immediately`,
        );
    }
    const versionProblem =
        declared.bootstrapPath === "data-api" && major === declared.engineMajor ? dataApiVersionProblem(cluster.engineVersion) : undefined;
    if (versionProblem) {
        differs(
            "database.engineVersion",
            declared.engineVersion,
            "EngineVersion",
            cluster.engineVersion,
            `${versionProblem}, which the bootstrap would use`,
            `set database.engineVersion: "${cluster.engineVersion}" (the bootstrap then runs inside the VPC), or upgrade the cluster first: ` +
                `aws rds modify-db-cluster --db-cluster-identifier ${id} --engine-version <a newer ${major}.x> --apply-immediately`,
        );
    }
    if (!cluster.masterUserSecret) {
        problems.push(
            `${stack}: cluster ${id} keeps its master password outside Secrets Manager (no MasterUserSecret); the component has RDS manage it, which replaces the password at once: ` +
                `move whatever logs in as ${cluster.masterUsername} off it, then run aws rds modify-db-cluster --db-cluster-identifier ${id} --manage-master-user-password --apply-immediately`,
        );
    }
    return problems;
}

/** The settings a team writes to adopt a described cluster, and what the first `up` then changes in place. */
export interface AdoptionSettings {
    database: Record<string, unknown> & { adopt: AdoptSettings };
    /** network.existingVpc less privateSubnetIds, which only the team can name (subnets with a route out). */
    existingVpc: { vpcId: string; isolatedSubnetIds: string[] };
    /** One line per in-place change the first `pulumi up` makes to what the cluster is today (no replacement). */
    changes: string[];
}

/**
 * The stack file's `database` block (and network.existingVpc) under which the component declares exactly this
 * cluster: its names, identifiers, key and every input only a replacement could change, with the cluster's own
 * class, capacity, backups and monitoring so that the first `up` changes as little as it can.
 */
export function adoptionSettings(cluster: DescribedCluster, parameters: ClusterParameter[] = []): AdoptionSettings {
    const writer = cluster.instances.find((i) => i.identifier === cluster.members[0]) ?? cluster.instances[0];
    if (!writer) throw new Error(`cluster ${cluster.identifier} has no instances to adopt`);
    const ours = new Map(CLUSTER_PARAMETERS.map((p) => [p.name, p]));
    const carried = parameters.filter((p) => !ours.has(p.name));
    const changes: string[] = [];
    for (const p of parameters)
        if (ours.has(p.name) && ours.get(p.name)!.value !== p.value)
            changes.push(`parameter ${p.name}: ${p.value} -> ${ours.get(p.name)!.value}`);
    for (const p of CLUSTER_PARAMETERS)
        if (!parameters.some((q) => q.name === p.name)) changes.push(`parameter ${p.name}: (default) -> ${p.value}`);
    changes.push(`cluster parameter group: ${cluster.parameterGroupName} -> the component's own (its instances apply it when rebooted)`);
    if (!cluster.iamAuth) changes.push("IAM database authentication: off -> on");
    // The settings below (the writer's class, the cluster's version) take the bootstrap's path as the parser will.
    const dataApiGap = dataApiProblem({ instanceClass: writer.instanceClass, engineVersion: cluster.engineVersion });
    if (!dataApiGap) {
        if (cluster.dataApi === false) changes.push("RDS Data API: off -> on");
    } else {
        if (cluster.dataApi === true) changes.push("RDS Data API: on -> off");
        changes.push(
            `the bootstrap runs inside the VPC (${dataApiGap}): a security group of its own, admitted by the component's database group on ${DB_PORT}`,
        );
    }
    if (!cluster.logExports.includes("postgresql")) changes.push("PostgreSQL log export to CloudWatch Logs: off -> on");
    changes.push(`security groups: ${cluster.securityGroupIds.join(", ")} -> the same and the component's database group`);
    for (const i of cluster.instances) {
        if (i.instanceClass !== writer.instanceClass)
            changes.push(
                `instance ${i.identifier}: ${i.instanceClass} -> ${writer.instanceClass} (database.instanceClass, one class for every instance)`,
            );
        if (i.publiclyAccessible) changes.push(`instance ${i.identifier}: publicly accessible -> private`);
    }
    const serverless = writer.instanceClass === "db.serverless";
    return {
        database: {
            name: cluster.databaseName,
            masterUsername: cluster.masterUsername,
            // MAJOR.MINOR: preferred while AWS offers it; the cluster keeps its own version either way.
            engineVersion: cluster.engineVersion,
            instanceClass: writer.instanceClass,
            ...(serverless && cluster.serverlessV2
                ? { minCapacity: cluster.serverlessV2.minCapacity, maxCapacity: cluster.serverlessV2.maxCapacity }
                : {}),
            instanceCount: cluster.members.length,
            backupRetentionDays: cluster.backupRetentionPeriod,
            deletionProtection: cluster.deletionProtection,
            performanceInsights: writer.performanceInsights === true,
            monitoringIntervalSeconds: writer.monitoringInterval,
            adopt: {
                clusterIdentifier: cluster.identifier,
                instanceIdentifiers: cluster.members,
                subnetGroupName: cluster.subnetGroupName,
                securityGroupIds: cluster.securityGroupIds,
                kmsKeyId: cluster.kmsKeyId ?? "",
                // RDS creates the group the first time the cluster exports its PostgreSQL log.
                importLogGroup: cluster.logExports.includes("postgresql"),
                parameters: carried,
            },
        },
        existingVpc: { vpcId: cluster.subnetGroup.vpcId, isolatedSubnetIds: cluster.subnetGroup.subnetIds },
        changes,
    };
}
