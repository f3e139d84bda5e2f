// What a user holds in the database, read as that user through the proxy: attributes, memberships, grants on
// the database, the app schema and its objects, and the default privileges others set for it.
// No Pulumi import: the access/ room is bundled into the Lambdas.

import type pg from "pg";
import { ident, literal } from "./quote";
import {
    COLUMN_PRIVILEGES_ALL,
    DATABASE_PRIVILEGES_ALL,
    GrantsSpec,
    SCHEMA_PRIVILEGES_ALL,
    SEQUENCE_PRIVILEGES_ALL,
    TABLE_PRIVILEGES_ALL,
    validateSpec,
} from "./spec";

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
    return privileges.map((p) => `has_${kind}_privilege($1, ${target}, ${literal(p)}) AS ${ident(p.toLowerCase())}`).join(", ");
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
        throw new Error(
            `grants: readGrants is connected to database ${JSON.stringify(current.rows[0]?.db)}, the spec is for ${JSON.stringify(spec.database)}; connect to ${spec.database}`,
        );
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
        .map((row) => ({
            schema: row.nspname as string,
            name: row.relname as string,
            owner: row.owner as string,
            privileges: heldPrivileges(row, SEQUENCE_PRIVILEGES_ALL),
        }))
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

/**
 * What PUBLIC holds in the database, as the diff words it ("TEMPORARY on database appdb", "USAGE on schema
 * public", "SELECT on table app.orders"): in a database the stack fronts but does not own, these are left as
 * they are (other applications may rely on them), so the smoke tells a user's own extra grants from what it
 * holds only through PUBLIC. has_*_privilege accepts "public" for the PUBLIC pseudo-role (PostgreSQL, "Access
 * Privilege Inquiry Functions").
 */
export async function readPublicHeld(client: pg.ClientBase, spec: GrantsSpec): Promise<string[]> {
    validateSpec(spec);
    const held: string[] = [];
    const database = await client.query(
        `SELECT ${DATABASE_PRIVILEGES_ALL.map((p) => `has_database_privilege('public', $1, ${literal(p)}) AS ${ident(p.toLowerCase())}`).join(", ")}`,
        [spec.database],
    );
    for (const p of heldPrivileges(database.rows[0], DATABASE_PRIVILEGES_ALL)) held.push(`${p} on database ${spec.database}`);
    const schemas = await client.query(
        `SELECT n.nspname, ${privilegeColumns("schema", SCHEMA_PRIVILEGES_ALL, "n.oid")} FROM pg_namespace n WHERE ${SYSTEM_SCHEMA_FILTER}`,
        ["public"],
    );
    for (const row of schemas.rows) for (const p of heldPrivileges(row, SCHEMA_PRIVILEGES_ALL)) held.push(`${p} on schema ${row.nspname}`);
    const relations = await client.query(
        `SELECT n.nspname, c.relname,
                ${privilegeColumns("table", TABLE_PRIVILEGES_ALL, "c.oid")},
                ${COLUMN_PRIVILEGES_ALL.map((p) => `has_any_column_privilege($1, c.oid, ${literal(p)}) AS ${ident(`col_${p.toLowerCase()}`)}`).join(", ")}
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ${SYSTEM_SCHEMA_FILTER}`,
        ["public"],
    );
    for (const row of relations.rows) {
        const privileges = heldPrivileges(row, TABLE_PRIVILEGES_ALL);
        for (const p of privileges) held.push(`${p} on table ${row.nspname}.${row.relname}`);
        for (const p of COLUMN_PRIVILEGES_ALL) {
            if (row[`col_${p.toLowerCase()}`] === true && !privileges.includes(p))
                held.push(`${p} on columns of table ${row.nspname}.${row.relname}`);
        }
    }
    const sequences = await client.query(
        `SELECT n.nspname, c.relname, ${privilegeColumns("sequence", SEQUENCE_PRIVILEGES_ALL, "c.oid")}
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND ${SYSTEM_SCHEMA_FILTER}`,
        ["public"],
    );
    for (const row of sequences.rows)
        for (const p of heldPrivileges(row, SEQUENCE_PRIVILEGES_ALL)) held.push(`${p} on sequence ${row.nspname}.${row.relname}`);
    return held;
}
