// `npm run cost -- --stack S --diff <git-ref>`: the plan at <ref> and at the working tree, each
// evaluated with its own code and settings under the mock cloud and priced with its own cost/ table.
// The ref is checked out into a temporary git worktree (offline: a local checkout) that reuses the
// working tree's node_modules through a symlink; it is removed afterwards, whatever happens.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DiffSide } from "../cost/diff";
import { withTimeout } from "../local/deadline";

/** Thrown for a ref that isn't a commit, a repository that isn't one, or an evaluation that took too long. */
export class DiffError extends Error {}

/** How long one side may take to evaluate, and each git command. */
export const EVALUATION_TIMEOUT_MS = 120_000;
const GIT_TIMEOUT_MS = 30_000;

function git(cwd: string, args: string[]): string {
    try {
        return execFileSync("git", args, { cwd, encoding: "utf8", timeout: GIT_TIMEOUT_MS, stdio: ["ignore", "pipe", "pipe"] }).trim();
    } catch (err: any) {
        const detail = String(err?.stderr ?? err?.message ?? err)
            .trim()
            .split("\n")[0];
        throw new DiffError(`git ${args.join(" ")} failed in ${cwd}: ${detail}`);
    }
}

/** The commit a ref names, or a one-line error naming the ref. */
export function resolveRef(root: string, ref: string): string {
    if (!/^[\w./@^~{}-]+$/.test(ref) || ref.startsWith("-"))
        throw new DiffError(`--diff: ${JSON.stringify(ref)} is not a git ref; use a branch, tag or commit, e.g. origin/main`);
    try {
        return execFileSync("git", ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], {
            cwd: root,
            encoding: "utf8",
            timeout: GIT_TIMEOUT_MS,
        }).trim();
    } catch {
        throw new DiffError(
            `--diff: ${JSON.stringify(ref)} is not a commit of the repository at ${root}; fetch it first (e.g. git fetch origin main)`,
        );
    }
}

/**
 * The stack's estimate from the project at `dir`, with that project's own modules: its mock cloud,
 * settings files and cost/ table. Its `@pulumi/*` resolve through node_modules to the same packages.
 */
async function estimateAt(dir: string, stack: string, ref: string, ms: number): Promise<DiffSide> {
    const need = ["local/mock-cloud.ts", "cost/report.ts", "cost/estimate.ts"];
    const missing = need.filter((f) => !fs.existsSync(path.join(dir, f)));
    if (missing.length > 0)
        throw new DiffError(`--diff: ${ref} has no ${missing.join(", ")}; it predates the cost tool, so it can't be priced`);
    const mockCloud = require(path.join(dir, "local/mock-cloud.ts"));
    const report = require(path.join(dir, "cost/report.ts"));
    const estimateModule = require(path.join(dir, "cost/estimate.ts"));
    const ev = await withTimeout(
        mockCloud.evaluateStack(stack),
        ms,
        `evaluating stack ${stack} at ${ref}`,
        (m) => new DiffError(`${m}; gave up`),
    );
    return { ref, estimate: report.estimateStack(ev), assumptions: estimateModule.describeAssumptions() };
}

export interface DiffOptions {
    /** The repository whose working tree is the head (default: this project). */
    root?: string;
    stack: string;
    ref: string;
    timeoutMs?: number;
}

/** Both sides of `--diff`: the base at `ref` (a temporary worktree) and the head (the working tree). */
export async function diffSides(opts: DiffOptions): Promise<{ base: DiffSide; head: DiffSide }> {
    const root = fs.realpathSync(opts.root ?? path.join(__dirname, ".."));
    const ms = opts.timeoutMs ?? EVALUATION_TIMEOUT_MS;
    const top = git(root, ["rev-parse", "--show-toplevel"]);
    const commit = resolveRef(top, opts.ref);
    const short = `${opts.ref} (${commit.slice(0, 8)})`;
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cost-diff-"));
    const worktree = path.join(scratch, "base");
    try {
        git(top, ["worktree", "add", "--detach", "--quiet", worktree, commit]);
        const modules = path.join(root, "node_modules");
        if (!fs.existsSync(modules)) throw new DiffError(`--diff: ${modules} is missing; run npm ci first`);
        fs.symlinkSync(modules, path.join(worktree, path.relative(top, root), "node_modules"), "dir");
        const base = await estimateAt(path.join(worktree, path.relative(top, root)), opts.stack, short, ms);
        const dirty = git(top, ["status", "--porcelain", "--untracked-files=no"]) !== "";
        const head = await estimateAt(
            root,
            opts.stack,
            dirty ? "working tree (uncommitted changes)" : `working tree (${git(top, ["rev-parse", "--short=8", "HEAD"])})`,
            ms,
        );
        return { base, head };
    } finally {
        try {
            git(top, ["worktree", "remove", "--force", worktree]);
        } catch {
            /* removed below; prune forgets it */
        }
        fs.rmSync(scratch, { recursive: true, force: true });
        try {
            git(top, ["worktree", "prune"]);
        } catch {
            /* nothing to prune */
        }
    }
}
