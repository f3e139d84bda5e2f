// THE single definition of what the application's database user may do. The same spec drives the
// bootstrap SQL (run as the owner: master user in AWS, local superuser in the rehearsal), the IAM
// policy's user name, and the smoke runner's expectations (readGrants + diffGrants, run as the app
// user itself through the proxy). No Pulumi import: this file is bundled into a Lambda.

import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import type pg from "pg";

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
/** Plenty for an RDS Proxy pool in front of it, small enough that a leak cannot starve the owner. */
export const APP_CONNECTION_LIMIT = 100;

/** iam = end-to-end IAM (the user is a member of rds_iam); secrets = the proxy logs in with a per-user password secret. */
export type AuthMode = "iam" | "secrets";

export interface GrantsSpec {
    database: string;
    user: string;
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
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
/** Roles whose membership hands out administrative power; never acceptable for the app user. */
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

export function grantsSpec(o: { database: string; user: string; owner: string; authMode: AuthMode }): GrantsSpec {
    assertIdentifier("database", o.database);
    assertIdentifier("user", o.user);
    assertIdentifier("owner", o.owner);
    if (o.authMode !== "iam" && o.authMode !== "secrets") {
        throw new Error(`grants: authMode ${JSON.stringify(o.authMode)} is not supported; use "iam" or "secrets"`);
    }
    if (o.user === o.owner) {
        throw new Error(`grants: user ${JSON.stringify(o.user)} is also the owner; the app user must be a separate, unprivileged role`);
    }
    if (o.user.startsWith("pg_") || o.user.startsWith("rds") || ADMIN_ROLES.has(o.user)) {
        throw new Error(`grants: user ${JSON.stringify(o.user)} uses a reserved prefix or name; pg_*, rds* and ${[...ADMIN_ROLES].join(", ")} are not allowed`);
    }
    return {
        database: o.database,
        user: o.user,
        owner: o.owner,
        schema: APP_SCHEMA,
        authMode: o.authMode,
        connectionLimit: APP_CONNECTION_LIMIT,
        probeTable: PROBE_TABLE,
        databasePrivileges: ["CONNECT"],
        schemaPrivileges: ["USAGE"],
        tablePrivileges: ["SELECT", "INSERT", "UPDATE", "DELETE"],
        sequencePrivileges: ["USAGE", "SELECT"],
        memberOf: o.authMode === "iam" ? ["rds_iam"] : [],
    };
}

function validateSpec(spec: GrantsSpec): void {
    for (const [what, value] of [
        ["database", spec.database],
        ["user", spec.user],
        ["owner", spec.owner],
        ["schema", spec.schema],
        ["probeTable", spec.probeTable],
        ...spec.memberOf.map((role) => ["memberOf role", role]),
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
    if (!Number.isInteger(spec.connectionLimit) || spec.connectionLimit < 1) {
        throw new Error(`grants: connectionLimit ${spec.connectionLimit} is not allowed; use a positive integer`);
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

/**
 * Idempotent SQL that converges the app user to the spec when run by the owner: it grants what is
 * missing and revokes what is extra, so running it after someone granted something by hand
 * removes that grant. Statements that only a real superuser could run (ALTER ROLE NOSUPERUSER...)
 * are executed only when the role actually has that attribute, because RDS's master user is not
 * a superuser and PostgreSQL 16 refuses to let it even mention those attributes.
 */
export function bootstrapStatements(spec: GrantsSpec, o: { password?: string } = {}): string[] {
    validateSpec(spec);
    if (o.password !== undefined && spec.authMode !== "secrets") {
        throw new Error(`grants: a password was given for user ${spec.user} in authMode ${spec.authMode}; passwords are only used in "secrets" mode`);
    }
    if (o.password !== undefined && (o.password.length < 16 || o.password.length > 1024 || /[\u0000-\u001f\u007f]/.test(o.password))) {
        throw new Error(`grants: password for user ${spec.user} must be 16-1024 printable characters`);
    }
    const user = ident(spec.user);
    const owner = ident(spec.owner);
    const schema = ident(spec.schema);
    const database = ident(spec.database);
    const probe = `${schema}.${ident(spec.probeTable)}`;
    const keepRoles = `ARRAY[${spec.memberOf.map(literal).join(", ")}]::name[]`;
    const attributes = `LOGIN NOCREATEDB NOCREATEROLE INHERIT CONNECTION LIMIT ${spec.connectionLimit}`;
    // iam: no password at all, so the only way in is a token through rds_iam. secrets: the proxy's secret.
    // The password itself never reaches the server (or its error log): only its SCRAM verifier does.
    const password = spec.authMode === "iam" ? " PASSWORD NULL" : o.password !== undefined ? ` PASSWORD ${literal(scramSha256Verifier(o.password))}` : "";

    return [
        // Two bootstraps racing (two deploys, a retried Lambda) must not both try CREATE ROLE.
        // PERFORM, not SELECT: the RDS Data API cannot return pg_advisory_xact_lock's void result.
        `DO $$ BEGIN PERFORM pg_advisory_xact_lock(hashtext(${literal(`grants:${spec.user}`)})); END $$`,
        `DO $$
DECLARE r pg_roles%ROWTYPE;
BEGIN
  SELECT * INTO r FROM pg_roles WHERE rolname = ${literal(spec.user)};
  IF NOT FOUND THEN
    CREATE ROLE ${user} WITH NOSUPERUSER NOREPLICATION NOBYPASSRLS ${attributes};
  ELSE
    IF r.rolsuper THEN ALTER ROLE ${user} NOSUPERUSER; END IF;
    IF r.rolreplication THEN ALTER ROLE ${user} NOREPLICATION; END IF;
    IF r.rolbypassrls THEN ALTER ROLE ${user} NOBYPASSRLS; END IF;
  END IF;
END $$`,
        `ALTER ROLE ${user} WITH ${attributes}${password}`,
        // Unqualified names the app uses resolve in its own schema, never in public.
        `ALTER ROLE ${user} IN DATABASE ${database} SET search_path = ${schema}`,
        // Memberships: keep exactly spec.memberOf. GRANTED BY each original grantor, because a
        // plain REVOKE only removes the current user's own grants and would silently keep others.
        `DO $$
DECLARE m record;
BEGIN
  FOR m IN
    SELECT r.rolname AS role, g.rolname AS grantor
    FROM pg_auth_members am
    JOIN pg_roles r ON r.oid = am.roleid
    JOIN pg_roles g ON g.oid = am.grantor
    WHERE am.member = (SELECT oid FROM pg_roles WHERE rolname = ${literal(spec.user)})
      AND r.rolname <> ALL (${keepRoles})
  LOOP
    EXECUTE format('REVOKE %I FROM %I GRANTED BY %I', m.role, ${literal(spec.user)}, m.grantor);
  END LOOP;
END $$`,
        ...spec.memberOf.map((role) => `GRANT ${ident(role)} TO ${user}`),

        // The database is dedicated to the application: nobody gets CREATE/TEMPORARY by default.
        `REVOKE ALL ON DATABASE ${database} FROM PUBLIC`,
        `REVOKE ALL ON DATABASE ${database} FROM ${user}`,
        `GRANT ${privilegeList(spec.databasePrivileges)} ON DATABASE ${database} TO ${user}`,

        `CREATE SCHEMA IF NOT EXISTS ${schema} AUTHORIZATION ${owner}`,
        `ALTER SCHEMA ${schema} OWNER TO ${owner}`,
        `CREATE TABLE IF NOT EXISTS ${probe} (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  note text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
)`,
        `ALTER TABLE ${probe} OWNER TO ${owner}`,

        // The database is the app's alone and the app lives in its own schema: schema public gives
        // nobody anything (PostgreSQL < 15 even let PUBLIC create there).
        `REVOKE ALL ON SCHEMA public FROM PUBLIC`,
        // Anything granted to the user outside the app schema is extra. Only objects whose ACL
        // names the user are touched: a blanket REVOKE would fail on objects the owner may not
        // see (in RDS, rdsadmin's), and PUBLIC's grants there are reported by diffGrants rather
        // than changed behind their owner's back. A table-level REVOKE also clears column grants.
        `DO $$
DECLARE
  o record;
  app_user oid := (SELECT oid FROM pg_roles WHERE rolname = ${literal(spec.user)});
BEGIN
  FOR o IN
    SELECT n.nspname FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a
    WHERE a.grantee = app_user AND n.nspname <> ${literal(spec.schema)}
  LOOP
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM %I', o.nspname, ${literal(spec.user)});
  END LOOP;
  FOR o IN
    SELECT DISTINCT n.nspname, c.relname, c.relkind
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname <> ${literal(spec.schema)}
      AND (EXISTS (SELECT 1 FROM aclexplode(c.relacl) a WHERE a.grantee = app_user)
        OR EXISTS (SELECT 1 FROM pg_attribute t CROSS JOIN LATERAL aclexplode(t.attacl) a
                   WHERE t.attrelid = c.oid AND a.grantee = app_user))
  LOOP
    EXECUTE format('REVOKE ALL ON %s %I.%I FROM %I',
      CASE WHEN o.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, o.nspname, o.relname, ${literal(spec.user)});
  END LOOP;
END $$`,

        // The app schema: revoke everything (table-level REVOKE also clears column grants), then grant the spec.
        `REVOKE ALL ON SCHEMA ${schema} FROM PUBLIC`,
        `REVOKE ALL ON SCHEMA ${schema} FROM ${user}`,
        `GRANT ${privilegeList(spec.schemaPrivileges)} ON SCHEMA ${schema} TO ${user}`,
        `REVOKE ALL ON ALL TABLES IN SCHEMA ${schema} FROM PUBLIC`,
        `REVOKE ALL ON ALL TABLES IN SCHEMA ${schema} FROM ${user}`,
        `GRANT ${privilegeList(spec.tablePrivileges)} ON ALL TABLES IN SCHEMA ${schema} TO ${user}`,
        `REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${schema} FROM PUBLIC`,
        `REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${schema} FROM ${user}`,
        `GRANT ${privilegeList(spec.sequencePrivileges)} ON ALL SEQUENCES IN SCHEMA ${schema} TO ${user}`,

        // Tables the owner creates later (migrations) get the same grants without another bootstrap.
        // First drop every default the owner set up for the user anywhere, then declare the spec's.
        `DO $$
DECLARE entry record;
BEGIN
  FOR entry IN
    SELECT n.nspname, d.defaclobjtype
    FROM pg_default_acl d
    LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
    CROSS JOIN LATERAL aclexplode(d.defaclacl) a
    WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = ${literal(spec.owner)})
      AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = ${literal(spec.user)})
  LOOP
    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I %s REVOKE ALL ON %s FROM %I',
      ${literal(spec.owner)},
      CASE WHEN entry.nspname IS NULL THEN '' ELSE format('IN SCHEMA %I', entry.nspname) END,
      CASE entry.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS'
                           WHEN 'T' THEN 'TYPES' WHEN 'n' THEN 'SCHEMAS' END,
      ${literal(spec.user)});
  END LOOP;
END $$`,
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${schema} GRANT ${privilegeList(spec.tablePrivileges)} ON TABLES TO ${user}`,
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${schema} GRANT ${privilegeList(spec.sequencePrivileges)} ON SEQUENCES TO ${user}`,
    ];
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

/** Runs the bootstrap in one transaction with bounded waits; on failure nothing is half-applied. */
export async function bootstrap(client: pg.ClientBase, spec: GrantsSpec, o: { password?: string } = {}): Promise<void> {
    const statements = bootstrapStatements(spec, o);
    await client.query("BEGIN");
    try {
        await client.query("SET LOCAL lock_timeout = '10s'");
        await client.query("SET LOCAL statement_timeout = '60s'");
        if (o.password !== undefined) {
            // Keep the password out of the server log when log_statement is on. Only a superuser may
            // change it (not RDS's master user), and a failed SET would abort the transaction, so try
            // it inside a savepoint.
            await client.query("SAVEPOINT quiet_log");
            await client.query("SET LOCAL log_statement = 'none'").catch(() => client.query("ROLLBACK TO SAVEPOINT quiet_log"));
            await client.query("RELEASE SAVEPOINT quiet_log");
        }
        for (const [index, statement] of statements.entries()) {
            try {
                await client.query(statement);
            } catch (err) {
                const shown = statement.replace(/PASSWORD '(?:[^']|'')*'/g, "PASSWORD '***'").replace(/\s+/g, " ").slice(0, 120);
                throw new Error(`grants: bootstrap of ${spec.user} failed at statement ${index + 1}/${statements.length} (${shown}): ${(err as Error).message}`);
            }
        }
        await client.query("COMMIT");
    } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
    }
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
    /** Tables, views and foreign tables of non-system schemas where the user holds anything. */
    tables: (ObservedObjectGrants & { columnPrivileges: string[] })[];
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
        `SELECT n.nspname, c.relname,
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
            return { schema: row.nspname as string, name: row.relname as string, privileges, columnPrivileges };
        })
        .filter((t) => t.privileges.length > 0 || t.columnPrivileges.length > 0);

    const sequences = await client.query(
        `SELECT n.nspname, c.relname, ${privilegeColumns("sequence", SEQUENCE_PRIVILEGES_ALL, "c.oid")}
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'S' AND ${SYSTEM_SCHEMA_FILTER}
         ORDER BY n.nspname, c.relname`,
        [spec.user],
    );
    observed.sequences = sequences.rows
        .map((row) => ({ schema: row.nspname as string, name: row.relname as string, privileges: heldPrivileges(row, SEQUENCE_PRIVILEGES_ALL) }))
        .filter((s) => s.privileges.length > 0);

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

    for (const t of observed.tables) {
        const expected = t.schema === spec.schema ? spec.tablePrivileges : [];
        compare(drift, expected, t.privileges, `table ${t.schema}.${t.name}`);
        for (const p of t.columnPrivileges) drift.extra.push(`${p} on columns of table ${t.schema}.${t.name}`);
    }
    // Tables of the app schema where the user holds nothing do not appear in observed.tables; the
    // probe table always exists after bootstrap, so its absence from the list means missing grants.
    if (!observed.tables.some((t) => t.schema === spec.schema && t.name === spec.probeTable)) {
        for (const p of spec.tablePrivileges) drift.missing.push(`${p} on table ${spec.schema}.${spec.probeTable}`);
    }
    for (const s of observed.sequences) {
        compare(drift, s.schema === spec.schema ? spec.sequencePrivileges : [], s.privileges, `sequence ${s.schema}.${s.name}`);
    }

    const expectedDefaults: { objectType: DefaultObjectType; privileges: string[] }[] = [
        { objectType: "tables", privileges: spec.tablePrivileges },
        { objectType: "sequences", privileges: spec.sequencePrivileges },
    ];
    for (const e of expectedDefaults) {
        const found = observed.defaultPrivileges.find((d) => d.owner === spec.owner && d.schema === spec.schema && d.objectType === e.objectType);
        compare(drift, e.privileges, found?.privileges ?? [], `future ${e.objectType} of ${spec.owner} in schema ${spec.schema}`);
    }
    for (const d of observed.defaultPrivileges) {
        const expected = d.owner === spec.owner && d.schema === spec.schema && expectedDefaults.some((e) => e.objectType === d.objectType);
        if (!expected) compare(drift, [], d.privileges, `future ${d.objectType} of ${d.owner} in ${d.schema === null ? "every schema" : `schema ${d.schema}`}`);
    }
    return drift;
}
