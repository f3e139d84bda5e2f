// The verdict, as data (JSON for CI and the Lambda) and as a table for people.

import type { CheckResult } from "./checks";
import { redact } from "../client/errors";

export interface SmokeReport {
    ok: boolean;
    target: { host: string; port: number; database: string; user: string; region: string };
    checks: CheckResult[];
    totalMs: number;
    /** One line: the first failure (or, when warnings fail the run, the first warning). */
    reason?: string;
    /** How many rows are warnings (the third state: not failed). */
    warnings: number;
    /** Whether warnings failed this run (SMOKE_WARNINGS_FAIL=true, --warnings-fail). */
    warningsFail: boolean;
}

/** A row's state: failed, a warning (not failed), or ok. */
export type CheckState = "ok" | "warning" | "failed";

export function checkState(c: Pick<CheckResult, "ok" | "warning">): CheckState {
    return !c.ok ? "failed" : c.warning ? "warning" : "ok";
}

export function buildReport(
    target: SmokeReport["target"],
    checks: CheckResult[],
    totalMs: number,
    o: { warningsFail?: boolean } = {},
): SmokeReport {
    const clean = checks.map((c) => ({ ...c, detail: redact(c.detail) }));
    const warningsFail = o.warningsFail === true;
    const warnings = clean.filter((c) => checkState(c) === "warning");
    const first = clean.find((c) => !c.ok);
    const failingWarning = warningsFail ? warnings[0] : undefined;
    const ok = clean.length > 0 && first === undefined && failingWarning === undefined;
    const reason = first
        ? `${first.name}: ${first.detail}`
        : failingWarning
          ? `${warnings.length} warning${warnings.length === 1 ? "" : "s"} and warnings fail this run (warnings-fail); first: ${failingWarning.name}: ${failingWarning.detail}`
          : clean.length === 0
            ? "no checks ran"
            : undefined;
    return {
        ok,
        target: { host: target.host, port: target.port, database: target.database, user: target.user, region: target.region },
        checks: clean,
        totalMs: Math.round(totalMs),
        ...(reason !== undefined ? { reason } : {}),
        warnings: warnings.length,
        warningsFail,
    };
}

const SYMBOL: Record<CheckState, string> = { ok: "✓", warning: "!", failed: "✗" };

export function formatReport(r: SmokeReport): string {
    const t = r.target;
    const rows = r.checks.map((c) => [SYMBOL[checkState(c)], c.name, redact(c.detail), `${c.ms} ms`]);
    const header = ["", "check", "detail", "ms"];
    const widths = [1, 2].map((i) => Math.max(header[i].length, ...rows.map((row) => row[i].length)));
    const line = (row: string[]): string =>
        `${row[0] || " "}  ${row[1].padEnd(widths[0])}  ${row[2].padEnd(widths[1])}  ${row[3].padStart(8)}`.trimEnd();
    const failed = r.checks.filter((c) => !c.ok).length;
    const held = r.checks.length - failed - r.warnings;
    const warnings = r.warnings === 0 ? "" : `, ${r.warnings} warning${r.warnings === 1 ? "" : "s"}`;
    const verdict = r.ok
        ? r.warnings === 0
            ? `PASS  ${r.checks.length}/${r.checks.length} checks in ${r.totalMs} ms`
            : `PASS  ${held}/${r.checks.length} checks hold${warnings} (not failing the run; --warnings-fail or SMOKE_WARNINGS_FAIL=true would) in ${r.totalMs} ms`
        : failed === 0
          ? `FAIL  ${r.warnings} warning${r.warnings === 1 ? "" : "s"} and warnings fail this run, in ${r.totalMs} ms: ${redact(r.reason ?? "")}`
          : `FAIL  ${failed} of ${r.checks.length} checks failed${warnings} in ${r.totalMs} ms: ${redact(r.reason ?? "")}`;
    return [`smoke ${t.user}@${t.host}:${t.port}/${t.database} (${t.region})`, line(header), ...rows.map(line), verdict].join("\n");
}
