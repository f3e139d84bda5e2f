// The difference between a user's spec and what it holds: missing, extra and forbidden grants, in words.
// No Pulumi import: the access/ room is bundled into the Lambdas.

import type { DefaultObjectType, ObservedGrants, ObservedObjectGrants } from "./observe";
import { ADMIN_ROLES, GrantsSpec } from "./spec";

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
        drift.extra.push(
            `CONNECTION LIMIT ${a.connectionLimit} (expected ${spec.connectionLimit}: the proxy, not the role, caps connections)`,
        );
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

    const expectedDefaults = spec.creators
        .flatMap((creator) => [
            { creator, objectType: "tables" as DefaultObjectType, privileges: spec.tablePrivileges },
            { creator, objectType: "sequences" as DefaultObjectType, privileges: spec.sequencePrivileges },
        ])
        .filter((e) => e.privileges.length > 0);
    for (const e of expectedDefaults) {
        const found = observed.defaultPrivileges.find(
            (d) => d.owner === e.creator && d.schema === spec.schema && d.objectType === e.objectType,
        );
        compare(drift, e.privileges, found?.privileges ?? [], `future ${e.objectType} of ${e.creator} in schema ${spec.schema}`);
    }
    for (const d of observed.defaultPrivileges) {
        const expected = d.schema === spec.schema && expectedDefaults.some((e) => e.creator === d.owner && e.objectType === d.objectType);
        if (!expected)
            compare(
                drift,
                [],
                d.privileges,
                `future ${d.objectType} of ${d.owner} in ${d.schema === null ? "every schema" : `schema ${d.schema}`}`,
            );
    }
    return drift;
}
