// Bundles a Lambda handler with esbuild (no Docker): one minified CommonJS file with every dependency
// inside, so the function never depends on which SDK version the Lambda runtime happens to ship.
// `npm run bundle` prints each bundle's zipped size and its cold module-load time.
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { deflateRawSync } from "zlib";
import { buildSync } from "esbuild";

export const HANDLERS = {
    smoke: path.join(__dirname, "smoke-handler.ts"),
    bootstrap: path.join(__dirname, "bootstrap-handler.ts"),
} as const;
export type HandlerName = keyof typeof HANDLERS;

const PROJECT_ROOT = path.join(__dirname, "..", "..");

/** The Lambda runtime the bundles target. */
export const LAMBDA_RUNTIME = "nodejs22.x";

const cache = new Map<HandlerName, { code: string; inputs: string[] }>();

// Shared by every copy of this module in the process: `npm run cost -- --diff` loads a second checkout
// of the project, whose handlers are usually the same. Keyed by the handler and the content of what a
// bundle may contain (access/, client/, smoke/, which test/layers.test.ts enforces, and the lockfile).
const SHARED = Symbol.for("aurora-iam-proxy:lambda-bundles");
const shared: Map<string, { code: string; inputs: string[] }> = ((globalThis as any)[SHARED] ??= new Map());

function sourcesDigest(name: HandlerName): string {
    const hash = createHash("sha256").update(name);
    const walk = (dir: string) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
            const file = path.join(dir, entry.name);
            if (entry.isDirectory()) walk(file);
            else if (/\.(ts|js|json)$/.test(entry.name)) hash.update(path.relative(PROJECT_ROOT, file)).update(fs.readFileSync(file));
        }
    };
    for (const room of ["access", "client", "smoke"]) walk(path.join(PROJECT_ROOT, room));
    const lock = path.join(PROJECT_ROOT, "package-lock.json");
    if (fs.existsSync(lock)) hash.update(fs.readFileSync(lock));
    return hash.digest("hex");
}

/** The bundled source of a handler, built once per process. */
export function bundle(name: HandlerName): string {
    return build(name).code;
}

/** Every file esbuild put into a handler's bundle (from its metafile), relative to the project root. */
export function bundleInputs(name: HandlerName): string[] {
    return build(name).inputs;
}

function build(name: HandlerName): { code: string; inputs: string[] } {
    const cached = cache.get(name);
    if (cached) return cached;
    const key = sourcesDigest(name);
    const built = shared.get(key) ?? esbuild(name);
    shared.set(key, built);
    cache.set(name, built);
    return built;
}

function esbuild(name: HandlerName): { code: string; inputs: string[] } {
    const result = buildSync({
        entryPoints: [HANDLERS[name]],
        bundle: true,
        platform: "node",
        target: "node22",
        format: "cjs",
        minify: true,
        write: false,
        legalComments: "none",
        // pg's optional native binding is never installed; without this esbuild would fail to resolve it.
        external: ["pg-native"],
        logLevel: "silent",
        metafile: true,
        absWorkingDir: PROJECT_ROOT,
    });
    return { code: result.outputFiles[0].text, inputs: Object.keys(result.metafile.inputs) };
}

/** Roughly what Lambda's zip upload weighs: the deflated bundle. */
export function zippedBytes(code: string): number {
    return deflateRawSync(Buffer.from(code), { level: 9 }).length;
}

/** Milliseconds for a fresh Node process to load the bundle, less the cost of starting Node itself. */
export function coldLoadMs(code: string): number {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bundle-"));
    try {
        const file = path.join(dir, "index.js");
        fs.writeFileSync(file, code);
        const probe = `const t=process.hrtime.bigint();require(${JSON.stringify(file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
        const runs = Array.from({ length: 5 }, () => {
            const r = spawnSync(process.execPath, ["-e", probe], { encoding: "utf8", timeout: 20_000 });
            if (r.status !== 0) throw new Error(`loading the bundle failed: ${r.stderr.trim().split("\n")[0]}`);
            return Number(r.stdout);
        });
        return runs.sort((a, b) => a - b)[2];
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

if (require.main === module) {
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
        const code = bundle(name);
        console.log(
            `${name}: ${(code.length / 1024).toFixed(0)} KiB bundled, ${(zippedBytes(code) / 1024).toFixed(0)} KiB zipped, cold module load ${coldLoadMs(code).toFixed(0)} ms (median of 5)`,
        );
    }
}
