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

import { execFile, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { Client } from "pg";
import { tokenFactory } from "../client/token";
import { parseOutputsJson } from "../smoke/outputs";
import { LOCAL_USERS, LocalDataPlane, startLocalDataPlane } from "../local/dataplane";
import { ConnectArgs, ConnectError, operatorTarget, parseConnectArgs } from "./db-connect/args";
import { connectThrough, pgEnv, psqlConninfo, runSql, Through } from "./db-connect/connection";
import { startLocalTunnel, startSsmTunnel, Tunnel } from "./db-connect/tunnel";

// The parts, for callers and tests that use them directly.
export * from "./db-connect/args";
export * from "./db-connect/connection";
export * from "./db-connect/tunnel";

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
        execFile(
            "pulumi",
            ["stack", "output", "--json", "-s", stack],
            { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024, env, windowsHide: true },
            (err, stdout, stderr) => {
                if (err) {
                    const e = err as NodeJS.ErrnoException & { killed?: boolean };
                    if (e.code === "ENOENT")
                        reject(
                            new ConnectError(
                                `db:connect: the pulumi CLI is not installed (pulumi not found on PATH); install it and pulumi login, or ask for the stack's outputs`,
                            ),
                        );
                    else if (e.killed)
                        reject(
                            new ConnectError(
                                `db:connect: "pulumi stack output" did not finish within ${timeoutMs / 1000}s; check pulumi login and the network`,
                            ),
                        );
                    else
                        reject(
                            new ConnectError(
                                `db:connect: "pulumi stack output -s ${stack}" failed: ${String(stderr).trim().split("\n").pop() || e.message}`,
                            ),
                        );
                    return;
                }
                try {
                    resolve(parseOutputsJson(String(stdout), `--stack ${stack}`));
                } catch (parseErr) {
                    reject(new ConnectError(`db:connect: ${(parseErr as Error).message}`));
                }
            },
        );
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
    const onSignal = () => {
        void cleanup().then(() => process.exit(130));
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
        const caPem = args.caFile !== undefined ? readCa(args.caFile) : undefined;
        let through: Through;
        if (args.source.kind === "local") {
            const plane = io.plane ?? (ownPlane = await startLocalDataPlane({ users: LOCAL_USERS, reader: args.reader }));
            const names = plane.users.map((u) => u.name);
            const user = args.user ?? plane.users.find((u) => u.access === "readonly")?.name ?? plane.user;
            if (!names.includes(user))
                throw new ConnectError(`db:connect: --user ${user} is not a user of the local plane; it has ${names.join(", ")}`);
            const at = args.reader ? plane.reader : { host: plane.host, port: plane.port, proxyHost: plane.proxyHost };
            if (!at) throw new ConnectError("db:connect: this local plane has no READ_ONLY stand-in; drop --reader");
            const routes = {
                [plane.proxyHost]: { host: plane.host, port: plane.port },
                ...(plane.reader ? { [plane.reader.proxyHost]: { host: plane.reader.host, port: plane.reader.port } } : {}),
            };
            const endpoint = args.host ?? at.proxyHost;
            tunnel = await startLocalTunnel({ host: endpoint, port: plane.proxyPort }, routes);
            through = {
                endpoint,
                port: plane.proxyPort,
                database: plane.database,
                user,
                region: plane.region,
                credentials: { accessKeyId: plane.accessKeyId, secretAccessKey: plane.secretAccessKey },
                caPem: [readFileSync(plane.caFile, "utf8"), caPem].filter(Boolean).join("\n"),
            };
        } else {
            const stack = args.source.stack;
            const target = operatorTarget(await readStackOutputsRaw(stack, io.env), {
                stack,
                user: args.user,
                reader: args.reader,
                host: args.host,
            });
            io.err(
                `db:connect: forwarding 127.0.0.1 to ${target.endpoint}:${target.port} through relay ${target.relayInstanceId} (${stack}), as ${target.user}`,
            );
            tunnel = await startWithOneRetry(
                () =>
                    startSsmTunnel({
                        relayInstanceId: target.relayInstanceId!,
                        documentName: target.sessionDocument,
                        host: target.endpoint,
                        region: target.region,
                        localPort: args.localPort,
                        timeoutMs: io.tunnelTimeoutMs,
                        env: io.env,
                    }),
                io,
            );
            through = {
                endpoint: target.endpoint,
                port: target.port,
                database: target.database,
                user: target.user,
                region: target.region,
                caPem,
            };
        }

        if (args.action.kind === "sql") {
            client = await connectThrough(tunnel, through, { queryTimeoutMs: args.timeoutSeconds * 1000 });
            for (const line of await runSql(client, args.action.sql, tunnel, through)) io.out(line);
            return 0;
        }
        const token = await tokenFactory({ host: through.endpoint, port: through.port, user: through.user, region: through.region })();
        const caFile = args.caFile;
        if (args.action.kind === "print-env") {
            for (const [k, v] of Object.entries(
                pgEnv({
                    endpoint: through.endpoint,
                    localPort: tunnel.localPort,
                    database: through.database,
                    user: through.user,
                    caFile,
                    token,
                }),
            )) {
                io.out(`export ${k}='${v.replace(/'/g, "'\\''")}'`);
            }
            io.err("db:connect: the tunnel stays open until Ctrl-C; the token is valid for 15 minutes (for new connections)");
            const open = tunnel;
            const ended = await new Promise<boolean>((resolve) => {
                const watch = setInterval(() => {
                    if (open.closed) {
                        clearInterval(watch);
                        resolve(true);
                    }
                }, 1_000);
                const stop = () => {
                    clearInterval(watch);
                    resolve(false);
                };
                process.once("SIGINT", stop);
                process.once("SIGTERM", stop);
            });
            if (ended)
                throw new ConnectError(
                    "db:connect: the tunnel dropped (the Session Manager session ended); run the command again for a new one",
                );
            return 0;
        }
        const conninfo = psqlConninfo({
            endpoint: through.endpoint,
            localPort: tunnel.localPort,
            database: through.database,
            user: through.user,
            caFile,
        });
        const psql = spawnSync("psql", [conninfo], { stdio: "inherit", env: { ...io.env, PGPASSWORD: token } });
        if ((psql.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
            throw new ConnectError(
                "db:connect: psql is not installed; install the PostgreSQL client (16+ for sslrootcert=system, or pass --ca), or use -c SQL / --print-env",
            );
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
        throw new ConnectError(
            `db:connect: --ca ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? "error"}); download https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem or drop --ca`,
        );
    }
    if (!text.includes("-----BEGIN CERTIFICATE-----")) throw new ConnectError(`db:connect: --ca ${file} holds no PEM certificate`);
    return text;
}

if (require.main === module) {
    void run(process.argv.slice(2), { out: (l) => console.log(l), err: (l) => console.error(l), env: process.env }).then((code) =>
        process.exit(code),
    );
}
