import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as FakeTimers from "@sinonjs/fake-timers";
import { main } from "../smoke/cli";
import { classifyError, redact } from "../client/errors";
import { readOutputsFile, readStackOutputs } from "../smoke/outputs";
import { createIamPool } from "../client/pool";
import { buildReport, formatReport } from "../smoke/report";
import { inputFromEnv, inputFromOutputs, mergeInputs, validateTarget } from "../smoke/target";
import { tamperToken, tokenFactory } from "../client/token";
import { tlsShortfall, verifyFullSsl } from "../client/tls";

const credentials = { accessKeyId: "AKIDSMOKEUNITTEST", secretAccessKey: "unit-test-secret-key" };
const valid = { host: "proxy.example.internal", port: 5432, database: "appdb", user: "app_user", region: "eu-west-1" };

describe("smoke target", () => {
    it("accepts a complete target and defaults authMode to iam", () => {
        assert.deepEqual(validateTarget(valid), { ...valid, authMode: "iam" });
    });

    it("names the field, the value and what is allowed when a field is wrong", () => {
        assert.throws(() => validateTarget({ ...valid, port: "70000" }), /target\.port is "70000"; expected an integer 1\.\.65535/);
        assert.throws(() => validateTarget({ ...valid, host: undefined }), /target\.host is missing; expected a DNS name/);
        assert.throws(() => validateTarget({ ...valid, host: "bad host" }), /target\.host is "bad host"/);
        assert.throws(() => validateTarget({ ...valid, region: "Europe" }), /target\.region is "Europe"; expected an AWS region/);
        assert.throws(() => validateTarget({ ...valid, user: "App-User" }), /target\.user is "App-User"; expected a lower-case identifier/);
        assert.throws(() => validateTarget({ ...valid, database: "" }), /target\.database is ""; expected a lower-case identifier/);
        assert.throws(
            () => validateTarget({ ...valid, authMode: "password" }),
            /target\.authMode is "password"; expected "iam" or "secrets"/,
        );
        assert.throws(() => validateTarget({ ...valid, owner: "app_user" }), /must not own the schema/);
        assert.throws(() => validateTarget({ ...valid, caPem: "not a pem" }), /target\.caPem does not contain a PEM certificate/);
    });

    it("accepts IP literals and rejects malformed dotted numbers", () => {
        assert.equal(validateTarget({ ...valid, host: "127.0.0.1" }).host, "127.0.0.1");
        assert.throws(() => validateTarget({ ...valid, host: "127.0.0.300" }), /target\.host/);
    });

    it("reads the stack output keys produced by index.ts", () => {
        const input = inputFromOutputs({
            proxyEndpoint: "db-proxy.proxy-abc.eu-west-1.rds.amazonaws.com",
            proxyPort: 5432,
            dbName: "appdb",
            dbUser: "app_user",
            region: "eu-west-1",
            proxyAuthMode: "secrets",
            dbOwner: "dbadmin",
            unrelated: "ignored",
        });
        assert.deepEqual(validateTarget(input), {
            host: "db-proxy.proxy-abc.eu-west-1.rds.amazonaws.com",
            port: 5432,
            database: "appdb",
            user: "app_user",
            region: "eu-west-1",
            authMode: "secrets",
            owner: "dbadmin",
        });
    });

    it("refuses outputs that are not an object or have wrongly typed keys", () => {
        assert.throws(() => inputFromOutputs([]), /expected the JSON object printed by "pulumi stack output --json"/);
        assert.throws(() => inputFromOutputs({ dbUser: 7 }), /stack output dbUser is 7 \(number\); expected a string/);
    });

    it("reads the task's environment variables", () => {
        assert.deepEqual(
            inputFromEnv({ DB_HOST: "h.example", DB_PORT: "5432", DB_NAME: "appdb", DB_USER: "app_user", AWS_REGION: "us-east-1" }),
            {
                host: "h.example",
                port: "5432",
                database: "appdb",
                user: "app_user",
                region: "us-east-1",
            },
        );
        assert.deepEqual(inputFromEnv({ DB_OWNER: "dbadmin", DB_AUTH_MODE: "secrets", DB_HOST: "" }), {
            owner: "dbadmin",
            authMode: "secrets",
        });
    });

    it("lets later sources win field by field and ignores unset ones", () => {
        const merged = mergeInputs({ host: "env.example", user: "app_user" }, { host: "outputs.example" }, { host: undefined, port: 6432 });
        assert.deepEqual(merged, { host: "outputs.example", user: "app_user", port: 6432 });
    });
});

describe("smoke outputs", () => {
    let dir = "";
    before(() => {
        dir = mkdtempSync(join(tmpdir(), "smoke-unit-"));
    });
    after(() => {
        if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("reads an outputs file", async () => {
        const file = join(dir, "outputs.json");
        writeFileSync(
            file,
            JSON.stringify({ proxyEndpoint: "p.example", proxyPort: 5432, dbName: "appdb", dbUser: "app_user", region: "eu-west-1" }),
        );
        assert.equal((await readOutputsFile(file)).host, "p.example");
    });

    it("says which file is missing or not JSON", async () => {
        await assert.rejects(readOutputsFile(join(dir, "missing.json")), /--outputs .*missing\.json: cannot read the file \(ENOENT\)/);
        const bad = join(dir, "bad.json");
        writeFileSync(bad, "{nope");
        await assert.rejects(readOutputsFile(bad), /bad\.json: not valid JSON/);
    });

    it("says in one line that pulumi is not installed", async () => {
        await assert.rejects(
            readStackOutputs("dev", { pulumiBin: join(dir, "no-such-pulumi") }),
            (err: Error) => /the pulumi CLI is not installed/.test(err.message) && !err.message.includes("\n"),
        );
    });

    it("bounds the pulumi call with a timeout", async () => {
        const slow = join(dir, "slow-pulumi");
        writeFileSync(slow, "#!/bin/sh\nsleep 5\n", { mode: 0o755 });
        const started = Date.now();
        await assert.rejects(readStackOutputs("dev", { pulumiBin: slow, timeoutMs: 300 }), /did not finish within 300 ms/);
        assert.ok(Date.now() - started < 2_000);
    });

    it("parses what pulumi prints", async () => {
        const stub = join(dir, "stub-pulumi");
        writeFileSync(
            stub,
            `#!/bin/sh\necho '{"proxyEndpoint":"p.example","proxyPort":5432,"dbName":"appdb","dbUser":"app_user","region":"eu-west-1","proxyAuthMode":"iam"}'\n`,
            { mode: 0o755 },
        );
        assert.deepEqual(await readStackOutputs("org/dev", { pulumiBin: stub }), {
            host: "p.example",
            port: 5432,
            database: "appdb",
            user: "app_user",
            region: "eu-west-1",
            authMode: "iam",
        });
    });

    it("refuses a stack name that is not one", async () => {
        await assert.rejects(readStackOutputs("dev; rm -rf /"), /--stack is "dev; rm -rf \/"; expected a stack name/);
    });
});

describe("smoke error classification", () => {
    const at = { host: "proxy.example", port: 5432 };
    const err = (code: string, message = code) => Object.assign(new Error(message), { code });

    it("tells DNS failures to run from inside the VPC", () => {
        for (const code of ["ENOTFOUND", "EAI_AGAIN"]) {
            const c = classifyError(err(code), at);
            assert.equal(c.kind, "dns");
            assert.match(c.message, /^cannot resolve proxy\.example .*run from inside the VPC/);
        }
    });

    it("separates refused from timed out", () => {
        assert.equal(classifyError(err("ECONNREFUSED"), at).kind, "refused");
        assert.equal(classifyError(new Error("timeout expired"), at, 500).kind, "timeout");
        assert.match(classifyError(new Error("Connection terminated due to connection timeout"), at, 500).message, /after 500 ms/);
    });

    it("says a query timed out rather than the connection", () => {
        assert.match(
            classifyError(new Error("Query read timeout"), at, 500).message,
            /^a query through proxy\.example:5432 did not finish in time \(bound 500 ms\)/,
        );
        assert.equal(classifyError(err("57014", "canceling statement due to statement timeout"), at).kind, "timeout");
    });

    it("tells certificate failures to pass --ca", () => {
        for (const code of [
            "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
            "SELF_SIGNED_CERT_IN_CHAIN",
            "ERR_TLS_CERT_ALTNAME_INVALID",
            "DEPTH_ZERO_SELF_SIGNED_CERT",
        ]) {
            const c = classifyError(err(code), at);
            assert.equal(c.kind, "tls", code);
            assert.match(c.message, /TLS verification failed .*pass --ca/);
        }
    });

    it("recognises authentication failures by SQLSTATE", () => {
        assert.equal(classifyError(err("28P01", 'PAM authentication failed for user "app_user"'), at).kind, "auth");
        assert.equal(classifyError(err("28000"), at).kind, "auth");
    });

    it("finds the code inside an AggregateError", () => {
        const aggregate = Object.assign(new AggregateError([err("ECONNREFUSED")], ""), {});
        assert.equal(classifyError(aggregate, at).kind, "refused");
    });

    it("never repeats a token found in an error message", () => {
        const token = "proxy.example:5432/?Action=connect&DBUser=app_user&X-Amz-Signature=" + "a".repeat(64);
        const c = classifyError(new Error(`weird failure with ${token}`), at);
        assert.ok(!c.message.includes("X-Amz-Signature"));
        assert.equal(redact(`x ${token} y`), "x <redacted-token> y");
    });
});

describe("smoke report", () => {
    const target = valid;
    const checks = [
        { name: "connect with IAM token", ok: true, detail: "current_user=app_user", ms: 12 },
        { name: "refuses no TLS", ok: false, detail: "accepted a connection without TLS", ms: 3 },
    ];

    it("fails when any check fails and names the first failure", () => {
        const r = buildReport(target, checks, 15.4);
        assert.equal(r.ok, false);
        assert.equal(r.reason, "refuses no TLS: accepted a connection without TLS");
        assert.equal(r.totalMs, 15);
    });

    it("passes only with at least one check and all of them holding", () => {
        assert.equal(buildReport(target, [checks[0]], 1).ok, true);
        assert.equal(buildReport(target, [], 1).ok, false);
    });

    it("prints a table with marks, names, details and times", () => {
        const text = formatReport(buildReport(target, checks, 15));
        assert.match(text, /✓ +connect with IAM token +current_user=app_user +12 ms/);
        assert.match(text, /✗ +refuses no TLS +accepted a connection without TLS +3 ms/);
        assert.match(text, /^FAIL {2}1 of 2 checks failed in 15 ms: refuses no TLS/m);
    });

    it("redacts anything token-shaped from details", () => {
        const leaky = [{ name: "x", ok: false, detail: "h:5432/?Action=connect&X-Amz-Credential=AKID%2Fx&X-Amz-Signature=ff", ms: 1 }];
        const r = buildReport(target, leaky, 1);
        assert.ok(!JSON.stringify(r).includes("X-Amz"));
        assert.ok(!formatReport(r).includes("X-Amz"));
    });
});

describe("smoke tokens and TLS options", () => {
    it("tampers with exactly one character of the signature", async () => {
        const token = await tokenFactory({ ...valid, credentials })();
        const tampered = tamperToken(token);
        assert.equal(tampered.length, token.length);
        assert.notEqual(tampered, token);
        const differing = [...token].filter((ch, i) => tampered[i] !== ch).length;
        assert.equal(differing, 1);
        assert.match(tampered, /X-Amz-Signature=[0-9a-f]{64}/);
    });

    it("verifies the host name and adds an extra CA to the roots instead of replacing them", () => {
        assert.deepEqual(verifyFullSsl("proxy.example"), { servername: "proxy.example" });
        assert.deepEqual(verifyFullSsl("127.0.0.1"), {}, "no SNI for IP literals; Node still checks the IP against the certificate");
        assert.ok(!("secureContext" in verifyFullSsl("proxy.example")), "no extra CA: Node's default roots");
        const withCa = verifyFullSsl("proxy.example", "-----BEGIN CERTIFICATE-----\n");
        assert.equal(withCa.servername, "proxy.example");
        assert.ok(withCa.secureContext instanceof Object && "context" in withCa.secureContext, "the extra CA goes into a secure context");
        assert.strictEqual(
            verifyFullSsl("other.example", "-----BEGIN CERTIFICATE-----\n").secureContext,
            withCa.secureContext,
            "one context per bundle",
        );
        assert.ok(!("ca" in withCa), "a bare `ca` would replace Node's roots");
    });

    it("does not count an unauthorized or old-protocol socket as TLS", () => {
        assert.match(tlsShortfall({ encrypted: false, authorized: false, protocol: null }) ?? "", /not encrypted/);
        assert.match(
            tlsShortfall({ encrypted: true, authorized: false, protocol: "TLSv1.3", authorizationError: "SELF_SIGNED_CERT_IN_CHAIN" }) ??
                "",
            /not authorized \(SELF_SIGNED/,
        );
        assert.match(
            tlsShortfall({ encrypted: true, authorized: true, protocol: "TLSv1.1" }) ?? "",
            /TLSv1\.1; expected TLSv1\.2 or TLSv1\.3/,
        );
        assert.equal(tlsShortfall({ encrypted: true, authorized: true, protocol: "TLSv1.2" }), undefined);
    });
});

describe("smoke pool helper (unit)", () => {
    it("gives pg a password FUNCTION that signs a new token on each call", async () => {
        const clock = FakeTimers.withGlobal(globalThis).install({ toFake: ["Date"], now: Date.UTC(2026, 0, 1, 12, 0, 0) });
        const pool = createIamPool({ ...valid, credentials });
        try {
            const password = (pool as unknown as { options: { password: unknown } }).options.password;
            assert.equal(typeof password, "function");
            const first = await (password as () => Promise<string>)();
            clock.tick(16 * 60_000);
            const second = await (password as () => Promise<string>)();
            assert.match(first, /X-Amz-Date=20260101T120000Z/);
            assert.match(second, /X-Amz-Date=20260101T121600Z/);
        } finally {
            clock.uninstall();
            await pool.end();
        }
    });
});

describe("smoke cli", () => {
    const io = () => {
        const out: string[] = [];
        const err: string[] = [];
        return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env: {} } };
    };
    // Folders the CLI reads from, removed after the block so no run leaves smoke-cli-* behind.
    const made: string[] = [];
    const scratch = (prefix: string) => {
        const d = mkdtempSync(join(tmpdir(), prefix));
        made.push(d);
        return d;
    };
    after(() => {
        for (const d of made) rmSync(d, { recursive: true, force: true });
    });

    it("prints help and exits 0", async () => {
        const t = io();
        assert.equal(await main(["--help"], t.io), 0);
        assert.match(t.out.join("\n"), /Usage: npm run smoke/);
    });

    it("exits 2 with one line for an unknown flag or an invalid target", async () => {
        let t = io();
        assert.equal(await main(["--bogus"], t.io), 2);
        assert.equal(t.err.length, 1);
        t = io();
        assert.equal(await main(["--host", "h.example", "--port", "x"], t.io), 2);
        assert.match(t.err[0], /target\.port is "x"/);
    });

    it("refuses a --timeout outside 100..300000 ms or not a whole number", async () => {
        for (const bad of ["50", "300001", "1.5", "soon"]) {
            const t = io();
            assert.equal(
                await main(
                    ["--host", "h.example", "--database", "appdb", "--user", "app_user", "--region", "eu-west-1", "--timeout", bad],
                    t.io,
                ),
                2,
                bad,
            );
            assert.match(
                t.err[0],
                new RegExp(`--timeout is "${bad.replace(".", "\\.")}"; expected milliseconds, an integer 100\\.\\.300000`),
            );
        }
    });

    it("says which --ca file it cannot read, and exits 2", async () => {
        const t = io();
        const missing = join(scratch("smoke-cli-ca-"), "missing.pem");
        assert.equal(await main(["--host", "h.example", "--ca", missing], t.io), 2);
        assert.equal(t.err.length, 1);
        assert.match(t.err[0], /--ca .*missing\.pem: cannot read the file \(ENOENT\); expected a PEM CA bundle/);
    });

    it("takes the environment, then stack outputs, then flags, later ones winning", async () => {
        const outputs = join(scratch("smoke-cli-outputs-"), "outputs.json");
        writeFileSync(
            outputs,
            JSON.stringify({ proxyEndpoint: "p.example", proxyPort: 70000, dbName: "appdb", dbUser: "app_user", region: "eu-west-1" }),
        );
        const env = { DB_HOST: "env.example", DB_PORT: "5432", DB_NAME: "appdb", DB_USER: "app_user", AWS_REGION: "eu-west-1" };
        // The invalid port tells which source won: the outputs' 70000 over the environment's 5432 ...
        let t = io();
        assert.equal(await main(["--outputs", outputs], { ...t.io, env }), 2);
        assert.match(t.err[0], /target\.port is 70000/);
        // ... and a flag over both.
        t = io();
        assert.equal(await main(["--outputs", outputs, "--port", "x"], { ...t.io, env }), 2);
        assert.match(t.err[0], /target\.port is "x"/);
        // The environment is read at all: a bad value there alone is reported.
        t = io();
        assert.equal(await main([], { ...t.io, env: { ...env, DB_PORT: "y" } }), 2);
        assert.match(t.err[0], /target\.port is "y"/);
    });

    it("refuses --stack together with --outputs", async () => {
        const t = io();
        assert.equal(await main(["--stack", "dev", "--outputs", "o.json"], t.io), 2);
        assert.match(t.err[0], /pass one source of stack outputs/);
    });
});

describe("smoke library bundle", () => {
    it("bundles for a Lambda with esbuild, without Pulumi and under 2 MB", async function () {
        this.timeout(10_000);
        // Required lazily so the other unit tests do not pay for loading esbuild.
        const esbuild = await import("esbuild");
        const result = await esbuild.build({
            entryPoints: [join(__dirname, "..", "smoke", "runner.ts"), join(__dirname, "..", "client", "pool.ts")],
            bundle: true,
            platform: "node",
            target: "node20",
            external: ["pg-native"],
            write: false,
            outdir: "out",
            metafile: true,
            logLevel: "silent",
        });
        const inputs = Object.keys(result.metafile.inputs);
        assert.deepEqual(
            inputs.filter((i) => i.includes("@pulumi/") || i.startsWith("components/") || i.includes("/local/")),
            [],
        );
        for (const file of result.outputFiles)
            assert.ok(file.contents.length < 2 * 1024 * 1024, `${file.path} is ${file.contents.length} bytes`);
    });
});
