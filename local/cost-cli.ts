// `npm run cost -- --stack dev|prod [--json]`: the monthly cost of a stack, from the same offline plan
// `npm start` evaluates (Pulumi mocks; nothing is created, nothing is fetched).
import { evaluateStack } from "./mock-cloud";
import { SettingsError } from "../components/config";
import { Estimate, toJson, UnpricedRegionError } from "../cost/estimate";
import { estimateStack, formatEstimate } from "../cost/report";

export const STACKS = ["dev", "prod"] as const;
type Stack = (typeof STACKS)[number];

export interface CliOptions {
    stack: Stack;
    json: boolean;
}

/** Thrown for bad command-line input; the CLI prints the message and exits 2. */
export class UsageError extends Error {}

const USAGE = "usage: npm run cost -- --stack dev|prod [--json]";

export function parseArgs(argv: string[]): CliOptions | "help" {
    let stack: string | undefined;
    let json = false;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--help" || arg === "-h") return "help";
        if (arg === "--json") { json = true; continue; }
        if (arg === "--stack" || arg.startsWith("--stack=")) {
            stack = arg.includes("=") ? arg.slice("--stack=".length) : argv[++i];
            if (stack === undefined) throw new UsageError(`--stack needs a value; allowed: ${STACKS.join(", ")}`);
            continue;
        }
        throw new UsageError(`unknown argument ${JSON.stringify(arg)}; allowed: --stack ${STACKS.join("|")}, --json, --help`);
    }
    if (stack === undefined) throw new UsageError(`--stack is required; allowed: ${STACKS.join(", ")}`);
    if (!(STACKS as readonly string[]).includes(stack)) throw new UsageError(`unknown stack ${JSON.stringify(stack)}; allowed: ${STACKS.join(", ")}`);
    return { stack: stack as Stack, json };
}

export async function run(argv: string[], write: (line: string) => void = (l) => console.log(l)): Promise<number> {
    let opts: CliOptions | "help";
    try {
        opts = parseArgs(argv);
    } catch (err) {
        if (err instanceof UsageError) { console.error(`cost: ${err.message}`); return 2; }
        throw err;
    }
    if (opts === "help") { write(USAGE); return 0; }
    let e: Estimate;
    try {
        e = estimateStack(await evaluateStack(opts.stack));
    } catch (err) {
        if (err instanceof SettingsError || err instanceof UnpricedRegionError) { console.error(err.message); return 2; }
        throw err;
    }
    if (opts.json) write(JSON.stringify(toJson(e), null, 2));
    else formatEstimate(e).forEach((l) => write(l));
    return 0;
}

if (require.main === module) {
    run(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
        console.error(`cost: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
    });
}
