// What each stack costs a month, from the plan: the price table, the pricing of each resource kind,
// both stacks as declared (every type priced or free), the --json contract, and the budget policy.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parseSettings, SettingsError } from "../components/config";
import {
    classify,
    DEFAULT_ASSUMPTIONS,
    estimate,
    PlannedResource,
    PRICED_TYPES,
    runsPerMonth,
    toJson,
    UnpricedRegionError,
} from "../cost/estimate";
import {
    AURORA_INSTANCE_HOUR,
    HOURS_PER_MONTH,
    PRICES,
    PRICES_AS_OF,
    REGIONS,
    staleRows,
    staleWarning,
    unverifiedRows,
} from "../cost/prices";
import { advise, CHEAPEST_PROXY_CLASS } from "../cost/advice";
import { AURORA_POSTGRESQL_CLASSES, classesFor, maxConnectionsUpperBound } from "../components/aurora-classes";
import { run } from "../ops/cost-cli";
import { costByPart, costSection, estimateStack } from "../cost/report";
import { analyzeViaHost } from "../policy/host";
import { simulateFirstPreview } from "../policy/preview";
import { budgetPolicyConfig, costWithinBudget } from "../policy/rules/cost";
import { PolicyResourceLike, runPolicies } from "../policy/run";
import { stackAsDeclared, stackConfig, withOverrides } from "./harness";
import { CHECK, NEGATIVE_CHECKS } from "../smoke/check-names";
import { emfDocuments, SMOKE_METRIC_SERIES } from "../smoke/metrics";
import { buildReport } from "../smoke/report";

const EU = "eu-west-1";
const p = (key: keyof typeof PRICES, region: (typeof REGIONS)[number] = EU) => PRICES[key].usd[region];
const near = (actual: number, expected: number, what = "") =>
    assert.ok(Math.abs(actual - expected) < 0.006, `${what} ${actual} ≠ ${expected}`);

function res(type: string, name: string, inputs: Record<string, any>, extra: Partial<PlannedResource> = {}): PlannedResource {
    return { type, name, inputs, ...extra };
}

const cluster = (min = 0.5, max = 4, extra: Record<string, any> = {}) =>
    res("aws:rds/cluster:Cluster", "db", {
        clusterIdentifier: "orders-dev-aurora",
        serverlessv2ScalingConfiguration: { minCapacity: min, maxCapacity: max },
        ...extra,
    });
const instance = (name: string, extra: Record<string, any> = {}) =>
    res("aws:rds/clusterInstance:ClusterInstance", name, {
        clusterIdentifier: "orders-dev-aurora",
        instanceClass: "db.serverless",
        ...extra,
    });

/** The lines of one resource in an estimate of `resources`. */
function linesOf(resources: PlannedResource[], name: string, region = EU) {
    const e = estimate("test", region, resources);
    return { e, lines: e.lines.filter((l) => l.resource === name), notPriced: e.notPriced.filter((n) => n.resource === name) };
}

describe("cost", function () {
    this.timeout(60000);

    describe("the price table", () => {
        it("is dated, and gives every price for both regions with a source and a positive number", () => {
            assert.match(PRICES_AS_OF, /^\d{4}-\d{2}-\d{2}$/);
            assert.deepEqual([...REGIONS].sort(), ["eu-west-1", "us-east-1"]);
            for (const [key, price] of Object.entries(PRICES)) {
                assert.ok(price.unit.length > 0, `${key}: unit`);
                assert.match(
                    price.source,
                    /^https:\/\/aws\.amazon\.com\/\S+ .*— \S/,
                    `${key}: the AWS pricing page, then what was checked`,
                );
                for (const region of REGIONS) {
                    const usd = price.usd[region];
                    assert.ok(typeof usd === "number" && Number.isFinite(usd) && usd > 0, `${key} in ${region}: ${usd}`);
                }
            }
        });

        it("has the figures the issue names: public IPv4 $0.005/h, KMS key $1, secret $0.40, alarm $0.10, dashboard $3", () => {
            for (const region of REGIONS) {
                assert.equal(p("publicIpv4Hour", region), 0.005);
                assert.equal(p("kmsKeyMonth", region), 1);
                assert.equal(p("secretMonth", region), 0.4);
                assert.equal(p("alarmMetricMonth", region), 0.1);
                assert.equal(p("dashboardMonth", region), 3);
            }
        });

        it("refuses a region it doesn't cover, naming the ones it does", () => {
            assert.throws(
                () => estimate("dev", "ap-south-1", []),
                (e: Error) =>
                    e instanceof UnpricedRegionError &&
                    /^dev: region ap-south-1 is not in the price table .*; priced regions: eu-west-1, us-east-1$/.test(e.message),
            );
        });
    });

    describe("pricing each resource kind", () => {
        it("Serverless v2 instance: min all month (low), min + 25% of the range (expected), max all month (high)", () => {
            const { lines } = linesOf([cluster(0.5, 4), instance("writer")], "writer");
            assert.equal(lines.length, 1);
            near(lines[0].low, 0.5 * HOURS_PER_MONTH * p("auroraAcuHour"));
            near(lines[0].monthly, (0.5 + 0.25 * 3.5) * HOURS_PER_MONTH * p("auroraAcuHour"));
            near(lines[0].high, 4 * HOURS_PER_MONTH * p("auroraAcuHour"));
            assert.match(lines[0].basis, /0\.5-4 ACU, 1\.375 ACU on average .* × 730 h × \$0\.13\/ACU-hour/);
        });

        it("a reader is priced like the writer and says tier 0-1 readers scale with it; a provisioned class is priced per hour, an unknown one not priced, not zero", () => {
            const reader = linesOf([cluster(), instance("w"), instance("r", { promotionTier: 1 })], "r").lines[0];
            assert.match(reader.basis, /promotion tier 0-1 scales with the writer/);
            const small = linesOf([cluster(), instance("small", { instanceClass: "db.t4g.medium" })], "small");
            assert.equal(small.lines.length, 1);
            for (const x of [small.lines[0].low, small.lines[0].monthly, small.lines[0].high])
                near(x, HOURS_PER_MONTH * p("auroraT4gMediumHour"));
            assert.match(
                small.lines[0].basis,
                /^provisioned db\.t4g\.medium \(2 vCPU\) on demand: 730 h × \$0\.08\/h; a T class bills CPU credits when it runs above its baseline for long \(Unlimited mode; the rate is not confirmed here\): not priced$/,
            );
            const big = linesOf([cluster(), instance("big", { instanceClass: "db.x2g.16xlarge" })], "big");
            assert.deepEqual(big.lines, []);
            assert.match(big.notPriced[0].reason, /instance class db\.x2g\.16xlarge is not in the price table/);
        });

        it("Performance Insights with 7-day retention is free; longer retention is listed as not priced", () => {
            const free = linesOf(
                [cluster(), instance("i", { performanceInsightsEnabled: true, performanceInsightsRetentionPeriod: 7 })],
                "i",
            );
            assert.ok(free.lines.some((l) => l.monthly === 0 && /Performance Insights with 7-day retention: free/.test(l.basis)));
            const long = linesOf(
                [cluster(), instance("i", { performanceInsightsEnabled: true, performanceInsightsRetentionPeriod: 731 })],
                "i",
            );
            assert.match(long.notPriced[0].reason, /retention of 731 days/);
        });

        it("Enhanced Monitoring is priced as CloudWatch Logs ingestion of its samples", () => {
            const { lines } = linesOf([cluster(), instance("i", { monitoringInterval: 60 })], "i");
            const em = lines.find((l) => /Enhanced Monitoring every 60 s: 43800 samples/.test(l.basis))!;
            const gb = (43800 * DEFAULT_ASSUMPTIONS.enhancedMonitoringSampleKb.expected) / (1024 * 1024);
            near(em.monthly, gb * (p("logsIngestGb") + p("logsStorageGbMonth")));
        });

        it("RDS Proxy: the ACUs of the instances it fronts, never fewer than 8", () => {
            const target = res("aws:rds/proxyTarget:ProxyTarget", "t", {
                dbProxyName: "orders-dev-proxy",
                dbClusterIdentifier: "orders-dev-aurora",
            });
            const proxy = res("aws:rds/proxy:Proxy", "proxy", { name: "orders-dev-proxy" });
            const small = linesOf([cluster(0.5, 1), instance("w"), proxy, target], "proxy").lines[0];
            for (const x of [small.low, small.monthly, small.high]) near(x, 8 * HOURS_PER_MONTH * p("proxyAcuHour"));
            assert.match(
                small.basis,
                /minimum of 8 ACUs: the 1 Serverless v2 instance\(s\) it fronts use 0\.5-1 ACU .* so it charges 8 ACU × 730 h/,
            );
            const large = linesOf([cluster(4, 16), instance("a"), instance("b"), instance("c"), proxy, target], "proxy").lines[0];
            near(large.low, 12 * HOURS_PER_MONTH * p("proxyAcuHour"), "3 × 4 ACU");
            near(large.high, 48 * HOURS_PER_MONTH * p("proxyAcuHour"), "3 × 16 ACU");
        });

        it("RDS Proxy in front of provisioned instances: their vCPUs, never fewer than 2; a mixed cluster pays both", () => {
            const target = res("aws:rds/proxyTarget:ProxyTarget", "t", {
                dbProxyName: "orders-dev-proxy",
                dbClusterIdentifier: "orders-dev-aurora",
            });
            const proxy = res("aws:rds/proxy:Proxy", "proxy", { name: "orders-dev-proxy" });
            const t4g = { instanceClass: "db.t4g.medium" };
            const one = linesOf([cluster(), instance("w", t4g), proxy, target], "proxy").lines;
            assert.equal(one.length, 1);
            near(one[0].monthly, 2 * HOURS_PER_MONTH * p("proxyVcpuHour"));
            assert.match(
                one[0].basis,
                /minimum of 2 vCPUs: the 1 provisioned instance\(s\) it fronts have 2 vCPU, so it charges 2 vCPU × 730 h × \$0\.0165\/vCPU-hour/,
            );
            const two = linesOf(
                [cluster(), instance("w", t4g), instance("r", { instanceClass: "db.r6g.large" }), proxy, target],
                "proxy",
            ).lines;
            near(two[0].monthly, 4 * HOURS_PER_MONTH * p("proxyVcpuHour"), "2 + 2 vCPU");
            const mixed = linesOf([cluster(0.5, 1), instance("w", t4g), instance("r"), proxy, target], "proxy").lines;
            assert.equal(mixed.length, 2);
            near(mixed[1].monthly, 8 * HOURS_PER_MONTH * p("proxyAcuHour"), "the Serverless v2 reader: 8-ACU floor");
            const unknown = linesOf([cluster(), instance("w", { instanceClass: "db.x2g.16xlarge" }), proxy, target], "proxy");
            assert.deepEqual(unknown.lines, []);
            assert.match(unknown.notPriced[0].reason, /db\.x2g\.16xlarge has no vCPU count in the price table/);
        });

        it("Aurora cluster: storage and I/O, the RDS-managed master secret, and Data API calls", () => {
            const { lines } = linesOf([cluster(0.5, 1, { manageMasterUserPassword: true, enableHttpEndpoint: true })], "db");
            assert.equal(lines.length, 3);
            const a = DEFAULT_ASSUMPTIONS;
            near(
                lines[0].monthly,
                a.auroraStorageGb.expected * p("auroraStorageGbMonth") + a.auroraIoMillions.expected * p("auroraIoMillion"),
            );
            assert.equal(lines[1].monthly, 0.4);
            assert.match(lines[1].basis, /RDS-managed master user secret/);
            assert.match(lines[2].basis, /RDS Data API: 20 deploys × 50 calls/);
            assert.equal(linesOf([cluster()], "db").lines.length, 1, "no managed secret, no Data API: storage only");
        });

        it("NAT gateways: hourly each, and the stack's data split over them; their Elastic IPs at $0.005/h", () => {
            const nats = [
                res("aws:ec2/natGateway:NatGateway", "nat-1", {}),
                res("aws:ec2/natGateway:NatGateway", "nat-2", {}),
                res("aws:ec2/eip:Eip", "eip-1", { domain: "vpc" }),
            ];
            const nat = linesOf(nats, "nat-1").lines[0];
            near(nat.monthly, HOURS_PER_MONTH * p("natGatewayHour") + (DEFAULT_ASSUMPTIONS.natDataGb.expected / 2) * p("natGatewayGb"));
            assert.equal(linesOf(nats, "eip-1").lines[0].monthly, 3.65);
        });

        it("Fargate service: desiredCount × (vCPU + GB) × 730 h, x86 or ARM, from its task definition", () => {
            const td = (arch: string) =>
                res("aws:ecs/taskDefinition:TaskDefinition", "td", {
                    family: "orders-prod-app",
                    cpu: "512",
                    memory: "1024",
                    runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: arch },
                });
            const service = res("aws:ecs/service:Service", "svc", {
                launchType: "FARGATE",
                desiredCount: 2,
                taskDefinition: "arn:aws:ecs:us-east-1:123456789012:task-definition/orders-prod-app:1",
            });
            const x86 = linesOf([td("X86_64"), service], "svc", "us-east-1").lines[0];
            near(x86.monthly, 2 * HOURS_PER_MONTH * (0.5 * 0.04048 + 1 * 0.004445));
            const arm = linesOf([td("ARM64"), service], "svc", "us-east-1").lines[0];
            assert.ok(arm.monthly < x86.monthly);
            const ec2 = linesOf([td("X86_64"), { ...service, inputs: { ...service.inputs, launchType: "EC2" } }], "svc");
            assert.match(ec2.notPriced[0].reason, /launch type EC2 is not priced/);
        });

        it("ECS cluster: Container Insights as custom metrics and performance events; without it, nothing", () => {
            const ecs = (value: string) => res("aws:ecs/cluster:Cluster", "ecs", { settings: [{ name: "containerInsights", value }] });
            const on = linesOf([ecs("enabled"), res("aws:ecs/service:Service", "svc", { launchType: "FARGATE" })], "ecs").lines[0];
            assert.match(on.basis, /19 metrics \(8 cluster \+ 11 × 1 service/);
            assert.ok(on.monthly > 19 * 0.3 - 0.01);
            assert.equal(linesOf([ecs("disabled")], "ecs").lines[0].monthly, 0);
        });

        it("log groups: ingestion and storage for their retention; a flow log's group keeps storage and the flow log pays vended ingestion", () => {
            const group = res("aws:cloudwatch/logGroup:LogGroup", "app", { name: "/ecs/app", retentionInDays: 30 });
            const app = linesOf([group], "app").lines[0];
            const gb = DEFAULT_ASSUMPTIONS.logIngestGbPerGroup.expected;
            near(app.monthly, gb * p("logsIngestGb") + gb * p("logsStorageGbMonth"));
            const flows = res("aws:cloudwatch/logGroup:LogGroup", "flows", { name: "/vpc/flow-logs", retentionInDays: 365 });
            const flowLog = res("aws:ec2/flowLog:FlowLog", "flow", {
                logDestinationType: "cloud-watch-logs",
                trafficType: "ALL",
                logDestination: "arn:aws:logs:eu-west-1:123456789012:log-group:/vpc/flow-logs",
            });
            const dest = linesOf([flows, flowLog], "flows").lines[0];
            assert.match(dest.basis, /^flow log destination \(ingestion priced on the flow log\)/);
            near(dest.monthly, (DEFAULT_ASSUMPTIONS.flowLogGb.expected * 12 * p("logsStorageGbMonth") * 365) / 360);
            near(linesOf([flows, flowLog], "flow").lines[0].monthly, DEFAULT_ASSUMPTIONS.flowLogGb.expected * p("vendedLogsGb"));
        });

        it("KMS key $1 a month (rotation adds up to $2 more: high), Secrets Manager secret $0.40", () => {
            const key = linesOf([res("aws:kms/key:Key", "cmk", { enableKeyRotation: true })], "cmk").lines[0];
            assert.deepEqual([key.low, key.monthly, key.high], [1, 1, 3]);
            assert.equal(linesOf([res("aws:secretsmanager/secret:Secret", "s", {})], "s").lines[0].monthly, 0.4);
        });

        it("Lambda: deploy-time Invocations and scheduled runs at the function's memory and architecture", () => {
            const fn = res(
                "aws:lambda/function:Function",
                "smoke",
                { memorySize: 256, architectures: ["arm64"], timeout: 300 },
                { id: "smoke-1234" },
            );
            const inv = res("aws:lambda/invocation:Invocation", "smoke-run", { functionName: "smoke-1234" });
            const line = linesOf([fn, inv], "smoke-run").lines[0];
            const a = DEFAULT_ASSUMPTIONS;
            const perRun = 0.2 / 1e6 + a.lambdaRunSeconds.high * 0.25 * p("lambdaGbSecondArm");
            near(line.high, a.deploysPerMonth.high * perRun);
            assert.match(line.basis, /20 deploys\/month \(assumed\) × \(256 MB arm64/);
            assert.equal(linesOf([fn, inv], "smoke").lines[0].monthly, 0, "idle function: nothing");
            const schedule = res("aws:scheduler/schedule:Schedule", "every-5", {
                scheduleExpression: "rate(5 minutes)",
                target: { arn: "arn:aws:lambda:eu-west-1:123456789012:function:smoke-1234" },
            });
            const scheduled = linesOf([fn, schedule], "smoke").lines[0];
            assert.match(scheduled.basis, /^8760 scheduled runs\/month/);
            assert.ok(scheduled.monthly > 0);
            const sched = linesOf([fn, schedule], "every-5").lines[0];
            assert.equal(sched.monthly, 0);
            assert.match(sched.basis, /8760 invocations\/month, within EventBridge Scheduler's 14 million free/);
            assert.equal(runsPerMonth("cron(0 * * * ? *)"), 730);
            near(runsPerMonth("cron(*/15 8-17 ? * MON-FRI *)")!, 4 * 10 * (5 / 7) * (730 / 24));
            assert.equal(runsPerMonth("cron(0 6 1 * ? *)"), 1);
            assert.equal(runsPerMonth("at(2026-12-01T00:00:00)"), 0);
            assert.equal(runsPerMonth("every now and then"), undefined);
        });

        it("VPC endpoints: interface per AZ-hour plus data, gateway free; a proxy endpoint rides on the proxy's ACUs", () => {
            const iface = res("aws:ec2/vpcEndpoint:VpcEndpoint", "sm", { vpcEndpointType: "Interface", subnetIds: ["a", "b"] });
            near(
                linesOf([iface], "sm").lines[0].monthly,
                2 * HOURS_PER_MONTH * p("interfaceEndpointAzHour") + DEFAULT_ASSUMPTIONS.endpointDataGb.expected * p("interfaceEndpointGb"),
            );
            assert.equal(linesOf([res("aws:ec2/vpcEndpoint:VpcEndpoint", "s3", { vpcEndpointType: "Gateway" })], "s3").lines[0].monthly, 0);
            const pe = linesOf([res("aws:rds/proxyEndpoint:ProxyEndpoint", "reader", { targetRole: "READ_ONLY" })], "reader").lines[0];
            assert.equal(pe.monthly, 0);
            assert.match(pe.basis, /the proxy's ACU-hours cover its endpoints/);
        });

        it("EC2 relay instance: on-demand hours plus its gp3 root volume; an unknown instance type is not priced", () => {
            const relay = linesOf(
                [
                    res("aws:ec2/instance:Instance", "relay", {
                        instanceType: "t4g.nano",
                        rootBlockDevice: { volumeSize: 8, volumeType: "gp3" },
                    }),
                ],
                "relay",
            ).lines[0];
            near(relay.monthly, HOURS_PER_MONTH * p("ec2T4gNanoHour") + 8 * p("ebsGp3GbMonth"));
            const big = linesOf([res("aws:ec2/instance:Instance", "big", { instanceType: "m7i.large" })], "big");
            assert.match(big.notPriced[0].reason, /instance type m7i\.large is not in the price table/);
        });

        it("alarms, dashboards, SNS, CloudTrail, S3 and SSM parameters", () => {
            const one = (type: string, inputs: Record<string, any>) => linesOf([res(type, "x", inputs)], "x").lines[0];
            assert.equal(one("aws:cloudwatch/metricAlarm:MetricAlarm", { period: 60 }).monthly, 0.1);
            assert.equal(one("aws:cloudwatch/metricAlarm:MetricAlarm", { period: 10 }).monthly, 0.3);
            const dash = one("aws:cloudwatch/dashboard:Dashboard", {});
            assert.deepEqual([dash.low, dash.monthly], [0, 3]);
            assert.equal(one("aws:sns/topic:Topic", {}).monthly, 0);
            assert.equal(one("aws:cloudtrail/trail:Trail", {}).monthly, 0);
            assert.ok(
                one("aws:cloudtrail/trail:Trail", {
                    eventSelectors: [{ dataResources: [{ type: "AWS::S3::Object", values: ["arn:aws:s3"] }] }],
                }).monthly > 0,
            );
            assert.ok(one("aws:s3/bucketV2:BucketV2", {}).monthly > 0);
            assert.equal(one("aws:ssm/parameter:Parameter", { tier: "Advanced" }).monthly, 0.05);
        });

        it("a type the table doesn't know is listed as not priced, never as a zero line", () => {
            const e = estimate("test", EU, [res("aws:foo/bar:Bar", "mystery", {}), res("aws:ec2/vpc:Vpc", "vpc", {})]);
            assert.deepEqual(e.lines, []);
            assert.deepEqual(
                e.notPriced.map((n) => [n.resource, n.type]),
                [["mystery", "aws:foo/bar:Bar"]],
            );
            assert.match(e.notPriced[0].reason, /the price table doesn't know aws:foo\/bar:Bar/);
            assert.deepEqual(
                e.free.map((f) => f.resource),
                ["vpc"],
            );
        });

        it("knows the types other work is adding (endpoints, relay, schedules, alarms, dashboards, ...)", () => {
            const coming = [
                "aws:ec2/vpcEndpoint:VpcEndpoint",
                "aws:rds/proxyEndpoint:ProxyEndpoint",
                "aws:ec2/instance:Instance",
                "aws:scheduler/schedule:Schedule",
                "aws:scheduler/scheduleGroup:ScheduleGroup",
                "aws:cloudwatch/metricAlarm:MetricAlarm",
                "aws:cloudwatch/dashboard:Dashboard",
                "aws:sns/topic:Topic",
                "aws:sns/topicSubscription:TopicSubscription",
                "aws:cloudtrail/trail:Trail",
                "aws:iam/policy:Policy",
                "aws:iam/instanceProfile:InstanceProfile",
                "aws:ec2/securityGroupRule:SecurityGroupRule",
                "aws:rds/clusterParameterGroup:ClusterParameterGroup",
                "aws:rds/parameterGroup:ParameterGroup",
                "aws:ssm/parameter:Parameter",
                "aws:ssm/document:Document",
                "random:index/randomPassword:RandomPassword",
                "random:index/randomId:RandomId",
            ];
            assert.deepEqual(
                coming.filter((t) => classify(t) === "unknown"),
                [],
            );
            assert.equal(classify("pulumi:providers:aws"), "ignored");
            assert.equal(classify("aurora-iam-proxy:index:Database"), "ignored");
            assert.ok(PRICED_TYPES.includes("aws:lambda/invocation:Invocation"));
        });
    });

    describe("both stacks, as declared", () => {
        /** aws:/random: types in a plan that are neither priced nor free. */
        const unclassified = (resources: { type: string }[]) =>
            [...new Set(resources.map((x) => x.type))].filter((t) => classify(t) === "unknown");

        for (const stack of ["dev", "prod"] as const) {
            it(`${stack}: every declared AWS type is priced or free`, async () => {
                const ev = await stackAsDeclared(stack);
                assert.deepEqual(unclassified(ev.resources), [], "price these types in cost/estimate.ts or class them as free");
                const e = estimateStack(ev);
                const counted = e.free.length + new Set([...e.lines, ...e.notPriced].map((l) => `${l.type}/${l.resource}`)).size;
                assert.equal(counted, ev.resources.filter((x) => x.type.startsWith("aws:") || x.type.startsWith("random:")).length);
            });

            it(`${stack}: every part of every resource has a price (nothing listed as not priced)`, async () => {
                const e = estimateStack(await stackAsDeclared(stack));
                assert.deepEqual(
                    e.notPriced,
                    [],
                    "a setting the table can't price yet: add its price to cost/prices.ts and cost/estimate.ts",
                );
            });
        }

        it("the check fails when the program declares a type that is neither priced nor free", async () => {
            const ev = await stackAsDeclared("dev");
            const withFake = [...ev.resources, { ...ev.resources[0], type: "aws:newservice/widget:Widget", name: "widget" }];
            assert.deepEqual(unclassified(withFake), ["aws:newservice/widget:Widget"]);
            const e = estimate("dev", EU, withFake);
            assert.deepEqual(
                e.notPriced.map((n) => n.type),
                ["aws:newservice/widget:Widget"],
            );
        });

        it("--json: one document in the contract's shape, whose lines add up to monthly.expected", async () => {
            const e = estimateStack(await stackAsDeclared("prod"));
            const doc = JSON.parse(JSON.stringify(toJson(e)));
            assert.deepEqual(Object.keys(doc), ["stack", "region", "currency", "pricesAsOf", "monthly", "lines", "notPriced"]);
            assert.equal(doc.stack, "prod");
            assert.equal(doc.region, "eu-west-1");
            assert.equal(doc.currency, "USD");
            assert.equal(doc.pricesAsOf, PRICES_AS_OF);
            assert.deepEqual(Object.keys(doc.monthly), ["low", "expected", "high"]);
            assert.ok(doc.monthly.low <= doc.monthly.expected && doc.monthly.expected <= doc.monthly.high);
            for (const line of doc.lines) {
                assert.deepEqual(Object.keys(line), ["resource", "type", "monthly", "basis"]);
                assert.ok(typeof line.monthly === "number" && line.monthly >= 0, `${line.resource}: ${line.monthly}`);
                assert.ok(
                    Math.abs(line.monthly * 100 - Math.round(line.monthly * 100)) < 1e-6,
                    `${line.resource}: ${line.monthly} is rounded to cents`,
                );
                assert.ok(typeof line.basis === "string" && line.basis.length > 10, `${line.resource}: basis`);
            }
            const sumCents = doc.lines.reduce((s: number, l: any) => s + Math.round(l.monthly * 100), 0);
            assert.equal(sumCents, Math.round(doc.monthly.expected * 100));
        });

        it("the CLI prints that document, and a table; bad input is one line and exit 2", async () => {
            const out: string[] = [];
            assert.equal(await run(["--stack", "dev", "--json"], (l) => out.push(l)), 0);
            const doc = JSON.parse(out.join("\n"));
            const ev = await stackAsDeclared("dev");
            const e = estimateStack(ev);
            assert.deepEqual(doc, JSON.parse(JSON.stringify({ ...toJson(e), advice: advise(e.stack, e.region, ev.resources, "dev") })));
            const errors: string[] = [];
            const original = console.error;
            console.error = (line: string) => errors.push(line);
            try {
                assert.equal(await run(["--stack", "staging"]), 2);
                assert.equal(await run(["--stack", "dev", "--yaml"]), 2);
                assert.equal(await run([]), 2);
            } finally {
                console.error = original;
            }
            assert.deepEqual(errors, [
                "Pulumi.staging.yaml: no such stack file; stack files here: Pulumi.dev.yaml, Pulumi.prod.yaml (copy one to Pulumi.staging.yaml to make it)",
                'cost: unknown argument "--yaml"; allowed: --stack NAME, --json, --diff <git-ref>, --policy-config, --program FILE, --unverified, --help',
                "cost: --stack is required: a stack with a Pulumi.NAME.yaml, e.g. dev or prod",
            ]);
        });

        it("prod costs more than dev, low, expected and high", async () => {
            const dev = estimateStack(await stackAsDeclared("dev"));
            const prod = estimateStack(await stackAsDeclared("prod"));
            for (const k of ["low", "expected", "high"] as const)
                assert.ok(prod.monthly[k] > dev.monthly[k], `${k}: ${prod.monthly[k]} vs ${dev.monthly[k]}`);
        });

        it("dev's proxy line states the 2-vCPU minimum it charges for its db.t4g.medium; prod's the ACUs of its Serverless v2 instances", async () => {
            const dev = estimateStack(await stackAsDeclared("dev"));
            const proxy = dev.lines.filter((l) => l.type === "aws:rds/proxy:Proxy");
            assert.equal(proxy.length, 1);
            assert.match(
                proxy[0].basis,
                /minimum of 2 vCPUs: the 1 provisioned instance\(s\) it fronts have 2 vCPU, so it charges 2 vCPU × 730 h/,
            );
            near(proxy[0].monthly, 2 * HOURS_PER_MONTH * p("proxyVcpuHour"));
            const prod = estimateStack(await stackAsDeclared("prod"));
            assert.match(
                prod.lines.find((l) => l.type === "aws:rds/proxy:Proxy")!.basis,
                /the 2 Serverless v2 instance\(s\) it fronts use 2-32 ACU/,
            );
        });

        it("prices every custom metric the smoke publishes, counted from the list its handler publishes from", async () => {
            for (const stack of ["dev", "prod"] as const) {
                const ev = await stackAsDeclared(stack);
                const lines = estimateStack(ev).lines.filter(
                    (l) => l.type === "aws:lambda/function:Function" && /EMF custom metrics/.test(l.basis),
                );
                assert.equal(lines.length, 1, `${stack}: one EMF line, for the smoke function`);
                // Scheduled at least hourly: every series exists all month. The smoke's own emfDocuments declare no other.
                near(lines[0].monthly, SMOKE_METRIC_SERIES.length * p("metricMonth"));
                assert.match(
                    lines[0].basis,
                    new RegExp(`^${SMOKE_METRIC_SERIES.length} EMF custom metrics \\(${SMOKE_METRIC_SERIES.join(", ")};`),
                );
            }
            const declared = new Set<string>();
            const report = buildReport(
                { host: "h", port: 5432, database: "d", user: "u", region: "eu-west-1" },
                [
                    { name: CHECK.connect, ok: true, detail: "", ms: 4 },
                    { name: CHECK.tls, ok: true, detail: "", ms: 1, figures: { certDaysToExpiry: 300 } },
                    ...NEGATIVE_CHECKS.map((name) => ({ name, ok: true, detail: "", ms: 1, figures: { refusedAtMs: 1_000 } })),
                ],
                10,
            );
            for (const doc of emfDocuments(report, { stack: "dev", nowMs: 0 })) {
                for (const d of doc._aws.CloudWatchMetrics) {
                    assert.deepEqual(d.Dimensions, [["Stack"]], "one series per metric and stack");
                    for (const m of d.Metrics) declared.add(m.Name);
                }
            }
            assert.deepEqual([...declared].sort(), [...SMOKE_METRIC_SERIES].sort());
        });

        it("prices prod's readers, flow logs, Enhanced Monitoring, the master secret and the KMS key", async () => {
            const prod = estimateStack(await stackAsDeclared("prod"));
            const basis = prod.lines.map((l) => l.basis).join("\n");
            assert.equal(
                prod.lines.filter((l) => l.type === "aws:rds/clusterInstance:ClusterInstance" && /Serverless v2 1-16 ACU/.test(l.basis))
                    .length,
                2,
            );
            assert.match(basis, /vended-log delivery to cloud-watch-logs/);
            assert.match(basis, /Enhanced Monitoring every 60 s/);
            assert.match(basis, /RDS-managed master user secret/);
            assert.ok(prod.lines.some((l) => l.type === "aws:kms/key:Key" && l.monthly === 1));
            assert.equal(prod.lines.filter((l) => l.type === "aws:ec2/natGateway:NatGateway").length, 3);
        });

        it("the README's dev vs prod totals are the tool's", async () => {
            const readme = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8");
            const money = (x: number) => `$${x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
            const dev = estimateStack(await stackAsDeclared("dev")).monthly;
            const prod = estimateStack(await stackAsDeclared("prod")).monthly;
            assert.ok(
                readme.includes(`| **expected** | **${money(dev.expected)}** | **${money(prod.expected)}** |`),
                "README: expected row",
            );
            assert.ok(
                readme.includes(`| low / high | ${money(dev.low)} / ${money(dev.high)} | ${money(prod.low)} / ${money(prod.high)} |`),
                "README: low / high row",
            );
            assert.ok(readme.includes(`prices as of ${PRICES_AS_OF}`), "README: the table's date");
            assert.ok(
                readme.includes(`Cost: expected **${money(dev.expected)} a month for dev and ${money(prod.expected)} for prod**`),
                "README: the first screen's totals",
            );
            const devParts = costByPart(estimateStack(await stackAsDeclared("dev")));
            const prodParts = new Map(costByPart(estimateStack(await stackAsDeclared("prod"))).map((p) => [p.part, p.monthly]));
            const rows = [...readme.matchAll(/^\| `(\w+)`[^|]*\| (\$[\d,.]+) \| (\$[\d,.]+) \|$/gm)].map((m) => [m[1], m[2], m[3]]);
            assert.deepEqual(
                rows,
                devParts.map((p) => [p.part, money(p.monthly), money(prodParts.get(p.part) ?? 0)]),
                "README: the by-part rows, in the tool's order",
            );
        });

        it("npm start's cost section: the totals and the largest lines", async () => {
            const section = costSection(await stackAsDeclared("dev"));
            assert.match(
                section[0],
                /^Monthly cost \(eu-west-1, prices as of \d{4}-\d{2}-\d{2}; npm run cost -- --stack dev for every line\): expected \$\d+\.\d\d, low \$\d+\.\d\d, high \$\d+\.\d\d$/,
            );
            assert.equal(section.length, 6);
            assert.match(section[1], /database-instance-1: provisioned db\.t4g\.medium/);
            const totals = /expected \$[\d,.]+, low \$[\d,.]+, high \$[\d,.]+$/.exec(section[0])![0];
            const readme = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8");
            assert.ok(
                readme.includes(`Monthly cost (eu-west-1, prices as of ${PRICES_AS_OF}; …): ${totals}\n`),
                `README's npm start excerpt: ${totals}`,
            );
        });
    });

    describe("the budget", () => {
        const settings = (overrides: Record<string, unknown>) => parseSettings("dev", withOverrides(stackConfig("dev"), overrides));
        const problems = (overrides: Record<string, unknown>) => {
            try {
                settings(overrides);
            } catch (err) {
                assert.ok(err instanceof SettingsError);
                return err.problems;
            }
            return [];
        };

        it("is an optional setting: budget.monthlyUsd (a positive number) and budget.enforce (default false)", () => {
            assert.deepEqual(settings({}).budget, { monthlyUsd: undefined, enforce: false });
            assert.deepEqual(settings({ "budget.monthlyUsd": 250, "budget.enforce": true }).budget, { monthlyUsd: 250, enforce: true });
            assert.deepEqual(problems({ "budget.monthlyUsd": -5 }), [
                "dev: budget.monthlyUsd (-5) must be a positive number of US dollars a month, e.g. 250",
            ]);
            assert.deepEqual(problems({ "budget.monthlyUsd": "lots" }), [
                'dev: budget.monthlyUsd ("lots") must be a positive number of US dollars a month, e.g. 250',
            ]);
            assert.deepEqual(problems({ "budget.enforce": true }), [
                "dev: budget.enforce (true) needs budget.monthlyUsd: there is no budget to enforce",
            ]);
            assert.deepEqual(problems({ "budget.limit": 5 }), [
                "dev: budget.limit (5) is not a setting; allowed in budget: monthlyUsd, enforce",
            ]);
        });

        const verdicts = async (budget: { monthlyUsd?: number; enforce: boolean } | undefined, stackTags?: Record<string, string>) => {
            const ev = await stackAsDeclared("dev");
            return runPolicies(JSON.parse(JSON.stringify(ev.resources)), {
                environment: "dev",
                policies: [costWithinBudget],
                config: budgetPolicyConfig(budget),
                stackTags,
            });
        };

        it("over budget: advisory by default, naming the total, the budget and the largest lines", async () => {
            const expected = estimateStack(await stackAsDeclared("dev")).monthly.expected;
            const v = await verdicts({ monthlyUsd: 100, enforce: false });
            assert.equal(v.length, 1);
            assert.equal(v[0].enforcementLevel, "advisory");
            assert.equal(v[0].policyName, "cost-within-budget");
            assert.match(
                v[0].message,
                new RegExp(
                    `^expected monthly cost \\$${expected.toFixed(2).replace(".", "\\.")} \\(low .*\\) is above the budget of \\$100\\.00 from the policy config; largest lines: database-instance-1 \\$`,
                ),
            );
            assert.doesNotMatch(v[0].message, /\n/);
        });

        it("over budget with enforce: mandatory, also through the engine's own analyzer handlers", async () => {
            const v = await verdicts({ monthlyUsd: 100, enforce: true });
            assert.deepEqual(
                v.map((x) => x.enforcementLevel),
                ["mandatory"],
            );
            const ev = await stackAsDeclared("dev");
            const rs: PolicyResourceLike[] = JSON.parse(JSON.stringify(ev.resources));
            const provider = rs.find((x) => x.type === "pulumi:providers:aws")!;
            for (const props of [provider.inputs, provider.state!]) {
                const tags = JSON.parse(props.defaultTags);
                props.defaultTags = JSON.stringify({ ...tags, tags: { ...tags.tags, BudgetMonthlyUsd: "100", BudgetEnforce: "true" } });
            }
            const viaHost = await analyzeViaHost(rs, [costWithinBudget]);
            assert.deepEqual(
                viaHost.map((x) => [x.policyName, x.enforcementLevel]),
                [["cost-within-budget", "mandatory"]],
            );
            assert.match(viaHost[0].message, /from the aws provider's default tag BudgetMonthlyUsd/);
        });

        it("judges a first preview too, where ids and ARNs are unknown (priced without them)", async () => {
            const ev = await stackAsDeclared("prod");
            const v = runPolicies(simulateFirstPreview(JSON.parse(JSON.stringify(ev.resources))), {
                environment: "prod",
                policies: [costWithinBudget],
                config: budgetPolicyConfig({ monthlyUsd: 100, enforce: true }),
            });
            assert.deepEqual(
                v.map((x) => x.enforcementLevel),
                ["mandatory"],
            );
            const atPreview = Number(/expected monthly cost \$(\d+\.\d\d)/.exec(v[0].message)![1]);
            const resolved = estimateStack(ev).monthly.expected;
            assert.ok(Math.abs(atPreview - resolved) < 0.01 * resolved, `${atPreview} vs ${resolved}: within 1%`);
        });

        it("within budget, or no budget at all: nothing to report", async () => {
            assert.deepEqual(await verdicts({ monthlyUsd: 10000, enforce: true }), []);
            assert.deepEqual(await verdicts(undefined), []);
        });

        it("the stack tags BudgetMonthlyUsd and BudgetEnforce ask for it under the engine", async () => {
            const v = await verdicts(undefined, { BudgetMonthlyUsd: "150", BudgetEnforce: "true" });
            assert.deepEqual(
                v.map((x) => x.enforcementLevel),
                ["mandatory"],
            );
            assert.match(v[0].message, /above the budget of \$150\.00 from stack tag BudgetMonthlyUsd/);
        });
    });

    describe("prices you can trust", () => {
        it("every row names its source and the date it was read", () => {
            for (const [key, price] of Object.entries(PRICES)) {
                assert.match(price.read, /^\d{4}-\d{2}-\d{2}$/, `${key}: read`);
                assert.ok(!Number.isNaN(Date.parse(price.read)), `${key}: ${price.read} is a date`);
                assert.ok(price.read >= PRICES_AS_OF, `${key}: read no earlier than PRICES_AS_OF`);
            }
            assert.equal(
                Object.values(PRICES)
                    .map((x) => x.read)
                    .sort()[0],
                PRICES_AS_OF,
                "PRICES_AS_OF is the oldest read date",
            );
        });

        it("--unverified lists exactly the rows whose source says a figure was not confirmed, and so does docs/cost.md", async () => {
            const rows = unverifiedRows().map((r) => r.key);
            assert.ok(rows.includes("proxyVcpuHour") && rows.includes("auroraT4gMediumHour") && !rows.includes("publicIpv4Hour"));
            const out: string[] = [];
            assert.equal(await run(["--unverified"], (l) => out.push(l), { now: new Date("2026-12-01T00:00:00Z") }), 0);
            assert.equal(out.length, rows.length + 1);
            for (const key of rows)
                assert.ok(
                    out.some((l) => l.startsWith(`  ${key} (`)),
                    `--unverified lists ${key}`,
                );
            const doc = fs.readFileSync(path.join(__dirname, "..", "docs", "cost.md"), "utf8");
            const listed = /<!-- unverified-prices -->([\s\S]*?)<!-- \/unverified-prices -->/.exec(doc)?.[1] ?? "";
            assert.deepEqual(
                [...listed.matchAll(/`(\w+)`/g)].map((m) => m[1]).sort(),
                [...rows].sort(),
                "docs/cost.md: the unverified rows, no more, no fewer",
            );
        });

        it("a row read more than 12 months ago makes the tool warn (clock injected)", async () => {
            assert.equal(staleWarning(new Date("2026-12-01T00:00:00Z")), undefined);
            assert.deepEqual(staleRows(new Date("2027-11-23T00:00:00Z")), [], "exactly 12 months: not yet");
            const later = new Date("2027-11-24T00:00:00Z");
            const stale = staleRows(later).map((r) => r.key);
            assert.ok(stale.includes("natGatewayHour") && !stale.includes("proxyVcpuHour"), "the 2026-11-23 rows, not the 2026-12-01 ones");
            assert.match(staleWarning(later)!, /^warning: \d+ price row\(s\) were read more than 12 months ago \(oldest 2026-11-23: /);
            const errors: string[] = [];
            const original = console.error;
            console.error = (line: string) => errors.push(line);
            try {
                assert.equal(await run(["--unverified"], () => undefined, { now: later }), 0);
                assert.equal(await run(["--unverified"], () => undefined, { now: new Date("2026-12-02T00:00:00Z") }), 0);
            } finally {
                console.error = original;
            }
            assert.equal(errors.length, 1);
            assert.match(errors[0], /^cost: warning: .* refresh cost\/prices\.ts/);
        });
    });

    describe("a provisioned class beside Serverless v2", () => {
        /** The same plan with Serverless v2 instances of min-max ACU instead of the declared class. */
        const asServerless = (resources: PlannedResource[], min: number, max: number): PlannedResource[] =>
            resources.map((r) =>
                r.type === "aws:rds/clusterInstance:ClusterInstance"
                    ? { ...r, inputs: { ...r.inputs, instanceClass: "db.serverless" } }
                    : r.type === "aws:rds/cluster:Cluster"
                      ? { ...r, inputs: { ...r.inputs, serverlessv2ScalingConfiguration: { minCapacity: min, maxCapacity: max } } }
                      : r,
            );

        it("every priced class is one Aurora PostgreSQL offers, with the same vCPUs; max_connections from the documented formula", () => {
            for (const [name, { vcpu }] of Object.entries(AURORA_INSTANCE_HOUR)) {
                assert.equal(AURORA_POSTGRESQL_CLASSES[name]?.vcpu, vcpu, `${name}: vCPUs agree`);
                assert.ok(classesFor(16).includes(name), `${name}: offered for 16`);
            }
            assert.equal(maxConnectionsUpperBound("db.t4g.medium"), 450, "LEAST(4 GiB / 9531392, 5000)");
            assert.equal(maxConnectionsUpperBound("db.r6g.4xlarge"), 5000);
        });

        it("dev's db.t4g.medium costs less than Serverless v2 0.5-1 ACU, and the README shows both figures", async () => {
            const ev = await stackAsDeclared("dev");
            const provisioned = estimateStack(ev).monthly;
            const serverless = estimate("dev", "eu-west-1", asServerless(ev.resources, 0.5, 1)).monthly;
            assert.ok(
                provisioned.expected < 228.81 && provisioned.expected < serverless.expected,
                `${provisioned.expected} vs ${serverless.expected}`,
            );
            const readme = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8");
            const money = (x: number) => `$${x.toFixed(2)}`;
            assert.ok(
                readme.includes(
                    `| dev expected (low / high) | ${money(provisioned.expected)} (${money(provisioned.low)} / ${money(provisioned.high)}) | ${money(serverless.expected)} (${money(serverless.low)} / ${money(serverless.high)}) |`,
                ),
                "README: the side-by-side row",
            );
        });

        it("advice: a proxy in front of a small Serverless v2 instance names db.t4g.medium and the saving; minCapacity 0 buys nothing", async () => {
            const ev = await stackAsDeclared("dev");
            const serverless = asServerless(ev.resources, 0.5, 1);
            const floor = advise("dev", "eu-west-1", serverless, "dev").find((a) => a.setting === "database.instanceClass")!;
            const saving = estimate("dev", "eu-west-1", serverless).monthly.expected - estimateStack(ev).monthly.expected;
            near(floor.monthlySaving, saving);
            assert.match(
                floor.message,
                new RegExp(
                    `database\\.instanceClass: ${CHEAPEST_PROXY_CLASS.replace(/\./g, "\\.")} .* saves \\$${saving.toFixed(2).replace(".", "\\.")}\/month$`,
                ),
            );
            assert.ok(
                advise("dev", "eu-west-1", asServerless(ev.resources, 0, 1), "dev").some(
                    (a) => a.setting === "database.minCapacity" && /auto-pause is not supported with RDS Proxy/.test(a.message),
                ),
            );
            assert.ok(
                !advise("dev", "eu-west-1", ev.resources, "dev").some((a) => a.setting === "database.instanceClass"),
                "nothing to say once dev runs db.t4g.medium",
            );
        });

        it("advice in dev: the NAT gateway against a NAT instance, and Container Insights (kept: a mandatory policy wants it), each with its saving", async () => {
            const ev = await stackAsDeclared("dev");
            const e = estimateStack(ev);
            const advice = advise("dev", "eu-west-1", ev.resources, "dev");
            const nat = advice.find((a) => a.setting === "network (NAT)")!;
            const natCost = e.lines.filter((l) => l.type === "aws:ec2/natGateway:NatGateway").reduce((x, l) => x + l.monthly, 0);
            near(nat.monthlySaving, natCost - (HOURS_PER_MONTH * p("ec2T4gNanoHour") + 8 * p("ebsGp3GbMonth")));
            const insights = advice.find((a) => a.setting === "ECS Container Insights")!;
            near(
                insights.monthlySaving,
                e.lines.filter((l) => l.type === "aws:ecs/cluster:Cluster").reduce((x, l) => x + l.monthly, 0),
            );
            for (const a of advice) assert.doesNotMatch(a.message, /\n/);
            const prod = await stackAsDeclared("prod");
            assert.deepEqual(
                advise("prod", "eu-west-1", prod.resources, "prod"),
                [],
                "prod: its NAT per AZ and Container Insights are what it should buy",
            );
            const perAz = advise("dev", "eu-west-1", prod.resources, "dev").find((a) => a.setting === "network.natGateways")!;
            assert.match(perAz.message, /^3 NAT gateways \(one per AZ\) in dev: a single one saves/);
        });
    });

    describe("the budget under the real engine: --policy-config", () => {
        it("writes the pack config from the stack's budget setting, in the shape the policy's configSchema accepts", async () => {
            const out: string[] = [];
            assert.equal(await run(["--stack", "dev", "--policy-config"], (l) => out.push(l)), 0);
            assert.deepEqual(
                JSON.parse(out.join("\n")),
                budgetPolicyConfig((await stackAsDeclared("dev")).settings.budget),
                "dev declares no budget: {}",
            );
            const settings = parseSettings("dev", withOverrides(stackConfig("dev"), { "budget.monthlyUsd": 100, "budget.enforce": true }));
            const config = budgetPolicyConfig(settings.budget);
            const schema = costWithinBudget.configSchema!.properties!;
            for (const [key, value] of Object.entries(config["cost-within-budget"])) {
                assert.equal(typeof value, (schema[key] as { type: string }).type, `${key} matches the configSchema`);
            }
            const v = runPolicies(JSON.parse(JSON.stringify((await stackAsDeclared("dev")).resources)), {
                environment: "dev",
                policies: [costWithinBudget],
                config: JSON.parse(JSON.stringify(config)),
            });
            assert.deepEqual(
                v.map((x) => x.enforcementLevel),
                ["mandatory"],
            );
            assert.match(v[0].message, /above the budget of \$100\.00 from the policy config/);
        });
    });
});
