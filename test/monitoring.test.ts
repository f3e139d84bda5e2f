// Between deploys: the scheduled smoke, its alarms, the topic they go to and the dashboard, for both stacks.
import { strict as assert } from "assert";
import { METRIC, METRICS_NAMESPACE, SCHEDULE_SOURCE } from "../smoke/metrics";
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
        for (const [ev, expression] of [[stacks.prod(), "rate(5 minutes)"], [stacks.dev(), "rate(1 hour)"]] as const) {
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
            assert.deepEqual(inlineStatementsOf(ev, role).map((s: any) => [s.Action, s.Resource]), [["lambda:InvokeFunction", [fn, `${fn}:*`]]]);
        }
    });

    it("alarms when a run fails (any datapoint below 1) and when none arrives (missing data breaches), without flapping on a late datapoint", () => {
        for (const ev of both()) {
            const interval = ev.settings.smoke.schedule!.intervalSeconds;
            const failing = alarm(ev, "smoke-failing");
            assert.deepEqual([failing.namespace, failing.metricName, failing.dimensions], [METRICS_NAMESPACE, METRIC.pass, { Stack: ev.stack }]);
            assert.deepEqual([failing.statistic, failing.comparisonOperator, failing.threshold], ["Minimum", "LessThanThreshold", 1]);
            assert.deepEqual([failing.period, failing.evaluationPeriods, failing.datapointsToAlarm, failing.treatMissingData], [interval, 2, 1, "notBreaching"]);
            const silent = alarm(ev, "smoke-silent");
            assert.deepEqual([silent.metricName, silent.statistic, silent.comparisonOperator, silent.threshold], [METRIC.pass, "SampleCount", "LessThanThreshold", 1]);
            assert.deepEqual([silent.period, silent.evaluationPeriods, silent.datapointsToAlarm], [interval, 2, 2], "two whole intervals without a run");
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
            assert.deepEqual([auth.metricName, auth.dimensions], ["ClientConnectionsSetupFailedAuth", { ProxyName: proxyName }]);
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
            const subs = ev.ofType("aws:sns/topicSubscription:TopicSubscription");
            assert.deepEqual(subs.map((s) => [s.inputs.topic, s.inputs.protocol, s.inputs.endpoint]),
                ev.settings.alarms.subscriptions.map((s) => [topic.state.arn, s.protocol, s.endpoint]));
            assert.equal(ev.outputs.alarmTopicArn, topic.state.arn);
        }
    });

    it("draws the proxy, Aurora and the smoke side by side on one dashboard", () => {
        for (const ev of both()) {
            const body = JSON.parse(ev.one("aws:cloudwatch/dashboard:Dashboard").inputs.dashboardBody);
            const metrics = body.widgets.flatMap((w: any) => w.properties.metrics.map((m: any[]) => `${m[0]}/${m[1]}`));
            const acu = body.widgets.flatMap((w: any) => w.properties.metrics).filter((m: any[]) => m[1] === "ACUUtilization");
            assert.deepEqual(acu.map((m: any[]) => [m[2], m[3]]).sort(), ev.ofType("aws:rds/clusterInstance:ClusterInstance").map((i) => ["DBInstanceIdentifier", i.inputs.identifier]).sort(),
                "ACUUtilization is an instance metric");
            for (const m of ["AWS/RDS/ClientConnections", "AWS/RDS/DatabaseConnections", "AWS/RDS/QueryDatabaseResponseLatency",
                "AWS/RDS/AvailabilityPercentage", "AWS/RDS/ServerlessDatabaseCapacity", "AWS/RDS/ACUUtilization",
                `${METRICS_NAMESPACE}/${METRIC.pass}`, `${METRICS_NAMESPACE}/${METRIC.connectMs}`, `${METRICS_NAMESPACE}/${METRIC.certDays}`]) {
                assert.ok(metrics.includes(m), `${ev.stack}: dashboard lacks ${m}`);
            }
            const text = JSON.stringify(body);
            assert.ok(text.includes(ev.one("aws:rds/proxy:Proxy").state.name) && text.includes(ev.one("aws:rds/cluster:Cluster").id));
        }
    });

    it("declares no schedule or smoke alarm when the schedule is off, and keeps the proxy's alarms", async () => {
        const off = await evaluateStack("dev", { "smoke.schedule": "off" });
        assert.equal(off.ofType(SCHEDULE).length, 0);
        assert.deepEqual(off.ofType(ALARM).map((a) => a.name).sort(), ["monitoring-proxy-auth-failures", "monitoring-proxy-availability"]);
        assert.equal(off.outputs.smokeSchedule, "off");
    });
});
