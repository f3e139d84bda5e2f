// The bootstrap's SQL: the statements that converge every declared user to its spec, run as the owner (the master
// user in AWS, the local superuser in the rehearsal). Secrets travel only as bind parameters, never in text.
// No Pulumi import: the access/ room is bundled into the Lambdas.

import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { literal, ident } from "./quote";
import { AccessSpec, accessOf, GrantsSpec, managedRoleComment, validateSpec } from "./spec";

/** Prefix of every RAISE LOG line the bootstrap writes to the server log (no secret ever follows it). */
export const AUDIT_PREFIX = "aurora-iam-proxy:";
/** The transaction-local setting that carries a SCRAM verifier from a bind parameter into a DO block. */
export const VERIFIER_SETTING = "aurora_iam_proxy.verifier";

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
    /**
     * The database already exists and other applications use it (fronting an existing cluster). The
     * bootstrap then never revokes from PUBLIC, never changes the owner of a schema or table that already
     * exists, and refuses (changing nothing) when a declared user's name is taken by a role it did not make
     * or when the running role cannot grant on the app schema and its objects. Roles it did not declare
     * are never touched: retirement already finds its own roles only by the managed-role comment.
     */
    existingDatabase?: boolean;
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

/** The smoke's probe table: its columns, the same whether the bootstrap creates it at top level or in a DO block. */
const PROBE_COLUMNS = `id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  note text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()`;

/** How many objects a refusal names before "and N more". */
const PRECHECK_NAMED = 5;

/**
 * Existing-database mode's first step, before anything changes: refuses (one error naming each problem and
 * its fix; the transaction then changes nothing) when
 *  - a declared user's name belongs to a role this bootstrap did not make (no managed-role comment): converging
 *    it would clear its password (iam) and revoke its grants, which is someone else's login;
 *  - the running role (RDS's master user is no superuser) could not act as the owner of the database, the app
 *    schema or an object in it: GRANT would fail there, or worse, warn and grant nothing.
 * Acting as an owner means being a member of the owner role with INHERIT (pg_has_role ... 'USAGE'): the
 * PostgreSQL GRANT page (Notes) lets a member of the owning role grant and revoke, recorded as the owner's.
 */
function existingDatabasePrecheck(spec: AccessSpec, declared: string[]): SqlStatement {
    const comment = managedRoleComment(spec.database);
    const named = (what: string) => `(SELECT string_agg(x, ', ') FROM (SELECT unnest(${what}) x LIMIT ${PRECHECK_NAMED}) s)
      || CASE WHEN cardinality(${what}) > ${PRECHECK_NAMED} THEN format(' and %s more', cardinality(${what}) - ${PRECHECK_NAMED}) ELSE '' END`;
    return {
        sql: `DO $$
DECLARE
  problems text[] := ARRAY[]::text[];
  taken text[];
  foreign_owners text[];
  objects text[];
  superuser boolean := (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
BEGIN
  SELECT array_agg(rolname::text ORDER BY rolname) INTO taken FROM pg_roles
  WHERE rolname = ANY (${nameArray(declared)})
    AND coalesce(shobj_description(oid, 'pg_authid'), '') NOT LIKE 'managed by aurora-iam-proxy for database %';
  IF taken IS NOT NULL THEN
    problems := problems || format('declared user(s) %s already exist as roles this bootstrap did not make: converging them would clear their password and revoke their grants; declare other names, or adopt a role on purpose with COMMENT ON ROLE <name> IS %L',
      array_to_string(taken, ', '), ${literal(comment)});
  END IF;
  IF NOT superuser THEN
    SELECT array_agg(format('%s (owner %s)', what, owner) ORDER BY what), array_agg(DISTINCT owner) INTO objects, foreign_owners FROM (
      SELECT format('database %I', datname) AS what, pg_get_userbyid(datdba)::text AS owner FROM pg_database
      WHERE datname = current_database() AND NOT pg_has_role(current_user, datdba, 'USAGE')
      UNION ALL
      SELECT format('schema %I', nspname), pg_get_userbyid(nspowner)::text FROM pg_namespace
      WHERE nspname = ${literal(spec.schema)} AND NOT pg_has_role(current_user, nspowner, 'USAGE')
      UNION ALL
      SELECT format('%s %I.%I', CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END, n.nspname, c.relname), pg_get_userbyid(c.relowner)::text
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ${literal(spec.schema)} AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND NOT pg_has_role(current_user, c.relowner, 'USAGE')
    ) cannot;
    IF objects IS NOT NULL THEN
      problems := problems || format('%s cannot grant on %s: it must be a member (with INHERIT) of %s; run GRANT %s TO %I as a role with ADMIN OPTION on them, then deploy again',
        current_user, ${named("objects")}, array_to_string(foreign_owners, ', '),
        array_to_string(ARRAY(SELECT quote_ident(o) FROM unnest(foreign_owners) o), ', '), current_user);
    END IF;
  END IF;
  IF cardinality(problems) > 0 THEN
    RAISE EXCEPTION '${AUDIT_PREFIX} existing-database bootstrap refused, nothing was changed: %', array_to_string(problems, '; ');
  END IF;
END $$`,
    };
}

function runLogged(expression: string): string {
    return `stmt := ${expression}; RAISE LOG '${AUDIT_PREFIX} %', stmt; EXECUTE stmt;`;
}

function checkPasswords(spec: AccessSpec, o: BootstrapOptions): Record<string, string> {
    const passwords: Record<string, string> = { ...(o.passwords ?? {}) };
    if (o.password !== undefined) {
        if (spec.users.length !== 1)
            throw new Error(
                `grants: "password" is for a one-user spec; pass "passwords" by user for ${spec.users.map((u) => u.user).join(", ")}`,
            );
        passwords[spec.users[0].user] = o.password;
    }
    for (const [user, password] of Object.entries(passwords)) {
        if (spec.authMode !== "secrets") {
            throw new Error(
                `grants: a password was given for user ${user} in authMode ${spec.authMode}; passwords are only used in "secrets" mode`,
            );
        }
        if (!spec.users.some((u) => u.user === user)) {
            throw new Error(
                `grants: a password was given for ${JSON.stringify(user)}, which is not a declared user; declared: ${spec.users.map((u) => u.user).join(", ")}`,
            );
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
    const existing = o.existingDatabase === true;
    const statements: SqlStatement[] = [
        // Two bootstraps racing (two deploys, a retried Lambda) must not both try CREATE ROLE.
        // PERFORM, not SELECT: the RDS Data API cannot return pg_advisory_xact_lock's void result.
        { sql: `DO $$ BEGIN PERFORM pg_advisory_xact_lock(hashtext(${literal(`${AUDIT_PREFIX}bootstrap`)})); END $$` },
    ];
    if (existing) {
        // Someone else's database: check first, change nothing unless every step can run without taking
        // anything from anyone; then create only what is missing and never change an owner.
        statements.push(existingDatabasePrecheck(spec, declared));
        statements.push({ sql: `CREATE SCHEMA IF NOT EXISTS ${schema} AUTHORIZATION ${owner}` });
        statements.push({
            sql: `DO $$
DECLARE stmt text;
BEGIN
  IF to_regclass(${literal(`${schema}.${ident(spec.probeTable)}`)}) IS NULL THEN
    ${runLogged(`format('CREATE TABLE %I.%I (${PROBE_COLUMNS.replace(/\s+/g, " ").replace(/'/g, "''")})', ${literal(spec.schema)}, ${literal(spec.probeTable)})`)}
    ${runLogged(`format('ALTER TABLE %I.%I OWNER TO %I', ${literal(spec.schema)}, ${literal(spec.probeTable)}, ${literal(spec.owner)})`)}
  END IF;
END $$`,
        });
    } else {
        statements.push(
            { sql: `CREATE SCHEMA IF NOT EXISTS ${schema} AUTHORIZATION ${owner}` },
            { sql: `ALTER SCHEMA ${schema} OWNER TO ${owner}` },
            { sql: `CREATE TABLE IF NOT EXISTS ${probe} (\n  ${PROBE_COLUMNS}\n)` },
            { sql: `ALTER TABLE ${probe} OWNER TO ${owner}` },
            // The database is dedicated to the application: nobody gets CREATE/TEMPORARY by default, and
            // schema public gives nobody anything (PostgreSQL < 15 even let PUBLIC create there).
            { sql: `REVOKE ALL ON DATABASE ${database} FROM PUBLIC` },
            { sql: `REVOKE ALL ON SCHEMA public FROM PUBLIC` },
            { sql: `REVOKE ALL ON SCHEMA ${schema} FROM PUBLIC` },
        );
    }

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
    // In an existing database what PUBLIC holds is left as it is (the legacy application may rely on
    // it); the smoke shows PUBLIC's grant on the app schema as a warning instead.
    if (!existing) {
        statements.push(
            { sql: `REVOKE ALL ON ALL TABLES IN SCHEMA ${schema} FROM PUBLIC` },
            { sql: `REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${schema} FROM PUBLIC` },
        );
    }
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
    if (spec.tablePrivileges.length > 0)
        statements.push({ sql: `GRANT ${privilegeList(spec.tablePrivileges)} ON ALL TABLES IN SCHEMA ${schema} TO ${user}` });
    if (spec.sequencePrivileges.length > 0)
        statements.push({ sql: `GRANT ${privilegeList(spec.sequencePrivileges)} ON ALL SEQUENCES IN SCHEMA ${schema} TO ${user}` });

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
            statements.push({
                sql: `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(creator)} IN SCHEMA ${schema} GRANT ${privilegeList(spec.tablePrivileges)} ON TABLES TO ${user}`,
            });
        }
        if (spec.sequencePrivileges.length > 0) {
            statements.push({
                sql: `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(creator)} IN SCHEMA ${schema} GRANT ${privilegeList(spec.sequencePrivileges)} ON SEQUENCES TO ${user}`,
            });
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
