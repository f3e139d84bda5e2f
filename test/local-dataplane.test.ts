import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Signer } from "@aws-sdk/rds-signer";
import net from "node:net";
import pg from "pg";
import { classifyError } from "../client/errors";
import { createThrowawayCa, ThrowawayCa } from "../local/ca";
import { LocalDataPlane, startLocalDataPlane } from "../local/dataplane";
import { parseUpArgs } from "../local/up";
import { clusterTemplate, freePort, loadEmbeddedPostgres } from "../local/postgres";
import { RdsProxyStandIn, startRdsProxyStandIn } from "../local/proxy";

const FIFTEEN_MINUTES_MS = 15 * 60_000;

describe("local data plane", function () {
    this.timeout(30_000);
    let plane: LocalDataPlane;
    let ca: string;
    /** Shifts the stand-in's clock, to see tokens expire without waiting. */
    let clockOffsetMs = 0;

    before(async () => {
        plane = await startLocalDataPlane({ now: () => Date.now() + clockOffsetMs });
        ca = readFileSync(plane.caFile, "utf8");
    });
    after(async () => {
        await plane?.stop();
    });
    afterEach(() => {
        clockOffsetMs = 0;
    });

    /** Signed, as RDS Proxy expects, for the proxy's name and 5432 (not where the client connects). */
    function token(
        o: { user?: string; region?: string; accessKeyId?: string; secretAccessKey?: string; hostname?: string; port?: number } = {},
    ): Promise<string> {
        return new Signer({
            hostname: o.hostname ?? plane.proxyHost,
            port: o.port ?? plane.proxyPort,
            username: o.user ?? plane.user,
            region: o.region ?? plane.region,
            credentials: { accessKeyId: o.accessKeyId ?? plane.accessKeyId, secretAccessKey: o.secretAccessKey ?? plane.secretAccessKey },
        }).getAuthToken();
    }

    /** verify-full TLS: the CA is the throwaway one, the name (default the proxy's) is checked against the certificate. */
    function client(o: { user?: string; password: string; tls?: boolean; host?: string; port?: number; servername?: string }): pg.Client {
        const c = new pg.Client({
            host: o.host ?? plane.host,
            port: o.port ?? plane.port,
            user: o.user ?? plane.user,
            database: plane.database,
            password: o.password,
            ssl: o.tls === false ? false : { ca, ...(o.servername === "" ? {} : { servername: o.servername ?? plane.proxyHost }) },
            connectionTimeoutMillis: 5_000,
        });
        c.on("error", () => undefined);
        return c;
    }

    async function refusal(c: pg.Client): Promise<{ code: string; message: string }> {
        try {
            await c.connect();
        } catch (err) {
            const e = err as { code?: string; message: string };
            return { code: e.code ?? "", message: e.message };
        } finally {
            await c.end().catch(() => undefined);
        }
        assert.fail("the connection should have been refused");
    }

    describe("the RDS Proxy stand-in", () => {
        it("lets the app user in with an IAM token from @aws-sdk/rds-signer over verify-full TLS", async () => {
            const c = client({ password: await token() });
            await c.connect();
            try {
                const { rows } = await c.query(
                    "SELECT current_user AS user, current_database() AS db, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                );
                assert.deepEqual(rows, [{ user: plane.user, db: plane.database, ssl: true }]);
                await c.query("INSERT INTO app.smoke_probe (note) VALUES ('local data plane test')");
                const deleted = await c.query("DELETE FROM app.smoke_probe WHERE note = 'local data plane test'");
                assert.equal(deleted.rowCount, 1);
                await assert.rejects(c.query("CREATE TABLE app.not_allowed (id int)"), /permission denied for schema app/);
            } finally {
                await c.end();
            }
        });

        it("serves several sessions at once", async () => {
            const password = await token();
            const clients = Array.from({ length: 5 }, () => client({ password }));
            try {
                await Promise.all(clients.map((c) => c.connect()));
                const pids = await Promise.all(
                    clients.map(async (c) => (await c.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number),
                );
                assert.equal(new Set(pids).size, 5);
            } finally {
                await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
            }
        });

        it("behaves like RDS Proxy behind a tunnel: a certificate for its proxy-like name only, tokens for that name and 5432", () => {
            assert.equal(plane.host, "127.0.0.1");
            assert.match(plane.proxyHost, /^[a-z0-9-]+\.proxy-local\.eu-west-1\.rds\.amazonaws\.com$/);
            assert.equal(plane.proxyPort, 5432);
            assert.notEqual(plane.port, 5432);
        });

        it("fails verify-full against 127.0.0.1 (trap 1: verifying the tunnel's address), classified as TLS", async () => {
            const c = client({ password: await token(), servername: "" });
            const err = await c.connect().then(
                () => undefined,
                (e: Error) => e,
            );
            await c.end().catch(() => undefined);
            assert.ok(err, "verify-full against 127.0.0.1 must fail");
            const classified = classifyError(err, { host: plane.host, port: plane.port }, 5_000);
            assert.equal(classified.kind, "tls");
            assert.match(classified.message, /ERR_TLS_CERT_ALTNAME_INVALID/);
        });

        it("refuses a token signed for 127.0.0.1:<local port> (trap 2: PAM authentication failed), classified as auth", async () => {
            const c = client({ password: await token({ hostname: plane.host, port: plane.port }) });
            const err = await c.connect().then(
                () => undefined,
                (e: Error) => e,
            );
            await c.end().catch(() => undefined);
            assert.ok(err, "a token for the local address must be refused");
            assert.equal((err as { code?: string }).code, "28P01");
            assert.match(
                err!.message,
                new RegExp(
                    `IAM token was signed for endpoint 127\\.0\\.0\\.1:${plane.port}, this endpoint is ${plane.proxyHost.replace(/\./g, "\\.")}:5432`,
                ),
            );
            assert.equal(classifyError(err, { host: plane.host, port: plane.port }, 5_000).kind, "auth");
        });

        it("refuses a client that does not ask for TLS, before asking for a password", async () => {
            const refused = await refusal(client({ password: await token(), tls: false }));
            assert.deepEqual(refused, { code: "28000", message: "This RDS Proxy requires TLS connections" });
        });

        it("refuses a tampered token", async () => {
            const tampered = (await token()).replace(
                /X-Amz-Signature=([0-9a-f])/,
                (_m, c: string) => `X-Amz-Signature=${c === "a" ? "b" : "a"}`,
            );
            const refused = await refusal(client({ password: tampered }));
            assert.equal(refused.code, "28P01");
            assert.match(refused.message, /^password authentication failed for user "app_user": IAM token signature does not match/);
        });

        it("refuses a token made for another user", async () => {
            const refused = await refusal(client({ password: await token({ user: "someone_else" }) }));
            assert.equal(refused.code, "28P01");
            assert.match(refused.message, /IAM token is for database user "someone_else", the connection is for "app_user"/);
        });

        it("refuses a user it has no credentials for, even with a valid token for that user", async () => {
            const refused = await refusal(client({ user: "postgres", password: await token({ user: "postgres" }) }));
            assert.equal(refused.code, "28000");
            assert.match(refused.message, /no credentials for user "postgres"/);
        });

        it("refuses a plain password", async () => {
            const refused = await refusal(client({ password: plane.postgres.password }));
            assert.equal(refused.code, "28P01");
            assert.match(refused.message, /not an RDS IAM authentication token/);
            assert.ok(!refused.message.includes(plane.postgres.password));
        });

        it("refuses an expired token", async () => {
            const password = await token();
            clockOffsetMs = FIFTEEN_MINUTES_MS + 60_000;
            const refused = await refusal(client({ password }));
            assert.equal(refused.code, "28P01");
            assert.match(refused.message, /IAM token expired/);
        });

        it("refuses a token signed for another region", async () => {
            const refused = await refusal(client({ password: await token({ region: "us-east-1" }) }));
            assert.match(refused.message, /region "us-east-1", this endpoint is in eu-west-1/);
        });

        it("refuses a token signed with a key it does not trust", async () => {
            const refused = await refusal(
                client({ password: await token({ accessKeyId: "AKIAOTHERKEY00000000", secretAccessKey: "not-the-secret" }) }),
            );
            assert.match(refused.message, /access key AKIAOTHERKEY00000000, which this endpoint does not trust/);
        });

        it("refuses a token signed with the trusted key id but the wrong secret", async () => {
            const refused = await refusal(client({ password: await token({ secretAccessKey: "guessed" }) }));
            assert.match(refused.message, /signature does not match/);
        });
    });

    describe("the PostgreSQL behind it", () => {
        it("refuses a direct connection without TLS (hostssl only, like rds.force_ssl)", async () => {
            const refused = await refusal(
                client({
                    host: plane.postgres.host,
                    port: plane.postgres.port,
                    user: plane.postgres.user,
                    password: plane.postgres.password,
                    tls: false,
                }),
            );
            assert.equal(refused.code, "28000");
            assert.match(refused.message, /no encryption/);
        });

        it("has no password way in for the app user: only the stand-in's certificate", async () => {
            const refused = await refusal(
                client({ host: plane.postgres.host, port: plane.postgres.port, password: "anything", servername: "localhost" }),
            );
            assert.equal(refused.code, "28000");
            assert.match(refused.message, /certificate/i);
        });

        it("gives the superuser a verified TLS session through admin()", async () => {
            const admin = await plane.admin();
            try {
                const { rows } = await admin.query("SELECT current_user AS user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
                assert.deepEqual(rows, [{ user: plane.postgres.user, ssl: true }]);
            } finally {
                await admin.end();
            }
        });
    });

    describe("stop()", () => {
        it("is idempotent and removes the temp folder", async () => {
            const folder = path.dirname(plane.caFile);
            assert.ok(existsSync(folder));
            await Promise.all([plane.stop(), plane.stop()]);
            await plane.stop();
            assert.ok(!existsSync(folder), `${folder} still exists`);
        });
    });
});

describe("initdb template", function () {
    this.timeout(60_000);
    it("runs initdb once and hands every plane the same finished cluster to copy, even to racing callers", async () => {
        const root = mkdtempSync(path.join(os.tmpdir(), "initdb-template-test-"));
        chmodSync(root, 0o755); // like the temp folder itself: PostgreSQL's OS user must reach inside
        try {
            const EmbeddedPostgres = await loadEmbeddedPostgres();
            const o = { user: "postgres", isRoot: process.getuid?.() === 0, root };
            const [a, b] = await Promise.all([clusterTemplate(EmbeddedPostgres, o), clusterTemplate(EmbeddedPostgres, o)]);
            const c = await clusterTemplate(EmbeddedPostgres, o);
            assert.deepEqual([b, c], [a, a], "one template, one password");
            assert.ok(existsSync(path.join(a.dataDir, "PG_VERSION")), "a whole cluster");
            assert.deepEqual(
                readdirSync(root).filter((n) => n.includes("staging")),
                [],
                "no half-made template left behind",
            );
            assert.equal(readdirSync(root).length, 1);
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });
});

describe("RDS Proxy stand-in on its own", function () {
    this.timeout(20_000);
    const credentials = { accessKeyId: "AKIASTANDINTEST00000", secretAccessKey: "stand-in-test-secret" };
    let proxy: RdsProxyStandIn;
    let ca: ThrowawayCa;

    before(async () => {
        ca = createThrowawayCa();
        // Nothing listens upstream: the database is unreachable.
        const deadPort = await freePort();
        proxy = await startRdsProxyStandIn({
            host: "127.0.0.1",
            region: "eu-west-1",
            credentials,
            tls: ca.server,
            upstream: {
                host: "127.0.0.1",
                port: deadPort,
                caPem: ca.caPem,
                servername: "localhost",
                users: { app_user: ca.issueClient("app_user") },
            },
            handshakeTimeoutMs: 300,
        });
    });
    after(async () => {
        await proxy?.close();
    });

    it("drops a client that stalls in the handshake instead of hanging", async () => {
        const socket = net.connect({ host: proxy.host, port: proxy.port });
        socket.on("error", () => undefined);
        await new Promise((resolve) => socket.once("connect", resolve));
        const started = Date.now();
        const closed = new Promise((resolve) => socket.once("close", resolve));
        socket.resume(); // read the "S" and the end, so "close" can fire
        socket.write(Buffer.from([0, 0, 0, 8, 4, 210, 22, 47])); // SSLRequest, then silence
        await closed;
        assert.ok(Date.now() - started < 5_000, `closed after ${Date.now() - started} ms`);
    });

    it("answers a valid token with a PostgreSQL error when the database is unreachable", async () => {
        const password = await new Signer({
            hostname: proxy.host,
            port: proxy.port,
            username: "app_user",
            region: "eu-west-1",
            credentials,
        }).getAuthToken();
        const c = new pg.Client({
            host: proxy.host,
            port: proxy.port,
            user: "app_user",
            database: "appdb",
            password,
            ssl: { ca: ca.caPem, servername: "localhost" },
            connectionTimeoutMillis: 5_000,
        });
        c.on("error", () => undefined);
        await assert.rejects(
            c.connect(),
            (err: { code?: string; message: string }) => err.code === "08006" && /could not reach the database/.test(err.message),
        );
        await c.end().catch(() => undefined);
    });
});

describe("local data plane lifecycle", function () {
    this.timeout(40_000);

    it("runs several planes side by side, each with its own ports and its own trusted key", async () => {
        const planes = await Promise.all([startLocalDataPlane(), startLocalDataPlane({ region: "us-east-1" })]);
        try {
            const [a, b] = planes;
            assert.equal(new Set([a.port, b.port, a.postgres.port, b.postgres.port]).size, 4);
            assert.notEqual(a.accessKeyId, b.accessKeyId);
            // A token signed with b's key, for a's endpoint, is refused by a.
            const password = await new Signer({
                hostname: a.proxyHost,
                port: a.proxyPort,
                username: a.user,
                region: a.region,
                credentials: { accessKeyId: b.accessKeyId, secretAccessKey: b.secretAccessKey },
            }).getAuthToken();
            const c = new pg.Client({
                host: a.host,
                port: a.port,
                user: a.user,
                database: a.database,
                password,
                ssl: { ca: readFileSync(a.caFile, "utf8"), servername: a.proxyHost },
                connectionTimeoutMillis: 5_000,
            });
            c.on("error", () => undefined);
            await assert.rejects(c.connect(), /does not trust/);
            await c.end().catch(() => undefined);
        } finally {
            await Promise.all(planes.map((p) => p.stop()));
        }
    });

    it("refuses an invalid region or user with one clear line", async () => {
        await assert.rejects(startLocalDataPlane({ region: "moon-1" }), {
            message: 'local data plane: region "moon-1" is not an AWS region name; use e.g. eu-west-1',
        });
        await assert.rejects(startLocalDataPlane({ user: "App User" }), /user "App User" is not a plain identifier/);
    });

    it("local:up takes --existing and refuses anything else in one line", () => {
        assert.deepEqual(parseUpArgs([]), { existing: false });
        assert.deepEqual(parseUpArgs(["--existing"]), { existing: true });
        assert.throws(
            () => parseUpArgs(["--exist"]),
            /^Error: unknown argument "--exist"; allowed: --existing \(existing-database mode\)$/,
        );
    });

    it("npm run local:up -- --existing prints exactly one JSON line (every earlier field, plus users, reader, proxyHost, appUrl and legacy), then stops cleanly on SIGTERM", async () => {
        // Exactly what `npm run local:up -- --existing` runs (package.json), with this Node. One start covers both
        // modes: every field of the plain mode, in its order, and the existing database's legacy login after them.
        const [node, ...args] = JSON.parse(readFileSync(path.resolve(__dirname, "..", "package.json"), "utf8")).scripts["local:up"].split(
            " ",
        );
        assert.equal(node, "node");
        const child = spawn(process.execPath, [...args, "--existing"], {
            cwd: path.resolve(__dirname, ".."),
            stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
            child.once("exit", (code, signal) => resolve({ code, signal })),
        );
        try {
            const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
                const timer = setTimeout(() => reject(new Error(`no JSON line within 25s; stderr: ${stderr}`)), 25_000);
                child.stdout.on("data", () => {
                    if (!stdout.includes("\n")) return;
                    clearTimeout(timer);
                    resolve(JSON.parse(stdout.split("\n")[0]));
                });
                void exited.then(({ code }) => reject(new Error(`up.ts exited with ${code} before it was ready; stderr: ${stderr}`)));
            });
            // Scripts read this line: fields are only ever added, never renamed.
            assert.deepEqual(Object.keys(ready), [
                "host",
                "port",
                "database",
                "user",
                "region",
                "caFile",
                "accessKeyId",
                "secretAccessKey",
                "users",
                "reader",
                "proxyHost",
                "appUrl",
                "legacy",
            ]);
            const caFile = String(ready.caFile);
            assert.ok(existsSync(caFile));
            const users = ready.users as Array<{ name: string; access: string }>;
            assert.deepEqual(
                users.map((u) => Object.keys(u)),
                users.map(() => ["name", "access"]),
            );
            assert.deepEqual(users.map((u) => u.access).sort(), ["ddl", "readonly", "readwrite"]);
            assert.ok(users.some((u) => u.name === ready.user && u.access === "readwrite"));
            const reader = ready.reader as { host: string; port: number; proxyHost: string };
            assert.deepEqual(Object.keys(reader), ["host", "port", "proxyHost"]);
            assert.notEqual(reader.proxyHost, ready.proxyHost, "the READ_ONLY endpoint has a DNS name of its own");

            // What it printed is enough to get in, as every user, through either endpoint: connect to host:port,
            // verify and sign for proxyHost and 5432.
            const connect = async (user: string, at: { host: string; port: number; proxyHost: string }) => {
                const password = await new Signer({
                    hostname: at.proxyHost,
                    port: 5432,
                    username: user,
                    region: String(ready.region),
                    credentials: { accessKeyId: String(ready.accessKeyId), secretAccessKey: String(ready.secretAccessKey) },
                }).getAuthToken();
                const c = new pg.Client({
                    host: at.host,
                    port: at.port,
                    user,
                    database: String(ready.database),
                    password,
                    ssl: { ca: readFileSync(caFile, "utf8"), servername: at.proxyHost },
                    connectionTimeoutMillis: 5_000,
                });
                await c.connect();
                return c;
            };
            const writer = { host: String(ready.host), port: Number(ready.port), proxyHost: String(ready.proxyHost) };
            for (const u of users) {
                const c = await connect(u.name, writer);
                try {
                    assert.equal((await c.query("SELECT current_user AS u")).rows[0].u, u.name);
                    if (u.access === "ddl") await c.query("CREATE TABLE app.made_by_migration (id int)");
                } finally {
                    await c.end();
                }
            }
            const app = await connect(String(ready.user), writer);
            try {
                await app.query("INSERT INTO app.made_by_migration VALUES (1)");
            } finally {
                await app.end();
            }
            const onReader = await connect(users.find((u) => u.access === "readonly")!.name, reader);
            try {
                assert.equal((await onReader.query("SELECT pg_is_in_recovery() AS r")).rows[0].r, true);
            } finally {
                await onReader.end();
            }

            // The legacy application's login: a password, straight to PostgreSQL (the "cluster endpoint"), TLS verified
            // against the same CA; its table and rows are there, after the bootstrap.
            const legacy = ready.legacy as { user: string; password: string; table: string; rows: number; host: string; port: number };
            assert.deepEqual(Object.keys(legacy), ["user", "password", "table", "rows", "host", "port"]);
            assert.notEqual(legacy.port, ready.port, "host:port is PostgreSQL itself, not the stand-in");
            const legacyClient = new pg.Client({
                host: legacy.host,
                port: legacy.port,
                user: legacy.user,
                password: legacy.password,
                database: String(ready.database),
                ssl: { ca: readFileSync(caFile, "utf8"), servername: "localhost" },
                connectionTimeoutMillis: 5_000,
            });
            await legacyClient.connect();
            try {
                assert.deepEqual((await legacyClient.query(`SELECT count(*)::int AS n FROM ${legacy.table}`)).rows, [{ n: legacy.rows }]);
                assert.deepEqual(
                    (await legacyClient.query("SELECT nspowner::regrole::text AS owner FROM pg_namespace WHERE nspname = 'app'")).rows,
                    [{ owner: legacy.user }],
                );
            } finally {
                await legacyClient.end();
            }

            // app/ runs against the plane as the task would: /health/db through the stand-in, TLS verified, IAM token.
            const health = await fetch(`${ready.appUrl}/health/db`, { signal: AbortSignal.timeout(10_000) });
            const body = (await health.json()) as { user: string; tlsVerified: boolean };
            assert.equal(health.status, 200, JSON.stringify(body));
            assert.deepEqual([body.user, body.tlsVerified], [ready.user, true]);

            child.kill("SIGTERM");
            assert.deepEqual(await exited, { code: 0, signal: null });
            assert.equal(stdout.trim().split("\n").length, 1, `stdout: ${stdout}`);
            assert.ok(!existsSync(path.dirname(caFile)), "the temp folder must be gone");
            assert.ok(!stderr.includes(String(ready.secretAccessKey)), "the secret key must not be logged");
            assert.ok(!stderr.includes(legacy.password), "the legacy password must not be logged");
        } finally {
            child.kill("SIGKILL");
        }
    });
});
