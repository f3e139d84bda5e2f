// The smoke's verdicts as CloudWatch metrics, in the embedded metric format (EMF): one JSON log line that
// CloudWatch Logs turns into metrics, so the function makes no extra API call and needs no
// cloudwatch:PutMetricData permission (CloudWatch_Embedded_Metric_Format_Specification).
import type { SmokeReport } from "./report";

export const METRICS_NAMESPACE = "AuroraIamProxy/Smoke";

/** What EventBridge Scheduler sends the smoke function on its schedule (a post-deploy invocation sends {}). */
export const SCHEDULE_SOURCE = "aurora-iam-proxy.schedule";

/** The metric names the alarms and the dashboard use. */
export const METRIC = {
    pass: "Pass",
    checkPass: "CheckPass",
    connectMs: "ConnectLatencyMs",
    certDays: "CertDaysToExpiry",
} as const;

interface EmfDocument {
    _aws: {
        Timestamp: number;
        CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }>;
    };
    [key: string]: unknown;
}

/**
 * One EMF document for the run (Stack dimension: overall pass, connect latency, certificate days) and one
 * per check (Stack, Check: its pass). A check that did not run is not reported, so "no data" stays visible.
 */
export function emfDocuments(report: SmokeReport, o: { stack: string; nowMs: number }): EmfDocument[] {
    const connect = report.checks.find((c) => c.name === "connect with IAM token");
    const certDays = report.checks.map((c) => c.figures?.certDaysToExpiry).find((d) => d !== undefined);
    const overall: EmfDocument = {
        _aws: {
            Timestamp: o.nowMs,
            CloudWatchMetrics: [{
                Namespace: METRICS_NAMESPACE,
                Dimensions: [["Stack"]],
                Metrics: [
                    { Name: METRIC.pass, Unit: "Count" },
                    ...(connect?.ok ? [{ Name: METRIC.connectMs, Unit: "Milliseconds" }] : []),
                    ...(certDays !== undefined ? [{ Name: METRIC.certDays, Unit: "None" }] : []),
                ],
            }],
        },
        Stack: o.stack,
        [METRIC.pass]: report.ok ? 1 : 0,
        ...(connect?.ok ? { [METRIC.connectMs]: connect.ms } : {}),
        ...(certDays !== undefined ? { [METRIC.certDays]: certDays } : {}),
    };
    const perCheck = report.checks.map((c): EmfDocument => ({
        _aws: {
            Timestamp: o.nowMs,
            CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [["Stack", "Check"]], Metrics: [{ Name: METRIC.checkPass, Unit: "Count" }] }],
        },
        Stack: o.stack,
        Check: c.name,
        [METRIC.checkPass]: c.ok ? 1 : 0,
    }));
    return [overall, ...perCheck];
}
