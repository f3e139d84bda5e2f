// The verdict, as data (JSON for CI and the Lambda) and as a table for people.

import type { CheckResult } from "./checks";
import { redact } from "../client/errors";

export interface SmokeReport {
  ok: boolean;
  target: { host: string; port: number; database: string; user: string; region: string };
  checks: CheckResult[];
  totalMs: number;
  /** One line: the first failure. */
  reason?: string;
}

export function buildReport(target: SmokeReport["target"], checks: CheckResult[], totalMs: number): SmokeReport {
  const clean = checks.map((c) => ({ ...c, detail: redact(c.detail) }));
  const ok = clean.length > 0 && clean.every((c) => c.ok);
  const first = clean.find((c) => !c.ok);
  return {
    ok,
    target: { host: target.host, port: target.port, database: target.database, user: target.user, region: target.region },
    checks: clean,
    totalMs: Math.round(totalMs),
    ...(first ? { reason: `${first.name}: ${first.detail}` } : clean.length === 0 ? { reason: "no checks ran" } : {}),
  };
}

export function formatReport(r: SmokeReport): string {
  const t = r.target;
  const rows = r.checks.map((c) => [c.ok ? "✓" : "✗", c.name, redact(c.detail), `${c.ms} ms`]);
  const header = ["", "check", "detail", "ms"];
  const widths = [1, 2].map((i) => Math.max(header[i].length, ...rows.map((row) => row[i].length)));
  const line = (row: string[]): string =>
    `${row[0] || " "}  ${row[1].padEnd(widths[0])}  ${row[2].padEnd(widths[1])}  ${row[3].padStart(8)}`.trimEnd();
  const verdict = r.ok
    ? `PASS  ${r.checks.length}/${r.checks.length} checks in ${r.totalMs} ms`
    : `FAIL  ${r.checks.filter((c) => !c.ok).length} of ${r.checks.length} checks failed in ${r.totalMs} ms: ${redact(r.reason ?? "")}`;
  return [
    `smoke ${t.user}@${t.host}:${t.port}/${t.database} (${t.region})`,
    line(header),
    ...rows.map(line),
    verdict,
  ].join("\n");
}
