// The operator tunnel's one rule, in one place (issue 15): a Session Manager port forward through the relay
// may reach this stack's RDS Proxy endpoints on 5432 and nothing else. The stack's Session document carries
// the rule as the `host` parameter's allowedPattern (components/operator.ts), db:connect checks it before it
// asks AWS (ops/db-connect.ts), and the local plane's tunnel stand-in applies it (db:connect --local).
// Pure: no Pulumi, so the operator tools and the tests use exactly what the stack declares.
import { DB_PORT } from "../access/spec";

/** The only port the tunnel forwards to: RDS Proxy's PostgreSQL port, fixed in the document's properties. */
export const TUNNEL_PORT = DB_PORT;

/**
 * AWS-StartPortForwardingSessionToRemoteHost's pattern for localPortNumber (0 = a free port chosen by the
 * plugin), kept so db:connect can still choose the local end.
 */
export const LOCAL_PORT_PATTERN = "^([0-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$";

/** A DNS name as RDS gives its proxy endpoints: lower-case labels of letters, digits and hyphens. */
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

export class TunnelHostError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "TunnelHostError";
    }
}

/**
 * The `host` parameter's allowedPattern: exactly one of the proxy endpoint names, anchored at both ends and
 * with every dot escaped, so `169.254.169.254`, `localhost`, another VPC address, an external name, or a
 * proxy name with anything before or after it never matches.
 *
 * Systems Manager checks allowedPattern twice: with Java's regex library when StartSession is called and
 * with Go's regexp on the SSM agent before it acts (Systems Manager User Guide, "Data elements and
 * parameters", allowedPattern). The pattern therefore uses only what RE2, java.util.regex and JavaScript
 * read alike: `^`, `$`, `(?:…|…)` and escaped dots. (Java's `$` would also match before one final line
 * break; Go's does not, and the agent's check comes second.)
 */
export function proxyHostPattern(proxyHosts: readonly string[]): string {
    if (proxyHosts.length === 0) throw new TunnelHostError("the tunnel's host rule needs at least one proxy endpoint name; got none");
    for (const host of proxyHosts) {
        if (typeof host !== "string" || !DNS_NAME.test(host)) {
            throw new TunnelHostError(`the tunnel's host rule takes proxy endpoint DNS names; got ${JSON.stringify(host)}`);
        }
    }
    const alternatives = [...new Set(proxyHosts)].map((h) => h.replace(/\./g, "\\."));
    return `^(?:${alternatives.join("|")})$`;
}

/** Whether a tunnel to `host` is allowed by the pattern the document carries (the same test the agent makes). */
export function tunnelHostAllowed(pattern: string, host: string): boolean {
    return new RegExp(pattern).test(host);
}

/** One line saying why a tunnel to host:port is refused, or undefined when it goes to a proxy endpoint on 5432. */
export function tunnelRequestProblem(proxyHosts: readonly string[], request: { host: string; port: number }): string | undefined {
    const allowed = `this stack's proxy endpoints (${proxyHosts.join(", ")}) on ${TUNNEL_PORT}`;
    if (!tunnelHostAllowed(proxyHostPattern(proxyHosts), request.host)) {
        return `the tunnel refuses host ${JSON.stringify(request.host)}: the operator session document forwards only to ${allowed}`;
    }
    if (request.port !== TUNNEL_PORT) {
        return `the tunnel refuses port ${request.port}: the operator session document forwards only to ${allowed}`;
    }
    return undefined;
}

/** The stack's Session document name (not AWS-, Amazon or amzn: prefixes AWS reserves for its own documents). */
export function sessionDocumentName(namePrefix: string): string {
    return `${namePrefix}-operator-tunnel`;
}

/**
 * The stack's Session document (type Session, schema 1.0, session type Port), modelled on AWS's
 * AWS-StartPortForwardingSessionToRemoteHost (same parameter names and `properties.type`
 * LocalPortForwarding, so the Session Manager plugin treats it the same), with two differences:
 * - `host` must match proxyHostPattern(proxyHosts) (it defaults to the first, the writer endpoint);
 * - the port is no parameter at all: `properties.portNumber` is the literal 5432, which no caller can override.
 *
 * Sources: Session Manager User Guide, "Session document schema" (schemaVersion 1.0 only, sessionType Port,
 * `parameters`, and `properties` "used in the StartSession API operation" holding the port for Port
 * sessions); Systems Manager User Guide, "Data elements and parameters" (allowedPattern: "If the user input
 * doesn't match the allowed pattern, the execution fails to start"); the SSM agent's port plugin reads
 * `host`, `portNumber` and `type` from these properties (aws/amazon-ssm-agent,
 * agent/session/plugins/port/port.go, PortParameters). The AWS document's own text was not readable here;
 * its parameter names are the ones db:connect has passed it since issue 10.
 */
export function sessionDocumentContent(o: { proxyHosts: readonly string[]; description?: string }): Record<string, unknown> {
    return {
        schemaVersion: "1.0",
        description:
            o.description ?? `Port forwarding through the operator relay to this stack's RDS Proxy endpoints on ${TUNNEL_PORT} only`,
        sessionType: "Port",
        parameters: {
            host: {
                type: "String",
                description: `(Optional) The RDS Proxy endpoint to forward to: one of ${o.proxyHosts.join(", ")}`,
                allowedPattern: proxyHostPattern(o.proxyHosts),
                default: o.proxyHosts[0],
            },
            localPortNumber: {
                type: "String",
                description:
                    "(Optional) Port number on the local machine to forward traffic to. An open port is chosen at run-time if not provided",
                allowedPattern: LOCAL_PORT_PATTERN,
                default: "0",
            },
        },
        properties: {
            type: "LocalPortForwarding",
            host: "{{ host }}",
            portNumber: String(TUNNEL_PORT),
            localPortNumber: "{{ localPortNumber }}",
        },
    };
}
