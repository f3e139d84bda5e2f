// The existing-database rehearsal (issue 19, "Rehearsed locally"): a database that already has a legacy
// application (local/existing-database.ts) is fronted the way AWS would do it, and nothing of it is lost.
// On a running plane it adds a second database, owned by a master user that is no superuser (as RDS's is), seeds
// it, then
//   0. runs the bootstrap Lambda's handler on its path inside the VPC (pg, master secret, verified TLS) in
//      existing-database mode, declaring a user by the name of the team's own role: it refuses, naming that and
//      the grant the master user lacks on the legacy owner's objects, and changes nothing; the team applies both
//      fixes;
//   1. runs it again, and checks nothing the legacy application had changed;
//   2. runs the smoke through the RDS Proxy stand-in in existing-database mode: the declared users log in with
//      IAM tokens and verified TLS and hold exactly their grants; the warning rows show what stays risky;
//   3. runs the smoke Lambda's handler with SMOKE_WARNINGS_FAIL=true: the same warnings now fail it;
//   4. logs in as the legacy role with its password and counts its rows;
//   5. runs the bootstrap again and finds the catalogs unchanged.
// `npm run rehearse:existing` runs it on a plane of its own; the tests run it on a plane they already have.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import pg from "pg";
import type { AccessProfile } from "../access/spec";
import { scramSha256Verifier } from "../access/bootstrap-sql";
import { literal } from "../access/quote";
import { createBootstrapHandler } from "../smoke/lambda/bootstrap-handler";
import { createSmokeHandler } from "../smoke/lambda/smoke-handler";
import { WARNING } from "../smoke/check-names";
import { formatReport, runSmoke, SmokeReport } from "../smoke/runner";
import { LocalDataPlane, localSmokeTarget, startLocalDataPlane } from "./dataplane";
import {
    catalogSnapshot,
    changedSince,
    LOCAL_CLUSTER_RULES,
    LOCAL_CLUSTER_SECURITY_GROUP,
    seedExistingDatabase,
    snapshotDiff,
} from "./existing-database";

/** The cluster's master user in the rehearsal: CREATEROLE, owner of the database, no superuser (RDS's is not). */
export const REHEARSAL_MASTER = "orders_master";

/** The users the stack fronting the existing database declares (its own names: roles are cluster-wide). */
export const EXISTING_USERS: Array<{ name: string; access: AccessProfile }> = [
    { name: "orders_app", access: "readwrite" },
    { name: "orders_reader", access: "readonly" },
    { name: "orders_migrator", access: "ddl" },
];

export interface ExistingRehearsal {
    /** Each check's verdict and one line, in order. */
    results: Array<[boolean, string]>;
    /** The smoke's report in existing-database mode, for printing. */
    report?: SmokeReport;
    ok: boolean;
}

/**
 * Runs the rehearsal on `plane` in a new database `database` (default legacydb). With `cleanup`, the database
 * and the roles it made are dropped afterwards, so a plane shared with other tests is left as it was.
 * `negatives: false` leaves out the smoke's must-be-refused attempts (five connections that prove the proxy,
 * not the database; the smoke's own tests run them on every plane).
 */
export async function rehearseExistingDatabase(
    plane: LocalDataPlane,
    o: { database?: string; cleanup?: boolean; negatives?: boolean } = {},
): Promise<ExistingRehearsal> {
    const database = o.database ?? "legacydb";
    const declared = EXISTING_USERS.map((u) => u.name);
    const results: Array<[boolean, string]> = [];
    const check = (ok: boolean, line: string) => {
        results.push([ok, line]);
        return ok;
    };
    const caPem = readFileSync(plane.caFile, "utf8");
    const server = plane.postgres;
    const superuser = (db: string) => {
        const client = new pg.Client({
            host: server.host,
            port: server.port,
            user: server.user,
            password: server.password,
            database: db,
            ssl: { ca: caPem, servername: "localhost" },
            connectionTimeoutMillis: 5_000,
            statement_timeout: 30_000,
        });
        client.on("error", () => undefined);
        return client.connect().then(() => client);
    };
    const setup = await superuser("postgres");
    const master = { username: REHEARSAL_MASTER, password: randomBytes(18).toString("base64url") };
    let legacyRoles: string[] = [];
    let report: SmokeReport | undefined;
    try {
        // The master user as RDS makes it: it may create roles and grant rds_iam, owns the database, is no superuser.
        await setup.query("BEGIN");
        await setup.query("SET LOCAL log_statement = 'none'");
        await setup.query(
            `CREATE ROLE "${master.username}" LOGIN CREATEROLE CREATEDB NOSUPERUSER PASSWORD ${literal(scramSha256Verifier(master.password))}`,
        );
        await setup.query(`GRANT rds_iam TO "${master.username}" WITH ADMIN OPTION`);
        await setup.query("COMMIT");
        // FILE_COPY copies the template's files instead of WAL-logging each block: about half the CPU of the default.
        await setup.query(`CREATE DATABASE "${database}" OWNER "${master.username}" STRATEGY FILE_COPY`);
        const admin = await superuser(database);
        try {
            const legacy = await seedExistingDatabase(admin);
            legacyRoles = [legacy.user, legacy.teamRole];
            await plane.serveUsers(declared);
            const before = await catalogSnapshot(admin, { without: declared });

            // The bootstrap Lambda as it runs for a cluster whose Data API is off: pg inside the VPC, the master
            // secret, TLS verified against the CA it is given (in AWS the RDS bundle) for the name DB_HOST.
            // "localhost" is the name PostgreSQL's certificate carries; we dial 127.0.0.1.
            const bootstrapHandler = (users: Array<{ name: string; access: AccessProfile }>) =>
                createBootstrapHandler({
                    env: {
                        DB_BOOTSTRAP_PATH: "vpc",
                        DB_EXISTING_DATABASE: "true",
                        DB_HOST: "localhost",
                        DB_PORT: String(server.port),
                        DB_SECRET_ARN: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:local-master-AbCdEf",
                        DB_NAME: database,
                        DB_OWNER: master.username,
                        DB_AUTH_MODE: "iam",
                        DB_USERS: JSON.stringify(users),
                    },
                    readSecret: async () => master,
                    ca: [caPem],
                    connect: (config) => new pg.Client({ ...config, host: server.host }),
                })({});

            // 0. Declaring a user by a name the team already uses, while the master may not act for the legacy owner.
            const refusal = await bootstrapHandler([...EXISTING_USERS, { name: legacy.teamRole, access: "readonly" }]).then(
                () => "",
                (err: Error) => err.message,
            );
            const untouched = changedSince(before, await catalogSnapshot(admin, { without: declared }));
            const created = (
                await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_roles WHERE rolname = ANY($1)", [declared])
            ).rows[0].n;
            check(
                new RegExp(
                    `refused, nothing was changed: declared user\\(s\\) ${legacy.teamRole} already exist .*; ${master.username} cannot grant on schema app \\(owner ${legacy.user}\\).*run GRANT ${legacy.user} TO ${master.username}`,
                ).test(refusal) &&
                    untouched.length === 0 &&
                    created === 0,
                `the bootstrap refuses, changing nothing, to declare ${legacy.teamRole} (the team's role) or to run while ${master.username} may not act for ${legacy.user}: ${refusal.replace(/^.*nothing was changed: /, "") || "it did not refuse"}`,
            );
            // The fixes the refusal names: no user by the team role's name; the master user a member of the legacy owner.
            await setup.query(`GRANT "${legacy.user}" TO "${master.username}"`);

            // 1. The bootstrap, for real.
            const first = await bootstrapHandler(EXISTING_USERS);
            check(
                first.ok && first.retired.length === 0,
                `bootstrap (Lambda handler, vpc path, existing-database mode): ${first.statements} statements as ${master.username}, no superuser, over verified TLS`,
            );
            const after = await catalogSnapshot(admin, { without: declared });
            // The one change the team made itself (the fix above) aside.
            delete after[`member ${master.username} of ${legacy.user} by ${server.user}`];
            const changes = changedSince(before, after);
            check(
                changes.length === 0,
                changes.length === 0
                    ? `nothing the legacy application had changed: ${Object.keys(before).length} catalog entries (roles with their passwords, memberships, owners, ACLs, row counts) compared`
                    : `the bootstrap changed what it did not own: ${changes.join("; ")}`,
            );

            // 2. The smoke through the stand-in, as the smoke Lambda runs it with DB_EXISTING_DATABASE=true.
            const { target, credentials } = localSmokeTarget(plane);
            const existingTarget = {
                ...target,
                database,
                user: declared[0],
                owner: master.username,
                users: EXISTING_USERS.map((u) => ({ ...u, endpoint: "writer" as const })),
                readerHost: undefined,
                readerPort: undefined,
                readerProxyHost: undefined,
            };
            const warnings = {
                existingDatabase: true,
                clusterSecurityGroupIds: [LOCAL_CLUSTER_SECURITY_GROUP],
                describeSecurityGroupRules: async () => LOCAL_CLUSTER_RULES,
            };
            report = await runSmoke(existingTarget, { credentials, negatives: o.negatives ?? true, ...warnings });
            const failed = report.checks.filter((c) => !c.ok);
            check(
                report.ok,
                report.ok
                    ? `smoke: ${report.checks.length - report.warnings} checks hold for ${declared.join(", ")} (IAM tokens, verified TLS, exactly their grants), ${report.warnings} warnings`
                    : `smoke failed: ${failed.map((c) => `${c.name}: ${c.detail}`).join("; ")}`,
            );
            const publicRow = report.checks.find((c) => c.name === WARNING.publicSchema);
            check(
                publicRow?.warning === true && /PUBLIC holds USAGE on schema app/.test(publicRow.detail),
                `the smoke shows PUBLIC's grant on schema app as a warning: ${publicRow?.detail ?? "no such row"}`,
            );

            // 3. The same warnings fail the post-deploy invocation when asked to.
            const smokeHandler = createSmokeHandler({
                env: {
                    DB_HOST: target.host,
                    DB_PORT: String(target.port),
                    DB_NAME: database,
                    DB_USER: declared[0],
                    DB_USERS: JSON.stringify(EXISTING_USERS),
                    DB_OWNER: master.username,
                    DB_AUTH_MODE: "iam",
                    AWS_REGION: target.region,
                    DB_PROXY_HOST: target.proxyHost,
                    DB_PROXY_PORT: String(target.proxyPort),
                    DB_EXISTING_DATABASE: "true",
                    SMOKE_WARNINGS_FAIL: "true",
                    DB_CLUSTER_SECURITY_GROUP_IDS: LOCAL_CLUSTER_SECURITY_GROUP,
                    SMOKE_TIMEOUT_MS: "10000",
                },
                caPem,
                options: { credentials, negatives: false, users: false, describeSecurityGroupRules: warnings.describeSecurityGroupRules },
                writeMetrics: () => undefined,
            });
            const failedRun = await smokeHandler({}).then(
                () => undefined,
                (err: Error) => err.message,
            );
            check(
                failedRun !== undefined && /warnings fail this run/.test(failedRun),
                `with SMOKE_WARNINGS_FAIL=true the smoke Lambda fails: ${failedRun ?? "it passed"}`,
            );

            // 4. The legacy application still logs in with its password, straight to PostgreSQL, and finds its rows.
            const legacyClient = new pg.Client({
                host: server.host,
                port: server.port,
                user: legacy.user,
                password: legacy.password,
                database,
                ssl: { ca: caPem, servername: "localhost" },
                connectionTimeoutMillis: 5_000,
            });
            legacyClient.on("error", () => undefined);
            try {
                await legacyClient.connect();
                const { rows } = await legacyClient.query<{ n: number; me: string }>(
                    `SELECT count(*)::int AS n, current_user::text AS me FROM ${legacy.table}`,
                );
                check(
                    rows[0].n === legacy.rows && rows[0].me === legacy.user,
                    `${legacy.user} still logs in with its password and reads ${rows[0].n} of ${legacy.rows} rows in ${legacy.table}`,
                );
            } catch (err) {
                check(false, `${legacy.user} could not log in with its password or read ${legacy.table}: ${(err as Error).message}`);
            } finally {
                await legacyClient.end().catch(() => undefined);
            }

            // 5. A second bootstrap changes nothing at all, the declared users' grants included.
            const settled = await catalogSnapshot(admin);
            const second = await bootstrapHandler(EXISTING_USERS);
            const drift = snapshotDiff(settled, await catalogSnapshot(admin));
            check(
                second.ok && drift.length === 0,
                drift.length === 0
                    ? `a second bootstrap changes nothing (${Object.keys(settled).length} catalog entries compared)`
                    : `a second bootstrap changed: ${drift.join("; ")}`,
            );
        } finally {
            await admin.end().catch(() => undefined);
        }
    } catch (err) {
        check(false, `the rehearsal stopped: ${(err as Error).message}`);
    } finally {
        if (o.cleanup) {
            await setup.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => undefined);
            for (const role of [...declared, ...legacyRoles, master.username])
                await setup.query(`DROP ROLE IF EXISTS "${role}"`).catch(() => undefined);
        }
        await setup.end().catch(() => undefined);
    }
    return { results, ok: results.length > 0 && results.every(([ok]) => ok), ...(report ? { report } : {}) };
}

/** Prints a rehearsal: the smoke's table, then each check. */
export function formatRehearsal(r: ExistingRehearsal): string[] {
    return [
        ...(r.report
            ? formatReport(r.report)
                  .split("\n")
                  .map((l) => `  ${l}`)
            : []),
        `  (the cluster's security group rules are a stand-in: ${LOCAL_CLUSTER_SECURITY_GROUP} admitting the legacy app's 10.20.0.0/16 on 5432, as EC2 would describe it)`,
        ...r.results.map(([ok, line]) => `  ${ok ? "✓" : "✗"}  ${line}`),
    ];
}

async function main(): Promise<number> {
    const started = Date.now();
    console.log(
        "Existing-database rehearsal: a second database with a legacy application's role, table, rows and PUBLIC grant, fronted non-destructively",
    );
    const plane = await startLocalDataPlane();
    try {
        const rehearsal = await rehearseExistingDatabase(plane);
        for (const line of formatRehearsal(rehearsal)) console.log(line);
        console.log(
            `${rehearsal.ok ? "PASS" : "FAIL"}: existing-database rehearsal finished in ${((Date.now() - started) / 1000).toFixed(1)} s`,
        );
        return rehearsal.ok ? 0 : 1;
    } finally {
        await plane.stop();
    }
}

if (require.main === module) {
    main().then(
        (code) => process.exit(code),
        (err) => {
            console.error(`existing-database rehearsal failed: ${err instanceof Error ? err.message : String(err)}`);
            process.exit(1);
        },
    );
}
