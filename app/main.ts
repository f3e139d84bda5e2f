// The application's side of the stack: a small HTTP service that connects the way every task should,
// through @aurora-iam-proxy/client (a fresh IAM token per connection, verify-full TLS, bounded retries).
//
//   GET /health            the process is up (no database call)
//   GET /health/db         SELECT 1 through the proxy as DB_USER: 200 {user, tlsVerified, serverVersion, latencyMs},
//                          or 503 {user, reason} with a one-line reason
//   GET /health/db/reader  the same through DB_READER_HOST as DB_READONLY_USER (404 where that is not set)
//
// Settings: the task definition's environment (client/README.md, "The environment contract"), PORT
// (default 8080) and the AWS SDK's own credential chain (the task role in ECS). The container health
// check calls /health/db (components/ecs.ts). Nothing here prints a token: answers and logs carry
// classified, redacted reasons only.
import http from "node:http";
import { createIamPool, IamPool, poolOptionsFromEnv, redact, socketOf, tlsFacts, type EnvPoolOptions } from "@aurora-iam-proxy/client";

/** Bounds that keep one check well inside the container health check's 5-second timeout. */
const CHECK = { connectionTimeoutMillis: 2_000, queryTimeoutMillis: 2_000, retry: { attempts: 2, baseDelayMs: 100, maxDelayMs: 400 } };

export interface DbHealth {
    status: "ok" | "unavailable";
    user: string;
    endpoint: string;
    tlsVerified?: boolean;
    serverVersion?: string;
    latencyMs: number;
    reason?: string;
}

function log(fields: Record<string, unknown>): void {
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...fields })}\n`);
}

function oneLine(err: unknown): string {
    const text = err instanceof Error ? err.message : String(err);
    return redact(text.replace(/\s+/g, " ").trim()).slice(0, 300);
}

/**
 * One check opens a NEW connection (and closes it): it proves the token, TLS, IAM policy and grant
 * as they are now, not as they were when a pooled connection was opened an hour ago.
 */
async function checkDatabase(pool: IamPool, options: EnvPoolOptions): Promise<DbHealth> {
    const started = performance.now();
    const endpoint = `${options.proxyHost ?? options.host}:${options.proxyPort ?? options.port}`;
    const base = { user: options.user, endpoint };
    let client;
    try {
        client = await pool.connect();
    } catch (err) {
        return { status: "unavailable", ...base, latencyMs: Math.round(performance.now() - started), reason: oneLine(err) };
    }
    let broken: Error | undefined;
    try {
        const { rows } = await client.query<{ one: number; server_version: string }>(
            "SELECT 1 AS one, current_setting('server_version') AS server_version",
        );
        const tls = tlsFacts(socketOf(client));
        const tlsVerified = tls.encrypted && tls.authorized;
        if (!tlsVerified) throw new Error(`TLS to ${endpoint} is not verified (${tls.authorizationError ?? "not encrypted"})`);
        return {
            status: "ok",
            ...base,
            tlsVerified,
            serverVersion: rows[0].server_version,
            latencyMs: Math.round(performance.now() - started),
        };
    } catch (err) {
        broken = err as Error;
        return { status: "unavailable", ...base, latencyMs: Math.round(performance.now() - started), reason: oneLine(err) };
    } finally {
        client.release(broken ?? true);
    }
}

export function createService(env: Record<string, string | undefined> = process.env): { server: http.Server; close(): Promise<void> } {
    const settings = poolOptionsFromEnv(env);
    const pools = {
        writer: createIamPool({
            ...settings.writer,
            max: 2,
            ...CHECK,
            onIdleError: (e) => log({ level: "warn", event: "idle-connection-error", kind: e.kind, reason: e.message }),
        }),
        ...(settings.reader ? { reader: createIamPool({ ...settings.reader, max: 2, ...CHECK }) } : {}),
    };

    const answer = (res: http.ServerResponse, status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
        res.end(`${JSON.stringify(body)}\n`);
    };
    const server = http.createServer((req, res) => {
        const url = (req.url ?? "/").split("?")[0];
        if (req.method !== "GET" && req.method !== "HEAD") return answer(res, 405, { error: `method ${req.method} not allowed; use GET` });
        if (url === "/health") return answer(res, 200, { status: "ok" });
        const which = url === "/health/db" ? "writer" : url === "/health/db/reader" ? "reader" : undefined;
        if (!which) return answer(res, 404, { error: `no route ${url}; try /health, /health/db or /health/db/reader` });
        const pool = pools[which];
        const options = settings[which];
        if (!pool || !options) return answer(res, 404, { error: "no reader configured: DB_READONLY_USER is not set" });
        checkDatabase(pool, options).then(
            (health) => {
                if (health.status !== "ok")
                    log({ level: "warn", event: "health-db-failed", endpoint: which, user: health.user, reason: health.reason });
                answer(res, health.status === "ok" ? 200 : 503, health);
            },
            (err) => answer(res, 503, { status: "unavailable", user: options.user, reason: oneLine(err) }),
        );
    });
    // An idle keep-alive socket must not hold shutdown up; the health checker opens one request per connection.
    server.keepAliveTimeout = 5_000;
    return {
        server,
        close: async () => {
            await new Promise<void>((resolve) => server.close(() => resolve()));
            await Promise.all(Object.values(pools).map((p) => p.end()));
        },
    };
}

function main(): void {
    const port = Number(process.env.PORT ?? 8080);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
        process.stderr.write(`app: PORT is ${JSON.stringify(process.env.PORT)}; expected a port number such as 8080\n`);
        process.exit(2);
    }
    let service: ReturnType<typeof createService>;
    try {
        service = createService();
    } catch (err) {
        process.stderr.write(`app: ${oneLine(err)}\n`);
        process.exit(2);
    }
    // 0.0.0.0 in the container (awsvpc: only the task's ENI); HOST=127.0.0.1 locally.
    service.server.listen(port, process.env.HOST ?? "0.0.0.0", () => {
        const address = service.server.address();
        log({ level: "info", event: "listening", port: typeof address === "object" && address ? address.port : port });
    });
    let stopping = false;
    const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log({ level: "info", event: "stopping", signal });
        // ECS sends SIGTERM, then SIGKILL after stopTimeout (30 s default); finish well before.
        setTimeout(() => process.exit(1), 10_000).unref();
        service.close().then(
            () => process.exit(0),
            () => process.exit(1),
        );
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
}

if (require.main === module) main();
