// Adopting a cluster a team already runs (docs/adopt-existing-cluster.md). From a sample of what the AWS CLI prints
// for it (test/fixtures/adopt), the settings a team writes; what the component then declares for the cluster: every
// input only a replacement could change equal to the description, every adopted resource imported by its id and
// protected; and a setting that differs from the cluster failing the preview in one line, before any import.
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { AuroraIamProxy, AuroraIamProxyArgs } from "../components";
import {
    adoptionProblems,
    adoptionSettings,
    AdoptionDeclared,
    describedFromCli,
    DescribedCluster,
    parametersFromCli,
} from "../components/adopt";
import type { DatabaseOptions } from "../components/args";
import { CLUSTER_PARAMETERS } from "../components/cluster-spec";
import { parseSettings, resolveArgs, SettingsError } from "../components/config";
import { adoptionSettingsText } from "../ops/adopt-settings";
import { parse as parseYaml } from "yaml";
import { Database } from "../components/database";
import { DB_PORT } from "../access/spec";
import { evaluate, Evaluation, EXISTING_SUBNETS, inlineStatementsOf, MockResource } from "./harness";
import clustersOutput from "./fixtures/adopt/describe-db-clusters.json";
import instancesOutput from "./fixtures/adopt/describe-db-instances.json";
import parametersOutput from "./fixtures/adopt/describe-db-cluster-parameters.json";

const CLUSTER = clustersOutput.DBClusters[0];
const described = describedFromCli(clustersOutput, instancesOutput);
const adoption = adoptionSettings(described, parametersFromCli(parametersOutput));

// The cluster's VPC: its subnet group's subnets (isolated) and two of the team's subnets with a route out.
const GROUP = instancesOutput.DBInstances[0].DBSubnetGroup;
for (const s of GROUP.Subnets)
    EXISTING_SUBNETS.set(s.SubnetIdentifier, {
        vpcId: GROUP.VpcId,
        availabilityZone: s.SubnetAvailabilityZone.Name,
        cidrBlock: "10.8.0.0/24",
    });
const PRIVATE = ["subnet-0f0e0d0c0b0a09081", "subnet-0f0e0d0c0b0a09082"];
PRIVATE.forEach((id, i) =>
    EXISTING_SUBNETS.set(id, { vpcId: GROUP.VpcId, availabilityZone: `eu-west-1${"ab"[i]}`, cidrBlock: `10.8.${16 + i}.0/24` }),
);

function argsFor(database: Record<string, unknown>): AuroraIamProxyArgs {
    return {
        environment: "dev",
        region: "eu-west-1",
        tags: { Owner: "platform-team", CostCenter: "1234" },
        network: { existingVpc: { ...adoption.existingVpc, privateSubnetIds: PRIVATE } },
        database: database as DatabaseOptions,
    };
}

/** Instances an earlier `up` created beyond the adopted ones (database.instanceCount): members the next preview sees. */
let createdMembers: string[] = [];

/**
 * What the provider's data sources answer for the sample cluster (aws_rds_cluster, aws_db_instance,
 * aws_db_subnet_group read DescribeDBClusters, DescribeDBInstances and DescribeDBSubnetGroups: the same fields,
 * camelCased), or undefined for any other invoke; an unknown identifier fails as the provider does.
 */
function describeFromFixture(token: string, inputs: Record<string, string>): Record<string, unknown> | undefined {
    const notFound = (what: string) => {
        throw new Error(`couldn't find resource (21 retries): ${what} not found`);
    };
    switch (token) {
        case "aws:rds/getCluster:getCluster": {
            if (inputs.clusterIdentifier !== CLUSTER.DBClusterIdentifier) notFound(`RDS Cluster (${inputs.clusterIdentifier})`);
            return {
                id: CLUSTER.DBClusterIdentifier,
                arn: CLUSTER.DBClusterArn,
                clusterIdentifier: CLUSTER.DBClusterIdentifier,
                engine: CLUSTER.Engine,
                engineMode: CLUSTER.EngineMode,
                engineVersion: CLUSTER.EngineVersion,
                databaseName: CLUSTER.DatabaseName,
                masterUsername: CLUSTER.MasterUsername,
                port: CLUSTER.Port,
                storageEncrypted: CLUSTER.StorageEncrypted,
                kmsKeyId: CLUSTER.KmsKeyId,
                dbSubnetGroupName: CLUSTER.DBSubnetGroup,
                vpcSecurityGroupIds: CLUSTER.VpcSecurityGroups.map((g) => g.VpcSecurityGroupId),
                dbClusterParameterGroupName: CLUSTER.DBClusterParameterGroup,
                clusterMembers: [...CLUSTER.DBClusterMembers.map((m) => m.DBInstanceIdentifier), ...createdMembers],
                masterUserSecrets: [
                    {
                        kmsKeyId: CLUSTER.MasterUserSecret.KmsKeyId,
                        secretArn: CLUSTER.MasterUserSecret.SecretArn,
                        secretStatus: CLUSTER.MasterUserSecret.SecretStatus,
                    },
                ],
                enabledCloudwatchLogsExports: CLUSTER.EnabledCloudwatchLogsExports,
                iamDatabaseAuthenticationEnabled: CLUSTER.IAMDatabaseAuthenticationEnabled,
                deletionProtection: CLUSTER.DeletionProtection,
                backupRetentionPeriod: CLUSTER.BackupRetentionPeriod,
                endpoint: CLUSTER.Endpoint,
                readerEndpoint: CLUSTER.ReaderEndpoint,
                clusterResourceId: CLUSTER.DbClusterResourceId,
            };
        }
        case "aws:rds/getInstance:getInstance": {
            const i =
                instancesOutput.DBInstances.find((x) => x.DBInstanceIdentifier === inputs.dbInstanceIdentifier) ??
                notFound(`RDS DB Instance (${inputs.dbInstanceIdentifier})`)!;
            return {
                id: i.DBInstanceIdentifier,
                dbInstanceIdentifier: i.DBInstanceIdentifier,
                dbClusterIdentifier: i.DBClusterIdentifier,
                engine: i.Engine,
                dbInstanceClass: i.DBInstanceClass,
                availabilityZone: i.AvailabilityZone,
                dbSubnetGroup: i.DBSubnetGroup.DBSubnetGroupName,
                publiclyAccessible: i.PubliclyAccessible,
                monitoringInterval: i.MonitoringInterval,
            };
        }
        case "aws:kms/getKey:getKey":
            // The sample's master secret is under a customer-managed key (the cluster's storage key).
            if (inputs.keyId !== CLUSTER.MasterUserSecret.KmsKeyId) return undefined;
            return {
                id: inputs.keyId,
                arn: inputs.keyId,
                keyId: inputs.keyId.split("/").pop(),
                keyManager: "CUSTOMER",
                enabled: true,
                keyState: "Enabled",
            };
        case "aws:rds/getSubnetGroup:getSubnetGroup":
            if (inputs.name !== GROUP.DBSubnetGroupName) notFound(`RDS DB Subnet Group (${inputs.name})`);
            return {
                id: GROUP.DBSubnetGroupName,
                name: GROUP.DBSubnetGroupName,
                description: GROUP.DBSubnetGroupDescription,
                vpcId: GROUP.VpcId,
                subnetIds: GROUP.Subnets.map((s) => s.SubnetIdentifier),
            };
        default:
            return undefined;
    }
}

/**
 * A program run under the mock cloud, with the sample cluster described to its data sources, recording the import
 * id of every registration that carries one (what `pulumi up` would import), by type and logical name.
 */
function adopting(program: () => Record<string, unknown>): { program: () => Record<string, unknown>; imported: Map<string, string> } {
    const imported = new Map<string, string>();
    return {
        imported,
        program: () => {
            const monitor = (pulumi.runtime as any).getMonitor();
            const cloud = monitor.mocks;
            monitor.mocks = {
                call: (args: pulumi.runtime.MockCallArgs) => describeFromFixture(args.token, args.inputs) ?? cloud.call(args),
                newResource: (args: pulumi.runtime.MockResourceArgs) => {
                    if (args.id) imported.set(`${args.type}::${args.name}`, args.id);
                    return cloud.newResource(args);
                },
            };
            return program();
        },
    };
}

/** The Database part alone, as AuroraIamProxy declares it in the cluster's VPC (cheaper than the whole component). */
function databaseFor(settings: ReturnType<typeof resolveArgs>["database"]): Database {
    return new Database("database", {
        namePrefix: "orders-dev",
        environment: "dev",
        settings,
        subnetIds: adoption.existingVpc.isolatedSubnetIds,
        availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
        securityGroupId: "sg-0123456789abcdef0",
        kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-4333-8444-555555555555",
        vpcId: adoption.existingVpc.vpcId,
    });
}

describe("adopting an existing cluster", () => {
    describe("the settings a team writes from aws rds describe-db-clusters and describe-db-instances", () => {
        it("take the cluster's names, identifiers, key and sizes, the writer first whatever order RDS lists members in", () => {
            assert.deepStrictEqual(adoption.database, {
                name: "orders",
                masterUsername: "postgres",
                engineVersion: "16.4",
                instanceClass: "db.r6g.large",
                instanceCount: 2,
                backupRetentionDays: 7,
                deletionProtection: true,
                performanceInsights: true,
                monitoringIntervalSeconds: 60,
                adopt: {
                    clusterIdentifier: "legacy-orders",
                    instanceIdentifiers: ["legacy-orders-1", "legacy-orders-2"],
                    subnetGroupName: "legacy-orders-db",
                    securityGroupIds: ["sg-0c1d2e3f4a5b6c7d8"],
                    kmsKeyId: CLUSTER.KmsKeyId,
                    importLogGroup: true,
                    // rds.force_ssl is the component's own (1); the team's other parameters are carried over.
                    parameters: [
                        { name: "log_min_duration_statement", value: "500", applyMethod: "immediate" },
                        { name: "pgaudit.log", value: "ddl,role", applyMethod: "immediate" },
                        { name: "shared_preload_libraries", value: "pg_stat_statements,pgaudit", applyMethod: "pending-reboot" },
                    ],
                },
            });
            assert.deepStrictEqual(adoption.existingVpc, {
                vpcId: "vpc-0a1b2c3d4e5f60718",
                isolatedSubnetIds: GROUP.Subnets.map((s) => s.SubnetIdentifier),
            });
        });

        it("are accepted by the settings parser as they are", () => {
            const s = resolveArgs("dev", argsFor(adoption.database)).database;
            assert.deepStrictEqual(s.adopt, adoption.database.adopt);
            assert.strictEqual(s.engineMajor, 16);
        });

        it("come with what the first up changes in place, none of it a replacement", () => {
            assert.deepStrictEqual(adoption.changes, [
                "parameter rds.force_ssl: 0 -> 1",
                "parameter log_connections: (default) -> 1",
                "parameter log_disconnections: (default) -> 1",
                "parameter log_statement: (default) -> ddl",
                "cluster parameter group: legacy-orders-pg16 -> the component's own (its instances apply it when rebooted)",
                "IAM database authentication: off -> on",
                "RDS Data API: off -> on",
                "security groups: sg-0c1d2e3f4a5b6c7d8 -> the same and the component's database group",
            ]);
        });

        it("print as a stack-file block (npm run adopt:settings) that the settings parser takes key for key once privateSubnetIds is set", () => {
            const text = adoptionSettingsText(clustersOutput, instancesOutput, parametersOutput);
            assert.match(text, /^# Adopts cluster legacy-orders .*\n(#.*\n)*#   - IAM database authentication: off -> on\n/);
            const config = parseYaml(
                `config:\n${text}\n  aurora-iam-proxy:tags: { Owner: platform-team, CostCenter: "1234" }\n  aws:region: eu-west-1\n`,
            ).config;
            assert.throws(
                () => parseSettings("dev", config),
                /dev: network\.existingVpc\.privateSubnetIds \(\[\]\) must list at least 2 subnet ids/,
            );
            config["aurora-iam-proxy:network"].existingVpc.privateSubnetIds = PRIVATE;
            const settings = parseSettings("dev", config);
            assert.deepStrictEqual(settings.database.adopt, adoption.database.adopt);
            assert.deepStrictEqual(
                settings.args.database,
                adoption.database,
                "the stack file's database block is AuroraIamProxy's database Arg",
            );
        });

        it("refuse an output that is not the AWS CLI's JSON, naming the field", () => {
            const { MasterUsername, ...withoutUser } = CLUSTER;
            assert.throws(
                () => describedFromCli({ DBClusters: [withoutUser] }, instancesOutput),
                /^Error: describe-db-clusters legacy-orders: MasterUsername is unset, expected a string/,
            );
            assert.throws(
                () => describedFromCli(clustersOutput, { DBInstances: [instancesOutput.DBInstances[0]] }),
                /describe-db-instances output lacks legacy-orders-2, members of legacy-orders; pass --filters Name=db-cluster-id,Values=legacy-orders$/,
            );
        });
    });

    describe("what the component declares for it", function () {
        this.timeout(60_000);
        let ev: Evaluation;
        let imported: Map<string, string>;
        before(async () => {
            const run = adopting(() => ({ clusterArn: new AuroraIamProxy("aurora", argsFor(adoption.database)).clusterArn }));
            imported = run.imported;
            ev = await evaluate("dev", run.program);
        });
        const one = (type: string) => ev.one(type);
        const cluster = () => one("aws:rds/cluster:Cluster");
        const instances = () => ev.ofType("aws:rds/clusterInstance:ClusterInstance");

        it("declares every cluster input only a replacement could change as the description has it", () => {
            const c = cluster().inputs;
            // The provider's ForceNew arguments of aws_rds_cluster (internal/service/rds/cluster.go).
            assert.deepStrictEqual(
                [
                    c.clusterIdentifier,
                    c.engine,
                    c.engineMode,
                    c.databaseName,
                    c.masterUsername,
                    c.storageEncrypted,
                    c.kmsKeyId,
                    c.dbSubnetGroupName,
                ],
                [
                    CLUSTER.DBClusterIdentifier,
                    CLUSTER.Engine,
                    CLUSTER.EngineMode,
                    CLUSTER.DatabaseName,
                    CLUSTER.MasterUsername,
                    CLUSTER.StorageEncrypted,
                    CLUSTER.KmsKeyId,
                    CLUSTER.DBSubnetGroup,
                ],
            );
            // The version the cluster runs (and ignoreChanges keeps it), the port its data path uses.
            assert.strictEqual(c.engineVersion, CLUSTER.EngineVersion);
            assert.deepStrictEqual(cluster().options.ignoreChanges, ["engineVersion", "tags", "manageMasterUserPassword"]);
            assert.strictEqual(c.port, undefined, "the port is not declared: the cluster keeps its own");
            assert.strictEqual(CLUSTER.Port, DB_PORT);
            // The managed master secret keeps the key RDS encrypts it with: its key is not declared, as the provider never
            // reads master_user_secret_kms_key_id back (a declared one would differ after the import, and RDS refuses the change).
            assert.strictEqual(c.manageMasterUserPassword, true);
            assert.strictEqual(c.masterUserSecretKmsKeyId, undefined);
        });

        it("declares each member instance by its identifier, the writer first, with its engine, class, cluster and subnet group, and leaves its AZ as it is", () => {
            const declared = instances().map((r) => r.inputs);
            assert.deepStrictEqual(
                declared.map((i) => i.identifier),
                ["legacy-orders-1", "legacy-orders-2"],
            );
            for (const i of declared) {
                const d = instancesOutput.DBInstances.find((x) => x.DBInstanceIdentifier === i.identifier)!;
                // aws_rds_cluster_instance's ForceNew arguments, and the class (an in-place change would restart it).
                assert.deepStrictEqual(
                    [i.engine, i.clusterIdentifier, i.dbSubnetGroupName, i.instanceClass],
                    [d.Engine, d.DBClusterIdentifier, d.DBSubnetGroup.DBSubnetGroupName, d.DBInstanceClass],
                );
                assert.strictEqual(
                    i.availabilityZone,
                    undefined,
                    "availability_zone is ForceNew: an adopted instance's is left to the provider to read",
                );
                assert.deepStrictEqual(
                    [i.performanceInsightsEnabled, i.performanceInsightsKmsKeyId, i.performanceInsightsRetentionPeriod],
                    [true, undefined, undefined],
                    "Performance Insights stays on with the key and retention the instance has",
                );
            }
            assert.strictEqual(declared[0].promotionTier, 0);
        });

        it("declares the subnet group and the PostgreSQL log group by their existing names", () => {
            const group = one("aws:rds/subnetGroup:SubnetGroup").inputs;
            assert.deepStrictEqual(
                [group.name, group.description, [...group.subnetIds].sort()],
                [GROUP.DBSubnetGroupName, GROUP.DBSubnetGroupDescription, GROUP.Subnets.map((s) => s.SubnetIdentifier).sort()],
            );
            assert.strictEqual(
                ev.named("aws:cloudwatch/logGroup:LogGroup", "database-postgresql-logs").inputs.name,
                "/aws/rds/cluster/legacy-orders/postgresql",
            );
        });

        it("imports every adopted resource by its id, protects it and leaves its tags as they are; nothing else is imported", () => {
            const expected: Array<[MockResource, string]> = [
                [cluster(), "legacy-orders"],
                ...instances().map((r): [MockResource, string] => [r, r.inputs.identifier]),
                [one("aws:rds/subnetGroup:SubnetGroup"), "legacy-orders-db"],
                [ev.named("aws:cloudwatch/logGroup:LogGroup", "database-postgresql-logs"), "/aws/rds/cluster/legacy-orders/postgresql"],
            ];
            for (const [r, id] of expected) {
                assert.strictEqual(imported.get(`${r.type}::${r.name}`), id, `${r.name} imports ${id}`);
                assert.strictEqual(r.options.protect, true, `${r.name} is protected`);
                assert.ok(r.options.ignoreChanges.includes("tags"), `${r.name} keeps its tags`);
            }
            assert.strictEqual(imported.size, expected.length, `imported: ${[...imported.keys()].join(", ")}`);
        });

        it("runs the bootstrap's non-destructive variant on the adopted database: the team's roles and PUBLIC's rights stay", () => {
            const env = ev.named("aws:lambda/function:Function", "smoke-bootstrap").inputs.environment.variables;
            assert.strictEqual(env.DB_EXISTING_DATABASE, "true");
            assert.ok(env.DB_CLUSTER_ARN, "through the Data API of the cluster it now manages");
            // The smoke then counts what a user holds only through PUBLIC as the database's, not the user's drift.
            const smokeEnv = ev.named("aws:lambda/function:Function", "smoke-smoke").inputs.environment.variables;
            assert.deepStrictEqual([smokeEnv.DB_EXISTING_DATABASE, smokeEnv.DB_CLUSTER_SECURITY_GROUP_IDS], ["true", undefined]);
        });

        it("lets the bootstrap decrypt the master secret with the key it has (customer-managed), only through Secrets Manager, and no other key", () => {
            const role = ev
                .ofType("aws:iam/role:Role")
                .find((r) => r.state.arn === ev.named("aws:lambda/function:Function", "smoke-bootstrap").inputs.role)!;
            const decrypt = inlineStatementsOf(ev, role).filter((st) => JSON.stringify(st.Action).includes("kms:"));
            assert.deepStrictEqual(decrypt, [
                {
                    Sid: "DecryptThroughSecretsManagerOnly",
                    Effect: "Allow",
                    Action: "kms:Decrypt",
                    Resource: CLUSTER.MasterUserSecret.KmsKeyId,
                    Condition: { StringEquals: { "kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com" } },
                },
            ]);
        });

        it("keeps the cluster's own security groups and log exports beside its own, and takes a final snapshot", () => {
            const c = cluster().inputs;
            const ours = ev.named("aws:ec2/securityGroup:SecurityGroup", "network-db");
            assert.match(ours.inputs.description, /Aurora cluster - from the RDS Proxy only/);
            assert.deepStrictEqual(c.vpcSecurityGroupIds, ["sg-0c1d2e3f4a5b6c7d8", ours.id]);
            assert.deepStrictEqual(c.enabledCloudwatchLogsExports, ["postgresql"]);
            assert.strictEqual(c.iamDatabaseAuthenticationEnabled, true);
            assert.strictEqual(c.skipFinalSnapshot, false);
            assert.match(c.finalSnapshotIdentifier, /^legacy-orders-final-[0-9a-f]{8}$/);
        });

        it("moves the cluster to its own parameter group with the team's parameters carried over", () => {
            const group = one("aws:rds/clusterParameterGroup:ClusterParameterGroup");
            assert.strictEqual(group.inputs.family, "aurora-postgresql16");
            assert.deepStrictEqual(group.inputs.parameters, [...CLUSTER_PARAMETERS, ...adoption.database.adopt.parameters]);
            assert.strictEqual(cluster().inputs.dbClusterParameterGroupName, group.state.name);
            assert.strictEqual(imported.has(`${group.type}::${group.name}`), false);
        });
    });

    describe("more instances than the cluster has", () => {
        it("creates each further one as <clusterIdentifier>-<n>, in its AZ, not imported and not protected", async function () {
            this.timeout(60_000);
            const s = resolveArgs("dev", argsFor({ ...adoption.database, instanceCount: 3 })).database;
            const run = adopting(() => ({ engineVersion: databaseFor(s).engineVersion }));
            const ev = await evaluate("dev", run.program);
            const third = ev.named("aws:rds/clusterInstance:ClusterInstance", "database-instance-3");
            assert.deepStrictEqual(
                [third.inputs.identifier, third.inputs.availabilityZone, third.options.protect],
                ["legacy-orders-3", "eu-west-1c", false],
            );
            assert.deepStrictEqual(
                [...run.imported].filter(([key]) => key.startsWith("aws:rds/clusterInstance:")).map(([, id]) => id),
                ["legacy-orders-1", "legacy-orders-2"],
            );
        });

        it("previews the grown cluster again after the update that created them, and still refuses a member it neither adopted nor created", async function () {
            this.timeout(60_000);
            const s = resolveArgs("dev", argsFor({ ...adoption.database, instanceCount: 3 })).database;
            createdMembers = ["legacy-orders-3"];
            try {
                const ev = await evaluate("dev", adopting(() => ({ engineVersion: databaseFor(s).engineVersion })).program);
                assert.strictEqual(ev.outputs.engineVersion, CLUSTER.EngineVersion, "the check passes with legacy-orders-3 a member");
            } finally {
                createdMembers = [];
            }
            const declared: AdoptionDeclared = {
                name: "orders",
                masterUsername: "postgres",
                engineVersion: "16.4",
                engineMajor: 16,
                vpcId: GROUP.VpcId,
                instanceCount: 3,
                instanceClass: "db.r6g.large",
                bootstrapPath: "data-api",
                adopt: adoption.database.adopt,
            };
            assert.deepStrictEqual(
                adoptionProblems("dev", declared, { ...described, members: [...described.members, "legacy-orders-3"] }),
                [],
            );
            assert.deepStrictEqual(
                adoptionProblems("dev", declared, { ...described, members: [...described.members, "legacy-orders-9"] }),
                [
                    'dev: database.adopt.instanceIdentifiers (["legacy-orders-1","legacy-orders-2"]) differs from DBClusterMembers ["legacy-orders-1","legacy-orders-2","legacy-orders-9"] of cluster legacy-orders: ' +
                        "an instance the component does not declare stays unmanaged, one it declares but the cluster lacks is created; list every member, the writer first",
                ],
            );
        });
    });

    describe("a setting that differs from the cluster", () => {
        it("fails the preview with one line naming the setting and both values, before anything is imported", async function () {
            this.timeout(60_000);
            const s = resolveArgs("dev", argsFor({ ...adoption.database, masterUsername: "dbadmin" })).database;
            // The stack's engineVersion output is the adopted cluster's version as checked: it carries the refusal.
            const run = adopting(() => ({ engineVersion: databaseFor(s).engineVersion }));
            // (Pulumi prefixes where the failed value was headed, e.g. 'error serializing property "outputs": …: '.)
            const line =
                'dev: database.masterUsername ("dbadmin") differs from MasterUsername "postgres" of cluster legacy-orders: only a replacement could change it; set database.masterUsername: postgres';
            await assert.rejects(evaluate("dev", run.program), (e: Error) => {
                assert.ok(e.message === line || e.message.endsWith(`: ${line}`), e.message);
                return true;
            });
            assert.deepStrictEqual([...run.imported.keys()], [], "nothing is imported");
        });

        it("names each difference on its own line: engine version, key, subnet group, members, VPC, port, encryption, master secret", () => {
            const declared: AdoptionDeclared = {
                name: "orders",
                masterUsername: "postgres",
                engineVersion: "15",
                engineMajor: 15,
                vpcId: "vpc-0ffffffffffffffff",
                instanceCount: 1,
                instanceClass: "db.r6g.large",
                bootstrapPath: "data-api",
                adopt: {
                    ...adoption.database.adopt,
                    kmsKeyId: "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-4333-8444-555555555555",
                    subnetGroupName: "other-db",
                    instanceIdentifiers: ["legacy-orders-1"],
                },
            };
            assert.deepStrictEqual(adoptionProblems("prod", declared, described), [
                'prod: database.engineVersion ("15") differs from EngineVersion "16.4" of cluster legacy-orders: the component\'s parameter group family follows the major version; set database.engineVersion: "16.4"',
                `prod: database.adopt.kmsKeyId ("arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-4333-8444-555555555555") differs from KmsKeyId "${CLUSTER.KmsKeyId}" of cluster legacy-orders: only a replacement could change it; set database.adopt.kmsKeyId: ${CLUSTER.KmsKeyId}`,
                'prod: database.adopt.subnetGroupName ("other-db") differs from DBSubnetGroup "legacy-orders-db" of cluster legacy-orders: only a replacement could change it; set database.adopt.subnetGroupName: legacy-orders-db',
                'prod: database.adopt.instanceIdentifiers (["legacy-orders-1"]) differs from DBClusterMembers ["legacy-orders-1","legacy-orders-2"] of cluster legacy-orders: an instance the component does not declare stays unmanaged, one it declares but the cluster lacks is created; list every member, the writer first',
                'prod: network.existingVpc.vpcId ("vpc-0ffffffffffffffff") differs from VpcId "vpc-0a1b2c3d4e5f60718" of subnet group legacy-orders-db of cluster legacy-orders: a subnet group cannot move to another VPC; set network.existingVpc to the cluster\'s VPC',
            ]);
            const legacy: DescribedCluster = {
                ...described,
                port: 3306,
                storageEncrypted: false,
                kmsKeyId: undefined,
                databaseName: undefined,
                masterUserSecret: undefined,
            };
            const ok: AdoptionDeclared = {
                name: "orders",
                masterUsername: "postgres",
                engineVersion: "16",
                engineMajor: 16,
                vpcId: "vpc-0a1b2c3d4e5f60718",
                instanceCount: 2,
                instanceClass: "db.r6g.large",
                bootstrapPath: "data-api",
                adopt: adoption.database.adopt,
            };
            assert.deepStrictEqual(adoptionProblems("prod", ok, legacy), [
                'prod: database.name ("orders") differs from DatabaseName "(none: created without an initial database)" of cluster legacy-orders: only a replacement could change it; adopting needs a cluster created with a DatabaseName; front this one instead (database.existingCluster)',
                "prod: storage encryption (true) differs from StorageEncrypted false of cluster legacy-orders: only a replacement could change it; restore an encrypted copy of a snapshot and adopt that cluster, or front this one (database.existingCluster)",
                "prod: port (5432) differs from Port 3306 of cluster legacy-orders: the proxy, its security-group rules and the smoke use 5432; move the cluster with aws rds modify-db-cluster --db-cluster-identifier legacy-orders --port 5432 --apply-immediately (its instances restart; clients move with it)",
                "prod: cluster legacy-orders keeps its master password outside Secrets Manager (no MasterUserSecret); the component has RDS manage it, which replaces the password at once: move whatever logs in as postgres off it, then run aws rds modify-db-cluster --db-cluster-identifier legacy-orders --manage-master-user-password --apply-immediately",
            ]);
            assert.deepStrictEqual(adoptionProblems("prod", ok, described), []);
        });
    });

    describe("a cluster the RDS Data API cannot serve (a T-class writer, an older version)", () => {
        const writerOf = (c: DescribedCluster, instanceClass: string): DescribedCluster => ({
            ...c,
            instances: c.instances.map((i) => ({ ...i, instanceClass })),
        });
        const small = writerOf(described, "db.t4g.medium");

        it("takes the in-VPC bootstrap, as its settings say, with the cluster's HTTP endpoint off", async function () {
            this.timeout(60_000);
            const written = adoptionSettings(small, parametersFromCli(parametersOutput));
            assert.strictEqual(written.database.instanceClass, "db.t4g.medium");
            assert.deepStrictEqual(
                written.changes.filter((c) => /Data API|bootstrap/.test(c)),
                [
                    "the bootstrap runs inside the VPC (db.t4g.medium is a T class, which the RDS Data API does not serve): a security group of its own, admitted by the component's database group on 5432",
                ],
            );
            const s = resolveArgs("dev", argsFor(written.database)).database;
            assert.strictEqual(s.bootstrapPath, "vpc");
            assert.strictEqual(
                resolveArgs("dev", argsFor({ ...adoption.database, engineVersion: "16" })).database.bootstrapPath,
                "data-api",
            );
            const declared: AdoptionDeclared = {
                name: "orders",
                masterUsername: "postgres",
                engineVersion: "16.4",
                engineMajor: 16,
                vpcId: GROUP.VpcId,
                instanceCount: 2,
                instanceClass: "db.t4g.medium",
                bootstrapPath: "vpc",
                adopt: adoption.database.adopt,
            };
            assert.deepStrictEqual(adoptionProblems("dev", declared, small), []);
            const ev = await evaluate("dev", adopting(() => ({ engineVersion: databaseFor(s).engineVersion })).program);
            assert.strictEqual(
                ev.one("aws:rds/cluster:Cluster").inputs.enableHttpEndpoint,
                false,
                "no Data API on a cluster it cannot serve",
            );
        });

        it("refuses, in one line with the fix, settings that would still take the Data API", () => {
            const declared: AdoptionDeclared = {
                name: "orders",
                masterUsername: "postgres",
                engineVersion: "16",
                engineMajor: 16,
                vpcId: GROUP.VpcId,
                instanceCount: 2,
                instanceClass: "db.r6g.large",
                bootstrapPath: "data-api",
                adopt: adoption.database.adopt,
            };
            assert.deepStrictEqual(adoptionProblems("dev", declared, small), [
                'dev: database.instanceClass ("db.r6g.large") differs from DBInstanceClass "db.t4g.medium" of cluster legacy-orders: the RDS Data API the bootstrap would use does not serve the T class of writer legacy-orders-1; ' +
                    "set database.instanceClass: db.t4g.medium (the bootstrap then runs inside the VPC), or change the writer's class first: aws rds modify-db-instance --db-instance-identifier legacy-orders-1 --db-instance-class db.r6g.large --apply-immediately",
            ]);
            const older: AdoptionDeclared = { ...declared, engineVersion: "13", engineMajor: 13 };
            assert.deepStrictEqual(adoptionProblems("dev", older, { ...described, engineVersion: "13.9" }), [
                'dev: database.engineVersion ("13") differs from EngineVersion "13.9" of cluster legacy-orders: Aurora PostgreSQL 13.9 is older than 13.11, the first 13.x with the RDS Data API, which the bootstrap would use; ' +
                    'set database.engineVersion: "13.9" (the bootstrap then runs inside the VPC), or upgrade the cluster first: aws rds modify-db-cluster --db-cluster-identifier legacy-orders --engine-version <a newer 13.x> --apply-immediately',
            ]);
            assert.strictEqual(
                resolveArgs("dev", argsFor({ ...adoption.database, engineVersion: "13.9" })).database.bootstrapPath,
                "vpc",
                "the fix the line names takes the VPC",
            );
        });
    });

    describe("the settings rules", () => {
        const problemsOf = (database: Record<string, unknown>, network?: AuroraIamProxyArgs["network"]): string[] => {
            try {
                resolveArgs("dev", { ...argsFor(database), ...(network !== undefined ? { network } : {}) });
                return [];
            } catch (e) {
                return (e as SettingsError).problems;
            }
        };

        it("refuse adopting together with existingCluster, which fronts a cluster instead, in one line", () => {
            assert.deepStrictEqual(problemsOf({ ...adoption.database, existingCluster: { identifier: "legacy-orders" } }), [
                "dev: database.adopt and database.existingCluster exclude each other: adopt imports a cluster into full management, existingCluster fronts one and never modifies it; keep one",
            ]);
        });

        it("refuse adopting without the cluster's VPC, with fewer instances than it adopts, or with a malformed field", () => {
            assert.deepStrictEqual(problemsOf(adoption.database, {}), [
                "dev: database.adopt needs network.existingVpc: the cluster's VPC, with its subnet group's subnets as isolatedSubnetIds",
            ]);
            assert.deepStrictEqual(problemsOf({ ...adoption.database, instanceCount: 1 }), [
                "dev: database.instanceCount (1) is below the 2 instances database.adopt.instanceIdentifiers names; every adopted instance is declared (set at least 2)",
            ]);
            const adopt = adoption.database.adopt;
            assert.deepStrictEqual(
                problemsOf({
                    ...adoption.database,
                    adopt: { ...adopt, clusterIdentifier: "Legacy_Orders", kmsKeyId: "alias/aws/rds", securityGroupIds: [], extra: 1 },
                }),
                [
                    "dev: database.adopt has extra; allowed: clusterIdentifier, instanceIdentifiers, subnetGroupName, securityGroupIds, kmsKeyId, importLogGroup, parameters",
                    'dev: database.adopt.clusterIdentifier ("Legacy_Orders") must be an RDS identifier as describe-db-clusters prints it: 1-63 lower-case letters, digits and hyphens, a letter first, no "--", no trailing "-"',
                    "dev: database.adopt.securityGroupIds ([]) must be a non-empty list",
                    'dev: database.adopt.kmsKeyId ("alias/aws/rds") must be the cluster\'s KmsKeyId, a KMS key ARN such as arn:aws:kms:eu-west-1:123456789012:key/<key id>; a cluster without one is not encrypted and cannot be adopted',
                ],
            );
        });

        it("refuse the VPC's default DB subnet group, which the provider cannot declare, pointing to fronting instead", () => {
            assert.deepStrictEqual(
                problemsOf({ ...adoption.database, adopt: { ...adoption.database.adopt, subnetGroupName: "default" } }),
                [
                    'dev: database.adopt.subnetGroupName ("default") is the VPC\'s default DB subnet group, which the AWS provider cannot declare or import; front this cluster instead (database.existingCluster, docs/existing-cluster.md)',
                ],
            );
        });

        it("refuse carrying over a parameter the component sets to another value", () => {
            const adopt = { ...adoption.database.adopt, parameters: [{ name: "rds.force_ssl", value: "0" }] };
            assert.deepStrictEqual(problemsOf({ ...adoption.database, adopt }), [
                'dev: database.adopt.parameters: rds.force_ssl ("0") is set by the component ("1"); remove it from the list',
            ]);
        });
    });
});
