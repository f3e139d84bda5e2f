// The database users a stack declares, and what each may do: the bottom layer. The settings parser, the
// IAM policies, the bootstrap SQL and the smoke runner all read users from here, so a user's name, its
// access profile and the endpoint it is meant for are written once, in the stack file.
// No Pulumi import: this file is bundled into the Lambdas.

/** A PostgreSQL identifier as this project accepts it: lower case, unquoted, at most 63 bytes. */
export const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** What a user may do in schema `app`: write rows, read rows, or change the schema (migrations). */
export type AccessProfile = "readwrite" | "readonly" | "ddl";
export const ACCESS_PROFILES: readonly AccessProfile[] = ["readwrite", "readonly", "ddl"];

/** Which proxy endpoint a user is meant for: the default (read/write) one, or the READ_ONLY one. */
export type EndpointRole = "writer" | "reader";
export const ENDPOINT_ROLES: readonly EndpointRole[] = ["writer", "reader"];

export interface DbUser {
    name: string;
    access: AccessProfile;
    endpoint: EndpointRole;
}

/** Why `name` cannot be a database user's name, or undefined. Unquoted, lower case, not reserved. */
export function pgIdentifierProblem(name: string): string | undefined {
    if (typeof name !== "string" || !IDENTIFIER.test(name)) {
        return "is not a PostgreSQL identifier; use 1-63 characters of a-z, 0-9 and _, starting with a letter or _";
    }
    if (name.startsWith("pg_") || name.startsWith("rds_")) {
        return "starts with a reserved prefix (pg_ or rds_); choose another name";
    }
    if (RESERVED_PG_NAMES.has(name)) return "is reserved by PostgreSQL or RDS; choose another name";
    return undefined;
}

/**
 * The user the smoke signs its "another user's token" negative for (smoke/runner.ts): the proxy must refuse
 * it, so no stack may declare a user by this name. Defined here, at the bottom, so the settings can reserve it.
 */
export const SMOKE_OTHER_USER = "app_user_smoke_other";

const RESERVED_PG_NAMES = new Set([
    "postgres",
    "rdsadmin",
    "rdsproxyadmin",
    "rdsrepladmin",
    "rdstopmgr",
    "template0",
    "template1",
    "public",
    "none",
    "all",
    "current_user",
    "session_user",
    "user",
    "default",
]);

/**
 * Every problem with a declared list of users, one line each, with `key` naming where it came from
 * (e.g. "access.users[2].access"). `readers` says whether the cluster has reader instances: without
 * them RDS Proxy fails READ_ONLY-endpoint connections instead of falling back to the writer.
 */
export function usersProblems(users: unknown, o: { key: string; masterUsername: string; readers: boolean }): string[] {
    const problems: string[] = [];
    const show = (v: unknown) => (v === undefined ? "unset" : JSON.stringify(v));
    if (!Array.isArray(users) || users.length === 0) {
        return [`${o.key} (${show(users)}) must be a non-empty list of { name, access, endpoint? }`];
    }
    const seen = new Set<string>();
    users.forEach((u, i) => {
        const at = `${o.key}[${i}]`;
        if (typeof u !== "object" || u === null || Array.isArray(u)) {
            problems.push(`${at} (${show(u)}) must be an object { name, access, endpoint? }`);
            return;
        }
        const entry = u as Record<string, unknown>;
        for (const key of Object.keys(entry)) {
            if (!["name", "access", "endpoint"].includes(key))
                problems.push(`${at}.${key} (${show(entry[key])}) is not a setting; allowed: name, access, endpoint`);
        }
        const name = entry.name as string;
        const nameProblem = pgIdentifierProblem(name);
        if (nameProblem) problems.push(`${at}.name (${show(name)}) ${nameProblem}`);
        else if (name === o.masterUsername)
            problems.push(`${at}.name (${show(name)}) is database.masterUsername; no client ever connects as the master user`);
        else if (name === SMOKE_OTHER_USER)
            problems.push(
                `${at}.name (${show(name)}) is reserved: the smoke signs a token for it and expects the proxy to refuse it; choose another name`,
            );
        else if (seen.has(name)) problems.push(`${at}.name (${show(name)}) is declared twice; user names must be unique`);
        seen.add(name);
        if (!ACCESS_PROFILES.includes(entry.access as AccessProfile)) {
            problems.push(`${at}.access (${show(entry.access)}) must be one of ${ACCESS_PROFILES.join(", ")}`);
        }
        const endpoint = entry.endpoint ?? "writer";
        if (!ENDPOINT_ROLES.includes(endpoint as EndpointRole)) {
            problems.push(`${at}.endpoint (${show(endpoint)}) must be writer or reader`);
        } else if (endpoint === "reader" && entry.access !== "readonly") {
            problems.push(`${at}.endpoint ("reader") is only for readonly users: the READ_ONLY endpoint refuses writes and DDL`);
        } else if (endpoint === "reader" && !o.readers) {
            problems.push(
                `${at}.endpoint ("reader") needs reader instances (database.instanceCount >= 2): RDS Proxy fails READ_ONLY connections without them`,
            );
        }
    });
    return problems;
}

/** A validated list as typed users (call usersProblems first). */
export function toUsers(users: unknown[]): DbUser[] {
    return users.map((u) => {
        const entry = u as Record<string, unknown>;
        return {
            name: entry.name as string,
            access: entry.access as AccessProfile,
            endpoint: (entry.endpoint ?? "writer") as EndpointRole,
        };
    });
}

/**
 * The users a Lambda is told about in DB_USERS (a JSON array of { name, access, endpoint? }), validated
 * like the settings; without DB_USERS, the single DB_USER as a readwrite user on the writer endpoint.
 */
export function usersFromEnv(env: Record<string, string | undefined>, o: { masterUsername?: string } = {}): DbUser[] {
    const text = env.DB_USERS;
    if (text === undefined || text.trim() === "") {
        const name = env.DB_USER;
        if (!name) throw new Error("environment variable DB_USERS (or DB_USER) is not set");
        const problem = pgIdentifierProblem(name);
        if (problem) throw new Error(`DB_USER (${JSON.stringify(name)}) ${problem}`);
        return [{ name, access: "readwrite", endpoint: "writer" }];
    }
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch (err) {
        throw new Error(
            `DB_USERS is not JSON (${(err as Error).message}); expected [{"name":"app_user","access":"readwrite","endpoint":"writer"}, ...]`,
        );
    }
    const problems = usersProblems(parsed, { key: "DB_USERS", masterUsername: o.masterUsername ?? "", readers: true });
    if (problems.length > 0) throw new Error(problems.join("; "));
    return toUsers(parsed as unknown[]);
}
