// The multi-user access spec: profiles, validation, the bootstrap's SQL shape, and on a real
// PostgreSQL (behind the stand-in): several users, idempotence proven on the catalogs, a retired
// user, migrations that need no manual GRANT, and the audit trail in the server log without any
// password material.
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import pg from "pg";
import { AccessSpec, accessSpec, grantsSpec, managedRoleComment, PROFILES } from "../access/spec";
import { bootstrap } from "../access/bootstrap";
import { bootstrapStatements } from "../access/bootstrap-sql";
import { diffGrants } from "../access/diff";
import { ObservedGrants, readGrants } from "../access/observe";
import { tokenFactory } from "../client/token";
import { LocalDataPlane, startLocalDataPlane } from "../local/dataplane";

const USERS = [
    { name: "app_user", access: "readwrite" as const },
    { name: "app_reader", access: "readonly" as const },
    { name: "app_migrator", access: "ddl" as const },
];
const NO_DRIFT = { missing: [], extra: [], forbidden: [] };

describe("access spec", () => {
    const spec = accessSpec({ database: "appdb", owner: "dbadmin", authMode: "iam", users: USERS });
    const user = (name: string) => spec.users.find((u) => u.user === name)!;

    it("gives each profile its privileges and nothing else", () => {
        assert.deepEqual(
            spec.users.map((u) => [u.user, u.databasePrivileges, u.schemaPrivileges, u.tablePrivileges, u.sequencePrivileges]),
            [
                ["app_user", ["CONNECT"], ["USAGE"], ["SELECT", "INSERT", "UPDATE", "DELETE"], ["USAGE", "SELECT"]],
                ["app_reader", ["CONNECT"], ["USAGE"], ["SELECT"], []],
                ["app_migrator", ["CONNECT"], ["USAGE", "CREATE"], [], []],
            ],
        );
        assert.deepEqual(Object.keys(PROFILES), ["readwrite", "readonly", "ddl"]);
    });

    it("lets the owner's and every ddl user's future objects grant the other profiles", () => {
        assert.deepEqual(user("app_user").creators, ["dbadmin", "app_migrator"]);
        assert.deepEqual(user("app_reader").creators, ["dbadmin", "app_migrator"]);
        assert.deepEqual(user("app_migrator").creators, []);
    });

    it("sets no role connection limit: the proxy is the cap", () => {
        for (const u of spec.users) assert.equal(u.connectionLimit, -1);
    });

    it("refuses duplicate users, unknown profiles and misplaced passwords", () => {
        assert.throws(
            () => accessSpec({ database: "appdb", owner: "dbadmin", authMode: "iam", users: [USERS[0], USERS[0]] }),
            /user "app_user" is declared twice/,
        );
        assert.throws(
            () => accessSpec({ database: "appdb", owner: "dbadmin", authMode: "iam", users: [{ name: "x", access: "admin" as never }] }),
            /access "admin" of user x is not a profile; use one of readwrite, readonly, ddl/,
        );
        assert.throws(() => accessSpec({ database: "appdb", owner: "dbadmin", authMode: "iam", users: [] }), /no users declared/);
        assert.throws(
            () => bootstrapStatements(spec, { passwords: { app_user: "a-long-enough-password" } }),
            /only used in "secrets" mode/,
        );
        const secrets = accessSpec({ database: "appdb", owner: "dbadmin", authMode: "secrets", users: USERS });
        assert.throws(
            () => bootstrapStatements(secrets, { passwords: { someone_else: "a-long-enough-password" } }),
            /"someone_else", which is not a declared user/,
        );
        assert.throws(() => bootstrapStatements(secrets, { password: "a-long-enough-password" }), /"password" is for a one-user spec/);
    });

    it("never puts a password or verifier in statement text, and logs every change a DO block executes", () => {
        const secrets = accessSpec({ database: "appdb", owner: "dbadmin", authMode: "secrets", users: USERS });
        const passwords = {
            app_user: "first-password-0123456789",
            app_reader: "second-password-0123456789",
            app_migrator: "third-password-0123456789",
        };
        const statements = bootstrapStatements(secrets, { passwords });
        for (const s of statements) {
            for (const password of Object.values(passwords)) assert.ok(!s.sql.includes(password), s.sql);
            assert.doesNotMatch(s.sql, /SCRAM-SHA-256\$/);
            // Every EXECUTE of a built statement is preceded by its RAISE LOG.
            const executes = (s.sql.match(/EXECUTE stmt;/g) ?? []).length;
            assert.equal((s.sql.match(/RAISE LOG 'aurora-iam-proxy: %', stmt; EXECUTE stmt;/g) ?? []).length, executes, s.sql);
            // Any other EXECUTE is the password's, announced without the verifier.
            if (/EXECUTE format\('ALTER ROLE %I PASSWORD %L'/.test(s.sql)) {
                assert.match(
                    s.sql,
                    /RAISE LOG 'aurora-iam-proxy: ALTER ROLE % PASSWORD <SCRAM-SHA-256 verifier of the proxy secret, not logged>'/,
                );
                assert.match(
                    s.sql,
                    /EXCEPTION WHEN OTHERS THEN\s+RAISE EXCEPTION 'aurora-iam-proxy: setting the password of % failed \(SQLSTATE %\)', '\w+', SQLSTATE;/,
                );
                assert.doesNotMatch(s.sql, /SQLERRM/);
            }
        }
        assert.deepEqual(
            statements.filter((s) => s.parameters).map((s) => Object.keys(s.parameters!)),
            [["verifier"], ["verifier"], ["verifier"]],
        );
        const sql = statements.map((s) => s.sql).join("\n");
        for (const u of USERS)
            assert.match(sql, new RegExp(`ALTER ROLE "${u.name}" WITH LOGIN NOCREATEDB NOCREATEROLE INHERIT CONNECTION LIMIT -1\\n?`));
        assert.match(
            sql,
            /ALTER DEFAULT PRIVILEGES FOR ROLE "app_migrator" IN SCHEMA "app" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "app_user"/,
        );
        assert.match(sql, /ALTER DEFAULT PRIVILEGES FOR ROLE "app_migrator" IN SCHEMA "app" GRANT SELECT ON TABLES TO "app_reader"/);
        assert.match(sql, /ALTER DEFAULT PRIVILEGES FOR ROLE "dbadmin" IN SCHEMA "app" GRANT USAGE, SELECT ON SEQUENCES TO "app_user"/);
        assert.match(sql, /GRANT USAGE, CREATE ON SCHEMA "app" TO "app_migrator"/);
        assert.match(sql, /COMMENT ON ROLE "app_reader" IS 'managed by aurora-iam-proxy for database appdb'/);
    });
});

describe("access bootstrap in an existing database (statements)", () => {
    const spec = accessSpec({ database: "appdb", owner: "dbadmin", authMode: "iam", users: USERS });
    const sql = (o: { existingDatabase?: boolean }) => bootstrapStatements(spec, o).map((s) => s.sql);

    it("never revokes from PUBLIC and never changes an owner; checks first, right after taking the lock", () => {
        const existing = sql({ existingDatabase: true });
        assert.deepEqual(
            existing.filter((s) => /FROM PUBLIC/.test(s)),
            [],
        );
        assert.deepEqual(
            existing.filter((s) => /^ALTER (SCHEMA|TABLE) .* OWNER TO/.test(s)),
            [],
        );
        assert.match(existing[1], /existing-database bootstrap refused, nothing was changed/);
        // The probe table is created, and only then given to the owner, when it is missing.
        assert.match(
            existing.join("\n"),
            /IF to_regclass\('"app"\."smoke_probe"'\) IS NULL THEN\s+stmt := format\('CREATE TABLE %I\.%I \(id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text NOT NULL, created_at timestamptz NOT NULL DEFAULT now\(\)\)'/,
        );
        // The dedicated database's statements are unchanged.
        const dedicated = sql({});
        assert.equal(dedicated.filter((s) => /FROM PUBLIC/.test(s)).length, 5);
        assert.ok(dedicated.includes(`ALTER SCHEMA "app" OWNER TO "dbadmin"`));
        // Seven statements of the dedicated head and two PUBLIC revokes become the check, the schema and the probe.
        assert.equal(existing.length, dedicated.length - 6);
    });
});

describe("access diff", () => {
    const spec = accessSpec({ database: "appdb", owner: "dbadmin", authMode: "iam", users: USERS });
    const clean = (name: string): ObservedGrants => {
        const u = spec.users.find((s) => s.user === name)!;
        return {
            user: u.user,
            exists: true,
            attributes: {
                login: true,
                superuser: false,
                createRole: false,
                createDb: false,
                replication: false,
                bypassRls: false,
                inherit: true,
                connectionLimit: -1,
            },
            memberOf: ["rds_iam"],
            database: { name: "appdb", privileges: ["CONNECT"] },
            schemas: [{ schema: "app", privileges: u.schemaPrivileges }],
            tables: [
                { schema: "app", name: "smoke_probe", owner: "dbadmin", privileges: u.tablePrivileges, columnPrivileges: [] },
                {
                    schema: "app",
                    name: "orders",
                    owner: "app_migrator",
                    privileges:
                        u.access === "ddl"
                            ? ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"]
                            : u.tablePrivileges,
                    columnPrivileges: [],
                },
            ],
            sequences: [],
            defaultPrivileges: u.creators.flatMap((creator) => [
                { owner: creator, schema: "app", objectType: "tables" as const, privileges: u.tablePrivileges },
                ...(u.sequencePrivileges.length
                    ? [{ owner: creator, schema: "app", objectType: "sequences" as const, privileges: u.sequencePrivileges }]
                    : []),
            ]),
        };
    };

    it("finds nothing for each profile in its expected state (a ddl user owns what it creates)", () => {
        for (const u of spec.users) assert.deepEqual(diffGrants(u, clean(u.user)), NO_DRIFT, u.user);
    });

    it("reports a role connection limit as drift", () => {
        const observed = clean("app_user");
        observed.attributes = { ...observed.attributes!, connectionLimit: 100 };
        assert.deepEqual(diffGrants(spec.users[0], observed).extra, [
            "CONNECTION LIMIT 100 (expected -1: the proxy, not the role, caps connections)",
        ]);
    });

    it("names a missing default privilege for a ddl user's future tables, and a readwrite user owning a table", () => {
        const observed = clean("app_user");
        observed.defaultPrivileges = observed.defaultPrivileges.filter((d) => d.owner !== "app_migrator" || d.objectType !== "tables");
        observed.tables[1] = { ...observed.tables[1], owner: "app_user" };
        const drift = diffGrants(spec.users[0], observed);
        assert.deepEqual(drift.missing, [
            "SELECT on future tables of app_migrator in schema app",
            "INSERT on future tables of app_migrator in schema app",
            "UPDATE on future tables of app_migrator in schema app",
            "DELETE on future tables of app_migrator in schema app",
        ]);
        assert.deepEqual(drift.forbidden, ["owner of table app.orders"]);
    });

    it("names extra privileges of a readonly user, and a missing grant on a table the user cannot touch at all", () => {
        const observed = clean("app_reader");
        observed.tables[0] = { ...observed.tables[0], privileges: ["SELECT", "INSERT"] };
        observed.tables[1] = { ...observed.tables[1], privileges: [] };
        assert.deepEqual(diffGrants(spec.users[1], observed), {
            missing: ["SELECT on table app.orders"],
            extra: ["INSERT on table app.smoke_probe"],
            forbidden: [],
        });
    });
});

/** The catalogs the bootstrap writes, as text: roles, memberships, settings, comments and every ACL. */
async function dumpCatalogs(admin: pg.Client, database: string, o: { withPasswords: boolean }): Promise<Record<string, unknown[]>> {
    const q = async (sql: string) => (await admin.query(sql)).rows;
    const managed = `(SELECT oid FROM pg_roles WHERE shobj_description(oid, 'pg_authid') LIKE 'managed by aurora-iam-proxy%')`;
    return {
        roles: await q(`SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, rolconnlimit, rolvaliduntil
            ${o.withPasswords ? ", rolpassword" : ", rolpassword IS NULL AS no_password"} FROM pg_authid WHERE oid IN ${managed} ORDER BY rolname`),
        comments: await q(
            `SELECT objoid::regrole::text AS role, description FROM pg_shdescription WHERE classoid = 'pg_authid'::regclass ORDER BY 1`,
        ),
        members:
            await q(`SELECT roleid::regrole::text AS role, member::regrole::text AS member, grantor::regrole::text AS grantor, admin_option, inherit_option, set_option
            FROM pg_auth_members ORDER BY 1, 2, 3`),
        settings: await q(`SELECT setdatabase, setrole::regrole::text AS role, setconfig FROM pg_db_role_setting ORDER BY 2`),
        database: await q(`SELECT datname, datacl::text FROM pg_database WHERE datname = '${database}'`),
        schemas: await q(
            `SELECT nspname, nspowner::regrole::text AS owner, nspacl::text FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1`,
        ),
        relations:
            await q(`SELECT c.oid::regclass::text AS rel, c.relowner::regrole::text AS owner, c.relacl::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' ORDER BY 1`),
        columns: await q(
            `SELECT attrelid::regclass::text AS rel, attname, attacl::text FROM pg_attribute WHERE attacl IS NOT NULL ORDER BY 1, 2`,
        ),
        defaults: await q(
            `SELECT defaclrole::regrole::text AS role, defaclnamespace::regnamespace::text AS schema, defaclobjtype, defaclacl::text FROM pg_default_acl ORDER BY 1, 2, 3`,
        ),
    };
}

function connectAs(plane: LocalDataPlane, user: string): Promise<pg.Client> {
    const token = tokenFactory({
        host: plane.proxyHost,
        port: plane.proxyPort,
        user,
        region: plane.region,
        credentials: { accessKeyId: plane.accessKeyId, secretAccessKey: plane.secretAccessKey },
    });
    const client = new pg.Client({
        host: plane.host,
        port: plane.port,
        user,
        database: plane.database,
        password: token,
        ssl: { ca: readFileSync(plane.caFile, "utf8"), servername: plane.proxyHost },
        connectionTimeoutMillis: 5_000,
    });
    client.on("error", () => undefined);
    return client.connect().then(() => client);
}

async function driftOfEveryUser(admin: pg.Client, spec: AccessSpec): Promise<Record<string, unknown>> {
    const result: Record<string, unknown> = {};
    for (const u of spec.users) result[u.user] = diffGrants(u, await readGrants(admin, u));
    return result;
}
const noDriftFor = (spec: AccessSpec) => Object.fromEntries(spec.users.map((u) => [u.user, NO_DRIFT]));

describe("access on a real PostgreSQL (three users, secrets mode, log_statement=ddl)", function () {
    this.timeout(60_000);
    const passwords = {
        app_user: "app-user-password-0123456789",
        app_reader: "app-reader-password-0123456789",
        app_migrator: "app-migrator-password-0123456789",
    };
    let plane: LocalDataPlane;
    let admin: pg.Client;
    before(async () => {
        plane = await startLocalDataPlane({ users: USERS, authMode: "secrets", passwords, postgresSettings: { log_statement: "ddl" } });
        admin = await plane.admin();
    });
    after(async () => {
        await admin?.end().catch(() => undefined);
        await plane?.stop();
    });
    const serverLog = () => readFileSync(plane.serverLogFile, "utf8");
    /** The server log once every pattern is in it (its lines arrive through a pipe, a moment after the query returns). */
    const serverLogWith = async (patterns: RegExp[], timeoutMs = 3_000): Promise<string> => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const log = serverLog();
            if (patterns.every((p) => p.test(log)) || Date.now() > deadline) return log;
            await new Promise((resolve) => setTimeout(resolve, 25));
        }
    };

    it("converges every declared user to its profile", async () => {
        assert.deepEqual(await driftOfEveryUser(admin, plane.access), noDriftFor(plane.access));
    });

    it("is idempotent: a second run leaves the catalogs identical (the verifier is re-salted, still for the same password)", async () => {
        const before = await dumpCatalogs(admin, plane.database, { withPasswords: false });
        const verifiersBefore = (
            await admin.query("SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY($1) ORDER BY 1", [Object.keys(passwords)])
        ).rows;
        await bootstrap(admin, plane.access, { passwords });
        assert.deepEqual(await dumpCatalogs(admin, plane.database, { withPasswords: false }), before);
        assert.ok(
            before.roles.length === 3 && before.relations.length > 0 && before.defaults.length > 0,
            "the dump must see the managed roles, relations and defaults",
        );
        const verifiersAfter = (
            await admin.query("SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY($1) ORDER BY 1", [Object.keys(passwords)])
        ).rows;
        for (const [i, row] of verifiersAfter.entries()) {
            assert.match(row.rolpassword, /^SCRAM-SHA-256\$4096:/);
            assert.equal(row.rolname, verifiersBefore[i].rolname);
        }
    });

    it("is idempotent in iam mode to the last byte, passwords included", async () => {
        const iam = accessSpec({ database: plane.database, owner: "postgres", authMode: "iam", users: USERS });
        await bootstrap(admin, iam);
        const before = await dumpCatalogs(admin, plane.database, { withPasswords: true });
        await bootstrap(admin, iam);
        assert.deepEqual(await dumpCatalogs(admin, plane.database, { withPasswords: true }), before);
        assert.deepEqual(await driftOfEveryUser(admin, iam), noDriftFor(iam));
        await bootstrap(admin, plane.access, { passwords });
    });

    it("converges a user whose profile changed, both ways", async () => {
        const promoted = accessSpec({
            database: plane.database,
            owner: "postgres",
            authMode: "secrets",
            users: USERS.map((u) => (u.name === "app_reader" ? { ...u, access: "readwrite" as const } : u)),
        });
        await bootstrap(admin, promoted, { passwords });
        assert.deepEqual(await driftOfEveryUser(admin, promoted), noDriftFor(promoted));
        assert.match(JSON.stringify(await driftOfEveryUser(admin, plane.access)), /extra.*INSERT on table app\.smoke_probe/);
        await bootstrap(admin, plane.access, { passwords });
        assert.deepEqual(await driftOfEveryUser(admin, plane.access), noDriftFor(plane.access));
    });

    it("removes a role connection limit set earlier", async () => {
        await admin.query(`ALTER ROLE app_user CONNECTION LIMIT 100`);
        assert.match(JSON.stringify(await driftOfEveryUser(admin, plane.access)), /CONNECTION LIMIT 100/);
        await bootstrap(admin, plane.access, { passwords });
        assert.equal((await admin.query("SELECT rolconnlimit FROM pg_roles WHERE rolname = 'app_user'")).rows[0].rolconnlimit, -1);
    });

    it("lets migrations work without a manual GRANT: the ddl user's new table is usable by the app and the reader", async () => {
        const migrator = await connectAs(plane, "app_migrator");
        const app = await connectAs(plane, "app_user");
        const reader = await connectAs(plane, "app_reader");
        try {
            await migrator.query("CREATE TABLE app.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, item text NOT NULL)");
            await app.query("INSERT INTO app.orders (item) VALUES ('chips')");
            assert.deepEqual((await app.query("SELECT item FROM app.orders")).rows, [{ item: "chips" }]);
            assert.deepEqual((await reader.query("SELECT item FROM app.orders")).rows, [{ item: "chips" }]);
            await assert.rejects(
                reader.query("INSERT INTO app.orders (item) VALUES ('x')"),
                (err: { code?: string }) => err.code === "42501",
            );
            await assert.rejects(app.query("CREATE TABLE app.nope (id int)"), (err: { code?: string }) => err.code === "42501");
            assert.deepEqual(await driftOfEveryUser(admin, plane.access), noDriftFor(plane.access));
            // A bootstrap after the migration leaves the migrator's table and its grants alone.
            await bootstrap(admin, plane.access, { passwords });
            assert.deepEqual((await app.query("SELECT count(*)::int AS n FROM app.orders")).rows, [{ n: 1 }]);
            assert.deepEqual(await driftOfEveryUser(admin, plane.access), noDriftFor(plane.access));
        } finally {
            await Promise.all([migrator.end(), app.end(), reader.end()].map((p) => p.catch(() => undefined)));
        }
    });

    it("retires a user removed from the settings: no LOGIN, no grants, not dropped, listed in the result", async () => {
        const fewer = accessSpec({
            database: plane.database,
            owner: "postgres",
            authMode: "secrets",
            users: USERS.filter((u) => u.name !== "app_migrator"),
        });
        const result = await bootstrap(admin, fewer, { passwords: { app_user: passwords.app_user, app_reader: passwords.app_reader } });
        assert.deepEqual(result.retired, ["app_migrator"]);
        const role = (await admin.query("SELECT rolcanlogin, rolpassword FROM pg_authid WHERE rolname = 'app_migrator'")).rows[0];
        assert.deepEqual(role, { rolcanlogin: false, rolpassword: null });
        const observed = await readGrants(
            admin,
            grantsSpec({ database: plane.database, user: "app_migrator", owner: "postgres", authMode: "secrets", access: "ddl" }),
        );
        assert.deepEqual([observed.database.privileges, observed.schemas, observed.memberOf], [[], [], []]);
        // Its table stays, still owned by it, and the remaining users no longer expect its defaults.
        assert.equal(
            (await admin.query("SELECT relowner::regrole::text AS owner FROM pg_class WHERE oid = 'app.orders'::regclass")).rows[0].owner,
            "app_migrator",
        );
        assert.deepEqual(await driftOfEveryUser(admin, fewer), noDriftFor(fewer));
        const again = await dumpCatalogs(admin, plane.database, { withPasswords: false });
        assert.deepEqual(
            (await bootstrap(admin, fewer, { passwords: { app_user: passwords.app_user, app_reader: passwords.app_reader } })).retired,
            ["app_migrator"],
        );
        assert.deepEqual(await dumpCatalogs(admin, plane.database, { withPasswords: false }), again);
        // Declared again, it comes back.
        await bootstrap(admin, plane.access, { passwords });
        assert.equal((await admin.query("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'app_migrator'")).rows[0].rolcanlogin, true);
        assert.deepEqual(await driftOfEveryUser(admin, plane.access), noDriftFor(plane.access));
        assert.equal(
            (await admin.query(`SELECT shobj_description('app_migrator'::regrole, 'pg_authid') AS c`)).rows[0].c,
            managedRoleComment(plane.database),
        );
    });

    it("works as a non-superuser owner like RDS's master user: ddl defaults, migrations, retirement", async () => {
        const masterPassword = "master-password-for-this-test-only";
        await admin.query("SET log_statement = 'none'");
        await admin.query(`CREATE ROLE m_master LOGIN CREATEROLE CREATEDB NOSUPERUSER PASSWORD '${masterPassword}'`);
        await admin.query("RESET log_statement");
        await admin.query("GRANT rds_iam TO m_master WITH ADMIN OPTION");
        await admin.query("CREATE DATABASE m_db OWNER m_master");
        const master = new pg.Client({
            host: plane.postgres.host,
            port: plane.postgres.port,
            user: "m_master",
            password: masterPassword,
            database: "m_db",
            ssl: { ca: readFileSync(plane.caFile, "utf8"), servername: "localhost" },
            connectionTimeoutMillis: 5_000,
        });
        await master.connect();
        const users = [
            { name: "m_app", access: "readwrite" as const },
            { name: "m_reader", access: "readonly" as const },
            { name: "m_migrator", access: "ddl" as const },
        ];
        const spec = accessSpec({ database: "m_db", owner: "m_master", authMode: "iam", users });
        try {
            await bootstrap(master, spec);
            assert.deepEqual(await driftOfEveryUser(master, spec), noDriftFor(spec));
            // A migration as the ddl user (the master may SET ROLE to it after the bootstrap's grant).
            await master.query("SET ROLE m_migrator");
            await master.query("CREATE TABLE app.m_orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY)");
            await master.query("RESET ROLE");
            assert.deepEqual(await driftOfEveryUser(master, spec), noDriftFor(spec));
            // The migration hands PUBLIC a write on its table: the reader now may INSERT, and the
            // master's next bootstrap takes it back through its membership in the ddl role.
            await master.query("SET ROLE m_migrator");
            await master.query("GRANT INSERT ON app.m_orders TO PUBLIC");
            await master.query("RESET ROLE");
            assert.match(JSON.stringify(await driftOfEveryUser(master, spec)), /extra.*INSERT on table app\.m_orders/);
            await bootstrap(master, spec);
            assert.deepEqual(await driftOfEveryUser(master, spec), noDriftFor(spec));
            // Idempotent as this owner too, read by the superuser in m_db (ACLs live in each database's catalogs).
            const superuser = new pg.Client({
                host: plane.postgres.host,
                port: plane.postgres.port,
                user: plane.postgres.user,
                password: plane.postgres.password,
                database: "m_db",
                ssl: { ca: readFileSync(plane.caFile, "utf8"), servername: "localhost" },
                connectionTimeoutMillis: 5_000,
            });
            await superuser.connect();
            try {
                const first = await dumpCatalogs(superuser, "m_db", { withPasswords: true });
                await bootstrap(master, spec);
                assert.deepEqual(await dumpCatalogs(superuser, "m_db", { withPasswords: true }), first);
                assert.ok(
                    first.defaults.some((d) => (d as { role: string }).role === "m_migrator"),
                    "the dump must see the ddl user's defaults",
                );
            } finally {
                await superuser.end();
            }
            const fewer = accessSpec({ database: "m_db", owner: "m_master", authMode: "iam", users: users.slice(0, 2) });
            assert.deepEqual((await bootstrap(master, fewer)).retired, ["m_migrator"]);
            assert.deepEqual(await driftOfEveryUser(master, fewer), noDriftFor(fewer));
        } finally {
            await master.end();
        }
    });

    it("leaves an audit trail in the server log for every role and grant change, and no password material", async () => {
        await admin.query("GRANT TRUNCATE ON app.smoke_probe TO app_reader");
        await admin.query("GRANT app_reader TO app_user");
        await bootstrap(admin, plane.access, { passwords });
        const expected = [
            // RAISE LOG from DO blocks (log_statement=ddl does not see what they EXECUTE)
            /LOG:  aurora-iam-proxy: CREATE ROLE app_user WITH NOSUPERUSER NOREPLICATION NOBYPASSRLS LOGIN .*CONNECTION LIMIT -1/,
            /LOG:  aurora-iam-proxy: CREATE ROLE app_migrator /,
            /LOG:  aurora-iam-proxy: ALTER ROLE app_reader PASSWORD <SCRAM-SHA-256 verifier of the proxy secret, not logged>/,
            /LOG:  aurora-iam-proxy: REVOKE ALL ON TABLE app.smoke_probe FROM app_reader/,
            /LOG:  aurora-iam-proxy: REVOKE app_reader FROM app_user GRANTED BY postgres/,
            /LOG:  aurora-iam-proxy: ALTER ROLE app_migrator NOLOGIN PASSWORD NULL/,
            /LOG:  aurora-iam-proxy: REVOKE ALL ON DATABASE appdb FROM app_migrator/,
            // top-level statements logged by log_statement=ddl
            /LOG:  statement: ALTER ROLE "app_user" WITH LOGIN NOCREATEDB NOCREATEROLE INHERIT CONNECTION LIMIT -1/,
            /LOG:  statement: GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "app" TO "app_user"/,
            /LOG:  statement: GRANT SELECT ON ALL TABLES IN SCHEMA "app" TO "app_reader"/,
            /LOG:  statement: GRANT USAGE, CREATE ON SCHEMA "app" TO "app_migrator"/,
            /LOG:  statement: ALTER DEFAULT PRIVILEGES FOR ROLE "app_migrator" IN SCHEMA "app" GRANT SELECT ON TABLES TO "app_reader"/,
            /LOG:  statement: COMMENT ON ROLE "app_reader" IS 'managed by aurora-iam-proxy for database appdb'/,
        ];
        const log = await serverLogWith(expected);
        for (const line of expected) assert.match(log, line);
        for (const password of Object.values(passwords)) assert.ok(!log.includes(password), "a password reached the server log");
        assert.doesNotMatch(log, /SCRAM-SHA-256\$/);
        assert.doesNotMatch(log, /set_config\('aurora_iam_proxy\.verifier', '[^']/);
    });

    it("keeps the verifier out of the log, the error and its context when setting a password fails", async () => {
        // A password PostgreSQL refuses to set from a non-superuser's verifier would be hard to provoke;
        // an unknown role is not: the DO block re-raises with the SQLSTATE only.
        const ghost = accessSpec({
            database: plane.database,
            owner: "postgres",
            authMode: "secrets",
            users: [{ name: "app_user", access: "readwrite" }],
        });
        const statements = bootstrapStatements(ghost, { passwords: { app_user: passwords.app_user } });
        const setVerifier = statements.find((s) => s.parameters)!;
        const useVerifier = statements[statements.indexOf(setVerifier) + 1];
        await admin.query("BEGIN");
        try {
            await admin.query(setVerifier.sql.replace(":verifier", "$1"), [setVerifier.parameters!.verifier]);
            const broken = useVerifier.sql.replace(/'app_user'/g, "'no_such_role'");
            const err = await admin.query(broken).then(
                () => undefined,
                (e: Error & { where?: string; detail?: string }) => e,
            );
            assert.ok(err, "setting a password on a missing role must fail");
            assert.match(err.message, /^aurora-iam-proxy: setting the password of no_such_role failed \(SQLSTATE 42704\)$/);
            assert.doesNotMatch(`${err.message} ${err.where ?? ""} ${err.detail ?? ""}`, /SCRAM-SHA-256\$/);
        } finally {
            await admin.query("ROLLBACK");
        }
        const log = await serverLogWith([/ERROR:  aurora-iam-proxy: setting the password of no_such_role failed \(SQLSTATE 42704\)/]);
        assert.match(log, /ERROR:  aurora-iam-proxy: setting the password of no_such_role failed \(SQLSTATE 42704\)/);
        assert.doesNotMatch(log, /SCRAM-SHA-256\$/);
    });
});
