// The smoke's warning rows (existing-database mode): each row's verdict on and off, the third state in the
// report, the CLI, the Lambda summary and the log lines, and the EC2 read behind the CIDR row. No database
// and no AWS: the rows run against a scripted client and a scripted EC2 endpoint.
import { strict as assert } from "node:assert";
import type { Client } from "pg";
import { main } from "../smoke/cli";
import { WARNING } from "../smoke/check-names";
import type { CheckResult } from "../smoke/checks";
import { describeRulesBody, ec2ErrorLine, ec2RulesReader, parseDescribeRules, SecurityGroupRule } from "../smoke/ec2-rules";
import { checkLogLines } from "../smoke/metrics";
import { buildReport, checkState, formatReport } from "../smoke/report";
import { Session } from "../smoke/session";
import { summarize } from "../smoke/lambda/smoke-handler";
import {
    auditVerdict,
    cidrRules,
    cidrVerdict,
    cidrWarningCheck,
    databaseWarningChecks,
    forceSslVerdict,
    parseGroupIds,
    publicSchemaVerdict,
    warningOptionsFromEnv,
} from "../smoke/warnings";

const target = {
    host: "proxy.example.internal",
    port: 5432,
    database: "appdb",
    user: "app_user",
    region: "eu-west-1",
    authMode: "iam" as const,
};
const session = () => new Session(target, 5_000, 1_000, 1_000, () => performance.now());
const clock = () => performance.now();

const rule = (r: Partial<SecurityGroupRule>): SecurityGroupRule => ({
    securityGroupRuleId: "sgr-0123456789abcdef0",
    groupId: "sg-0123456789abcdef0",
    isEgress: false,
    ipProtocol: "tcp",
    fromPort: 5432,
    toPort: 5432,
    ...r,
});

describe("smoke warning rows: verdicts", () => {
    it("rds.force_ssl: on holds, off warns with the parameter-group fix, an unknown setting warns that it cannot be confirmed", () => {
        assert.equal(forceSslVerdict("1").warning, false);
        assert.equal(forceSslVerdict("on").warning, false);
        const off = forceSslVerdict("0");
        assert.equal(off.warning, true);
        assert.match(
            off.detail,
            /^rds\.force_ssl = 0: the cluster accepts clients without TLS .*ParameterName=rds\.force_ssl,ParameterValue=1/,
        );
        const unknown = forceSslVerdict(null);
        assert.equal(unknown.warning, true);
        assert.match(unknown.detail, /not a setting of this server .*cannot confirm clients without TLS are refused/);
    });

    it("audit logging: warns only when pgaudit logs nothing and log_statement is none", () => {
        assert.equal(auditVerdict({ pgauditLoaded: false, pgauditLog: null, logStatement: "none" }).warning, true);
        // pgaudit.log set in the configuration without the library is only a placeholder: still nothing logged.
        assert.equal(auditVerdict({ pgauditLoaded: false, pgauditLog: "all", logStatement: "none" }).warning, true);
        assert.equal(auditVerdict({ pgauditLoaded: true, pgauditLog: "none", logStatement: "none" }).warning, true);
        assert.equal(auditVerdict({ pgauditLoaded: true, pgauditLog: "ddl,role", logStatement: "none" }).warning, false);
        assert.equal(auditVerdict({ pgauditLoaded: false, pgauditLog: null, logStatement: "ddl" }).warning, false);
        assert.match(
            auditVerdict({ pgauditLoaded: false, pgauditLog: null, logStatement: "none" }).detail,
            /^no audit trail \(log_statement = none, pgaudit not loaded\): .*set log_statement=ddl .*pgaudit\.log=ddl,role/,
        );
    });

    it("PUBLIC on schema app: nothing holds, USAGE or CREATE warns with the REVOKE", () => {
        assert.deepEqual(publicSchemaVerdict([]), { warning: false, detail: "PUBLIC holds nothing on schema app" });
        const usage = publicSchemaVerdict(["USAGE", "CREATE"]);
        assert.equal(usage.warning, true);
        assert.match(usage.detail, /^PUBLIC holds USAGE, CREATE on schema app: .*REVOKE ALL ON SCHEMA app FROM PUBLIC$/);
        assert.equal(publicSchemaVerdict(null).warning, false);
    });

    it("CIDR on the database port: IPv4, IPv6 and prefix-list sources covering the port warn; groups, egress, other ports and protocols do not", () => {
        const rules = [
            rule({ securityGroupRuleId: "sgr-0000000000000000a", cidrIpv4: "10.0.0.0/16" }),
            rule({ securityGroupRuleId: "sgr-0000000000000000b", ipProtocol: "-1", fromPort: -1, toPort: -1, cidrIpv6: "::/0" }),
            rule({ securityGroupRuleId: "sgr-0000000000000000c", fromPort: 5000, toPort: 6000, prefixListId: "pl-0123456789abcdef0" }),
            rule({ securityGroupRuleId: "sgr-0000000000000000d", referencedGroupId: "sg-0fedcba9876543210" }),
            rule({
                securityGroupRuleId: "sgr-0000000000000000e",
                isEgress: true,
                ipProtocol: "-1",
                fromPort: -1,
                toPort: -1,
                cidrIpv4: "0.0.0.0/0",
            }),
            rule({ securityGroupRuleId: "sgr-0000000000000000f", fromPort: 443, toPort: 443, cidrIpv4: "0.0.0.0/0" }),
            rule({ securityGroupRuleId: "sgr-00000000000000010", ipProtocol: "udp", cidrIpv4: "10.0.0.0/8" }),
        ];
        assert.deepEqual(
            cidrRules(rules, 5432).map((r) => r.securityGroupRuleId),
            ["sgr-0000000000000000a", "sgr-0000000000000000b", "sgr-0000000000000000c"],
        );
        const verdict = cidrVerdict(rules, ["sg-0123456789abcdef0"], 5432);
        assert.equal(verdict.warning, true);
        assert.match(
            verdict.detail,
            /sg-0123456789abcdef0 admits 10\.0\.0\.0\/16 \(sgr-0000000000000000a\), .* admits ::\/0 .* admits prefix list pl-0123456789abcdef0 .* on port 5432: /,
        );
        assert.match(
            verdict.detail,
            /aws ec2 revoke-security-group-ingress --group-id sg-0123456789abcdef0 --security-group-rule-ids sgr-0000000000000000a sgr-0000000000000000b sgr-0000000000000000c$/,
        );
        const clean = cidrVerdict(rules.slice(3), ["sg-0123456789abcdef0"], 5432);
        assert.deepEqual(clean, {
            warning: false,
            detail: "no rule of sg-0123456789abcdef0 admits addresses on 5432 (3 ingress rules read)",
        });
        // The cluster's own port, not the proxy's.
        assert.equal(
            cidrVerdict([rule({ fromPort: 3306, toPort: 3306, cidrIpv4: "10.0.0.0/16" })], ["sg-0123456789abcdef0"], 3306).warning,
            true,
        );
    });
});

describe("smoke warning rows: reading them", () => {
    const facts = { force_ssl: "1", pgaudit_loaded: false, pgaudit_log: null, log_statement: "ddl", public_privileges: [] as string[] };
    const scripted = (rows: Record<string, unknown>) => ({ query: async () => ({ rows: [rows] }) }) as unknown as Client;

    it("reads the three database rows in one query of the user's session, each on and off", async () => {
        const clean = await databaseWarningChecks(session(), scripted(facts), clock);
        assert.deepEqual(
            clean.map((c) => [c.name, checkState(c)]),
            [
                [WARNING.forceSsl, "ok"],
                [WARNING.audit, "ok"],
                [WARNING.publicSchema, "ok"],
            ],
        );
        const risky = await databaseWarningChecks(
            session(),
            scripted({ ...facts, force_ssl: "0", log_statement: "none", public_privileges: ["USAGE"] }),
            clock,
        );
        assert.deepEqual(
            risky.map((c) => [c.name, checkState(c)]),
            [
                [WARNING.forceSsl, "warning"],
                [WARNING.audit, "warning"],
                [WARNING.publicSchema, "warning"],
            ],
        );
    });

    it("turns a failed settings query into warnings that say they were not checked, never a thrown run", async () => {
        const broken = {
            query: async () => {
                throw new Error("permission denied for view pg_settings");
            },
        } as unknown as Client;
        const rows = await databaseWarningChecks(session(), broken, clock);
        assert.equal(rows.length, 3);
        for (const r of rows)
            assert.deepEqual(
                [r.ok, r.warning, r.detail],
                [true, true, "not checked: the settings query failed: permission denied for view pg_settings"],
            );
    });

    it("CIDR row: no groups given, an unreadable group and a clean group each give their own row", async () => {
        const none = await cidrWarningCheck(session(), clock, {}, async () => []);
        assert.deepEqual(
            [none.warning, none.detail],
            [true, "not checked: no cluster security groups were given (DB_CLUSTER_SECURITY_GROUP_IDS, --cluster-security-groups)"],
        );
        const denied = await cidrWarningCheck(session(), clock, { clusterSecurityGroupIds: ["sg-0123456789abcdef0"] }, async () => {
            throw new Error(
                "EC2 DescribeSecurityGroupRules: UnauthorizedOperation: You are not authorized to perform this operation. (HTTP 403)",
            );
        });
        assert.equal(denied.warning, true);
        assert.match(
            denied.detail,
            /^not checked: reading the rules of sg-0123456789abcdef0: EC2 DescribeSecurityGroupRules: UnauthorizedOperation/,
        );
        let asked: string[] = [];
        const clean = await cidrWarningCheck(
            session(),
            clock,
            { clusterSecurityGroupIds: ["sg-0123456789abcdef0", "sg-0fedcba9876543210"] },
            async (ids) => {
                asked = ids;
                return [rule({ referencedGroupId: "sg-0fedcba9876543210" })];
            },
        );
        assert.deepEqual(asked, ["sg-0123456789abcdef0", "sg-0fedcba9876543210"]);
        assert.deepEqual([clean.ok, clean.warning], [true, undefined]);
    });

    it("reads its settings from the environment, refusing a value that is not true or false or a group that is not one", () => {
        assert.deepEqual(warningOptionsFromEnv({}), {});
        assert.deepEqual(
            warningOptionsFromEnv({
                DB_EXISTING_DATABASE: "true",
                SMOKE_WARNINGS_FAIL: "false",
                DB_CLUSTER_SECURITY_GROUP_IDS: "sg-0123456789abcdef0, sg-01234567",
                DB_CLUSTER_PORT: "5433",
            }),
            {
                existingDatabase: true,
                warningsFail: false,
                clusterSecurityGroupIds: ["sg-0123456789abcdef0", "sg-01234567"],
                clusterPort: 5433,
            },
        );
        assert.throws(
            () => warningOptionsFromEnv({ SMOKE_WARNINGS_FAIL: "yes" }),
            /^Error: SMOKE_WARNINGS_FAIL is "yes"; expected true or false$/,
        );
        assert.throws(() => warningOptionsFromEnv({ DB_CLUSTER_PORT: "0" }), /DB_CLUSTER_PORT is "0"; expected an integer 1\.\.65535/);
        assert.throws(
            () => parseGroupIds("sg-0123456789abcdef0,default", "--cluster-security-groups"),
            /--cluster-security-groups holds "default", which is not a security group id; expected sg- and 8 or 17 hex digits, comma-separated/,
        );
    });
});

describe("smoke warning rows: the third state in every output", () => {
    const t = { host: "h", port: 5432, database: "appdb", user: "app_user", region: "eu-west-1" };
    const checks: CheckResult[] = [
        { name: "connect with IAM token", ok: true, detail: "current_user=app_user", ms: 5 },
        { name: WARNING.publicSchema, ok: true, warning: true, detail: "PUBLIC holds USAGE on schema app: ...", ms: 1 },
    ];

    it("passes with warnings unless warnings fail the run, and then names the first warning", () => {
        const passing = buildReport(t, checks, 10);
        assert.deepEqual([passing.ok, passing.warnings, passing.reason], [true, 1, undefined]);
        const failing = buildReport(t, checks, 10, { warningsFail: true });
        assert.equal(failing.ok, false);
        assert.equal(
            failing.reason,
            `1 warning and warnings fail this run (warnings-fail); first: ${WARNING.publicSchema}: PUBLIC holds USAGE on schema app: ...`,
        );
        // A real failure is named first, warnings or not.
        const failed = buildReport(t, [...checks, { name: "TLS verify-full", ok: false, detail: "not authorized", ms: 1 }], 10, {
            warningsFail: true,
        });
        assert.equal(failed.reason, "TLS verify-full: not authorized");
        assert.deepEqual(buildReport(t, checks.slice(0, 1), 1, { warningsFail: true }).ok, true);
    });

    it("marks a warning with ! in the table and says in the verdict whether it fails the run", () => {
        const text = formatReport(buildReport(t, checks, 10));
        assert.match(text, /^! +no PUBLIC grant on schema app +PUBLIC holds USAGE/m);
        assert.match(
            text,
            /^PASS {2}1\/2 checks hold, 1 warning \(not failing the run; --warnings-fail or SMOKE_WARNINGS_FAIL=true would\) in 10 ms$/m,
        );
        assert.match(
            formatReport(buildReport(t, checks, 10, { warningsFail: true })),
            /^FAIL {2}1 warning and warnings fail this run, in 10 ms: 1 warning/m,
        );
    });

    it("carries the warning into the Lambda's summary and its per-check log line, with the detail", () => {
        const summary = summarize(buildReport(t, checks, 10));
        assert.deepEqual(
            summary.checks.map((c) => c.warning),
            [undefined, true],
        );
        assert.equal(summary.warnings, 1);
        const lines = checkLogLines(buildReport(t, checks, 10), { stack: "dev" }).map((l) => JSON.parse(l));
        assert.deepEqual(lines[0], { Stack: "dev", Check: "connect with IAM token", CheckPass: 1 });
        assert.deepEqual(lines[1], {
            Stack: "dev",
            Check: WARNING.publicSchema,
            CheckPass: 1,
            CheckWarning: 1,
            detail: "PUBLIC holds USAGE on schema app: ...",
        });
    });

    it("CLI: refuses a bad warnings setting in one line with exit 2, before connecting to anything", async () => {
        const err: string[] = [];
        const io = {
            out: () => undefined,
            err: (l: string) => err.push(l),
            env: { DB_HOST: "h.example", DB_NAME: "appdb", DB_USER: "app_user", AWS_REGION: "eu-west-1", DB_PORT: "5432" },
        };
        assert.equal(await main(["--existing-database", "--cluster-security-groups", "sg-nope"], io), 2);
        assert.match(err[0], /^smoke: --cluster-security-groups holds "sg-nope", which is not a security group id/);
        assert.equal(await main([], { ...io, env: { ...io.env, SMOKE_WARNINGS_FAIL: "1" } }), 2);
        assert.match(err[1], /^smoke: SMOKE_WARNINGS_FAIL is "1"; expected true or false$/);
    });
});

describe("smoke warning rows: EC2 DescribeSecurityGroupRules", () => {
    // Shaped like EC2's answer (element names as @aws-sdk/client-ec2 reads them), with a tag set's nested items.
    const page = (items: string, next?: string) => `<?xml version="1.0" encoding="UTF-8"?>
<DescribeSecurityGroupRulesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
    <requestId>0a1b2c3d-0000-4000-8000-000000000000</requestId>
    <securityGroupRuleSet>${items}</securityGroupRuleSet>
    ${next ? `<nextToken>${next}</nextToken>` : ""}
</DescribeSecurityGroupRulesResponse>`;
    const item = (id: string, body: string) => `
        <item>
            <securityGroupRuleId>${id}</securityGroupRuleId>
            <groupId>sg-0123456789abcdef0</groupId>
            <groupOwnerId>123456789012</groupOwnerId>
            <isEgress>false</isEgress>
            ${body}
            <description>legacy app &amp; reports</description>
            <tagSet><item><key>Name</key><value>legacy</value></item></tagSet>
        </item>`;
    const first = page(
        item(
            "sgr-0000000000000000a",
            "<ipProtocol>tcp</ipProtocol><fromPort>5432</fromPort><toPort>5432</toPort><cidrIpv4>10.20.0.0/16</cidrIpv4>",
        ),
        "page-2",
    );
    const second = page(
        item(
            "sgr-0000000000000000b",
            "<ipProtocol>tcp</ipProtocol><fromPort>5432</fromPort><toPort>5432</toPort><referencedGroupInfo><groupId>sg-0fedcba9876543210</groupId><userId>123456789012</userId></referencedGroupInfo>",
        ),
    );

    it("parses rules, nested tag items and the next page's token", () => {
        const parsed = parseDescribeRules(first);
        assert.equal(parsed.nextToken, "page-2");
        assert.deepEqual(parsed.rules, [
            {
                securityGroupRuleId: "sgr-0000000000000000a",
                groupId: "sg-0123456789abcdef0",
                isEgress: false,
                ipProtocol: "tcp",
                fromPort: 5432,
                toPort: 5432,
                cidrIpv4: "10.20.0.0/16",
            },
        ]);
        assert.equal(parseDescribeRules(second).rules[0].referencedGroupId, "sg-0fedcba9876543210");
        assert.throws(() => parseDescribeRules("<Response><Errors/></Response>"), /no DescribeSecurityGroupRulesResponse/);
    });

    it("signs each page with SigV4 for ec2 in the region, filters by group-id and follows nextToken", async () => {
        const sent: Array<{ host: string; headers: Record<string, string>; body: string }> = [];
        const reader = ec2RulesReader({
            region: "eu-west-1",
            credentials: { accessKeyId: "AKIDEC2UNITTEST00000", secretAccessKey: "unit-test-secret" },
            send: async (req, timeoutMs) => {
                assert.equal(timeoutMs, 5_000);
                sent.push(req);
                return { status: 200, body: sent.length === 1 ? first : second };
            },
        });
        const rules = await reader(["sg-0123456789abcdef0"]);
        assert.deepEqual(
            rules.map((r) => r.securityGroupRuleId),
            ["sgr-0000000000000000a", "sgr-0000000000000000b"],
        );
        assert.equal(sent.length, 2);
        assert.equal(sent[0].host, "ec2.eu-west-1.amazonaws.com");
        assert.match(
            sent[0].headers.authorization,
            /^AWS4-HMAC-SHA256 Credential=AKIDEC2UNITTEST00000\/\d{8}\/eu-west-1\/ec2\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
        );
        assert.equal(sent[0].body, describeRulesBody(["sg-0123456789abcdef0"]));
        assert.equal(new URLSearchParams(sent[0].body).get("Filter.1.Name"), "group-id");
        assert.equal(new URLSearchParams(sent[0].body).get("Action"), "DescribeSecurityGroupRules");
        assert.equal(new URLSearchParams(sent[1].body).get("NextToken"), "page-2");
    });

    it("turns EC2's error document into one line, and refuses a malformed group id before calling", async () => {
        const denied = `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>x</RequestID></Response>`;
        assert.equal(ec2ErrorLine(403, denied), "UnauthorizedOperation: You are not authorized to perform this operation. (HTTP 403)");
        assert.equal(ec2ErrorLine(503, "Service Unavailable"), "HTTP 503");
        let calls = 0;
        const reader = ec2RulesReader({
            region: "eu-west-1",
            credentials: { accessKeyId: "AKIDEC2UNITTEST00000", secretAccessKey: "s" },
            send: async () => {
                calls++;
                return { status: 403, body: denied };
            },
        });
        await assert.rejects(
            reader(["sg-0123456789abcdef0"]),
            /^Error: EC2 DescribeSecurityGroupRules: UnauthorizedOperation: You are not authorized/,
        );
        await assert.rejects(reader(["sg-zz"]), /security group id "sg-zz" is not one/);
        assert.equal(calls, 1);
    });
});
