import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { METRIC, METRICS_NAMESPACE, SCHEDULE_SOURCE } from "../smoke/metrics";
import { serviceTrustPolicy } from "./arns";
import { AlarmSettings, SmokeSettings } from "./config";
import { TYPE } from "./tokens";

export interface MonitoringArgs {
    namePrefix: string;
    /** The Stack dimension the smoke writes its metrics with. */
    stack: string;
    region: string;
    accountId: pulumi.Input<string>;
    smoke: SmokeSettings;
    alarms: AlarmSettings;
    kmsKeyArn: pulumi.Input<string>;
    /** The smoke function the schedule invokes; unset when the smoke is off. */
    smokeFunctionArn?: pulumi.Input<string>;
    /** Set with smokeFunctionArn: the function's name, for its asynchronous-invocation settings. */
    smokeFunctionName?: pulumi.Input<string>;
    proxyName: pulumi.Input<string>;
    clusterIdentifier: pulumi.Input<string>;
    /** The cluster's instances (ACU utilization is an instance metric). */
    instanceIdentifiers: pulumi.Input<pulumi.Input<string>[]>;
    /** The instances' class: Serverless v2 ("db.serverless") charts capacity in ACUs, a provisioned class CPU and credits. */
    /** Undefined for an existing cluster, whose instances may differ: it charts capacity and CPU both. */
    instanceClass?: string;
    /**
     * The first post-deploy smoke (its Invocation): the schedule and the smoke's alarms start only once it has
     * passed, so a first deploy pages nobody before the path exists. Unset when the smoke is off.
     */
    startAfter?: pulumi.Resource[];
}

/** RDS Proxy's default target group, whose READ_WRITE target is the cluster's writer (rds-proxy.monitoring). */
const PROXY_TARGET_GROUP = "default";

/** The auth-failure alarm's period, and how many real failures in it are tolerated before it fires. */
export const AUTH_FAILURE_PERIOD_SECONDS = 300;
export const AUTH_FAILURE_THRESHOLD = 2;

/** The ids of the auth-failure alarm's metric-math queries. */
export const AUTH_QUERY = { proxy: "proxyFailedAuth", smoke: "smokeRefusals", real: "realFailedAuth" } as const;

/**
 * Real client authentication failures at the proxy: every failure it counted (ClientConnectionsSetupFailedAuth:
 * "bad authentication or TLS misconfiguration", RDS User Guide rds-proxy.monitoring) minus the refusals the smoke
 * caused on purpose in the same period (its AuthRefusalsCaused metric). FILL(…, 0) turns a period without
 * datapoints (no failure, no smoke run) into 0, so one metric's silence does not hide the other
 * (CloudWatch User Guide, "Metric math syntax and functions": FILL).
 */
export function realAuthFailuresExpression(): string {
    return `FILL(${AUTH_QUERY.proxy}, 0) - FILL(${AUTH_QUERY.smoke}, 0)`;
}

/**
 * Between deploys: the same in-VPC smoke on a schedule, its verdicts as metrics (EMF, written by the
 * handler), alarms on them and on the proxy's own health to an encrypted SNS topic, and one dashboard.
 */
export class Monitoring extends pulumi.ComponentResource {
    readonly topicArn: pulumi.Output<string>;
    readonly smokeAlarmName?: pulumi.Output<string>;
    readonly silenceAlarmName?: pulumi.Output<string>;
    readonly dashboardName: pulumi.Output<string>;
    readonly scheduleName?: pulumi.Output<string>;

    constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE.Monitoring, name, {}, opts);
        const child = { parent: this };
        const schedule = args.smokeFunctionArn ? args.smoke.schedule : undefined;

        // Encrypted with the stack's key; its policy lets CloudWatch alarms use the key for this topic.
        const topic = new aws.sns.Topic(
            `${name}-alarms`,
            {
                name: `${args.namePrefix}-alarms`,
                kmsMasterKeyId: args.kmsKeyArn,
            },
            { parent: this, deleteBeforeReplace: true },
        );
        args.alarms.subscriptions.forEach((sub, i) => {
            // SNS invokes a function only if the function's resource policy lets sns.amazonaws.com do so, for this
            // topic only (SNS Developer Guide, "Fanout to Lambda functions"; Lambda, "Using resource-based policies").
            const invoke =
                sub.protocol === "lambda"
                    ? new aws.lambda.Permission(
                          `${name}-alarms-${i + 1}`,
                          {
                              action: "lambda:InvokeFunction",
                              function: sub.endpoint,
                              principal: "sns.amazonaws.com",
                              sourceArn: topic.arn,
                          },
                          child,
                      )
                    : undefined;
            new aws.sns.TopicSubscription(
                `${name}-alarms-${i + 1}`,
                {
                    topic: topic.arn,
                    protocol: sub.protocol,
                    endpoint: sub.endpoint,
                },
                { parent: this, dependsOn: invoke ? [invoke] : [] },
            );
        });
        // Until the first post-deploy smoke has passed, nothing that judges the smoke exists (first deploy).
        const afterFirstSmoke = { parent: this, dependsOn: args.startAfter ?? [] };
        const notify = { alarmActions: [topic.arn], okActions: [topic.arn] };
        const smokeMetric = (metricName: string) => ({ namespace: METRICS_NAMESPACE, metricName, dimensions: { Stack: args.stack } });

        if (schedule) {
            // The scheduler may invoke the smoke function and nothing else.
            const role = new aws.iam.Role(
                `${name}-scheduler`,
                {
                    description: `${args.namePrefix}: EventBridge Scheduler runs the smoke between deploys`,
                    assumeRolePolicy: pulumi
                        .output(args.accountId)
                        .apply((account) => serviceTrustPolicy("scheduler.amazonaws.com", account)),
                },
                child,
            );
            const invoke = new aws.iam.RolePolicy(
                `${name}-scheduler`,
                {
                    role: role.id,
                    policy: pulumi.output(args.smokeFunctionArn!).apply((arn) =>
                        JSON.stringify({
                            Version: "2012-10-17",
                            Statement: [
                                { Sid: "InvokeSmokeOnly", Effect: "Allow", Action: "lambda:InvokeFunction", Resource: [arn, `${arn}:*`] },
                            ],
                        }),
                    ),
                },
                child,
            );
            const scheduled = new aws.scheduler.Schedule(
                `${name}-smoke`,
                {
                    name: `${args.namePrefix}-smoke`,
                    description: "Runs the post-deploy smoke between deploys; verdicts become CloudWatch metrics",
                    scheduleExpression: schedule.expression,
                    flexibleTimeWindow: { mode: "OFF" },
                    target: {
                        arn: args.smokeFunctionArn!,
                        roleArn: role.arn,
                        input: JSON.stringify({ source: SCHEDULE_SOURCE }),
                        // A missed run is reported by the alarm (no data = breaching), not made up later.
                        retryPolicy: { maximumRetryAttempts: 0, maximumEventAgeInSeconds: 60 },
                    },
                },
                { parent: this, dependsOn: [invoke, ...(args.startAfter ?? [])], deleteBeforeReplace: true },
            );
            this.scheduleName = scheduled.name;
            // Scheduler invokes Lambda asynchronously, and Lambda retries a failed asynchronous run twice by default
            // (a timeout, a configuration error): a retry would overlap the next run. The post-deploy run is synchronous.
            new aws.lambda.FunctionEventInvokeConfig(
                `${name}-smoke-async`,
                {
                    functionName: args.smokeFunctionName!,
                    maximumRetryAttempts: 0,
                    maximumEventAgeInSeconds: 60,
                },
                child,
            );

            // Two alarms, because Lambda flushes EMF lines on its own schedule ("Setting alarms on metrics created
            // with the embedded metric format": use M out of N): a failed run alarms within two intervals of
            // datapoints (rate(5 minutes): about 5-7 minutes after the run), and silence (no run at all for two
            // whole intervals, missing data breaching) alarms on its own without flapping on a late datapoint.
            const failing = new aws.cloudwatch.MetricAlarm(
                `${name}-smoke-failing`,
                {
                    name: `${args.namePrefix}-smoke-failing`,
                    alarmDescription: `The ${args.namePrefix} smoke failed a check: see the smoke function's log for the one-line reason`,
                    ...smokeMetric(METRIC.pass),
                    statistic: "Minimum",
                    period: schedule.intervalSeconds,
                    evaluationPeriods: 2,
                    datapointsToAlarm: 1,
                    threshold: 1,
                    comparisonOperator: "LessThanThreshold",
                    treatMissingData: "notBreaching",
                    ...notify,
                },
                afterFirstSmoke,
            );
            const silent = new aws.cloudwatch.MetricAlarm(
                `${name}-smoke-silent`,
                {
                    name: `${args.namePrefix}-smoke-silent`,
                    alarmDescription: `The ${args.namePrefix} smoke has not reported for two intervals (${schedule.expression}): the schedule, the function or its network path is down`,
                    ...smokeMetric(METRIC.pass),
                    statistic: "SampleCount",
                    period: schedule.intervalSeconds,
                    evaluationPeriods: 2,
                    datapointsToAlarm: 2,
                    threshold: 1,
                    comparisonOperator: "LessThanThreshold",
                    treatMissingData: "breaching",
                    ...notify,
                },
                afterFirstSmoke,
            );
            this.smokeAlarmName = failing.name;
            this.silenceAlarmName = silent.name;

            new aws.cloudwatch.MetricAlarm(
                `${name}-cert-expiring`,
                {
                    name: `${args.namePrefix}-proxy-certificate-expiring`,
                    alarmDescription: `The proxy's TLS certificate, as the smoke sees it, expires within ${args.alarms.certExpiryDays} days`,
                    ...smokeMetric(METRIC.certDays),
                    statistic: "Minimum",
                    period: Math.max(3600, schedule.intervalSeconds),
                    evaluationPeriods: 1,
                    threshold: args.alarms.certExpiryDays,
                    comparisonOperator: "LessThanThreshold",
                    // Silence is the smoke alarm's to report.
                    treatMissingData: "notBreaching",
                    ...notify,
                },
                afterFirstSmoke,
            );
        }

        // The proxy's own health (RDS User Guide, rds-proxy.monitoring): its writer target's availability and
        // clients failing authentication (expired or mis-signed tokens, a CA change on the client side).
        new aws.cloudwatch.MetricAlarm(
            `${name}-proxy-availability`,
            {
                name: `${args.namePrefix}-proxy-target-unavailable`,
                alarmDescription: "RDS Proxy could not reach the writer in its health checks",
                namespace: "AWS/RDS",
                metricName: "AvailabilityPercentage",
                dimensions: { ProxyName: args.proxyName, TargetGroup: PROXY_TARGET_GROUP, TargetRole: "READ_WRITE" },
                statistic: "Average",
                period: 60,
                evaluationPeriods: 5,
                datapointsToAlarm: 3,
                threshold: 100,
                comparisonOperator: "LessThanThreshold",
                treatMissingData: "notBreaching",
                ...notify,
            },
            child,
        );
        // Real failures only: the smoke's deliberate refusals (no TLS, a tampered token, another user's token, an
        // unknown user, a plain password: all "bad authentication or TLS misconfiguration" to the proxy) are counted
        // by the proxy too, and subtracted here. See docs/alarms.md.
        const smokeOn = args.smokeFunctionArn !== undefined;
        new aws.cloudwatch.MetricAlarm(
            `${name}-proxy-auth-failures`,
            {
                name: `${args.namePrefix}-proxy-client-auth-failures`,
                alarmDescription:
                    `More than ${AUTH_FAILURE_THRESHOLD} clients failed to authenticate to RDS Proxy in each of two ${AUTH_FAILURE_PERIOD_SECONDS / 60}-minute periods ` +
                    "(IAM tokens, TLS), not counting the smoke's deliberate refusals",
                metricQueries: [
                    {
                        id: AUTH_QUERY.proxy,
                        returnData: false,
                        metric: {
                            namespace: "AWS/RDS",
                            metricName: "ClientConnectionsSetupFailedAuth",
                            dimensions: { ProxyName: args.proxyName },
                            stat: "Sum",
                            period: AUTH_FAILURE_PERIOD_SECONDS,
                        },
                    },
                    ...(smokeOn
                        ? [
                              {
                                  id: AUTH_QUERY.smoke,
                                  returnData: false,
                                  metric: { ...smokeMetric(METRIC.authRefusals), stat: "Sum", period: AUTH_FAILURE_PERIOD_SECONDS },
                              },
                          ]
                        : []),
                    {
                        id: AUTH_QUERY.real,
                        label: "Client auth failures, without the smoke's deliberate refusals",
                        returnData: true,
                        expression: smokeOn ? realAuthFailuresExpression() : `FILL(${AUTH_QUERY.proxy}, 0)`,
                    },
                ],
                // 2 of 2 periods: the smoke's EMF count arrives after the run, while the proxy counts each refusal in
                // its minute, and FILL then reads the late datapoint as 0 for a while (CloudWatch User Guide, "Metric
                // math syntax and functions", FILL: "use a M out of N alarm"). A burst of real failures confined to one
                // period therefore does not page; a failure that lasts does.
                evaluationPeriods: 2,
                datapointsToAlarm: 2,
                threshold: AUTH_FAILURE_THRESHOLD,
                comparisonOperator: "GreaterThanThreshold",
                treatMissingData: "notBreaching",
                ...notify,
            },
            smokeOn ? afterFirstSmoke : child,
        );

        const dashboard = new aws.cloudwatch.Dashboard(
            `${name}-dashboard`,
            {
                dashboardName: `${args.namePrefix}-data-path`,
                dashboardBody: pulumi
                    .all([args.proxyName, args.clusterIdentifier, pulumi.output(args.instanceIdentifiers)])
                    .apply(([proxyName, clusterId, instanceIds]) =>
                        JSON.stringify(
                            dashboardBody({
                                region: args.region,
                                stack: args.stack,
                                proxyName,
                                clusterId,
                                instanceIds,
                                instanceClass: args.instanceClass,
                            }),
                        ),
                    ),
            },
            child,
        );

        this.topicArn = topic.arn;
        this.dashboardName = dashboard.dashboardName;
        this.registerOutputs({ topicArn: this.topicArn, dashboardName: this.dashboardName });
    }
}

/** Proxy, Aurora and the smoke side by side. */
export function dashboardBody(o: {
    region: string;
    stack: string;
    proxyName: string;
    clusterId: string;
    instanceIds: string[];
    instanceClass?: string;
}) {
    // RDS Proxy publishes its metrics per proxy node ("Use CloudWatch statistics to aggregate the values for a proxy
    // across all the associated instances"), and for the connection counts "the most useful statistic is Sum",
    // reported every minute (RDS User Guide, rds-proxy.monitoring): Sum over 60 s is the proxy's whole count.
    const proxy = (metric: string, stat = "Average") => ["AWS/RDS", metric, "ProxyName", o.proxyName, { stat }];
    const proxyCount = (metric: string) => ["AWS/RDS", metric, "ProxyName", o.proxyName, { stat: "Sum", period: 60 }];
    const cluster = (metric: string, stat = "Average") => ["AWS/RDS", metric, "DBClusterIdentifier", o.clusterId, { stat }];
    const smoke = (metric: string, stat = "Minimum") => [METRICS_NAMESPACE, metric, "Stack", o.stack, { stat }];
    const widget = (title: string, x: number, y: number, metrics: unknown[]) => ({
        type: "metric",
        x,
        y,
        width: 8,
        height: 6,
        properties: { title, region: o.region, view: "timeSeries", period: 300, metrics },
    });
    return {
        widgets: [
            widget("Proxy: client and database connections (Sum per minute over the proxy's nodes)", 0, 0, [
                proxyCount("ClientConnections"),
                proxyCount("DatabaseConnections"),
            ]),
            widget("Proxy: query latency (µs) and availability (%)", 8, 0, [
                proxy("QueryDatabaseResponseLatency", "Average"),
                [
                    "AWS/RDS",
                    "AvailabilityPercentage",
                    "ProxyName",
                    o.proxyName,
                    "TargetGroup",
                    PROXY_TARGET_GROUP,
                    "TargetRole",
                    "READ_WRITE",
                    { stat: "Average", yAxis: "right" },
                ],
            ]),
            widget("Proxy: client auth failures, and the smoke's deliberate ones", 16, 0, [
                proxyCount("ClientConnectionsSetupFailedAuth"),
                [METRICS_NAMESPACE, METRIC.authRefusals, "Stack", o.stack, { stat: "Sum", period: 60 }],
            ]),
            // ACUUtilization is an instance metric (Aurora.AuroraMonitoring.Metrics); Maximum, so one saturated
            // instance is not averaged away. A provisioned class has no ACUs: its CPU, and the surplus CPU credits a
            // T class bills beyond its baseline (CPUSurplusCreditsCharged). An existing cluster's class is not read here: both.
            o.instanceClass === undefined
                ? widget("Aurora: capacity (ACU, Serverless v2 only) and CPU utilization (%) per instance", 0, 6, [
                      cluster("ServerlessDatabaseCapacity"),
                      ...o.instanceIds.map((id) => [
                          "AWS/RDS",
                          "CPUUtilization",
                          "DBInstanceIdentifier",
                          id,
                          { stat: "Maximum", yAxis: "right" },
                      ]),
                  ])
                : o.instanceClass === "db.serverless"
                  ? widget("Aurora: capacity (ACU) and ACU utilization (%)", 0, 6, [
                        cluster("ServerlessDatabaseCapacity"),
                        ...o.instanceIds.map((id) => [
                            "AWS/RDS",
                            "ACUUtilization",
                            "DBInstanceIdentifier",
                            id,
                            { stat: "Maximum", yAxis: "right" },
                        ]),
                    ])
                  : widget(`Aurora (${o.instanceClass}): CPU utilization (%) and surplus CPU credits charged`, 0, 6, [
                        ...o.instanceIds.map((id) => ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", id, { stat: "Maximum" }]),
                        ...(/^db\.t/.test(o.instanceClass!)
                            ? o.instanceIds.map((id) => [
                                  "AWS/RDS",
                                  "CPUSurplusCreditsCharged",
                                  "DBInstanceIdentifier",
                                  id,
                                  { stat: "Sum", yAxis: "right" },
                              ])
                            : []),
                    ]),
            widget("Smoke: pass (1) and connect latency (ms)", 8, 6, [
                smoke(METRIC.pass),
                [...smoke(METRIC.connectMs, "Average").slice(0, 4), { stat: "Average", yAxis: "right" }],
            ]),
            widget("Smoke: proxy certificate days to expiry", 16, 6, [smoke(METRIC.certDays)]),
        ],
    };
}
