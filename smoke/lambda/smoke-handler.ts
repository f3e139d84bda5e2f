// The smoke runner as a Lambda function inside the VPC, on the application's own network path. It runs the
// same checks as the CLI. After a deploy a failed check throws with the runner's one-line reason, which fails
// the aws.lambda.Invocation and so the `pulumi up` that triggered it. On its schedule it does not throw
// (an asynchronous invocation that fails is retried twice): its verdicts reach the alarms as metrics.
// Every run writes them as EMF lines to stdout, and each check's verdict as a plain JSON line.
import { allowedMetrics, checkLogLines, emfDocuments, SCHEDULE_SOURCE } from "../metrics";
import { runSmoke, SmokeOptions, SmokeReport } from "../runner";
import { inputFromEnv, mergeInputs, validateTarget } from "../target";
import { warningOptionsFromEnv } from "../warnings";
import type { FunctionEnv } from "../../client/env";

export interface SmokeHandlerDeps {
    env: FunctionEnv;
    /** Extra options, e.g. the local rehearsal's credentials and CA in tests. */
    options?: SmokeOptions;
    caPem?: string;
    /** Where the EMF lines go. Lambda wraps only console.* output in its JSON log format, so stdout keeps them raw. */
    writeMetrics?: (line: string) => void;
    now?: () => number;
}

/** What EventBridge Scheduler sends on the schedule (SCHEDULE_SOURCE); a post-deploy invocation sends {}. */
export interface SmokeEvent {
    source?: string;
}

export { SCHEDULE_SOURCE };

/** What the invocation returns and the stack exports: verdicts and timings, never a token. */
export interface SmokeSummary {
    ok: boolean;
    target: string;
    /** warning: true marks the third state (not failed): a risk on a database the stack does not own. */
    checks: Array<{ name: string; ok: boolean; warning?: true; detail: string; ms: number }>;
    totalMs: number;
    /** How many checks are warnings; they fail the invocation only with SMOKE_WARNINGS_FAIL=true. */
    warnings: number;
}

export function summarize(report: SmokeReport): SmokeSummary {
    const t = report.target;
    return {
        ok: report.ok,
        target: `${t.user}@${t.host}:${t.port}/${t.database}`,
        checks: report.checks.map((c) => ({
            name: c.name,
            ok: c.ok,
            ...(c.ok && c.warning ? { warning: true as const } : {}),
            detail: c.detail,
            ms: Math.round(c.ms),
        })),
        totalMs: Math.round(report.totalMs),
        warnings: report.warnings,
    };
}

export function createSmokeHandler(deps: SmokeHandlerDeps) {
    const writeMetrics =
        deps.writeMetrics ??
        ((line: string) => {
            process.stdout.write(`${line}\n`);
        });
    return async (event: SmokeEvent = {}): Promise<SmokeSummary> => {
        const target = validateTarget({
            ...mergeInputs(inputFromEnv(deps.env), { owner: deps.env.DB_OWNER }),
            ...(deps.caPem ? { caPem: deps.caPem } : {}),
        });
        const timeoutMs = Number(deps.env.SMOKE_TIMEOUT_MS ?? 20_000);
        // Right after a deploy the proxy's target may still be registering: keep trying to connect for all
        // but the last 30 s, which the checks need.
        const retryConnectMs = Math.max(0, timeoutMs - 30_000);
        const scheduled = event?.source === SCHEDULE_SOURCE;
        // Stamped at the start, so each run's datapoint sits at the same place in its alarm period.
        const startedMs = (deps.now ?? Date.now)();
        // Existing-database mode, the cluster's security groups and whether warnings fail (DB_EXISTING_DATABASE,
        // DB_CLUSTER_SECURITY_GROUP_IDS, SMOKE_WARNINGS_FAIL), read before anything connects. Warnings fail the
        // post-deploy invocation only (smoke.warningsFail): on the schedule the Pass metric stays about failures.
        const warnings = { ...warningOptionsFromEnv(deps.env), ...(scheduled ? { warningsFail: false } : {}) };
        const report = await runSmoke(target, { timeoutMs, retryConnectMs: scheduled ? 0 : retryConnectMs, ...deps.options, ...warnings });
        const stack = deps.env.STACK_NAME ?? "unknown";
        // Only the metrics the function was deployed to publish (SMOKE_METRICS, priced by the cost tool); each
        // check's verdict as a plain log line.
        for (const doc of emfDocuments(report, { stack, nowMs: startedMs, publish: allowedMetrics(deps.env.SMOKE_METRICS) }))
            writeMetrics(JSON.stringify(doc));
        for (const line of checkLogLines(report, { stack })) writeMetrics(line);
        if (!report.ok && !scheduled) {
            // Lambda reports the message as errorMessage; the provider shows it as the update's failure.
            throw new Error(`smoke failed: ${report.reason ?? "a check did not hold"}`);
        }
        return summarize(report);
    };
}

export const handler = createSmokeHandler({ env: process.env });
