// The smoke's verdicts as CloudWatch metrics, in the embedded metric format (EMF): one JSON log line that
// CloudWatch Logs turns into metrics, so the function makes no extra API call and needs no
// cloudwatch:PutMetricData permission (CloudWatch_Embedded_Metric_Format_Specification).
import { CHECK, NEGATIVE_CHECKS } from "./check-names";
import type { SmokeReport } from "./report";

export const METRICS_NAMESPACE = "AuroraIamProxy/Smoke";

/** What EventBridge Scheduler sends the smoke function on its schedule (a post-deploy invocation sends {}). */
export const SCHEDULE_SOURCE = "aurora-iam-proxy.schedule";

/** The metric names the alarms and the dashboard use. */
export const METRIC = {
    pass: "Pass",
    connectMs: "ConnectLatencyMs",
    certDays: "CertDaysToExpiry",
    /** How many of the smoke's deliberate refusals the server refused: the auth-failure alarm subtracts them. */
    authRefusals: "AuthRefusalsCaused",
} as const;

/** The one dimension every smoke metric carries: the stack's name. */
export const METRIC_DIMENSIONS = ["Stack"] as const;

/**
 * Every custom metric the smoke publishes, each a single series per stack (dimension Stack only): CloudWatch
 * bills each metric name × dimension-value combination as one custom metric. The component passes this list
 * to the function (SMOKE_METRICS), the handler publishes no other, and the cost tool prices each one.
 * Per-check verdicts are log lines, not metrics: one series per check would multiply the bill by ~25.
 */
export const SMOKE_METRIC_SERIES: readonly string[] = Object.values(METRIC);

/** The function's SMOKE_METRICS value: what it may publish, in the namespace and dimensions above. */
export function smokeMetricsEnv(): string {
    return JSON.stringify({ namespace: METRICS_NAMESPACE, dimensions: METRIC_DIMENSIONS, metrics: SMOKE_METRIC_SERIES });
}

/** The metric names SMOKE_METRICS allows; every one of SMOKE_METRIC_SERIES when unset or unreadable. */
export function allowedMetrics(env: string | undefined): Set<string> {
    try {
        const parsed = env ? JSON.parse(env) : undefined;
        if (Array.isArray(parsed?.metrics)) return new Set(parsed.metrics.filter((m: unknown) => typeof m === "string"));
    } catch {
        // fall through: publish the full list
    }
    return new Set(SMOKE_METRIC_SERIES);
}

interface EmfDocument {
    _aws: {
        Timestamp: number;
        CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }>;
    };
    [key: string]: unknown;
}

/**
 * Refusals the smoke caused, by the minute they happened: the proxy counts each in the minute it refused it
 * (ClientConnectionsSetupFailedAuth, per-minute Sum), so each group is stamped with its own minute and lands in
 * the same alarm period as the proxy's count, even when a run straddles a period boundary.
 */
export function refusalsByMinute(report: SmokeReport): Map<number, number> {
    const negatives = new Set<string>(NEGATIVE_CHECKS);
    const byMinute = new Map<number, number>();
    for (const c of report.checks) {
        const at = c.figures?.refusedAtMs;
        if (!negatives.has(c.name) || !c.ok || at === undefined) continue;
        const minute = Math.floor(at / 60_000) * 60_000;
        byMinute.set(minute, (byMinute.get(minute) ?? 0) + 1);
    }
    return byMinute;
}

/**
 * One EMF document for the run (Stack dimension: overall pass, connect latency, certificate days) and one per
 * minute in which the server refused the smoke's deliberate attempts (their count). `publish` limits the
 * metrics to those the function was deployed to publish (SMOKE_METRICS).
 */
export function emfDocuments(report: SmokeReport, o: { stack: string; nowMs: number; publish?: Set<string> }): EmfDocument[] {
    const publish = o.publish ?? new Set(SMOKE_METRIC_SERIES);
    const connect = report.checks.find((c) => c.name === CHECK.connect);
    const certDays = report.checks.map((c) => c.figures?.certDaysToExpiry).find((d) => d !== undefined);
    const values: Array<[string, string, number | undefined]> = [
        [METRIC.pass, "Count", report.ok ? 1 : 0],
        [METRIC.connectMs, "Milliseconds", connect?.ok ? connect.ms : undefined],
        [METRIC.certDays, "None", certDays],
    ];
    const present = values.filter(([name, , v]) => v !== undefined && publish.has(name)) as Array<[string, string, number]>;
    const doc = (timestamp: number, metrics: Array<[string, string, number]>): EmfDocument => ({
        _aws: {
            Timestamp: timestamp,
            CloudWatchMetrics: [
                {
                    Namespace: METRICS_NAMESPACE,
                    Dimensions: [[...METRIC_DIMENSIONS]],
                    Metrics: metrics.map(([Name, Unit]) => ({ Name, Unit })),
                },
            ],
        },
        Stack: o.stack,
        ...Object.fromEntries(metrics.map(([name, , v]) => [name, v])),
    });
    const docs = present.length > 0 ? [doc(o.nowMs, present)] : [];
    if (publish.has(METRIC.authRefusals)) {
        for (const [minute, count] of refusalsByMinute(report)) docs.push(doc(minute, [[METRIC.authRefusals, "Count", count]]));
    }
    return docs;
}

/**
 * One plain JSON log line per check (no metric: searchable with Logs Insights, billed only as log data). A
 * warning row (not failed) has CheckPass 1, CheckWarning 1 and its detail: the risk and the fix.
 */
export function checkLogLines(report: SmokeReport, o: { stack: string }): string[] {
    return report.checks.map((c) =>
        JSON.stringify({
            Stack: o.stack,
            Check: c.name,
            CheckPass: c.ok ? 1 : 0,
            ...(c.ok && c.warning ? { CheckWarning: 1 } : {}),
            ...(c.ok && !c.warning ? {} : { detail: c.detail }),
        }),
    );
}
