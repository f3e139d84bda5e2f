// The cost of a change: `npm run cost -- --stack S --diff <git-ref>`, offline, between two commits of a
// temporary repository; and the diff itself over real plans (added, removed, changed, totals, shape).
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { diffEstimates, differingAssumptions, formatDiff } from "../cost/diff";
import { describeAssumptions, estimate, PlannedResource } from "../cost/estimate";
import { estimateStack } from "../cost/report";
import { run } from "../ops/cost-cli";
import { stackAsDeclared } from "./harness";

const root = path.join(__dirname, "..");
const near = (actual: number, expected: number, what = "") =>
    assert.ok(Math.abs(actual - expected) < 0.006, `${what} ${actual} ≠ ${expected}`);

describe("cost diff", function () {
    this.timeout(120000);

    describe("between two plans", () => {
        it("names a removed resource and an added one with their figures, and totals that add up", async () => {
            const ev = await stackAsDeclared("dev");
            const head: PlannedResource[] = [
                ...ev.resources.filter((r) => r.name !== "operator-relay"),
                { type: "aws:ec2/flowLog:FlowLog", name: "network-flow-log", inputs: { logDestinationType: "s3", trafficType: "ALL" } },
            ];
            const base = { ref: "base", estimate: estimateStack(ev), assumptions: describeAssumptions() };
            const after = { ref: "head", estimate: estimate("dev", "eu-west-1", head), assumptions: describeAssumptions() };
            const d = diffEstimates(base, after);
            assert.deepEqual(
                d.lines.map((l) => [l.change, l.resource]),
                [
                    ["removed", "operator-relay"],
                    ["added", "network-flow-log"],
                ],
            );
            const relay = base.estimate.lines.find((l) => l.resource === "operator-relay")!;
            assert.deepEqual(d.lines[0].base, { low: relay.low, expected: relay.monthly, high: relay.high });
            assert.equal(d.lines[0].head, null);
            near(d.lines[0].delta.expected, -relay.monthly);
            const flow = after.estimate.lines.find((l) => l.resource === "network-flow-log")!;
            assert.equal(d.lines[1].base, null);
            near(d.lines[1].delta.expected, flow.monthly);
            for (const k of ["low", "expected", "high"] as const) {
                near(d.delta[k], after.estimate.monthly[k] - base.estimate.monthly[k], k);
                near(
                    d.delta[k],
                    d.lines.reduce((x, l) => x + l.delta[k], 0),
                    `${k}: the lines add up`,
                );
            }
            assert.deepEqual(Object.keys(d), ["stack", "base", "head", "delta", "lines"]);
            assert.deepEqual(Object.keys(d.lines[0]), ["resource", "type", "change", "base", "head", "delta"]);
            assert.deepEqual(differingAssumptions(base, after), []);
            assert.deepEqual(differingAssumptions(base, { ...after, assumptions: ["NAT data 1 GB"] }).slice(-1), [
                "head only: NAT data 1 GB",
            ]);
            const table = formatDiff(d, []).join("\n");
            assert.match(table, /removed\s+-\$4\.06\s+operator-relay \(Instance\): \$4\.06 \(\$4\.06-\$4\.06\) → -/);
            assert.match(table, /Assumptions that differ: none/);
        });
    });

    describe("between two commits (a temporary repository, offline)", () => {
        let repo: string;
        const git = (...args: string[]) =>
            execFileSync("git", args, { cwd: repo, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

        before(() => {
            repo = fs.mkdtempSync(path.join(os.tmpdir(), "cost-diff-repo-"));
            // The files a plan needs: the program's rooms, the settings files, and the tool itself.
            for (const item of [
                "access",
                "client",
                "smoke",
                "components",
                "cost",
                "local",
                "Pulumi.yaml",
                "Pulumi.dev.yaml",
                "Pulumi.prod.yaml",
                "package.json",
                "package-lock.json",
                "tsconfig.json",
            ]) {
                fs.cpSync(path.join(root, item), path.join(repo, item), {
                    recursive: true,
                    filter: (src) => !src.includes("node_modules"),
                });
            }
            fs.symlinkSync(path.join(root, "node_modules"), path.join(repo, "node_modules"), "dir");
            fs.writeFileSync(path.join(repo, ".gitignore"), "node_modules\n");
            git("init", "--quiet");
            git("-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A");
            git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "one task");
            const file = path.join(repo, "Pulumi.dev.yaml");
            const yaml = fs.readFileSync(file, "utf8");
            assert.match(yaml, /\n    desiredCount: 1\n/);
            fs.writeFileSync(file, yaml.replace(/\n    desiredCount: 1\n/, "\n    desiredCount: 3\n"));
            git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-am", "three tasks");
        });

        after(() => {
            fs.rmSync(repo, { recursive: true, force: true });
        });

        it("names exactly the resource the setting changes, with the right sign and amount, and leaves no worktree behind", async () => {
            const out: string[] = [];
            assert.equal(await run(["--stack", "dev", "--diff", "HEAD~1", "--json"], (l) => out.push(l), { root: repo }), 0);
            const d = JSON.parse(out.join("\n"));
            assert.equal(d.stack, "dev");
            assert.match(d.base.ref, /^HEAD~1 \([0-9a-f]{8}\)$/);
            assert.match(d.head.ref, /^working tree \([0-9a-f]{8}\)$/);
            assert.deepEqual(
                d.lines.map((l: any) => [l.change, l.resource, l.type]),
                [["changed", "ecs-service", "aws:ecs/service:Service"]],
            );
            const service = (await stackAsDeclared("dev")).resources.find((r) => r.type === "aws:ecs/service:Service")!;
            const perTask =
                estimateStack(await stackAsDeclared("dev")).lines.find((l) => l.resource === "ecs-service")!.monthly /
                service.inputs.desiredCount;
            near(d.lines[0].delta.expected, 2 * perTask, "two more tasks");
            assert.ok(d.lines[0].delta.expected > 0);
            near(d.delta.expected, d.lines[0].delta.expected);
            near(d.head.monthly.expected - d.base.monthly.expected, d.delta.expected);
            assert.equal(git("worktree", "list").split("\n").length, 1, "the temporary worktree is gone");
            const errors: string[] = [];
            const original = console.error;
            console.error = (line: string) => errors.push(line);
            try {
                assert.equal(await run(["--stack", "dev", "--diff", "no-such-ref"], () => undefined, { root: repo }), 2);
            } finally {
                console.error = original;
            }
            assert.deepEqual(
                errors.filter((e) => !/^cost: warning/.test(e)),
                [
                    `--diff: "no-such-ref" is not a commit of the repository at ${fs.realpathSync(repo)}; fetch it first (e.g. git fetch origin main)`,
                ],
            );
        });
    });
});
