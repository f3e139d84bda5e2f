// The smoke for every declared user and the READ_ONLY endpoint, against a local plane with a real hot
// standby: it passes on a correct plane, and each check fails with its own named reason after a
// hand-made drift (then the bootstrap converges it back).
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import pg from "pg";
import { bootstrap } from "../access/bootstrap";
import { LocalDataPlane, localSmokeTarget, startLocalDataPlane, waitForReplay } from "../local/dataplane";
import { createBootstrapHandler, SqlExecutor } from "../smoke/lambda/bootstrap-handler";
import { createSmokeHandler } from "../smoke/lambda/smoke-handler";
import { main as cli } from "../smoke/cli";
import { formatReport, runSmoke, SmokeReport } from "../smoke/runner";
import { inputFromEnv, inputFromOutputs, targetUsers, validateTarget } from "../smoke/target";
import { USER_CHECK } from "../smoke/users-check";
import { toPositional } from "../access/bootstrap-sql";

// As in prod: the readonly user is meant for the READ_ONLY endpoint.
const USERS = [
    { name: "app_user", access: "readwrite" as const, endpoint: "writer" as const },
    { name: "app_reader", access: "readonly" as const, endpoint: "reader" as const },
    { name: "app_migrator", access: "ddl" as const, endpoint: "writer" as const },
];

function check(report: SmokeReport, name: string) {
    const found = report.checks.find((c) => c.name === name);
    assert.ok(found, `no check named ${name}: ${report.checks.map((c) => c.name).join(", ")}`);
    return found;
}

describe("smoke for every user and the reader endpoint (hot standby)", function () {
    this.timeout(60_000);
    let dp: LocalDataPlane;
    let admin: pg.Client;
    const primary = { connect: () => dp.admin() };
    const replayed = () => waitForReplay(primary, dp.standby!, dp.database);
    const smoke = (overrides: Record<string, unknown> = {}) => {
        const { target, credentials } = localSmokeTarget(dp);
        return runSmoke({ ...target, ...overrides } as typeof target, { credentials });
    };
    /** Makes a drift on the primary, waits for the standby, runs the smoke, then converges back. */
    const withDrift = async (sql: string[], body: (report: SmokeReport) => void) => {
        for (const statement of sql) await admin.query(statement);
        await replayed();
        try {
            body(await smoke());
        } finally {
            await bootstrap(admin, dp.access);
            await replayed();
        }
    };

    before(async () => {
        dp = await startLocalDataPlane({ users: USERS, reader: true });
        admin = await dp.admin();
    });
    after(async () => {
        await admin?.end().catch(() => undefined);
        await dp?.stop();
    });

    it("runs a hot standby that replays the primary within a bounded wait and refuses writes with 25006", async () => {
        await admin.query("CREATE TABLE IF NOT EXISTS public.replay_probe (note text)");
        await admin.query("INSERT INTO public.replay_probe VALUES ('written on the primary')");
        const standby = await dp.standby!.connect(dp.database);
        try {
            const deadline = Date.now() + 5_000;
            let rows: unknown[] = [];
            while (Date.now() < deadline) {
                rows = (await standby.query("SELECT note FROM public.replay_probe").catch(() => ({ rows: [] }))).rows;
                if (rows.length > 0) break;
                await new Promise((r) => setTimeout(r, 20));
            }
            assert.deepEqual(rows, [{ note: "written on the primary" }]);
            assert.equal((await standby.query("SELECT pg_is_in_recovery() AS r")).rows[0].r, true);
            await assert.rejects(
                standby.query("INSERT INTO public.replay_probe VALUES ('x')"),
                (err: { code?: string }) => err.code === "25006",
            );
        } finally {
            await standby.end();
            await admin.query("DROP TABLE public.replay_probe");
        }
    });

    it("passes every check for every user and the reader, and lists each user's checks", async () => {
        const report = await smoke();
        assert.equal(report.ok, true, formatReport(report));
        for (const name of [
            USER_CHECK.createRefused("app_user"),
            USER_CHECK.connect("app_reader"),
            USER_CHECK.tls("app_reader"),
            USER_CHECK.grants("app_reader"),
            USER_CHECK.writeRefused("app_reader"),
            USER_CHECK.connect("app_migrator"),
            USER_CHECK.tls("app_migrator"),
            USER_CHECK.grants("app_migrator"),
            USER_CHECK.createAllowed("app_migrator"),
            USER_CHECK.defaults("app_migrator"),
            USER_CHECK.readerRecovery,
            USER_CHECK.readerWrite,
        ])
            check(report, name);
        assert.match(
            check(report, USER_CHECK.connect("app_reader")).detail,
            new RegExp(`current_user=app_reader via the reader endpoint 127\\.0\\.0\\.1:${dp.reader!.port}`),
        );
        assert.deepEqual([...new Set(report.checks.filter((c) => c.user).map((c) => c.user))], ["app_reader", "app_migrator"]);
        // The ddl check left nothing behind.
        assert.equal((await admin.query("SELECT to_regclass('app.smoke_ddl_probe') AS t")).rows[0].t, null);
    });

    it("holds the READ_ONLY stand-in to the same TLS and token rules as the writer's", async () => {
        const report = await smoke({
            port: dp.reader!.port,
            proxyHost: dp.reader!.proxyHost,
            users: undefined,
            readerHost: undefined,
            readerPort: undefined,
        });
        for (const name of ["refuses no TLS", "refuses tampered token", "refuses other user's token as ours", "refuses plain password"]) {
            assert.equal(check(report, name).ok, true, formatReport(report));
        }
        assert.match(check(report, "TLS verify-full").detail, /^authorized/);
    });

    it("fails naming a readonly user's write that was let through", async () => {
        await withDrift(["GRANT INSERT ON app.smoke_probe TO app_reader"], (report) => {
            assert.equal(report.ok, false);
            assert.equal(
                check(report, USER_CHECK.writeRefused("app_reader")).detail,
                "accepted a write by readonly user app_reader; expected SQLSTATE 42501",
            );
            assert.match(check(report, USER_CHECK.grants("app_reader")).detail, /extra INSERT on table app\.smoke_probe/);
        });
    });

    it("fails naming a readwrite user that may CREATE in app", async () => {
        await withDrift(["GRANT CREATE ON SCHEMA app TO app_user"], (report) => {
            assert.equal(
                check(report, USER_CHECK.createRefused("app_user")).detail,
                "accepted CREATE TABLE by readwrite user app_user; expected SQLSTATE 42501",
            );
        });
    });

    it("fails naming a ddl user that can no longer CREATE", async () => {
        await withDrift(["REVOKE CREATE ON SCHEMA app FROM app_migrator"], (report) => {
            assert.match(
                check(report, USER_CHECK.createAllowed("app_migrator")).detail,
                /^CREATE TABLE in app failed with SQLSTATE 42501; a ddl user must be able to create/,
            );
            assert.match(check(report, USER_CHECK.grants("app_migrator")).detail, /missing CREATE on schema app/);
        });
    });

    it("fails naming a missing default privilege for the ddl user's future tables", async () => {
        await withDrift(
            ["ALTER DEFAULT PRIVILEGES FOR ROLE app_migrator IN SCHEMA app REVOKE INSERT ON TABLES FROM app_user"],
            (report) => {
                assert.equal(
                    check(report, USER_CHECK.defaults("app_migrator")).detail,
                    "missing default privileges of app_migrator in app: INSERT on future tables to app_user",
                );
                assert.match(check(report, "grants match spec").detail, /missing INSERT on future tables of app_migrator in schema app/);
            },
        );
    });

    it("fails naming a role connection limit", async () => {
        await withDrift(["ALTER ROLE app_reader CONNECTION LIMIT 5"], (report) => {
            assert.match(check(report, USER_CHECK.grants("app_reader")).detail, /extra CONNECTION LIMIT 5 \(expected -1/);
        });
    });

    it("fails when the READ_ONLY endpoint reaches the writer", async () => {
        // The reader endpoint's name and port lead to the writer's stand-in.
        const report = await smoke({ readerPort: dp.port, readerProxyHost: dp.proxyHost });
        assert.match(
            check(report, USER_CHECK.readerRecovery).detail,
            /^pg_is_in_recovery\(\) is false through 127\.0\.0\.1:\d+: the READ_ONLY endpoint reached the writer$/,
        );
        assert.equal(check(report, USER_CHECK.readerWrite).ok, false);
    });

    it("fails naming a reader user when no reader endpoint is given", async () => {
        const report = await smoke({ readerHost: undefined, readerPort: undefined });
        assert.match(
            check(report, USER_CHECK.connect("app_reader")).detail,
            /app_reader is declared for the reader endpoint, but no reader host was given/,
        );
    });

    it("lists every other user as not run when the default user cannot connect", async () => {
        const { target } = localSmokeTarget(dp);
        const report = await runSmoke(target, { credentials: { accessKeyId: dp.accessKeyId, secretAccessKey: "not-the-key" } });
        assert.match(check(report, "connect with IAM token").detail, /28P01/);
        for (const user of ["app_reader", "app_migrator"]) {
            assert.equal(check(report, USER_CHECK.connect(user)).detail, "not run: the default user app_user could not connect");
        }
    });

    it("runs from the CLI with --users, --reader-host and --reader-port", async () => {
        const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY, profile: process.env.AWS_PROFILE };
        process.env.AWS_ACCESS_KEY_ID = dp.accessKeyId;
        process.env.AWS_SECRET_ACCESS_KEY = dp.secretAccessKey;
        delete process.env.AWS_PROFILE;
        try {
            const out: string[] = [];
            const err: string[] = [];
            const target = [
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
            ];
            // Through a tunnel: connect to the local ports, verify and sign for the endpoints' names and 5432.
            const code = await cli(
                [
                    ...target,
                    "--proxy-host",
                    dp.proxyHost,
                    "--proxy-port",
                    String(dp.proxyPort),
                    "--owner",
                    dp.spec.owner,
                    "--ca",
                    dp.caFile,
                    "--users",
                    JSON.stringify(USERS),
                    "--reader-host",
                    dp.reader!.host,
                    "--reader-port",
                    String(dp.reader!.port),
                    "--reader-proxy-host",
                    dp.reader!.proxyHost,
                    "--json",
                ],
                { out: (l) => out.push(l), err: (l) => err.push(l), env: {} },
            );
            const report = JSON.parse(out.join("\n")) as SmokeReport;
            assert.equal(code, 0, report.reason);
            assert.deepEqual(err, []);
            assert.ok(report.checks.some((c) => c.name === USER_CHECK.readerRecovery && c.ok));
            assert.ok(report.checks.some((c) => c.name === USER_CHECK.connect("app_reader") && c.ok && c.user === "app_reader"));
            const complaints: string[] = [];
            const bad = await cli([...target, "--users", "[{"], { out: () => undefined, err: (l) => complaints.push(l), env: {} });
            assert.equal(bad, 2);
            assert.match(complaints.join("\n"), /target\.users is not JSON/);
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

    it("runs as the smoke Lambda from DB_USERS, DB_HOST and DB_READER_HOST", async () => {
        const env = {
            DB_HOST: dp.host,
            DB_PORT: String(dp.port),
            DB_NAME: dp.database,
            DB_USER: dp.user,
            AWS_REGION: dp.region,
            DB_OWNER: dp.spec.owner,
            DB_AUTH_MODE: dp.spec.authMode,
            SMOKE_TIMEOUT_MS: "15000",
            DB_USERS: JSON.stringify(USERS),
            DB_READER_HOST: dp.reader!.host,
            DB_READER_PORT: String(dp.reader!.port),
            DB_PROXY_HOST: dp.proxyHost,
            DB_PROXY_PORT: String(dp.proxyPort),
            DB_READER_PROXY_HOST: dp.reader!.proxyHost,
        };
        const summary = await createSmokeHandler({
            env,
            caPem: readFileSync(dp.caFile, "utf8"),
            options: { credentials: { accessKeyId: dp.accessKeyId, secretAccessKey: dp.secretAccessKey } },
            writeMetrics: () => undefined,
        })();
        assert.equal(summary.ok, true);
        assert.ok(summary.checks.some((c) => c.name === USER_CHECK.readerWrite && c.ok));
        assert.ok(summary.checks.some((c) => c.name === USER_CHECK.grants("app_migrator") && c.ok));
    });

    it("bootstraps every user of DB_USERS as the bootstrap Lambda, and reports a retired one", async () => {
        const execute: SqlExecutor = async (statements) => {
            const rows: Array<Record<string, unknown>[] | undefined> = [];
            await admin.query("BEGIN");
            try {
                for (const s of statements) {
                    const { text, values } = toPositional(s);
                    const result = await admin.query(text, values);
                    rows.push(s.returnsRows ? result.rows : undefined);
                }
                await admin.query("COMMIT");
            } catch (err) {
                await admin.query("ROLLBACK");
                throw err;
            }
            return rows;
        };
        const env = { DB_NAME: dp.database, DB_OWNER: dp.spec.owner, DB_AUTH_MODE: "iam", DB_USER: "app_user" };
        const fewer = await createBootstrapHandler({ env: { ...env, DB_USERS: JSON.stringify(USERS.slice(0, 2)) }, execute })({});
        assert.deepEqual([fewer.user, fewer.users, fewer.retired], ["app_user", ["app_user", "app_reader"], ["app_migrator"]]);
        const all = await createBootstrapHandler({ env: { ...env, DB_USERS: JSON.stringify(USERS) }, execute })({});
        assert.deepEqual([all.users, all.retired], [["app_user", "app_reader", "app_migrator"], []]);
        await replayed();
        const report = await smoke();
        assert.equal(report.ok, true, formatReport(report));
    });
});

describe("smoke target: users and the reader endpoint", () => {
    const base = {
        host: "prx.proxy-abc.eu-west-1.rds.amazonaws.com",
        port: 5432,
        database: "appdb",
        user: "app_user",
        region: "eu-west-1",
    };

    it("reads DB_USERS, DB_READER_HOST and DB_READER_PORT from the environment", () => {
        const input = inputFromEnv({ DB_USERS: JSON.stringify(USERS), DB_READER_HOST: "ro.example.com", DB_READER_PORT: "6432" });
        assert.deepEqual([input.users, input.readerHost, input.readerPort], [JSON.stringify(USERS), "ro.example.com", "6432"]);
        const t = validateTarget({ ...base, ...input });
        assert.deepEqual([t.users, t.readerHost, t.readerPort], [USERS, "ro.example.com", 6432]);
    });

    it("reads the dbUsers and proxyReaderEndpoint stack outputs", () => {
        const input = inputFromOutputs({ proxyEndpoint: base.host, dbUsers: USERS, proxyReaderEndpoint: "ro.example.com" });
        assert.deepEqual(validateTarget({ ...base, ...input }).users, USERS);
    });

    it("without DB_USERS checks the single DB_USER as a readwrite writer user, as before", () => {
        assert.deepEqual(targetUsers(validateTarget(base)), [{ name: "app_user", access: "readwrite", endpoint: "writer" }]);
    });

    it("refuses malformed users, a default user outside them and a bad reader host, naming the source", () => {
        assert.throws(() => validateTarget({ ...base, users: "[{" }), /target\.users is not JSON .*DB_USERS/);
        assert.throws(
            () => validateTarget({ ...base, users: [{ name: "app_user", access: "admin" }] }),
            /target\.users\[0\]\.access \("admin"\) must be one of readwrite, readonly, ddl/,
        );
        assert.throws(
            () => validateTarget({ ...base, users: [{ name: "other", access: "readwrite" }] }),
            /target\.user "app_user" is not among target\.users \(other\)/,
        );
        assert.throws(() => validateTarget({ ...base, readerHost: "not a host" }), /target\.readerHost is "not a host"/);
        assert.throws(() => validateTarget({ ...base, readerPort: "0" }), /target\.readerPort is "0"/);
    });
});
