// The monthly-cost change between two estimates of a stack: per resource added, removed or changed,
// the totals and the assumptions that differ. Pure: the git side is ops/cost-diff.ts.
import { Estimate, Range } from "./estimate";

export type Change = "added" | "removed" | "changed";

export interface DiffLine {
    resource: string;
    type: string;
    change: Change;
    /** The resource's monthly figures (all its lines summed) at the base; null when it isn't there. */
    base: Range | null;
    head: Range | null;
    delta: Range;
}

/** The `--diff --json` document, exactly the shape. */
export interface CostDiff {
    stack: string;
    base: { ref: string; monthly: Range };
    head: { ref: string; monthly: Range };
    delta: Range;
    lines: DiffLine[];
}

/** One side of a diff: the estimate, the ref it was made at, and its assumptions in words. */
export interface DiffSide {
    ref: string;
    estimate: Estimate;
    assumptions: string[];
}

const cents = (x: number) => Math.round(x * 100) / 100;
const minus = (a: Range, b: Range): Range => ({
    low: cents(a.low - b.low),
    expected: cents(a.expected - b.expected),
    high: cents(a.high - b.high),
});
const ZERO: Range = { low: 0, expected: 0, high: 0 };

/** Each priced resource's figures, its lines summed, keyed by type and logical name. */
function perResource(e: Estimate): Map<string, { resource: string; type: string; monthly: Range; basis: string[] }> {
    const out = new Map<string, { resource: string; type: string; monthly: Range; basis: string[] }>();
    for (const l of e.lines) {
        const key = `${l.type}\u0000${l.resource}`;
        const entry = out.get(key) ?? { resource: l.resource, type: l.type, monthly: { ...ZERO }, basis: [] };
        entry.monthly = {
            low: cents(entry.monthly.low + l.low),
            expected: cents(entry.monthly.expected + l.monthly),
            high: cents(entry.monthly.high + l.high),
        };
        entry.basis.push(l.basis);
        out.set(key, entry);
    }
    return out;
}

export function diffEstimates(base: DiffSide, head: DiffSide): CostDiff {
    const before = perResource(base.estimate);
    const after = perResource(head.estimate);
    const lines: DiffLine[] = [];
    for (const [key, b] of before) {
        const h = after.get(key);
        if (!h) {
            lines.push({
                resource: b.resource,
                type: b.type,
                change: "removed",
                base: b.monthly,
                head: null,
                delta: minus(ZERO, b.monthly),
            });
            continue;
        }
        const delta = minus(h.monthly, b.monthly);
        if (delta.low !== 0 || delta.expected !== 0 || delta.high !== 0) {
            lines.push({ resource: b.resource, type: b.type, change: "changed", base: b.monthly, head: h.monthly, delta });
        }
    }
    for (const [key, h] of after) {
        if (!before.has(key))
            lines.push({ resource: h.resource, type: h.type, change: "added", base: null, head: h.monthly, delta: minus(h.monthly, ZERO) });
    }
    lines.sort((a, b) => Math.abs(b.delta.expected) - Math.abs(a.delta.expected) || a.resource.localeCompare(b.resource));
    return {
        stack: head.estimate.stack,
        base: { ref: base.ref, monthly: { ...base.estimate.monthly } },
        head: { ref: head.ref, monthly: { ...head.estimate.monthly } },
        delta: minus(head.estimate.monthly, base.estimate.monthly),
        lines,
    };
}

/** What the two sides assumed differently: region, price date, usage assumptions, in words. */
export function differingAssumptions(base: DiffSide, head: DiffSide): string[] {
    const out: string[] = [];
    if (base.estimate.region !== head.estimate.region) out.push(`region: ${base.estimate.region} → ${head.estimate.region}`);
    if (base.estimate.pricesAsOf !== head.estimate.pricesAsOf)
        out.push(`prices as of: ${base.estimate.pricesAsOf} → ${head.estimate.pricesAsOf}`);
    for (const a of base.assumptions) if (!head.assumptions.includes(a)) out.push(`base only: ${a}`);
    for (const a of head.assumptions) if (!base.assumptions.includes(a)) out.push(`head only: ${a}`);
    return out;
}

const money = (x: number) => `${x < 0 ? "-" : ""}$${Math.abs(x).toFixed(2)}`;
const signed = (x: number) => `${x > 0 ? "+" : x < 0 ? "-" : "±"}$${Math.abs(x).toFixed(2)}`;
const range = (r: Range | null) => (r ? `${money(r.expected)} (${money(r.low)}-${money(r.high)})` : "-");

/** The table `--diff` prints, the job log shows and the pull-request comment carries. */
export function formatDiff(d: CostDiff, assumptions: string[], basisOf?: (side: "base" | "head", line: DiffLine) => string[]): string[] {
    const out = [
        `Monthly cost change of stack ${d.stack}: ${d.base.ref} → ${d.head.ref}`,
        `  expected ${money(d.base.monthly.expected)} → ${money(d.head.monthly.expected)} (${signed(d.delta.expected)}); ` +
            `low ${money(d.base.monthly.low)} → ${money(d.head.monthly.low)} (${signed(d.delta.low)}); ` +
            `high ${money(d.base.monthly.high)} → ${money(d.head.monthly.high)} (${signed(d.delta.high)})`,
        "",
    ];
    if (d.lines.length === 0) out.push("  no priced resource changed");
    else out.push(`  ${"change".padEnd(8)} ${"delta".padStart(10)}  resource (type): base → head, expected (low-high)`);
    for (const l of d.lines) {
        out.push(
            `  ${l.change.padEnd(8)} ${signed(l.delta.expected).padStart(10)}  ${l.resource} (${l.type.split(":").pop()}): ${range(l.base)} → ${range(l.head)}`,
        );
        if (basisOf && l.change === "changed") {
            const [b, h] = [basisOf("base", l).join("; "), basisOf("head", l).join("; ")];
            if (b !== h) {
                out.push(`             base: ${b}`);
                out.push(`             head: ${h}`);
            }
        }
    }
    out.push("");
    out.push(assumptions.length === 0 ? "Assumptions that differ: none" : "Assumptions that differ:");
    for (const a of assumptions) out.push(`  - ${a}`);
    return out;
}

/** The basis lines of a resource in an estimate (for formatDiff). */
export function basisIn(e: Estimate, line: DiffLine): string[] {
    return e.lines.filter((l) => l.resource === line.resource && l.type === line.type).map((l) => l.basis);
}
