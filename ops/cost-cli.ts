// `npm run cost -- --stack NAME [--json]`: the monthly cost of a stack, from the same offline plan
// `npm start` evaluates (Pulumi mocks; nothing is created, nothing is fetched). NAME is any stack with a
// Pulumi.NAME.yaml, e.g. dev, prod or a copy such as staging.
//   --diff <git-ref>   the change from the plan at <ref> to the working tree's (ops/cost-diff.ts)
//   --unverified       the price rows some figure of which could not be confirmed (no --stack needed)
//   --policy-config    the policy pack config for `pulumi preview --policy-pack policy --policy-pack-config <file>`
import * as path from "path";
import { evaluateProgram, evaluateStack, stackConfig } from "../local/mock-cloud";
import { parseSettings, SettingsError } from "../components/config";
import { advise } from "../cost/advice";
import { basisIn, diffEstimates, differingAssumptions, formatDiff } from "../cost/diff";
import { Estimate, toJson, UnpricedRegionError } from "../cost/estimate";
import { PRICES, staleWarning, unverifiedRows } from "../cost/prices";
import { estimateStack, formatEstimate } from "../cost/report";
import { budgetPolicyConfig } from "../policy/rules/cost";
import { DiffError, diffSides } from "./cost-diff";
import { StackFileError } from "../local/stack-file";

export interface CliOptions {
    stack?: string;
    /** A Pulumi TypeScript program to price instead of this repository's stack file (e.g. examples/typescript/index.ts). */
    program?: string;
    json: boolean;
    diff?: string;
    unverified: boolean;
    policyConfig: boolean;
}

/** What the CLI reads from its surroundings; tests inject a clock and a repository. */
export interface CliContext {
    now?: Date;
    /** The project whose stack files are read and whose working tree --diff compares with (default: this one). */
    root?: string;
}

/** Thrown for bad command-line input; the CLI prints the message and exits 2. */
export class UsageError extends Error {}

const USAGE =
    "usage: npm run cost -- --stack NAME [--json] [--diff <git-ref>] [--policy-config] | --program FILE [--stack NAME] [--json] | --unverified   (NAME: any Pulumi.NAME.yaml here, e.g. dev or prod)";
const ALLOWED = "allowed: --stack NAME, --json, --diff <git-ref>, --policy-config, --program FILE, --unverified, --help";

export function parseArgs(argv: string[]): CliOptions | "help" {
    let stack: string | undefined;
    const opts: CliOptions = { json: false, unverified: false, policyConfig: false };
    const value = (arg: string, name: string, i: number): [string | undefined, number] =>
        arg.includes("=") ? [arg.slice(name.length + 1), i] : [argv[i + 1], i + 1];
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--help" || arg === "-h") return "help";
        if (arg === "--json") {
            opts.json = true;
            continue;
        }
        if (arg === "--unverified") {
            opts.unverified = true;
            continue;
        }
        if (arg === "--policy-config") {
            opts.policyConfig = true;
            continue;
        }
        if (arg === "--stack" || arg.startsWith("--stack=")) {
            [stack, i] = value(arg, "--stack", i);
            if (stack === undefined) throw new UsageError("--stack needs a value: a stack with a Pulumi.NAME.yaml, e.g. dev or prod");
            continue;
        }
        if (arg === "--program" || arg.startsWith("--program=")) {
            [opts.program, i] = value(arg, "--program", i);
            if (!opts.program) throw new UsageError("--program needs a TypeScript program file, e.g. examples/typescript/index.ts");
            continue;
        }
        if (arg === "--diff" || arg.startsWith("--diff=")) {
            [opts.diff, i] = value(arg, "--diff", i);
            if (!opts.diff) throw new UsageError("--diff needs a git ref, e.g. --diff origin/main");
            continue;
        }
        throw new UsageError(`unknown argument ${JSON.stringify(arg)}; ${ALLOWED}`);
    }
    if (opts.unverified) return opts;
    if (opts.program) {
        if (opts.diff || opts.policyConfig)
            throw new UsageError("--program goes with --json only; --diff and --policy-config read this repository's stack files");
        return { ...opts, stack: stack ?? "dev" };
    }
    if (stack === undefined) throw new UsageError("--stack is required: a stack with a Pulumi.NAME.yaml, e.g. dev or prod");
    if (opts.policyConfig && opts.diff) throw new UsageError("--policy-config and --diff don't go together; run them separately");
    return { ...opts, stack };
}

/** The rows `--unverified` lists (also in the README, which a test keeps in step). */
export function unverifiedLines(): string[] {
    const rows = unverifiedRows();
    return [
        `Price rows not confirmed against a page on the date read (${rows.length} of ${Object.keys(PRICES).length}); the value used is in cost/prices.ts:`,
        ...rows.map(({ key, price }) => `  ${key} (${price.unit}; read ${price.read}): ${price.source}`),
    ];
}

export async function run(argv: string[], write: (line: string) => void = (l) => console.log(l), ctx: CliContext = {}): Promise<number> {
    let opts: CliOptions | "help";
    try {
        opts = parseArgs(argv);
    } catch (err) {
        if (err instanceof UsageError) {
            console.error(`cost: ${err.message}`);
            return 2;
        }
        throw err;
    }
    if (opts === "help") {
        write(USAGE);
        return 0;
    }
    const stale = staleWarning(ctx.now ?? new Date());
    if (stale) console.error(`cost: ${stale}`);
    if (opts.unverified) {
        if (opts.json)
            write(
                JSON.stringify(
                    unverifiedRows().map(({ key, price }) => ({ key, unit: price.unit, read: price.read, source: price.source })),
                    null,
                    2,
                ),
            );
        else unverifiedLines().forEach((l) => write(l));
        return 0;
    }
    const stack = opts.stack!;
    try {
        if (opts.diff) {
            const { base, head } = await diffSides({ root: ctx.root, stack, ref: opts.diff });
            const d = diffEstimates(base, head);
            if (opts.json) write(JSON.stringify(d, null, 2));
            else
                formatDiff(d, differingAssumptions(base, head), (side, line) =>
                    basisIn(side === "base" ? base.estimate : head.estimate, line),
                ).forEach((l) => write(l));
            return 0;
        }
        if (opts.policyConfig) {
            // The budget policy can't read stack settings under the engine: hand it them as pack config.
            // Only the settings are needed, not the plan.
            write(JSON.stringify(budgetPolicyConfig(parseSettings(stack, stackConfig(stack, ctx.root)).budget), null, 2));
            return 0;
        }
        if (opts.program) {
            // Another program (e.g. one that brings its own VPC), under the same mocks, in the region its Pulumi.yaml names.
            const ev = await evaluateProgram(path.resolve(opts.program), stack);
            const e: Estimate = estimateStack({ ...ev, settings: { region: ev.region } });
            if (opts.json) write(JSON.stringify(toJson(e), null, 2));
            else formatEstimate(e).forEach((l) => write(l));
            return 0;
        }
        const ev = await evaluateStack(stack, undefined, { root: ctx.root });
        const e: Estimate = estimateStack(ev);
        const advice = advise(e.stack, e.region, ev.resources, ev.settings.environment);
        if (opts.json) write(JSON.stringify({ ...toJson(e), advice }, null, 2));
        else {
            formatEstimate(e).forEach((l) => write(l));
            write(
                advice.length === 0
                    ? "Advice: none (no setting here costs much more than a cheaper one that keeps the guarantees)"
                    : "Advice (expected monthly saving first):",
            );
            for (const a of advice)
                write(`  - ${a.monthlySaving > 0 ? `save $${a.monthlySaving.toFixed(2)}: ` : ""}${a.setting}: ${a.message}`);
        }
    } catch (err) {
        if (
            err instanceof SettingsError ||
            err instanceof UnpricedRegionError ||
            err instanceof DiffError ||
            err instanceof StackFileError
        ) {
            console.error(err.message);
            return 2;
        }
        throw err;
    }
    return 0;
}

if (require.main === module) {
    run(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (err) => {
            console.error(`cost: ${err instanceof Error ? err.message : String(err)}`);
            process.exit(1);
        },
    );
}
