// Check 3: the grants the application user holds equal the declared spec.
// The spec and the catalog reading live in access/grants.ts (one source of
// truth, shared with the bootstrap SQL); this file only turns the diff into a
// verdict that names every drift item.

import type { Client } from "pg";
import { CheckResult, CHECK, Timer, timed } from "./checks";
import { errorMessage } from "../client/errors";
import { diffGrants, grantsSpec, readGrants } from "../access/grants";
import type { Session } from "./session";
import { DEFAULT_OWNER } from "./target";

export async function grantsCheck(session: Session, client: Client, clock: Timer): Promise<CheckResult> {
  return timed(CHECK.grants, session, clock, async () => {
    const t = session.target;
    const owner = t.owner ?? DEFAULT_OWNER;
    let spec;
    try {
      spec = grantsSpec({ database: t.database, user: t.user, owner, authMode: t.authMode });
    } catch (err) {
      return { ok: false, detail: errorMessage(err), kind: "config" };
    }
    const observed = await session.within(readGrants(client, spec));
    const drift = diffGrants(spec, observed);
    const items = [
      ...drift.forbidden.map((d) => `forbidden ${d}`),
      ...drift.missing.map((d) => `missing ${d}`),
      ...drift.extra.map((d) => `extra ${d}`),
    ];
    if (items.length > 0) {
      return { ok: false, detail: `grant drift for ${t.user} (owner ${owner}): ${items.join("; ")}`, kind: "grants" };
    }
    const tables = observed.tables.length;
    return {
      ok: true,
      detail:
        `${spec.databasePrivileges.join(",")} on ${spec.database}, ${spec.schemaPrivileges.join(",")} on ${spec.schema}, ` +
        `${spec.tablePrivileges.join(",")} on ${tables} table${tables === 1 ? "" : "s"}` +
        (spec.memberOf.length > 0 ? `, member of ${spec.memberOf.join(",")}` : "") +
        `; nothing extra`,
    };
  });
}
