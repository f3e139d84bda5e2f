// `npm run cost -- --stack NAME [--json]`: the monthly cost of a stack, from the same offline plan
// `npm start` evaluates (Pulumi mocks; nothing is created, nothing is fetched). NAME is any stack with a
// Pulumi.NAME.yaml, e.g. dev, prod or a copy such as staging.
import { evaluateStack } from "./mock-cloud";
import { StackFileError } from "./stack-file";
import { SettingsError } from "../components/config";
import { Estimate, toJson, UnpricedRegionError } from "../cost/estimate";
import { estimateStack, formatEstimate } from "../cost/report";

export interface CliOptions {
    stack: string;
    json: boolean;
}

/** Thrown for bad command-line input; the CLI prints the message and exits 2. */
export class UsageError extends Error {}

const USAGE = "usage: npm run cost -- --stack NAME [--json]   (NAME: any Pulumi.NAME.yaml here, e.g. dev or prod)";

export function parseArgs(argv: string[]): CliOptions | "help" {
    let stack: string | undefined;
    let json = false;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--help" || arg === "-h") return "help";
        if (arg === "--json") { json = true; continue; }
        if (arg === "--stack" || arg.startsWith("--stack=")) {
            stack = arg.includes("=") ? arg.slice("--stack=".length) : argv[++i];
            if (stack === undefined) throw new UsageError("--stack needs a value: a stack with a Pulumi.NAME.yaml, e.g. dev or prod");
            continue;
        }
        throw new UsageError(`unknown argument ${JSON.stringify(arg)}; allowed: --stack NAME, --json, --help`);
    }
    if (stack === undefined) throw new UsageError("--stack is required: a stack with a Pulumi.NAME.yaml, e.g. dev or prod");
    return { stack, json };
}

/** `root`: where the stack files are (default: the project); tests point it at a folder with a copied stack file. */
export async function run(argv: string[], write: (line: string) => void = (l) => console.log(l), o: { root?: string } = {}): Promise<number> {
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
        e = estimateStack(await evaluateStack(opts.stack, undefined, { root: o.root }));
    } catch (err) {
        if (err instanceof SettingsError || err instanceof UnpricedRegionError || err instanceof StackFileError) { console.error(err.message); return 2; }
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
