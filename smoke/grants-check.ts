// Check 3: the grants each user holds equal its declared profile, both ways.
// The spec and the catalog reading live in access/spec.ts and access/observe.ts (one source of
// truth, shared with the bootstrap SQL); this file only turns the diff into a
// verdict that names every drift item.

import type { Client } from "pg";
import { accessSpec, GrantsSpec } from "../access/spec";
import { diffGrants } from "../access/diff";
import { readGrants, readPublicHeld } from "../access/observe";
import { errorMessage } from "../client/errors";
import { CheckResult, CHECK, Timer, timed } from "./checks";
import type { Session } from "./session";
import { DEFAULT_OWNER, SmokeTarget, targetUsers } from "./target";

/** Every declared user's spec for this target (throws with the reason when a name cannot be a user). */
export function targetSpecs(t: SmokeTarget): GrantsSpec[] {
    return accessSpec({ database: t.database, owner: t.owner ?? DEFAULT_OWNER, authMode: t.authMode, users: targetUsers(t) }).users;
}

/**
 * In an existing database (`existingDatabase`) what the user holds only through PUBLIC is not its own drift:
 * the bootstrap leaves PUBLIC's grants as they are there, so the row passes and names them, and the PUBLIC
 * warning row shows the app schema's.
 */
export async function grantsCheck(
    session: Session,
    client: Client,
    clock: Timer,
    user?: string,
    name: string = CHECK.grants,
    o: { existingDatabase?: boolean } = {},
): Promise<CheckResult> {
    return timed(name, session, clock, async () => {
        const t = session.target;
        const owner = t.owner ?? DEFAULT_OWNER;
        const who = user ?? t.user;
        let spec: GrantsSpec | undefined;
        try {
            spec = targetSpecs(t).find((s) => s.user === who);
        } catch (err) {
            return { ok: false, detail: errorMessage(err), kind: "config" };
        }
        if (!spec) return { ok: false, detail: `user ${who} is not among the declared users`, kind: "config" };
        const observed = await session.within(readGrants(client, spec));
        const drift = diffGrants(spec, observed);
        const publicHeld = o.existingDatabase ? new Set(await session.within(readPublicHeld(client, spec))) : new Set<string>();
        const throughPublic = drift.extra.filter((d) => publicHeld.has(d));
        drift.extra = drift.extra.filter((d) => !publicHeld.has(d));
        const items = [
            ...drift.forbidden.map((d) => `forbidden ${d}`),
            ...drift.missing.map((d) => `missing ${d}`),
            ...drift.extra.map((d) => `extra ${d}`),
        ];
        if (items.length > 0) {
            return { ok: false, detail: `grant drift for ${who} (owner ${owner}): ${items.join("; ")}`, kind: "grants" };
        }
        const tables = observed.tables.filter((x) => x.owner !== who && x.privileges.length > 0).length;
        const list = (p: string[]) => (p.length > 0 ? p.join(",") : "nothing");
        return {
            ok: true,
            detail:
                `${spec.access}: ${list(spec.databasePrivileges)} on ${spec.database}, ${list(spec.schemaPrivileges)} on ${spec.schema}, ` +
                `${list(spec.tablePrivileges)} on ${tables} table${tables === 1 ? "" : "s"}` +
                (spec.memberOf.length > 0 ? `, member of ${spec.memberOf.join(",")}` : "") +
                `; nothing extra` +
                (throughPublic.length > 0
                    ? ` of its own; through PUBLIC (an existing database's, left as is): ${throughPublic.join(", ")}`
                    : ""),
        };
    });
}
