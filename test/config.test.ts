import { strict as assert } from "assert";
import { parseSettings, SettingsError } from "../components/config";
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
        assert.deepEqual([dev.database.minCapacity, dev.database.maxCapacity], [0.5, 1]);
        assert.ok(prod.database.maxCapacity > dev.database.maxCapacity);
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
        ["a CIDR with an octet above 255", "dev", { "network.cidr": "10.300.0.0/16" }, /^dev: network\.cidr \("10\.300\.0\.0\/16"\) has an octet above 255/],
        ["a CIDR with host bits set", "dev", { "network.cidr": "10.20.1.0/16" }, /^dev: network\.cidr .* has host bits set; the network address for \/16 is 10\.20\.0\.0/],
        ["a public CIDR", "dev", { "network.cidr": "8.8.0.0/16" }, /^dev: network\.cidr .* must lie in a private range/],
        ["min capacity above max", "dev", { "database.minCapacity": 4, "database.maxCapacity": 2 }, /^dev: database\.minCapacity \(4\) is above database\.maxCapacity \(2\); set minCapacity <= maxCapacity$/],
        ["capacity off the 0.5 ACU steps", "dev", { "database.minCapacity": 0.75 }, /^dev: database\.minCapacity \(0\.75\) must be Aurora Serverless v2 capacity: 0 to 256 ACU in steps of 0\.5$/],
        ["capacity above 256 ACU", "dev", { "database.maxCapacity": 300 }, /^dev: database\.maxCapacity \(300\) must be Aurora Serverless v2 capacity/],
        ["negative capacity", "dev", { "database.minCapacity": -1 }, /^dev: database\.minCapacity \(-1\) must be Aurora Serverless v2 capacity/],
        ["a MySQL engine version", "dev", { "database.engineVersion": "8.0.mysql_aurora.3.05.2" }, /^dev: database\.engineVersion \("8\.0\.mysql_aurora\.3\.05\.2"\) is not an aurora-postgresql version/],
        ["an engine major AWS does not offer", "dev", { "database.engineVersion": "12" }, /^dev: database\.engineVersion \("12"\) is not an aurora-postgresql version; use a major 13-17/],
        ["a preferred version of another major", "dev", { "database.preferredEngineVersions": ["15.8"] }, /^dev: database\.preferredEngineVersions \(\["15\.8"\]\) must be a list of quoted 16\.MINOR versions/],
        ["a schedule that is not a rate expression", "dev", { "smoke.schedule": "every 5 minutes" }, /^dev: smoke\.schedule \("every 5 minutes"\) must be off or rate\(N unit\)/],
        ["a plural unit for one", "dev", { "smoke.schedule": "rate(1 minutes)" }, /^dev: smoke\.schedule \("rate\(1 minutes\)"\) must be off or rate/],
        ["prod without the scheduled smoke", "prod", { "smoke.schedule": "off" }, /^prod: smoke\.schedule \("off"\) must run at least every 5 minutes in prod/],
        ["prod checking only hourly", "prod", { "smoke.schedule": "rate(1 hour)" }, /^prod: smoke\.schedule \("rate\(1 hour\)"\) must run at least every 5 minutes in prod/],
        ["a schedule with the smoke off", "dev", { "smoke.enabled": false }, /^dev: smoke\.schedule \("rate\(1 hour\)"\) needs smoke\.enabled: true/],
        ["an alarm e-mail that is not one", "dev", { "alarms.subscriptions": [{ protocol: "email", endpoint: "oncall" }] }, /^dev: alarms\.subscriptions\[0\] .* endpoint must be an email address for protocol email$/],
        ["an alarm webhook over http", "dev", { "alarms.subscriptions": [{ protocol: "https", endpoint: "http://hooks.example.com/x" }] }, /^dev: alarms\.subscriptions\[0\] .* endpoint must be an https:\/\/ URL/],
        ["an SMS subscription", "dev", { "alarms.subscriptions": [{ protocol: "sms", endpoint: "+15555550100" }] }, /^dev: alarms\.subscriptions\[0\] .* protocol must be email, https or lambda$/],
        ["a placeholder alarm address", "prod", { "alarms.subscriptions": [{ protocol: "email", endpoint: "platform-team@example.com" }] }, /^prod: alarms\.subscriptions\[0\] .* endpoint is at example\.com, a placeholder domain that receives no mail; name a real address or leave subscriptions empty$/],
        ["a placeholder webhook", "dev", { "alarms.subscriptions": [{ protocol: "https", endpoint: "https://hooks.alerts.invalid/x" }] }, /^dev: alarms\.subscriptions\[0\] .* endpoint is at invalid, a placeholder domain/],
        ["an SQS subscription (its queue policy is the owner's)", "dev", { "alarms.subscriptions": [{ protocol: "sqs", endpoint: "arn:aws:sqs:eu-west-1:123456789012:alarms" }] }, /^dev: alarms\.subscriptions\[0\] .* sqs is not subscribed by this stack: .* add to the queue's policy: Allow sqs:SendMessage to Service sns\.amazonaws\.com with ArnEquals aws:SourceArn/],
        ["a certificate warning of 0 days", "dev", { "alarms.certExpiryDays": 0 }, /^dev: alarms\.certExpiryDays \(0\) must be a whole number from 1 to 365$/],
        ["a smoke.rerun with spaces", "dev", { "smoke.rerun": "run it again" }, /^dev: smoke\.rerun \("run it again"\) must be up to 64 letters/],
        ["a db user that is not an identifier", "dev", { "database.user": "App-User" }, /^dev: database\.user \("App-User"\) is not a PostgreSQL identifier/],
        ["the reserved user postgres", "dev", { "database.user": "postgres" }, /^dev: database\.user \("postgres"\) is reserved/],
        ["the reserved user rdsadmin", "dev", { "database.user": "rdsadmin" }, /^dev: database\.user \("rdsadmin"\) is reserved/],
        ["a user starting pg_", "dev", { "database.user": "pg_app" }, /^dev: database\.user \("pg_app"\) starts with a reserved prefix/],
        ["a user starting rds_", "dev", { "database.user": "rds_app" }, /^dev: database\.user \("rds_app"\) starts with a reserved prefix/],
        ["a db name that is not an identifier", "dev", { "database.name": "app-db" }, /^dev: database\.name \("app-db"\) is not a PostgreSQL identifier/],
        ["the master user as the application user", "dev", { "database.user": "dbadmin" }, /^dev: database\.user \("dbadmin"\) must differ from database\.masterUsername/],
        ["prod without deletion protection", "prod", { "database.deletionProtection": false }, /^prod: database\.deletionProtection \(false\) must be true in prod$/],
        ["prod with backups under 7 days", "prod", { "database.backupRetentionDays": 3 }, /^prod: database\.backupRetentionDays \(3\) must be at least 7 in prod$/],
        ["prod with one instance", "prod", { "database.instanceCount": 1 }, /^prod: database\.instanceCount \(1\) must be at least 2 in prod/],
        ["prod without flow logs", "prod", { "network.flowLogs": false }, /^prod: network\.flowLogs \(false\) must be true in prod/],
        ["prod with proxy debug logging", "prod", { "proxy.debugLogging": true }, /^prod: proxy\.debugLogging \(true\) must be false in prod/],
        ["prod with an unpinned image", "prod", { "app.image": "myorg/orders:latest" }, /^prod: app\.image \("myorg\/orders:latest"\) must be pinned in prod/],
        ["an Enhanced Monitoring interval RDS does not offer", "prod", { "database.monitoringIntervalSeconds": 20 }, /^prod: database\.monitoringIntervalSeconds \(20\) must be 0 \(off\), 1, 5, 10, 15, 30 or 60$/],
        ["a command given as one string", "dev", { "app.command": "node server.js" }, /^dev: app\.command \("node server\.js"\) must be a non-empty list of strings/],
        ["a negative desired count", "dev", { "app.desiredCount": -1 }, /^dev: app\.desiredCount \(-1\) must be a whole number from 0 to 1000$/],
        ["an unknown proxy auth mode", "dev", { "proxy.authMode": "password" }, /^dev: proxy\.authMode \("password"\) must be iam \(end-to-end IAM, the default\) or secrets$/],
        ["a Fargate memory that does not fit the CPU", "dev", { "app.memory": 4096 }, /^dev: app\.memory \(4096\) is not allowed with cpu 256 on Fargate; allowed: 512-2048 MiB/],
        ["a log retention CloudWatch does not offer", "dev", { "app.logRetentionDays": 10 }, /^dev: app\.logRetentionDays \(10\) must be a CloudWatch Logs retention/],
        ["a misspelt key", "dev", { "database.minCapacty": 1 }, /^dev: database\.minCapacty \(1\) is not a setting; allowed in database: name, user/],
        ["an unknown top-level key", "dev", { "aurora-iam-proxy:databse": {} }, /^dev: aurora-iam-proxy:databse \(\{\}\) is not a setting of this program/],
        ["an application name with an apostrophe", "dev", { "tags.Application": "Tony's Chips" }, /^dev: tags\.Application \("Tony's Chips"\) is used in security-group descriptions and contains "'", which AWS rejects/],
        ["a missing owner tag", "dev", { "tags.Owner": undefined }, /^dev: tags\.Owner \(""\) is required/],
        ["a region that is not one", "dev", { "aws:region": "europe" }, /^dev: aws:region \("europe"\) must be an AWS region/],
        ["a smoke timeout above Lambda's limit", "dev", { "smoke.timeoutSeconds": 1200 }, /^dev: smoke\.timeoutSeconds \(1200\) must be a whole number from 60 to 900$/],
        ["an unquoted engine version YAML made a number", "dev", { "database.engineVersion": 15.1 }, /^dev: database\.engineVersion \(15\.1\) must be a quoted string/],
        ["a user with an unknown access profile", "dev", { "access.users": [{ name: "app_user", access: "readwrite" }, { name: "ops", access: "admin" }] },
            /^dev: access\.users\[1\]\.access \("admin"\) must be one of readwrite, readonly, ddl$/],
        ["a user declared twice", "dev", { "access.users": [{ name: "app_user", access: "readwrite" }, { name: "app_user", access: "readonly" }] },
            /^dev: access\.users\[1\]\.name \("app_user"\) is declared twice/],
        ["the master user as a declared user", "dev", { "access.users": [{ name: "app_user", access: "readwrite" }, { name: "dbadmin", access: "ddl" }] },
            /^dev: access\.users\[1\]\.name \("dbadmin"\) is database\.masterUsername/],
        ["a reserved user name", "dev", { "access.users": [{ name: "app_user", access: "readwrite" }, { name: "rds_ops", access: "readonly" }] },
            /^dev: access\.users\[1\]\.name \("rds_ops"\) starts with a reserved prefix/],
        ["a reader endpoint with a single instance", "dev", { "access.users": [{ name: "app_user", access: "readwrite" }, { name: "app_reader", access: "readonly", endpoint: "reader" }] },
            /^dev: access\.users\[1\]\.endpoint \("reader"\) needs reader instances \(database\.instanceCount >= 2\)/],
        ["a writing user on the reader endpoint", "prod", { "access.users": [{ name: "app_user", access: "readwrite", endpoint: "reader" }] },
            /^prod: access\.users\[0\]\.endpoint \("reader"\) is only for readonly users/],
        ["an empty user list", "dev", { "access.users": [] }, /^dev: access\.users \(\[\]\) must be a non-empty list/],
        ["an unknown key on a user", "dev", { "access.users": [{ name: "app_user", access: "readwrite", limit: 5 }] }, /^dev: access\.users\[0\]\.limit \(5\) is not a setting; allowed: name, access, endpoint$/],
        ["an application user that is not a readwrite user", "dev", { "database.user": "app_reader" }, /^dev: database\.user \("app_reader"\) must be a readwrite user of access\.users; declared: app_user \(readwrite\), app_reader \(readonly\), app_migrator \(ddl\)$/],
        ["an operator principal that is not an IAM ARN", "dev", { "operator.principals": ["DBOperators"] }, /^dev: operator\.principals \("DBOperators"\) is not an IAM role or user ARN; expected arn:aws:iam::<12-digit account>:role\//],
        ["an operator principal with a wildcard", "dev", { "operator.principals": ["arn:aws:iam::123456789012:role/*"] }, /^dev: operator\.principals \("arn:aws:iam::123456789012:role\/\*"\) has a wildcard/],
        ["an operator principal given as a session ARN", "dev", { "operator.principals": ["arn:aws:sts::123456789012:assumed-role/Ops/alice"] }, /^dev: operator\.principals .* is a session \(sts assumed-role\) ARN; name the role itself/],
        ["operator principals as one string", "dev", { "operator.principals": "arn:aws:iam::123456789012:role/Ops" }, /^dev: operator\.principals \("arn:aws:iam::123456789012:role\/Ops"\) must be a list of IAM role or user ARNs/],
        ["an operator user that is not declared", "dev", { "operator.users": ["app_reader", "ghost"] }, /^dev: operator\.users \("ghost"\) is not a user of access\.users; declared: app_user, app_reader, app_migrator$/],
        ["the master user as an operator user", "dev", { "operator.users": ["dbadmin"] }, /^dev: operator\.users \("dbadmin"\) is database\.masterUsername; operators never connect as the master user$/],
        ["an empty operator user list", "dev", { "operator.users": [] }, /^dev: operator\.users \(\[\]\) must be a non-empty list of user names/],
        ["a misspelt operator key", "dev", { "operator.enable": false }, /^dev: operator\.enable \(false\) is not a setting; allowed in operator: enabled, principals, users$/],
        ["an ECS task user that is not declared", "dev", { "access.ecsTask": ["app_user", "ghost"] }, /^dev: access\.ecsTask \("ghost"\) is not a user of access\.users/],
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
            assert.ok(!s.access.ecsTaskUsers.some((n) => s.access.users.find((u) => u.name === n)?.access === "ddl"), "the task never connects as a ddl user by default");
            assert.equal(s.access.appUser, s.database.user);
        }
        assert.equal(dev.access.readerEndpoint, false);
        assert.equal(prod.access.readerEndpoint, true);
    });

    it("gives operators the readonly and ddl users by default, and both stack files name them explicitly", () => {
        for (const stack of ["dev", "prod"] as const) {
            const s = parseSettings(stack, stackConfig(stack));
            assert.deepEqual(s.operator, { enabled: true, principals: [], users: ["app_reader", "app_migrator"] });
            const byDefault = parseSettings(stack, withOverrides(stackConfig(stack), { "aurora-iam-proxy:operator": undefined }));
            assert.deepEqual(byDefault.operator, s.operator);
        }
        const sso = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_DBOperator_0123abcd";
        assert.deepEqual(parseSettings("dev", withOverrides(stackConfig("dev"), { "operator.principals": [sso] })).operator.principals, [sso]);
        assert.equal(parseSettings("dev", withOverrides(stackConfig("dev"), { "operator.enabled": false })).operator.enabled, false);
    });

    it("without access.users, the stack has one readwrite user: database.user", () => {
        const s = parseSettings("dev", withOverrides(stackConfig("dev"), { "aurora-iam-proxy:access": undefined, "aurora-iam-proxy:operator": undefined }));
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
        const dev = parseSettings("dev", withOverrides(stackConfig("dev"), { "database.deletionProtection": false, "database.backupRetentionDays": 1 }));
        assert.equal(dev.database.deletionProtection, false);
        assert.equal(dev.database.backupRetentionDays, 1);
    });
});
