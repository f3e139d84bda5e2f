// The application's side as ECS runs it: the task definition's health check, the image repository,
// the placeholder a dev stack deploys without a built image, and the environment contract between
// the task definition and the client package. Pure or on the shared stack evaluations.
import { strict as assert } from "assert";
import { execFile } from "child_process";
import * as http from "http";
import { AddressInfo } from "net";
import { ENV, poolOptionsFromEnv } from "../client/env";
import { backoffMs, DEFAULT_RETRY, retryPolicy, retryReason } from "../client/retry";
import { parseSettings, PLACEHOLDER_APP, SettingsError } from "../components/config";
import { APP_PORT, appEnvironment, containerDefinition, HEALTH_CHECK } from "../components/ecs";
import { bothStacksAsDeclared, evaluateStack, stackConfig, withOverrides } from "./harness";

const DIGEST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders-dev-app@sha256:" + "a".repeat(64);

describe("the application's task definition", function () {
    this.timeout(60000);
    const stacks = bothStacksAsDeclared();
    const container = (ev: ReturnType<typeof stacks.dev>) =>
        JSON.parse(ev.one("aws:ecs/taskDefinition:TaskDefinition").inputs.containerDefinitions)[0];

    it("prod's container, once it runs the application image, checks /health/db on the port it gives the app, with timings inside ECS's ranges", async function () {
        this.timeout(60_000);
        const c = container(
            await evaluateStack("prod", { "app.image": DIGEST.replace("orders-dev", "orders-prod"), "app.command": undefined }),
        );
        assert.deepEqual(c.healthCheck, HEALTH_CHECK);
        assert.equal(c.healthCheck.command[0], "CMD");
        assert.match(c.healthCheck.command.join(" "), new RegExp(`http://127\\.0\\.0\\.1:${APP_PORT}/health/db`));
        assert.ok(c.environment.some((e: any) => e.name === "PORT" && e.value === String(APP_PORT)));
        assert.deepEqual(c.portMappings, [{ containerPort: APP_PORT, protocol: "tcp" }]);
        const h = c.healthCheck;
        assert.ok(
            h.interval >= 5 &&
                h.interval <= 300 &&
                h.timeout >= 2 &&
                h.timeout <= 60 &&
                h.retries >= 1 &&
                h.retries <= 10 &&
                h.startPeriod >= 0 &&
                h.startPeriod <= 300,
        );
        assert.ok(h.startPeriod >= 60, "long enough for the proxy's first database connection and a Serverless v2 resume");
    });

    it("both services roll back a deployment whose tasks fail (circuit breaker with rollback)", () => {
        for (const ev of stacks.both()) {
            assert.deepEqual(ev.one("aws:ecs/service:Service").inputs.deploymentCircuitBreaker, { enable: true, rollback: true });
        }
    });

    it("dev without app.image deploys the placeholder, which carries no health check it could never pass", () => {
        const dev = stacks.dev();
        assert.equal(dev.settings.app.placeholder, true);
        const c = container(dev);
        assert.equal(c.image, PLACEHOLDER_APP.image);
        assert.deepEqual(c.command, PLACEHOLDER_APP.command);
        assert.equal(c.healthCheck, undefined);
    });

    it("prod as committed still names the placeholder image: it is a placeholder there too, with no health check it could never pass", () => {
        const prod = stacks.prod();
        assert.equal(prod.settings.app.image, PLACEHOLDER_APP.image);
        assert.equal(prod.settings.app.placeholder, true);
        assert.equal(container(prod).healthCheck, undefined);
    });

    it("dev with an application image gets the same health check as prod", () => {
        const settings = parseSettings("dev", withOverrides(stackConfig("dev"), { "app.image": DIGEST }));
        assert.equal(settings.app.placeholder, false);
        assert.equal(settings.app.command, undefined, "the image's own command runs");
        const c = containerDefinition(settings.app, { environment: [], logGroupName: "g", region: "eu-west-1" });
        assert.deepEqual(c.healthCheck, HEALTH_CHECK);
    });

    it("prod refuses to run without an image, naming the setting and what is allowed", () => {
        try {
            parseSettings("prod", withOverrides(stackConfig("prod"), { "app.image": undefined }));
            assert.fail("accepted");
        } catch (err) {
            assert.ok(err instanceof SettingsError);
            assert.deepEqual(
                err.problems.filter((p) => p.includes("app.image")),
                [
                    'prod: app.image ("") must be set in prod to the application image by digest (<repo>@sha256:…) or a pinned tag; the deploy workflow sets it (pulumi config set app.image)',
                ],
            );
        }
    });

    it("declares the image repository: immutable tags, scan on push, a lifecycle rule, its URL as an output", () => {
        for (const ev of stacks.both()) {
            const repo = ev.one("aws:ecr/repository:Repository");
            assert.equal(repo.inputs.imageTagMutability, "IMMUTABLE");
            assert.deepEqual(repo.inputs.imageScanningConfiguration, { scanOnPush: true });
            const lifecycle = ev.one("aws:ecr/lifecyclePolicy:LifecyclePolicy");
            assert.equal(lifecycle.inputs.repository, repo.state.name);
            const rules = JSON.parse(lifecycle.inputs.policy).rules;
            assert.ok(rules.length >= 1 && rules.every((r: any) => r.action.type === "expire"));
            assert.equal(ev.outputs.appRepositoryUrl, repo.state.repositoryUrl);
        }
    });

    it("the health check command exits 0 on a 200 from /health/db and 1 on a 503", async () => {
        let status = 200;
        const server = http.createServer((req, res) => {
            res.statusCode = req.url === "/health/db" ? status : 404;
            res.end("{}");
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const port = (server.address() as AddressInfo).port;
        const script = HEALTH_CHECK.command[3].replace(`:${APP_PORT}/`, `:${port}/`);
        const exitCode = () =>
            new Promise<number>((resolve) =>
                execFile(process.execPath, ["-e", script], { timeout: 10_000 }, (err) => resolve(err ? Number((err as any).code) : 0)),
            );
        try {
            assert.equal(await exitCode(), 0);
            status = 503;
            assert.equal(await exitCode(), 1);
        } finally {
            server.close();
        }
    });
});

describe("the environment contract (components/ecs.ts writes it, client/env.ts reads it)", () => {
    const written = (readonlyUser?: string) =>
        Object.fromEntries(
            appEnvironment({
                proxyEndpoint: "orders-prod-proxy.proxy-c1.eu-west-1.rds.amazonaws.com",
                proxyReaderEndpoint: "orders-prod-proxy-ro.endpoint.proxy-c1.eu-west-1.rds.amazonaws.com",
                dbName: "appdb",
                dbUser: "app_user",
                readonlyUser,
                connectAs: ["app_user", "app_reader"],
                region: "eu-west-1",
            }).map((v) => [v.name, v.value]),
        );

    it("reads back what the task definition writes, for the writer and the reader", () => {
        const read = poolOptionsFromEnv(written("app_reader"));
        assert.deepEqual(read.writer, {
            host: "orders-prod-proxy.proxy-c1.eu-west-1.rds.amazonaws.com",
            port: 5432,
            database: "appdb",
            user: "app_user",
            region: "eu-west-1",
        });
        assert.deepEqual(read.reader, {
            host: "orders-prod-proxy-ro.endpoint.proxy-c1.eu-west-1.rds.amazonaws.com",
            port: 5432,
            database: "appdb",
            user: "app_reader",
            region: "eu-west-1",
        });
        assert.equal(poolOptionsFromEnv(written()).reader, undefined);
    });

    it("through a tunnel dials DB_CONNECT_ADDRESS and keeps the proxy's name and 5432 for TLS and the token", () => {
        const read = poolOptionsFromEnv({ ...written(), [ENV.connectAddress]: "127.0.0.1:15432" });
        assert.deepEqual(read.writer, {
            host: "127.0.0.1",
            port: 15432,
            proxyHost: "orders-prod-proxy.proxy-c1.eu-west-1.rds.amazonaws.com",
            proxyPort: 5432,
            database: "appdb",
            user: "app_user",
            region: "eu-west-1",
        });
    });

    it("refuses a missing or malformed setting with one line naming each", () => {
        const env = { ...written(), DB_PORT: "54x", DB_IAM_AUTH: "false" } as Record<string, string | undefined>;
        delete env.DB_USER;
        assert.throws(
            () => poolOptionsFromEnv(env),
            (err: Error) => {
                assert.equal(
                    err.message,
                    'database settings from the environment: DB_PORT is "54x"; expected a port number such as 5432; DB_USER is not set; DB_IAM_AUTH is "false"; only "true" is supported (IAM tokens, no password)',
                );
                return true;
            },
        );
    });
});

describe("retry classification (client/retry.ts)", () => {
    it("retries a new connection for a refused token, an admin shutdown, cannot-connect-now and a reset, and nothing else", () => {
        assert.equal(retryReason({ code: "28P01" }), "token-refused");
        // PostgreSQL reports a failed PAM login (RDS IAM auth) as 28000; other 28000s (TLS required, no such user) are final.
        assert.equal(retryReason({ code: "28000", message: 'PAM authentication failed for user "app_user"' }), "token-refused");
        assert.equal(retryReason({ code: "28000", message: "This RDS Proxy requires TLS connections" }), undefined);
        assert.equal(retryReason({ code: "57P01" }), "admin-shutdown");
        assert.equal(retryReason({ code: "57P03" }), "cannot-connect-now");
        assert.equal(retryReason({ code: "ECONNRESET" }), "connection-reset");
        assert.equal(retryReason(new Error("Connection terminated unexpectedly")), "connection-reset");
        for (const code of ["42501", "28000", "3D000", "ENOTFOUND", "ERR_TLS_CERT_ALTNAME_INVALID", "SELF_SIGNED_CERT_IN_CHAIN", "57014"])
            assert.equal(retryReason({ code }), undefined, code);
    });

    it("backs off exponentially within the cap, half of it random", () => {
        const p = DEFAULT_RETRY;
        assert.deepEqual(
            [2, 3, 4, 5, 9].map((a) => backoffMs(a, p, () => 0)),
            [50, 100, 200, 400, 500],
        );
        assert.deepEqual(
            [2, 3, 4, 5, 9].map((a) => backoffMs(a, p, () => 1)),
            [100, 200, 400, 800, 1000],
        );
    });

    it("refuses a bound that would retry forever or never wait sensibly", () => {
        assert.throws(() => retryPolicy({ attempts: 0 }), /^Error: createIamPool: retry\.attempts is 0; expected an integer from 1 to 10$/);
        assert.throws(() => retryPolicy({ attempts: Infinity }), /retry\.attempts is null/);
        assert.throws(() => retryPolicy({ maxDelayMs: -1 }), /retry\.maxDelayMs is -1/);
    });
});
