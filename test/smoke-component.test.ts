// The post-deploy bootstrap and smoke, as the program declares them for both stacks, under mocks.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { bundle, HANDLERS, HandlerName, zippedBytes } from "../smoke/lambda/bundle";
import { smokeMetricsEnv } from "../smoke/metrics";
import * as pulumi from "@pulumi/pulumi";
import { parseSettings, Settings } from "../components/config";
import {
    ACCOUNT_ID,
    attachedPolicyArnsOf,
    bothStacksAsDeclared,
    evaluate,
    evaluateStack,
    stackAsDeclared,
    inlineStatementsOf,
    MockResource,
    stackConfig,
    StackEvaluation as Ev,
    withOverrides,
} from "./harness";
import { bootstrapPathFor, dataApiProblem } from "../components/bootstrap-path";
import { mandatory, runPolicies } from "../policy/run";

const FN = "aws:lambda/function:Function";
const INVOKE = "aws:lambda/invocation:Invocation";
const ROLE = "aws:iam/role:Role";

const named = (ev: Ev, type: string, name: string) => ev.named(type, name);

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270";

/** Each Invocation's `input` exactly as registered with the engine (secrets still wrapped). */
async function rawInvocationInputs(stack: "dev" | "prod", overrides: Record<string, unknown>): Promise<Record<string, any>> {
    const { createStack } = await import("../components/stack");
    const settings = parseSettings(stack, withOverrides(stackConfig(stack), overrides));
    const raw: Record<string, any> = {};
    await evaluate(
        stack,
        () => {
            const monitor = (pulumi.runtime as any).getMonitor();
            const register = monitor.registerResource.bind(monitor);
            monitor.registerResource = (req: any, callback: (err: any, res: any) => void) => {
                if (req.getType() === INVOKE) raw[req.getName()] = (req.getObject().toJavaScript() as Record<string, any>).input;
                return register(req, callback);
            };
            return createStack(settings);
        },
        { region: settings.region },
    );
    return raw;
}

describe("post-deploy bootstrap and smoke", function () {
    this.timeout(60000);
    const stacks = bothStacksAsDeclared();
    const both = stacks.both;

    it("runs the smoke function in the private subnets with a security group of its own", () => {
        for (const ev of both()) {
            const fn = named(ev, FN, "smoke-smoke");
            assert.deepEqual([...fn.inputs.vpcConfig.subnetIds].sort(), [...ev.outputs.privateSubnetIds].sort());
            assert.deepEqual(fn.inputs.vpcConfig.securityGroupIds, [ev.outputs.smokeSecurityGroupId]);
            assert.notEqual(ev.outputs.smokeSecurityGroupId, ev.outputs.appSecurityGroupId);
            assert.equal(fn.inputs.handler, "index.handler");
            assert.match(fn.inputs.runtime, /^nodejs2\d\.x$/);
            // Lambda's default of 3 s would cut the smoke off; the runner's own deadline stays inside the function's.
            assert.equal(fn.inputs.timeout, ev.settings.smoke.timeoutSeconds);
            assert.ok(Number(fn.inputs.environment.variables.SMOKE_TIMEOUT_MS) < fn.inputs.timeout * 1000);
            assert.deepEqual(fn.inputs.environment.variables, {
                DB_HOST: ev.outputs.proxyEndpoint,
                DB_PORT: "5432",
                DB_NAME: "appdb",
                DB_USER: "app_user",
                DB_USERS: JSON.stringify(ev.settings.access.users),
                ...(ev.outputs.proxyReaderEndpoint ? { DB_READER_HOST: ev.outputs.proxyReaderEndpoint } : {}),
                DB_OWNER: "dbadmin",
                DB_AUTH_MODE: "iam",
                SMOKE_TIMEOUT_MS: "295000",
                STACK_NAME: ev.stack,
                // What it may publish as custom metrics: the handler honours it, the cost tool prices it.
                SMOKE_METRICS: smokeMetricsEnv(),
            });
        }
    });

    it("lets the smoke role (alone) connect as every declared user through this proxy, attach to the VPC and write its own logs, nothing more", () => {
        for (const ev of both()) {
            const role = ev.ofType(ROLE).find((r) => r.state.arn === named(ev, FN, "smoke-smoke").inputs.role)!;
            const statements = inlineStatementsOf(ev, role);
            const database = statements.filter((s: any) => [].concat(s.Action).some((a: string) => a.startsWith("rds")));
            assert.deepEqual(
                database.map((s: any) => [s.Action, s.Resource]),
                [
                    [
                        "rds-db:connect",
                        ev.settings.access.users.map(
                            (u) => `arn:aws:rds-db:eu-west-1:${ACCOUNT_ID}:dbuser:${ev.outputs.proxyResourceId}/${u.name}`,
                        ),
                    ],
                ],
            );
            // Only the smoke role may connect as the ddl user: the task role holds its own users only.
            const task = JSON.stringify(inlineStatementsOf(ev, named(ev, ROLE, "ecs-task")));
            assert.ok(!task.includes("/app_migrator"), task);
            const bySid = Object.fromEntries(statements.map((s: any) => [s.Sid, s]));
            assert.deepEqual(Object.keys(bySid).sort(), ["AttachToVpc", "ConnectAsApplicationUser", "WriteOwnLogs"]);
            assert.ok(
                bySid.AttachToVpc.Action.every((a: string) => /^ec2:[A-Za-z]*(NetworkInterface|Subnets|PrivateIpAddresses)/.test(a)),
                bySid.AttachToVpc.Action.join(),
            );
            const logGroup = ev.named("aws:cloudwatch/logGroup:LogGroup", "smoke-smoke-logs");
            assert.equal(bySid.WriteOwnLogs.Resource, `${logGroup.state.arn}:*`);
            assert.deepEqual(
                attachedPolicyArnsOf(ev, role),
                [],
                "no managed policy: AWSLambdaVPCAccessExecutionRole would allow every log group",
            );
        }
    });

    it("takes the Data API where it serves the cluster, and the VPC on a T-class writer or an older version (the settings say which)", () => {
        assert.deepEqual(
            [stacks.dev().settings.database.bootstrapPath, stacks.prod().settings.database.bootstrapPath],
            ["vpc", "data-api"],
        );
        assert.equal(stacks.dev().settings.database.instanceClass, "db.t4g.medium");
        const cases: Array<[string, string, string | undefined]> = [
            ["db.serverless", "16", undefined],
            ["db.r6g.large", "13.11", undefined],
            ["db.r7g.large", "17.4", undefined],
            ["db.t4g.medium", "16.8", "db.t4g.medium is a T class, which the RDS Data API does not serve"],
            ["db.t3.medium", "16", "db.t3.medium is a T class, which the RDS Data API does not serve"],
            ["db.serverless", "13.9", "Aurora PostgreSQL 13.9 is older than 13.11, the first 13.x with the RDS Data API"],
            ["db.r6g.large", "14.6", "Aurora PostgreSQL 14.6 is older than 14.8, the first 14.x with the RDS Data API"],
            ["db.serverless", "12.22", "Aurora PostgreSQL 12.22 has no RDS Data API (it starts at 13.11)"],
        ];
        for (const [instanceClass, engineVersion, problem] of cases) {
            assert.equal(dataApiProblem({ instanceClass, engineVersion }), problem, `${instanceClass} ${engineVersion}`);
            assert.equal(bootstrapPathFor({ existingCluster: false, instanceClass, engineVersion }), problem ? "vpc" : "data-api");
        }
        assert.equal(bootstrapPathFor({ existingCluster: true, instanceClass: "db.serverless", engineVersion: "16" }), "vpc");
    });

    it("on a T-class writer (dev), runs the bootstrap in the VPC with a group of its own: to the database on 5432, HTTPS out, one rule on the database group", () => {
        const ev = stacks.dev();
        const fn = named(ev, FN, "smoke-bootstrap");
        const cluster = ev.one("aws:rds/cluster:Cluster");
        const group = named(ev, "aws:ec2/securityGroup:SecurityGroup", "network-bootstrap");
        const db = ev.outputs.dbSecurityGroupId;
        assert.equal(cluster.inputs.enableHttpEndpoint, false, "the Data API stays off: it cannot serve a T-class writer");
        assert.deepEqual(fn.inputs.vpcConfig, { subnetIds: ev.outputs.privateSubnetIds, securityGroupIds: [group.id] });
        const env = fn.inputs.environment.variables;
        assert.deepEqual(Object.keys(env).sort(), [
            "DB_AUTH_MODE",
            "DB_BOOTSTRAP_PATH",
            "DB_HOST",
            "DB_NAME",
            "DB_OWNER",
            "DB_PORT",
            "DB_SECRET_ARN",
            "DB_USER",
            "DB_USERS",
        ]);
        assert.deepEqual(
            [env.DB_BOOTSTRAP_PATH, env.DB_HOST, env.DB_PORT, env.DB_SECRET_ARN],
            ["vpc", cluster.state.endpoint, "5432", cluster.state.masterUserSecrets[0].secretArn],
        );
        const rules = [
            ...ev.ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"),
            ...ev.ofType("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"),
        ];
        const text = (r: (typeof rules)[number]) =>
            `${r.type.includes("Ingress") ? "in" : "out"} ${r.inputs.fromPort} ${r.inputs.referencedSecurityGroupId ?? r.inputs.cidrIpv4}`;
        assert.deepEqual(
            rules
                .filter((r) => r.inputs.securityGroupId === group.id)
                .map(text)
                .sort(),
            [`out 443 0.0.0.0/0`, `out 5432 ${db}`],
        );
        assert.deepEqual(
            rules
                .filter((r) => r.inputs.securityGroupId === db)
                .map(text)
                .sort(),
            [`in 5432 ${group.id}`, `in 5432 ${ev.outputs.proxySecurityGroupId}`].sort(),
        );
        const path = rules.filter((r) => r.inputs.securityGroupId === group.id || r.inputs.referencedSecurityGroupId === group.id);
        for (const rule of path)
            assert.ok(named(ev, INVOKE, "smoke-bootstrap").dependencies.includes(rule.urn), `the bootstrap waits for ${rule.name}`);
        const role = ev.ofType(ROLE).find((r) => r.state.arn === fn.inputs.role)!;
        const statements = inlineStatementsOf(ev, role);
        assert.deepEqual(
            statements.map((st: any) => st.Sid),
            ["AttachToVpc", "ReadMasterSecret", "DecryptThroughSecretsManagerOnly", "WriteOwnLogs"],
        );
        assert.equal(
            statements[2].Resource,
            cluster.inputs.masterUserSecretKmsKeyId,
            "the key of the master secret, through Secrets Manager only",
        );
        assert.ok(!JSON.stringify(statements).includes("rds-data:"), "no Data API grant on a cluster that cannot serve it");
        // The pack admits that group to the database only while nothing else is in it.
        const shared: MockResource[] = JSON.parse(JSON.stringify(ev.resources));
        for (const side of ["inputs", "state"] as const)
            shared.find((r) => r.type === FN && r.name === "smoke-smoke")![side].vpcConfig.securityGroupIds.push(group.id);
        const refusals = (resources: MockResource[]) =>
            mandatory(runPolicies(resources, { environment: "dev" })).filter((v) => v.policyName === "db-sg-admits-only-proxy");
        assert.deepEqual(refusals(ev.resources), []);
        assert.match(
            refusals(shared)
                .map((v) => v.message)
                .join("\n"),
            /network-db-from-bootstrap.*admits .*"network-bootstrap" on 5432, which is not the proxy's group/,
        );
    });

    it("lets the bootstrap read only the master secret and run SQL only on this cluster, outside the VPC, where the Data API serves the cluster (prod)", () => {
        for (const ev of [stacks.prod()]) {
            const fn = named(ev, FN, "smoke-bootstrap");
            assert.equal(fn.inputs.vpcConfig, undefined, "the Data API needs no network path into the database");
            const role = ev.ofType(ROLE).find((r) => r.state.arn === fn.inputs.role)!;
            const cluster = ev.one("aws:rds/cluster:Cluster");
            const statements = inlineStatementsOf(ev, role);
            const bySid = Object.fromEntries(statements.map((s: any) => [s.Sid, s]));
            assert.deepEqual(Object.keys(bySid).sort(), [
                "DecryptThroughSecretsManagerOnly",
                "ReadMasterSecret",
                "RunSqlOnThisCluster",
                "WriteOwnLogs",
            ]);
            assert.equal(bySid.RunSqlOnThisCluster.Resource, cluster.state.arn);
            assert.ok(bySid.RunSqlOnThisCluster.Action.every((a: string) => a.startsWith("rds-data:")));
            assert.equal(bySid.ReadMasterSecret.Resource, cluster.state.masterUserSecrets[0].secretArn);
            assert.equal(bySid.ReadMasterSecret.Action, "secretsmanager:GetSecretValue");
            assert.deepEqual(bySid.DecryptThroughSecretsManagerOnly.Condition, {
                StringEquals: { "kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com" },
            });
            assert.ok(!JSON.stringify(statements).includes("rds-db:connect"));
            assert.deepEqual(attachedPolicyArnsOf(ev, role), []);
            assert.equal(cluster.inputs.enableHttpEndpoint, true);
            assert.deepEqual(Object.keys(fn.inputs.environment.variables).sort(), [
                "DB_AUTH_MODE",
                "DB_CLUSTER_ARN",
                "DB_NAME",
                "DB_OWNER",
                "DB_SECRET_ARN",
                "DB_USER",
                "DB_USERS",
            ]);
            assert.deepEqual(JSON.parse(fn.inputs.environment.variables.DB_USERS), ev.settings.access.users);
        }
    });

    it("invokes the smoke after the proxy's target and the bootstrap, and starts the ECS service only after the smoke passed", () => {
        for (const ev of both()) {
            const smoke = named(ev, INVOKE, "smoke-smoke");
            const bootstrap = named(ev, INVOKE, "smoke-bootstrap");
            for (const after of [ev.one("aws:rds/proxyTarget:ProxyTarget"), bootstrap]) {
                assert.ok(smoke.dependencies.includes(after.urn), `smoke waits for ${after.type}`);
            }
            // The example consumer depends on the whole component, so its service starts once the path is proven.
            assert.ok(ev.one("aws:ecs/service:Service").dependencies.includes(smoke.urn), "the service waits for the smoke");
            for (const i of ev.ofType("aws:rds/clusterInstance:ClusterInstance")) assert.ok(bootstrap.dependencies.includes(i.urn));
            // A switch of proxy.authMode converges the users right after the proxy's auth settings change.
            assert.ok(
                bootstrap.dependencies.includes(ev.one("aws:rds/proxy:Proxy").urn),
                "the bootstrap runs after the proxy's auth change",
            );
            assert.equal(smoke.inputs.functionName, named(ev, FN, "smoke-smoke").state.name);
            assert.equal(ev.outputs.smokeReport, smoke.state.result);
        }
    });

    it("can be turned off, leaving the bootstrap and saying the smoke is off", async () => {
        const off = await evaluateStack("dev", { "smoke.enabled": false, "smoke.schedule": "off" });
        assert.equal(off.ofType(FN).filter((f) => f.name === "smoke-smoke").length, 0);
        assert.equal(off.ofType(INVOKE).filter((i) => i.name === "smoke-smoke").length, 0);
        assert.equal(off.ofType(INVOKE).filter((i) => i.name === "smoke-bootstrap").length, 1);
        assert.match(off.outputs.smokeReport, /^off/);
    });

    it("in secrets mode hands the passwords to the bootstrap only in the invocation's secret input", async () => {
        const ev = await evaluateStack("dev", { "proxy.authMode": "secrets" });
        const passwords = Object.fromEntries(
            ev.ofType("random:index/randomPassword:RandomPassword").map((p) => [p.name.replace("secrets-proxy-user-", ""), p.state.result]),
        );
        assert.deepEqual(Object.keys(passwords).sort(), ["app_migrator", "app_reader", "app_user"]);
        assert.deepEqual(JSON.parse(named(ev, INVOKE, "smoke-bootstrap").inputs.input), { passwords });
        const password = passwords.app_user;
        // The recorded inputs have secrets unwrapped; the registration itself must carry the input as a secret,
        // or the password would sit in plain text in the state file.
        const input = (await rawInvocationInputs("dev", { "proxy.authMode": "secrets" }))["smoke-bootstrap"];
        assert.ok(
            input && typeof input === "object" && input[SECRET_SIG] === SECRET_SIG_VALUE,
            `input is not a secret: ${JSON.stringify(input)}`,
        );
        for (const fn of ev.ofType(FN)) assert.ok(!JSON.stringify(fn.inputs.environment).includes(password), fn.name);
        assert.ok(!JSON.stringify(ev.outputs).includes(password));
    });

    it("ships each handler as one small bundle", () => {
        for (const name of Object.keys(HANDLERS) as HandlerName[]) {
            const code = bundle(name);
            const zipped = zippedBytes(code);
            assert.ok(zipped <= 1024 * 1024, `${name}: ${zipped} bytes zipped`);
            assert.match(code, /exports|module\.exports/);
            assert.doesNotMatch(code, /require\("@pulumi\//, `${name} must not pull in Pulumi`);
        }
        for (const fn of stacks.dev().ofType(FN)) assert.equal(fn.inputs.code.__pulumiArchive, true, `${fn.name} ships an archive`);
    });

    it("bundles handlers that load on their own and export `handler`", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bundle-test-"));
        try {
            for (const name of Object.keys(HANDLERS) as HandlerName[]) {
                const file = path.join(dir, `${name}.js`);
                fs.writeFileSync(file, bundle(name));
                const loaded = require(file);
                assert.equal(typeof loaded.handler, "function", name);
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    describe("re-runs the checks only when what they depend on changes", () => {
        const triggers = (ev: Ev) =>
            Object.fromEntries(["smoke-bootstrap", "smoke-smoke"].map((n) => [n, named(ev, INVOKE, n).inputs.triggers.checks]));
        const changed = (a: Ev, b: Ev) =>
            Object.keys(triggers(a))
                .filter((n) => triggers(a)[n] !== triggers(b)[n])
                .sort();

        it("gives an unchanged stack identical invocation inputs and triggers, so a no-op preview shows no change", async () => {
            for (const stack of ["dev", "prod"] as const) {
                const first = await stackAsDeclared(stack);
                const second = await evaluateStack(stack);
                for (const name of ["smoke-bootstrap", "smoke-smoke"]) {
                    const [a, b] = [first, second].map((ev) => named(ev, INVOKE, name).inputs);
                    assert.match(a.triggers.checks, /^[0-9a-f]{64}$/, `${stack} ${name}`);
                    assert.deepEqual(b, a, `${stack} ${name}: the inputs differ between two evaluations`);
                }
            }
        });

        // Each change below is one a real update makes; each must re-run the smoke (and the bootstrap when it
        // changes what the bootstrap converges), and nothing else.
        const cases: Array<[string, Record<string, unknown>, string[]]> = [
            // The application is AuroraIamProxy's consumer, outside it: its image and its role's grants are not on
            // the path the smoke proves (it connects with its own role); the service's own health check proves them.
            ["a new application image", { "app.image": "public.ecr.aws/docker/library/node:22-alpine" }, []],
            ["a different grant for the task", { "access.ecsTask": ["app_user"] }, []],
            ["proxy pool settings", { "proxy.maxConnectionsPercent": 80 }, ["smoke-smoke"]],
            [
                "a new database user",
                {
                    "access.users": [
                        { name: "app_user", access: "readwrite" },
                        { name: "app_reader", access: "readonly" },
                        { name: "app_migrator", access: "ddl" },
                        { name: "reports", access: "readonly" },
                    ],
                },
                ["smoke-bootstrap", "smoke-smoke"],
            ],
            ["the proxy's auth mode", { "proxy.authMode": "secrets" }, ["smoke-bootstrap", "smoke-smoke"]],
            ["smoke.rerun, the on-demand re-run", { "smoke.rerun": "2026-11-23" }, ["smoke-bootstrap", "smoke-smoke"]],
        ];
        for (const [what, overrides, expected] of cases) {
            it(expected.length > 0 ? `re-runs ${expected.join(" and ")} after ${what}` : `re-runs nothing after ${what}`, async () => {
                const after = await evaluateStack("dev", overrides);
                assert.deepEqual(changed(stacks.dev(), after), expected);
            });
        }

        it("re-runs the smoke after a security-group rule on the path changes", async () => {
            const { createStack } = await import("../components/stack");
            const settings: Settings = stacks.dev().settings;
            const { Struct } = require("google-protobuf/google/protobuf/struct_pb");
            const after = await evaluate(
                "dev",
                () => {
                    // As if the smoke's rule into the proxy were widened: the path the smoke proves is a different one.
                    const monitor = (pulumi.runtime as any).getMonitor();
                    const register = monitor.registerResource.bind(monitor);
                    monitor.registerResource = (req: any, callback: (err: any, res: any) => void) => {
                        if (req.getName() === "network-proxy-from-smoke") {
                            req.setObject(Struct.fromJavaScript({ ...req.getObject().toJavaScript(), toPort: 5433 }));
                        }
                        return register(req, callback);
                    };
                    return createStack(settings);
                },
                { region: settings.region },
            );
            assert.equal(
                (after as Ev).named("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "network-proxy-from-smoke").state.toPort,
                5433,
            );
            assert.deepEqual(changed(stacks.dev(), after as Ev), ["smoke-smoke"]);
        });

        it("re-runs the smoke, or the bootstrap, when its own code changes", async () => {
            const bundles = require("../smoke/lambda/bundle");
            const original = bundles.bundle;
            try {
                for (const handler of ["smoke", "bootstrap"] as const) {
                    bundles.bundle = (name: HandlerName) => (name === handler ? `${original(name)}\n// changed` : original(name));
                    const after = await evaluateStack("dev");
                    assert.deepEqual(
                        changed(stacks.dev(), after),
                        handler === "smoke" ? ["smoke-smoke"] : ["smoke-bootstrap", "smoke-smoke"],
                    );
                }
            } finally {
                bundles.bundle = original;
            }
        });
    });
});
