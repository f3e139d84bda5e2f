// The CI workflows a team relies on between deploys.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

const workflow = (name: string) => parse(fs.readFileSync(path.join(__dirname, "..", ".github", "workflows", name), "utf8"));

describe("workflows", () => {
    it("previews every stack on a schedule and fails on any change (the drift check)", () => {
        const drift = workflow("drift.yml");
        assert.ok(drift.on.schedule?.length >= 1, "runs on a schedule");
        assert.ok("workflow_dispatch" in drift.on, "can be run on demand");
        const job = drift.jobs.preview;
        assert.deepEqual(job.strategy.matrix.stack, ["dev", "prod"]);
        const run = job.steps.map((s: any) => s.run).filter(Boolean).join("\n");
        assert.match(run, /pulumi preview --stack \$\{\{ matrix\.stack \}\}.*--refresh.*--expect-no-changes/);
        assert.ok(job.steps.some((s: any) => s.run === "npm ci"), "installs from the lockfile first");
    });
});
