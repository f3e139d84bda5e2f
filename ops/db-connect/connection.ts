// db:connect's connection through the tunnel: to 127.0.0.1, verify-full against the proxy's name, the token
// signed for the proxy endpoint and 5432; psql's connection string and PG* variables; one-line database errors.
import { Client } from "pg";
import { classifyError } from "../../client/errors";
import { Credentials, tokenFactory } from "../../client/token";
import { verifyFullSsl } from "../../client/tls";
import { Tunnel } from "./tunnel";
import { ConnectError } from "./args";

/**
 * libpq's connection string through the tunnel: `host` is the proxy's name, which verify-full checks and which
 * libpq sends as SNI; `hostaddr` is where the socket goes. Without --ca, `sslrootcert=system` (libpq 16+) trusts
 * the operating system's roots, which include Amazon's.
 */
export function psqlConninfo(o: { endpoint: string; localPort: number; database: string; user: string; caFile?: string }): string {
    return [
        `host=${o.endpoint}`,
        "hostaddr=127.0.0.1",
        `port=${o.localPort}`,
        `dbname=${o.database}`,
        `user=${o.user}`,
        "sslmode=verify-full",
        `sslrootcert=${o.caFile ?? "system"}`,
    ].join(" ");
}

/** PG* variables for other tools (the only place a token is shown, and only on request). */
export function pgEnv(o: {
    endpoint: string;
    localPort: number;
    database: string;
    user: string;
    caFile?: string;
    token: string;
}): Record<string, string> {
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

/** One line with the fix for a database error seen through the tunnel. */
export function classifyDatabaseFailure(err: unknown, o: { endpoint: string; port: number; tunnelClosed: boolean }): string {
    const classified = classifyError(err, { host: o.endpoint, port: o.port });
    if (
        o.tunnelClosed ||
        (["network", "other"].includes(classified.kind) &&
            /terminated unexpectedly|ECONNRESET|EPIPE|Connection terminated/i.test(classified.message))
    ) {
        return (
            `the tunnel dropped (the Session Manager session or the local forwarder ended) while talking to ${o.endpoint}:${o.port}; ` +
            "nothing is retried automatically because the statement may or may not have run: check, then run the command again"
        );
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
export async function connectThrough(
    tunnel: Tunnel,
    t: Through,
    o: { connectTimeoutMs?: number; queryTimeoutMs?: number } = {},
): Promise<Client> {
    const token = tokenFactory({
        host: t.endpoint,
        port: t.port,
        user: t.user,
        region: t.region,
        ...(t.credentials ? { credentials: t.credentials } : {}),
    });
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
        return results.flatMap((r) =>
            (r.rows as unknown[][]).map((row) =>
                row.map((v) => (v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v))).join("\t"),
            ),
        );
    } catch (err) {
        const code = (err as { code?: string }).code;
        // A statement error (SQLSTATE) is the database's answer, not a tunnel problem.
        if (code && /^[0-9A-Z]{5}$/.test(code) && !["57P01", "08006", "08003"].includes(code))
            throw new ConnectError(`${(err as Error).message} (SQLSTATE ${code})`);
        throw new ConnectError(classifyDatabaseFailure(err, { ...t, tunnelClosed: tunnel.closed }));
    }
}
