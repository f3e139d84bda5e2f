// What a person reads: the estimate as a table (`npm run cost`) and as a short section (`npm start`).
import { describeAssumptions, estimate, Estimate, PlannedResource, UnpricedRegionError } from "./estimate";

/** A stack as the mock cloud evaluates it (local/mock-cloud.ts `evaluateStack`). */
export interface EvaluatedStack {
    stack: string;
    resources: PlannedResource[];
    settings: { region: string };
}

/** The estimate for an evaluated stack, in its own region. */
export function estimateStack(ev: EvaluatedStack): Estimate {
    return estimate(ev.stack, ev.settings.region, ev.resources);
}

/** Dollars with cents, as every table and line of the cost tool shows them. */
export const money = (x: number) => `$${x.toFixed(2)}`;

/** Lines, most expensive first (ties keep plan order). */
export function byCost(e: Estimate) {
    return [...e.lines]
        .map((l, i) => ({ l, i }))
        .sort((a, b) => b.l.monthly - a.l.monthly || a.i - b.i)
        .map(({ l }) => l);
}

/**
 * Expected monthly cost per part of the plan, most expensive first: the first word of each resource's name
 * (`database-instance-1` belongs to `database`), which is the AuroraIamProxy part (or the example's `ecs`) that
 * declares it. Cents are summed, not re-rounded per part, so the parts add up to the total.
 */
export function costByPart(e: Estimate): Array<{ part: string; monthly: number }> {
    const cents = new Map<string, number>();
    for (const l of e.lines) {
        const part = l.resource.split("-")[0];
        cents.set(part, (cents.get(part) ?? 0) + Math.round(l.monthly * 100));
    }
    return [...cents]
        .map(([part, c]) => ({ part, monthly: c / 100 }))
        .sort((a, b) => b.monthly - a.monthly || a.part.localeCompare(b.part));
}

/** The full table: every line with low / expected / high and its basis, then what is not priced and the assumptions. */
export function formatEstimate(e: Estimate): string[] {
    const out = [
        `Monthly cost of stack ${e.stack} (${e.region}, ${e.currency}, prices as of ${e.pricesAsOf}, estimated from the offline plan)`,
        `  expected ${money(e.monthly.expected)}   low ${money(e.monthly.low)}   high ${money(e.monthly.high)}`,
        "",
        `  ${"expected".padStart(9)} ${"low".padStart(9)} ${"high".padStart(9)}  resource (type): basis`,
    ];
    for (const l of byCost(e)) {
        const kind = l.type.split(":").pop();
        out.push(
            `  ${money(l.monthly).padStart(9)} ${money(l.low).padStart(9)} ${money(l.high).padStart(9)}  ${l.resource} (${kind}): ${l.basis}`,
        );
    }
    out.push(`  ${money(e.monthly.expected).padStart(9)} ${money(e.monthly.low).padStart(9)} ${money(e.monthly.high).padStart(9)}  total`);
    out.push("", "By part (expected):");
    for (const p of costByPart(e)) out.push(`  ${money(p.monthly).padStart(9)}  ${p.part}`);
    out.push("");
    if (e.notPriced.length > 0) {
        out.push(`Not priced (${e.notPriced.length}): not included in the totals above`);
        for (const n of e.notPriced) out.push(`  ${n.resource} (${n.type}): ${n.reason}`);
    } else {
        out.push("Not priced: none (every resource in the plan is priced or free)");
    }
    const kinds = [...new Set(e.free.map((f) => f.type.split(":").pop()))];
    out.push(`Free (${e.free.length}): ${kinds.join(", ")}`);
    out.push("Assumptions (low / expected / high):");
    for (const a of describeAssumptions()) out.push(`  - ${a}`);
    return out;
}

/**
 * A few lines for `npm start`: the totals and the largest lines. A region the price table lacks is a warning
 * here, not a failure: the rehearsal's verdict is about the plan, the policies and the smoke, not the bill.
 */
export function costSection(ev: EvaluatedStack, top = 5): string[] {
    let e: Estimate;
    try {
        e = estimateStack(ev);
    } catch (err) {
        if (err instanceof UnpricedRegionError) return [`Monthly cost: warning: not estimated - ${err.message}`];
        throw err;
    }
    const out = [
        `Monthly cost (${e.region}, prices as of ${e.pricesAsOf}; npm run cost -- --stack ${e.stack} for every line): ` +
            `expected ${money(e.monthly.expected)}, low ${money(e.monthly.low)}, high ${money(e.monthly.high)}`,
    ];
    for (const l of byCost(e).slice(0, top)) out.push(`  ${money(l.monthly).padStart(8)}  ${l.resource}: ${l.basis}`);
    if (e.notPriced.length > 0) out.push(`  not priced: ${e.notPriced.map((n) => `${n.resource} (${n.type})`).join(", ")}`);
    return out;
}
