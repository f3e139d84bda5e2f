// THE single definition of what each database user may do. The same spec drives the bootstrap SQL (run
// as the owner: master user in AWS, local superuser in the rehearsal), the IAM policies' user names, and
// the smoke runner's expectations (readGrants + diffGrants, run as each user itself through the proxy).
// No Pulumi import: this file is bundled into the Lambdas.

import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import type pg from "pg";
import { AccessProfile, ACCESS_PROFILES, DbUser } from "./users";

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
/** Prefix of every RAISE LOG line the bootstrap writes to the server log (no secret ever follows it). */
export const AUDIT_PREFIX = "aurora-iam-proxy:";
/** The transaction-local setting that carries a SCRAM verifier from a bind parameter into a DO block. */
export const VERIFIER_SETTING = "aurora_iam_proxy.verifier";

/** iam = end-to-end IAM (the user is a member of rds_iam); secrets = the proxy logs in with a per-user password secret. */
export type AuthMode = "iam" | "secrets";

/** What each access profile holds in the database and in schema `app` (README "Database users and access"). */
export const PROFILES: Record<AccessProfile, { database: string[]; schema: string[]; tables: string[]; sequences: string[] }> = {
    readwrite: { database: ["CONNECT"], schema: ["USAGE"], tables: ["SELECT", "INSERT", "UPDATE", "DELETE"], sequences: ["USAGE", "SELECT"] },
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

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
/** Roles whose membership hands out administrative power; never acceptable for an application user. */
const ADMIN_ROLES = new Set(["rds_superuser", "rds_replication", "rds_password", "rdsadmin", "rdsrepladmin", "rds_ad", "postgres"]);
const TABLE_PRIVILEGES_ALL = ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"];
const COLUMN_PRIVILEGES_ALL = ["SELECT", "INSERT", "UPDATE", "REFERENCES"];
const SEQUENCE_PRIVILEGES_ALL = ["USAGE", "SELECT", "UPDATE"];
const SCHEMA_PRIVILEGES_ALL = ["USAGE", "CREATE"];
const DATABASE_PRIVILEGES_ALL = ["CONNECT", "CREATE", "TEMPORARY"];

function assertIdentifier(what: string, value: string): void {
    if (typeof value !== "string" || !IDENTIFIER.test(value)) {
        throw new Error(`grants: ${what} ${JSON.stringify(value)} is not a plain identifier; use 1-63 of a-z, 0-9, _ starting with a letter or _`);
    }
}

/**
 * One user's spec. `ddlUsers` are the stack's migration users: their future objects grant this user
 * its profile by default, as the owner's do.
 */
export function grantsSpec(o: { database: string; user: string; owner: string; authMode: AuthMode; access?: AccessProfile; ddlUsers?: string[] }): GrantsSpec {
    const access = o.access ?? "readwrite";
    assertIdentifier("database", o.database);
    assertIdentifier("user", o.user);
    assertIdentifier("owner", o.owner);
    if (o.authMode !== "iam" && o.authMode !== "secrets") {
        throw new Error(`grants: authMode ${JSON.stringify(o.authMode)} is not supported; use "iam" or "secrets"`);
    }
    if (!ACCESS_PROFILES.includes(access)) {
        throw new Error(`grants: access ${JSON.stringify(access)} of user ${o.user} is not a profile; use one of ${ACCESS_PROFILES.join(", ")}`);
    }
    if (o.user === o.owner) {
        throw new Error(`grants: user ${JSON.stringify(o.user)} is also the owner; the app user must be a separate, unprivileged role`);
    }
    if (o.user.startsWith("pg_") || o.user.startsWith("rds") || ADMIN_ROLES.has(o.user)) {
        throw new Error(`grants: user ${JSON.stringify(o.user)} uses a reserved prefix or name; pg_*, rds* and ${[...ADMIN_ROLES].join(", ")} are not allowed`);
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
export function accessSpec(o: { database: string; owner: string; authMode: AuthMode; users: Array<Pick<DbUser, "name" | "access">> }): AccessSpec {
    if (!Array.isArray(o.users) || o.users.length === 0) throw new Error("grants: no users declared; declare at least one { name, access }");
    const names = o.users.map((u) => u.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice !== undefined) throw new Error(`grants: user ${JSON.stringify(twice)} is declared twice; user names must be unique`);
    const ddlUsers = o.users.filter((u) => u.access === "ddl").map((u) => u.name);
    const users = o.users.map((u) => grantsSpec({ database: o.database, user: u.name, owner: o.owner, authMode: o.authMode, access: u.access, ddlUsers }));
    return { database: o.database, owner: o.owner, schema: APP_SCHEMA, authMode: o.authMode, probeTable: PROBE_TABLE, users };
}

/** A one-user AccessSpec, for callers that hold a single GrantsSpec. */
export function accessOf(spec: GrantsSpec | AccessSpec): AccessSpec {
    if ("users" in spec) return spec;
    return { database: spec.database, owner: spec.owner, schema: spec.schema, authMode: spec.authMode, probeTable: spec.probeTable, users: [spec] };
}

function validateSpec(spec: GrantsSpec): void {
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
        throw new Error(`grants: connectionLimit ${spec.connectionLimit} is not allowed; use -1 (none: the proxy is the cap) or a positive integer`);
    }
}

/** Identifiers are validated against IDENTIFIER first, so quoting never needs escaping. */
function ident(name: string): string {
    assertIdentifier("identifier", name);
    return `"${name}"`;
}

function literal(value: string): string {
    return `'${value.replace(/'/g, "''")}'`;
}

function privilegeList(privileges: string[]): string {
    return privileges.join(", ");
}

function nameArray(names: string[]): string {
    return names.length === 0 ? "ARRAY[]::name[]" : `ARRAY[${names.map(literal).join(", ")}]::name[]`;
}

/**
 * One statement for an executor. `parameters` are named (`:name` in the text), the way the RDS Data API
 * takes them; bootstrap() turns them into $n for pg. Secrets travel only as parameters, never in text.
 */
export interface SqlStatement {
    sql: string;
    parameters?: Record<string, string>;
    /** The executor hands back this statement's rows. */
    returnsRows?: boolean;
}

export interface BootstrapOptions {
    /** secrets mode: each user's password (its proxy secret). Only the SCRAM verifier reaches the server. */
    passwords?: Record<string, string>;
    /** Shorthand for a one-user spec: passwords = { [that user]: password }. */
    password?: string;
}

/**
 * plpgsql that logs a statement (RAISE LOG: log_statement=ddl does not see statements EXECUTEd inside a
 * DO block) and then runs it. `expression` builds the statement with format(); it never holds a secret.
 */
/**
 * The statement (a PL/pgSQL expression) that revokes one pg_default_acl entry from `grantee`: `row` is a
 * loop record with the entry's creator, nspname and defaclobjtype.
 */
function revokeDefaultsStatement(row: string, grantee: string): string {
    return `format('ALTER DEFAULT PRIVILEGES FOR ROLE %I %s REVOKE ALL ON %s FROM %I',
      ${row}.creator,
      CASE WHEN ${row}.nspname IS NULL THEN '' ELSE format('IN SCHEMA %I', ${row}.nspname) END,
      CASE ${row}.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS'
                                WHEN 'T' THEN 'TYPES' WHEN 'n' THEN 'SCHEMAS' END,
      ${grantee})`;
}

function runLogged(expression: string): string {
    return `stmt := ${expression}; RAISE LOG '${AUDIT_PREFIX} %', stmt; EXECUTE stmt;`;
}

function checkPasswords(spec: AccessSpec, o: BootstrapOptions): Record<string, string> {
    const passwords: Record<string, string> = { ...(o.passwords ?? {}) };
    if (o.password !== undefined) {
        if (spec.users.length !== 1) throw new Error(`grants: "password" is for a one-user spec; pass "passwords" by user for ${spec.users.map((u) => u.user).join(", ")}`);
        passwords[spec.users[0].user] = o.password;
    }
    for (const [user, password] of Object.entries(passwords)) {
        if (spec.authMode !== "secrets") {
            throw new Error(`grants: a password was given for user ${user} in authMode ${spec.authMode}; passwords are only used in "secrets" mode`);
        }
        if (!spec.users.some((u) => u.user === user)) {
            throw new Error(`grants: a password was given for ${JSON.stringify(user)}, which is not a declared user; declared: ${spec.users.map((u) => u.user).join(", ")}`);
        }
        if (typeof password !== "string" || password.length < 16 || password.length > 1024 || /[\u0000-\u001f\u007f]/.test(password)) {
            throw new Error(`grants: password for user ${user} must be 16-1024 printable characters`);
        }
    }
    return passwords;
}

/**
 * Idempotent SQL, run by the owner in one transaction, that converges every declared user to its
 * profile: creates or alters the role, grants what is missing, revokes what is extra, sets the default
 * privileges that make the owner's and the ddl users' future objects usable, and retires managed roles
 * no longer declared (NOLOGIN, no grants; never dropped, they may own objects). Audit: every change is
 * either a top-level GRANT/REVOKE/ALTER/CREATE/COMMENT (logged by log_statement=ddl) or RAISE LOGged
 * before a DO block EXECUTEs it. Password material never appears in any statement's text: a verifier
 * arrives as a bind parameter and is used inside a DO block whose errors are re-raised without it.
 * Statements only a real superuser could run (ALTER ROLE NOSUPERUSER...) run only when the role has that
 * attribute, because RDS's master user is not a superuser and PostgreSQL 16 refuses it even the mention.
 */
export function bootstrapStatements(input: AccessSpec | GrantsSpec, o: BootstrapOptions = {}): SqlStatement[] {
    const spec = accessOf(input);
    for (const user of spec.users) validateSpec(user);
    const passwords = checkPasswords(spec, o);
    const owner = ident(spec.owner);
    const schema = ident(spec.schema);
    const database = ident(spec.database);
    const probe = `${schema}.${ident(spec.probeTable)}`;
    const declared = spec.users.map((u) => u.user);
    const ddlUsers = spec.users.filter((u) => u.access === "ddl").map((u) => u.user);
    const statements: SqlStatement[] = [
        // Two bootstraps racing (two deploys, a retried Lambda) must not both try CREATE ROLE.
        // PERFORM, not SELECT: the RDS Data API cannot return pg_advisory_xact_lock's void result.
        { sql: `DO $$ BEGIN PERFORM pg_advisory_xact_lock(hashtext(${literal(`${AUDIT_PREFIX}bootstrap`)})); END $$` },
        { sql: `CREATE SCHEMA IF NOT EXISTS ${schema} AUTHORIZATION ${owner}` },
        { sql: `ALTER SCHEMA ${schema} OWNER TO ${owner}` },
        {
            sql: `CREATE TABLE IF NOT EXISTS ${probe} (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  note text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
)`,
        },
        { sql: `ALTER TABLE ${probe} OWNER TO ${owner}` },
        // The database is dedicated to the application: nobody gets CREATE/TEMPORARY by default, and
        // schema public gives nobody anything (PostgreSQL < 15 even let PUBLIC create there).
        { sql: `REVOKE ALL ON DATABASE ${database} FROM PUBLIC` },
        { sql: `REVOKE ALL ON SCHEMA public FROM PUBLIC` },
        { sql: `REVOKE ALL ON SCHEMA ${schema} FROM PUBLIC` },
    ];

    // Roles first: later grants and default privileges name them.
    for (const user of spec.users) statements.push(...roleStatements(user, passwords[user.user]));

    // The owner sets default privileges FOR each ddl user and grants on the tables it owns. A superuser
    // (local) may; RDS's master user must be a member of the ddl role, with SET and INHERIT.
    for (const ddl of ddlUsers) {
        statements.push({
            sql: `DO $$
DECLARE stmt text;
BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
     AND NOT (pg_has_role(current_user, ${literal(ddl)}, 'USAGE') AND pg_has_role(current_user, ${literal(ddl)}, 'SET')) THEN
    ${runLogged(`format('GRANT %I TO %I WITH INHERIT TRUE, SET TRUE', ${literal(ddl)}, current_user)`)}
  END IF;
END $$`,
        });
    }

    // After the memberships above: RDS's master user acts on the ddl users' tables through them.
    statements.push(
        { sql: `REVOKE ALL ON ALL TABLES IN SCHEMA ${schema} FROM PUBLIC` },
        { sql: `REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${schema} FROM PUBLIC` },
    );
    for (const user of spec.users) statements.push(...privilegeStatements(user));

    statements.push(retireStatement(spec.database, declared));
    statements.push({
        sql: `SELECT rolname::text AS retired FROM pg_roles
WHERE shobj_description(oid, 'pg_authid') = ${literal(managedRoleComment(spec.database))} AND rolname <> ALL (${nameArray(declared)})
ORDER BY 1`,
        returnsRows: true,
    });
    return statements;
}

function roleStatements(spec: GrantsSpec, password: string | undefined): SqlStatement[] {
    const user = ident(spec.user);
    const name = literal(spec.user);
    const attributes = `LOGIN NOCREATEDB NOCREATEROLE INHERIT CONNECTION LIMIT ${spec.connectionLimit}`;
    const statements: SqlStatement[] = [
        {
            sql: `DO $$
DECLARE r pg_roles%ROWTYPE; stmt text;
BEGIN
  SELECT * INTO r FROM pg_roles WHERE rolname = ${name};
  IF NOT FOUND THEN
    ${runLogged(`format('CREATE ROLE %I WITH NOSUPERUSER NOREPLICATION NOBYPASSRLS ${attributes}', ${name})`)}
  ELSE
    IF r.rolsuper THEN ${runLogged(`format('ALTER ROLE %I NOSUPERUSER', ${name})`)} END IF;
    IF r.rolreplication THEN ${runLogged(`format('ALTER ROLE %I NOREPLICATION', ${name})`)} END IF;
    IF r.rolbypassrls THEN ${runLogged(`format('ALTER ROLE %I NOBYPASSRLS', ${name})`)} END IF;
  END IF;
END $$`,
        },
        // CONNECTION LIMIT -1 also removes a limit set earlier. iam: no password at all, so the only way in
        // is a token through rds_iam.
        { sql: `ALTER ROLE ${user} WITH ${attributes}${spec.authMode === "iam" ? " PASSWORD NULL" : ""}` },
    ];
    if (password !== undefined) {
        // The verifier is a bind parameter (never in statement text, so never in the log, pg_stat_activity
        // or an error's statement), held in a transaction-local setting and used by the DO block, which
        // re-raises any error with the SQLSTATE only: the original message or CONTEXT could quote it.
        statements.push(
            {
                sql: `SELECT set_config('${VERIFIER_SETTING}', :verifier, true) IS NOT NULL AS verifier_set`,
                parameters: { verifier: scramSha256Verifier(password) },
            },
            {
                sql: `DO $$
BEGIN
  RAISE LOG '${AUDIT_PREFIX} ALTER ROLE % PASSWORD <SCRAM-SHA-256 verifier of the proxy secret, not logged>', ${name};
  EXECUTE format('ALTER ROLE %I PASSWORD %L', ${name}, current_setting('${VERIFIER_SETTING}'));
  PERFORM set_config('${VERIFIER_SETTING}', '', true);
EXCEPTION WHEN OTHERS THEN
  RAISE EXCEPTION '${AUDIT_PREFIX} setting the password of % failed (SQLSTATE %)', ${name}, SQLSTATE;
END $$`,
            },
        );
    }
    statements.push({ sql: `COMMENT ON ROLE ${user} IS ${literal(managedRoleComment(spec.database))}` });
    return statements;
}

function privilegeStatements(spec: GrantsSpec): SqlStatement[] {
    const user = ident(spec.user);
    const name = literal(spec.user);
    const schema = ident(spec.schema);
    const database = ident(spec.database);
    const schemaName = literal(spec.schema);
    const keepRoles = nameArray(spec.memberOf);
    const statements: SqlStatement[] = [
        // Unqualified names the app uses resolve in its own schema, never in public.
        { sql: `ALTER ROLE ${user} IN DATABASE ${database} SET search_path = ${schema}` },
        // Memberships: keep exactly spec.memberOf. GRANTED BY each original grantor, because a plain
        // REVOKE only removes the current user's own grants and would silently keep others.
        {
            sql: `DO $$
DECLARE m record; stmt text;
BEGIN
  FOR m IN
    SELECT r.rolname AS role, g.rolname AS grantor
    FROM pg_auth_members am
    JOIN pg_roles r ON r.oid = am.roleid
    JOIN pg_roles g ON g.oid = am.grantor
    WHERE am.member = (SELECT oid FROM pg_roles WHERE rolname = ${name})
      AND r.rolname <> ALL (${keepRoles})
  LOOP
    ${runLogged(`format('REVOKE %I FROM %I GRANTED BY %I', m.role, ${name}, m.grantor)`)}
  END LOOP;
END $$`,
        },
        ...spec.memberOf.map((role) => ({ sql: `GRANT ${ident(role)} TO ${user}` })),
        { sql: `REVOKE ALL ON DATABASE ${database} FROM ${user}` },
        { sql: `GRANT ${privilegeList(spec.databasePrivileges)} ON DATABASE ${database} TO ${user}` },
        { sql: `REVOKE ALL ON SCHEMA ${schema} FROM ${user}` },
        { sql: `GRANT ${privilegeList(spec.schemaPrivileges)} ON SCHEMA ${schema} TO ${user}` },
        // Other schemas, tables and sequences: revoke wherever the ACL names the user beyond its profile.
        // Only objects whose ACL names the user are touched (a blanket REVOKE would fail on objects the
        // owner may not see, in RDS rdsadmin's), and never objects the user owns (a ddl user's tables stay
        // its own). A table-level REVOKE also clears column grants.
        {
            sql: `DO $$
DECLARE
  o record;
  stmt text;
  member oid := (SELECT oid FROM pg_roles WHERE rolname = ${name});
BEGIN
  FOR o IN
    SELECT n.nspname FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a
    WHERE a.grantee = member AND n.nspname <> ${schemaName} AND n.nspowner <> member
  LOOP
    ${runLogged(`format('REVOKE ALL ON SCHEMA %I FROM %I', o.nspname, ${name})`)}
  END LOOP;
  FOR o IN
    SELECT DISTINCT n.nspname, c.relname, c.relkind
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relowner <> member AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
      AND (EXISTS (SELECT 1 FROM aclexplode(c.relacl) a
                   WHERE a.grantee = member
                     AND (n.nspname <> ${schemaName} OR a.is_grantable
                          OR a.privilege_type <> ALL (CASE WHEN c.relkind = 'S' THEN ARRAY[${spec.sequencePrivileges.map(literal).join(", ")}]::text[]
                                                           ELSE ARRAY[${spec.tablePrivileges.map(literal).join(", ")}]::text[] END)))
        OR EXISTS (SELECT 1 FROM pg_attribute t CROSS JOIN LATERAL aclexplode(t.attacl) a
                   WHERE t.attrelid = c.oid AND a.grantee = member))
  LOOP
    ${runLogged(`format('REVOKE ALL ON %s %I.%I FROM %I', CASE WHEN o.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, o.nspname, o.relname, ${name})`)}
  END LOOP;
END $$`,
        },
    ];
    if (spec.tablePrivileges.length > 0) statements.push({ sql: `GRANT ${privilegeList(spec.tablePrivileges)} ON ALL TABLES IN SCHEMA ${schema} TO ${user}` });
    if (spec.sequencePrivileges.length > 0) statements.push({ sql: `GRANT ${privilegeList(spec.sequencePrivileges)} ON ALL SEQUENCES IN SCHEMA ${schema} TO ${user}` });

    // Future objects of the owner and of every ddl user grant the profile without another bootstrap
    // (migrations keep working). Any other default naming the user is revoked.
    statements.push({
        sql: `DO $$
DECLARE entry record; stmt text;
BEGIN
  FOR entry IN
    SELECT DISTINCT pg_get_userbyid(d.defaclrole) AS creator, n.nspname, d.defaclobjtype
    FROM pg_default_acl d
    LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
    CROSS JOIN LATERAL aclexplode(d.defaclacl) a
    WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = ${name})
      AND (pg_get_userbyid(d.defaclrole) <> ALL (${nameArray(spec.creators)})
           OR n.nspname IS DISTINCT FROM ${schemaName} OR a.is_grantable
           OR d.defaclobjtype NOT IN ('r', 'S')
           OR (d.defaclobjtype = 'r' AND a.privilege_type <> ALL (ARRAY[${spec.tablePrivileges.map(literal).join(", ")}]::text[]))
           OR (d.defaclobjtype = 'S' AND a.privilege_type <> ALL (ARRAY[${spec.sequencePrivileges.map(literal).join(", ")}]::text[])))
  LOOP
    ${runLogged(revokeDefaultsStatement("entry", name))}
  END LOOP;
END $$`,
    });
    for (const creator of spec.creators) {
        if (spec.tablePrivileges.length > 0) {
            statements.push({ sql: `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(creator)} IN SCHEMA ${schema} GRANT ${privilegeList(spec.tablePrivileges)} ON TABLES TO ${user}` });
        }
        if (spec.sequencePrivileges.length > 0) {
            statements.push({ sql: `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(creator)} IN SCHEMA ${schema} GRANT ${privilegeList(spec.sequencePrivileges)} ON SEQUENCES TO ${user}` });
        }
    }
    return statements;
}

/**
 * Managed roles no longer declared lose LOGIN (and a password), their memberships and every grant
 * naming them, but are not dropped: a former ddl user may own tables the application still uses.
 * Only what is still there is changed, so a second run changes (and logs) nothing.
 */
function retireStatement(database: string, declared: string[]): SqlStatement {
    return {
        sql: `DO $$
DECLARE r record; o record; stmt text;
BEGIN
  FOR r IN
    SELECT oid, rolname, rolcanlogin FROM pg_roles
    WHERE shobj_description(oid, 'pg_authid') = ${literal(managedRoleComment(database))} AND rolname <> ALL (${nameArray(declared)})
    ORDER BY rolname
  LOOP
    IF r.rolcanlogin THEN ${runLogged(`format('ALTER ROLE %I NOLOGIN PASSWORD NULL', r.rolname)`)} END IF;
    FOR o IN
      SELECT g.rolname AS role, gr.rolname AS grantor FROM pg_auth_members am
      JOIN pg_roles g ON g.oid = am.roleid JOIN pg_roles gr ON gr.oid = am.grantor
      WHERE am.member = r.oid
    LOOP
      ${runLogged(`format('REVOKE %I FROM %I GRANTED BY %I', o.role, r.rolname, o.grantor)`)}
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_database d CROSS JOIN LATERAL aclexplode(d.datacl) a
               WHERE d.datname = current_database() AND a.grantee = r.oid) THEN
      ${runLogged(`format('REVOKE ALL ON DATABASE %I FROM %I', current_database(), r.rolname)`)}
    END IF;
    FOR o IN
      SELECT DISTINCT n.nspname FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a
      WHERE a.grantee = r.oid AND n.nspowner <> r.oid
    LOOP
      ${runLogged(`format('REVOKE ALL ON SCHEMA %I FROM %I', o.nspname, r.rolname)`)}
    END LOOP;
    FOR o IN
      SELECT DISTINCT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relowner <> r.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
        AND (EXISTS (SELECT 1 FROM aclexplode(c.relacl) a WHERE a.grantee = r.oid)
          OR EXISTS (SELECT 1 FROM pg_attribute t CROSS JOIN LATERAL aclexplode(t.attacl) a WHERE t.attrelid = c.oid AND a.grantee = r.oid))
    LOOP
      ${runLogged(`format('REVOKE ALL ON %s %I.%I FROM %I', CASE WHEN o.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, o.nspname, o.relname, r.rolname)`)}
    END LOOP;
    FOR o IN
      SELECT DISTINCT pg_get_userbyid(d.defaclrole) AS creator, n.nspname, d.defaclobjtype
      FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
      CROSS JOIN LATERAL aclexplode(d.defaclacl) a
      WHERE a.grantee = r.oid
    LOOP
      ${runLogged(revokeDefaultsStatement("o", "r.rolname"))}
    END LOOP;
  END LOOP;
END $$`,
    };
}

/**
 * PostgreSQL's stored form of a password (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`,
 * RFC 5802/7677): the server accepts it in ALTER ROLE ... PASSWORD and authenticates the password with it.
 */
export function scramSha256Verifier(password: string, salt: Buffer = randomBytes(16), iterations = 4096): string {
    const salted = pbkdf2Sync(password.normalize("NFKC"), salt, iterations, 32, "sha256");
    const hmac = (key: Buffer, text: string) => createHmac("sha256", key).update(text).digest();
    const storedKey = createHash("sha256").update(hmac(salted, "Client Key")).digest();
    const serverKey = hmac(salted, "Server Key");
    return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** A statement with named parameters as pg's positional form ($1, $2...). */
export function toPositional(statement: SqlStatement): { text: string; values: string[] } {
    const parameters = statement.parameters ?? {};
    const names = Object.keys(parameters);
    if (names.length === 0) return { text: statement.sql, values: [] };
    const values: string[] = [];
    const text = statement.sql.replace(/(?<![:\w]):([a-z_][a-z0-9_]*)/g, (match, name: string) => {
        if (!(name in parameters)) return match;
        values.push(parameters[name]);
        return `$${values.length}`;
    });
    return { text, values };
}

export interface BootstrapResult {
    statements: number;
    /** Managed roles no longer declared: NOLOGIN, no grants, kept because they may own objects. */
    retired: string[];
}

/** Runs the bootstrap in one transaction with bounded waits; on failure nothing is half-applied. */
export async function bootstrap(client: pg.ClientBase, input: AccessSpec | GrantsSpec, o: BootstrapOptions = {}): Promise<BootstrapResult> {
    const spec = accessOf(input);
    const statements = bootstrapStatements(spec, o);
    let retired: string[] = [];
    await client.query("BEGIN");
    try {
        await client.query("SET LOCAL lock_timeout = '10s'");
        await client.query("SET LOCAL statement_timeout = '60s'");
        for (const [index, statement] of statements.entries()) {
            try {
                const { text, values } = toPositional(statement);
                const result = await client.query(text, values);
                if (statement.returnsRows) retired = result.rows.map((row: { retired: string }) => row.retired);
            } catch (err) {
                // Statement text never holds a secret; parameters are not shown.
                const shown = statement.sql.replace(/\s+/g, " ").slice(0, 120);
                throw new Error(`grants: bootstrap of ${spec.users.map((u) => u.user).join(", ")} failed at statement ${index + 1}/${statements.length} (${shown}): ${(err as Error).message}`);
            }
        }
        await client.query("COMMIT");
    } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
    }
    return { statements: statements.length, retired };
}

export interface ObservedRoleAttributes {
    login: boolean;
    superuser: boolean;
    createRole: boolean;
    createDb: boolean;
    replication: boolean;
    bypassRls: boolean;
    inherit: boolean;
    connectionLimit: number;
}

export interface ObservedObjectGrants {
    schema: string;
    name: string;
    /** The object's owner role. */
    owner: string;
    privileges: string[];
}

export interface ObservedGrants {
    user: string;
    exists: boolean;
    attributes: ObservedRoleAttributes | null;
    /** Every role the user is a member of, directly or through other roles. */
    memberOf: string[];
    database: { name: string; privileges: string[] };
    /** Non-system schemas where the user holds any privilege (directly or through PUBLIC or a role). */
    schemas: { schema: string; privileges: string[] }[];
    /** Every table, view and foreign table of the app schema, and those of other non-system schemas where the user holds anything. */
    tables: (ObservedObjectGrants & { columnPrivileges: string[] })[];
    /** Every sequence of the app schema, and those of other non-system schemas where the user holds anything. */
    sequences: ObservedObjectGrants[];
    /** Default privileges anyone set up for the user. schema null = for every schema. */
    defaultPrivileges: { owner: string; schema: string | null; objectType: DefaultObjectType; privileges: string[] }[];
}

export type DefaultObjectType = "tables" | "sequences" | "functions" | "types" | "schemas";

const SYSTEM_SCHEMA_FILTER = `n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'`;

function privilegeColumns(kind: "table" | "sequence" | "schema", privileges: string[], target: string): string {
    return privileges
        .map((p) => `has_${kind}_privilege($1, ${target}, ${literal(p)}) AS ${ident(p.toLowerCase())}`)
        .join(", ");
}

function heldPrivileges(row: Record<string, unknown>, privileges: string[]): string[] {
    return privileges.filter((p) => row[p.toLowerCase()] === true);
}

/**
 * Reads what the user can actually do, from the catalogs, with functions any role may call
 * (has_*_privilege, pg_has_role, aclexplode on pg_default_acl): the smoke runner calls this while
 * connected AS the app user through the proxy. Privileges inherited from PUBLIC or other roles
 * count, because they are what the user can do.
 */
export async function readGrants(client: pg.ClientBase, spec: GrantsSpec): Promise<ObservedGrants> {
    validateSpec(spec);
    const current = await client.query<{ db: string }>("SELECT current_database() AS db");
    if (current.rows[0]?.db !== spec.database) {
        throw new Error(`grants: readGrants is connected to database ${JSON.stringify(current.rows[0]?.db)}, the spec is for ${JSON.stringify(spec.database)}; connect to ${spec.database}`);
    }
    const observed: ObservedGrants = {
        user: spec.user,
        exists: false,
        attributes: null,
        memberOf: [],
        database: { name: spec.database, privileges: [] },
        schemas: [],
        tables: [],
        sequences: [],
        defaultPrivileges: [],
    };
    const role = await client.query(
        `SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolinherit, rolconnlimit
         FROM pg_roles WHERE rolname = $1`,
        [spec.user],
    );
    if (role.rowCount === 0) return observed;
    const r = role.rows[0];
    observed.exists = true;
    observed.attributes = {
        login: r.rolcanlogin,
        superuser: r.rolsuper,
        createRole: r.rolcreaterole,
        createDb: r.rolcreatedb,
        replication: r.rolreplication,
        bypassRls: r.rolbypassrls,
        inherit: r.rolinherit,
        connectionLimit: r.rolconnlimit,
    };

    const members = await client.query<{ rolname: string }>(
        `SELECT rolname FROM pg_roles WHERE rolname <> $1 AND pg_has_role($1, oid, 'MEMBER') ORDER BY rolname`,
        [spec.user],
    );
    observed.memberOf = members.rows.map((m) => m.rolname);

    const database = await client.query(
        `SELECT ${DATABASE_PRIVILEGES_ALL.map((p) => `has_database_privilege($1, $2, ${literal(p)}) AS ${ident(p.toLowerCase())}`).join(", ")}`,
        [spec.user, spec.database],
    );
    observed.database.privileges = heldPrivileges(database.rows[0], DATABASE_PRIVILEGES_ALL);

    const schemas = await client.query(
        `SELECT n.nspname, ${privilegeColumns("schema", SCHEMA_PRIVILEGES_ALL, "n.oid")}
         FROM pg_namespace n WHERE ${SYSTEM_SCHEMA_FILTER} ORDER BY n.nspname`,
        [spec.user],
    );
    observed.schemas = schemas.rows
        .map((row) => ({ schema: row.nspname as string, privileges: heldPrivileges(row, SCHEMA_PRIVILEGES_ALL) }))
        .filter((s) => s.privileges.length > 0);

    const tables = await client.query(
        `SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner) AS owner,
                ${privilegeColumns("table", TABLE_PRIVILEGES_ALL, "c.oid")},
                ${COLUMN_PRIVILEGES_ALL.map((p) => `has_any_column_privilege($1, c.oid, ${literal(p)}) AS ${ident(`col_${p.toLowerCase()}`)}`).join(", ")}
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ${SYSTEM_SCHEMA_FILTER}
         ORDER BY n.nspname, c.relname`,
        [spec.user],
    );
    observed.tables = tables.rows
        .map((row) => {
            const privileges = heldPrivileges(row, TABLE_PRIVILEGES_ALL);
            // Column grants matter only where the table-level privilege is not already held.
            const columnPrivileges = COLUMN_PRIVILEGES_ALL.filter((p) => row[`col_${p.toLowerCase()}`] === true && !privileges.includes(p));
            return { schema: row.nspname as string, name: row.relname as string, owner: row.owner as string, privileges, columnPrivileges };
        })
        .filter((t) => t.schema === spec.schema || t.privileges.length > 0 || t.columnPrivileges.length > 0);

    const sequences = await client.query(
        `SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner) AS owner, ${privilegeColumns("sequence", SEQUENCE_PRIVILEGES_ALL, "c.oid")}
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'S' AND ${SYSTEM_SCHEMA_FILTER}
         ORDER BY n.nspname, c.relname`,
        [spec.user],
    );
    observed.sequences = sequences.rows
        .map((row) => ({ schema: row.nspname as string, name: row.relname as string, owner: row.owner as string, privileges: heldPrivileges(row, SEQUENCE_PRIVILEGES_ALL) }))
        .filter((s) => s.schema === spec.schema || s.privileges.length > 0);

    const defaults = await client.query<{ owner: string; schema: string | null; objtype: string; privileges: string[] }>(
        `SELECT pg_get_userbyid(d.defaclrole) AS owner, n.nspname AS schema, d.defaclobjtype::text AS objtype,
                array_agg(a.privilege_type ORDER BY a.privilege_type) AS privileges
         FROM pg_default_acl d
         LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
         CROSS JOIN LATERAL aclexplode(d.defaclacl) a
         WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1)
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
        [spec.user],
    );
    const objectTypes: Record<string, DefaultObjectType> = { r: "tables", S: "sequences", f: "functions", T: "types", n: "schemas" };
    observed.defaultPrivileges = defaults.rows.map((d) => ({
        owner: d.owner,
        schema: d.schema,
        objectType: objectTypes[d.objtype] ?? "tables",
        privileges: d.privileges,
    }));
    return observed;
}

export interface GrantDrift {
    missing: string[];
    extra: string[];
    forbidden: string[];
}

function compare(drift: GrantDrift, expected: string[], held: string[], on: string): void {
    for (const p of expected) if (!held.includes(p)) drift.missing.push(`${p} on ${on}`);
    for (const p of held) if (!expected.includes(p)) drift.extra.push(`${p} on ${on}`);
}

function isAdminRole(role: string, spec: GrantsSpec): boolean {
    return role.startsWith("pg_") || ADMIN_ROLES.has(role) || role === spec.owner;
}

/** Human-readable differences; empty arrays everywhere mean the database matches the spec. */
export function diffGrants(spec: GrantsSpec, observed: ObservedGrants): GrantDrift {
    const drift: GrantDrift = { missing: [], extra: [], forbidden: [] };
    if (!observed.exists || observed.attributes === null) {
        drift.missing.push(`role ${spec.user}`);
        return drift;
    }
    const a = observed.attributes;
    if (!a.login) drift.missing.push("LOGIN");
    if (a.superuser) drift.forbidden.push("SUPERUSER");
    if (a.createRole) drift.forbidden.push("CREATEROLE");
    if (a.createDb) drift.forbidden.push("CREATEDB");
    if (a.replication) drift.forbidden.push("REPLICATION");
    if (a.bypassRls) drift.forbidden.push("BYPASSRLS");
    if (a.connectionLimit !== spec.connectionLimit) {
        drift.extra.push(`CONNECTION LIMIT ${a.connectionLimit} (expected ${spec.connectionLimit}: the proxy, not the role, caps connections)`);
    }

    for (const role of spec.memberOf) if (!observed.memberOf.includes(role)) drift.missing.push(`member of ${role}`);
    for (const role of observed.memberOf) {
        if (spec.memberOf.includes(role)) continue;
        (isAdminRole(role, spec) ? drift.forbidden : drift.extra).push(`member of ${role}`);
    }

    compare(drift, spec.databasePrivileges, observed.database.privileges, `database ${spec.database}`);

    const appSchema = observed.schemas.find((s) => s.schema === spec.schema);
    compare(drift, spec.schemaPrivileges, appSchema?.privileges ?? [], `schema ${spec.schema}`);
    for (const s of observed.schemas) {
        if (s.schema !== spec.schema) compare(drift, [], s.privileges, `schema ${s.schema}`);
    }

    // A ddl user owns what it creates (all privileges, by ownership); any other user owning an object is drift.
    const owned = (o: ObservedObjectGrants, kind: string): boolean => {
        if (o.owner !== spec.user) return false;
        if (spec.access !== "ddl") drift.forbidden.push(`owner of ${kind} ${o.schema}.${o.name}`);
        return true;
    };
    // Tables of the app schema where the user holds nothing are listed too, so a missing grant shows.
    const probeSeen = observed.tables.some((t) => t.schema === spec.schema && t.name === spec.probeTable);
    for (const t of observed.tables) {
        if (owned(t, "table")) continue;
        const expected = t.schema === spec.schema ? spec.tablePrivileges : [];
        compare(drift, expected, t.privileges, `table ${t.schema}.${t.name}`);
        for (const p of t.columnPrivileges) drift.extra.push(`${p} on columns of table ${t.schema}.${t.name}`);
    }
    if (!probeSeen) for (const p of spec.tablePrivileges) drift.missing.push(`${p} on table ${spec.schema}.${spec.probeTable}`);
    for (const s of observed.sequences) {
        if (owned(s, "sequence")) continue;
        compare(drift, s.schema === spec.schema ? spec.sequencePrivileges : [], s.privileges, `sequence ${s.schema}.${s.name}`);
    }

    const expectedDefaults = spec.creators.flatMap((creator) => [
        { creator, objectType: "tables" as DefaultObjectType, privileges: spec.tablePrivileges },
        { creator, objectType: "sequences" as DefaultObjectType, privileges: spec.sequencePrivileges },
    ]).filter((e) => e.privileges.length > 0);
    for (const e of expectedDefaults) {
        const found = observed.defaultPrivileges.find((d) => d.owner === e.creator && d.schema === spec.schema && d.objectType === e.objectType);
        compare(drift, e.privileges, found?.privileges ?? [], `future ${e.objectType} of ${e.creator} in schema ${spec.schema}`);
    }
    for (const d of observed.defaultPrivileges) {
        const expected = d.schema === spec.schema && expectedDefaults.some((e) => e.creator === d.owner && e.objectType === d.objectType);
        if (!expected) compare(drift, [], d.privileges, `future ${d.objectType} of ${d.owner} in ${d.schema === null ? "every schema" : `schema ${d.schema}`}`);
    }
    return drift;
}
