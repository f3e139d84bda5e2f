// The Pulumi program for both stacks, with each stack's real settings file, under mocks.
import { strict as assert } from "assert";
import { parseProxyArn } from "../components/arns";
import { descriptionProblem } from "../components/validation";
import {
    ACCOUNT_ID,
    attachedPolicyArnsOf,
    bothStacksAsDeclared,
    evaluateStack,
    inlinePoliciesOf,
    inlineStatementsOf,
    MockResource,
    StackEvaluation as Evaluation,
} from "./harness";

const T = {
    vpc: "aws:ec2/vpc:Vpc",
    subnet: "aws:ec2/subnet:Subnet",
    nat: "aws:ec2/natGateway:NatGateway",
    routeTable: "aws:ec2/routeTable:RouteTable",
    routeAssoc: "aws:ec2/routeTableAssociation:RouteTableAssociation",
    flowLog: "aws:ec2/flowLog:FlowLog",
    defaultSg: "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    sg: "aws:ec2/securityGroup:SecurityGroup",
    ingress: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    egress: "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    key: "aws:kms/key:Key",
    logGroup: "aws:cloudwatch/logGroup:LogGroup",
    secret: "aws:secretsmanager/secret:Secret",
    paramGroup: "aws:rds/clusterParameterGroup:ClusterParameterGroup",
    subnetGroup: "aws:rds/subnetGroup:SubnetGroup",
    cluster: "aws:rds/cluster:Cluster",
    instance: "aws:rds/clusterInstance:ClusterInstance",
    proxy: "aws:rds/proxy:Proxy",
    targetGroup: "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup",
    target: "aws:rds/proxyTarget:ProxyTarget",
    role: "aws:iam/role:Role",
    rolePolicy: "aws:iam/rolePolicy:RolePolicy",
    attachment: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    ecsCluster: "aws:ecs/cluster:Cluster",
    taskDef: "aws:ecs/taskDefinition:TaskDefinition",
    service: "aws:ecs/service:Service",
    provider: "pulumi:providers:aws",
};

const named = (ev: Evaluation, type: string, name: string) => ev.named(type, name);
const sgId = (ev: Evaluation, name: string) => named(ev, T.sg, `network-${name}`).id;
const subnetsOfTier = (ev: Evaluation, tier: string) => ev.ofType(T.subnet).filter((s) => s.inputs.tags?.Tier === tier);
const statements = (policy: MockResource) => JSON.parse(policy.inputs.policy).Statement as any[];
const containers = (ev: Evaluation) => JSON.parse(ev.one(T.taskDef).inputs.containerDefinitions) as any[];

describe("the Pulumi program", function () {
    this.timeout(60000);
    const stacks = bothStacksAsDeclared();
    const both = stacks.both;

    describe("components", () => {
        it("declares one component per concern, with every AWS resource parented under one", () => {
            for (const ev of both()) {
                for (const c of ["Secrets", "Network", "Database", "Proxy", "Ecs"]) {
                    assert.equal(ev.ofType(`aurora-iam-proxy:index:${c}`).length, 1, `${ev.stack}: ${c}`);
                }
                const orphans = ev.resources.filter(
                    (r) => r.type.startsWith("aws:") && !(r.parent ?? "").includes("aurora-iam-proxy:index:"),
                );
                assert.deepEqual(
                    orphans.map((r) => r.name),
                    [],
                    `${ev.stack}: resources outside a component`,
                );
            }
        });
    });

    describe("network", () => {
        it("spreads tasks, proxy and database over at least two AZs in subnets that never get public IPs", () => {
            for (const ev of both()) {
                for (const tier of ["private", "isolated"]) {
                    const subnets = subnetsOfTier(ev, tier);
                    assert.ok(subnets.length >= 2, `${ev.stack} ${tier}`);
                    assert.equal(new Set(subnets.map((s) => s.inputs.availabilityZone)).size, subnets.length);
                    for (const s of subnets) assert.equal(s.inputs.mapPublicIpOnLaunch, false, `${ev.stack} ${s.name}`);
                }
                for (const s of ev.ofType(T.subnet)) assert.equal(s.inputs.mapPublicIpOnLaunch, s.inputs.tags.Tier === "public", s.name);
            }
            assert.equal(subnetsOfTier(stacks.prod(), "private").length, 3);
        });

        it("gives dev one NAT gateway and prod one per AZ", () => {
            assert.equal(stacks.dev().ofType(T.nat).length, 1);
            assert.equal(stacks.prod().ofType(T.nat).length, 3);
            const natAzs = stacks
                .prod()
                .ofType(T.nat)
                .map(
                    (n) =>
                        stacks
                            .prod()
                            .ofType(T.subnet)
                            .find((s) => s.id === n.inputs.subnetId)!.inputs.availabilityZone,
                );
            assert.equal(new Set(natAzs).size, 3);
        });

        it("routes private subnets through NAT and gives isolated subnets no route out", () => {
            for (const ev of both()) {
                const tableOf = (subnet: MockResource) => {
                    const assoc = ev.ofType(T.routeAssoc).find((a) => a.inputs.subnetId === subnet.id)!;
                    return ev.ofType(T.routeTable).find((t) => t.id === assoc.inputs.routeTableId)!;
                };
                for (const s of subnetsOfTier(ev, "private")) {
                    const routes = tableOf(s).inputs.routes;
                    assert.ok(
                        routes.every((r: any) => r.natGatewayId && !r.gatewayId),
                        `${ev.stack} ${s.name}`,
                    );
                }
                for (const s of subnetsOfTier(ev, "isolated"))
                    assert.deepEqual(tableOf(s).inputs.routes ?? [], [], `${ev.stack} ${s.name}`);
            }
        });

        it("closes the default security group", () => {
            for (const ev of both()) {
                const sg = ev.one(T.defaultSg);
                assert.equal(sg.inputs.vpcId, ev.one(T.vpc).id);
                assert.deepEqual(sg.inputs.ingress ?? [], []);
                assert.deepEqual(sg.inputs.egress ?? [], []);
            }
        });

        it("sends prod's flow logs to a CMK-encrypted log group with retention; dev has none", () => {
            assert.equal(stacks.dev().ofType(T.flowLog).length, 0);
            const flow = stacks.prod().one(T.flowLog);
            assert.equal(flow.inputs.vpcId, stacks.prod().one(T.vpc).id);
            assert.equal(flow.inputs.trafficType, "ALL");
            const group = stacks
                .prod()
                .ofType(T.logGroup)
                .find((g) => g.state.arn === flow.inputs.logDestination)!;
            assert.equal(group.inputs.kmsKeyId, stacks.prod().one(T.key).state.arn);
            assert.equal(group.inputs.retentionInDays, 365);
            const role = stacks
                .prod()
                .ofType(T.role)
                .find((r) => r.state.arn === flow.inputs.iamRoleArn)!;
            // What the VPC guide lists for the role, scoped to this group wherever IAM allows it.
            const [policy] = inlinePoliciesOf(stacks.prod(), role);
            const granted = statements(policy).flatMap((s) => [].concat(s.Action));
            assert.deepEqual(granted.sort(), [
                "logs:CreateLogStream",
                "logs:DescribeLogGroups",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
            ]);
            const describe = statements(policy).find((s) => s.Action === "logs:DescribeLogGroups");
            // DescribeLogGroups has no resource type (Service Authorization Reference): it only works on "*".
            assert.equal(describe.Resource, "*");
            assert.ok(
                statements(policy)
                    .filter((s) => s.Action !== "logs:DescribeLogGroups")
                    .every((s) => [].concat(s.Resource).every((r: string) => r.startsWith(group.state.arn))),
            );
            assert.deepEqual(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Condition, {
                StringEquals: { "aws:SourceAccount": ACCOUNT_ID },
                ArnLike: { "aws:SourceArn": `arn:aws:ec2:eu-west-1:${ACCOUNT_ID}:vpc-flow-log/*` },
            });
        });

        it("chains app -> proxy -> database on 5432 by security-group reference only (the operator relay reaches the proxy the same way)", () => {
            for (const ev of both()) {
                const [app, smoke, proxy, db] = ["app", "smoke", "proxy", "db"].map((n) => sgId(ev, n));
                const relay = ev.named(T.sg, "operator-relay").id;
                const rules = [...ev.ofType(T.ingress), ...ev.ofType(T.egress)];
                const on5432 = rules.filter((r) => r.inputs.fromPort <= 5432 && r.inputs.toPort >= 5432);
                const summary = on5432
                    .map(
                        (r) =>
                            `${r.type.includes("Ingress") ? "in" : "out"} ${r.inputs.securityGroupId}<-${r.inputs.referencedSecurityGroupId}`,
                    )
                    .sort();
                assert.deepEqual(
                    summary,
                    [
                        `in ${db}<-${proxy}`,
                        `in ${proxy}<-${app}`,
                        `in ${proxy}<-${smoke}`,
                        `out ${app}<-${proxy}`,
                        `out ${smoke}<-${proxy}`,
                        `out ${proxy}<-${db}`,
                        `in ${proxy}<-${relay}`,
                        `out ${relay}<-${proxy}`,
                        // dev's T-class writer, which the RDS Data API does not serve: the bootstrap's own group, both ways.
                        ...(ev.stack === "dev" ? [`in ${db}<-${sgId(ev, "bootstrap")}`, `out ${sgId(ev, "bootstrap")}<-${db}`] : []),
                    ].sort(),
                );
                // The smoke function's own group reaches the proxy on 5432 and nothing else; nothing reaches it.
                assert.deepEqual(
                    rules.filter((r) => r.inputs.securityGroupId === smoke).map((r) => r.name),
                    ["network-smoke-to-proxy"],
                );
                for (const r of on5432) {
                    assert.equal(r.inputs.cidrIpv4, undefined, `${r.name} must not use a CIDR`);
                    assert.equal(r.inputs.cidrIpv6, undefined);
                    assert.equal(r.inputs.fromPort, 5432);
                    assert.equal(r.inputs.toPort, 5432);
                }
                // The only rules open to the internet are HTTPS egress (the tasks: images, logs; the relay: the SSM agent; dev's
                // in-VPC bootstrap: Secrets Manager), never the data path.
                const open = rules.filter((r) => r.inputs.cidrIpv4 === "0.0.0.0/0" || r.inputs.cidrIpv6 === "::/0");
                assert.deepEqual(
                    open.map((r) => [r.name, r.inputs.securityGroupId, r.inputs.fromPort]).sort(),
                    [
                        ...(ev.stack === "dev" ? [["network-bootstrap-https", sgId(ev, "bootstrap"), 443]] : []),
                        ["network-app-https", app, 443],
                        ["operator-relay-https", relay, 443],
                    ].sort(),
                );
                assert.equal(
                    ev.ofType(T.ingress).filter((r) => r.inputs.securityGroupId === relay).length,
                    0,
                    "nothing may reach the relay",
                );
                assert.equal(ev.ofType(T.ingress).filter((r) => r.inputs.securityGroupId === app).length, 0, "nothing may reach the tasks");
                assert.equal(
                    ev.ofType(T.egress).filter((r) => r.inputs.securityGroupId === db).length,
                    0,
                    "the database opens nothing outward",
                );
                for (const sg of ev.ofType(T.sg)) {
                    assert.equal(sg.inputs.ingress, undefined, `${sg.name}: inline rules would fight the rule resources`);
                    assert.equal(sg.inputs.vpcId, ev.one(T.vpc).id);
                }
            }
        });

        it("writes only descriptions AWS accepts", () => {
            for (const ev of both()) {
                for (const r of [...ev.ofType(T.sg), ...ev.ofType(T.ingress), ...ev.ofType(T.egress)]) {
                    assert.ok(r.inputs.description, `${r.name} has a description`);
                    assert.equal(descriptionProblem(r.inputs.description), undefined, `${r.name}: ${r.inputs.description}`);
                }
            }
        });
    });

    describe("secrets", () => {
        it("creates one rotating CMK that encrypts storage, the master secret and every log group", () => {
            for (const ev of both()) {
                const key = ev.one(T.key);
                assert.equal(key.inputs.enableKeyRotation, true);
                const arn = key.state.arn;
                const cluster = ev.one(T.cluster);
                assert.equal(cluster.inputs.kmsKeyId, arn);
                assert.equal(cluster.inputs.masterUserSecretKmsKeyId, arn);
                for (const g of ev.ofType(T.logGroup)) assert.equal(g.inputs.kmsKeyId, arn, g.name);
                const policy = JSON.parse(key.inputs.policy);
                const logs = policy.Statement.find((s: any) => s.Principal.Service === "logs.eu-west-1.amazonaws.com");
                assert.equal(
                    logs.Condition.ArnLike["kms:EncryptionContext:aws:logs:arn"],
                    `arn:aws:logs:eu-west-1:${ACCOUNT_ID}:log-group:*`,
                );
            }
        });
    });

    describe("database", () => {
        it("is Aurora PostgreSQL 16 with IAM auth, a managed master secret and CMK-encrypted storage", () => {
            for (const ev of both()) {
                const c = ev.one(T.cluster).inputs;
                assert.equal(c.engine, "aurora-postgresql");
                assert.match(c.engineVersion, /^16\.\d+$/);
                assert.equal(c.iamDatabaseAuthenticationEnabled, true);
                assert.equal(c.manageMasterUserPassword, true);
                assert.equal(c.masterPassword, undefined);
                assert.equal(c.storageEncrypted, true);
                assert.deepEqual(c.enabledCloudwatchLogsExports, ["postgresql"]);
                assert.equal(c.copyTagsToSnapshot, true);
                assert.deepEqual(c.vpcSecurityGroupIds, [sgId(ev, "db")]);
                assert.equal(c.databaseName, "appdb");
                assert.notEqual(c.masterUsername, ev.outputs.dbUser);
            }
        });

        it("runs each stack's instance class: prod Serverless v2 within its range, dev a provisioned db.t4g.medium (the cluster keeps its inert ACU range)", () => {
            assert.deepEqual(stacks.prod().one(T.cluster).inputs.serverlessv2ScalingConfiguration, { minCapacity: 1, maxCapacity: 16 });
            for (const i of stacks.prod().ofType(T.instance)) assert.equal(i.inputs.instanceClass, "db.serverless");
            // Kept on the cluster whatever the class: only db.serverless instances read it, and a release-2 dev cluster
            // (Serverless v2, 0.5-1 ACU) then shows no change when its instance moves to db.t4g.medium.
            assert.deepEqual(stacks.dev().one(T.cluster).inputs.serverlessv2ScalingConfiguration, { minCapacity: 0.5, maxCapacity: 1 });
            for (const i of stacks.dev().ofType(T.instance)) assert.equal(i.inputs.instanceClass, "db.t4g.medium");
        });

        it("forces TLS through its cluster parameter group", () => {
            for (const ev of both()) {
                const group = ev.one(T.paramGroup);
                assert.equal(group.inputs.family, "aurora-postgresql16");
                assert.ok(group.inputs.parameters.some((p: any) => p.name === "rds.force_ssl" && p.value === "1"));
                assert.equal(ev.one(T.cluster).inputs.dbClusterParameterGroupName, group.state.name);
            }
        });

        it("keeps the database in isolated subnets and never publicly accessible", () => {
            for (const ev of both()) {
                const isolated = subnetsOfTier(ev, "isolated")
                    .map((s) => s.id)
                    .sort();
                assert.deepEqual([...ev.one(T.subnetGroup).inputs.subnetIds].sort(), isolated);
                for (const i of ev.ofType(T.instance)) assert.equal(i.inputs.publiclyAccessible, false);
            }
        });

        it("protects prod: deletion protection, final snapshot, 2+ instances in different AZs, Performance Insights", () => {
            const c = stacks.prod().one(T.cluster).inputs;
            assert.equal(c.deletionProtection, true);
            assert.equal(c.skipFinalSnapshot, false);
            // A suffix no earlier cluster of this name used: a second destroy never meets DBClusterSnapshotAlreadyExists.
            assert.match(c.finalSnapshotIdentifier, /^orders-prod-aurora-final-[0-9a-f]{8}$/);
            const suffix = stacks.prod().one("random:index/randomId:RandomId");
            assert.deepEqual(Object.keys(suffix.inputs.keepers).sort(), [
                "clusterIdentifier",
                "databaseName",
                "kmsKeyId",
                "masterUsername",
            ]);
            assert.equal(stacks.prod().one(T.cluster).options.protect, true, "Pulumi refuses to delete or replace the prod cluster");
            assert.equal(stacks.dev().one(T.cluster).options.protect, false);
            assert.ok(c.backupRetentionPeriod >= 7);
            const instances = stacks.prod().ofType(T.instance);
            assert.ok(instances.length >= 2);
            assert.equal(new Set(instances.map((i) => i.inputs.availabilityZone)).size, instances.length);
            const monitoringRole = stacks.prod().named(T.role, "database-monitoring");
            for (const i of instances) {
                assert.equal(i.inputs.performanceInsightsEnabled, true);
                assert.equal(i.inputs.performanceInsightsKmsKeyId, stacks.prod().one(T.key).state.arn);
                assert.equal(i.inputs.monitoringInterval, 60);
                assert.equal(i.inputs.monitoringRoleArn, monitoringRole.state.arn);
            }
            assert.equal(JSON.parse(monitoringRole.inputs.assumeRolePolicy).Statement[0].Principal.Service, "monitoring.rds.amazonaws.com");
            assert.deepEqual(attachedPolicyArnsOf(stacks.prod(), monitoringRole), [
                "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
            ]);
        });

        it("lets dev be torn down: no deletion protection, no final snapshot, 1-day backups", () => {
            const c = stacks.dev().one(T.cluster).inputs;
            assert.equal(c.deletionProtection, false);
            assert.equal(c.skipFinalSnapshot, true);
            assert.ok(c.backupRetentionPeriod >= 1);
            assert.equal(stacks.dev().ofType(T.instance).length, 1);
            assert.equal(stacks.dev().one(T.instance).inputs.monitoringInterval, 0);
            assert.equal(
                stacks
                    .dev()
                    .ofType(T.role)
                    .filter((r) => r.name === "database-monitoring").length,
                0,
            );
        });

        it("resolves the engine version at deploy time: the first preferred one AWS still offers, else the newest of the major", async () => {
            // The mocks offer 16.4, 16.6, 16.8 and 16.9 (16.1 is retired), as DescribeDBEngineVersions would.
            assert.equal(stacks.dev().outputs.engineVersion, "16.9", "dev asks for a major: the newest 16.x");
            assert.equal(stacks.dev().one(T.cluster).inputs.engineVersion, "16.9");
            assert.equal(stacks.prod().outputs.engineVersion, "16.8", "prod prefers 16.8 while it is offered");
            const retired = await evaluateStack("prod", { "database.preferredEngineVersions": ["16.1"] });
            assert.equal(
                retired.outputs.engineVersion,
                "16.9",
                "a retired preference falls back to the newest, instead of failing CreateDBCluster",
            );
            const pinnedOld = await evaluateStack("dev", { "database.engineVersion": "16.6" });
            assert.equal(pinnedOld.outputs.engineVersion, "16.6", "MAJOR.MINOR is a preference kept while offered");
            for (const ev of both()) {
                assert.deepEqual(ev.one(T.cluster).options.ignoreChanges, ["engineVersion"], "an existing cluster keeps its own version");
                assert.equal(ev.one(T.paramGroup).inputs.family, "aurora-postgresql16");
                // description is ForceNew: a changed one would replace the group and need a reboot to take effect.
                assert.equal(ev.one(T.paramGroup).inputs.description, `${ev.settings.namePrefix}: TLS forced, connections logged`);
            }
        });

        it("logs every role and grant change (log_statement = ddl), applied without a reboot", () => {
            for (const ev of both()) {
                const params = ev.one(T.paramGroup).inputs.parameters;
                assert.deepEqual(
                    params.find((p: any) => p.name === "log_statement"),
                    { name: "log_statement", value: "ddl", applyMethod: "immediate" },
                );
                assert.deepEqual(ev.one(T.cluster).inputs.enabledCloudwatchLogsExports, ["postgresql"]);
            }
        });

        it("lets the first reader take over at the writer's size (tier 1) and further readers scale on their own (tier 2)", async () => {
            const tiers = (ev: Evaluation) =>
                ev
                    .ofType(T.instance)
                    .sort((a, b) => a.inputs.identifier.localeCompare(b.inputs.identifier))
                    .map((i) => i.inputs.promotionTier);
            assert.deepEqual(tiers(stacks.prod()), [0, 1]);
            const four = await evaluateStack("prod", { "database.instanceCount": 4 });
            assert.deepEqual(tiers(four), [0, 1, 2, 2]);
            // The first instance Aurora gets becomes the writer: instances 2..n are created only after instance 1.
            const byName = (ev: Evaluation) => ev.ofType(T.instance).sort((a, b) => a.inputs.identifier.localeCompare(b.inputs.identifier));
            for (const ev of [stacks.prod(), four]) {
                const [first, ...rest] = byName(ev);
                assert.equal(first.inputs.promotionTier, 0);
                assert.ok(!ev.ofType(T.instance).some((i) => first.dependencies.includes(i.urn)), "instance 1 waits for no other instance");
                for (const i of rest)
                    assert.ok(i.dependencies.includes(first.urn), `${ev.stack}: ${i.inputs.identifier} does not wait for instance 1`);
            }
        });

        it("makes replacements safe: fixed names are deleted before they are re-created, and prod's cluster is protected", () => {
            for (const ev of both()) {
                const fixedNames = [
                    ev.one(T.cluster),
                    ...ev.ofType(T.instance),
                    ev.one(T.proxy),
                    ...ev.ofType(T.logGroup),
                    ...ev.ofType("aws:lambda/function:Function"),
                    ...ev.ofType("aws:rds/proxyEndpoint:ProxyEndpoint"),
                ];
                for (const r of fixedNames) assert.equal(r.options.deleteBeforeReplace, true, `${ev.stack}: ${r.type} ${r.name}`);
            }
        });

        it("creates the PostgreSQL log group itself, with retention, before RDS would", () => {
            for (const ev of both()) {
                const cluster = ev.one(T.cluster);
                const group = ev
                    .ofType(T.logGroup)
                    .find((g) => g.inputs.name === `/aws/rds/cluster/${cluster.inputs.clusterIdentifier}/postgresql`)!;
                assert.ok(group);
                assert.ok(cluster.dependencies.includes(group.urn));
                assert.ok(group.inputs.retentionInDays > 0);
            }
        });
    });

    describe("proxy", () => {
        it("requires TLS and IAM from every client, end-to-end IAM behind it by default", () => {
            for (const ev of both()) {
                const p = ev.one(T.proxy).inputs;
                assert.equal(p.engineFamily, "POSTGRESQL");
                assert.equal(p.requireTls, true);
                assert.equal(p.defaultAuthScheme, "IAM_AUTH");
                assert.deepEqual(p.auths ?? [], []);
                assert.equal(p.debugLogging, false);
                assert.deepEqual(
                    [...p.vpcSubnetIds].sort(),
                    subnetsOfTier(ev, "isolated")
                        .map((s) => s.id)
                        .sort(),
                );
                assert.deepEqual(p.vpcSecurityGroupIds, [sgId(ev, "proxy")]);
            }
        });

        it("lets its role connect to this cluster as each declared user, and nothing else", () => {
            for (const ev of both()) {
                const role = named(ev, T.role, "proxy-role");
                assert.equal(ev.one(T.proxy).inputs.roleArn, role.state.arn);
                assert.equal(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Principal.Service, "rds.amazonaws.com");
                const [policy] = inlinePoliciesOf(ev, role);
                const resourceId = ev.one(T.cluster).state.clusterResourceId;
                assert.deepEqual(
                    statements(policy).map((s) => [s.Action, s.Resource]),
                    [
                        [
                            "rds-db:connect",
                            ["app_user", "app_reader", "app_migrator"].map(
                                (u) => `arn:aws:rds-db:eu-west-1:${ACCOUNT_ID}:dbuser:${resourceId}/${u}`,
                            ),
                        ],
                    ],
                );
            }
        });

        it("targets this stack's cluster with the stack's pool settings", () => {
            for (const ev of both()) {
                const proxy = ev.one(T.proxy);
                const target = ev.one(T.target).inputs;
                assert.equal(target.dbClusterIdentifier, ev.one(T.cluster).id);
                assert.equal(target.dbProxyName, proxy.id);
                const group = ev.one(T.targetGroup);
                assert.equal(group.inputs.dbProxyName, proxy.id);
                assert.equal(target.targetGroupName, group.state.name);
                assert.deepEqual(group.inputs.connectionPoolConfig, {
                    maxConnectionsPercent: 90,
                    maxIdleConnectionsPercent: 50,
                    connectionBorrowTimeout: 120,
                });
                assert.equal(proxy.inputs.idleClientTimeout, 1800);
                // The target registers only once every instance exists.
                for (const i of ev.ofType(T.instance)) assert.ok(ev.one(T.target).dependencies.includes(i.urn));
            }
        });

        it("in secrets mode reads one CMK-encrypted secret per user, says NONE explicitly, and still requires IAM from clients", async () => {
            const ev = await evaluateStack("dev", { "proxy.authMode": "secrets" });
            const p = ev.one(T.proxy).inputs;
            const users = ["app_user", "app_reader", "app_migrator"];
            const secrets = users.map((u) => ev.named(T.secret, `secrets-proxy-user-${u}`));
            // default_auth_scheme is Optional+Computed: left out, a proxy switched from iam would keep IAM_AUTH.
            assert.equal(p.defaultAuthScheme, "NONE");
            assert.deepEqual(
                p.auths,
                users.map((u, i) => ({
                    authScheme: "SECRETS",
                    iamAuth: "REQUIRED",
                    secretArn: secrets[i].state.arn,
                    clientPasswordAuthType: "POSTGRES_SCRAM_SHA_256",
                    description: `IAM-authenticated clients log in as ${u}`,
                })),
            );
            for (const secret of secrets) assert.equal(secret.inputs.kmsKeyId, ev.one(T.key).state.arn);
            const [policy] = inlinePoliciesOf(ev, named(ev, T.role, "proxy-role"));
            assert.deepEqual(statements(policy), [
                {
                    Sid: "ReadUserSecrets",
                    Effect: "Allow",
                    Action: "secretsmanager:GetSecretValue",
                    Resource: secrets.map((x) => x.state.arn),
                },
                {
                    Sid: "DecryptThroughSecretsManagerOnly",
                    Effect: "Allow",
                    Action: "kms:Decrypt",
                    Resource: ev.one(T.key).state.arn,
                    Condition: { StringEquals: { "kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com" } },
                },
            ]);
            assert.equal(ev.outputs.proxyAuthMode, "secrets");
            // The generated passwords never reach an output.
            for (const pw of ev.ofType("random:index/randomPassword:RandomPassword"))
                assert.ok(!JSON.stringify(ev.outputs).includes(pw.state.result));
        });

        it("in secrets mode only, reaches Secrets Manager from the isolated subnets through an interface endpoint that admits the proxy (and dev's in-VPC bootstrap) on 443", async () => {
            for (const ev of both())
                assert.equal(ev.ofType("aws:ec2/vpcEndpoint:VpcEndpoint").length, 0, `${ev.stack}: no endpoint in iam mode`);
            const ev = await evaluateStack("dev", { "proxy.authMode": "secrets" });
            const endpoint = ev.one("aws:ec2/vpcEndpoint:VpcEndpoint");
            assert.equal(endpoint.inputs.serviceName, "com.amazonaws.eu-west-1.secretsmanager");
            assert.equal(endpoint.inputs.vpcEndpointType, "Interface");
            assert.equal(endpoint.inputs.privateDnsEnabled, true);
            assert.deepEqual(
                [...endpoint.inputs.subnetIds].sort(),
                subnetsOfTier(ev, "isolated")
                    .map((s) => s.id)
                    .sort(),
            );
            const endpointSg = sgId(ev, "secretsmanager-endpoint");
            assert.deepEqual(endpoint.inputs.securityGroupIds, [endpointSg]);
            const into = ev.ofType(T.ingress).filter((r) => r.inputs.securityGroupId === endpointSg);
            assert.deepEqual(
                into.map((r) => [r.inputs.fromPort, r.inputs.toPort, r.inputs.referencedSecurityGroupId]),
                [
                    [443, 443, sgId(ev, "proxy")],
                    [443, 443, sgId(ev, "bootstrap")],
                ],
            );
            const out = ev.ofType(T.egress).filter((r) => r.inputs.securityGroupId === sgId(ev, "proxy") && r.inputs.fromPort === 443);
            assert.deepEqual(
                out.map((r) => r.inputs.referencedSecurityGroupId),
                [endpointSg],
            );
            assert.ok(ev.one(T.proxy).dependencies.includes(endpoint.urn), "the proxy switches to secrets only once it can reach them");
            // Private DNS sends every Secrets Manager call in the VPC to this endpoint, yet only the proxy and the
            // in-VPC bootstrap (dev's T-class writer, which the Data API does not serve) are admitted: nothing else in
            // the VPC calls Secrets Manager (docs/alarms.md, "Secrets mode"). Whoever may read a secret is the proxy, a
            // function outside the VPC, or that bootstrap, and no task pulls a secret into its environment.
            const readers = ev
                .ofType(T.role)
                .filter((role) =>
                    inlineStatementsOf(ev, role).some((st: any) => [st.Action].flat().some((a: string) => /^secretsmanager:/i.test(a))),
                );
            assert.ok(readers.length >= 2);
            for (const role of readers) {
                if (role.name === "proxy-role") continue;
                const fns = ev.ofType("aws:lambda/function:Function").filter((f) => f.inputs.role === role.state.arn);
                const groups: string[] = fns[0]?.inputs.vpcConfig?.securityGroupIds ?? [];
                assert.ok(
                    fns.length === 1 &&
                        (fns[0].inputs.vpcConfig === undefined ||
                            (fns[0].name === "smoke-bootstrap" && groups.every((g) => g === sgId(ev, "bootstrap")))),
                    `${role.name} reads secrets but is neither a function outside the VPC nor the in-VPC bootstrap`,
                );
            }
            for (const td of ev.ofType("aws:ecs/taskDefinition:TaskDefinition")) {
                for (const c of JSON.parse(td.inputs.containerDefinitions))
                    assert.equal(c.secrets, undefined, "no task pulls a secret at start");
            }
            assert.deepEqual(
                ev
                    .ofType(T.egress)
                    .filter((r) => r.inputs.referencedSecurityGroupId === endpointSg)
                    .map((r) => r.inputs.securityGroupId)
                    .sort(),
                [sgId(ev, "proxy"), sgId(ev, "bootstrap")].sort(),
            );
            // With the endpoint there, the bootstrap reaches Secrets Manager through it, and nowhere else over HTTPS.
            assert.deepEqual(
                ev
                    .ofType(T.egress)
                    .filter((r) => r.inputs.securityGroupId === sgId(ev, "bootstrap") && r.inputs.fromPort === 443)
                    .map((r) => r.inputs.referencedSecurityGroupId ?? r.inputs.cidrIpv4),
                [endpointSg],
            );
            assert.ok(
                ev
                    .named("aws:lambda/invocation:Invocation", "smoke-bootstrap")
                    .dependencies.includes(ev.named(T.ingress, "network-secretsmanager-from-bootstrap").urn),
            );
        });

        it("writes its logs to /aws/rds/proxy/<name>, a group the stack declares first with retention and its key", () => {
            for (const ev of both()) {
                const proxy = ev.one(T.proxy);
                const group = ev.ofType(T.logGroup).find((g) => g.inputs.name === `/aws/rds/proxy/${proxy.inputs.name}`);
                assert.ok(group, `${ev.stack}: no log group for the proxy`);
                assert.equal(group!.inputs.retentionInDays, ev.settings.database.logRetentionDays);
                assert.equal(group!.inputs.kmsKeyId, ev.one(T.key).state.arn);
                assert.ok(proxy.dependencies.includes(group!.urn));
            }
        });

        it("gives prod's readers a READ_ONLY endpoint in the proxy's subnets and group; dev has none", () => {
            const endpoint = stacks.prod().one("aws:rds/proxyEndpoint:ProxyEndpoint");
            const proxy = stacks.prod().one(T.proxy);
            assert.equal(endpoint.inputs.targetRole, "READ_ONLY");
            assert.equal(endpoint.inputs.dbProxyName, proxy.id);
            assert.deepEqual(endpoint.inputs.vpcSubnetIds, proxy.inputs.vpcSubnetIds);
            assert.deepEqual(endpoint.inputs.vpcSecurityGroupIds, [sgId(stacks.prod(), "proxy")]);
            assert.equal(stacks.prod().outputs.proxyReaderEndpoint, endpoint.state.endpoint);
            assert.equal(stacks.dev().ofType("aws:rds/proxyEndpoint:ProxyEndpoint").length, 0);
            assert.equal(stacks.dev().outputs.proxyReaderEndpoint, undefined);
        });
    });

    describe("ecs", () => {
        it("runs a Fargate task in awsvpc mode with a read-only root, unprivileged, logging to a CMK log group", () => {
            for (const ev of both()) {
                const td = ev.one(T.taskDef).inputs;
                assert.equal(td.networkMode, "awsvpc");
                assert.deepEqual(td.requiresCompatibilities, ["FARGATE"]);
                assert.equal(td.cpu, String(ev.settings.app.cpu));
                assert.equal(td.memory, String(ev.settings.app.memory));
                const [c] = containers(ev);
                assert.equal(c.image, ev.settings.app.image);
                assert.deepEqual(c.command, ev.settings.app.command);
                assert.ok(c.command.length > 0, "the stack files keep the placeholder running");
                assert.equal(c.readonlyRootFilesystem, true);
                assert.equal(c.privileged, false);
                assert.equal(c.logConfiguration.logDriver, "awslogs");
                const group = ev.ofType(T.logGroup).find((g) => g.inputs.name === c.logConfiguration.options["awslogs-group"])!;
                assert.equal(group.inputs.kmsKeyId, ev.one(T.key).state.arn);
                assert.equal(group.inputs.retentionInDays, ev.settings.app.logRetentionDays);
            }
        });

        it("tells the app where to connect and as whom, never a password", () => {
            for (const ev of both()) {
                const env = Object.fromEntries(containers(ev)[0].environment.map((e: any) => [e.name, e.value]));
                const reader = ev.ofType("aws:rds/proxyEndpoint:ProxyEndpoint")[0]?.state.endpoint ?? ev.one(T.proxy).state.endpoint;
                assert.deepEqual(env, {
                    DB_HOST: ev.one(T.proxy).state.endpoint,
                    DB_PORT: "5432",
                    DB_NAME: "appdb",
                    DB_USER: "app_user",
                    DB_IAM_AUTH: "true",
                    AWS_REGION: "eu-west-1",
                    DB_READONLY_USER: "app_reader",
                    DB_READER_HOST: reader,
                    DB_CONNECT_AS: "app_user,app_reader",
                    // The port app/ listens on, for the health check; the placeholder serves nothing and gets none.
                    ...(ev.settings.app.placeholder ? {} : { PORT: "8080" }),
                });
                assert.equal(containers(ev)[0].secrets, undefined);
            }
        });

        it("gives the task role only rds-db:connect, on this proxy's resource id, for its users (never the ddl user)", () => {
            for (const ev of both()) {
                const role = named(ev, T.role, "ecs-task");
                assert.equal(ev.one(T.taskDef).inputs.taskRoleArn, role.state.arn);
                const policies = inlinePoliciesOf(ev, role);
                assert.equal(policies.length, 1);
                assert.equal(attachedPolicyArnsOf(ev, role).length, 0);
                const { resourceId } = parseProxyArn(ev.one(T.proxy).state.arn);
                assert.match(resourceId, /^prx-[0-9a-f]+$/);
                assert.deepEqual(
                    statements(policies[0]).map((s) => [s.Effect, s.Action, s.Resource]),
                    [
                        [
                            "Allow",
                            "rds-db:connect",
                            ["app_user", "app_reader"].map((u) => `arn:aws:rds-db:eu-west-1:${ACCOUNT_ID}:dbuser:${resourceId}/${u}`),
                        ],
                    ],
                );
                assert.equal(ev.outputs.appConnectArn, `arn:aws:rds-db:eu-west-1:${ACCOUNT_ID}:dbuser:${resourceId}/app_user`);
            }
        });

        it("keeps the execution role free of any database permission", () => {
            for (const ev of both()) {
                const role = named(ev, T.role, "ecs-execution");
                assert.equal(ev.one(T.taskDef).inputs.executionRoleArn, role.state.arn);
                assert.equal(inlinePoliciesOf(ev, role).length, 0);
                const attached = attachedPolicyArnsOf(ev, role);
                assert.deepEqual(attached, ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]);
            }
        });

        it("runs the service in private subnets with the app security group and no public IP", () => {
            for (const ev of both()) {
                const svc = ev.one(T.service).inputs;
                assert.equal(svc.networkConfiguration.assignPublicIp, false);
                assert.deepEqual(svc.networkConfiguration.securityGroups, [sgId(ev, "app")]);
                assert.deepEqual(
                    [...svc.networkConfiguration.subnets].sort(),
                    subnetsOfTier(ev, "private")
                        .map((s) => s.id)
                        .sort(),
                );
                assert.equal(svc.desiredCount, ev.settings.app.desiredCount);
                assert.equal(svc.launchType, "FARGATE");
                assert.equal(svc.waitForSteadyState, true, "an update that leaves tasks crash-looping must fail");
                assert.ok(ev.one(T.service).dependencies.includes(ev.one(T.target).urn), "starts after the proxy has its target");
                const bootstrap = ev.named("aws:lambda/invocation:Invocation", "smoke-bootstrap");
                assert.ok(ev.one(T.service).dependencies.includes(bootstrap.urn), "the first task's database user exists already");
            }
            assert.equal(stacks.dev().one(T.service).inputs.desiredCount, 1);
            assert.equal(stacks.prod().one(T.service).inputs.desiredCount, 2);
            const insights = stacks.dev().one(T.ecsCluster).inputs.settings;
            assert.deepEqual(insights, [{ name: "containerInsights", value: "enabled" }]);
        });

        it("writable root only when a setting says so", async () => {
            const ev = await evaluateStack("dev", { "app.readonlyRootFilesystem": false });
            assert.equal(containers(ev)[0].readonlyRootFilesystem, false);
        });
    });

    describe("tags", () => {
        it("puts Environment, Application, Owner and CostCenter on everything through the provider's default tags", () => {
            for (const ev of both()) {
                const provider = ev.one(T.provider);
                const tags = JSON.parse(provider.inputs.defaultTags).tags;
                assert.deepEqual(tags, { Environment: ev.stack, Application: "orders", Owner: "platform-team", CostCenter: "1234" });
                assert.equal(provider.inputs.region, "eu-west-1");
                for (const r of ev.resources.filter((x) => x.type.startsWith("aws:"))) {
                    assert.ok(r.provider?.startsWith(`${provider.urn}::`), `${r.type} ${r.name} uses the tagging provider`);
                }
            }
        });
    });

    describe("outputs", () => {
        it("exports what the smoke runner and operators need", () => {
            for (const ev of both()) {
                const o = ev.outputs;
                assert.equal(o.proxyEndpoint, ev.one(T.proxy).state.endpoint);
                assert.equal(o.proxyPort, 5432);
                assert.equal(o.proxyArn, ev.one(T.proxy).state.arn);
                assert.equal(o.proxyResourceId, parseProxyArn(o.proxyArn).resourceId);
                assert.equal(o.proxyAuthMode, "iam");
                assert.deepEqual([o.dbName, o.dbUser, o.region], ["appdb", "app_user", "eu-west-1"]);
                assert.equal(o.clusterArn, ev.one(T.cluster).state.arn);
                assert.equal(o.clusterEndpoint, ev.one(T.cluster).state.endpoint);
                assert.equal(o.clusterReaderEndpoint, ev.one(T.cluster).state.readerEndpoint);
                assert.equal(o.vpcId, ev.one(T.vpc).id);
                assert.deepEqual(
                    o.privateSubnetIds,
                    subnetsOfTier(ev, "private").map((s) => s.id),
                );
                assert.deepEqual(
                    [o.appSecurityGroupId, o.smokeSecurityGroupId, o.proxySecurityGroupId, o.dbSecurityGroupId],
                    ["app", "smoke", "proxy", "db"].map((n) => sgId(ev, n)),
                );
                assert.deepEqual(o.dbUsers, ev.settings.access.users);
                assert.match(o.engineVersion, /^16\.\d+$/);
                assert.deepEqual(Object.keys(o.connectArns), ["app_user", "app_reader", "app_migrator"]);
                assert.equal(o.taskRoleArn, named(ev, T.role, "ecs-task").state.arn);
                assert.equal(o.ecsClusterName, ev.one(T.ecsCluster).state.name);
                assert.equal(o.ecsServiceName, ev.one(T.service).state.name);
            }
        });

        it("exports no secret: no password, token or master secret value", () => {
            for (const ev of both()) {
                const text = JSON.stringify(ev.outputs);
                assert.doesNotMatch(text, /password|X-Amz-Signature|secretString/i);
                assert.ok(!Object.keys(ev.outputs).some((k) => /secret|password|token/i.test(k)), Object.keys(ev.outputs).join(","));
            }
        });
    });
});
