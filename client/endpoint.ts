// Where a client connects, and whom it must find there. In AWS both are the proxy's endpoint; through a tunnel
// (db:connect) or a local stand-in, the socket goes to 127.0.0.1:<port> while TLS must verify the proxy's name and
// the IAM token must be signed for that name and the proxy's port: RDS Proxy refuses a token signed for 127.0.0.1
// ("PAM authentication failed"). One home for that distinction; the pool, the smoke and db:connect use it.

export interface Endpoint {
    /** Where the socket goes: the proxy endpoint, or 127.0.0.1 through a tunnel. */
    connectHost: string;
    connectPort: number;
    /** The name TLS verifies and the token is signed for: the proxy endpoint's DNS name. */
    serverName: string;
    /** The port the token is signed for: the proxy's (5432), also through a tunnel. */
    signPort: number;
}

/** The endpoint from where to connect and, when that is only a forward, the proxy's own name and port. */
export function endpointOf(o: { host: string; port: number; proxyHost?: string; proxyPort?: number }): Endpoint {
    return { connectHost: o.host, connectPort: o.port, serverName: o.proxyHost ?? o.host, signPort: o.proxyPort ?? o.port };
}

/** What a token and an error message name: the proxy's name and port (never the tunnel's). */
export function signedFor(e: Endpoint): { host: string; port: number } {
    return { host: e.serverName, port: e.signPort };
}
