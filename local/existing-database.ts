// The local plane's "existing database": what a team's real database has before the stack fronts it, and the
// snapshots that prove the non-destructive bootstrap took nothing from it.
//   - a legacy role that logs in with a password and owns the app schema and a table with rows;
//   - a PUBLIC grant on the app schema;
//   - an extra role of the team's own, holding a grant on the table, with the legacy role as a member.
// Used by `npm run local:up -- --existing` (the plane's own database) and by the existing-database rehearsal
// (a second database of a running plane).

import { randomBytes } from "node:crypto";
import type pg from "pg";
import { APP_SCHEMA } from "../access/spec";
import { scramSha256Verifier } from "../access/bootstrap-sql";
import { ident, literal } from "../access/quote";
import type { SecurityGroupRule } from "../smoke/ec2-rules";

/** What the legacy application has, as local:up --existing prints it (host:port added by the caller). */
export interface LegacyDatabase {
    /** The legacy role: logs in with `password`, owns schema app and `table`. */
    user: string;
    password: string;
    /** Schema-qualified. */
    table: string;
    rows: number;
    /** The team's own role (NOLOGIN), which the bootstrap must leave alone. */
    teamRole: string;
}

export const LEGACY_DEFAULTS = { user: "legacy_app", teamRole: "team_reporting", table: "orders", rows: 25 };

/**
 * Seeds `client`'s database (a superuser session) as a team's existing one, before any bootstrap. The
 * password reaches the server only as a SCRAM verifier, and the seed is kept out of a log_statement audit
 * trail: it is the plane's plumbing, not the bootstrap's work.
 */
export async function seedExistingDatabase(client: pg.ClientBase, o: Partial<typeof LEGACY_DEFAULTS> = {}): Promise<LegacyDatabase> {
    const legacy = { ...LEGACY_DEFAULTS, ...o };
    const password = randomBytes(18).toString("base64url");
    const user = ident(legacy.user);
    const team = ident(legacy.teamRole);
    const schema = ident(APP_SCHEMA);
    const table = `${schema}.${ident(legacy.table)}`;
    await client.query("BEGIN");
    try {
        await client.query("SET LOCAL log_statement = 'none'");
        await client.query(`CREATE ROLE ${user} LOGIN PASSWORD ${literal(scramSha256Verifier(password))}`);
        await client.query(`CREATE ROLE ${team} NOLOGIN`);
        await client.query(`GRANT ${team} TO ${user}`);
        await client.query(`CREATE SCHEMA ${schema} AUTHORIZATION ${user}`);
        // What many real databases have: every role may use the schema.
        await client.query(`GRANT USAGE ON SCHEMA ${schema} TO PUBLIC`);
        await client.query(`SET LOCAL ROLE ${user}`);
        await client.query(`CREATE TABLE ${table} (
  id bigserial PRIMARY KEY,
  customer text NOT NULL,
  total_cents integer NOT NULL,
  placed_at timestamptz NOT NULL DEFAULT now()
)`);
        await client.query(
            `INSERT INTO ${table} (customer, total_cents) SELECT 'customer ' || g, g * 100 FROM generate_series(1, $1::int) g`,
            [legacy.rows],
        );
        await client.query(`GRANT SELECT ON ${table} TO ${team}`);
        await client.query("COMMIT");
    } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw new Error(`existing database: seeding failed: ${(err as Error).message}`);
    }
    return { user: legacy.user, password, table: `${APP_SCHEMA}.${legacy.table}`, rows: legacy.rows, teamRole: legacy.teamRole };
}

/**
 * The cluster's security group as EC2 would describe it, for the smoke's CIDR row in local runs (there is no
 * EC2 here): the legacy application's subnet admitted on 5432, as the issue's typical existing cluster has,
 * and the proxy's group. A stand-in, like the RDS Proxy stand-in; printed as such.
 */
export const LOCAL_CLUSTER_SECURITY_GROUP = "sg-0c1a5e0c1a5e0c1a5";
export const LOCAL_CLUSTER_RULES: SecurityGroupRule[] = [
    {
        securityGroupRuleId: "sgr-0a11e9ac0a11e9ac0",
        groupId: LOCAL_CLUSTER_SECURITY_GROUP,
        isEgress: false,
        ipProtocol: "tcp",
        fromPort: 5432,
        toPort: 5432,
        cidrIpv4: "10.20.0.0/16",
    },
    {
        securityGroupRuleId: "sgr-0b0b0b0b0b0b0b0b0",
        groupId: LOCAL_CLUSTER_SECURITY_GROUP,
        isEgress: false,
        ipProtocol: "tcp",
        fromPort: 5432,
        toPort: 5432,
        referencedGroupId: "sg-0e7a0e7a0e7a0e7a0",
    },
    {
        securityGroupRuleId: "sgr-0e9e9e9e9e9e9e9e9",
        groupId: LOCAL_CLUSTER_SECURITY_GROUP,
        isEgress: true,
        ipProtocol: "-1",
        fromPort: -1,
        toPort: -1,
        cidrIpv4: "0.0.0.0/0",
    },
];

/** A database's roles, memberships, owners, ACLs and row counts, keyed by object ("table app.orders", ...). */
export type CatalogSnapshot = Record<string, unknown>;

const USER_SCHEMAS = `n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'`;

/**
 * Everything the bootstrap could change, read as a superuser: roles (with their password verifiers),
 * memberships, role comments and settings, and for the database, its schemas, relations, columns and
 * default privileges the owner and every ACL entry, plus each table's row count. `without` leaves out
 * these roles and any ACL entry or membership naming them: the declared users, which the bootstrap owns.
 */
export async function catalogSnapshot(client: pg.ClientBase, o: { without?: string[] } = {}): Promise<CatalogSnapshot> {
    const without = o.without ?? [];
    const q = async <T extends Record<string, unknown>>(sql: string): Promise<T[]> => (await client.query<T>(sql, [without])).rows;
    // A NULL ACL means the defaults (acldefault), which the first GRANT writes out: compare the effective entries.
    const acl = (column: string, kind?: string, owner?: string) => `(SELECT coalesce(array_agg(
            CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END || '=' || a.privilege_type
            || CASE WHEN a.is_grantable THEN '*' ELSE '' END || '/' || pg_get_userbyid(a.grantor) ORDER BY 1), ARRAY[]::text[])
          FROM aclexplode(${kind ? `coalesce(${column}, acldefault(${kind}, ${owner}))` : column}) a
          WHERE a.grantee = 0 OR pg_get_userbyid(a.grantee) <> ALL ($1::text[]))`;
    const snapshot: CatalogSnapshot = {};
    for (const r of await q(`SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls,
            rolconnlimit, rolpassword, rolvaliduntil::text AS valid_until, shobj_description(oid, 'pg_authid') AS comment
            FROM pg_authid WHERE rolname NOT LIKE 'pg\\_%' AND rolname <> ALL ($1::text[])`)) {
        snapshot[`role ${r.rolname}`] = r;
    }
    for (const m of await q(`SELECT roleid::regrole::text AS role, member::regrole::text AS member, grantor::regrole::text AS grantor,
            admin_option, inherit_option, set_option FROM pg_auth_members
            WHERE roleid::regrole::text <> ALL ($1::text[]) AND member::regrole::text <> ALL ($1::text[])`)) {
        snapshot[`member ${m.member} of ${m.role} by ${m.grantor}`] = m;
    }
    for (const s of await q(`SELECT coalesce(setrole::regrole::text, '*') AS role, setconfig FROM pg_db_role_setting
            WHERE setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
              AND (setrole = 0 OR setrole::regrole::text <> ALL ($1::text[]))`)) {
        snapshot[`settings of ${s.role}`] = s.setconfig;
    }
    for (const d of await q(
        `SELECT datname, pg_get_userbyid(datdba) AS owner, ${acl("datacl", "'d'", "datdba")} AS acl FROM pg_database WHERE datname = current_database()`,
    )) {
        snapshot[`database ${d.datname}`] = { owner: d.owner, acl: d.acl };
    }
    for (const s of await q(
        `SELECT n.nspname, pg_get_userbyid(n.nspowner) AS owner, ${acl("n.nspacl", "'n'", "n.nspowner")} AS acl FROM pg_namespace n WHERE ${USER_SCHEMAS}`,
    )) {
        snapshot[`schema ${s.nspname}`] = { owner: s.owner, acl: s.acl };
    }
    const relations = await q<{ name: string; kind: string; owner: string; acl: string[]; columns: string[] }>(
        `SELECT format('%I.%I', n.nspname, c.relname) AS name, c.relkind::text AS kind, pg_get_userbyid(c.relowner) AS owner, ${acl("c.relacl", "CASE WHEN c.relkind = 'S' THEN 's'::\"char\" ELSE 'r'::\"char\" END", "c.relowner")} AS acl,
            ARRAY(SELECT format('%s %s', t.attname, format_type(t.atttypid, t.atttypmod)) || coalesce(' ' || (
                    SELECT string_agg(CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END || '=' || x.privilege_type, ',' ORDER BY 1)
                    FROM aclexplode(t.attacl) x WHERE x.grantee = 0 OR pg_get_userbyid(x.grantee) <> ALL ($1::text[])), '')
                  FROM pg_attribute t WHERE t.attrelid = c.oid AND t.attnum > 0 AND NOT t.attisdropped ORDER BY t.attnum) AS columns
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ${USER_SCHEMAS}`,
    );
    for (const r of relations) snapshot[`relation ${r.name}`] = { kind: r.kind, owner: r.owner, acl: r.acl, columns: r.columns };
    for (const r of relations.filter((x) => x.kind === "r" || x.kind === "p")) {
        const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${r.name}`);
        snapshot[`rows in ${r.name}`] = rows[0].n;
    }
    for (const d of await q(`SELECT pg_get_userbyid(d.defaclrole) AS creator, coalesce(n.nspname, '*') AS schema, d.defaclobjtype::text AS kind, ${acl("d.defaclacl")} AS acl
            FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
            WHERE pg_get_userbyid(d.defaclrole) <> ALL ($1::text[])`)) {
        snapshot[`defaults of ${d.creator} in ${d.schema} for ${d.kind}`] = d.acl;
    }
    return snapshot;
}

/**
 * What changed in `after` among the objects `before` had (objects created since are not compared): one line
 * each, empty when everything `before` saw is as it was.
 */
export function changedSince(before: CatalogSnapshot, after: CatalogSnapshot): string[] {
    const changes: string[] = [];
    for (const [key, value] of Object.entries(before)) {
        if (!(key in after)) changes.push(`${key}: gone`);
        else if (JSON.stringify(after[key]) !== JSON.stringify(value))
            changes.push(`${key}: ${JSON.stringify(value)} -> ${JSON.stringify(after[key])}`);
    }
    return changes;
}

/** Every difference between two whole snapshots (added, gone or changed objects). */
export function snapshotDiff(a: CatalogSnapshot, b: CatalogSnapshot): string[] {
    return [
        ...changedSince(a, b),
        ...Object.keys(b)
            .filter((k) => !(k in a))
            .map((k) => `${k}: new`),
    ];
}
