// npm run db:connect — an operator's way in to a stack's VPC-only RDS Proxy (issue 10), with every detail right:
//
//   1. reads the stack's outputs (`pulumi stack output --json`): proxy endpoint, relay instance, operator users;
//   2. starts a Session Manager port forward through the relay to the proxy endpoint's 5432 with the stack's own
//      Session document (aws ssm start-session --document-name <operatorSessionDocument>, which admits only the
//      proxy's endpoint names and fixes the port at 5432) on a free local port, and waits (bounded) until that
//      port accepts;
//   3. signs the IAM token for the PROXY ENDPOINT and 5432 — never 127.0.0.1 and the local port, which the
//      proxy refuses ("PAM authentication failed");
//   4. connects to 127.0.0.1 with TLS verify-full against the PROXY'S NAME (node-postgres: ssl.servername;
//      psql: host=<endpoint> hostaddr=127.0.0.1), trusting Node's roots (RDS Proxy's certificates come from ACM
//      and chain to Amazon's root CAs) plus an optional --ca bundle.
//
// --local runs the same path against the local plane, with a TCP forwarder standing in for the tunnel that applies
// the document's host rule (components/operator-session.ts), so a request for another host is refused the same way.
// Every wait is bounded; the tunnel is closed on exit and on SIGINT/SIGTERM.

import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import * as net from "node:net";
import { parseArgs } from "node:util";
import { Client } from "pg";
import { classifyError } from "../client/errors";
import { Credentials, tokenFactory } from "../client/token";
import { verifyFullSsl } from "../client/tls";
import { parseOutputsJson } from "../smoke/outputs";
import { TUNNEL_PORT, tunnelRequestProblem } from "../components/operator-session";
import { LOCAL_USERS, LocalDataPlane, PROXY_PORT, startLocalDataPlane } from "../local/dataplane";
import { freePort } from "../local/postgres";

export const USAGE = `Usage:
  npm run db:connect -- --stack NAME [--user NAME] [--reader | --host NAME] [-c SQL | --psql | --print-env] [--ca FILE] [--local-port N]
  npm run db:connect -- --local [--user NAME] [--reader | --host NAME] -c SQL

  --stack NAME      the Pulumi stack whose outputs name the proxy, the relay and the operator users
  --local           the local plane instead (npm start's stand-ins), through a local TCP forwarder
  --user NAME       database user (default: the stack's readonly operator user); one of operatorUsers
  --reader          through the READ_ONLY proxy endpoint (stacks that have one)
  --host NAME       the proxy endpoint to forward to, by name; the tunnel refuses any other host
  -c SQL            run SQL and print the rows (tab-separated, no header)
  --psql            run psql with host=<endpoint> hostaddr=127.0.0.1 sslmode=verify-full (the default)
  --print-env       print PG* variables (token included) for other tools, then keep the tunnel open until Ctrl-C
  --ca FILE         extra trusted CA bundle (PEM), e.g. https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
  --local-port N    the local end of the tunnel (default: a free port)
  --timeout S       the longest -c may run, in seconds (default 600: long enough for a migration, never forever)

AWS credentials come from the usual chain (AWS_PROFILE, aws sso login); use the stack's operatorRoleArn.`;

/** Where the AWS CLI v2 and the Session Manager plugin are documented for installation. */
export const INSTALL = {
    awsCli: "https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html",
    plugin: "https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html",
};

export type Action = { kind: "sql"; sql: string } | { kind: "psql" } | { kind: "print-env" };

export interface ConnectArgs {
    source: { kind: "stack"; stack: string } | { kind: "local" };
    user?: string;
    reader: boolean;
    /** The host the tunnel is asked for (default: the writer endpoint, or the READ_ONLY one with --reader). */
    host?: string;
    action: Action;
    caFile?: string;
    localPort?: number;
    /** The bound on -c, in seconds. */
    timeoutSeconds: number;
}

export class ConnectError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ConnectError";
    }
}

/** The command line, validated: one line per mistake, naming the flag, the value and what is allowed. */
export function parseConnectArgs(argv: string[]): ConnectArgs {
    let values: Record<string, string | boolean | undefined>;
    try {
        ({ values } = parseArgs({
            args: argv,
            options: {
                stack: { type: "string" }, local: { type: "boolean" }, user: { type: "string" }, reader: { type: "boolean" }, host: { type: "string" },
                c: { type: "string", short: "c" }, psql: { type: "boolean" }, "print-env": { type: "boolean" },
                ca: { type: "string" }, "local-port": { type: "string" }, timeout: { type: "string" }, help: { type: "boolean", short: "h" },
            },
            strict: true,
        }));
    } catch (err) {
        throw new ConnectError(`db:connect: ${(err as Error).message}`);
    }
    if (values.help) throw new ConnectError(USAGE);
    if ((values.stack === undefined) === (values.local !== true)) {
        throw new ConnectError("db:connect: name exactly one of --stack NAME (a deployed stack) or --local (the local plane)");
    }
    if (values.stack !== undefined && !/^[A-Za-z0-9_.\-/]{1,200}$/.test(String(values.stack))) {
        throw new ConnectError(`db:connect: --stack is ${JSON.stringify(values.stack)}; expected a stack name such as dev or prod`);
    }
    if (values.user !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(String(values.user))) {
        throw new ConnectError(`db:connect: --user is ${JSON.stringify(values.user)}; expected a database user name such as app_reader`);
    }
    if (values.host !== undefined && values.reader) throw new ConnectError("db:connect: choose one of --reader or --host NAME");
    if (values.host !== undefined && !/^[A-Za-z0-9.:\-[\]]{1,253}$/.test(String(values.host))) {
        throw new ConnectError(`db:connect: --host is ${JSON.stringify(values.host)}; expected a proxy endpoint's DNS name`);
    }
    const actions = [values.c !== undefined, values.psql === true, values["print-env"] === true].filter(Boolean).length;
    if (actions > 1) throw new ConnectError("db:connect: choose one of -c SQL, --psql or --print-env");
    if (values.local && values.c === undefined) throw new ConnectError("db:connect: --local runs -c SQL only (e.g. -c \"select current_user\")");
    let localPort: number | undefined;
    if (values["local-port"] !== undefined) {
        localPort = Number(values["local-port"]);
        if (!Number.isInteger(localPort) || localPort < 1024 || localPort > 65535) {
            throw new ConnectError(`db:connect: --local-port is ${JSON.stringify(values["local-port"])}; expected an integer 1024..65535`);
        }
    }
    const timeoutSeconds = values.timeout === undefined ? 600 : Number(values.timeout);
    if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 86_400) {
        throw new ConnectError(`db:connect: --timeout is ${JSON.stringify(values.timeout)}; expected seconds, an integer 1..86400`);
    }
    const action: Action = values.c !== undefined ? { kind: "sql", sql: String(values.c) } : values["print-env"] ? { kind: "print-env" } : { kind: "psql" };
    return {
        source: values.local ? { kind: "local" } : { kind: "stack", stack: String(values.stack) },
        ...(values.user !== undefined ? { user: String(values.user) } : {}),
        reader: values.reader === true,
        ...(values.host !== undefined ? { host: String(values.host) } : {}),
        action,
        ...(values.ca !== undefined ? { caFile: String(values.ca) } : {}),
        ...(localPort !== undefined ? { localPort } : {}),
        timeoutSeconds,
    };
}

/** What the command needs from a stack's outputs. */
export interface OperatorTarget {
    region: string;
    database: string;
    /** The proxy endpoint (writer, or READ_ONLY with --reader): what the token is signed for and TLS verifies. */
    endpoint: string;
    /** RDS Proxy's port: 5432. */
    port: number;
    user: string;
    relayInstanceId?: string;
    /** The stack's Session document: forwards only to the proxy's endpoints (below), on 5432. */
    sessionDocument: string;
    /** Every endpoint name the document admits: the writer and, where there is one, the READ_ONLY endpoint. */
    proxyEndpoints: string[];
}

/** Picks the endpoint and user from `pulumi stack output --json`; every missing piece is one line with its fix. */
export function operatorTarget(outputs: unknown, o: { stack: string; user?: string; reader: boolean; host?: string }): OperatorTarget {
    const out = (outputs ?? {}) as Record<string, unknown>;
    const str = (key: string) => (typeof out[key] === "string" && out[key] !== "" ? (out[key] as string) : undefined);
    const relay = str("relayInstanceId");
    if (!relay) {
        throw new ConnectError(`db:connect: stack ${o.stack} has no relayInstanceId output: operator access is off or not deployed; set operator.enabled: true and run pulumi up`);
    }
    const sessionDocument = str("operatorSessionDocument");
    if (!sessionDocument) {
        throw new ConnectError(`db:connect: stack ${o.stack} has no operatorSessionDocument output: it predates the tunnel locked to the proxy (issue 15); run pulumi up`);
    }
    const proxyEndpoints = [str("proxyEndpoint"), str("proxyReaderEndpoint")].filter((e): e is string => e !== undefined);
    if (o.host !== undefined && proxyEndpoints.length === 0) {
        throw new ConnectError(`db:connect: stack ${o.stack} has no proxyEndpoint output; has it been deployed?`);
    }
    if (o.host !== undefined) {
        const problem = tunnelRequestProblem(proxyEndpoints, { host: o.host, port: TUNNEL_PORT });
        if (problem) throw new ConnectError(`db:connect: ${problem}`);
    }
    const endpoint = o.host ?? (o.reader ? str("proxyReaderEndpoint") : str("proxyEndpoint"));
    if (!endpoint) {
        throw new ConnectError(o.reader
            ? `db:connect: stack ${o.stack} has no READ_ONLY proxy endpoint (proxyReaderEndpoint output); drop --reader`
            : `db:connect: stack ${o.stack} has no proxyEndpoint output; has it been deployed?`);
    }
    const region = str("region");
    const database = str("dbName");
    if (!region || !database) throw new ConnectError(`db:connect: stack ${o.stack}'s outputs lack region or dbName; expected this program's outputs`);
    const operatorUsers = Array.isArray(out.operatorUsers) ? (out.operatorUsers as unknown[]).filter((u): u is string => typeof u === "string") : [];
    if (operatorUsers.length === 0) {
        throw new ConnectError(`db:connect: stack ${o.stack} gives operators no database user (operatorUsers is empty); set operator.users and run pulumi up`);
    }
    const users = Array.isArray(out.dbUsers) ? (out.dbUsers as Array<{ name?: string; access?: string; endpoint?: string }>) : [];
    let user = o.user;
    if (user === undefined) {
        const readonly = operatorUsers.filter((n) => users.find((u) => u.name === n)?.access === "readonly");
        user = (o.reader ? readonly.find((n) => users.find((u) => u.name === n)?.endpoint === "reader") : undefined) ?? readonly[0];
        if (!user) throw new ConnectError(`db:connect: stack ${o.stack} has no readonly operator user to default to; pass --user (one of ${operatorUsers.join(", ")})`);
    } else if (!operatorUsers.includes(user)) {
        throw new ConnectError(`db:connect: --user ${user} is not an operator user of stack ${o.stack}; the operator role may connect as ${operatorUsers.join(", ")} (operator.users)`);
    }
    const port = typeof out.proxyPort === "number" ? out.proxyPort : PROXY_PORT;
    return { region, database, endpoint, port, user, relayInstanceId: relay, sessionDocument, proxyEndpoints };
}

/**
 * `aws ssm start-session` forwarding localhost:<localPort> to <host>:5432 through the relay with the stack's
 * document. Its parameters are lists of strings (host, localPortNumber); the port is no parameter: the document
 * fixes it at 5432, and a portNumber the document does not declare would be refused.
 */
export function startSessionArgv(o: { relayInstanceId: string; documentName: string; host: string; localPort: number; region: string }): string[] {
    return [
        "ssm", "start-session",
        "--target", o.relayInstanceId,
        "--document-name", o.documentName,
        "--parameters", JSON.stringify({ host: [o.host], localPortNumber: [String(o.localPort)] }),
        "--region", o.region,
    ];
}

/**
 * libpq's connection string through the tunnel: `host` is the proxy's name, which verify-full checks and which
 * libpq sends as SNI; `hostaddr` is where the socket goes. Without --ca, `sslrootcert=system` (libpq 16+) trusts
 * the operating system's roots, which include Amazon's.
 */
export function psqlConninfo(o: { endpoint: string; localPort: number; database: string; user: string; caFile?: string }): string {
    return [
        `host=${o.endpoint}`, "hostaddr=127.0.0.1", `port=${o.localPort}`, `dbname=${o.database}`, `user=${o.user}`,
        "sslmode=verify-full", `sslrootcert=${o.caFile ?? "system"}`,
    ].join(" ");
}

/** PG* variables for other tools (the only place a token is shown, and only on request). */
export function pgEnv(o: { endpoint: string; localPort: number; database: string; user: string; caFile?: string; token: string }): Record<string, string> {
    return {
        PGHOST: o.endpoint,
        PGHOSTADDR: "127.0.0.1",
        PGPORT: String(o.localPort),
        PGDATABASE: o.database,
        PGUSER: o.user,
        PGSSLMODE: "verify-full",
        PGSSLROOTCERT: o.caFile ?? "system",
        PGPASSWORD: o.token,
    };
}

/** One line with the fix for what the AWS CLI printed when the tunnel would not start (or ended). */
export function classifyAwsFailure(stderr: string, o: { relayInstanceId?: string; spawnError?: string } = {}): string {
    const text = stderr.trim();
    if (o.spawnError === "ENOENT") {
        return `the AWS CLI is not installed (aws not found on PATH); install AWS CLI v2 (${INSTALL.awsCli}) and the Session Manager plugin (${INSTALL.plugin})`;
    }
    if (/SessionManagerPlugin is not found|session-manager-plugin.*not found/i.test(text)) {
        return `the Session Manager plugin for the AWS CLI is not installed; install it (${INSTALL.plugin}), check with session-manager-plugin --version, and run the command again`;
    }
    if (/Unable to locate credentials|NoCredentialProviders|could not be found.*credentials/i.test(text)) {
        return "no AWS credentials: sign in (aws sso login --profile <profile>) and use a profile that assumes the stack's operatorRoleArn (AWS_PROFILE=...)";
    }
    if (/ExpiredToken|security token included in the request is expired|Token has expired|refresh failed/i.test(text)) {
        return "your AWS credentials have expired: sign in again (aws sso login --profile <profile>) and run the command again";
    }
    if (/TargetNotConnected/.test(text)) {
        return `the relay ${o.relayInstanceId ?? ""} is not connected to Systems Manager (stopped, starting, or its agent cannot reach SSM through NAT); ` +
            "start it (aws ec2 start-instances --instance-ids <relayInstanceId>), wait a minute and run the command again";
    }
    if (/AccessDenied|not authorized to perform/i.test(text)) {
        return "AWS refused the session: use credentials of the stack's operator role (operatorRoleArn), which may start sessions on the relay with the stack's document (operatorSessionDocument) only";
    }
    if (/InvalidParameters|allowed pattern|does not match/i.test(text)) {
        return `the session document refused the request (${text.split("\n").filter(Boolean).pop()}): it forwards only to this stack's proxy endpoints on 5432; pass one of them with --host, or none`;
    }
    const last = text.split("\n").filter(Boolean).pop();
    return `the Session Manager tunnel did not start: ${last ?? "the AWS CLI exited without a message"}`;
}

/** One line with the fix for a database error seen through the tunnel. */
export function classifyDatabaseFailure(err: unknown, o: { endpoint: string; port: number; tunnelClosed: boolean }): string {
    const classified = classifyError(err, { host: o.endpoint, port: o.port });
    if (o.tunnelClosed || (["network", "other"].includes(classified.kind) && /terminated unexpectedly|ECONNRESET|EPIPE|Connection terminated/i.test(classified.message))) {
        return `the tunnel dropped (the Session Manager session or the local forwarder ended) while talking to ${o.endpoint}:${o.port}; ` +
            "nothing is retried automatically because the statement may or may not have run: check, then run the command again";
    }
    switch (classified.kind) {
        case "auth":
            return `the proxy refused the IAM token for ${o.endpoint}:${o.port}: ${classified.message}`;
        case "tls":
            return `TLS verify-full against ${o.endpoint} failed: ${classified.message}`;
        case "credentials":
            return `${classified.message} (use a profile that assumes the stack's operatorRoleArn)`;
        default:
            return classified.message;
    }
}

/** The local end of a tunnel: a port on 127.0.0.1 that leads to the proxy. */
export interface Tunnel {
    localPort: number;
    /** True once the tunnel has ended (the aws process exited, the forwarder closed). */
    readonly closed: boolean;
    close(): Promise<void>;
}

/** Resolves once 127.0.0.1:port accepts a TCP connection; rejects at the deadline or when `gaveUp` says so. */
export async function waitForPort(port: number, timeoutMs: number, gaveUp: () => string | undefined = () => undefined,
    o: { ready?: () => boolean; probeAfterMs?: number } = {}): Promise<void> {
    const started = Date.now();
    const deadline = started + timeoutMs;
    for (;;) {
        const reason = gaveUp();
        if (reason) throw new ConnectError(reason);
        if (o.ready?.()) return;
        // Each probe is a connection the tunnel forwards; with a readiness signal, probe only if it never comes.
        const probe = Date.now() - started >= (o.probeAfterMs ?? 0);
        const ok = probe && await new Promise<boolean>((resolve) => {
            const socket = net.connect({ host: "127.0.0.1", port });
            const done = (v: boolean) => { socket.destroy(); resolve(v); };
            socket.setTimeout(500, () => done(false));
            socket.once("connect", () => done(true));
            socket.once("error", () => done(false));
        });
        if (ok) return;
        if (Date.now() > deadline) throw new ConnectError(`the tunnel's local port 127.0.0.1:${port} did not accept connections within ${timeoutMs / 1000}s; run the command again`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

/** The Session Manager port forward: `aws ssm start-session ...` as a child process, killed on close. */
export async function startSsmTunnel(o: { relayInstanceId: string; documentName: string; host: string; region: string; localPort?: number; timeoutMs?: number; awsBin?: string; env?: NodeJS.ProcessEnv }): Promise<Tunnel> {
    const localPort = o.localPort ?? (await freePort());
    const argv = startSessionArgv({ relayInstanceId: o.relayInstanceId, documentName: o.documentName, host: o.host, localPort, region: o.region });
    let stderr = "";
    let stdout = "";
    let exited = false;
    let spawnError: string | undefined;
    // Its own process group: a Ctrl-C meant for psql (cancel a query) must not end the tunnel under it.
    const child: ChildProcess = spawn(o.awsBin ?? "aws", argv, { stdio: ["ignore", "pipe", "pipe"], windowsHide: true, env: o.env ?? process.env, detached: true });
    child.stdout!.on("data", (b: Buffer) => { stdout += b.toString(); stderr += b.toString(); });
    child.stderr!.on("data", (b: Buffer) => { stderr += b.toString(); });
    child.once("error", (err: NodeJS.ErrnoException) => { spawnError = err.code ?? "error"; exited = true; });
    child.once("exit", () => { exited = true; });
    // The whole group: aws starts session-manager-plugin, which must end with it.
    const signal = (sig: NodeJS.Signals) => {
        try { process.kill(-child.pid!, sig); } catch { child.kill(sig); }
    };
    const kill = () => { if (!exited) signal("SIGTERM"); };
    process.once("exit", kill);
    const tunnel: Tunnel = {
        localPort,
        get closed() { return exited; },
        async close() {
            process.off("exit", kill);
            if (exited) return;
            const gone = new Promise<void>((r) => child.once("exit", () => r()));
            signal("SIGTERM");
            const timer = setTimeout(() => signal("SIGKILL"), 2_000);
            await gone;
            clearTimeout(timer);
        },
    };
    try {
        await waitForPort(localPort, o.timeoutMs ?? 30_000, () => {
            if (!exited) return undefined;
            // Give the last output a moment to arrive before judging it.
            return classifyAwsFailure(stderr, { relayInstanceId: o.relayInstanceId, spawnError });
        }, {
            // The plugin prints this once the local port listens; probing the port is the fallback.
            ready: () => /Waiting for connections/.test(stdout),
            probeAfterMs: 5_000,
        });
    } catch (err) {
        await tunnel.close();
        if (spawnError === undefined && exited) throw new ConnectError(classifyAwsFailure(stderr, { relayInstanceId: o.relayInstanceId }));
        throw err;
    }
    return tunnel;
}

/**
 * The local stand-in for the Session Manager tunnel with the stack's document: a session is asked for a host
 * name and a port, and, like the document, it refuses anything but one of the proxy endpoints on 5432
 * (tunnelRequestProblem, the rule the document's allowedPattern carries). `routes` plays the VPC's DNS:
 * proxy endpoint name → where its stand-in listens.
 */
export async function startLocalTunnel(request: { host: string; port: number }, routes: Record<string, { host: string; port: number }>): Promise<Tunnel & { drop(): void }> {
    const problem = tunnelRequestProblem(Object.keys(routes), request);
    if (problem) throw new ConnectError(`db:connect: ${problem}`);
    return startTcpForwarder(routes[request.host]);
}

/** A TCP forwarder from a free port on 127.0.0.1 to `to` (what a port-forwarding session does once it is allowed). */
export async function startTcpForwarder(to: { host: string; port: number }): Promise<Tunnel & { drop(): void }> {
    const sockets = new Set<net.Socket>();
    let closed = false;
    const server = net.createServer((client) => {
        const upstream = net.connect(to);
        sockets.add(client);
        sockets.add(upstream);
        const end = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
        client.on("error", end);
        upstream.on("error", end);
        client.on("close", end);
        upstream.on("close", end);
        client.pipe(upstream);
        upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address() as net.AddressInfo;
    const close = () => new Promise<void>((resolve) => {
        closed = true;
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
    });
    return {
        localPort: address.port,
        get closed() { return closed; },
        close,
        /** Drops every connection and stops accepting: what a Session Manager session ending looks like. */
        drop() { void close(); },
    };
}

export interface Through {
    endpoint: string;
    port: number;
    database: string;
    user: string;
    region: string;
    credentials?: Credentials;
    caPem?: string;
}

/** Connects through the tunnel: to 127.0.0.1:<local port>, TLS verify-full and the token for the endpoint and 5432. */
export async function connectThrough(tunnel: Tunnel, t: Through, o: { connectTimeoutMs?: number; queryTimeoutMs?: number } = {}): Promise<Client> {
    const token = tokenFactory({ host: t.endpoint, port: t.port, user: t.user, region: t.region, ...(t.credentials ? { credentials: t.credentials } : {}) });
    const client = new Client({
        host: "127.0.0.1",
        port: tunnel.localPort,
        database: t.database,
        user: t.user,
        password: () => token(),
        // servername = the proxy's name: verify-full checks the certificate against it, never against 127.0.0.1.
        ssl: verifyFullSsl(t.endpoint, t.caPem),
        connectionTimeoutMillis: o.connectTimeoutMs ?? 10_000,
        query_timeout: o.queryTimeoutMs ?? 60_000,
        application_name: "db-connect",
    });
    client.on("error", () => undefined);
    try {
        await client.connect();
    } catch (err) {
        await client.end().catch(() => undefined);
        throw new ConnectError(classifyDatabaseFailure(err, { endpoint: t.endpoint, port: t.port, tunnelClosed: tunnel.closed }));
    }
    return client;
}

/** Runs SQL and returns its rows as tab-separated lines (no header), like psql -At. */
export async function runSql(client: Client, sql: string, tunnel: Tunnel, t: { endpoint: string; port: number }): Promise<string[]> {
    try {
        const result = await client.query({ text: sql, rowMode: "array" });
        const results = Array.isArray(result) ? result : [result];
        return results.flatMap((r) => (r.rows as unknown[][]).map((row) => row.map((v) => (v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v))).join("\t")));
    } catch (err) {
        const code = (err as { code?: string }).code;
        // A statement error (SQLSTATE) is the database's answer, not a tunnel problem.
        if (code && /^[0-9A-Z]{5}$/.test(code) && !["57P01", "08006", "08003"].includes(code)) throw new ConnectError(`${(err as Error).message} (SQLSTATE ${code})`);
        throw new ConnectError(classifyDatabaseFailure(err, { ...t, tunnelClosed: tunnel.closed }));
    }
}

export interface Io {
    out(line: string): void;
    err(line: string): void;
    env: NodeJS.ProcessEnv;
    /** Tests: the local plane to use instead of starting one. */
    plane?: LocalDataPlane;
    /** Tests: a bound for the tunnel to come up (default 30 s). */
    tunnelTimeoutMs?: number;
}

function readStackOutputsRaw(stack: string, env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<unknown> {
    return new Promise((resolve, reject) => {
        execFile("pulumi", ["stack", "output", "--json", "-s", stack], { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024, env, windowsHide: true }, (err, stdout, stderr) => {
            if (err) {
                const e = err as NodeJS.ErrnoException & { killed?: boolean };
                if (e.code === "ENOENT") reject(new ConnectError(`db:connect: the pulumi CLI is not installed (pulumi not found on PATH); install it and pulumi login, or ask for the stack's outputs`));
                else if (e.killed) reject(new ConnectError(`db:connect: "pulumi stack output" did not finish within ${timeoutMs / 1000}s; check pulumi login and the network`));
                else reject(new ConnectError(`db:connect: "pulumi stack output -s ${stack}" failed: ${String(stderr).trim().split("\n").pop() || e.message}`));
                return;
            }
            try {
                resolve(parseOutputsJson(String(stdout), `--stack ${stack}`));
            } catch (parseErr) {
                reject(new ConnectError(`db:connect: ${(parseErr as Error).message}`));
            }
        });
    });
}

/** The whole command; returns the exit code. Never prints a token except with --print-env. */
export async function run(argv: string[], io: Io): Promise<number> {
    let args: ConnectArgs;
    try {
        args = parseConnectArgs(argv);
    } catch (err) {
        io.err((err as Error).message);
        return 2;
    }
    let tunnel: Tunnel | undefined;
    let client: Client | undefined;
    let ownPlane: LocalDataPlane | undefined;
    const cleanup = async () => {
        await client?.end().catch(() => undefined);
        await tunnel?.close().catch(() => undefined);
        await ownPlane?.stop().catch(() => undefined);
    };
    const onSignal = () => { void cleanup().then(() => process.exit(130)); };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
        const caPem = args.caFile !== undefined ? readCa(args.caFile) : undefined;
        let through: Through;
        if (args.source.kind === "local") {
            const plane = io.plane ?? (ownPlane = await startLocalDataPlane({ users: LOCAL_USERS, reader: args.reader }));
            const names = plane.users.map((u) => u.name);
            const user = args.user ?? plane.users.find((u) => u.access === "readonly")?.name ?? plane.user;
            if (!names.includes(user)) throw new ConnectError(`db:connect: --user ${user} is not a user of the local plane; it has ${names.join(", ")}`);
            const at = args.reader ? plane.reader : { host: plane.host, port: plane.port, proxyHost: plane.proxyHost };
            if (!at) throw new ConnectError("db:connect: this local plane has no READ_ONLY stand-in; drop --reader");
            const routes = {
                [plane.proxyHost]: { host: plane.host, port: plane.port },
                ...(plane.reader ? { [plane.reader.proxyHost]: { host: plane.reader.host, port: plane.reader.port } } : {}),
            };
            const endpoint = args.host ?? at.proxyHost;
            tunnel = await startLocalTunnel({ host: endpoint, port: plane.proxyPort }, routes);
            through = {
                endpoint, port: plane.proxyPort, database: plane.database, user, region: plane.region,
                credentials: { accessKeyId: plane.accessKeyId, secretAccessKey: plane.secretAccessKey },
                caPem: [readFileSync(plane.caFile, "utf8"), caPem].filter(Boolean).join("\n"),
            };
        } else {
            const stack = args.source.stack;
            const target = operatorTarget(await readStackOutputsRaw(stack, io.env), { stack, user: args.user, reader: args.reader, host: args.host });
            io.err(`db:connect: forwarding 127.0.0.1 to ${target.endpoint}:${target.port} through relay ${target.relayInstanceId} (${stack}), as ${target.user}`);
            tunnel = await startWithOneRetry(() => startSsmTunnel({
                relayInstanceId: target.relayInstanceId!, documentName: target.sessionDocument, host: target.endpoint, region: target.region,
                localPort: args.localPort, timeoutMs: io.tunnelTimeoutMs, env: io.env,
            }), io);
            through = { endpoint: target.endpoint, port: target.port, database: target.database, user: target.user, region: target.region, caPem };
        }

        if (args.action.kind === "sql") {
            client = await connectThrough(tunnel, through, { queryTimeoutMs: args.timeoutSeconds * 1000 });
            for (const line of await runSql(client, args.action.sql, tunnel, through)) io.out(line);
            return 0;
        }
        const token = await tokenFactory({ host: through.endpoint, port: through.port, user: through.user, region: through.region })();
        const caFile = args.caFile;
        if (args.action.kind === "print-env") {
            for (const [k, v] of Object.entries(pgEnv({ endpoint: through.endpoint, localPort: tunnel.localPort, database: through.database, user: through.user, caFile, token }))) {
                io.out(`export ${k}='${v.replace(/'/g, "'\\''")}'`);
            }
            io.err("db:connect: the tunnel stays open until Ctrl-C; the token is valid for 15 minutes (for new connections)");
            const open = tunnel;
            const ended = await new Promise<boolean>((resolve) => {
                const watch = setInterval(() => { if (open.closed) { clearInterval(watch); resolve(true); } }, 1_000);
                const stop = () => { clearInterval(watch); resolve(false); };
                process.once("SIGINT", stop);
                process.once("SIGTERM", stop);
            });
            if (ended) throw new ConnectError("db:connect: the tunnel dropped (the Session Manager session ended); run the command again for a new one");
            return 0;
        }
        const conninfo = psqlConninfo({ endpoint: through.endpoint, localPort: tunnel.localPort, database: through.database, user: through.user, caFile });
        const psql = spawnSync("psql", [conninfo], { stdio: "inherit", env: { ...io.env, PGPASSWORD: token } });
        if ((psql.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
            throw new ConnectError("db:connect: psql is not installed; install the PostgreSQL client (16+ for sslrootcert=system, or pass --ca), or use -c SQL / --print-env");
        }
        return psql.status ?? 1;
    } catch (err) {
        const message = (err as Error).message;
        io.err(message.startsWith("db:connect:") ? message : `db:connect: ${message}`);
        return 1;
    } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        await cleanup();
    }
}

/** A tunnel that fails to come up for a transient reason (not a missing tool or credentials) is tried once more. */
async function startWithOneRetry(start: () => Promise<Tunnel>, io: Io): Promise<Tunnel> {
    try {
        return await start();
    } catch (err) {
        const message = (err as Error).message;
        if (/not installed|no AWS credentials|expired|refused the session|refused the request|not connected/.test(message)) throw err;
        io.err(`db:connect: ${message}; trying once more`);
        return start();
    }
}

function readCa(file: string): string {
    let text: string;
    try {
        text = readFileSync(file, "utf8");
    } catch (err) {
        throw new ConnectError(`db:connect: --ca ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? "error"}); download https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem or drop --ca`);
    }
    if (!text.includes("-----BEGIN CERTIFICATE-----")) throw new ConnectError(`db:connect: --ca ${file} holds no PEM certificate`);
    return text;
}

if (require.main === module) {
    void run(process.argv.slice(2), { out: (l) => console.log(l), err: (l) => console.error(l), env: process.env }).then((code) => process.exit(code));
}
