// npm run db:connect (issue 10): the pure pieces, the process handling with fake `aws` and `pulumi`
// executables on a temporary PATH, and the same code path against the local plane through a TCP forwarder.
import { strict as assert } from "assert";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as os from "os";
import * as path from "path";
import { LOCAL_USERS, LocalDataPlane, startLocalDataPlane } from "../local/dataplane";
import {
    classifyAwsFailure,
    classifyDatabaseFailure,
    connectThrough,
    ConnectError,
    INSTALL,
    operatorTarget,
    parseConnectArgs,
    pgEnv,
    psqlConninfo,
    run,
    runSql,
    startLocalTunnel,
    startSessionArgv,
    startTcpForwarder,
} from "../ops/db-connect";
import { stackAsDeclared } from "./harness";

const ENDPOINT = "orders-dev-proxy.proxy-c0123456789.eu-west-1.rds.amazonaws.com";

describe("db:connect (issue 10)", function () {
    this.timeout(30_000);

    describe("the command line", () => {
        it("reads --stack with a user, --reader and one action (psql by default)", () => {
            assert.deepEqual(parseConnectArgs(["--stack", "dev"]), {
                source: { kind: "stack", stack: "dev" },
                reader: false,
                action: { kind: "psql" },
                timeoutSeconds: 600,
            });
            assert.deepEqual(
                parseConnectArgs(["--stack", "prod", "--user", "app_migrator", "--reader", "-c", "select 1", "--timeout", "30"]),
                {
                    source: { kind: "stack", stack: "prod" },
                    user: "app_migrator",
                    reader: true,
                    action: { kind: "sql", sql: "select 1" },
                    timeoutSeconds: 30,
                },
            );
            assert.equal(parseConnectArgs(["--stack", "dev", "--print-env"]).action.kind, "print-env");
            assert.deepEqual(parseConnectArgs(["--local", "-c", "select 1"]).source, { kind: "local" });
        });

        for (const [argv, message] of [
            [[], /name exactly one of --stack NAME .* or --local/],
            [["--stack", "dev", "--local", "-c", "x"], /name exactly one of/],
            [["--stack", "dev", "-c", "x", "--psql"], /choose one of -c SQL, --psql or --print-env/],
            [["--local"], /--local runs -c SQL only/],
            [["--stack", "dev", "--user", "App User"], /--user is "App User"; expected a database user name/],
            [["--stack", "dev", "--local-port", "80"], /--local-port is "80"; expected an integer 1024\.\.65535/],
            [["--stack", "dev", "--bogus"], /db:connect: Unknown option '--bogus'/],
            [["--stack", "dev", "--timeout", "0"], /--timeout is "0"; expected seconds/],
            [["--stack", "dev", "--reader", "--host", "x.example.com"], /choose one of --reader or --host NAME/],
            [["--stack", "dev", "--host", "a b"], /--host is "a b"; expected a proxy endpoint's DNS name/],
        ] as Array<[string[], RegExp]>) {
            it(`refuses ${JSON.stringify(argv)} with one line`, () => {
                assert.throws(
                    () => parseConnectArgs(argv),
                    (err: Error) => err instanceof ConnectError && message.test(err.message) && !err.message.includes("\n"),
                );
            });
        }
    });

    describe("the pieces it builds", () => {
        it("forwards a free local port to the proxy endpoint through the relay with the stack's document, which fixes the port", () => {
            assert.deepEqual(
                startSessionArgv({
                    relayInstanceId: "i-0abc",
                    documentName: "orders-dev-operator-tunnel",
                    host: ENDPOINT,
                    localPort: 15432,
                    region: "eu-west-1",
                }),
                [
                    "ssm",
                    "start-session",
                    "--target",
                    "i-0abc",
                    "--document-name",
                    "orders-dev-operator-tunnel",
                    "--parameters",
                    `{"host":["${ENDPOINT}"],"localPortNumber":["15432"]}`,
                    "--region",
                    "eu-west-1",
                ],
            );
        });

        it("gives psql the proxy's name as host and 127.0.0.1 as hostaddr, verify-full, system roots unless --ca", () => {
            assert.equal(
                psqlConninfo({ endpoint: ENDPOINT, localPort: 15432, database: "appdb", user: "app_reader" }),
                `host=${ENDPOINT} hostaddr=127.0.0.1 port=15432 dbname=appdb user=app_reader sslmode=verify-full sslrootcert=system`,
            );
            assert.match(
                psqlConninfo({
                    endpoint: ENDPOINT,
                    localPort: 15432,
                    database: "appdb",
                    user: "app_reader",
                    caFile: "/tmp/global-bundle.pem",
                }),
                / sslrootcert=\/tmp\/global-bundle\.pem$/,
            );
        });

        it("prints the PG* variables for other tools, the token only there", () => {
            assert.deepEqual(pgEnv({ endpoint: ENDPOINT, localPort: 15432, database: "appdb", user: "app_reader", token: "TOKEN" }), {
                PGHOST: ENDPOINT,
                PGHOSTADDR: "127.0.0.1",
                PGPORT: "15432",
                PGDATABASE: "appdb",
                PGUSER: "app_reader",
                PGSSLMODE: "verify-full",
                PGSSLROOTCERT: "system",
                PGPASSWORD: "TOKEN",
            });
        });

        it("reads the real stack outputs: the readonly operator user by default, only operator users, the READ_ONLY endpoint with --reader", async () => {
            const dev = JSON.parse(JSON.stringify((await stackAsDeclared("dev")).outputs));
            const prod = JSON.parse(JSON.stringify((await stackAsDeclared("prod")).outputs));
            const t = operatorTarget(dev, { stack: "dev", reader: false });
            assert.deepEqual(t, {
                region: "eu-west-1",
                database: "appdb",
                endpoint: dev.proxyEndpoint,
                port: 5432,
                user: "app_reader",
                relayInstanceId: dev.relayInstanceId,
                sessionDocument: "orders-dev-operator-tunnel",
                proxyEndpoints: [dev.proxyEndpoint],
            });
            assert.equal(operatorTarget(dev, { stack: "dev", user: "app_migrator", reader: false }).user, "app_migrator");
            assert.throws(
                () => operatorTarget(dev, { stack: "dev", user: "app_user", reader: false }),
                /--user app_user is not an operator user of stack dev; the operator role may connect as app_reader, app_migrator \(operator\.users\)/,
            );
            assert.throws(
                () => operatorTarget(dev, { stack: "dev", reader: true }),
                /stack dev has no READ_ONLY proxy endpoint .*; drop --reader/,
            );
            assert.equal(operatorTarget(prod, { stack: "prod", reader: true }).endpoint, prod.proxyReaderEndpoint);
            assert.throws(
                () => operatorTarget({ ...dev, relayInstanceId: undefined }, { stack: "dev", reader: false }),
                /no relayInstanceId output: operator access is off/,
            );
            assert.throws(
                () => operatorTarget({ ...dev, operatorSessionDocument: undefined }, { stack: "dev", reader: false }),
                /db:connect: stack dev has no operatorSessionDocument output: it predates the tunnel locked to the proxy \(issue 15\); run pulumi up$/,
            );
            // --host: one of the stack's proxy endpoints, checked with the document's own rule before AWS is asked.
            assert.equal(
                operatorTarget(prod, { stack: "prod", reader: false, host: prod.proxyReaderEndpoint }).endpoint,
                prod.proxyReaderEndpoint,
            );
            assert.throws(
                () => operatorTarget(prod, { stack: "prod", reader: false, host: "169.254.169.254" }),
                new RegExp(
                    `^ConnectError: db:connect: the tunnel refuses host "169\\.254\\.169\\.254": the operator session document forwards only to this stack's proxy endpoints \\(${prod.proxyEndpoint.replace(/\./g, "\\.")}, ${prod.proxyReaderEndpoint.replace(/\./g, "\\.")}\\) on 5432$`,
                ),
            );
        });

        it("turns the AWS CLI's failures into one line with the fix", () => {
            const cases: Array<[string, RegExp, object?]> = [
                ["", /the AWS CLI is not installed .*getting-started-install/, { spawnError: "ENOENT" }],
                [
                    "SessionManagerPlugin is not found. Please refer to SessionManager Documentation here: http://docs.aws.amazon.com/console/systems-manager/session-manager-plugin-not-found",
                    new RegExp(`Session Manager plugin .* is not installed; install it \\(${INSTALL.plugin.replace(/[.]/g, "\\.")}\\)`),
                ],
                [
                    '\nUnable to locate credentials. You can configure credentials by running "aws configure".',
                    /no AWS credentials: sign in \(aws sso login/,
                ],
                [
                    "An error occurred (ExpiredTokenException) when calling the StartSession operation: The security token included in the request is expired",
                    /credentials have expired/,
                ],
                [
                    "An error occurred (TargetNotConnected) when calling the StartSession operation: i-0abc is not connected.",
                    /the relay i-0abc is not connected to Systems Manager .*start it/,
                    { relayInstanceId: "i-0abc" },
                ],
                [
                    "An error occurred (AccessDeniedException) when calling the StartSession operation: User: x is not authorized to perform: ssm:StartSession",
                    /use credentials of the stack's operator role .*operatorSessionDocument/,
                ],
                [
                    'An error occurred (InvalidParameters) when calling the StartSession operation: Parameter "host" has value "169.254.169.254" not matching "^(?:a)$".',
                    /^the session document refused the request \(.*InvalidParameters.*\): it forwards only to this stack's proxy endpoints on 5432/,
                ],
            ];
            for (const [stderr, expected, o] of cases) {
                const line = classifyAwsFailure(stderr, o);
                assert.match(line, expected);
                assert.ok(!line.includes("\n"));
            }
        });
    });

    it("says which name a refused token or a failed verification was for, in one line", () => {
        const refused = classifyDatabaseFailure(
            Object.assign(new Error('password authentication failed for user "app_reader"'), { code: "28P01" }),
            { endpoint: ENDPOINT, port: 5432, tunnelClosed: false },
        );
        assert.match(
            refused,
            new RegExp(`^the proxy refused the IAM token for ${ENDPOINT.replace(/\./g, "\\.")}:5432: authentication failed`),
        );
        const tls = classifyDatabaseFailure(
            Object.assign(new Error("Hostname/IP does not match certificate's altnames"), { code: "ERR_TLS_CERT_ALTNAME_INVALID" }),
            { endpoint: ENDPOINT, port: 5432, tunnelClosed: false },
        );
        assert.match(tls, new RegExp(`^TLS verify-full against ${ENDPOINT.replace(/\./g, "\\.")} failed: `));
        assert.match(
            classifyDatabaseFailure(new Error("Connection terminated unexpectedly"), {
                endpoint: ENDPOINT,
                port: 5432,
                tunnelClosed: false,
            }),
            /^the tunnel dropped/,
        );
        for (const line of [refused, tls]) assert.ok(!line.includes("\n"));
    });

    describe("with fake aws and pulumi on PATH", () => {
        let bin: string;
        let env: NodeJS.ProcessEnv;
        before(async () => {
            bin = mkdtempSync(path.join(os.tmpdir(), "db-connect-bin-"));
            const outputs = path.join(bin, "outputs.json");
            writeFileSync(outputs, JSON.stringify((await stackAsDeclared("dev")).outputs));
            // pulumi stack output --json -s dev: the dev stack's real outputs, as evaluated under the mocks.
            writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\n/bin/cat "${outputs}"\n`);
            chmodSync(path.join(bin, "pulumi"), 0o755);
            env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}` };
        });
        after(() => rmSync(bin, { recursive: true, force: true }));

        const fakeAws = (script: string) => {
            writeFileSync(path.join(bin, "aws"), `#!/bin/sh\necho "$@" > "${bin}/aws.argv"\n${script}\n`);
            chmodSync(path.join(bin, "aws"), 0o755);
        };
        const runWith = async (argv: string[]) => {
            const out: string[] = [];
            const err: string[] = [];
            const code = await run(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env, tunnelTimeoutMs: 5_000 });
            return { code, out, err };
        };

        it("a missing Session Manager plugin gives the install hint, after starting the port forward to the proxy endpoint with the stack's document", async () => {
            fakeAws(
                `echo "" >&2; echo "SessionManagerPlugin is not found. Please refer to SessionManager Documentation here: http://docs.aws.amazon.com/console/systems-manager/session-manager-plugin-not-found" >&2; exit 255`,
            );
            const { code, err } = await runWith(["--stack", "dev", "-c", "select 1"]);
            assert.equal(code, 1);
            assert.match(
                err[err.length - 1],
                /^db:connect: the Session Manager plugin for the AWS CLI is not installed; install it \(https:\/\/docs\.aws\.amazon\.com\/systems-manager\/latest\/userguide\/session-manager-working-with-install-plugin\.html\)/,
            );
            const outputs = (await stackAsDeclared("dev")).outputs;
            const argv = readFileSync(path.join(bin, "aws.argv"), "utf8");
            assert.match(
                argv,
                new RegExp(
                    `^ssm start-session --target ${outputs.relayInstanceId} --document-name ${outputs.operatorSessionDocument} --parameters \\{"host":\\["${outputs.proxyEndpoint.replace(/\./g, "\\.")}"\\],"localPortNumber":\\["\\d+"\\]\\} --region eu-west-1`,
                ),
            );
            assert.equal(outputs.operatorSessionDocument, "orders-dev-operator-tunnel");
        });

        it("a relay that is not connected says so, with how to start it, without retrying", async () => {
            fakeAws(
                `echo "An error occurred (TargetNotConnected) when calling the StartSession operation: i-0abc is not connected." >&2; exit 254`,
            );
            const { code, err } = await runWith(["--stack", "dev", "-c", "select 1"]);
            assert.equal(code, 1);
            assert.equal(err.filter((l) => /trying once more/.test(l)).length, 0);
            assert.match(err[err.length - 1], /is not connected to Systems Manager .* start it \(aws ec2 start-instances/);
        });

        it("a missing AWS CLI gives the install hint", async () => {
            rmSync(path.join(bin, "aws"), { force: true });
            const errs: string[] = [];
            const code = await run(["--stack", "dev", "-c", "select 1"], {
                out: () => undefined,
                err: (l) => errs.push(l),
                env: { ...env, PATH: bin },
                tunnelTimeoutMs: 5_000,
            });
            assert.equal(code, 1);
            assert.match(
                errs[errs.length - 1],
                /^db:connect: the AWS CLI is not installed \(aws not found on PATH\); install AWS CLI v2 .* and the Session Manager plugin/,
            );
        });
    });

    describe("against the local plane, through a local TCP forwarder", () => {
        let plane: LocalDataPlane;
        before(async () => {
            plane = await startLocalDataPlane({ users: LOCAL_USERS });
        });
        after(async () => {
            await plane?.stop();
        });

        it('db:connect --local --user app_user -c "select current_user" prints app_user', async () => {
            const out: string[] = [];
            const err: string[] = [];
            const code = await run(["--local", "--user", "app_user", "-c", "select current_user"], {
                out: (l) => out.push(l),
                err: (l) => err.push(l),
                env: process.env,
                plane,
            });
            assert.deepEqual({ code, out, err }, { code: 0, out: ["app_user"], err: [] });
        });

        it("defaults to the readonly user, which may read and may not write", async () => {
            const out: string[] = [];
            const err: string[] = [];
            assert.equal(
                await run(["--local", "-c", "select current_user, 1 + 1"], {
                    out: (l) => out.push(l),
                    err: (l) => err.push(l),
                    env: process.env,
                    plane,
                }),
                0,
            );
            assert.deepEqual(out, ["app_reader\t2"]);
            assert.equal(
                await run(["--local", "-c", "insert into app.smoke_probe (note) values ('x')"], {
                    out: (l) => out.push(l),
                    err: (l) => err.push(l),
                    env: process.env,
                    plane,
                }),
                1,
            );
            assert.match(err[err.length - 1], /^db:connect: permission denied for table smoke_probe \(SQLSTATE 42501\)$/);
        });

        it("--stack runs end to end with a fake aws that forwards like Session Manager: the token for the endpoint and 5432, TLS against its name", async () => {
            const dir = mkdtempSync(path.join(os.tmpdir(), "db-connect-e2e-"));
            const saved = {
                id: process.env.AWS_ACCESS_KEY_ID,
                secret: process.env.AWS_SECRET_ACCESS_KEY,
                profile: process.env.AWS_PROFILE,
            };
            try {
                // The stack's outputs name the proxy by its DNS name, as in AWS; only the fake aws knows the stand-in's port.
                writeFileSync(
                    path.join(dir, "outputs.json"),
                    JSON.stringify({
                        proxyEndpoint: plane.proxyHost,
                        proxyPort: 5432,
                        region: plane.region,
                        dbName: plane.database,
                        relayInstanceId: "i-0fake",
                        operatorUsers: ["app_reader", "app_migrator"],
                        dbUsers: plane.users,
                        operatorSessionDocument: "orders-dev-operator-tunnel",
                    }),
                );
                writeFileSync(path.join(dir, "pulumi"), `#!/bin/sh\n/bin/cat "${path.join(dir, "outputs.json")}"\n`);
                writeFileSync(
                    path.join(dir, "aws"),
                    `#!${process.execPath}
const net = require("net");
const argv = process.argv.slice(2);
const p = JSON.parse(argv[argv.indexOf("--parameters") + 1]);
if (argv[argv.indexOf("--document-name") + 1] !== "orders-dev-operator-tunnel" || p.host[0] !== ${JSON.stringify(plane.proxyHost)} || "portNumber" in p) process.exit(3);
console.log("Starting session with SessionId: operator-0123");
net.createServer((c) => { const u = net.connect(${plane.port}, "127.0.0.1"); c.pipe(u); u.pipe(c); c.on("error", () => u.destroy()); u.on("error", () => c.destroy()); })
  .listen(Number(p.localPortNumber[0]), "127.0.0.1", () => console.log("Waiting for connections..."));
`,
                );
                chmodSync(path.join(dir, "pulumi"), 0o755);
                chmodSync(path.join(dir, "aws"), 0o755);
                Object.assign(process.env, { AWS_ACCESS_KEY_ID: plane.accessKeyId, AWS_SECRET_ACCESS_KEY: plane.secretAccessKey });
                delete process.env.AWS_PROFILE;
                const out: string[] = [];
                const err: string[] = [];
                const code = await run(
                    [
                        "--stack",
                        "dev",
                        "--user",
                        "app_migrator",
                        "--ca",
                        plane.caFile,
                        "-c",
                        "select current_user, inet_server_port() is not null",
                    ],
                    {
                        out: (l) => out.push(l),
                        err: (l) => err.push(l),
                        env: { ...process.env, PATH: `${dir}${path.delimiter}${process.env.PATH}` },
                        tunnelTimeoutMs: 10_000,
                    },
                );
                assert.deepEqual({ code, out }, { code: 0, out: ["app_migrator\ttrue"] }, err.join("\n"));
                assert.match(
                    err[0],
                    new RegExp(
                        `^db:connect: forwarding 127\\.0\\.0\\.1 to ${plane.proxyHost.replace(/\./g, "\\.")}:5432 through relay i-0fake \\(dev\\), as app_migrator$`,
                    ),
                );
            } finally {
                for (const [k, v] of [
                    ["AWS_ACCESS_KEY_ID", saved.id],
                    ["AWS_SECRET_ACCESS_KEY", saved.secret],
                    ["AWS_PROFILE", saved.profile],
                ] as const) {
                    if (v === undefined) delete process.env[k];
                    else process.env[k] = v;
                }
                rmSync(dir, { recursive: true, force: true });
            }
        });

        it("db:connect --local --host <another host> is refused by the tunnel stand-in with the document's rule, in one line", async () => {
            for (const host of ["169.254.169.254", "localhost", "10.20.64.10", "example.com", `${plane.proxyHost}.example.com`]) {
                const out: string[] = [];
                const err: string[] = [];
                const code = await run(["--local", "--host", host, "-c", "select 1"], {
                    out: (l) => out.push(l),
                    err: (l) => err.push(l),
                    env: process.env,
                    plane,
                });
                assert.deepEqual(
                    { code, out, err },
                    {
                        code: 1,
                        out: [],
                        err: [
                            `db:connect: the tunnel refuses host ${JSON.stringify(host)}: the operator session document forwards only to this stack's proxy endpoints (${plane.proxyHost}) on 5432`,
                        ],
                    },
                );
            }
            // The proxy's own name is let through, and the connection works.
            const out: string[] = [];
            assert.equal(
                await run(["--local", "--host", plane.proxyHost, "-c", "select current_user"], {
                    out: (l) => out.push(l),
                    err: () => undefined,
                    env: process.env,
                    plane,
                }),
                0,
            );
            assert.deepEqual(out, ["app_reader"]);
        });

        it("the tunnel stand-in refuses another port too, before it listens", async () => {
            await assert.rejects(
                startLocalTunnel({ host: plane.proxyHost, port: 22 }, { [plane.proxyHost]: { host: plane.host, port: plane.port } }),
                /^ConnectError: db:connect: the tunnel refuses port 22: .* on 5432$/,
            );
        });

        it("gives a classified one-line error when the forwarder drops mid-session", async () => {
            const tunnel = await startTcpForwarder({ host: plane.host, port: plane.port });
            const through = {
                endpoint: plane.proxyHost,
                port: plane.proxyPort,
                database: plane.database,
                user: "app_reader",
                region: plane.region,
                credentials: { accessKeyId: plane.accessKeyId, secretAccessKey: plane.secretAccessKey },
                caPem: readFileSync(plane.caFile, "utf8"),
            };
            const client = await connectThrough(tunnel, through);
            try {
                assert.deepEqual(await runSql(client, "select 1", tunnel, through), ["1"]);
                tunnel.drop();
                await assert.rejects(runSql(client, "select pg_sleep(0.1)", tunnel, through), (err: Error) => {
                    assert.ok(err instanceof ConnectError);
                    assert.match(
                        err.message,
                        /^the tunnel dropped \(the Session Manager session or the local forwarder ended\) while talking to orders-dev-proxy\.proxy-local\.eu-west-1\.rds\.amazonaws\.com:5432; .*run the command again$/,
                    );
                    return true;
                });
            } finally {
                await client.end().catch(() => undefined);
                await tunnel.close();
            }
        });
    });
});
