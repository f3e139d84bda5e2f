// Verifies an RDS IAM authentication token the way RDS Proxy does, so the local stand-in refuses
// exactly what AWS would refuse. The token is a SigV4 presigned "connect" URL without its scheme,
// as built by `@aws-sdk/rds-signer`:
//   host:port/?Action=connect&DBUser=<user>&X-Amz-Algorithm=AWS4-HMAC-SHA256
//     &X-Amz-Credential=<AKID>/<yyyymmdd>/<region>/rds-db/aws4_request&X-Amz-Date=<yyyymmddThhmmssZ>
//     &X-Amz-Expires=900&X-Amz-SignedHeaders=host[&X-Amz-Security-Token=...]&X-Amz-Signature=<hex>
// We never re-implement SigV4: the signature is recomputed with @smithy/signature-v4 (the signer the
// SDK itself uses) from the token's own signing date, then compared in constant time.
// Reasons returned to callers never contain the token, the signature or any secret.

import { timingSafeEqual } from "node:crypto";
import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";

export const RDS_DB_SERVICE = "rds-db";
/** RDS caps IAM tokens at 15 minutes. */
export const MAX_TOKEN_EXPIRES_SECONDS = 900;
/** Clock skew we tolerate for a token signed "in the future" (AWS allows 5 minutes). */
export const MAX_CLOCK_SKEW_SECONDS = 300;

export interface TrustedCredentials {
    accessKeyId: string;
    secretAccessKey: string;
}

export interface VerifyRdsIamTokenOptions {
    /** The endpoint host the token must have been signed for (the proxy's address). */
    host: string;
    port: number;
    /** The user from the PostgreSQL startup message. */
    user: string;
    region: string;
    /** The one key pair this endpoint trusts (the stand-in for IAM). */
    credentials: TrustedCredentials;
    /** Milliseconds since the epoch; injectable for tests. */
    now?: () => number;
}

export type TokenVerdict = { ok: true } | { ok: false; reason: string };

const ALLOWED_PARAMS = new Set([
    "Action",
    "DBUser",
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
]);
const REQUIRED_PARAMS = [...ALLOWED_PARAMS].filter((name) => name !== "X-Amz-Security-Token");

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const SIGNATURE = /^[0-9a-f]{64}$/;

function refuse(reason: string): TokenVerdict {
    return { ok: false, reason };
}

export async function verifyRdsIamToken(token: string, o: VerifyRdsIamTokenOptions): Promise<TokenVerdict> {
    if (typeof token !== "string" || token.length === 0 || token.length > 4096 || !token.includes("/?")) {
        return refuse("password is not an RDS IAM authentication token (expected host:port/?Action=connect&...)");
    }
    let url: URL;
    try {
        url = new URL(`https://${token}`);
    } catch {
        return refuse("password is not an RDS IAM authentication token (not a presigned URL)");
    }
    if (url.pathname !== "/" || url.hash !== "" || url.username !== "" || url.password !== "") {
        return refuse("IAM token is malformed: expected host:port/?query and nothing else");
    }

    const params = new Map<string, string>();
    for (const [name, value] of url.searchParams) {
        if (!ALLOWED_PARAMS.has(name)) return refuse(`IAM token has unexpected parameter ${name}`);
        if (params.has(name)) return refuse(`IAM token repeats parameter ${name}`);
        params.set(name, value);
    }
    for (const name of REQUIRED_PARAMS) {
        if (!params.has(name)) return refuse(`IAM token lacks parameter ${name}`);
    }
    const param = (name: string): string => params.get(name) ?? "";

    // The URL parser drops a default port (443), so compare the host:port the client actually wrote.
    const tokenHost = token.slice(0, token.indexOf("/?")).toLowerCase();
    const expectedHost = `${o.host}:${o.port}`.toLowerCase();
    if (tokenHost !== expectedHost) {
        return refuse(`IAM token was signed for endpoint ${tokenHost}, this endpoint is ${expectedHost}`);
    }
    if (param("Action") !== "connect") {
        return refuse(`IAM token Action is ${JSON.stringify(param("Action"))}; only "connect" is allowed`);
    }
    if (param("DBUser") !== o.user) {
        return refuse(`IAM token is for database user ${JSON.stringify(param("DBUser"))}, the connection is for ${JSON.stringify(o.user)}`);
    }
    if (param("X-Amz-Algorithm") !== "AWS4-HMAC-SHA256") {
        return refuse(`IAM token algorithm is ${JSON.stringify(param("X-Amz-Algorithm"))}; only AWS4-HMAC-SHA256 is allowed`);
    }
    if (param("X-Amz-SignedHeaders") !== "host") {
        return refuse(`IAM token signs headers ${JSON.stringify(param("X-Amz-SignedHeaders"))}; expected "host"`);
    }

    const scope = param("X-Amz-Credential").split("/");
    if (scope.length !== 5 || scope[4] !== "aws4_request") {
        return refuse("IAM token credential scope is malformed; expected AKID/date/region/rds-db/aws4_request");
    }
    const [accessKeyId, scopeDate, scopeRegion, scopeService] = scope;
    if (scopeService !== RDS_DB_SERVICE) {
        return refuse(`IAM token is signed for service ${JSON.stringify(scopeService)}; only ${RDS_DB_SERVICE} is allowed`);
    }
    if (scopeRegion !== o.region) {
        return refuse(`IAM token is signed for region ${JSON.stringify(scopeRegion)}, this endpoint is in ${o.region}`);
    }
    if (!safeEqual(accessKeyId, o.credentials.accessKeyId)) {
        // The key id is not a secret (it is in every CloudTrail record), so naming it helps debugging.
        return refuse(`IAM token is signed with access key ${accessKeyId}, which this endpoint does not trust`);
    }

    const amzDate = AMZ_DATE.exec(param("X-Amz-Date"));
    if (!amzDate) return refuse("IAM token X-Amz-Date is malformed; expected yyyymmddThhmmssZ");
    const [, year, month, day, hour, minute, second] = amzDate;
    const signedAtMs = Date.UTC(+year, +month - 1, +day, +hour, +minute, +second);
    const signedAt = new Date(signedAtMs);
    if (Number.isNaN(signedAtMs) || toAmzDate(signedAt) !== param("X-Amz-Date")) {
        return refuse(`IAM token X-Amz-Date ${param("X-Amz-Date")} is not a valid date`);
    }
    if (scopeDate !== param("X-Amz-Date").slice(0, 8)) {
        return refuse("IAM token credential scope date does not match X-Amz-Date");
    }

    const expiresText = param("X-Amz-Expires");
    if (!/^\d{1,6}$/.test(expiresText)) {
        return refuse(`IAM token X-Amz-Expires ${JSON.stringify(expiresText)} is not a whole number of seconds`);
    }
    const expiresSeconds = Number(expiresText);
    if (expiresSeconds < 1 || expiresSeconds > MAX_TOKEN_EXPIRES_SECONDS) {
        return refuse(`IAM token X-Amz-Expires is ${expiresSeconds}s; allowed is 1..${MAX_TOKEN_EXPIRES_SECONDS}s`);
    }
    const nowMs = (o.now ?? Date.now)();
    if (signedAtMs - nowMs > MAX_CLOCK_SKEW_SECONDS * 1000) {
        return refuse(
            `IAM token is signed ${Math.round((signedAtMs - nowMs) / 1000)}s in the future; allowed skew is ${MAX_CLOCK_SKEW_SECONDS}s`,
        );
    }
    if (nowMs > signedAtMs + expiresSeconds * 1000) {
        return refuse(
            `IAM token expired ${Math.round((nowMs - signedAtMs) / 1000 - expiresSeconds)}s ago (valid ${expiresSeconds}s from ${signedAt.toISOString()})`,
        );
    }

    const presentedSignature = param("X-Amz-Signature");
    if (!SIGNATURE.test(presentedSignature)) {
        return refuse("IAM token X-Amz-Signature is not 64 lowercase hex digits");
    }
    const expectedSignature = await recomputeSignature({
        host: o.host,
        port: o.port,
        user: o.user,
        region: o.region,
        credentials: o.credentials,
        sessionToken: params.get("X-Amz-Security-Token"),
        signingDate: signedAt,
        expiresIn: expiresSeconds,
    });
    if (!safeEqual(presentedSignature, expectedSignature)) {
        return refuse("IAM token signature does not match (wrong secret key, or the token was altered)");
    }
    return { ok: true };
}

async function recomputeSignature(o: {
    host: string;
    port: number;
    user: string;
    region: string;
    credentials: TrustedCredentials;
    sessionToken: string | undefined;
    signingDate: Date;
    expiresIn: number;
}): Promise<string> {
    // Same request shape as @aws-sdk/rds-signer builds, so the canonical request is byte-identical.
    const request = new HttpRequest({
        method: "GET",
        protocol: "https:",
        hostname: o.host,
        port: o.port,
        path: "/",
        query: { Action: "connect", DBUser: o.user },
        headers: { host: `${o.host}:${o.port}` },
    });
    const signer = new SignatureV4({
        service: RDS_DB_SERVICE,
        region: o.region,
        sha256: Sha256,
        credentials: {
            accessKeyId: o.credentials.accessKeyId,
            secretAccessKey: o.credentials.secretAccessKey,
            // A session token is part of the signed query; it is carried over as presented.
            ...(o.sessionToken !== undefined ? { sessionToken: o.sessionToken } : {}),
        },
    });
    const presigned = await signer.presign(request, { signingDate: o.signingDate, expiresIn: o.expiresIn });
    const signature = presigned.query?.["X-Amz-Signature"];
    return typeof signature === "string" ? signature : "";
}

function toAmzDate(date: Date): string {
    return date
        .toISOString()
        .replace(/[-:]/g, "")
        .replace(/\.\d{3}/, "");
}

function safeEqual(a: string, b: string): boolean {
    const left = Buffer.from(a, "utf8");
    const right = Buffer.from(b, "utf8");
    // timingSafeEqual needs equal lengths; compare against itself to keep the timing flat.
    if (left.length !== right.length) {
        timingSafeEqual(right, right);
        return false;
    }
    return timingSafeEqual(left, right);
}
