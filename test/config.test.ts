import { strict as assert } from "assert";
import { environmentNamedBy, parseSettings, PROJECT, SettingsError } from "../components/config";
import { SMOKE_OTHER_USER } from "../access/users";
import { parseImageReference } from "../components/validation";
import { DEFAULT_OTHER_USER } from "../smoke/runner";
import { stackConfig, withOverrides } from "./harness";

function problemsFor(stack: "dev" | "prod", overrides: Record<string, unknown>): string[] {
    try {
        parseSettings(stack, withOverrides(stackConfig(stack), overrides));
    } catch (err) {
        assert.ok(err instanceof SettingsError, `expected SettingsError, got ${err}`);
        return (err as SettingsError).problems;
    }
    assert.fail(`settings ${JSON.stringify(overrides)} were accepted by ${stack}`);
}

describe("stack settings", () => {
    it("reads both stack files into typed settings", () => {
        const dev = parseSettings("dev", stackConfig("dev"));
        const prod = parseSettings("prod", stackConfig("prod"));
        assert.equal(dev.environment, "dev");
        assert.equal(prod.environment, "prod");
        assert.equal(dev.database.instanceClass, "db.t4g.medium");
        assert.equal(prod.database.instanceClass, "db.serverless");
        assert.deepEqual([prod.database.minCapacity, prod.database.maxCapacity], [1, 16]);
        assert.equal(dev.network.natGateways, "single");
        assert.equal(prod.network.natGateways, "perAz");
        assert.equal(dev.proxy.authMode, "iam");
        assert.equal(dev.database.engineMajor, 16);
        assert.equal(prod.tags.CostCenter, "1234");
        assert.equal(dev.namePrefix, "orders-dev");
    });

    it("accepts Pulumi's string-encoded config the way the CLI hands it to programs", () => {
        const fromYaml = stackConfig("dev");
        const asCli: Record<string, string> = {};
        for (const [k, v] of Object.entries(fromYaml)) asCli[k] = typeof v === "string" ? v : JSON.stringify(v);
        assert.deepEqual(parseSettings("dev", asCli), parseSettings("dev", fromYaml));
    });

    // Each invalid setting fails with one line naming the stack, the key, the value and what is allowed.
    const invalid: Array<[string, "dev" | "prod", Record<string, unknown>, RegExp]> = [
        ["a malformed CIDR", "dev", { "network.cidr": "10.20.0/16" }, /^dev: network\.cidr \("10\.20\.0\/16"\) is not an IPv4 CIDR/],
        [
            "a CIDR with an octet above 255",
            "dev",
            { "network.cidr": "10.300.0.0/16" },
            /^dev: network\.cidr \("10\.300\.0\.0\/16"\) has an octet above 255/,
        ],
        [
            "a CIDR with host bits set",
            "dev",
            { "network.cidr": "10.20.1.0/16" },
            /^dev: network\.cidr .* has host bits set; the network address for \/16 is 10\.20\.0\.0/,
        ],
        ["a public CIDR", "dev", { "network.cidr": "8.8.0.0/16" }, /^dev: network\.cidr .* must lie in a private range/],
        [
            "min capacity above max",
            "dev",
            { "database.minCapacity": 4, "database.maxCapacity": 2, "database.instanceClass": "db.serverless" },
            /^dev: database\.minCapacity \(4\) is above database\.maxCapacity \(2\); set minCapacity <= maxCapacity$/,
        ],
        [
            "capacity off the 0.5 ACU steps",
            "dev",
            { "database.minCapacity": 0.75, "database.instanceClass": "db.serverless" },
            /^dev: database\.minCapacity \(0\.75\) must be Aurora Serverless v2 capacity: 0 to 256 ACU in steps of 0\.5$/,
        ],
        [
            "capacity above 256 ACU",
            "dev",
            { "database.maxCapacity": 300, "database.instanceClass": "db.serverless" },
            /^dev: database\.maxCapacity \(300\) must be Aurora Serverless v2 capacity/,
        ],
        [
            "negative capacity",
            "dev",
            { "database.minCapacity": -1, "database.instanceClass": "db.serverless" },
            /^dev: database\.minCapacity \(-1\) must be Aurora Serverless v2 capacity/,
        ],
        [
            "an instance class Aurora PostgreSQL doesn't offer",
            "dev",
            { "database.instanceClass": "db.t2.micro" },
            /^dev: database\.instanceClass \("db\.t2\.micro"\) is not an Aurora PostgreSQL 16 instance class; allowed: db\.serverless \(Serverless v2\), db\.t3\.medium, .*db\.t4g\.medium, .*db\.r8g\.2xlarge$/,
        ],
        [
            "a class not offered for the engine major",
            "dev",
            { "database.instanceClass": "db.t3.medium", "database.engineVersion": "17" },
            /^dev: database\.instanceClass \("db\.t3\.medium"\) is not an Aurora PostgreSQL 17 instance class; allowed: db\.serverless \(Serverless v2\), db\.t4g\.medium/,
        ],
        [
            "an ACU range beside a provisioned class",
            "dev",
            { "database.maxCapacity": 4 },
            /^dev: database\.maxCapacity \(4\) applies to Serverless v2 only; remove it, or set database\.instanceClass to db\.serverless \(now db\.t4g\.medium\)$/,
        ],
        [
            "a MySQL engine version",
            "dev",
            { "database.engineVersion": "8.0.mysql_aurora.3.05.2" },
            /^dev: database\.engineVersion \("8\.0\.mysql_aurora\.3\.05\.2"\) is not an aurora-postgresql version/,
        ],
        [
            "an engine major AWS does not offer",
            "dev",
            { "database.engineVersion": "12" },
            /^dev: database\.engineVersion \("12"\) is not an aurora-postgresql version; use a major 13-17/,
        ],
        [
            "a preferred version of another major",
            "dev",
            { "database.preferredEngineVersions": ["15.8"] },
            /^dev: database\.preferredEngineVersions \(\["15\.8"\]\) must be a list of quoted 16\.MINOR versions/,
        ],
        [
            "a schedule that is not a rate expression",
            "dev",
            { "smoke.schedule": "every 5 minutes" },
            /^dev: smoke\.schedule \("every 5 minutes"\) must be off or rate\(N unit\)/,
        ],
        [
            "a plural unit for one",
            "dev",
            { "smoke.schedule": "rate(1 minutes)" },
            /^dev: smoke\.schedule \("rate\(1 minutes\)"\) must be off or rate/,
        ],
        [
            "prod without the scheduled smoke",
            "prod",
            { "smoke.schedule": "off" },
            /^prod: smoke\.schedule \("off"\) must run at least every 5 minutes in prod/,
        ],
        [
            "prod checking only hourly",
            "prod",
            { "smoke.schedule": "rate(1 hour)" },
            /^prod: smoke\.schedule \("rate\(1 hour\)"\) must run at least every 5 minutes in prod/,
        ],
        [
            "a schedule with the smoke off",
            "dev",
            { "smoke.enabled": false },
            /^dev: smoke\.schedule \("rate\(1 hour\)"\) needs smoke\.enabled: true/,
        ],
        [
            "an alarm e-mail that is not one",
            "dev",
            { "alarms.subscriptions": [{ protocol: "email", endpoint: "oncall" }] },
            /^dev: alarms\.subscriptions\[0\] .* endpoint must be an email address for protocol email$/,
        ],
        [
            "an alarm webhook over http",
            "dev",
            { "alarms.subscriptions": [{ protocol: "https", endpoint: "http://hooks.example.com/x" }] },
            /^dev: alarms\.subscriptions\[0\] .* endpoint must be an https:\/\/ URL/,
        ],
        [
            "an SMS subscription",
            "dev",
            { "alarms.subscriptions": [{ protocol: "sms", endpoint: "+15555550100" }] },
            /^dev: alarms\.subscriptions\[0\] .* protocol must be email, https or lambda$/,
        ],
        [
            "a placeholder alarm address",
            "prod",
            { "alarms.subscriptions": [{ protocol: "email", endpoint: "platform-team@example.com" }] },
            /^prod: alarms\.subscriptions\[0\] .* endpoint is at example\.com, a placeholder domain that receives no mail; name a real address or leave subscriptions empty$/,
        ],
        [
            "a placeholder webhook",
            "dev",
            { "alarms.subscriptions": [{ protocol: "https", endpoint: "https://hooks.alerts.invalid/x" }] },
            /^dev: alarms\.subscriptions\[0\] .* endpoint is at invalid, a placeholder domain/,
        ],
        [
            "an SQS subscription (its queue policy is the owner's)",
            "dev",
            { "alarms.subscriptions": [{ protocol: "sqs", endpoint: "arn:aws:sqs:eu-west-1:123456789012:alarms" }] },
            /^dev: alarms\.subscriptions\[0\] .* sqs is not subscribed by this stack: .* add to the queue's policy: Allow sqs:SendMessage to Service sns\.amazonaws\.com with ArnEquals aws:SourceArn/,
        ],
        [
            "a certificate warning of 0 days",
            "dev",
            { "alarms.certExpiryDays": 0 },
            /^dev: alarms\.certExpiryDays \(0\) must be a whole number from 1 to 365$/,
        ],
        [
            "a smoke.rerun with spaces",
            "dev",
            { "smoke.rerun": "run it again" },
            /^dev: smoke\.rerun \("run it again"\) must be up to 64 letters/,
        ],
        [
            "a db user that is not an identifier",
            "dev",
            { "database.user": "App-User" },
            /^dev: database\.user \("App-User"\) is not a PostgreSQL identifier/,
        ],
        ["the reserved user postgres", "dev", { "database.user": "postgres" }, /^dev: database\.user \("postgres"\) is reserved/],
        ["the reserved user rdsadmin", "dev", { "database.user": "rdsadmin" }, /^dev: database\.user \("rdsadmin"\) is reserved/],
        ["a user starting pg_", "dev", { "database.user": "pg_app" }, /^dev: database\.user \("pg_app"\) starts with a reserved prefix/],
        ["a user starting rds_", "dev", { "database.user": "rds_app" }, /^dev: database\.user \("rds_app"\) starts with a reserved prefix/],
        [
            "a db name that is not an identifier",
            "dev",
            { "database.name": "app-db" },
            /^dev: database\.name \("app-db"\) is not a PostgreSQL identifier/,
        ],
        [
            "the master user as the application user",
            "dev",
            { "database.user": "dbadmin" },
            /^dev: database\.user \("dbadmin"\) must differ from database\.masterUsername/,
        ],
        [
            "prod without deletion protection",
            "prod",
            { "database.deletionProtection": false },
            /^prod: database\.deletionProtection \(false\) must be true in prod$/,
        ],
        [
            "prod with backups under 7 days",
            "prod",
            { "database.backupRetentionDays": 3 },
            /^prod: database\.backupRetentionDays \(3\) must be at least 7 in prod$/,
        ],
        [
            "prod with one instance",
            "prod",
            { "database.instanceCount": 1 },
            /^prod: database\.instanceCount \(1\) must be at least 2 in prod/,
        ],
        ["prod without flow logs", "prod", { "network.flowLogs": false }, /^prod: network\.flowLogs \(false\) must be true in prod/],
        [
            "prod with proxy debug logging",
            "prod",
            { "proxy.debugLogging": true },
            /^prod: proxy\.debugLogging \(true\) must be false in prod/,
        ],
        [
            "prod with an unpinned image",
            "prod",
            { "app.image": "myorg/orders:latest" },
            /^prod: app\.image \("myorg\/orders:latest"\) must be pinned in prod/,
        ],
        [
            "an Enhanced Monitoring interval RDS does not offer",
            "prod",
            { "database.monitoringIntervalSeconds": 20 },
            /^prod: database\.monitoringIntervalSeconds \(20\) must be 0 \(off\), 1, 5, 10, 15, 30 or 60$/,
        ],
        [
            "a command given as one string",
            "dev",
            { "app.command": "node server.js" },
            /^dev: app\.command \("node server\.js"\) must be a non-empty list of strings/,
        ],
        [
            "a negative desired count",
            "dev",
            { "app.desiredCount": -1 },
            /^dev: app\.desiredCount \(-1\) must be a whole number from 0 to 1000$/,
        ],
        [
            "an unknown proxy auth mode",
            "dev",
            { "proxy.authMode": "password" },
            /^dev: proxy\.authMode \("password"\) must be iam \(end-to-end IAM, the default\) or secrets$/,
        ],
        [
            "a Fargate memory that does not fit the CPU",
            "dev",
            { "app.memory": 4096 },
            /^dev: app\.memory \(4096\) is not allowed with cpu 256 on Fargate; allowed: 512-2048 MiB/,
        ],
        [
            "a log retention CloudWatch does not offer",
            "dev",
            { "app.logRetentionDays": 10 },
            /^dev: app\.logRetentionDays \(10\) must be a CloudWatch Logs retention/,
        ],
        [
            "a misspelt key",
            "dev",
            { "database.minCapacty": 1 },
            /^dev: database\.minCapacty \(1\) is not a setting; allowed in database: name, user/,
        ],
        [
            "a burstable class in prod",
            "prod",
            { "database.instanceClass": "db.t4g.medium", "database.minCapacity": undefined, "database.maxCapacity": undefined },
            /^prod: database\.instanceClass \("db\.t4g\.medium"\) is a burstable T class, which AWS recommends for development and test only/,
        ],
        [
            "a name AWS reserves for its SSM documents",
            "dev",
            { "aurora-iam-proxy:name": "amazon-orders" },
            /^dev: name \("amazon-orders"\) starts with aws, amazon, amzn or ssm-, which AWS reserves/,
        ],
        [
            "an unknown top-level key",
            "dev",
            { "aurora-iam-proxy:databse": {} },
            /^dev: aurora-iam-proxy:databse \(\{\}\) is not a setting of this program/,
        ],
        [
            "an application name with an apostrophe",
            "dev",
            { "tags.Application": "Tony's Chips" },
            /^dev: tags\.Application \("Tony's Chips"\) is used in security-group descriptions and contains "'", which AWS rejects/,
        ],
        ["a missing owner tag", "dev", { "tags.Owner": undefined }, /^dev: tags\.Owner \(""\) is required/],
        ["a region that is not one", "dev", { "aws:region": "europe" }, /^dev: aws:region \("europe"\) must be an AWS region/],
        [
            "a smoke timeout above Lambda's limit",
            "dev",
            { "smoke.timeoutSeconds": 1200 },
            /^dev: smoke\.timeoutSeconds \(1200\) must be a whole number from 60 to 900$/,
        ],
        [
            "an unquoted engine version YAML made a number",
            "dev",
            { "database.engineVersion": 15.1 },
            /^dev: database\.engineVersion \(15\.1\) must be a quoted string/,
        ],
        [
            "a user with an unknown access profile",
            "dev",
            {
                "access.users": [
                    { name: "app_user", access: "readwrite" },
                    { name: "ops", access: "admin" },
                ],
            },
            /^dev: access\.users\[1\]\.access \("admin"\) must be one of readwrite, readonly, ddl$/,
        ],
        [
            "a user declared twice",
            "dev",
            {
                "access.users": [
                    { name: "app_user", access: "readwrite" },
                    { name: "app_user", access: "readonly" },
                ],
            },
            /^dev: access\.users\[1\]\.name \("app_user"\) is declared twice/,
        ],
        [
            "the master user as a declared user",
            "dev",
            {
                "access.users": [
                    { name: "app_user", access: "readwrite" },
                    { name: "dbadmin", access: "ddl" },
                ],
            },
            /^dev: access\.users\[1\]\.name \("dbadmin"\) is database\.masterUsername/,
        ],
        [
            "a reserved user name",
            "dev",
            {
                "access.users": [
                    { name: "app_user", access: "readwrite" },
                    { name: "rds_ops", access: "readonly" },
                ],
            },
            /^dev: access\.users\[1\]\.name \("rds_ops"\) starts with a reserved prefix/,
        ],
        [
            "a reader endpoint with a single instance",
            "dev",
            {
                "access.users": [
                    { name: "app_user", access: "readwrite" },
                    { name: "app_reader", access: "readonly", endpoint: "reader" },
                ],
            },
            /^dev: access\.users\[1\]\.endpoint \("reader"\) needs reader instances \(database\.instanceCount >= 2\)/,
        ],
        [
            "a writing user on the reader endpoint",
            "prod",
            { "access.users": [{ name: "app_user", access: "readwrite", endpoint: "reader" }] },
            /^prod: access\.users\[0\]\.endpoint \("reader"\) is only for readonly users/,
        ],
        ["an empty user list", "dev", { "access.users": [] }, /^dev: access\.users \(\[\]\) must be a non-empty list/],
        [
            "an unknown key on a user",
            "dev",
            { "access.users": [{ name: "app_user", access: "readwrite", limit: 5 }] },
            /^dev: access\.users\[0\]\.limit \(5\) is not a setting; allowed: name, access, endpoint$/,
        ],
        [
            "an application user that is not a readwrite user",
            "dev",
            { "database.user": "app_reader" },
            /^dev: database\.user \("app_reader"\) must be a readwrite user of access\.users; declared: app_user \(readwrite\), app_reader \(readonly\), app_migrator \(ddl\)$/,
        ],
        [
            "an operator principal that is not an IAM ARN",
            "dev",
            { "operator.principals": ["DBOperators"] },
            /^dev: operator\.principals \("DBOperators"\) is not an IAM role or user ARN; expected arn:aws:iam::<12-digit account>:role\//,
        ],
        [
            "an operator principal with a wildcard",
            "dev",
            { "operator.principals": ["arn:aws:iam::123456789012:role/*"] },
            /^dev: operator\.principals \("arn:aws:iam::123456789012:role\/\*"\) has a wildcard/,
        ],
        [
            "an operator principal given as a session ARN",
            "dev",
            { "operator.principals": ["arn:aws:sts::123456789012:assumed-role/Ops/alice"] },
            /^dev: operator\.principals .* is a session \(sts assumed-role\) ARN; name the role itself/,
        ],
        [
            "operator principals as one string",
            "dev",
            { "operator.principals": "arn:aws:iam::123456789012:role/Ops" },
            /^dev: operator\.principals \("arn:aws:iam::123456789012:role\/Ops"\) must be a list of IAM role or user ARNs/,
        ],
        [
            "an operator user that is not declared",
            "dev",
            { "operator.users": ["app_reader", "ghost"] },
            /^dev: operator\.users \("ghost"\) is not a user of access\.users; declared: app_user, app_reader, app_migrator$/,
        ],
        [
            "the master user as an operator user",
            "dev",
            { "operator.users": ["dbadmin"] },
            /^dev: operator\.users \("dbadmin"\) is database\.masterUsername; operators never connect as the master user$/,
        ],
        [
            "an empty operator user list",
            "dev",
            { "operator.users": [] },
            /^dev: operator\.users \(\[\]\) must be a non-empty list of user names/,
        ],
        [
            "a misspelt operator key",
            "dev",
            { "operator.enable": false },
            /^dev: operator\.enable \(false\) is not a setting; allowed in operator: enabled, principals, users, followLatestAmi; did you mean enabled\?$/,
        ],
        [
            "an ECS task user that is not declared",
            "dev",
            { "access.ecsTask": ["app_user", "ghost"] },
            /^dev: access\.ecsTask \("ghost"\) is not a user of access\.users/,
        ],
    ];
    for (const [what, stack, overrides, expected] of invalid) {
        it(`refuses ${what} with one line naming it`, () => {
            const problems = problemsFor(stack, overrides);
            assert.equal(problems.length, 1, `expected exactly one problem, got:\n${problems.join("\n")}`);
            assert.match(problems[0], expected);
            assert.ok(!problems[0].includes("\n"));
        });
    }

    it("declares every access profile in both stacks, the reader endpoint only where readers exist", () => {
        const dev = parseSettings("dev", stackConfig("dev"));
        const prod = parseSettings("prod", stackConfig("prod"));
        for (const s of [dev, prod]) {
            assert.deepEqual([...new Set(s.access.users.map((u) => u.access))].sort(), ["ddl", "readonly", "readwrite"]);
            assert.ok(
                !s.access.ecsTaskUsers.some((n) => s.access.users.find((u) => u.name === n)?.access === "ddl"),
                "the task never connects as a ddl user by default",
            );
            assert.equal(s.access.appUser, s.database.user);
        }
        assert.equal(dev.access.readerEndpoint, false);
        assert.equal(prod.access.readerEndpoint, true);
    });

    it("gives operators the readonly and ddl users by default, and both stack files name them explicitly", () => {
        for (const stack of ["dev", "prod"] as const) {
            const s = parseSettings(stack, stackConfig(stack));
            assert.deepEqual(s.operator, { enabled: true, principals: [], users: ["app_reader", "app_migrator"], followLatestAmi: false });
            const byDefault = parseSettings(stack, withOverrides(stackConfig(stack), { "aurora-iam-proxy:operator": undefined }));
            assert.deepEqual(byDefault.operator, s.operator);
        }
        const sso = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_DBOperator_0123abcd";
        assert.deepEqual(parseSettings("dev", withOverrides(stackConfig("dev"), { "operator.principals": [sso] })).operator.principals, [
            sso,
        ]);
        assert.equal(parseSettings("dev", withOverrides(stackConfig("dev"), { "operator.enabled": false })).operator.enabled, false);
    });

    it("without access.users, the stack has one readwrite user: database.user", () => {
        const s = parseSettings(
            "dev",
            withOverrides(stackConfig("dev"), { "aurora-iam-proxy:access": undefined, "aurora-iam-proxy:operator": undefined }),
        );
        assert.deepEqual(s.access.users, [{ name: "app_user", access: "readwrite", endpoint: "writer" }]);
        assert.deepEqual(s.operator.users, [], "no readonly or ddl user: operators may open the tunnel but connect as nobody");
        assert.deepEqual(s.access.ecsTaskUsers, ["app_user"]);
    });

    it("keeps a version such as 15.10 exactly as written, wherever the config comes from", () => {
        const yaml = withOverrides(stackConfig("dev"), { "database.engineVersion": "15.10" });
        assert.equal(parseSettings("dev", yaml).database.engineVersion, "15.10");
        const cli: Record<string, string> = {};
        for (const [k, v] of Object.entries(yaml)) cli[k] = typeof v === "string" ? v : JSON.stringify(v);
        assert.equal(parseSettings("dev", cli).database.engineVersion, "15.10");
        assert.equal(parseSettings("dev", yaml).database.engineMajor, 15);
    });

    it("reports every invalid value at once, one per line", () => {
        const problems = problemsFor("prod", { "database.deletionProtection": false, "app.desiredCount": -2, "proxy.authMode": "none" });
        assert.equal(problems.length, 3);
        const message = new SettingsError(problems).message;
        assert.equal(message.split("\n").length, 3);
    });

    it("lets dev turn protections off that prod must keep", () => {
        const dev = parseSettings(
            "dev",
            withOverrides(stackConfig("dev"), { "database.deletionProtection": false, "database.backupRetentionDays": 1 }),
        );
        assert.equal(dev.database.deletionProtection, false);
        assert.equal(dev.database.backupRetentionDays, 1);
    });
});

/** The problems a stack named `stack` reports for a whole config map (not through withOverrides' section paths). */
function problemsOf(stack: string, config: Record<string, unknown>): string[] {
    try {
        parseSettings(stack, config);
    } catch (err) {
        assert.ok(err instanceof SettingsError, `expected SettingsError, got ${err}`);
        return (err as SettingsError).problems;
    }
    return [];
}

/** A stack file's config with one key renamed, as a typo in the file would. */
function renamed(config: Record<string, unknown>, from: string, to: string): Record<string, unknown> {
    const out = { ...config, [to]: config[from] };
    delete out[from];
    return out;
}

describe("stack settings: bad input a new user tries (issue 15)", () => {
    describe("config namespaces", () => {
        const cases: Array<[string, string, RegExp]> = [
            [
                `${PROJECT}:database`,
                "aurora-iam-prxy:database",
                /^prod: config key aurora-iam-prxy:database is in namespace aurora-iam-prxy, which is not read by this program \(allowed namespaces: aurora-iam-proxy, aws, pulumi\); did you mean aurora-iam-proxy:database\?$/,
            ],
            // A hyphen typed for the colon: a key with no namespace at all.
            [
                `${PROJECT}:alarms`,
                "aurora-iam-proxy-alarms",
                /^prod: config key aurora-iam-proxy-alarms has no namespace; it is not read by this program .*; did you mean aurora-iam-proxy:alarms\?$/,
            ],
            [
                `${PROJECT}:alarms`,
                "aurora-iam-proxy-alarms:subscriptions",
                /^prod: config key aurora-iam-proxy-alarms:subscriptions is in namespace aurora-iam-proxy-alarms, which .*; did you mean aurora-iam-proxy:alarms\?$/,
            ],
            ["aws:region", "awss:region", /^prod: config key awss:region is in namespace awss, .*; did you mean aws:region\?$/],
            // The project renamed in one's head: the key itself is right, so the suggestion keeps it.
            [
                `${PROJECT}:database`,
                "orders:database",
                /^prod: config key orders:database is in namespace orders, .*; did you mean aurora-iam-proxy:database\?$/,
            ],
        ];
        for (const [from, to, expected] of cases) {
            it(`refuses ${to} in one line and suggests the key meant, rather than falling back to defaults`, () => {
                const problems = problemsOf("prod", renamed(stackConfig("prod"), from, to));
                // Without the rename's section the prod rules may add lines (aws:region is then unset); ours comes first.
                assert.match(problems[0], expected);
                assert.ok(problems.every((p) => !p.includes("\n")));
            });
        }

        it("suggests the closest of this program's keys for a misspelt one", () => {
            assert.deepEqual(
                problemsOf("prod", renamed(stackConfig("prod"), `${PROJECT}:database`, `${PROJECT}:databse`))
                    .slice(0, 1)
                    .map((p) => p.replace(/\(\{.*\}\)/, "(…)")),
                [
                    "prod: aurora-iam-proxy:databse (…) is not a setting of this program; allowed: environment, environmentMismatchAllowed, name, network, database, proxy, app, tags, smoke, alarms, access, operator, budget; did you mean aurora-iam-proxy:database?",
                ],
            );
        });

        it("accepts the aws and pulumi namespaces", () => {
            const config = { ...stackConfig("prod"), "aws:profile": "ops", "pulumi:tags": { team: "platform" } };
            assert.equal(parseSettings("prod", config).region, "eu-west-1");
        });
    });

    describe("stack name and environment", () => {
        it("refuses a stack named prod that says environment: dev, naming the setting that would allow it", () => {
            assert.deepEqual(problemsOf("prod", stackConfig("dev")), [
                'prod: environment ("dev") does not match the stack name (prod means prod); set environment: prod, or set aurora-iam-proxy:environmentMismatchAllowed: true if a dev stack is deliberately named prod',
            ]);
            assert.match(
                problemsOf("dev", stackConfig("prod"))[0],
                /^dev: environment \("prod"\) does not match the stack name \(dev means dev\)/,
            );
            assert.match(
                problemsOf("orders-prod-eu", stackConfig("dev"))[0],
                /^orders-prod-eu: environment \("dev"\) does not match the stack name \(orders-prod-eu means prod\)/,
            );
        });

        it("takes the mismatch when the settings say it is deliberate, and refuses that setting where there is none", () => {
            const deliberate = parseSettings("prod", { ...stackConfig("dev"), [`${PROJECT}:environmentMismatchAllowed`]: true });
            assert.equal(deliberate.environment, "dev");
            assert.deepEqual(problemsOf("dev", { ...stackConfig("dev"), [`${PROJECT}:environmentMismatchAllowed`]: true }), [
                "dev: environmentMismatchAllowed (true) is only for a stack whose name says dev or prod while its environment differs; stack dev is dev: remove it",
            ]);
            assert.match(
                problemsOf("prod", { ...stackConfig("dev"), [`${PROJECT}:environmentMismatchAllowed`]: "yes" })[0],
                /environmentMismatchAllowed \("yes"\) must be true or false/,
            );
        });

        it("keeps stacks named otherwise (staging, qa) working with an explicit environment", () => {
            assert.equal(parseSettings("staging", stackConfig("prod")).environment, "prod");
            assert.equal(parseSettings("qa", stackConfig("dev")).environment, "dev");
            assert.deepEqual(
                [
                    environmentNamedBy("staging"),
                    environmentNamedBy("prod-eu"),
                    environmentNamedBy("development"),
                    environmentNamedBy("dev-to-prod"),
                ],
                [undefined, "prod", "dev", undefined],
            );
        });
    });

    describe("the smoke's reserved user", () => {
        it("has one definition, at the bottom layer, which the smoke uses", () => {
            assert.equal(DEFAULT_OTHER_USER, SMOKE_OTHER_USER);
        });

        it(`refuses a declared user, or a master user, named ${SMOKE_OTHER_USER}`, () => {
            assert.deepEqual(
                problemsFor("dev", {
                    "access.users": [
                        { name: "app_user", access: "readwrite" },
                        { name: SMOKE_OTHER_USER, access: "readonly" },
                    ],
                    "access.ecsTask": ["app_user"],
                    "operator.users": ["app_user"],
                }),
                [
                    `dev: access.users[1].name ("${SMOKE_OTHER_USER}") is reserved: the smoke signs a token for it and expects the proxy to refuse it; choose another name`,
                ],
            );
            assert.deepEqual(problemsFor("dev", { "database.masterUsername": SMOKE_OTHER_USER }), [
                `dev: database.masterUsername ("${SMOKE_OTHER_USER}") is reserved: the smoke signs a token for it and expects the proxy to refuse it; choose another name`,
            ]);
        });
    });

    describe("the image reference", () => {
        it("refuses an uppercase repository in one line", () => {
            assert.deepEqual(problemsFor("dev", { "app.image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/Orders:1.4.2" }), [
                'dev: app.image ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/Orders:1.4.2") is not an image reference ECS can pull: it has repository component "Orders": repository names must be lower case; expected [registry[:port]/]repository[:tag][@sha256:<64 hex>], e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:1.4.2',
            ]);
        });

        const digest = `sha256:${"0123456789abcdef".repeat(4)}`;
        const valid: Array<[string, ReturnType<typeof parseImageReference>]> = [
            [
                "public.ecr.aws/docker/library/node:20-alpine",
                { registry: "public.ecr.aws", repository: "docker/library/node", tag: "20-alpine" },
            ],
            ["nginx", { repository: "nginx" }],
            ["library/my__app.v2-x:1.0_RC", { repository: "library/my__app.v2-x", tag: "1.0_RC" }],
            ["localhost:5000/app:1", { registry: "localhost:5000", repository: "app", tag: "1" }],
            [`orders@${digest}`, { repository: "orders", digest }],
            [
                `registry.example.com:443/team/orders:1.4.2@${digest}`,
                { registry: "registry.example.com:443", repository: "team/orders", tag: "1.4.2", digest },
            ],
        ];
        for (const [ref, parts] of valid) it(`reads ${ref}`, () => assert.deepEqual(parseImageReference(ref), parts));

        const invalid: Array<[string, RegExp]> = [
            ["MyOrg/app:1", /repository component "MyOrg": repository names must be lower case/],
            ["orders:-1", /tag "-1"; a tag is 1-128/],
            [`orders:${"x".repeat(129)}`, /tag "x{129}"/],
            ["orders:", /tag ""/],
            ["orders@sha256:abc", /digest "sha256:abc"; a digest is sha256: and 64 lower-case hex digits/],
            [`orders@md5:${"a".repeat(32)}`, /digest/],
            ["my_registry.example.com/app", /registry "my_registry\.example\.com"/],
            ["team//orders", /repository component ""/],
            ["team/-orders", /repository component "-orders"/],
            ["", /is empty/],
        ];
        for (const [ref, expected] of invalid) {
            it(`refuses ${JSON.stringify(ref.length > 40 ? `${ref.slice(0, 40)}…` : ref)}`, () => {
                const got = parseImageReference(ref);
                assert.equal(typeof got, "string");
                assert.match(got as string, expected);
            });
        }

        it("still requires a pinned image in prod, a tag other than latest or a digest", () => {
            assert.match(problemsFor("prod", { "app.image": "orders:latest" })[0], /must be pinned in prod/);
            assert.match(problemsFor("prod", { "app.image": "orders" })[0], /must be pinned in prod/);
            assert.equal(
                parseSettings("prod", withOverrides(stackConfig("prod"), { "app.image": `orders:latest@${digest}` })).app.image,
                `orders:latest@${digest}`,
            );
        });
    });
});
