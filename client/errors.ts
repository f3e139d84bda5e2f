// Turns the many ways a connection can fail into one actionable line each.
// The classifier is pure so it can be unit-tested with hand-made errors and
// reused by the CLI, the Lambda handler and the local rehearsal alike.

export type FailureKind =
    | "dns"
    | "timeout"
    | "refused"
    | "network"
    | "tls"
    | "no-tls"
    | "auth"
    | "credentials"
    | "grants"
    | "unavailable"
    | "config"
    | "other";

export interface ClassifiedError {
    kind: FailureKind;
    /** One line: what failed, the value seen, what to do. Never contains a token. */
    message: string;
}

/** The proxy's name and port, as an error message names them (never the tunnel's). */
export interface ProxyAddress {
    host: string;
    port: number;
}

/** OpenSSL / Node certificate verification codes: all mean "the peer is not who we trust". */
const TLS_VERIFY_CODES = new Set([
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    "UNABLE_TO_GET_ISSUER_CERT",
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    "SELF_SIGNED_CERT_IN_CHAIN",
    "DEPTH_ZERO_SELF_SIGNED_CERT",
    "CERT_HAS_EXPIRED",
    "CERT_NOT_YET_VALID",
    "CERT_UNTRUSTED",
    "CERT_REJECTED",
    "CERT_SIGNATURE_FAILURE",
    "CERT_CHAIN_TOO_LONG",
    "INVALID_CA",
    "HOSTNAME_MISMATCH",
    "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** PostgreSQL SQLSTATEs for "who you are was not accepted". */
const AUTH_SQLSTATES = new Set(["28P01", "28000"]);

interface ErrorLike {
    code?: unknown;
    message?: unknown;
    errno?: unknown;
    syscall?: unknown;
    name?: unknown;
    reason?: unknown;
}

function field(err: unknown, key: keyof ErrorLike): string | undefined {
    if (err && typeof err === "object" && key in err) {
        const value = (err as ErrorLike)[key];
        return value === undefined || value === null ? undefined : String(value);
    }
    return undefined;
}

/** Node wraps some socket errors (AggregateError for dual-stack connects); look inside. */
function innerErrors(err: unknown): unknown[] {
    if (err && typeof err === "object" && "errors" in err && Array.isArray((err as { errors: unknown }).errors)) {
        return (err as { errors: unknown[] }).errors;
    }
    return [];
}

function codeOf(err: unknown): string | undefined {
    return (
        field(err, "code") ??
        innerErrors(err)
            .map((e) => field(e, "code"))
            .find((c) => c !== undefined)
    );
}

/**
 * Removes anything that looks like an RDS IAM token (a presigned URL) or its
 * signature from a string. Error messages from drivers and servers do not echo
 * passwords today; this is the belt to that pair of braces.
 */
export function redact(text: string): string {
    return text.replace(/[^\s"'`]*X-Amz-[A-Za-z]+=[^\s"'`]*/g, "<redacted-token>").replace(/\b[0-9a-f]{64}\b/g, "<redacted>");
}

export function errorMessage(err: unknown): string {
    const message = field(err, "message") ?? String(err);
    const inner = innerErrors(err)
        .map((e) => field(e, "message"))
        .filter(Boolean);
    return redact(message || inner.join("; ") || field(err, "code") || "unknown error");
}

export function classifyError(err: unknown, at: ProxyAddress, timeoutMs?: number): ClassifiedError {
    const code = codeOf(err);
    const message = errorMessage(err);
    const where = `${at.host}:${at.port}`;

    if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME") {
        return {
            kind: "dns",
            message: `cannot resolve ${at.host} (${code}): run from inside the VPC (or through its DNS), and check the proxy endpoint name`,
        };
    }
    if (code === "ECONNREFUSED") {
        return {
            kind: "refused",
            message: `connection refused by ${where}: nothing listens there; check the port (proxy listens on 5432) and that the proxy is available`,
        };
    }
    if (code === "57014" || /Query read timeout/i.test(message)) {
        const budget = timeoutMs !== undefined ? ` (bound ${timeoutMs} ms)` : "";
        return {
            kind: "timeout",
            message: `a query through ${where} did not finish in time${budget}: the proxy may be waiting for a database connection (check the target's health and max connections)`,
        };
    }
    if (code === "ETIMEDOUT" || code === "ESOCKETTIMEDOUT" || /timeout expired|connection timeout|timed out/i.test(message)) {
        const budget = timeoutMs !== undefined ? ` after ${timeoutMs} ms` : "";
        return {
            kind: "timeout",
            message: `timed out connecting to ${where}${budget}: check security groups (proxy SG must allow this client on ${at.port}) and that you run inside the VPC`,
        };
    }
    if (code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "ECONNRESET" || code === "EPIPE") {
        return { kind: "network", message: `network error talking to ${where} (${code}): ${message}` };
    }
    if (code !== undefined && TLS_VERIFY_CODES.has(code)) {
        return {
            kind: "tls",
            message: `TLS verification failed for ${at.host} (${code}): the server certificate is not trusted for this name; pass --ca <bundle.pem> with the issuing CA, and connect by the proxy endpoint name`,
        };
    }
    if (code?.startsWith("ERR_SSL") || code?.startsWith("ERR_TLS") || /\bSSL\b|\bTLS\b/.test(message)) {
        if (/does not support SSL/i.test(message)) {
            return { kind: "no-tls", message: `${where} does not offer TLS: refusing to send credentials in clear text` };
        }
        return { kind: "tls", message: `TLS handshake with ${where} failed (${code ?? "no code"}): ${message}` };
    }
    if (code !== undefined && AUTH_SQLSTATES.has(code)) {
        return {
            kind: "auth",
            message: `authentication failed at ${where} (${code}): ${message}; check the IAM policy allows rds-db:connect for this user, the region, and that the user exists with rds_iam`,
        };
    }
    if (code === "57P01" || code === "57P02" || code === "57P03") {
        return {
            kind: "unavailable",
            message: `the database behind ${where} ended or refused the session (${code}): ${message}; expected during a failover or switchover, else check the cluster's status`,
        };
    }
    if (code === "42501" && /permission denied for database/i.test(message)) {
        return {
            kind: "grants",
            message: `${message} (${code}) at ${where}: the user lacks CONNECT on the database; run the bootstrap (it grants what access.users declares)`,
        };
    }
    if (field(err, "name") === "CredentialsProviderError" || /Could not load credentials/i.test(message)) {
        return {
            kind: "credentials",
            message: `no AWS credentials to sign the IAM token: ${message}; set AWS_PROFILE or run with a role`,
        };
    }
    return { kind: "other", message: code ? `${message} (${code})` : message };
}
