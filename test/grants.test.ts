import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Signer } from "@aws-sdk/rds-signer";
import pg from "pg";
import { APP_SCHEMA, GrantsSpec, grantsSpec } from "../access/spec";
import { bootstrap } from "../access/bootstrap";
import { bootstrapStatements, scramSha256Verifier } from "../access/bootstrap-sql";
import { diffGrants } from "../access/diff";
import { ObservedGrants, readGrants } from "../access/observe";
import { LocalDataPlane, startLocalDataPlane } from "../local/dataplane";

const iamSpec = grantsSpec({ database: "appdb", user: "app_user", owner: "postgres", authMode: "iam" });

describe("grants spec", () => {
    it("declares CONNECT, USAGE on the app schema, DML on its tables, USAGE/SELECT on its sequences", () => {
        assert.deepEqual(iamSpec, {
            database: "appdb",
            user: "app_user",
            owner: "postgres",
            schema: APP_SCHEMA,
            authMode: "iam",
            connectionLimit: -1,
            probeTable: "smoke_probe",
            databasePrivileges: ["CONNECT"],
            schemaPrivileges: ["USAGE"],
            tablePrivileges: ["SELECT", "INSERT", "UPDATE", "DELETE"],
            sequencePrivileges: ["USAGE", "SELECT"],
            memberOf: ["rds_iam"],
            access: "readwrite",
            creators: ["postgres"],
        });
    });

    it("makes the user a member of rds_iam only in iam mode", () => {
        assert.deepEqual(grantsSpec({ database: "appdb", user: "app_user", owner: "master", authMode: "secrets" }).memberOf, []);
    });

    it("refuses names that are not plain identifiers, with the value and what is allowed", () => {
        assert.throws(() => grantsSpec({ database: "appdb", user: "App-User", owner: "postgres", authMode: "iam" }), {
            message: 'grants: user "App-User" is not a plain identifier; use 1-63 of a-z, 0-9, _ starting with a letter or _',
        });
        assert.throws(
            () => grantsSpec({ database: 'app"; DROP DATABASE x; --', user: "app_user", owner: "postgres", authMode: "iam" }),
            /database .* is not a plain identifier/,
        );
        assert.throws(
            () => grantsSpec({ database: "appdb", user: "app_user", owner: "x".repeat(64), authMode: "iam" }),
            /owner .* is not a plain identifier/,
        );
    });

    it("refuses an app user that is the owner or a reserved role", () => {
        assert.throws(() => grantsSpec({ database: "appdb", user: "postgres", owner: "postgres", authMode: "iam" }), /also the owner/);
        assert.throws(
            () => grantsSpec({ database: "appdb", user: "rds_superuser", owner: "postgres", authMode: "iam" }),
            /reserved prefix or name/,
        );
        assert.throws(
            () => grantsSpec({ database: "appdb", user: "pg_app", owner: "postgres", authMode: "iam" }),
            /reserved prefix or name/,
        );
    });

    it("refuses an unknown auth mode", () => {
        assert.throws(
            () => grantsSpec({ database: "appdb", user: "app_user", owner: "postgres", authMode: "kerberos" as never }),
            /authMode "kerberos" is not supported/,
        );
    });

    it("refuses unknown privileges and misplaced passwords in the bootstrap", () => {
        assert.throws(() => bootstrapStatements({ ...iamSpec, tablePrivileges: ["SELECT", "ALL"] }), /table privilege "ALL" is not known/);
        assert.throws(() => bootstrapStatements(iamSpec, { password: "a-long-enough-password" }), /only used in "secrets" mode/);
        const secrets = { ...iamSpec, authMode: "secrets" as const, memberOf: [] };
        assert.throws(() => bootstrapStatements(secrets, { password: "short" }), /16-1024 printable characters/);
    });

    it("computes PostgreSQL's SCRAM-SHA-256 verifier (checked against Python's hashlib)", () => {
        assert.equal(
            scramSha256Verifier("correct horse battery staple", Buffer.from([...Array(16).keys()])),
            "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$ONYbSJBXtKl6bP6PVqw8pm9e7EiacprLnoUQPFS80Hw=:IPOtHuGJ2HifEQg74W2XXqqCrCyQG55GbPRHa6g6n9w=",
        );
    });

    it("quotes every identifier and sends only the password's SCRAM verifier, never the password", () => {
        const secrets = grantsSpec({ database: "appdb", user: "app_user", owner: "master", authMode: "secrets" });
        const statements = bootstrapStatements(secrets, { password: "it's-a-long-password" });
        const sql = statements.map((s) => s.sql).join(";\n");
        // The verifier travels as a bind parameter only; no statement text holds it or the password.
        assert.doesNotMatch(sql, /SCRAM-SHA-256\$/);
        assert.ok(!sql.includes("it's-a-long-password") && !sql.includes("it''s-a-long-password"));
        const withVerifier = statements.filter((s) => s.parameters !== undefined);
        assert.equal(withVerifier.length, 1);
        assert.match(withVerifier[0].parameters!.verifier, /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
        assert.ok(!JSON.stringify(statements).includes("it's-a-long-password"));
        assert.match(sql, /GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "app" TO "app_user"/);
        assert.match(
            sql,
            /ALTER DEFAULT PRIVILEGES FOR ROLE "master" IN SCHEMA "app" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "app_user"/,
        );
        assert.doesNotMatch(sql, /GRANT "rds_iam"/);
        const iamSql = bootstrapStatements(iamSpec)
            .map((s) => s.sql)
            .join("\n");
        assert.match(iamSql, /GRANT "rds_iam" TO "app_user"/);
        assert.match(iamSql, /ALTER ROLE "app_user" WITH LOGIN NOCREATEDB NOCREATEROLE INHERIT CONNECTION LIMIT -1 PASSWORD NULL/);
    });
});

function observedClean(spec: GrantsSpec): ObservedGrants {
    return {
        user: spec.user,
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
        memberOf: [...spec.memberOf],
        database: { name: spec.database, privileges: ["CONNECT"] },
        schemas: [{ schema: "app", privileges: ["USAGE"] }],
        tables: [
            {
                schema: "app",
                name: "smoke_probe",
                owner: spec.owner,
                privileges: ["SELECT", "INSERT", "UPDATE", "DELETE"],
                columnPrivileges: [],
            },
        ],
        sequences: [{ schema: "app", name: "smoke_probe_id_seq", owner: spec.owner, privileges: ["USAGE", "SELECT"] }],
        defaultPrivileges: [
            { owner: spec.owner, schema: "app", objectType: "sequences", privileges: ["SELECT", "USAGE"] },
            { owner: spec.owner, schema: "app", objectType: "tables", privileges: ["DELETE", "INSERT", "SELECT", "UPDATE"] },
        ],
    };
}

describe("grants diff", () => {
    it("finds nothing when the database matches the spec", () => {
        assert.deepEqual(diffGrants(iamSpec, observedClean(iamSpec)), { missing: [], extra: [], forbidden: [] });
    });

    it("names missing, extra and forbidden items", () => {
        const observed = observedClean(iamSpec);
        observed.attributes = { ...observed.attributes!, createRole: true, superuser: true };
        observed.memberOf = ["pg_read_server_files", "rds_superuser", "reporting"];
        observed.database.privileges = ["CONNECT", "TEMPORARY"];
        observed.schemas.push({ schema: "public", privileges: ["USAGE", "CREATE"] });
        observed.tables[0] = {
            ...observed.tables[0],
            privileges: ["SELECT", "UPDATE", "DELETE", "TRUNCATE"],
            columnPrivileges: ["REFERENCES"],
        };
        observed.defaultPrivileges = observed.defaultPrivileges.filter((d) => d.objectType !== "sequences");
        assert.deepEqual(diffGrants(iamSpec, observed), {
            missing: [
                "member of rds_iam",
                "INSERT on table app.smoke_probe",
                "USAGE on future sequences of postgres in schema app",
                "SELECT on future sequences of postgres in schema app",
            ],
            extra: [
                "member of reporting",
                "TEMPORARY on database appdb",
                "USAGE on schema public",
                "CREATE on schema public",
                "TRUNCATE on table app.smoke_probe",
                "REFERENCES on columns of table app.smoke_probe",
            ],
            forbidden: ["SUPERUSER", "CREATEROLE", "member of pg_read_server_files", "member of rds_superuser"],
        });
    });

    it("reports a missing role as the only item", () => {
        assert.deepEqual(diffGrants(iamSpec, { ...observedClean(iamSpec), exists: false, attributes: null }), {
            missing: ["role app_user"],
            extra: [],
            forbidden: [],
        });
    });
});

describe("grants on a real PostgreSQL", function () {
    this.timeout(60_000);
    let plane: LocalDataPlane;
    let admin: pg.Client;

    before(async () => {
        plane = await startLocalDataPlane();
        admin = await plane.admin();
    });
    after(async () => {
        await admin?.end().catch(() => undefined);
        await plane?.stop();
    });

    it("leaves no drift after the data plane's bootstrap", async () => {
        assert.deepEqual(diffGrants(plane.spec, await readGrants(admin, plane.spec)), { missing: [], extra: [], forbidden: [] });
    });

    it("is idempotent: bootstrapping twice more leaves exactly the same grants", async () => {
        const before = await readGrants(admin, plane.spec);
        await bootstrap(admin, plane.spec);
        await bootstrap(admin, plane.spec);
        assert.deepEqual(await readGrants(admin, plane.spec), before);
    });

    it("reads the same grants when connected as the app user through the stand-in", async () => {
        const token = await new Signer({
            hostname: plane.proxyHost,
            port: plane.proxyPort,
            username: plane.user,
            region: plane.region,
            credentials: { accessKeyId: plane.accessKeyId, secretAccessKey: plane.secretAccessKey },
        }).getAuthToken();
        const app = new pg.Client({
            host: plane.host,
            port: plane.port,
            user: plane.user,
            database: plane.database,
            password: token,
            ssl: { ca: readFileSync(plane.caFile, "utf8"), servername: plane.proxyHost },
            connectionTimeoutMillis: 5_000,
        });
        await app.connect();
        try {
            assert.deepEqual(await readGrants(app, plane.spec), await readGrants(admin, plane.spec));
        } finally {
            await app.end();
        }
    });

    it("reports grants added by hand, then converges by revoking them", async () => {
        for (const sql of [
            "GRANT TRUNCATE ON app.smoke_probe TO app_user",
            "REVOKE INSERT ON app.smoke_probe FROM app_user",
            "GRANT REFERENCES (note) ON app.smoke_probe TO PUBLIC",
            "GRANT CREATE ON SCHEMA public TO app_user",
            "GRANT TEMPORARY ON DATABASE appdb TO app_user",
            "GRANT pg_read_server_files TO app_user",
            "ALTER ROLE app_user CREATEDB",
            "CREATE TABLE public.stray (id int)",
            "GRANT SELECT ON public.stray TO app_user",
            "CREATE TABLE public.stray_columns (id int)",
            "GRANT UPDATE (id) ON public.stray_columns TO app_user",
            "CREATE SEQUENCE public.stray_seq",
            "GRANT USAGE ON SEQUENCE public.stray_seq TO app_user",
            "ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA app GRANT TRUNCATE ON TABLES TO app_user",
        ]) {
            await admin.query(sql);
        }
        const drift = diffGrants(plane.spec, await readGrants(admin, plane.spec));
        assert.deepEqual(drift.missing, ["INSERT on table app.smoke_probe"]);
        assert.deepEqual(drift.forbidden, ["CREATEDB", "member of pg_read_server_files"]);
        assert.deepEqual(drift.extra.sort(), [
            "CREATE on schema public",
            "REFERENCES on columns of table app.smoke_probe",
            "SELECT on table public.stray",
            "TEMPORARY on database appdb",
            "TRUNCATE on future tables of postgres in schema app",
            "TRUNCATE on table app.smoke_probe",
            "UPDATE on columns of table public.stray_columns",
            "USAGE on sequence public.stray_seq",
        ]);

        await bootstrap(admin, plane.spec);
        assert.deepEqual(diffGrants(plane.spec, await readGrants(admin, plane.spec)), { missing: [], extra: [], forbidden: [] });
        await admin.query("DROP TABLE public.stray, public.stray_columns; DROP SEQUENCE public.stray_seq");
    });

    it("switches to secrets mode and back: rds_iam revoked, a password set, then the reverse", async () => {
        const secrets = grantsSpec({ database: plane.database, user: plane.user, owner: plane.spec.owner, authMode: "secrets" });
        await bootstrap(admin, secrets, { password: "a-password-from-secrets-manager" });
        assert.deepEqual(diffGrants(secrets, await readGrants(admin, secrets)), { missing: [], extra: [], forbidden: [] });
        const hasPassword = async () =>
            (await admin.query("SELECT rolpassword IS NOT NULL AS set FROM pg_authid WHERE rolname = $1", [plane.user])).rows[0].set;
        assert.equal(await hasPassword(), true);
        // PostgreSQL keeps the verifier as sent, and it is the verifier of the secret's password.
        const stored: string = (await admin.query("SELECT rolpassword FROM pg_authid WHERE rolname = $1", [plane.user])).rows[0]
            .rolpassword;
        const salt = Buffer.from(stored.split("$")[1].split(":")[1], "base64");
        assert.equal(stored, scramSha256Verifier("a-password-from-secrets-manager", salt));

        await bootstrap(admin, plane.spec);
        assert.deepEqual(diffGrants(plane.spec, await readGrants(admin, plane.spec)), { missing: [], extra: [], forbidden: [] });
        assert.equal(await hasPassword(), false);
    });

    it("bootstraps as a non-superuser owner, like RDS's master user (CREATEROLE, CREATEDB, owns the database)", async () => {
        const masterPassword = "master-password-for-this-test-only";
        await admin.query(`CREATE ROLE master LOGIN CREATEROLE CREATEDB NOSUPERUSER PASSWORD '${masterPassword}'`);
        await admin.query("GRANT rds_iam TO master WITH ADMIN OPTION");
        await admin.query("CREATE DATABASE masterdb OWNER master");
        const master = new pg.Client({
            host: plane.postgres.host,
            port: plane.postgres.port,
            user: "master",
            password: masterPassword,
            database: "masterdb",
            ssl: { ca: readFileSync(plane.caFile, "utf8"), servername: "localhost" },
            connectionTimeoutMillis: 5_000,
        });
        await master.connect();
        try {
            for (const authMode of ["iam", "secrets", "iam"] as const) {
                const spec = grantsSpec({ database: "masterdb", user: "master_app", owner: "master", authMode });
                await bootstrap(master, spec, authMode === "secrets" ? { password: "a-password-from-secrets-manager" } : {});
                assert.deepEqual(diffGrants(spec, await readGrants(master, spec)), { missing: [], extra: [], forbidden: [] }, authMode);
            }
        } finally {
            await master.end();
        }
    });

    it("rolls back and says which statement failed, without half-applying anything", async () => {
        const before = await readGrants(admin, plane.spec);
        const broken = { ...plane.spec, owner: "no_such_owner" };
        await assert.rejects(
            bootstrap(admin, broken),
            /^Error: grants: bootstrap of app_user failed at statement \d+\/\d+ \(.+\): role "no_such_owner" does not exist$/,
        );
        assert.deepEqual(await readGrants(admin, plane.spec), before);
    });

    it("refuses to read grants of another database than the one it is connected to", async () => {
        await assert.rejects(
            readGrants(admin, { ...plane.spec, database: "otherdb" }),
            /connected to database "appdb", the spec is for "otherdb"/,
        );
    });
});
