// The existing-database rehearsal (issue 19, "Rehearsed locally"): a database that already has a legacy
// application (local/existing-database.ts) is fronted the way AWS would do it, and nothing of it is lost.
// On a running plane it adds a second database, seeds it, then
//   1. runs the bootstrap Lambda's handler on its path inside the VPC (pg, master secret, verified TLS) in
//      existing-database mode, and checks nothing the legacy application had changed;
//   2. runs the smoke through the RDS Proxy stand-in in existing-database mode: the declared users log in with
//      IAM tokens and verified TLS and hold exactly their grants; the warning rows show what stays risky;
//   3. runs the smoke Lambda's handler with SMOKE_WARNINGS_FAIL=true: the same warnings now fail it;
//   4. logs in as the legacy role with its password and counts its rows;
//   5. runs the bootstrap again and finds the catalogs unchanged.
// `npm run rehearse:existing` runs it on a plane of its own; the tests run it on a plane they already have.

import { readFileSync } from "node:fs";
import pg from "pg";
import type { AccessProfile } from "../access/spec";
import { createBootstrapHandler } from "../smoke/lambda/bootstrap-handler";
import { createSmokeHandler } from "../smoke/lambda/smoke-handler";
import { WARNING } from "../smoke/check-names";
import { formatReport, runSmoke, SmokeReport } from "../smoke/runner";
import { LocalDataPlane, localSmokeTarget, startLocalDataPlane } from "./dataplane";
import { catalogSnapshot, changedSince, LOCAL_CLUSTER_RULES, LOCAL_CLUSTER_SECURITY_GROUP, seedExistingDatabase, snapshotDiff } from "./existing-database";

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
export async function rehearseExistingDatabase(plane: LocalDataPlane, o: { database?: string; cleanup?: boolean; negatives?: boolean } = {}): Promise<ExistingRehearsal> {
    const database = o.database ?? "legacydb";
    const declared = EXISTING_USERS.map((u) => u.name);
    const results: Array<[boolean, string]> = [];
    const check = (ok: boolean, line: string) => { results.push([ok, line]); return ok; };
    const caPem = readFileSync(plane.caFile, "utf8");
    const server = plane.postgres;
    const superuser = (db: string) => {
        const client = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: db,
            ssl: { ca: caPem, servername: "localhost" }, connectionTimeoutMillis: 5_000, statement_timeout: 30_000 });
        client.on("error", () => undefined);
        return client.connect().then(() => client);
    };
    const setup = await superuser("postgres");
    let legacyRoles: string[] = [];
    let report: SmokeReport | undefined;
    try {
        // FILE_COPY copies the template's files instead of WAL-logging each block: about half the CPU of the default.
        await setup.query(`CREATE DATABASE "${database}" STRATEGY FILE_COPY`);
        const admin = await superuser(database);
        try {
            const legacy = await seedExistingDatabase(admin);
            legacyRoles = [legacy.user, legacy.teamRole];
            await plane.serveUsers(declared);
            const before = await catalogSnapshot(admin, { without: declared });

            // 1. The bootstrap Lambda as it runs for a cluster whose Data API is off: pg inside the VPC, the master
            // secret (here the local superuser's), TLS verified against the CA it is given (in AWS the RDS bundle)
            // for the name DB_HOST. "localhost" is the name PostgreSQL's certificate carries; we dial 127.0.0.1.
            const bootstrapHandler = createBootstrapHandler({
                env: {
                    DB_BOOTSTRAP_PATH: "vpc", DB_EXISTING_DATABASE: "true", DB_HOST: "localhost", DB_PORT: String(server.port),
                    DB_SECRET_ARN: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:local-master-AbCdEf",
                    DB_NAME: database, DB_OWNER: server.user, DB_AUTH_MODE: "iam", DB_USERS: JSON.stringify(EXISTING_USERS),
                },
                readSecret: async () => ({ username: server.user, password: server.password }),
                ca: [caPem],
                connect: (config) => new pg.Client({ ...config, host: server.host }),
            });
            const first = await bootstrapHandler({});
            check(first.ok && first.retired.length === 0, `bootstrap (Lambda handler, vpc path, existing-database mode): ${first.statements} statements as ${server.user} over verified TLS`);
            const changes = changedSince(before, await catalogSnapshot(admin, { without: declared }));
            check(changes.length === 0, changes.length === 0
                ? `nothing the legacy application had changed: ${Object.keys(before).length} roles, memberships, owners, ACL entries and row counts compared`
                : `the bootstrap changed what it did not own: ${changes.join("; ")}`);

            // 2. The smoke through the stand-in, as the smoke Lambda runs it with DB_EXISTING_DATABASE=true.
            const { target, credentials } = localSmokeTarget(plane);
            const existingTarget = {
                ...target, database, user: declared[0], users: EXISTING_USERS.map((u) => ({ ...u, endpoint: "writer" as const })),
                readerHost: undefined, readerPort: undefined, readerProxyHost: undefined,
            };
            const warnings = { existingDatabase: true, clusterSecurityGroupIds: [LOCAL_CLUSTER_SECURITY_GROUP], describeSecurityGroupRules: async () => LOCAL_CLUSTER_RULES };
            report = await runSmoke(existingTarget, { credentials, negatives: o.negatives ?? true, ...warnings });
            const failed = report.checks.filter((c) => !c.ok);
            check(report.ok, report.ok
                ? `smoke: ${report.checks.length - report.warnings} checks hold for ${declared.join(", ")} (IAM tokens, verified TLS, exactly their grants), ${report.warnings} warnings`
                : `smoke failed: ${failed.map((c) => `${c.name}: ${c.detail}`).join("; ")}`);
            const publicRow = report.checks.find((c) => c.name === WARNING.publicSchema);
            check(publicRow?.warning === true && /PUBLIC holds USAGE on schema app/.test(publicRow.detail),
                `the smoke shows PUBLIC's grant on schema app as a warning: ${publicRow?.detail ?? "no such row"}`);

            // 3. The same warnings fail the post-deploy invocation when asked to.
            const smokeHandler = createSmokeHandler({
                env: {
                    DB_HOST: target.host, DB_PORT: String(target.port), DB_NAME: database, DB_USER: declared[0], DB_USERS: JSON.stringify(EXISTING_USERS),
                    DB_OWNER: target.owner, DB_AUTH_MODE: "iam", AWS_REGION: target.region, DB_PROXY_HOST: target.proxyHost, DB_PROXY_PORT: String(target.proxyPort),
                    DB_EXISTING_DATABASE: "true", SMOKE_WARNINGS_FAIL: "true", DB_CLUSTER_SECURITY_GROUP_IDS: LOCAL_CLUSTER_SECURITY_GROUP, SMOKE_TIMEOUT_MS: "10000",
                },
                caPem,
                options: { credentials, negatives: false, users: false, describeSecurityGroupRules: warnings.describeSecurityGroupRules },
                writeMetrics: () => undefined,
            });
            const failedRun = await smokeHandler({}).then(() => undefined, (err: Error) => err.message);
            check(failedRun !== undefined && /warnings fail this run/.test(failedRun),
                `with SMOKE_WARNINGS_FAIL=true the smoke Lambda fails: ${failedRun ?? "it passed"}`);

            // 4. The legacy application still logs in with its password, straight to PostgreSQL, and finds its rows.
            const legacyClient = new pg.Client({ host: server.host, port: server.port, user: legacy.user, password: legacy.password, database,
                ssl: { ca: caPem, servername: "localhost" }, connectionTimeoutMillis: 5_000 });
            legacyClient.on("error", () => undefined);
            try {
                await legacyClient.connect();
                const { rows } = await legacyClient.query<{ n: number; me: string }>(`SELECT count(*)::int AS n, current_user::text AS me FROM ${legacy.table}`);
                check(rows[0].n === legacy.rows && rows[0].me === legacy.user,
                    `${legacy.user} still logs in with its password and reads ${rows[0].n} of ${legacy.rows} rows in ${legacy.table}`);
            } catch (err) {
                check(false, `${legacy.user} could not log in with its password or read ${legacy.table}: ${(err as Error).message}`);
            } finally {
                await legacyClient.end().catch(() => undefined);
            }

            // 5. A second bootstrap changes nothing at all, the declared users' grants included.
            const settled = await catalogSnapshot(admin);
            const second = await bootstrapHandler({});
            const drift = snapshotDiff(settled, await catalogSnapshot(admin));
            check(second.ok && drift.length === 0, drift.length === 0
                ? `a second bootstrap changes nothing (${Object.keys(settled).length} catalog entries compared)`
                : `a second bootstrap changed: ${drift.join("; ")}`);
        } finally {
            await admin.end().catch(() => undefined);
        }
    } catch (err) {
        check(false, `the rehearsal stopped: ${(err as Error).message}`);
    } finally {
        if (o.cleanup) {
            await setup.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => undefined);
            for (const role of [...declared, ...legacyRoles]) await setup.query(`DROP ROLE IF EXISTS "${role}"`).catch(() => undefined);
        }
        await setup.end().catch(() => undefined);
    }
    return { results, ok: results.length > 0 && results.every(([ok]) => ok), ...(report ? { report } : {}) };
}

/** Prints a rehearsal: the smoke's table, then each check. */
export function formatRehearsal(r: ExistingRehearsal): string[] {
    return [
        ...(r.report ? formatReport(r.report).split("\n").map((l) => `  ${l}`) : []),
        `  (the cluster's security group rules are a stand-in: ${LOCAL_CLUSTER_SECURITY_GROUP} admitting the legacy app's 10.20.0.0/16 on 5432, as EC2 would describe it)`,
        ...r.results.map(([ok, line]) => `  ${ok ? "✓" : "✗"}  ${line}`),
    ];
}

async function main(): Promise<number> {
    const started = Date.now();
    console.log("Existing-database rehearsal: a second database with a legacy application's role, table, rows and PUBLIC grant, fronted non-destructively");
    const plane = await startLocalDataPlane();
    try {
        const rehearsal = await rehearseExistingDatabase(plane);
        for (const line of formatRehearsal(rehearsal)) console.log(line);
        console.log(`${rehearsal.ok ? "PASS" : "FAIL"}: existing-database rehearsal finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        return rehearsal.ok ? 0 : 1;
    } finally {
        await plane.stop();
    }
}

if (require.main === module) {
    main().then((code) => process.exit(code), (err) => {
        console.error(`existing-database rehearsal failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
    });
}
