// Which failures to open a NEW connection for, and how long to keep trying. Pure: the pool
// (pool.ts) applies it, tests drive it with hand-made errors.
//
// A connection that failed while it was being opened ran no statement, so opening another one is
// always safe. A statement that failed is never retried here: it may have run (a COMMIT whose answer
// was lost, an INSERT the server finished before shutting down); only the caller knows whether it is
// idempotent.

/** Why a new connection is worth another try. */
export type RetryReason = "token-refused" | "admin-shutdown" | "cannot-connect-now" | "connection-reset";

export interface RetryPolicy {
    /** Attempts to open one connection, the first included (default 3; 1 turns retrying off). */
    attempts: number;
    /** Backoff before the 2nd attempt; doubles each time, with jitter (default 100 ms). */
    baseDelayMs: number;
    /** Upper bound of any one backoff (default 1 000 ms). */
    maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 100, maxDelayMs: 1_000 };

function codeOf(err: unknown): string | undefined {
    const code = (err as { code?: unknown } | null)?.code;
    return typeof code === "string" ? code : undefined;
}

/**
 * The reason a failure to OPEN a connection deserves a new attempt, or undefined when it does not
 * (a TLS verification failure, a missing grant, an unknown host: trying again changes nothing).
 *
 * - 28P01, or 28000 saying "PAM authentication failed" / "IAM authentication failed": the IAM token
 *   was refused (expired, signed for another host/port/region, or the clock was off). PostgreSQL sends
 *   28000 for a failed PAM login, which RDS's IAM authentication is (src/backend/libpq/auth.c,
 *   auth_failed); other 28000s (TLS required, no such user) are not retried. The next attempt signs a
 *   new token.
 * - 57P01 admin_shutdown: the server (or the proxy's target during a failover or switchover) ended
 *   the session as it was being set up; 57P03 cannot_connect_now: it is starting or in recovery.
 * - ECONNRESET / a socket closed during the handshake: the proxy or a NAT dropped it.
 */
export function retryReason(err: unknown): RetryReason | undefined {
    const code = codeOf(err);
    const message = (err as { message?: unknown } | null)?.message;
    if (code === "28P01") return "token-refused";
    if (code === "28000" && typeof message === "string" && /PAM authentication failed|IAM authentication failed/i.test(message))
        return "token-refused";
    if (code === "57P01") return "admin-shutdown";
    if (code === "57P03") return "cannot-connect-now";
    if (code === "ECONNRESET" || code === "EPIPE") return "connection-reset";
    // pg's words for "the server closed the socket before the session was ready"; no code is set.
    if (code === undefined && typeof message === "string" && /^Connection terminated unexpectedly$/.test(message))
        return "connection-reset";
    return undefined;
}

/** The wait before attempt `attempt` (2, 3, ...): exponential, capped, half of it random so a fleet does not retry in step. */
export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
    const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 2));
    return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

/** A policy from partial options, checked: a bad bound would mean retrying forever or never. */
export function retryPolicy(partial: Partial<RetryPolicy> = {}): RetryPolicy {
    const policy = { ...DEFAULT_RETRY, ...partial };
    const check = (name: keyof RetryPolicy, min: number, max: number) => {
        const value = policy[name];
        if (!Number.isInteger(value) || value < min || value > max) {
            throw new Error(`createIamPool: retry.${name} is ${JSON.stringify(value)}; expected an integer from ${min} to ${max}`);
        }
    };
    check("attempts", 1, 10);
    check("baseDelayMs", 0, 60_000);
    check("maxDelayMs", 0, 60_000);
    return policy;
}
