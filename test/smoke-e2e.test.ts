import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Client } from "pg";
import { CHECK, negativeCheck, PLAIN_PASSWORD } from "../smoke/checks";
import { main as cli } from "../smoke/cli";
import { createThrowawayCa } from "../local/ca";
import { localSmokeTarget, startLocalDataPlane, LocalDataPlane } from "../local/dataplane";
import { formatReport, runSmoke, SmokeReport, SmokeTarget } from "../smoke/runner";
import { Session } from "../smoke/session";
import { USER_CHECK } from "../smoke/users-check";

const NEGATIVES = [CHECK.noTls, CHECK.tampered, CHECK.tokenForOtherUser, CHECK.otherUser, CHECK.plainPassword];

describe("smoke runner against the local data plane", function () {
    this.timeout(30_000);
    let dp: LocalDataPlane;
    let target: SmokeTarget;
    let credentials: { accessKeyId: string; secretAccessKey: string };

    before(async () => {
        dp = await startLocalDataPlane();
        ({ target, credentials } = localSmokeTarget(dp));
    });
    after(async () => {
        await dp?.stop();
    });

    function check(r: SmokeReport, name: string) {
        const found = r.checks.find((c) => c.name === name);
        assert.ok(found, `no check named ${name} in ${r.checks.map((c) => c.name).join(", ")}`);
        return found;
    }

    function assertNoSecrets(r: SmokeReport): void {
        const text = JSON.stringify(r) + formatReport(r);
        assert.ok(!/X-Amz-(Signature|Credential|Date)=/.test(text), "the report must not contain a token");
        assert.ok(!text.includes(dp.secretAccessKey), "the report must not contain the secret key");
        assert.ok(!text.includes(dp.postgres.password), "the report must not contain a password");
        assert.ok(!text.includes(PLAIN_PASSWORD), "the report must not contain the probe password");
    }

    describe("on a correctly deployed stack", () => {
        let report: SmokeReport;
        before(async () => {
            report = await runSmoke(target, { credentials });
        });

        it("passes every check, so the CLI would exit 0", () => {
            assert.equal(report.ok, true, formatReport(report));
            assert.equal(report.reason, undefined);
            assert.deepEqual(
                report.checks.map((c) => c.name),
                // A single-user target (no DB_USERS): the default user is a readwrite user, so it must not CREATE.
                [CHECK.connect, CHECK.tls, CHECK.grants, USER_CHECK.createRefused(dp.user), ...NEGATIVES],
            );
        });

        it("connects as the expected user with an IAM token", () => {
            assert.match(check(report, CHECK.connect).detail, new RegExp(`current_user=${dp.user} db=${dp.database}`));
        });

        it("proves verify-full TLS on its own socket", () => {
            assert.match(check(report, CHECK.tls).detail, /^authorized, TLSv1\.[23], .*CN=.*issuer CN=.*valid to /);
        });

        it("finds the grants equal to the spec", () => {
            assert.match(check(report, CHECK.grants).detail, /nothing extra/);
        });

        it("sees every insecure way in refused by the server", () => {
            for (const name of NEGATIVES) {
                const c = check(report, name);
                assert.equal(c.ok, true, `${name}: ${c.detail}`);
                assert.match(c.detail, /^refused/);
            }
            assert.match(check(report, CHECK.noTls).detail, /before asking for a password/);
        });

        it("reports timings and never a token, key or password", () => {
            assert.ok(report.totalMs > 0 && report.checks.every((c) => c.ms >= 0));
            assertNoSecrets(report);
        });

        it("finishes a full verdict within a second", () => {
            assert.ok(report.totalMs < 1_000, `took ${report.totalMs} ms`);
        });
    });

    describe("the CLI", () => {
        let dir = "";
        const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY, profile: process.env.AWS_PROFILE };
        before(() => {
            // Made here, not when the file loads, so the after hook below always removes what was made.
            dir = mkdtempSync(join(tmpdir(), "smoke-cli-"));
            // The CLI signs with the SDK's default chain, as it would on an operator's machine.
            process.env.AWS_ACCESS_KEY_ID = dp.accessKeyId;
            process.env.AWS_SECRET_ACCESS_KEY = dp.secretAccessKey;
            delete process.env.AWS_PROFILE;
        });
        after(() => {
            for (const [key, value] of [
                ["AWS_ACCESS_KEY_ID", saved.id],
                ["AWS_SECRET_ACCESS_KEY", saved.secret],
                ["AWS_PROFILE", saved.profile],
            ] as const) {
                if (value === undefined) delete process.env[key];
                else process.env[key] = value;
            }
            if (dir) rmSync(dir, { recursive: true, force: true });
        });

        it("reads stack outputs from a file, trusts --ca, prints JSON and exits 0", async () => {
            const outputs = join(dir, "outputs.json");
            writeFileSync(
                outputs,
                JSON.stringify({
                    proxyEndpoint: dp.proxyHost,
                    proxyPort: dp.port,
                    dbName: dp.database,
                    dbUser: dp.user,
                    region: dp.region,
                    proxyAuthMode: "iam",
                }),
            );
            const out: string[] = [];
            const err: string[] = [];
            // The outputs name the proxy; the stand-in is reached at 127.0.0.1 as through a tunnel.
            const code = await cli(
                [
                    "--outputs",
                    outputs,
                    "--host",
                    dp.host,
                    "--proxy-host",
                    dp.proxyHost,
                    "--proxy-port",
                    String(dp.proxyPort),
                    "--ca",
                    dp.caFile,
                    "--owner",
                    dp.spec.owner,
                    "--json",
                ],
                { out: (l) => out.push(l), err: (l) => err.push(l), env: {} },
            );
            const report = JSON.parse(out.join("\n")) as SmokeReport;
            assert.equal(code, 0, report.reason);
            assert.equal(report.ok, true);
            assert.deepEqual(err, []);
            assertNoSecrets(report);
        });

        it("exits 1 with the table when a check fails", async () => {
            const out: string[] = [];
            const env = { DB_HOST: dp.host, DB_PORT: String(dp.port), DB_NAME: dp.database, DB_USER: dp.user, AWS_REGION: dp.region };
            // No --ca: the throwaway CA is not among the system roots.
            const code = await cli(["--owner", dp.spec.owner], { out: (l) => out.push(l), err: () => undefined, env });
            assert.equal(code, 1);
            assert.match(out.join("\n"), /✗ +connect with IAM token +TLS verification failed/);
        });
    });

    describe("a negative that the server accepts", () => {
        it("is a failure naming what was accepted", async () => {
            // Point a plain-password attempt at the real PostgreSQL, which does accept its own password.
            const pgTarget = {
                ...target,
                host: dp.postgres.host,
                port: dp.postgres.port,
                user: dp.postgres.user,
                proxyHost: undefined,
                proxyPort: undefined,
            };
            const session = new Session(pgTarget, 5_000, 2_000, 2_000, () => performance.now());
            const result = await negativeCheck(
                session,
                {
                    name: CHECK.plainPassword,
                    accepted: "accepted a plain password instead of an IAM token",
                    user: dp.postgres.user,
                    tls: true,
                    password: async () => dp.postgres.password,
                },
                () => performance.now(),
            );
            await session.closeAll();
            assert.equal(result.ok, false);
            assert.equal(result.detail, "accepted a plain password instead of an IAM token");
        });
    });

    describe("tokens the proxy must refuse", () => {
        it("refuses a token signed with the wrong secret key", async () => {
            const r = await runSmoke(target, {
                credentials: { ...credentials, secretAccessKey: "not-the-right-secret-key" },
                negatives: false,
                grants: false,
            });
            assert.equal(r.ok, false);
            assert.equal(check(r, CHECK.connect).kind, "auth");
            assert.match(r.reason ?? "", /authentication failed at/);
            assertNoSecrets(r);
        });

        it("refuses a token signed for another region", async () => {
            const otherRegion = dp.region === "us-east-1" ? "eu-west-1" : "us-east-1";
            const r = await runSmoke({ ...target, region: otherRegion }, { credentials, negatives: false, grants: false });
            assert.equal(r.ok, false);
            assert.equal(check(r, CHECK.connect).kind, "auth");
        });

        it("refuses a token signed with an access key it does not trust", async () => {
            const r = await runSmoke(target, {
                credentials: { accessKeyId: "AKIDUNTRUSTED000000", secretAccessKey: credentials.secretAccessKey },
                negatives: false,
                grants: false,
            });
            assert.equal(check(r, CHECK.connect).kind, "auth");
        });
    });

    describe("grant drift", () => {
        let admin: Client;
        before(async () => {
            admin = await dp.admin();
        });
        after(async () => {
            await admin?.end();
        });

        const probe = () => `"${dp.spec.schema}"."${dp.spec.probeTable}"`;

        it("fails naming an extra grant added by hand", async () => {
            await admin.query(`GRANT TRUNCATE ON ${probe()} TO "${dp.user}"`);
            try {
                const r = await runSmoke(target, { credentials, negatives: false });
                assert.equal(r.ok, false);
                const grants = check(r, CHECK.grants);
                assert.equal(grants.kind, "grants");
                assert.match(grants.detail, new RegExp(`extra TRUNCATE on table ${dp.spec.schema}\\.${dp.spec.probeTable}`));
                assert.match(r.reason ?? "", /^grants match spec: grant drift/);
            } finally {
                await admin.query(`REVOKE TRUNCATE ON ${probe()} FROM "${dp.user}"`);
            }
        });

        it("fails naming a grant that went missing", async () => {
            await admin.query(`REVOKE DELETE ON ${probe()} FROM "${dp.user}"`);
            try {
                const r = await runSmoke(target, { credentials, negatives: false });
                assert.equal(r.ok, false);
                assert.match(
                    check(r, CHECK.grants).detail,
                    new RegExp(`missing DELETE on table ${dp.spec.schema}\\.${dp.spec.probeTable}`),
                );
            } finally {
                await admin.query(`GRANT DELETE ON ${probe()} TO "${dp.user}"`);
            }
        });

        it("passes again once restored", async () => {
            const r = await runSmoke(target, { credentials, negatives: false });
            assert.equal(check(r, CHECK.grants).ok, true, check(r, CHECK.grants).detail);
        });
    });

    describe("TLS the client cannot verify", () => {
        it("fails with a TLS verification error when the proxy's CA is not trusted", async () => {
            const { caPem: _trusted, ...withoutCa } = target;
            const started = Date.now();
            const r = await runSmoke(withoutCa, { credentials, connectTimeoutMs: 2_000, timeoutMs: 4_000 });
            assert.equal(check(r, CHECK.connect).kind, "tls");
            assert.match(r.reason ?? "", /TLS verification failed for .*pass --ca/);
            assert.ok(Date.now() - started < 2_000);
        });

        it("fails the same way with some other CA", async () => {
            const other = createThrowawayCa();
            const started = Date.now();
            const r = await runSmoke({ ...target, caPem: other.caPem }, { credentials, connectTimeoutMs: 2_000, timeoutMs: 4_000 });
            assert.equal(check(r, CHECK.connect).kind, "tls");
            assert.ok(Date.now() - started < 2_000);
        });
    });
});

describe("smoke runner against a data plane whose proxy uses secrets to reach the database", function () {
    this.timeout(30_000);
    let dp: LocalDataPlane;
    before(async () => {
        dp = await startLocalDataPlane({ authMode: "secrets" });
    });
    after(async () => {
        await dp?.stop();
    });

    it("still connects with an IAM token and expects no rds_iam membership", async () => {
        const { target, credentials } = localSmokeTarget(dp);
        const r = await runSmoke({ ...target, authMode: "secrets" }, { credentials });
        assert.equal(r.ok, true, formatReport(r));
        const grants = r.checks.find((c) => c.name === CHECK.grants);
        assert.ok(grants && !grants.detail.includes("rds_iam"));
    });

    it("fails naming rds_iam when told the proxy uses IAM end to end", async () => {
        const { target, credentials } = localSmokeTarget(dp);
        const r = await runSmoke({ ...target, authMode: "iam" }, { credentials, negatives: false });
        assert.equal(r.ok, false);
        assert.match(r.reason ?? "", /missing member of rds_iam/);
    });
});
