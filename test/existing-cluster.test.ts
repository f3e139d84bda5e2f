// AuroraIamProxy in front of an Aurora cluster that exists (issue 19, "Fronting an existing cluster"). The mock
// cloud's data sources describe the cluster (local/mock-cloud.ts EXISTING_CLUSTERS), so each test varies it: a
// healthy cluster is fronted with nothing of it declared, and each bad one is refused at preview with its fix.
import * as assert from "assert";
import { DbUser } from "../access/users";
import { AuroraIamProxy, AuroraIamProxyArgs, ExistingCluster } from "../components";
import { parseSettings, resolveArgs, SettingsError } from "../components/config";
import { describeExistingCluster, proxyVersionProblem } from "../components/existing-cluster";
import { mandatory, runPolicies, Violation } from "../policy/run";
import {
    evaluate,
    Evaluation,
    EXISTING_KMS_KEYS,
    EXISTING_SECRETS,
    EXISTING_SUBNETS,
    inlineStatementsOf,
    MockExistingCluster,
    mandatoryViolationLines,
    MockResource,
    putExistingCluster,
    sampleExistingCluster,
} from "./harness";

const VPC = "vpc-0e0e0e0e0e0e0e019";
const OTHER_VPC = "vpc-0f0f0f0f0f0f0f019";
function subnet(id: string, availabilityZone: string) {
    EXISTING_SUBNETS.set(id, { vpcId: VPC, availabilityZone, cidrBlock: "10.19.0.0/24" });
    return id;
}
const PRIVATE = [subnet("subnet-0190000000000a001", "eu-west-1a"), subnet("subnet-0190000000000a002", "eu-west-1b")];
const ISOLATED = [subnet("subnet-0190000000000b001", "eu-west-1a"), subnet("subnet-0190000000000b002", "eu-west-1b")];
const USERS: DbUser[] = [
    { name: "app_user", access: "readwrite", endpoint: "writer" },
    { name: "app_reader", access: "readonly", endpoint: "reader" },
    { name: "app_migrator", access: "ddl", endpoint: "writer" },
];

/** Makes a cluster exist (a healthy one, changed as the test needs) and returns its identifier. */
function cluster(identifier: string, change: (c: MockExistingCluster) => void = () => undefined): string {
    const c = sampleExistingCluster(identifier, VPC);
    change(c);
    putExistingCluster(c);
    return identifier;
}

function args(existingCluster: ExistingCluster, more: Partial<AuroraIamProxyArgs> = {}): AuroraIamProxyArgs {
    return {
        environment: "dev",
        region: "eu-west-1",
        name: "orders",
        network: { existingVpc: { vpcId: VPC, privateSubnetIds: PRIVATE, isolatedSubnetIds: ISOLATED } },
        database: { name: "orders", existingCluster },
        access: { users: USERS },
        smoke: { warningsFail: true },
        tags: { Owner: "platform-team", CostCenter: "1234" },
        ...more,
    };
}

const evaluations = new Map<string, Promise<Evaluation>>();
/** The component over one cluster, evaluated once for every test that reads it. */
function fronting(key: string, a: () => AuroraIamProxyArgs): Promise<Evaluation> {
    if (!evaluations.has(key)) {
        evaluations.set(
            key,
            evaluate("dev", () => {
                const db = new AuroraIamProxy("orders-db", a());
                return {
                    clusterEndpoint: db.clusterEndpoint,
                    masterUsername: db.masterUsername,
                    databaseSecurityGroupId: db.databaseSecurityGroupId,
                };
            }),
        );
    }
    return evaluations.get(key)!;
}

/** What the preview says of a cluster, through the data sources only: [] when it is fronted, else one line per problem. */
async function refusal(identifier: string, given: Partial<ExistingCluster> = {}, users = USERS): Promise<string[]> {
    try {
        await evaluate("dev", () => ({
            facts: describeExistingCluster(
                "dev",
                { identifier, ...given },
                { vpcId: VPC, users, appUser: "app_user", region: "eu-west-1" },
                {},
            ),
        }));
        return [];
    } catch (err) {
        return (err as Error).message.split("\n");
    }
}

const T = {
    proxy: "aws:rds/proxy:Proxy",
    target: "aws:rds/proxyTarget:ProxyTarget",
    fn: "aws:lambda/function:Function",
    sg: "aws:ec2/securityGroup:SecurityGroup",
    ingress: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    egress: "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    role: "aws:iam/role:Role",
};
const fn = (ev: Evaluation, id: "bootstrap" | "smoke") => ev.named(T.fn, `smoke-${id}`);
const rulesOf = (ev: Evaluation, group: MockResource) =>
    [...ev.ofType(T.ingress), ...ev.ofType(T.egress)].filter((r) => r.inputs.securityGroupId === group.id);
const ruleText = (r: MockResource) =>
    `${r.type === T.ingress ? "in" : "out"} ${r.inputs.ipProtocol}/${r.inputs.fromPort}-${r.inputs.toPort} ${r.inputs.referencedSecurityGroupId ?? r.inputs.cidrIpv4}`;

describe("AuroraIamProxy in front of an existing cluster (database.existingCluster)", () => {
    describe("a healthy cluster", () => {
        const described = () => sampleExistingCluster("orders-legacy", VPC);
        let ev: Evaluation;
        before(async function () {
            this.timeout(60_000);
            ev = await fronting("healthy", () => args({ identifier: cluster("orders-legacy") }));
        });

        it("declares the proxy with its target on the cluster, the users' bootstrap, the smoke and the monitoring", () => {
            assert.strictEqual(ev.one(T.proxy).inputs.name, "orders-dev-proxy");
            assert.strictEqual(ev.one(T.target).inputs.dbClusterIdentifier, "orders-legacy");
            assert.strictEqual(
                ev.one("aws:rds/proxyEndpoint:ProxyEndpoint").inputs.targetRole,
                "READ_ONLY",
                "a reader user, and the cluster has a reader",
            );
            assert.deepStrictEqual(
                ev
                    .ofType("aws:lambda/invocation:Invocation")
                    .map((i) => i.name)
                    .sort(),
                ["smoke-bootstrap", "smoke-smoke"],
            );
            assert.deepStrictEqual(
                JSON.parse(fn(ev, "bootstrap").inputs.environment.variables.DB_USERS).map((u: { name: string }) => u.name),
                USERS.map((u) => u.name),
            );
            assert.ok(ev.ofType("aws:cloudwatch/metricAlarm:MetricAlarm").length >= 4);
            assert.ok(ev.one("aws:scheduler/schedule:Schedule"));
            assert.ok(
                ev.one("aws:ec2/instance:Instance").inputs.tags.Role === "operator-relay",
                "operator access (db:connect) through the same proxy",
            );
            const dashboard = ev.one("aws:cloudwatch/dashboard:Dashboard").inputs.dashboardBody;
            for (const instance of described().clusterMembers) assert.ok(dashboard.includes(instance), instance);
            assert.match(ev.outputs.clusterEndpoint, /^orders-legacy\.cluster-/);
            assert.strictEqual(ev.outputs.masterUsername, "postgres");
        });

        it("declares no cluster, instance, parameter group, subnet group or key for the database: its only RDS resources are the proxy's", () => {
            const rds = [...new Set(ev.resources.map((r) => r.type).filter((t) => t.startsWith("aws:rds/")))].sort();
            assert.deepStrictEqual(rds, [
                "aws:rds/proxy:Proxy",
                "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup",
                "aws:rds/proxyEndpoint:ProxyEndpoint",
                "aws:rds/proxyTarget:ProxyTarget",
            ]);
            assert.deepStrictEqual(
                ev
                    .ofType("aws:cloudwatch/logGroup:LogGroup")
                    .map((g) => g.inputs.name)
                    .filter((n) => n.startsWith("/aws/rds/cluster/")),
                [],
            );
            assert.deepStrictEqual(
                ev.ofType("random:index/randomId:RandomId"),
                [],
                "no final-snapshot name: nothing here deletes a cluster",
            );
            assert.match(ev.one("aws:kms/key:Key").inputs.description, /^orders-dev: log groups and the alarm topic/);
        });

        it("acts on the cluster only through the proxy's target and one ingress rule on its group, which admits the component's cluster-access group on the cluster's port", () => {
            const c = described();
            const foreign = new Set([c.clusterIdentifier, ...c.vpcSecurityGroupIds, ...c.clusterMembers, c.subnetGroup.name]);
            // A resource acts on what its identifying inputs name: the group a rule belongs to, the cluster a target registers.
            const acting = ev.resources.filter((r) =>
                [
                    "securityGroupId",
                    "dbClusterIdentifier",
                    "clusterIdentifier",
                    "dbInstanceIdentifier",
                    "dbSubnetGroupName",
                    "identifier",
                ].some((k) => foreign.has(r.inputs[k])),
            );
            assert.deepStrictEqual(acting.map((r) => `${r.type}::${r.name}`).sort(), [
                `${T.target}::proxy-cluster-target`,
                `${T.ingress}::network-cluster-from-cluster-access`,
            ]);
            const rule = ev.named(T.ingress, "network-cluster-from-cluster-access");
            const access = ev.named(T.sg, "network-cluster-access");
            assert.deepStrictEqual(rule.inputs, {
                securityGroupId: c.vpcSecurityGroupIds[0],
                referencedSecurityGroupId: access.id,
                ipProtocol: "tcp",
                fromPort: 5432,
                toPort: 5432,
                description: "PostgreSQL from the RDS Proxy and bootstrap of orders-dev - added by aurora-iam-proxy",
            });
            assert.deepStrictEqual(ev.one(T.proxy).inputs.vpcSecurityGroupIds, [ev.named(T.sg, "network-proxy").id, access.id]);
            assert.strictEqual(ev.outputs.databaseSecurityGroupId, c.vpcSecurityGroupIds[0]);
        });

        it("declares every resource under the component and imports, retains or protects none: `pulumi destroy` removes exactly what it declared, and nothing else", () => {
            const component = ev.one("aurora-iam-proxy:index:AuroraIamProxy");
            const underComponent = (r: MockResource): boolean =>
                r.parent === component.urn || (r.parent !== undefined && underComponent(ev.byUrn(r.parent)));
            assert.deepStrictEqual(
                ev.resources.filter((r) => r !== component && !underComponent(r)).map((r) => r.urn),
                [],
            );
            assert.deepStrictEqual(
                ev.resources.filter((r) => r.options.importId !== "" || r.options.retainOnDelete || r.options.protect).map((r) => r.urn),
                [],
            );
        });

        it("runs the bootstrap in the VPC against the cluster's writer endpoint with the master secret (DB_BOOTSTRAP_PATH=vpc), in the existing-database mode", () => {
            const c = described();
            const bootstrap = fn(ev, "bootstrap");
            const env = bootstrap.inputs.environment.variables;
            assert.deepStrictEqual(Object.keys(env).sort(), [
                "DB_AUTH_MODE",
                "DB_BOOTSTRAP_PATH",
                "DB_EXISTING_DATABASE",
                "DB_HOST",
                "DB_NAME",
                "DB_OWNER",
                "DB_PORT",
                "DB_SECRET_ARN",
                "DB_USER",
                "DB_USERS",
            ]);
            assert.deepStrictEqual(
                [env.DB_BOOTSTRAP_PATH, env.DB_HOST, env.DB_PORT, env.DB_SECRET_ARN, env.DB_EXISTING_DATABASE, env.DB_NAME, env.DB_OWNER],
                ["vpc", ev.outputs.clusterEndpoint, "5432", c.managedSecret!.secretArn, "true", "orders", "postgres"],
            );
            const groups = bootstrap.inputs.vpcConfig.securityGroupIds;
            assert.deepStrictEqual(bootstrap.inputs.vpcConfig.subnetIds, PRIVATE);
            assert.deepStrictEqual(groups, [ev.named(T.sg, "network-bootstrap").id, ev.named(T.sg, "network-cluster-access").id]);
            // Out to Secrets Manager, and to the cluster's group on its port; nothing comes in.
            assert.deepStrictEqual(rulesOf(ev, ev.named(T.sg, "network-bootstrap")).map(ruleText), ["out tcp/443-443 0.0.0.0/0"]);
            assert.deepStrictEqual(rulesOf(ev, ev.named(T.sg, "network-cluster-access")).map(ruleText), [
                `out tcp/5432-5432 ${c.vpcSecurityGroupIds[0]}`,
            ]);
        });

        it("invokes the bootstrap only once every rule of its path exists: to the cluster, the cluster's one rule, HTTPS out", () => {
            const path = [
                ...rulesOf(ev, ev.named(T.sg, "network-bootstrap")),
                ...rulesOf(ev, ev.named(T.sg, "network-cluster-access")),
                ev.named(T.ingress, "network-cluster-from-cluster-access"),
            ];
            assert.deepStrictEqual(path.map((r) => r.name).sort(), [
                "network-bootstrap-https",
                "network-cluster-access-to-cluster",
                "network-cluster-from-cluster-access",
            ]);
            const invocation = ev.named("aws:lambda/invocation:Invocation", "smoke-bootstrap");
            for (const rule of path) assert.ok(invocation.dependencies.includes(rule.urn), `the bootstrap waits for ${rule.name}`);
        });

        it("grants the bootstrap the master secret and nothing of the Data API; no kms:Decrypt for a secret under the AWS-managed key", () => {
            const role = ev.resources.find((r) => r.type === T.role && r.state.arn === fn(ev, "bootstrap").inputs.role)!;
            const statements = inlineStatementsOf(ev, role);
            assert.deepStrictEqual(
                statements.map((s) => s.Sid),
                ["AttachToVpc", "ReadMasterSecret", "WriteOwnLogs"],
            );
            assert.deepStrictEqual(statements[1], {
                Sid: "ReadMasterSecret",
                Effect: "Allow",
                Action: "secretsmanager:GetSecretValue",
                Resource: described().managedSecret!.secretArn,
            });
            assert.ok(!JSON.stringify(statements).includes("rds-data:"));
        });

        it("lets the smoke read the cluster's group rules (ec2:DescribeSecurityGroupRules on *, HTTPS out) and passes it the contract's environment", () => {
            const env = fn(ev, "smoke").inputs.environment.variables;
            assert.deepStrictEqual(
                [env.DB_EXISTING_DATABASE, env.DB_CLUSTER_SECURITY_GROUP_IDS, env.SMOKE_WARNINGS_FAIL],
                ["true", described().vpcSecurityGroupIds.join(","), "true"],
            );
            const role = ev.resources.find((r) => r.type === T.role && r.state.arn === fn(ev, "smoke").inputs.role)!;
            assert.deepStrictEqual(
                inlineStatementsOf(ev, role).find((s) => s.Sid === "ReadClusterGroupRules"),
                { Sid: "ReadClusterGroupRules", Effect: "Allow", Action: "ec2:DescribeSecurityGroupRules", Resource: "*" },
            );
            assert.ok(rulesOf(ev, ev.named(T.sg, "network-smoke")).map(ruleText).includes("out tcp/443-443 0.0.0.0/0"));
        });

        it("passes the policy pack with no mandatory violation (an existing VPC's subnets allowed, as its README says)", () => {
            assert.deepStrictEqual(mandatoryViolationLines(ev.resources, { existingVpc: true }), []);
        });

        it("keeps the pack strict where it lets an existing cluster through: a CIDR on the cluster's group, or a target without the existing-database declaration, is refused", () => {
            const only = (resources: MockResource[], name: string): Violation[] =>
                mandatory(runPolicies(resources, { environment: "dev" })).filter((v) => v.policyName === name);
            const copy = (): MockResource[] => JSON.parse(JSON.stringify(ev.resources));
            const withCidr = copy();
            const rule = withCidr.find((r) => r.name === "network-cluster-from-cluster-access")!;
            for (const side of [rule.inputs, rule.state]) {
                delete side.referencedSecurityGroupId;
                side.cidrIpv4 = "10.0.0.0/8";
            }
            assert.match(
                only(withCidr, "db-sg-admits-only-proxy")
                    .map((v) => v.message)
                    .join("\n"),
                /adds ingress from 10\.0\.0\.0\/8 to "sg-[0-9a-f]+", a group this stack does not declare/,
            );
            const undeclared = copy();
            for (const f of undeclared.filter((r) => r.type === T.fn))
                for (const side of [f.inputs, f.state]) delete side.environment.variables.DB_EXISTING_DATABASE;
            assert.match(
                only(undeclared, "proxy-targets-stack-cluster")
                    .map((v) => v.message)
                    .join("\n"),
                /dbClusterIdentifier "orders-legacy" is not a cluster of this stack/,
            );
            assert.ok(only(undeclared, "read-only-endpoint-needs-readers").length > 0);
        });
    });

    describe("a cluster it is told more about: its own master secret under a customer key, several groups, another port", () => {
        const secretArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:billing-master-Ab12Cd";
        const keyArn = "arn:aws:kms:eu-west-1:123456789012:key/0b5e0000-1111-4222-8333-444455556666";
        const [groupA, groupB] = ["sg-0b0000000000000a1", "sg-0b0000000000000b2"];
        let ev: Evaluation;
        before(async function () {
            this.timeout(60_000);
            EXISTING_SECRETS.set(secretArn, { kmsKeyId: keyArn });
            EXISTING_KMS_KEYS.set(keyArn, { arn: keyArn, keyManager: "CUSTOMER" });
            const identifier = cluster("orders-billing", (c) => {
                c.managedSecret = undefined;
                c.vpcSecurityGroupIds = [groupA, groupB];
                c.port = 5433;
                c.masterUsername = "billing_admin";
            });
            // Without operator access and the schedule: this variant is about the cluster's side (and costs less to evaluate).
            ev = await fronting("told-more", () =>
                args(
                    { identifier, masterSecretArn: secretArn, securityGroupId: groupB },
                    { smoke: { schedule: "off" }, operator: { enabled: false } },
                ),
            );
        });

        it("adds its one rule to the group it is told, on the cluster's own port, and has the smoke read every group of the cluster", () => {
            const rule = ev.named(T.ingress, "network-cluster-from-cluster-access");
            assert.deepStrictEqual([rule.inputs.securityGroupId, rule.inputs.fromPort, rule.inputs.toPort], [groupB, 5433, 5433]);
            assert.deepStrictEqual(rulesOf(ev, ev.named(T.sg, "network-cluster-access")).map(ruleText), [`out tcp/5433-5433 ${groupB}`]);
            const smokeEnv = fn(ev, "smoke").inputs.environment.variables;
            assert.deepStrictEqual(
                [smokeEnv.DB_CLUSTER_SECURITY_GROUP_IDS, smokeEnv.SMOKE_WARNINGS_FAIL],
                [`${groupA},${groupB}`, "false"],
            );
            assert.strictEqual(
                ev.one(T.proxy).inputs.name,
                "orders-dev-proxy",
                "the proxy itself listens on 5432 whatever the cluster's port",
            );
        });

        it("bootstraps as the cluster's master user with the secret it is given, decrypting that secret's customer key only through Secrets Manager", () => {
            const env = fn(ev, "bootstrap").inputs.environment.variables;
            assert.deepStrictEqual([env.DB_SECRET_ARN, env.DB_PORT, env.DB_OWNER], [secretArn, "5433", "billing_admin"]);
            const role = ev.resources.find((r) => r.type === T.role && r.state.arn === fn(ev, "bootstrap").inputs.role)!;
            assert.deepStrictEqual(
                inlineStatementsOf(ev, role).filter((s) => /secretsmanager|kms/.test(JSON.stringify(s.Action))),
                [
                    { Sid: "ReadMasterSecret", Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: secretArn },
                    {
                        Sid: "DecryptThroughSecretsManagerOnly",
                        Effect: "Allow",
                        Action: "kms:Decrypt",
                        Resource: keyArn,
                        Condition: { StringEquals: { "kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com" } },
                    },
                ],
            );
        });
    });

    describe("refuses at preview, one line per problem naming its fix", () => {
        const where = (id: string) => `dev: database.existingCluster (${id})`;

        it("a cluster that is not Aurora PostgreSQL", async () => {
            assert.deepStrictEqual(
                await refusal(
                    cluster("orders-mysql", (c) => {
                        c.engine = "aurora-mysql";
                        c.engineVersion = "8.0.mysql_aurora.3.05.2";
                    }),
                ),
                [
                    `${where("orders-mysql")}: engine is aurora-mysql; this component fronts aurora-postgresql only (its proxy, users and smoke are PostgreSQL's): front an Aurora PostgreSQL cluster (no command changes a cluster's engine)`,
                ],
            );
        });

        it("a version RDS Proxy doesn't support, with the upgrade to the newest minor of its major", async () => {
            assert.deepStrictEqual(
                await refusal(
                    cluster("orders-old", (c) => {
                        c.engineVersion = "12.3";
                    }),
                ),
                [
                    `${where("orders-old")}: engine version 12.3 is older than 12.4, the first 12.x RDS Proxy supports; upgrade it: aws rds modify-db-cluster --db-cluster-identifier orders-old --engine-version 12.22 --apply-immediately`,
                ],
            );
            assert.deepStrictEqual(
                ["9.6.22", "10.13", "13.3", "14.3", "16.6", "17.4"].map((v) => proxyVersionProblem(v) === undefined),
                [false, false, true, true, true, true],
            );
        });

        it("Aurora Serverless v1, which RDS Proxy doesn't support", async () => {
            const [line] = await refusal(
                cluster("orders-v1", (c) => {
                    c.engineMode = "serverless";
                }),
            );
            assert.match(
                line,
                /^dev: database\.existingCluster \(orders-v1\): engine mode is serverless \(Aurora Serverless v1\), which RDS Proxy does not support; convert it/,
            );
        });

        it("IAM database authentication off", async () => {
            assert.deepStrictEqual(
                await refusal(
                    cluster("orders-noiam", (c) => {
                        c.iamDatabaseAuthenticationEnabled = false;
                    }),
                ),
                [
                    `${where("orders-noiam")}: IAM database authentication is off, and the proxy logs in to it with IAM; turn it on (passwords keep working): aws rds modify-db-cluster --db-cluster-identifier orders-noiam --enable-iam-database-authentication --apply-immediately`,
                ],
            );
        });

        it("a cluster in another VPC than the subnets given", async () => {
            assert.deepStrictEqual(
                await refusal(
                    cluster("orders-elsewhere", (c) => {
                        c.subnetGroup.vpcId = OTHER_VPC;
                    }),
                ),
                [
                    `${where("orders-elsewhere")}: the cluster is in ${OTHER_VPC} (subnet group orders-elsewhere-subnets), not in network.existingVpc.vpcId ${VPC}; RDS Proxy must be in the cluster's VPC: give that VPC and its subnets in network.existingVpc`,
                ],
            );
        });

        it("no master secret: none managed by RDS and none given, or a given one that does not exist", async () => {
            assert.deepStrictEqual(
                await refusal(
                    cluster("orders-nosecret", (c) => {
                        c.managedSecret = undefined;
                    }),
                ),
                [
                    `${where("orders-nosecret")}: no master secret: RDS does not manage the master password and database.existingCluster.masterSecretArn is unset; let RDS manage it: ` +
                        "aws rds modify-db-cluster --db-cluster-identifier orders-nosecret --manage-master-user-password --apply-immediately (RDS then generates a new master password: whatever logs in with the old one stops working), " +
                        'or store the current master credentials as {"username","password"} in Secrets Manager and pass its ARN as database.existingCluster.masterSecretArn',
                ],
            );
            const missing = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:nobody-Zz99Zz";
            assert.deepStrictEqual(await refusal("orders-nosecret", { masterSecretArn: missing }), [
                `${where("orders-nosecret")}: database.existingCluster.masterSecretArn (${missing}) is no secret this account can describe; give the ARN of the secret holding the master user's {"username","password"}`,
            ]);
        });

        it("no bootstrap path: a cluster without instances, or a read replica without a writer", async () => {
            assert.deepStrictEqual(
                await refusal(
                    cluster("orders-empty", (c) => {
                        c.clusterMembers = [];
                    }),
                    {},
                    [USERS[0]],
                ),
                [
                    `${where("orders-empty")}: the bootstrap has no path to the database: the cluster has no instance; add a writer: ` +
                        "aws rds modify-db-cluster --db-cluster-identifier orders-empty --serverless-v2-scaling-configuration MinCapacity=0.5,MaxCapacity=8 --apply-immediately, " +
                        "then aws rds create-db-instance --db-cluster-identifier orders-empty --db-instance-identifier orders-empty-1 --engine aurora-postgresql --db-instance-class db.serverless " +
                        "(Serverless v2 needs that capacity range first; 8 ACUs is a ceiling of your choosing), or give create-db-instance a provisioned class such as db.r6g.large alone",
                ],
            );
            assert.deepStrictEqual(
                await refusal(
                    cluster("orders-replica", (c) => {
                        c.replicationSourceIdentifier = "arn:aws:rds:eu-central-1:123456789012:cluster:orders";
                    }),
                ),
                [
                    `${where("orders-replica")}: the bootstrap has no path to a writer: the cluster is a read replica of arn:aws:rds:eu-central-1:123456789012:cluster:orders; front the source cluster, or promote this one: aws rds promote-read-replica-db-cluster --db-cluster-identifier orders-replica`,
                ],
            );
        });

        it("a cluster with several security groups and none named, or a named group that is not the cluster's", async () => {
            const id = cluster("orders-twogroups", (c) => {
                c.vpcSecurityGroupIds = ["sg-0c0000000000000a1", "sg-0c0000000000000b2"];
            });
            assert.deepStrictEqual(await refusal(id), [
                `${where(id)}: the cluster has security groups sg-0c0000000000000a1, sg-0c0000000000000b2; name the one that should admit the proxy in database.existingCluster.securityGroupId`,
            ]);
            assert.deepStrictEqual(await refusal(id, { securityGroupId: "sg-0c0000000000000c3" }), [
                `${where(id)}: database.existingCluster.securityGroupId (sg-0c0000000000000c3) is not one of the cluster's security groups (sg-0c0000000000000a1, sg-0c0000000000000b2); name one of them`,
            ]);
            assert.deepStrictEqual(await refusal(id, { securityGroupId: "sg-0c0000000000000b2" }), []);
        });

        it("users the settings could not check: the cluster's master user, or a reader user on a cluster without readers", async () => {
            const id = cluster("orders-single", (c) => {
                c.clusterMembers = ["orders-single-1"];
                c.masterUsername = "app_migrator";
            });
            assert.deepStrictEqual(await refusal(id), [
                `${where(id)}: access.users[1] (app_reader) is for the reader endpoint, but the cluster has 1 instance(s) and so no reader; set its endpoint to writer, or add a reader: ` +
                    `aws rds create-db-instance --db-cluster-identifier ${id} --db-instance-identifier ${id}-2 --engine aurora-postgresql --db-instance-class <the writer's class>`,
                `${where(id)}: access.users[2] (app_migrator) is the cluster's master user; no client connects as the master user, so rename the user`,
            ]);
        });

        it("an identifier that names no cluster", async () => {
            assert.deepStrictEqual(await refusal("orders-missing"), [
                "dev: database.existingCluster.identifier (orders-missing) names no cluster this account can describe in eu-west-1 (reading RDS Cluster (orders-missing): couldn't find resource); give the identifier of an existing Aurora PostgreSQL cluster",
            ]);
        });

        it("fails the component's preview with every line at once", async () => {
            const id = cluster("orders-twice-bad", (c) => {
                c.iamDatabaseAuthenticationEnabled = false;
                c.subnetGroup.vpcId = OTHER_VPC;
            });
            const small = { operator: { enabled: false }, smoke: { enabled: false, schedule: "off" } };
            await assert.rejects(
                evaluate("dev", () => ({ endpoint: new AuroraIamProxy("orders-db", args({ identifier: id }, small)).clusterEndpoint })),
                (err: Error) => {
                    // As `pulumi preview` prints it: the lines alone, not prefixed with the inputs that waited for them.
                    assert.deepStrictEqual(
                        err.message.split("\n").map((l) => l.split(": ").slice(0, 3).join(": ")),
                        [
                            `${where(id)}: IAM database authentication is off, and the proxy logs in to it with IAM; turn it on (passwords keep working)`,
                            `${where(id)}: the cluster is in ${OTHER_VPC} (subnet group ${id}-subnets), not in network.existingVpc.vpcId ${VPC}; RDS Proxy must be in the cluster's VPC`,
                        ],
                    );
                    return true;
                },
            );
        });
    });

    describe("settings", () => {
        const base = args({ identifier: "orders-legacy" });
        const problems = (a: AuroraIamProxyArgs) => {
            try {
                resolveArgs("dev", a);
                return [];
            } catch (e) {
                return (e as SettingsError).problems;
            }
        };

        it("needs the cluster's VPC (network.existingVpc) and the application's database name", () => {
            assert.deepStrictEqual(
                problems({ ...base, network: undefined, database: { existingCluster: { identifier: "orders-legacy" } } }),
                [
                    'dev: database.existingCluster ({"identifier":"orders-legacy"}) needs network.existingVpc: give the cluster\'s VPC (vpcId) and subnets of it (privateSubnetIds, isolatedSubnetIds)',
                    "dev: database.name (unset) is required with database.existingCluster: name the database on that cluster the application uses",
                ],
            );
        });

        it("refuses the settings of a cluster it would create, and a malformed identifier, secret ARN or group id", () => {
            assert.deepStrictEqual(
                problems({
                    ...base,
                    database: {
                        name: "orders",
                        instanceCount: 2,
                        existingCluster: { identifier: "1orders", masterSecretArn: "orders-master", securityGroupId: "default" },
                    },
                }),
                [
                    'dev: database.existingCluster.identifier ("1orders") must be an Aurora cluster identifier: 1-63 letters, digits and single hyphens, starting with a letter',
                    'dev: database.existingCluster.masterSecretArn ("orders-master") must be a Secrets Manager secret ARN such as arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders-master-AbCdEf',
                    'dev: database.existingCluster.securityGroupId ("default") must be a security group id such as sg-0123456789abcdef0',
                    "dev: database.instanceCount (2) is for a cluster the component creates; remove it, or remove database.existingCluster (an existing cluster keeps its own)",
                ],
            );
            assert.strictEqual(resolveArgs("dev", base).smoke.warningsFail, true);
            assert.strictEqual(resolveArgs("dev", { ...base, smoke: {} }).smoke.warningsFail, false);
        });

        it("reads them from a stack file key for key, as Pulumi hands them over (JSON strings), into the component's Args", () => {
            const settings = parseSettings("staging", {
                "aws:region": "eu-west-1",
                "aurora-iam-proxy:environment": "dev",
                "aurora-iam-proxy:tags": JSON.stringify({ Owner: "platform-team", CostCenter: "1234" }),
                "aurora-iam-proxy:network": JSON.stringify({
                    existingVpc: { vpcId: VPC, privateSubnetIds: PRIVATE, isolatedSubnetIds: ISOLATED },
                }),
                "aurora-iam-proxy:database": JSON.stringify({
                    name: "orders",
                    existingCluster: { identifier: "orders-legacy", securityGroupId: "sg-0c0000000000000b2" },
                }),
                "aurora-iam-proxy:smoke": JSON.stringify({ warningsFail: true }),
            });
            assert.deepStrictEqual(settings.database.existingCluster, {
                identifier: "orders-legacy",
                securityGroupId: "sg-0c0000000000000b2",
            });
            assert.deepStrictEqual(settings.args.database?.existingCluster, settings.database.existingCluster);
            assert.strictEqual(settings.smoke.warningsFail, true);
            assert.strictEqual(
                settings.database.masterUsername,
                "",
                "an existing cluster's master user is read at preview time, not assumed",
            );
        });
    });
});
