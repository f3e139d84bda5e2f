import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as FakeTimers from "@sinonjs/fake-timers";
import { Pool, PoolClient } from "pg";
import { startLocalDataPlane, LocalDataPlane } from "../local/dataplane";
import { createIamPool, IamConnectError, IamPool } from "../client/pool";
import { tamperToken, tokenFactory } from "../client/token";
import { installPacked, packClient } from "./client-package";
import { verifyFullSsl } from "../client/tls";

const SIXTEEN_MINUTES = 16 * 60_000;

describe("IAM pool helper against the local data plane", function () {
    this.timeout(30_000);
    let dp: LocalDataPlane;
    let caPem: string;
    let credentials: { accessKeyId: string; secretAccessKey: string };

    before(async () => {
        dp = await startLocalDataPlane();
        caPem = readFileSync(dp.caFile, "utf8");
        credentials = { accessKeyId: dp.accessKeyId, secretAccessKey: dp.secretAccessKey };
    });
    after(async () => {
        await dp?.stop();
    });

    // The stand-in is reached at 127.0.0.1 and named like the proxy, as through a tunnel.
    const options = () => ({
        host: dp.host,
        port: dp.port,
        proxyHost: dp.proxyHost,
        proxyPort: dp.proxyPort,
        database: dp.database,
        user: dp.user,
        region: dp.region,
        caPem,
        credentials,
    });

    /** Wraps the pool's password function (pg calls it once per new connection) to count or change tokens. */
    function interceptTokens(pool: IamPool, change: (token: string, call: number) => string = (t) => t): { calls: () => number } {
        const holder = pool as unknown as { options: { password: () => Promise<string> } };
        const sign = holder.options.password;
        let calls = 0;
        holder.options.password = async () => change(await sign(), ++calls);
        return { calls: () => calls };
    }

    async function whoami(client: PoolClient): Promise<string> {
        const { rows } = await client.query<{ current_user: string }>("select current_user");
        return rows[0].current_user;
    }

    it("signs a fresh token for every new connection", async () => {
        const pool = createIamPool({ ...options(), max: 3 });
        const tokens = interceptTokens(pool);
        try {
            const clients = [await pool.connect(), await pool.connect(), await pool.connect()];
            for (const c of clients) assert.equal(await whoami(c), dp.user);
            assert.equal(tokens.calls(), 3);
            clients.forEach((c) => c.release());
            // Reusing an idle connection needs no new token.
            const again = await pool.connect();
            again.release();
            assert.equal(tokens.calls(), 3);
        } finally {
            await pool.end();
        }
    });

    describe("when the first token has expired (Date moved 16 minutes, in process)", () => {
        let clock: FakeTimers.Clock;
        beforeEach(() => {
            // Only Date: the signer and the stand-in both read Date.now; pg's real timers keep running.
            clock = FakeTimers.withGlobal(globalThis).install({ toFake: ["Date"], now: Date.now() });
        });
        afterEach(() => clock.uninstall());

        it("opens its next connection with a new token, and the first one keeps working", async () => {
            const pool = createIamPool({ ...options(), max: 2 });
            try {
                const first = await pool.connect();
                assert.equal(await whoami(first), dp.user);
                clock.tick(SIXTEEN_MINUTES);
                // `first` is still checked out, so the pool must open a second connection.
                const second = await pool.connect();
                assert.equal(await whoami(second), dp.user);
                assert.equal(await whoami(first), dp.user, "an open connection outlives its token");
                first.release();
                second.release();
            } finally {
                await pool.end();
            }
        });

        it("fails its next connection when it holds one token fetched at start-up (so this test can fail)", async () => {
            const tokenAtStartup = await tokenFactory({ ...options(), host: dp.proxyHost, port: dp.proxyPort })();
            const pool = new Pool({
                host: dp.host,
                port: dp.port,
                database: dp.database,
                user: dp.user,
                password: tokenAtStartup,
                ssl: verifyFullSsl(dp.proxyHost, caPem),
                max: 2,
                connectionTimeoutMillis: 5_000,
            });
            pool.on("error", () => undefined);
            try {
                const first = await pool.connect();
                assert.equal(await whoami(first), dp.user);
                clock.tick(SIXTEEN_MINUTES);
                await assert.rejects(pool.connect(), (err: Error & { code?: string }) => {
                    assert.ok(!err.message.includes("X-Amz"), "the error must not echo the token");
                    return err.code === "28P01" || err.code === "28000";
                });
                first.release();
            } finally {
                await pool.end();
            }
        });
    });

    describe("retrying a new connection", () => {
        const fast = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };

        it("replaces a refused token (28P01) with a freshly signed one on the next attempt", async () => {
            const pool = createIamPool({ ...options(), max: 1, retry: fast });
            const tokens = interceptTokens(pool, (token, call) => (call === 1 ? tamperToken(token) : token));
            try {
                const { rows } = await pool.query<{ current_user: string }>("select current_user");
                assert.equal(rows[0].current_user, dp.user);
                assert.equal(tokens.calls(), 2, "one refused token, then a new one");
            } finally {
                await pool.end();
            }
        });

        it("fails a query ended by 57P01 (admin shutdown) without re-running it, and the next request succeeds on a new connection", async () => {
            const idleErrors: string[] = [];
            const pool = createIamPool({ ...options(), max: 1, retry: fast, onIdleError: (e) => idleErrors.push(e.kind) });
            const tokens = interceptTokens(pool);
            const admin = await dp.admin();
            try {
                await admin.query("create table if not exists app.retry_probe (n int)");
                await admin.query("grant insert on app.retry_probe to " + dp.user);
                const { rows } = await pool.query<{ pid: number }>("select pg_backend_pid() as pid");
                // The statement writes a row, then waits: once it is ended the row may or may not be committed; the pool must not send it again.
                const running = pool.query("insert into app.retry_probe select 1 from pg_sleep(5)");
                for (let i = 0; i < 100; i++) {
                    const { rows: busy } = await admin.query("select 1 from pg_stat_activity where pid = $1 and state = 'active'", [
                        rows[0].pid,
                    ]);
                    if (busy.length) break;
                    await new Promise((r) => setTimeout(r, 10));
                }
                await admin.query("select pg_terminate_backend($1)", [rows[0].pid]);
                await assert.rejects(running, (err: Error & { code?: string }) => err.code === "57P01");
                const next = await pool.query<{ current_user: string }>("select current_user");
                assert.equal(next.rows[0].current_user, dp.user);
                assert.equal(tokens.calls(), 2, "the failed statement was not retried; the next request opened one new connection");
                const { rows: written } = await admin.query("select count(*)::int as n from app.retry_probe");
                assert.equal(written[0].n, 0, "the ended statement did not run again");
            } finally {
                await admin.query("drop table if exists app.retry_probe").catch(() => undefined);
                await admin.end();
                await pool.end();
            }
        });

        it("gives up after the bound with a classified error when every token is refused", async () => {
            const pool = createIamPool({ ...options(), max: 1, retry: fast });
            const tokens = interceptTokens(pool, (token) => tamperToken(token));
            const started = Date.now();
            try {
                await assert.rejects(pool.query("select 1"), (err: unknown) => {
                    assert.ok(err instanceof IamConnectError, String(err));
                    assert.equal(err.kind, "auth");
                    assert.equal(err.code, "28P01");
                    assert.equal(err.attempts, 3);
                    assert.equal(err.retryReason, "token-refused");
                    assert.match(
                        err.message,
                        new RegExp(
                            `^authentication failed at ${dp.proxyHost.replace(/\./g, "\\.")}:5432 \\(28P01\\).*gave up after 3 attempts`,
                        ),
                    );
                    assert.doesNotMatch(err.message, /X-Amz/);
                    return true;
                });
                assert.equal(tokens.calls(), 3);
                assert.ok(Date.now() - started < 5_000, "bounded");
            } finally {
                await pool.end();
            }
        });

        it("does not retry what another attempt cannot fix: a certificate not valid for the name", async () => {
            const pool = createIamPool({ ...options(), proxyHost: "other.proxy-local.eu-west-1.rds.amazonaws.com", max: 1, retry: fast });
            const tokens = interceptTokens(pool);
            try {
                await assert.rejects(
                    pool.connect(),
                    (err: unknown) => err instanceof IamConnectError && err.kind === "tls" && err.attempts === 1,
                );
                assert.equal(tokens.calls(), 0, "no token is sent to a server that failed verification");
            } finally {
                await pool.end();
            }
        });
    });

    describe("the packed package", () => {
        let work: string;
        after(() => {
            if (work) rmSync(work, { recursive: true, force: true });
        });

        it("installs from its tarball into an empty project and connects with require(name).createIamPool alone", async () => {
            work = mkdtempSync(path.join(os.tmpdir(), "client-package-"));
            const packed = packClient(work);
            assert.deepEqual(packed.dependencies.sort(), ["@aws-sdk/rds-signer", "pg"]);
            const project = path.join(work, "project");
            installPacked(packed, project);
            const script = `
        const { createIamPool } = require(${JSON.stringify(packed.name)});
        const o = JSON.parse(process.env.OPTIONS);
        const pool = createIamPool({ ...o, caPem: require("fs").readFileSync(o.caFile, "utf8") });
        pool.query("select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()")
          .then(({ rows }) => { console.log(JSON.stringify(rows[0])); return pool.end(); })
          .catch((e) => { console.error(e.message); process.exit(1); });`;
            const opts = { ...options(), caPem: undefined, caFile: dp.caFile };
            const out = await new Promise<string>((resolve, reject) =>
                execFile(
                    process.execPath,
                    ["-e", script],
                    {
                        cwd: project,
                        env: { PATH: process.env.PATH, OPTIONS: JSON.stringify(opts) },
                        timeout: 15_000,
                    },
                    (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
                ),
            );
            assert.deepEqual(JSON.parse(out), { current_user: dp.user, ssl: true });
        });
    });
});
