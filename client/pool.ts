// The connection helper the application uses: a pg.Pool that authenticates to RDS Proxy with IAM,
// verifies TLS fully, and opens a new connection again (bounded, with backoff) when opening one
// failed for a reason a new attempt can fix.

import { Pool, PoolClient, PoolConfig } from "pg";
import { endpointOf, signedFor } from "./endpoint";
import { classifyError, ClassifiedError, FailureKind } from "./errors";
import { backoffMs, retryPolicy, RetryPolicy, RetryReason, retryReason } from "./retry";
import { Credentials, tokenFactory } from "./token";
import { verifyFullSsl } from "./tls";

export interface IamPoolOptions {
    /** Where to connect: the proxy endpoint, or 127.0.0.1 through a tunnel (then set proxyHost). */
    host: string;
    port: number;
    /**
     * Through a tunnel: the proxy's DNS name, which TLS verifies and tokens are signed for (default host),
     * and its port, 5432 (default port). Tokens signed for 127.0.0.1 are refused ("PAM authentication failed").
     */
    proxyHost?: string;
    proxyPort?: number;
    database: string;
    user: string;
    region: string;
    /** Extra trusted CA bundle (PEM), e.g. the RDS CA bundle, added to Node's roots (never replacing them). */
    caPem?: string;
    /** Explicit credentials; default: the AWS SDK chain (the ECS task role). */
    credentials?: Credentials;
    max?: number;
    idleTimeoutMillis?: number;
    /** Bound on opening one connection (each attempt), in ms (default 5 000). */
    connectionTimeoutMillis?: number;
    /** Client-side bound on each query, in ms. */
    queryTimeoutMillis?: number;
    /** Opening a connection again after a token refusal, an admin shutdown or a reset (default 3 attempts, 100 ms doubling, 1 s cap). */
    retry?: Partial<RetryPolicy>;
    /**
     * An idle pooled connection failed (e.g. 57P01 when the proxy's target fails over). The pool has
     * already dropped it; this only reports it. Without this pg would throw the error on the process.
     */
    onIdleError?: (error: ClassifiedError) => void;
    /** Other pg.Pool settings, passed through; cannot override host, user, password or ssl. */
    extra?: Omit<PoolConfig, "host" | "port" | "database" | "user" | "password" | "ssl" | "connectionString">;
}

/** Opening a connection failed for good: after the retry bound, or at once for a failure retrying cannot fix. */
export class IamConnectError extends Error {
    readonly kind: FailureKind;
    /** The last failure's code (SQLSTATE or Node's), if any. */
    readonly code?: string;
    /** Why it was retried (the last retryable reason), if it was. */
    readonly retryReason?: RetryReason;
    readonly attempts: number;
    constructor(classified: ClassifiedError, attempts: number, reason: RetryReason | undefined, cause: unknown) {
        const tries = attempts > 1 ? ` (gave up after ${attempts} attempts${reason ? `, ${reason}` : ""})` : "";
        super(`${classified.message}${tries}`, { cause });
        this.name = "IamConnectError";
        this.kind = classified.kind;
        const code = (cause as { code?: unknown } | null)?.code;
        if (typeof code === "string") this.code = code;
        this.retryReason = reason;
        this.attempts = attempts;
    }
}

type ConnectCallback = (err: Error | undefined, client?: PoolClient, done?: (release?: unknown) => void) => void;

/**
 * A pg.Pool whose new connections each get a freshly signed token (the password is a function, so
 * pg calls it per physical connection) and whose connect() opens another connection when the first
 * attempt failed for a retryable reason. pool.query() goes through connect(), so it gets the same
 * retry for OPENING; a failure of the statement itself is returned as is, never re-sent.
 */
export class IamPool extends Pool {
    readonly endpoint: { host: string; port: number };
    readonly retry: RetryPolicy;

    constructor(config: PoolConfig, endpoint: { host: string; port: number }, retry: RetryPolicy) {
        super(config);
        this.endpoint = endpoint;
        this.retry = retry;
    }

    override connect(): Promise<PoolClient>;
    override connect(callback: ConnectCallback): void;
    override connect(callback?: ConnectCallback): Promise<PoolClient> | void {
        const opened = this.connectWithRetry();
        if (!callback) return opened;
        opened.then(
            (client) => callback(undefined, client, (release) => client.release(release as Error | boolean | undefined)),
            (err: Error) => callback(err),
        );
    }

    private async connectWithRetry(): Promise<PoolClient> {
        let lastReason: RetryReason | undefined;
        for (let attempt = 1; ; attempt++) {
            try {
                return await (super.connect() as Promise<PoolClient>);
            } catch (err) {
                const reason = retryReason(err);
                if (reason) lastReason = reason;
                if (!reason || attempt >= this.retry.attempts || this.ending) {
                    throw new IamConnectError(classifyError(err, this.endpoint), attempt, lastReason, err);
                }
                await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt + 1, this.retry)));
            }
        }
    }
}

/**
 * The password is a FUNCTION, which pg calls each time the pool opens a new
 * connection, so every connection is authenticated with a freshly signed token.
 *
 * Why: an RDS IAM token is valid for 15 minutes, and only at authentication.
 * A token fetched once at start-up keeps already-open connections working but
 * makes every connection the pool opens after those 15 minutes (scale-up,
 * replacement after idle timeout or a proxy failover) fail with
 * "PAM authentication failed", typically hours into a deployment.
 *
 * Tokens are not reused between connections: signing one costs well under a
 * millisecond against tens of milliseconds to connect (client/README.md, "Token reuse").
 */
export function createIamPool(options: IamPoolOptions): IamPool {
    const endpoint = endpointOf(options);
    const proxy = signedFor(endpoint);
    const nextToken = tokenFactory({ ...options, ...proxy });
    const pool = new IamPool(
        {
            ...options.extra,
            host: endpoint.connectHost,
            port: endpoint.connectPort,
            database: options.database,
            user: options.user,
            password: () => nextToken(),
            ssl: verifyFullSsl(endpoint.serverName, options.caPem),
            max: options.max ?? 10,
            idleTimeoutMillis: options.idleTimeoutMillis ?? 30_000,
            connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5_000,
            ...(options.queryTimeoutMillis !== undefined ? { query_timeout: options.queryTimeoutMillis } : {}),
        },
        proxy,
        retryPolicy(options.retry),
    );
    pool.on("error", (err) => options.onIdleError?.(classifyError(err, proxy)));
    return pool;
}
