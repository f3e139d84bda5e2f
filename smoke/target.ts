// What the smoke runner connects to, and where that comes from: flags, the
// task's environment (the same variables the ECS service gets), or the stack's
// outputs. Pure functions only, so the Lambda bundle stays small.

import { isIP } from "node:net";

import { AuthMode, DEFAULT_MASTER_USERNAME, IDENTIFIER } from "../access/spec";
import { DbUser, usersProblems, toUsers } from "../access/users";
import { Endpoint, endpointOf } from "../client/endpoint";
import type { FunctionEnv } from "../client/env";
import type { OutputKey } from "./stack-outputs";

export type { Endpoint };

export type { AuthMode, DbUser };

export interface SmokeTarget {
    /** RDS Proxy endpoint name (not an IP: TLS verification checks this name). */
    host: string;
    port: number;
    database: string;
    /** The database user the application connects as. */
    user: string;
    region: string;
    /** How RDS Proxy itself authenticates to Aurora; decides which grants the user must hold. */
    authMode: AuthMode;
    /** Extra trusted CA bundle (PEM), added to Node's roots, never replacing them. */
    caPem?: string;
    /** Schema owner role for the grants spec (the master user in AWS); default DEFAULT_OWNER. */
    owner?: string;
    /** Every database user to check (default: `user` alone, readwrite, on the writer endpoint). */
    users?: DbUser[];
    /** The proxy's READ_ONLY endpoint, for reader users and the reader checks. */
    readerHost?: string;
    /** Its port when it differs from `port` (the local plane's second stand-in); RDS Proxy uses one port. */
    readerPort?: number;
    /**
     * The proxy's own DNS name when `host:port` is only where to connect (a tunnel to 127.0.0.1): TLS verifies
     * this name and tokens are signed for it. In AWS it is the endpoint, so it equals `host` and is left out.
     */
    proxyHost?: string;
    /** The port tokens are signed for when `port` is a local forward: the proxy's (5432). Default `port`. */
    proxyPort?: number;
    /** The READ_ONLY endpoint's own DNS name, when `readerHost` is only where to connect. */
    readerProxyHost?: string;
}

/** The writer endpoint: connect to host:port, verify and sign for proxyHost:proxyPort (both the endpoint in AWS). */
export function writerEndpoint(t: SmokeTarget): Endpoint {
    return endpointOf(t);
}

/** Stack outputs as read, before validation: any value may be missing or of the wrong type. */
export type StackOutputs = Partial<Record<OutputKey, unknown>>;

/** Loosely typed input gathered from any source, before validation. */
export interface TargetInput {
    host?: string;
    port?: string | number;
    database?: string;
    user?: string;
    region?: string;
    authMode?: string;
    owner?: string;
    caPem?: string;
    /** A JSON string or an already parsed array of { name, access, endpoint? }. */
    users?: unknown;
    readerHost?: string;
    readerPort?: string | number;
    proxyHost?: string;
    proxyPort?: string | number;
    readerProxyHost?: string;
}

/**
 * The schema owner when neither --owner, DB_OWNER nor the dbOwner stack output names it: the program's
 * default master user name.
 */
export const DEFAULT_OWNER = DEFAULT_MASTER_USERNAME;

export class TargetError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "TargetError";
    }
}

const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
// PostgreSQL identifiers as we allow them for generated users and databases: unquoted, lower case.
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;

function describe(value: unknown): string {
    if (value === undefined) return "missing";
    if (typeof value === "string") return JSON.stringify(value);
    return `${JSON.stringify(value)} (${typeof value})`;
}

function isHostnameOrIp(host: string): boolean {
    if (isIP(host) !== 0) return true;
    // All-numeric dotted names are malformed IPv4 addresses, not host names.
    return HOSTNAME.test(host) && !/^[\d.]+$/.test(host);
}

/**
 * Validates and normalises one target. Throws a TargetError whose message names
 * the field, the value seen and what is allowed.
 */
export function validateTarget(input: TargetInput): SmokeTarget {
    const { host, database, user, region, owner } = input;
    if (!host || !isHostnameOrIp(host)) {
        throw new TargetError(
            `target.host is ${describe(host)}; expected a DNS name such as the proxy endpoint (proxyEndpoint output, --host, DB_HOST)`,
        );
    }
    const port = typeof input.port === "number" ? input.port : input.port === undefined || input.port === "" ? NaN : Number(input.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new TargetError(`target.port is ${describe(input.port)}; expected an integer 1..65535 (proxyPort output, --port, DB_PORT)`);
    }
    if (!database || !IDENTIFIER.test(database)) {
        throw new TargetError(
            `target.database is ${describe(database)}; expected a lower-case identifier matching ${IDENTIFIER} (dbName output, --database, DB_NAME)`,
        );
    }
    if (!user || !IDENTIFIER.test(user)) {
        throw new TargetError(
            `target.user is ${describe(user)}; expected a lower-case identifier matching ${IDENTIFIER} (dbUser output, --user, DB_USER)`,
        );
    }
    if (!region || !REGION.test(region)) {
        throw new TargetError(
            `target.region is ${describe(region)}; expected an AWS region such as "eu-west-1" (region output, --region, AWS_REGION)`,
        );
    }
    const authMode = input.authMode ?? "iam";
    if (authMode !== "iam" && authMode !== "secrets") {
        throw new TargetError(
            `target.authMode is ${describe(input.authMode)}; expected "iam" or "secrets" (proxyAuthMode output, --auth-mode)`,
        );
    }
    if (owner !== undefined && !IDENTIFIER.test(owner)) {
        throw new TargetError(`target.owner is ${describe(owner)}; expected a lower-case identifier matching ${IDENTIFIER} (--owner)`);
    }
    if (owner !== undefined && owner === user) {
        throw new TargetError(`target.owner is ${describe(owner)}, the same as target.user; the application user must not own the schema`);
    }
    let users: DbUser[] | undefined;
    if (input.users !== undefined) {
        let parsed = input.users;
        if (typeof parsed === "string") {
            try {
                parsed = JSON.parse(parsed);
            } catch (err) {
                throw new TargetError(
                    `target.users is not JSON (${(err as Error).message}); expected [{"name":"app_user","access":"readwrite","endpoint":"writer"}, ...] (dbUsers output, --users, DB_USERS)`,
                );
            }
        }
        const problems = usersProblems(parsed, { key: "target.users", masterUsername: owner ?? "", readers: true });
        if (problems.length > 0) throw new TargetError(`${problems.join("; ")} (dbUsers output, --users, DB_USERS)`);
        users = toUsers(parsed as unknown[]);
        if (!users.some((u) => u.name === user)) {
            throw new TargetError(
                `target.user ${describe(user)} is not among target.users (${users.map((u) => u.name).join(", ")}); the default user must be one of the declared users`,
            );
        }
    }
    const readerHost = input.readerHost;
    if (readerHost !== undefined && !isHostnameOrIp(readerHost)) {
        throw new TargetError(
            `target.readerHost is ${describe(readerHost)}; expected a DNS name such as the proxy's READ_ONLY endpoint (proxyReaderEndpoint output, --reader-host, DB_READER_HOST)`,
        );
    }
    const readerPort = input.readerPort === undefined || input.readerPort === "" ? undefined : Number(input.readerPort);
    if (readerPort !== undefined && (!Number.isInteger(readerPort) || readerPort < 1 || readerPort > 65535)) {
        throw new TargetError(
            `target.readerPort is ${describe(input.readerPort)}; expected an integer 1..65535 (--reader-port, DB_READER_PORT; default the proxy port)`,
        );
    }
    for (const [key, name] of [
        ["proxyHost", input.proxyHost],
        ["readerProxyHost", input.readerProxyHost],
    ] as const) {
        if (name !== undefined && (isIP(name) !== 0 || !isHostnameOrIp(name))) {
            throw new TargetError(
                `target.${key} is ${describe(name)}; expected the proxy endpoint's DNS name, which TLS verifies and the token is signed for (never an IP address)`,
            );
        }
    }
    const proxyPort = input.proxyPort === undefined || input.proxyPort === "" ? undefined : Number(input.proxyPort);
    if (proxyPort !== undefined && (!Number.isInteger(proxyPort) || proxyPort < 1 || proxyPort > 65535)) {
        throw new TargetError(
            `target.proxyPort is ${describe(input.proxyPort)}; expected an integer 1..65535 (the proxy's port, 5432, when port is a local forward)`,
        );
    }
    if (input.caPem !== undefined && !input.caPem.includes("-----BEGIN CERTIFICATE-----")) {
        throw new TargetError(
            `target.caPem does not contain a PEM certificate; expected a file with "-----BEGIN CERTIFICATE-----" blocks (--ca)`,
        );
    }
    return {
        host,
        port,
        database,
        user,
        region,
        authMode,
        ...(owner !== undefined ? { owner } : {}),
        ...(input.caPem !== undefined ? { caPem: input.caPem } : {}),
        ...(users !== undefined ? { users } : {}),
        ...(readerHost !== undefined ? { readerHost } : {}),
        ...(readerPort !== undefined ? { readerPort } : {}),
        ...(input.proxyHost !== undefined ? { proxyHost: input.proxyHost } : {}),
        ...(proxyPort !== undefined ? { proxyPort } : {}),
        ...(input.readerProxyHost !== undefined ? { readerProxyHost: input.readerProxyHost } : {}),
    };
}

/** The users a run checks: the declared ones, or the default user alone as a readwrite writer user. */
export function readerEndpoint(t: SmokeTarget): Endpoint | undefined {
    if (t.readerHost === undefined) return undefined;
    const port = t.readerPort ?? t.port;
    return endpointOf({ host: t.readerHost, port, proxyHost: t.readerProxyHost, proxyPort: t.proxyPort ?? port });
}

export function targetUsers(t: SmokeTarget): DbUser[] {
    return t.users ?? [{ name: t.user, access: "readwrite", endpoint: "writer" }];
}

function optionalString(outputs: StackOutputs, key: keyof StackOutputs): string | undefined {
    const value = outputs[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string") {
        throw new TargetError(`stack output ${key} is ${describe(value)}; expected a string`);
    }
    return value;
}

/** Maps `pulumi stack output --json` to a target input (not yet validated). */
export function inputFromOutputs(outputs: unknown): TargetInput {
    if (!outputs || typeof outputs !== "object" || Array.isArray(outputs)) {
        throw new TargetError(`stack outputs are ${describe(outputs)}; expected the JSON object printed by "pulumi stack output --json"`);
    }
    const o = outputs as StackOutputs;
    const port = o.proxyPort;
    if (port !== undefined && typeof port !== "number" && typeof port !== "string") {
        throw new TargetError(`stack output proxyPort is ${describe(port)}; expected a number`);
    }
    const input: TargetInput = {
        host: optionalString(o, "proxyEndpoint"),
        port: port as string | number | undefined,
        database: optionalString(o, "dbName"),
        user: optionalString(o, "dbUser"),
        region: optionalString(o, "region"),
        authMode: optionalString(o, "proxyAuthMode"),
        owner: optionalString(o, "dbOwner"),
        readerHost: optionalString(o, "proxyReaderEndpoint"),
        users: o.dbUsers === null ? undefined : o.dbUsers,
    };
    return dropUndefined(input);
}

/** The variables the ECS task definition (DB_*, AWS_REGION) and the smoke Lambda (also DB_OWNER, DB_AUTH_MODE) set. */
export function inputFromEnv(env: FunctionEnv): TargetInput {
    return dropUndefined({
        host: env.DB_HOST || undefined,
        port: env.DB_PORT || undefined,
        database: env.DB_NAME || undefined,
        user: env.DB_USER || undefined,
        region: env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
        authMode: env.DB_AUTH_MODE || undefined,
        owner: env.DB_OWNER || undefined,
        users: env.DB_USERS || undefined,
        readerHost: env.DB_READER_HOST || undefined,
        readerPort: env.DB_READER_PORT || undefined,
        proxyHost: env.DB_PROXY_HOST || undefined,
        proxyPort: env.DB_PROXY_PORT || undefined,
        readerProxyHost: env.DB_READER_PROXY_HOST || undefined,
    });
}

function dropUndefined<T extends object>(value: T): T {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** Later sources win field by field: e.g. outputs < environment < flags. */
export function mergeInputs(...inputs: TargetInput[]): TargetInput {
    return Object.assign({}, ...inputs.map(dropUndefined));
}
