// The smoke runner as a Lambda function inside the VPC, on the application's own network path. It runs the
// same checks as the CLI; a failed check throws with the runner's one-line reason, which fails the
// aws.lambda.Invocation and so the `pulumi up` that triggered it.
import { runSmoke, SmokeOptions, SmokeReport } from "../runner";
import { inputFromEnv, mergeInputs, validateTarget } from "../target";

export interface SmokeHandlerDeps {
    env: Record<string, string | undefined>;
    /** Extra options, e.g. the local rehearsal's credentials and CA in tests. */
    options?: SmokeOptions;
    caPem?: string;
}

/** What the invocation returns and the stack exports: verdicts and timings, never a token. */
export interface SmokeSummary {
    ok: boolean;
    target: string;
    checks: Array<{ name: string; ok: boolean; detail: string; ms: number }>;
    totalMs: number;
}

export function summarize(report: SmokeReport): SmokeSummary {
    const t = report.target;
    return {
        ok: report.ok,
        target: `${t.user}@${t.host}:${t.port}/${t.database}`,
        checks: report.checks.map((c) => ({ name: c.name, ok: c.ok, detail: c.detail, ms: Math.round(c.ms) })),
        totalMs: Math.round(report.totalMs),
    };
}

export function createSmokeHandler(deps: SmokeHandlerDeps) {
    return async (): Promise<SmokeSummary> => {
        const target = validateTarget({
            ...mergeInputs(inputFromEnv(deps.env), { owner: deps.env.DB_OWNER }),
            ...(deps.caPem ? { caPem: deps.caPem } : {}),
        });
        const timeoutMs = Number(deps.env.SMOKE_TIMEOUT_MS ?? 20_000);
        // Right after a deploy the proxy's target may still be registering: keep trying to connect for all
        // but the last 30 s, which the checks need.
        const retryConnectMs = Math.max(0, timeoutMs - 30_000);
        const report = await runSmoke(target, { timeoutMs, retryConnectMs, ...deps.options });
        if (!report.ok) {
            // Lambda reports the message as errorMessage; the provider shows it as the update's failure.
            throw new Error(`smoke failed: ${report.reason ?? "a check did not hold"}`);
        }
        return summarize(report);
    };
}

export const handler = createSmokeHandler({ env: process.env });
