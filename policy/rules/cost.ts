// The stack's expected monthly cost against its budget. The plan is priced with the project's own
// estimator (cost/estimate.ts, a dated offline price table), from the same resources the policy sees.
//
// `@pulumi/policy` doesn't show a policy the stack's settings, so the budget is read, most explicit
// first, from: the policy's config (`--policy-pack-config`; `runPolicies` callers pass the stack's
// `budget` settings through `budgetPolicyConfig`), the stack tags `BudgetMonthlyUsd` and
// `BudgetEnforce`, the same two keys in the aws provider's defaultTags. No budget: not applicable.
// Advisory by default; mandatory when the budget says `enforce`.
import { PolicyPackConfig, PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { estimate, PlannedResource, UnpricedRegionError } from "../../cost/estimate";
import { isUnknownSentinel, providerDefaultTags, raw, stackProviders } from "../util";

export const COST_POLICY_NAME = "cost-within-budget";

export interface BudgetConfig {
    /** USD per month. */
    monthlyUsd?: number;
    /** Report an over-budget plan as mandatory (fails the preview) instead of advisory. */
    enforce?: boolean;
    /** The region to price in; defaults to the aws provider's region. */
    region?: string;
}

/** The pack config that hands a stack's `budget` settings to this policy (runPolicies' `config`). */
export function budgetPolicyConfig(budget: { monthlyUsd?: number; enforce: boolean } | undefined): PolicyPackConfig {
    if (budget?.monthlyUsd === undefined) return {};
    return { [COST_POLICY_NAME]: { monthlyUsd: budget.monthlyUsd, enforce: budget.enforce } };
}

interface Budget {
    monthlyUsd: number;
    enforce: boolean;
    from: string;
}

function parseAmount(value: unknown): number | undefined {
    const n = typeof value === "string" ? Number(value.trim()) : value;
    return typeof n === "number" && Number.isFinite(n) && n > 0 ? n : undefined;
}

const isTrue = (value: unknown) => value === true || (typeof value === "string" && /^true$/i.test(value.trim()));

function budgetOf(
    config: BudgetConfig,
    stackTags: ReadonlyMap<string, string> | undefined,
    resources: PolicyResource[],
): Budget | undefined {
    const fromConfig = parseAmount(config.monthlyUsd);
    if (fromConfig !== undefined) return { monthlyUsd: fromConfig, enforce: isTrue(config.enforce), from: "the policy config" };
    const fromTag = parseAmount(stackTags?.get("BudgetMonthlyUsd"));
    if (fromTag !== undefined)
        return { monthlyUsd: fromTag, enforce: isTrue(stackTags?.get("BudgetEnforce")), from: "stack tag BudgetMonthlyUsd" };
    for (const provider of stackProviders(resources)) {
        const tags = providerDefaultTags(provider);
        const amount = parseAmount(tags.BudgetMonthlyUsd);
        if (amount !== undefined)
            return { monthlyUsd: amount, enforce: isTrue(tags.BudgetEnforce), from: "the aws provider's default tag BudgetMonthlyUsd" };
    }
    return undefined;
}

/** A plain copy of a policy's view of a value: proxies unwrapped, preview unknowns dropped. */
function plain(value: unknown): any {
    const v = raw(value);
    if (isUnknownSentinel(v)) return undefined;
    if (Array.isArray(v)) return v.map(plain);
    if (v !== null && typeof v === "object") {
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) out[k] = plain(x);
        return out;
    }
    return v;
}

function regionOf(config: BudgetConfig, resources: PolicyResource[]): string | undefined {
    if (config.region) return config.region;
    for (const provider of stackProviders(resources)) {
        const region = plain(provider.props)?.region;
        if (provider.type.startsWith("pulumi:providers:aws") && typeof region === "string") return region;
    }
    return undefined;
}

const money = (x: number) => `$${x.toFixed(2)}`;

export const costWithinBudget: StackValidationPolicy = {
    name: COST_POLICY_NAME,
    description:
        "The plan's expected monthly cost (cost/estimate.ts, offline price table) stays within the stack's budget; " +
        "advisory unless the budget asks to be enforced.",
    enforcementLevel: "advisory",
    severity: "medium",
    configSchema: {
        properties: {
            monthlyUsd: {
                type: "number",
                description:
                    "The budget in USD per month; defaults to the stack tag BudgetMonthlyUsd, then the aws provider's default tag of that name.",
            },
            enforce: {
                type: "boolean",
                description: "Report an over-budget plan as mandatory; defaults to the BudgetEnforce tag, else false.",
            },
            region: { type: "string", description: "The region to price in; defaults to the aws provider's region." },
        },
    },
    validateStack: (args, report) => {
        const config = args.getConfig<BudgetConfig>() ?? {};
        const budget = budgetOf(config, args.stackTags, args.resources);
        if (!budget) {
            args.notApplicable("no budget: set budget.monthlyUsd in the stack's settings, or the stack tag BudgetMonthlyUsd");
            return;
        }
        const level = budget.enforce ? "mandatory" : "advisory";
        const say = (message: string) =>
            (report as unknown as (v: { message: string; enforcementLevel: string }) => void)({ message, enforcementLevel: level });
        const region = regionOf(config, args.resources);
        const planned: PlannedResource[] = args.resources.map((r) => {
            const props = plain(r.props) ?? {};
            return { type: r.type, name: r.name, inputs: props, state: props, id: typeof props.id === "string" ? props.id : undefined };
        });
        let e;
        try {
            e = estimate("this stack", region ?? "(unknown)", planned);
        } catch (err) {
            if (err instanceof UnpricedRegionError) {
                say(`can't compare the plan with the budget of ${money(budget.monthlyUsd)}: ${err.message.replace(/^this stack: /, "")}`);
                return;
            }
            throw err;
        }
        if (e.monthly.expected <= budget.monthlyUsd) return;
        const top = [...e.lines]
            .sort((a, b) => b.monthly - a.monthly)
            .slice(0, 3)
            .map((l) => `${l.resource} ${money(l.monthly)}`)
            .join(", ");
        const unpriced = e.notPriced.length > 0 ? `; ${e.notPriced.length} resource(s) not priced, not included` : "";
        say(
            `expected monthly cost ${money(e.monthly.expected)} (low ${money(e.monthly.low)}, high ${money(e.monthly.high)}; ${e.region}, prices as of ${e.pricesAsOf}) ` +
                `is above the budget of ${money(budget.monthlyUsd)} from ${budget.from}${unpriced}; largest lines: ${top}. ` +
                "Lower capacity, NAT gateways or task size, or raise budget.monthlyUsd (npm run cost -- --stack <name> shows every line)",
        );
    },
};
