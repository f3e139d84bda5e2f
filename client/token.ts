// RDS IAM auth tokens. A token is a SigV4-presigned "connect" URL valid for
// 15 minutes, bound to host, port, region and database user. It is a
// credential: it is produced here, handed to pg as the password and never
// stored, printed or returned to a caller that reports.

import { Signer, type SignerConfig } from "@aws-sdk/rds-signer";

/** Static credentials or a provider: whatever the signer accepts (so the package needs no other AWS type package). */
export type Credentials = NonNullable<SignerConfig["credentials"]>;

export interface TokenSource {
    host: string;
    port: number;
    user: string;
    region: string;
    /** Explicit credentials (e.g. the local rehearsal's); default: the AWS SDK chain. */
    credentials?: Credentials;
}

/** A function returning a newly signed token on every call. */
export type TokenFactory = () => Promise<string>;

/**
 * One Signer per (endpoint, user): its credential provider is resolved once
 * and cached by the SDK, while every call signs a new token with the current
 * time, so each connection gets a full 15-minute token.
 */
export function tokenFactory(source: TokenSource): TokenFactory {
    const signer = new Signer({
        hostname: source.host,
        port: source.port,
        username: source.user,
        region: source.region,
        ...(source.credentials ? { credentials: source.credentials } : {}),
    });
    return () => signer.getAuthToken();
}

/**
 * Flips one hex digit of the signature so the token is well-formed but no
 * longer verifies: what an attacker holding a stale or guessed token has.
 */
export function tamperToken(token: string): string {
    const match = /X-Amz-Signature=([0-9a-f]+)/.exec(token);
    if (!match || match.index === undefined) {
        throw new Error("cannot tamper with the token: it has no X-Amz-Signature parameter; expected a presigned RDS connect URL");
    }
    const at = match.index + "X-Amz-Signature=".length + match[1].length - 1;
    const flipped = token[at] === "0" ? "1" : "0";
    return token.slice(0, at) + flipped + token.slice(at + 1);
}
