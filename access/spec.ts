// What each database user may be: the access profiles and one user's (or every user's) expected state. The same
// spec drives the bootstrap SQL (bootstrap-sql.ts), the IAM policies' user names, and the smoke's expectations
// (observe.ts reads what a user holds, diff.ts compares it with this).
// No Pulumi import: the access/ room is bundled into the Lambdas.

import { AccessProfile, ACCESS_PROFILES, DbUser, IDENTIFIER } from "./users";

export { IDENTIFIER };

export type { AccessProfile, DbUser };

export const DB_PORT = 5432;
/** The master user's name unless the stack's database.masterUsername says otherwise; it owns the app schema. */
export const DEFAULT_MASTER_USERNAME = "dbadmin";
export const APP_SCHEMA = "app";
/**
 * One table the bootstrap always creates. Without a table, table privileges are only visible as
 * default privileges; with it, the smoke runner can prove SELECT/INSERT/UPDATE/DELETE end to end
 * and readGrants sees real table and sequence grants (its identity column owns a sequence).
 */
export const PROBE_TABLE = "smoke_probe";
/**
 * No role connection limit (-1). In end-to-end IAM every proxy-to-database connection logs in as the
 * user itself, so a role limit would silently cap RDS Proxy's pool; the proxy's maxConnectionsPercent
 * is the cap. An earlier limit is removed by the bootstrap and reported as drift by diffGrants.
 */
export const APP_CONNECTION_LIMIT = -1;
/**
 * Marks the roles the bootstrap manages, so a user removed from the settings can be found and retired.
 * Roles are cluster-wide; the database in the comment keeps one stack's bootstrap off another's roles.
 */
export function managedRoleComment(database: string): string {
    return `managed by aurora-iam-proxy for database ${database}`;
}

/** iam = end-to-end IAM (the user is a member of rds_iam); secrets = the proxy logs in with a per-user password secret. */
export type AuthMode = "iam" | "secrets";

/** What each access profile holds in the database and in schema `app` (README "Database users and access"). */
export const PROFILES: Record<AccessProfile, { database: string[]; schema: string[]; tables: string[]; sequences: string[] }> = {
    readwrite: {
        database: ["CONNECT"],
        schema: ["USAGE"],
        tables: ["SELECT", "INSERT", "UPDATE", "DELETE"],
        sequences: ["USAGE", "SELECT"],
    },
    readonly: { database: ["CONNECT"], schema: ["USAGE"], tables: ["SELECT"], sequences: [] },
    // Migrations: create objects in app and own them; nothing on objects others own.
    ddl: { database: ["CONNECT"], schema: ["USAGE", "CREATE"], tables: [], sequences: [] },
};

/** One user's expected state. */
export interface GrantsSpec {
    database: string;
    user: string;
    access: AccessProfile;
    /** Role that owns the schema and its tables: the master user in AWS, the local superuser locally. */
    owner: string;
    schema: string;
    authMode: AuthMode;
    connectionLimit: number;
    probeTable: string;
    databasePrivileges: string[];
    schemaPrivileges: string[];
    tablePrivileges: string[];
    sequencePrivileges: string[];
    /** ["rds_iam"] in iam mode, [] in secrets mode. */
    memberOf: string[];
    /**
     * Roles whose future tables and sequences in the schema grant this user its profile by default:
     * the owner and every ddl user (so what a migration creates is usable without a manual GRANT).
     * Empty for ddl users, which hold nothing on others' objects.
     */
    creators: string[];
}

/** Every declared user of one database: what the bootstrap converges and the smoke checks. */
export interface AccessSpec {
    database: string;
    owner: string;
    schema: string;
    authMode: AuthMode;
    probeTable: string;
    users: GrantsSpec[];
}

/** Roles whose membership hands out administrative power; never acceptable for an application user. */
export const ADMIN_ROLES = new Set(["rds_superuser", "rds_replication", "rds_password", "rdsadmin", "rdsrepladmin", "rds_ad", "postgres"]);
export const TABLE_PRIVILEGES_ALL = ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"];
export const COLUMN_PRIVILEGES_ALL = ["SELECT", "INSERT", "UPDATE", "REFERENCES"];
export const SEQUENCE_PRIVILEGES_ALL = ["USAGE", "SELECT", "UPDATE"];
export const SCHEMA_PRIVILEGES_ALL = ["USAGE", "CREATE"];
export const DATABASE_PRIVILEGES_ALL = ["CONNECT", "CREATE", "TEMPORARY"];

export function assertIdentifier(what: string, value: string): void {
    if (typeof value !== "string" || !IDENTIFIER.test(value)) {
        throw new Error(
            `grants: ${what} ${JSON.stringify(value)} is not a plain identifier; use 1-63 of a-z, 0-9, _ starting with a letter or _`,
        );
    }
}

/**
 * One user's spec. `ddlUsers` are the stack's migration users: their future objects grant this user
 * its profile by default, as the owner's do.
 */
export function grantsSpec(o: {
    database: string;
    user: string;
    owner: string;
    authMode: AuthMode;
    access?: AccessProfile;
    ddlUsers?: string[];
}): GrantsSpec {
    const access = o.access ?? "readwrite";
    assertIdentifier("database", o.database);
    assertIdentifier("user", o.user);
    assertIdentifier("owner", o.owner);
    if (o.authMode !== "iam" && o.authMode !== "secrets") {
        throw new Error(`grants: authMode ${JSON.stringify(o.authMode)} is not supported; use "iam" or "secrets"`);
    }
    if (!ACCESS_PROFILES.includes(access)) {
        throw new Error(
            `grants: access ${JSON.stringify(access)} of user ${o.user} is not a profile; use one of ${ACCESS_PROFILES.join(", ")}`,
        );
    }
    if (o.user === o.owner) {
        throw new Error(`grants: user ${JSON.stringify(o.user)} is also the owner; the app user must be a separate, unprivileged role`);
    }
    if (o.user.startsWith("pg_") || o.user.startsWith("rds") || ADMIN_ROLES.has(o.user)) {
        throw new Error(
            `grants: user ${JSON.stringify(o.user)} uses a reserved prefix or name; pg_*, rds* and ${[...ADMIN_ROLES].join(", ")} are not allowed`,
        );
    }
    const profile = PROFILES[access];
    const ddlUsers = (o.ddlUsers ?? []).filter((u) => u !== o.user);
    for (const u of ddlUsers) assertIdentifier("ddl user", u);
    return {
        database: o.database,
        user: o.user,
        access,
        owner: o.owner,
        schema: APP_SCHEMA,
        authMode: o.authMode,
        connectionLimit: APP_CONNECTION_LIMIT,
        probeTable: PROBE_TABLE,
        databasePrivileges: [...profile.database],
        schemaPrivileges: [...profile.schema],
        tablePrivileges: [...profile.tables],
        sequencePrivileges: [...profile.sequences],
        memberOf: o.authMode === "iam" ? ["rds_iam"] : [],
        creators: access === "ddl" ? [] : [o.owner, ...ddlUsers],
    };
}

/** The spec of every declared user; names must be unique. */
export function accessSpec(o: {
    database: string;
    owner: string;
    authMode: AuthMode;
    users: Array<Pick<DbUser, "name" | "access">>;
}): AccessSpec {
    if (!Array.isArray(o.users) || o.users.length === 0)
        throw new Error("grants: no users declared; declare at least one { name, access }");
    const names = o.users.map((u) => u.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice !== undefined) throw new Error(`grants: user ${JSON.stringify(twice)} is declared twice; user names must be unique`);
    const ddlUsers = o.users.filter((u) => u.access === "ddl").map((u) => u.name);
    const users = o.users.map((u) =>
        grantsSpec({ database: o.database, user: u.name, owner: o.owner, authMode: o.authMode, access: u.access, ddlUsers }),
    );
    return { database: o.database, owner: o.owner, schema: APP_SCHEMA, authMode: o.authMode, probeTable: PROBE_TABLE, users };
}

/** A one-user AccessSpec, for callers that hold a single GrantsSpec. */
export function accessOf(spec: GrantsSpec | AccessSpec): AccessSpec {
    if ("users" in spec) return spec;
    return {
        database: spec.database,
        owner: spec.owner,
        schema: spec.schema,
        authMode: spec.authMode,
        probeTable: spec.probeTable,
        users: [spec],
    };
}

export function validateSpec(spec: GrantsSpec): void {
    for (const [what, value] of [
        ["database", spec.database],
        ["user", spec.user],
        ["owner", spec.owner],
        ["schema", spec.schema],
        ["probeTable", spec.probeTable],
        ...spec.memberOf.map((role) => ["memberOf role", role]),
        ...spec.creators.map((role) => ["creator role", role]),
    ] as const) {
        assertIdentifier(what, value);
    }
    const checkPrivileges = (what: string, privileges: string[], allowed: string[]) => {
        for (const privilege of privileges) {
            if (!allowed.includes(privilege)) {
                throw new Error(`grants: ${what} privilege ${JSON.stringify(privilege)} is not known; allowed are ${allowed.join(", ")}`);
            }
        }
    };
    checkPrivileges("database", spec.databasePrivileges, DATABASE_PRIVILEGES_ALL);
    checkPrivileges("schema", spec.schemaPrivileges, SCHEMA_PRIVILEGES_ALL);
    checkPrivileges("table", spec.tablePrivileges, TABLE_PRIVILEGES_ALL);
    checkPrivileges("sequence", spec.sequencePrivileges, SEQUENCE_PRIVILEGES_ALL);
    if (!Number.isInteger(spec.connectionLimit) || spec.connectionLimit < -1) {
        throw new Error(
            `grants: connectionLimit ${spec.connectionLimit} is not allowed; use -1 (none: the proxy is the cap) or a positive integer`,
        );
    }
}
