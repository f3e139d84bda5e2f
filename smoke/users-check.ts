// Checks for every declared user beyond the default one, and for the READ_ONLY endpoint: each user
// connects through its own endpoint with its own fresh token and verify-full TLS, lands as itself,
// holds exactly its profile, and what its profile forbids is refused by the server. Anything a check
// writes happens inside a transaction that is rolled back, so the smoke leaves nothing behind.

import type { Client } from "pg";
import { APP_SCHEMA, GrantsSpec, PROBE_TABLE } from "../access/spec";
import type { DbUser } from "../access/users";
import { Credentials, tokenFactory } from "../client/token";
import { CheckResult, classify, Timer, timed, skipped } from "./checks";
import { grantsCheck } from "./grants-check";
import type { Session } from "./session";
import { signedFor } from "../client/endpoint";
import { Endpoint, writerEndpoint } from "./target";
import { describeTls, socketOf, tlsFacts, tlsShortfall } from "../client/tls";

export const USER_CHECK = {
    connect: (u: string) => `connect as ${u}`,
    tls: (u: string) => `TLS verify-full as ${u}`,
    grants: (u: string) => `grants match spec for ${u}`,
    writeRefused: (u: string) => `${u}: write refused (42501)`,
    createRefused: (u: string) => `${u}: CREATE in ${APP_SCHEMA} refused (42501)`,
    createAllowed: (u: string) => `${u}: CREATE in ${APP_SCHEMA} allowed (rolled back)`,
    defaults: (u: string) => `${u}: its future objects grant the profiles`,
    readerRecovery: "reader endpoint in recovery",
    readerWrite: "reader endpoint refuses writes (25006)",
} as const;

function codeOf(err: unknown): string | undefined {
    const code = (err as { code?: unknown }).code;
    return typeof code === "string" ? code : undefined;
}

/** Runs `sql` in a transaction that is always rolled back; resolves to the SQLSTATE it failed with, or undefined. */
async function refusedWith(session: Session, client: Client, sql: string): Promise<string | undefined> {
    await session.within(client.query("BEGIN"));
    try {
        await session.within(client.query(sql));
        return undefined;
    } catch (err) {
        const code = codeOf(err);
        if (code === undefined) throw err;
        return code;
    } finally {
        await session.within(client.query("ROLLBACK")).catch(() => undefined);
    }
}

/** Expects the server to refuse `sql` with `expected`; anything else is a named failure. */
async function expectRefusal(
    session: Session,
    client: Client,
    sql: string,
    expected: string,
    what: string,
): Promise<Omit<CheckResult, "name" | "ms">> {
    const code = await refusedWith(session, client, sql);
    if (code === undefined) return { ok: false, detail: `accepted ${what}; expected SQLSTATE ${expected}`, kind: "grants" };
    if (code !== expected) return { ok: false, detail: `${what} failed with SQLSTATE ${code}, expected ${expected}`, kind: "grants" };
    return { ok: true, detail: `refused: SQLSTATE ${code}` };
}

export interface UserRunOptions {
    credentials: Credentials;
    clock: Timer;
    /** Every user's spec, to know what a ddl user's future objects must grant. */
    specs: GrantsSpec[];
    /** A database the stack fronts but does not own: what PUBLIC holds there is a warning, not the user's drift. */
    existingDatabase?: boolean;
}

async function publicMayCreate(session: Session, client: Client): Promise<boolean> {
    const { rows } = await session.within(
        client.query<{ c: boolean }>(
            "SELECT coalesce((SELECT has_schema_privilege('public', oid, 'CREATE') FROM pg_namespace WHERE nspname = $1), false) AS c",
            [APP_SCHEMA],
        ),
    );
    return rows[0].c;
}

/** Connects as `user` through `endpoint` with a fresh token signed for the endpoint's name and port and that user. */
export async function connectAs(session: Session, user: string, endpoint: Endpoint, credentials: Credentials): Promise<Client> {
    const token = tokenFactory({ ...signedFor(endpoint), user, region: session.target.region, credentials });
    return session.within(
        session.connect({
            user,
            host: endpoint.connectHost,
            port: endpoint.connectPort,
            name: endpoint.serverName,
            password: token,
            tls: true,
        }),
    );
}

function writerOf(session: Session): Endpoint {
    return writerEndpoint(session.target);
}

/** The profile checks on an open connection as `user` (through the writer endpoint). */
export async function profileChecks(session: Session, client: Client, user: DbUser, o: UserRunOptions): Promise<CheckResult[]> {
    const probe = `${APP_SCHEMA}.${PROBE_TABLE}`;
    const results: CheckResult[] = [];
    if (user.access === "readonly") {
        results.push(
            await timed(USER_CHECK.writeRefused(user.name), session, o.clock, () =>
                expectRefusal(
                    session,
                    client,
                    `INSERT INTO ${probe} (note) VALUES ('smoke: must be refused')`,
                    "42501",
                    `a write by readonly user ${user.name}`,
                ),
            ),
        );
    }
    if (user.access === "readwrite") {
        results.push(
            await timed(USER_CHECK.createRefused(user.name), session, o.clock, async () => {
                const verdict = await expectRefusal(
                    session,
                    client,
                    `CREATE TABLE ${APP_SCHEMA}.smoke_create_probe (id int)`,
                    "42501",
                    `CREATE TABLE by readwrite user ${user.name}`,
                );
                // In an existing database PUBLIC may hold CREATE on the schema, which the bootstrap leaves there: the
                // create is then PUBLIC's grant, shown as a warning (with the PUBLIC row's fix), not the user's drift.
                if (verdict.ok || !o.existingDatabase || !(await publicMayCreate(session, client))) return verdict;
                return {
                    ok: true,
                    warning: true,
                    detail: `accepted through PUBLIC's CREATE on schema ${APP_SCHEMA} (see the PUBLIC row), not a grant of ${user.name}'s own`,
                };
            }),
        );
    }
    if (user.access === "ddl") {
        results.push(
            await timed(USER_CHECK.createAllowed(user.name), session, o.clock, async () => {
                const code = await refusedWith(
                    session,
                    client,
                    `CREATE TABLE ${APP_SCHEMA}.smoke_ddl_probe (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY)`,
                );
                if (code !== undefined)
                    return {
                        ok: false,
                        detail: `CREATE TABLE in ${APP_SCHEMA} failed with SQLSTATE ${code}; a ddl user must be able to create (migrations)`,
                        kind: "grants",
                    };
                return { ok: true, detail: `created a table in ${APP_SCHEMA} inside a transaction, rolled back` };
            }),
        );
        results.push(
            await timed(USER_CHECK.defaults(user.name), session, o.clock, async () => {
                const { rows } = await session.within(
                    client.query<{ grantee: string; objtype: string; privileges: string[] }>(
                        `SELECT pg_get_userbyid(a.grantee) AS grantee, d.defaclobjtype::text AS objtype, array_agg(a.privilege_type ORDER BY a.privilege_type) AS privileges
         FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace CROSS JOIN LATERAL aclexplode(d.defaclacl) a
         WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = $1) AND n.nspname = $2
         GROUP BY 1, 2`,
                        [user.name, APP_SCHEMA],
                    ),
                );
                const missing: string[] = [];
                for (const spec of o.specs.filter((s) => s.creators.includes(user.name))) {
                    for (const [objtype, kind, expected] of [
                        ["r", "tables", spec.tablePrivileges],
                        ["S", "sequences", spec.sequencePrivileges],
                    ] as const) {
                        const held = rows.find((r) => r.grantee === spec.user && r.objtype === objtype)?.privileges ?? [];
                        for (const p of expected) if (!held.includes(p)) missing.push(`${p} on future ${kind} to ${spec.user}`);
                    }
                }
                if (missing.length > 0)
                    return {
                        ok: false,
                        detail: `missing default privileges of ${user.name} in ${APP_SCHEMA}: ${missing.join("; ")}`,
                        kind: "grants",
                    };
                const grantees = o.specs.filter((s) => s.creators.includes(user.name)).map((s) => s.user);
                return { ok: true, detail: `tables and sequences ${user.name} creates are granted to ${grantees.join(", ") || "nobody"}` };
            }),
        );
    }
    return results;
}

/** Connect, TLS, grants and profile checks for one user other than the default one. */
export async function userChecks(session: Session, user: DbUser, endpoint: Endpoint, o: UserRunOptions): Promise<CheckResult[]> {
    const results: CheckResult[] = [];
    let client: Client | undefined;
    const connect = await timed(USER_CHECK.connect(user.name), session, o.clock, async () => {
        client = await connectAs(session, user.name, endpoint, o.credentials);
        const { rows } = await session.within(client.query<{ current_user: string }>("select current_user"));
        if (rows[0].current_user !== user.name) {
            return {
                ok: false,
                detail: `connected, but current_user is ${JSON.stringify(rows[0].current_user)}; expected ${JSON.stringify(user.name)}`,
                kind: "auth",
            };
        }
        return {
            ok: true,
            detail: `current_user=${rows[0].current_user} via the ${user.endpoint} endpoint ${endpoint.connectHost}:${endpoint.connectPort}`,
        };
    });
    results.push({ ...connect, user: user.name });
    if (!client || !connect.ok) {
        for (const name of [USER_CHECK.tls(user.name), USER_CHECK.grants(user.name)])
            results.push({ ...skipped(name, "no connection"), user: user.name });
        if (client) await session.close(client);
        return results;
    }
    const open = client;
    results.push({
        ...(await timed(USER_CHECK.tls(user.name), session, o.clock, async () => {
            const facts = tlsFacts(socketOf(open));
            const shortfall = tlsShortfall(facts);
            if (shortfall) return { ok: false, detail: shortfall, kind: "tls" };
            return { ok: true, detail: `authorized, ${describeTls(facts)}` };
        })),
        user: user.name,
    });
    results.push({
        ...(await grantsCheck(session, open, o.clock, user.name, USER_CHECK.grants(user.name), { existingDatabase: o.existingDatabase })),
        user: user.name,
    });
    // Profile checks run through the writer: on the reader a write fails read-only (25006) before any
    // privilege is even looked at, which would prove nothing about the profile.
    let writer: Client = open;
    if (endpoint.connectHost !== session.target.host || endpoint.connectPort !== session.target.port) {
        await session.close(open);
        try {
            writer = await connectAs(session, user.name, writerOf(session), o.credentials);
        } catch (err) {
            const c = classify(session, err);
            results.push({
                name: `${user.name}: profile checks`,
                ok: false,
                detail: `could not connect through the writer endpoint: ${c.message}`,
                ms: 0,
                kind: c.kind,
                user: user.name,
            });
            return results;
        }
    }
    for (const r of await profileChecks(session, writer, user, o)) results.push({ ...r, user: user.name });
    await session.close(writer);
    return results;
}

/**
 * Through the READ_ONLY endpoint: the session lands on a replica (pg_is_in_recovery) and a write is
 * refused as read-only (25006), whatever the user's privileges.
 */
export async function readerChecks(session: Session, user: string, reader: Endpoint, o: UserRunOptions): Promise<CheckResult[]> {
    const readerHost = `${reader.connectHost}:${reader.connectPort}`;
    let client: Client | undefined;
    const recovery = await timed(USER_CHECK.readerRecovery, session, o.clock, async () => {
        client = await connectAs(session, user, reader, o.credentials);
        const { rows } = await session.within(client.query<{ recovery: boolean }>("select pg_is_in_recovery() as recovery"));
        if (rows[0].recovery !== true)
            return {
                ok: false,
                detail: `pg_is_in_recovery() is false through ${readerHost}: the READ_ONLY endpoint reached the writer`,
                kind: "other",
            };
        return { ok: true, detail: `pg_is_in_recovery() = true as ${user} through ${readerHost}` };
    });
    if (!client || !recovery.ok) {
        if (client) await session.close(client);
        return [recovery, skipped(USER_CHECK.readerWrite, "no connection through the reader endpoint")];
    }
    const open = client;
    const write = await timed(USER_CHECK.readerWrite, session, o.clock, () =>
        expectRefusal(
            session,
            open,
            `INSERT INTO ${APP_SCHEMA}.${PROBE_TABLE} (note) VALUES ('smoke: must be refused on a replica')`,
            "25006",
            "a write through the READ_ONLY endpoint",
        ),
    );
    await session.close(open);
    return [recovery, write];
}

export function noReaderHost(users: DbUser[]): CheckResult[] {
    return users
        .filter((u) => u.endpoint === "reader")
        .map((u) => ({
            name: USER_CHECK.connect(u.name),
            ok: false,
            kind: "config" as const,
            ms: 0,
            user: u.name,
            detail: `${u.name} is declared for the reader endpoint, but no reader host was given (proxyReaderEndpoint output, --reader-host, DB_READER_HOST)`,
        }));
}
