// The individual checks. Each returns a CheckResult and never throws; a
// negative check passes only when the server itself refuses the attempt.

import type { Client } from "pg";
import { classifyError, ClassifiedError, errorMessage, FailureKind } from "../client/errors";
import { DeadlineError, Session } from "./session";
import { tamperToken, TokenFactory } from "../client/token";
import { describeTls, socketOf, tlsFacts, tlsShortfall } from "../client/tls";
import { CHECK, NEGATIVE_CHECKS, NegativeCheckName } from "./check-names";

export interface CheckResult {
    name: string;
    ok: boolean;
    /**
     * The third state: the check ran and found a risk the stack cannot remove on a database it does not own
     * (smoke/warnings.ts). Set only with ok: true; it fails the run only when warnings are made to fail.
     */
    warning?: boolean;
    /** One line; never contains a token or password. */
    detail: string;
    ms: number;
    /** On failure: what kind of failure, for callers that branch on it. */
    kind?: FailureKind;
    /** The database user a per-user check ran as (absent for the default user's checks). */
    user?: string;
    /**
     * Figures a check measured, published as metrics between deploys: the certificate's days to expiry, and for a
     * negative check the server refused, the wall-clock time of the refusal (the proxy counted it then).
     */
    figures?: { certDaysToExpiry?: number; refusedAtMs?: number };
}

export { CHECK, NEGATIVE_CHECKS };
export type { NegativeCheckName };

export type Timer = () => number;

export function classify(session: Session, err: unknown): ClassifiedError {
    if (err instanceof DeadlineError) return { kind: "timeout", message: err.message };
    return classifyError(err, session.target, session.connectBoundMs);
}

/** Times a check; an unexpected error becomes a failed, classified result instead of a throw. */
export async function timed(
    name: string,
    session: Session,
    clock: Timer,
    body: () => Promise<Omit<CheckResult, "name" | "ms">>,
): Promise<CheckResult> {
    const started = clock();
    let outcome: Omit<CheckResult, "name" | "ms">;
    try {
        outcome = await body();
    } catch (err) {
        const c = classify(session, err);
        outcome = { ok: false, detail: c.message, kind: c.kind };
    }
    return { name, ...outcome, ms: Math.round(clock() - started) };
}

export function skipped(name: string, why: string): CheckResult {
    return { name, ok: false, detail: `not run: ${why}`, ms: 0, kind: "other" };
}

/** Check 1: the application's way in works and lands as the expected user. */
/** Failures that can clear by themselves right after a deploy (a proxy target still registering). */
const TRANSIENT = new Set(["refused", "timeout", "dns", "network", "other"]);

export async function connectCheck(
    session: Session,
    token: TokenFactory,
    clock: Timer,
    /** Keep retrying transient failures (never TLS or authentication ones) for this long, in ms. */
    retryForMs = 0,
): Promise<{ result: CheckResult; client?: Client }> {
    let client: Client | undefined;
    const retryUntil = clock() + retryForMs;
    const result = await timed(CHECK.connect, session, clock, async () => {
        for (let attempt = 1, backoffMs = 1_000; ; attempt++, backoffMs = Math.min(backoffMs * 2, 10_000)) {
            try {
                // A fresh token for every attempt: each connection signs its own.
                client = await session.within(session.connect({ user: session.target.user, password: token, tls: true }));
                break;
            } catch (err) {
                const c = classify(session, err);
                if (!TRANSIENT.has(c.kind) || clock() + backoffMs >= retryUntil) {
                    const tries = attempt > 1 ? ` (after ${attempt} attempts)` : "";
                    return { ok: false, detail: `${c.message}${tries}`, kind: c.kind };
                }
                await new Promise((resolve) => setTimeout(resolve, backoffMs));
            }
        }
        const { rows } = await session.within(
            client.query<{ current_user: string; db: string; server_version: string }>(
                "select current_user, current_database() as db, current_setting('server_version') as server_version",
            ),
        );
        const row = rows[0];
        if (row.current_user !== session.target.user) {
            return {
                ok: false,
                detail: `connected, but current_user is ${JSON.stringify(row.current_user)}; expected ${JSON.stringify(session.target.user)}`,
                kind: "auth",
            };
        }
        return { ok: true, detail: `current_user=${row.current_user} db=${row.db} PostgreSQL ${row.server_version}` };
    });
    return { result, client };
}

/**
 * Check 2: TLS as seen on the client's own socket. pg_stat_ssl is reported as
 * information only: behind RDS Proxy it describes the proxy's connection to
 * the database, not ours ("SSL session variables are not set for SSL
 * connections to a database using RDS Proxy").
 */
export async function tlsCheck(session: Session, client: Client, clock: Timer): Promise<CheckResult> {
    return timed(CHECK.tls, session, clock, async () => {
        const facts = tlsFacts(socketOf(client));
        const shortfall = tlsShortfall(facts);
        let info = "";
        try {
            const { rows } = await session.within(
                client.query<{ ssl: boolean }>("select ssl from pg_stat_ssl where pid = pg_backend_pid()"),
            );
            if (rows[0]) info = `; pg_stat_ssl.ssl=${rows[0].ssl} (info only)`;
        } catch {
            // Information only; a proxy may not expose it.
        }
        const figures = facts.validTo ? { certDaysToExpiry: daysUntil(facts.validTo, Date.now()) } : undefined;
        if (shortfall) return { ok: false, detail: `${shortfall}${info}`, kind: "tls", ...(figures ? { figures } : {}) };
        return { ok: true, detail: `authorized, ${describeTls(facts)}${info}`, ...(figures ? { figures } : {}) };
    });
}

/** Whole days from `nowMs` until a certificate's `valid_to` (Node's "Nov 25 13:30:08 2026 GMT"); negative once expired. */
export function daysUntil(validTo: string, nowMs: number): number {
    const expires = Date.parse(validTo);
    if (Number.isNaN(expires)) throw new Error(`certificate valid_to ${JSON.stringify(validTo)} is not a date`);
    return Math.floor((expires - nowMs) / 86_400_000);
}

export interface NegativeSpec {
    name: string;
    /** What it means if the server lets this in, e.g. "accepted a connection without TLS". */
    accepted: string;
    user: string;
    tls: boolean;
    password: () => Promise<string>;
}

// A refusal counts only when it comes from the server and is about who we are
// (SQLSTATE class 28), or for a plaintext attempt, the server hanging up / demanding
// TLS. Unreachable, timed out or our own TLS failure prove nothing.
function isServerRefusal(err: unknown, plaintext: boolean): string | undefined {
    const code = (err as { code?: unknown }).code;
    const message = errorMessage(err);
    if (typeof code === "string" && /^28[0-9A-Z]{3}$/.test(code)) return `${code} ${message}`;
    if (plaintext) {
        if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return `${code} ${message}`;
        if (code === "ECONNRESET" || /terminated unexpectedly|does not support SSL/i.test(message)) return message;
    }
    return undefined;
}

export async function negativeCheck(
    session: Session,
    spec: NegativeSpec,
    clock: Timer,
    wallClock: () => number = Date.now,
): Promise<CheckResult> {
    return timed(spec.name, session, clock, async () => {
        let askedForPassword = false;
        const password = async (): Promise<string> => {
            askedForPassword = true;
            return spec.password();
        };
        let client: Client;
        try {
            client = await session.within(session.connect({ user: spec.user, password, tls: spec.tls }));
        } catch (err) {
            const refusedAtMs = wallClock();
            const refusal = isServerRefusal(err, !spec.tls);
            if (refusal === undefined) {
                const c = classify(session, err);
                return { ok: false, detail: `inconclusive, not refused by the server: ${c.message}`, kind: c.kind };
            }
            if (!spec.tls && askedForPassword) {
                // Refusing the dummy password is not enough: a proxy that requires TLS refuses before any
                // password is asked for, otherwise a real client would send its token in the clear.
                return {
                    ok: false,
                    detail: `asked for a password without TLS (a token would travel in clear), then: ${oneLine(refusal)}`,
                    kind: "tls",
                };
            }
            const when = !spec.tls ? " before asking for a password" : "";
            return { ok: true, detail: `refused${when}: ${oneLine(refusal)}`, figures: { refusedAtMs } };
        }
        await session.close(client);
        return { ok: false, detail: spec.accepted, kind: "auth" };
    });
}

function oneLine(text: string): string {
    const line = text.replace(/\s+/g, " ").trim();
    return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

/** A value that is clearly not a token, for attempts whose point is the missing token. */
export const PLAIN_PASSWORD = "smoke-plain-password-not-a-token";

export function negativeSpecs(session: Session, ours: TokenFactory, otherUsersToken: TokenFactory, otherUser: string): NegativeSpec[] {
    const user = session.target.user;
    // Keyed by NEGATIVE_CHECKS, so the compiler holds the list and the count the alarm subtracts together.
    const specs: Record<NegativeCheckName, Omit<NegativeSpec, "name">> = {
        [CHECK.noTls]: {
            accepted: "accepted a connection without TLS",
            user,
            tls: false,
            // Never a real token over plaintext: if the server asks anyway, it gets a dummy.
            password: async () => PLAIN_PASSWORD,
        },
        [CHECK.tampered]: {
            accepted: "accepted a token whose signature was altered",
            user,
            tls: true,
            password: async () => tamperToken(await ours()),
        },
        // Proves more than the next one: the token is valid and signed by our
        // credentials, only its DBUser differs from the startup user. Refusal shows
        // the proxy binds each token to the user it was signed for.
        [CHECK.tokenForOtherUser]: {
            accepted: `accepted a token signed for ${otherUser} when starting up as ${user}`,
            user,
            tls: true,
            password: otherUsersToken,
        },
        // Refusal here shows our credentials cannot reach other database users (the IAM
        // policy's rds-db:connect ARN names one user), though it can also mean the user
        // does not exist, so on its own it proves less.
        [CHECK.otherUser]: {
            accepted: `accepted ${otherUser}, a user the application must not be able to become`,
            user: otherUser,
            tls: true,
            password: otherUsersToken,
        },
        [CHECK.plainPassword]: {
            accepted: "accepted a plain password instead of an IAM token",
            user,
            tls: true,
            password: async () => PLAIN_PASSWORD,
        },
    };
    return NEGATIVE_CHECKS.map((name) => ({ name, ...specs[name] }));
}
