// verify-full TLS for pg, and proof of it read from the client's own socket.

import { isIP } from "node:net";
import * as tls from "node:tls";
import type { ConnectionOptions, SecureContext, TLSSocket } from "node:tls";

/**
 * pg `ssl` options that verify both the chain and the host name. Certificate
 * verification is Node's default and is never switched off; the host name is
 * checked by Node's default checkServerIdentity against `servername` (names)
 * or `host` (IP addresses, which must not be sent as SNI per RFC 6066).
 *
 * Trust: without `caPem`, Node's bundled roots, which the Amazon roots behind
 * RDS Proxy certificates are part of. With `caPem`, that bundle is ADDED to
 * those roots: passing `ca` alone would replace them, and a deployment-specific
 * CA must not silently stop the public one from working.
 */
export function verifyFullSsl(host: string, caPem?: string): ConnectionOptions {
    return {
        ...(isIP(host) === 0 ? { servername: host } : {}),
        ...(caPem !== undefined ? { secureContext: secureContextWith(caPem) } : {}),
    };
}

// Parsing ~140 root certificates costs milliseconds; do it once per bundle,
// not once per connection.
const contexts = new Map<string, SecureContext>();

function secureContextWith(caPem: string): SecureContext {
    let context = contexts.get(caPem);
    if (!context) {
        context = tls.createSecureContext({ ca: [...tls.rootCertificates, caPem] });
        contexts.set(caPem, context);
    }
    return context;
}

export interface TlsFacts {
    encrypted: boolean;
    authorized: boolean;
    authorizationError?: string;
    protocol: string | null;
    cipher?: string;
    subjectCN?: string;
    issuerCN?: string;
    validTo?: string;
}

const ACCEPTED_PROTOCOLS = new Set(["TLSv1.2", "TLSv1.3"]);

/** The socket pg actually talks over; after an SSL upgrade it is the TLSSocket. */
export function socketOf(client: unknown): unknown {
    return (client as { connection?: { stream?: unknown } }).connection?.stream;
}

function cn(name: unknown): string | undefined {
    const value = (name as { CN?: string | string[] } | undefined)?.CN;
    return Array.isArray(value) ? value.join(",") : value;
}

export function tlsFacts(socket: unknown): TlsFacts {
    const s = socket as Partial<TLSSocket> | undefined;
    if (!s || s.encrypted !== true || typeof s.getPeerCertificate !== "function") {
        return { encrypted: false, authorized: false, protocol: null };
    }
    const cert = s.getPeerCertificate();
    const authError = s.authorizationError;
    return {
        encrypted: true,
        authorized: s.authorized === true,
        ...(authError ? { authorizationError: String(authError) } : {}),
        protocol: s.getProtocol ? s.getProtocol() : null,
        ...(s.getCipher ? { cipher: s.getCipher().name } : {}),
        ...(cert && Object.keys(cert).length > 0 ? { subjectCN: cn(cert.subject), issuerCN: cn(cert.issuer), validTo: cert.valid_to } : {}),
    };
}

/** Returns the reason TLS does not hold, or undefined when it does. */
export function tlsShortfall(facts: TlsFacts): string | undefined {
    if (!facts.encrypted) return "the connection is not encrypted";
    if (!facts.authorized) return `the peer certificate is not authorized (${facts.authorizationError ?? "no reason given"})`;
    if (!facts.protocol || !ACCEPTED_PROTOCOLS.has(facts.protocol)) {
        return `protocol is ${facts.protocol ?? "unknown"}; expected TLSv1.2 or TLSv1.3`;
    }
    return undefined;
}

export function describeTls(facts: TlsFacts): string {
    return [
        facts.protocol ?? "no TLS",
        facts.cipher,
        facts.subjectCN !== undefined ? `CN=${facts.subjectCN}` : undefined,
        facts.issuerCN !== undefined ? `issuer CN=${facts.issuerCN}` : undefined,
        facts.validTo !== undefined ? `valid to ${facts.validTo}` : undefined,
    ]
        .filter(Boolean)
        .join(", ");
}
