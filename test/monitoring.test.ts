// Between deploys: the scheduled smoke, its alarms, the topic they go to and the dashboard, for both stacks.
import { strict as assert } from "assert";
import { AUTH_FAILURE_PERIOD_SECONDS, AUTH_QUERY } from "../components/monitoring";
import { CHECK, NEGATIVE_CHECKS } from "../smoke/check-names";
import { CheckResult } from "../smoke/checks";
import { emfDocuments, METRIC, METRICS_NAMESPACE, SCHEDULE_SOURCE } from "../smoke/metrics";
import { buildReport } from "../smoke/report";
import { ACCOUNT_ID, bothStacksAsDeclared, evaluateStack, inlineStatementsOf, StackEvaluation as Ev } from "./harness";

const SCHEDULE = "aws:scheduler/schedule:Schedule";
const ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm";
const TOPIC = "aws:sns/topic:Topic";
const FN = "aws:lambda/function:Function";

const alarm = (ev: Ev, name: string) => ev.named(ALARM, `monitoring-${name}`).inputs;

describe("between deploys", function () {
    this.timeout(60000);
    const stacks = bothStacksAsDeclared();
    const both = stacks.both;

    it("runs the same smoke function on a schedule: every 5 minutes in prod, hourly in dev, never retried", () => {
        for (const [ev, expression] of [
            [stacks.prod(), "rate(5 minutes)"],
            [stacks.dev(), "rate(1 hour)"],
        ] as const) {
            const schedule = ev.one(SCHEDULE).inputs;
            assert.equal(schedule.scheduleExpression, expression);
            assert.deepEqual(schedule.flexibleTimeWindow, { mode: "OFF" });
            assert.equal(schedule.target.arn, ev.named(FN, "smoke-smoke").state.arn, "the post-deploy smoke, not a copy");
            assert.deepEqual(JSON.parse(schedule.target.input), { source: SCHEDULE_SOURCE });
            assert.equal(schedule.target.retryPolicy.maximumRetryAttempts, 0);
            assert.equal(ev.outputs.smokeSchedule, expression);
        }
    });

    it("lets the scheduler's role invoke the smoke function and nothing else", () => {
        for (const ev of both()) {
            const role = ev.ofType("aws:iam/role:Role").find((r) => r.state.arn === ev.one(SCHEDULE).inputs.target.roleArn)!;
            const trust = JSON.parse(role.inputs.assumeRolePolicy).Statement[0];
            assert.deepEqual(trust.Principal, { Service: "scheduler.amazonaws.com" });
            assert.deepEqual(trust.Condition, { StringEquals: { "aws:SourceAccount": ACCOUNT_ID } });
            const fn = ev.named(FN, "smoke-smoke").state.arn;
            assert.deepEqual(
                inlineStatementsOf(ev, role).map((s: any) => [s.Action, s.Resource]),
                [["lambda:InvokeFunction", [fn, `${fn}:*`]]],
            );
        }
    });

    it("alarms when a run fails (any datapoint below 1) and when none arrives (missing data breaches), without flapping on a late datapoint", () => {
        for (const ev of both()) {
            const interval = ev.settings.smoke.schedule!.intervalSeconds;
            const failing = alarm(ev, "smoke-failing");
            assert.deepEqual(
                [failing.namespace, failing.metricName, failing.dimensions],
                [METRICS_NAMESPACE, METRIC.pass, { Stack: ev.stack }],
            );
            assert.deepEqual([failing.statistic, failing.comparisonOperator, failing.threshold], ["Minimum", "LessThanThreshold", 1]);
            assert.deepEqual(
                [failing.period, failing.evaluationPeriods, failing.datapointsToAlarm, failing.treatMissingData],
                [interval, 2, 1, "notBreaching"],
            );
            const silent = alarm(ev, "smoke-silent");
            assert.deepEqual(
                [silent.metricName, silent.statistic, silent.comparisonOperator, silent.threshold],
                [METRIC.pass, "SampleCount", "LessThanThreshold", 1],
            );
            assert.deepEqual(
                [silent.period, silent.evaluationPeriods, silent.datapointsToAlarm],
                [interval, 2, 2],
                "two whole intervals without a run",
            );
            assert.equal(silent.treatMissingData, "breaching", "a schedule that stops running must alarm too");
        }
        // prod: a failed run's datapoint is judged when its 5-minute period closes, about 5-7 minutes after the run.
        assert.equal(alarm(stacks.prod(), "smoke-failing").period, 300);
    });

    it("turns off Lambda's asynchronous retries for the scheduled runs (a retry would overlap the next run)", () => {
        for (const ev of both()) {
            const config = ev.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig").inputs;
            assert.equal(config.functionName, ev.named(FN, "smoke-smoke").state.name);
            assert.equal(config.maximumRetryAttempts, 0);
        }
    });

    it("alarms on a certificate expiring within the configured days, and on the proxy's own health", () => {
        for (const ev of both()) {
            const cert = alarm(ev, "cert-expiring");
            assert.deepEqual([cert.metricName, cert.comparisonOperator, cert.threshold], [METRIC.certDays, "LessThanThreshold", 30]);
            const proxyName = ev.one("aws:rds/proxy:Proxy").state.name;
            const availability = alarm(ev, "proxy-availability");
            assert.deepEqual([availability.namespace, availability.metricName], ["AWS/RDS", "AvailabilityPercentage"]);
            assert.deepEqual(availability.dimensions, { ProxyName: proxyName, TargetGroup: "default", TargetRole: "READ_WRITE" });
            const auth = alarm(ev, "proxy-auth-failures");
            const byId = Object.fromEntries(auth.metricQueries.map((q: any) => [q.id, q]));
            assert.deepEqual(
                [byId[AUTH_QUERY.proxy].metric.metricName, byId[AUTH_QUERY.proxy].metric.dimensions, byId[AUTH_QUERY.proxy].metric.stat],
                ["ClientConnectionsSetupFailedAuth", { ProxyName: proxyName }, "Sum"],
            );
            assert.deepEqual(
                [
                    byId[AUTH_QUERY.smoke].metric.namespace,
                    byId[AUTH_QUERY.smoke].metric.metricName,
                    byId[AUTH_QUERY.smoke].metric.dimensions,
                ],
                [METRICS_NAMESPACE, METRIC.authRefusals, { Stack: ev.stack }],
            );
            assert.deepEqual(
                auth.metricQueries.filter((q: any) => q.returnData).map((q: any) => q.id),
                [AUTH_QUERY.real],
                "the alarm judges the difference only",
            );
            // 2 of 2 periods: a smoke datapoint that arrives late (EMF, after the run) is read as 0 by FILL meanwhile.
            assert.deepEqual([auth.evaluationPeriods, auth.datapointsToAlarm], [2, 2]);
        }
    });

    it("sends every alarm, and its recovery, to a topic encrypted with the stack's key, with the settings' subscriptions", () => {
        for (const ev of both()) {
            const topic = ev.one(TOPIC);
            const key = ev.one("aws:kms/key:Key");
            assert.equal(topic.inputs.kmsMasterKeyId, key.state.arn);
            for (const a of ev.ofType(ALARM)) {
                assert.deepEqual(a.inputs.alarmActions, [topic.state.arn], a.name);
                assert.deepEqual(a.inputs.okActions, [topic.state.arn], a.name);
            }
            const keyPolicy = JSON.parse(key.inputs.policy).Statement;
            const cw = keyPolicy.find((s: any) => s.Principal?.Service === "cloudwatch.amazonaws.com");
            assert.deepEqual(cw.Action, ["kms:Decrypt", "kms:GenerateDataKey*"], "CloudWatch may use the key for the encrypted topic");
            // ...on behalf of this account's alarms of this stack only, and every alarm of the stack matches.
            assert.deepEqual(cw.Condition.StringEquals, { "aws:SourceAccount": ACCOUNT_ID });
            const pattern: string = cw.Condition.ArnLike["aws:SourceArn"];
            assert.match(pattern, new RegExp(`^arn:aws:cloudwatch:eu-west-1:${ACCOUNT_ID}:alarm:[a-z0-9-]+-\\*$`));
            const arnLike = new RegExp(`^${pattern.replace(/[.]/g, "\\.").replace("*", ".*")}$`);
            for (const a of ev.ofType(ALARM))
                assert.match(`arn:aws:cloudwatch:eu-west-1:${ACCOUNT_ID}:alarm:${a.inputs.name}`, arnLike, a.name);
            assert.doesNotMatch(`arn:aws:cloudwatch:eu-west-1:${ACCOUNT_ID}:alarm:someone-elses-alarm`, arnLike);
            const subs = ev.ofType("aws:sns/topicSubscription:TopicSubscription");
            assert.deepEqual(
                subs.map((s) => [s.inputs.topic, s.inputs.protocol, s.inputs.endpoint]),
                ev.settings.alarms.subscriptions.map((s) => [topic.state.arn, s.protocol, s.endpoint]),
            );
            assert.equal(ev.outputs.alarmTopicArn, topic.state.arn);
        }
    });

    it("draws the proxy, Aurora and the smoke side by side on one dashboard", () => {
        for (const ev of both()) {
            const body = JSON.parse(ev.one("aws:cloudwatch/dashboard:Dashboard").inputs.dashboardBody);
            const metrics = body.widgets.flatMap((w: any) => w.properties.metrics.map((m: any[]) => `${m[0]}/${m[1]}`));
            // Serverless v2 (prod) charts ACUs; a provisioned T class (dev) its CPU and the surplus credits it bills.
            const serverless = ev.settings.database.instanceClass === "db.serverless";
            const perInstance = serverless ? ["ACUUtilization"] : ["CPUUtilization", "CPUSurplusCreditsCharged"];
            const instances = ev
                .ofType("aws:rds/clusterInstance:ClusterInstance")
                .map((i) => ["DBInstanceIdentifier", i.inputs.identifier])
                .sort();
            for (const name of perInstance) {
                const series = body.widgets.flatMap((w: any) => w.properties.metrics).filter((m: any[]) => m[1] === name);
                assert.deepEqual(
                    series.map((m: any[]) => [m[2], m[3]]).sort(),
                    instances,
                    `${ev.stack}: ${name} is an instance metric, one series each`,
                );
            }
            assert.equal(
                metrics.includes("AWS/RDS/ServerlessDatabaseCapacity"),
                serverless,
                `${ev.stack}: ACU capacity only for Serverless v2`,
            );
            for (const m of [
                "AWS/RDS/ClientConnections",
                "AWS/RDS/DatabaseConnections",
                "AWS/RDS/QueryDatabaseResponseLatency",
                "AWS/RDS/AvailabilityPercentage",
                `${METRICS_NAMESPACE}/${METRIC.pass}`,
                `${METRICS_NAMESPACE}/${METRIC.connectMs}`,
                `${METRICS_NAMESPACE}/${METRIC.certDays}`,
            ]) {
                assert.ok(metrics.includes(m), `${ev.stack}: dashboard lacks ${m}`);
            }
            const text = JSON.stringify(body);
            assert.ok(text.includes(ev.one("aws:rds/proxy:Proxy").state.name) && text.includes(ev.one("aws:rds/cluster:Cluster").id));
            // Published per proxy node: the proxy's count is their Sum over each minute (rds-proxy.monitoring).
            const counts = body.widgets
                .flatMap((w: any) => w.properties.metrics)
                .filter((m: any[]) => ["ClientConnections", "DatabaseConnections", "ClientConnectionsSetupFailedAuth"].includes(m[1]));
            assert.equal(counts.length, 3);
            for (const m of counts) assert.deepEqual(m[m.length - 1], { stat: "Sum", period: 60 }, `${m[1]}`);
        }
    });

    it("declares no schedule or smoke alarm when the schedule is off, and keeps the proxy's alarms; a Lambda subscriber may be invoked by this topic only", async () => {
        const fnArn = "arn:aws:lambda:eu-west-1:123456789012:function:pager";
        const off = await evaluateStack("dev", {
            "smoke.schedule": "off",
            "alarms.subscriptions": [{ protocol: "lambda", endpoint: fnArn }],
        });
        assert.equal(off.ofType(SCHEDULE).length, 0);
        assert.deepEqual(
            off
                .ofType(ALARM)
                .map((a) => a.name)
                .sort(),
            ["monitoring-proxy-auth-failures", "monitoring-proxy-availability"],
        );
        assert.equal(off.outputs.smokeSchedule, "off");
        const topic = off.one(TOPIC);
        const permission = off.one("aws:lambda/permission:Permission");
        assert.deepEqual(
            [permission.inputs.action, permission.inputs.function, permission.inputs.principal, permission.inputs.sourceArn],
            ["lambda:InvokeFunction", fnArn, "sns.amazonaws.com", topic.state.arn],
        );
        const sub = off.one("aws:sns/topicSubscription:TopicSubscription");
        assert.deepEqual([sub.inputs.protocol, sub.inputs.endpoint], ["lambda", fnArn]);
        assert.ok(sub.dependencies.includes(permission.urn), "subscribed once SNS may invoke it");
    });

    it("on a first deploy, starts the schedule and the smoke's alarms only after the post-deploy smoke has passed", () => {
        for (const ev of both()) {
            const invocation = ev.named("aws:lambda/invocation:Invocation", "smoke-smoke");
            const waiting = [
                ev.one(SCHEDULE),
                ...["smoke-failing", "smoke-silent", "cert-expiring", "proxy-auth-failures"].map((n) => ev.named(ALARM, `monitoring-${n}`)),
            ];
            for (const r of waiting)
                assert.ok(r.dependencies.includes(invocation.urn), `${ev.stack}: ${r.name} does not wait for the first smoke`);
            // The proxy's own availability does not depend on the smoke: it alarms from the start.
            assert.ok(!ev.named(ALARM, "monitoring-proxy-availability").dependencies.includes(invocation.urn));
        }
    });

    describe("the auth-failure alarm counts real failures only", () => {
        // The proxy counts every refused attempt in the minute it refused it (ClientConnectionsSetupFailedAuth, Sum);
        // the smoke publishes, per minute, how many it caused (EMF). Both are summed into the alarm's periods,
        // aligned to the clock, and the alarm's own expression is evaluated on them.
        const period = AUTH_FAILURE_PERIOD_SECONDS * 1000;
        const periodOf = (ms: number) => Math.floor(ms / period) * period;

        /** A small evaluator for the expressions the alarm uses: sums and differences of ids, FILL(id, n) and numbers. */
        function evaluate(expression: string, values: Record<string, number | undefined>): number | undefined {
            const terms = expression.replace(/\s+/g, "").match(/[+-]?[^+-]+/g) ?? [];
            let total: number | undefined = 0;
            for (const term of terms) {
                const sign = term.startsWith("-") ? -1 : 1;
                const body = term.replace(/^[+-]/, "");
                const fill = /^FILL\((\w+),(-?\d+(?:\.\d+)?)\)$/.exec(body);
                let v: number | undefined;
                if (fill) v = values[fill[1]] ?? Number(fill[2]);
                else if (/^-?\d+(\.\d+)?$/.test(body)) v = Number(body);
                else if (/^\w+$/.test(body)) v = values[body];
                else throw new Error(`the test's evaluator does not know ${JSON.stringify(body)} in ${expression}`);
                total = v === undefined || total === undefined ? undefined : total + sign * v;
            }
            return total;
        }

        /** A run whose deliberate attempts the server refused at the given wall-clock times, plus checks that are not refusals. */
        function run(refusedAt: number[], opts: { acceptedOne?: boolean } = {}) {
            const checks: CheckResult[] = [
                { name: CHECK.connect, ok: true, detail: "", ms: 5 },
                { name: CHECK.tls, ok: true, detail: "", ms: 1 },
                ...NEGATIVE_CHECKS.map(
                    (name, i): CheckResult =>
                        opts.acceptedOne && i === 0
                            ? { name, ok: false, detail: "accepted", ms: 1, kind: "auth" }
                            : { name, ok: true, detail: "refused", ms: 1, figures: { refusedAtMs: refusedAt[i] } },
                ),
                { name: "connect as app_reader", ok: true, detail: "", ms: 3 },
            ];
            const report = buildReport({ host: "h", port: 5432, database: "d", user: "u", region: "eu-west-1" }, checks, 50);
            return {
                report,
                refusals: checks.filter((c) => c.ok && c.figures?.refusedAtMs !== undefined).map((c) => c.figures!.refusedAtMs!),
            };
        }

        /** The alarm's value in each period that has data, from the smoke's runs and the real failures' times. */
        function alarmValues(
            ev: Ev,
            runs: Array<{ startedMs: number; refusedAt: number[]; acceptedOne?: boolean }>,
            realFailuresAt: number[],
        ) {
            const expression = alarm(ev, "proxy-auth-failures").metricQueries.find((q: any) => q.returnData).expression;
            const proxy = new Map<number, number>();
            const smoke = new Map<number, number>();
            const bump = (m: Map<number, number>, at: number, n = 1) => m.set(periodOf(at), (m.get(periodOf(at)) ?? 0) + n);
            for (const r of runs) {
                const { report, refusals } = run(r.refusedAt, r);
                for (const at of refusals) bump(proxy, at);
                for (const doc of emfDocuments(report, { stack: ev.stack, nowMs: r.startedMs })) {
                    if (typeof doc[METRIC.authRefusals] === "number") bump(smoke, doc._aws.Timestamp, doc[METRIC.authRefusals] as number);
                }
            }
            for (const at of realFailuresAt) bump(proxy, at);
            const periods = [...new Set([...proxy.keys(), ...smoke.keys()])].sort();
            return periods.map((p) => evaluate(expression, { [AUTH_QUERY.proxy]: proxy.get(p), [AUTH_QUERY.smoke]: smoke.get(p) }));
        }

        const t0 = Date.UTC(2026, 11, 1, 10, 0, 0);
        const passing = (startedMs: number) => ({ startedMs, refusedAt: NEGATIVE_CHECKS.map((_, i) => startedMs + 800 + 10 * i) });

        it("is 0 after passing scheduled runs, also when a run's refusals straddle a period boundary", () => {
            const ev = stacks.prod();
            const runs = [passing(t0 + 20_000), passing(t0 + 320_000), passing(t0 + 620_000)];
            // A run started 1 s before a boundary: three refusals before it, two after.
            const straddling = {
                startedMs: t0 + period * 3 - 1_000,
                refusedAt: [-200, -100, -50, 100, 300].map((d) => t0 + period * 3 + d),
            };
            const values = alarmValues(ev, [...runs, straddling], []);
            assert.deepEqual(values, [0, 0, 0, 0]);
        });

        it("is N for N real failures in a period, the smoke's refusals aside, and fires above the threshold", () => {
            const ev = stacks.prod();
            const a = alarm(ev, "proxy-auth-failures");
            for (const n of [1, 3, 7]) {
                const failures = Array.from({ length: n }, (_, i) => t0 + 60_000 + i * 1_000);
                const values = alarmValues(ev, [passing(t0 + 20_000), passing(t0 + 320_000)], failures);
                assert.deepEqual(values, [n, 0]);
                assert.equal(values[0]! > a.threshold, n > a.threshold, `${n} real failure(s) vs threshold ${a.threshold}`);
            }
            assert.equal(a.comparisonOperator, "GreaterThanThreshold");
        });

        it("does not subtract an attempt the server let in (no failure was counted for it)", () => {
            const ev = stacks.prod();
            const started = t0 + 20_000;
            const values = alarmValues(ev, [{ ...passing(started), acceptedOne: true }], [t0 + 90_000]);
            assert.deepEqual(values, [1], "the accepted attempt is the smoke's failure to report, not a refusal to subtract");
        });
    });
});
