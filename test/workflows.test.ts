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

    it("builds app/ and deploys it by digest with OIDC credentials, never stored keys", () => {
        const deploy = workflow("deploy.yml");
        const job = deploy.jobs.deploy;
        assert.equal(job.permissions["id-token"], "write");
        const text = fs.readFileSync(path.join(__dirname, "..", ".github", "workflows", "deploy.yml"), "utf8");
        assert.doesNotMatch(text, /aws-access-key-id|AWS_SECRET_ACCESS_KEY/i);
        const uses = job.steps.map((s: any) => s.uses).filter(Boolean);
        assert.ok(uses.some((u: string) => u.startsWith("aws-actions/configure-aws-credentials@")));
        const creds = job.steps.find((s: any) => String(s.uses).startsWith("aws-actions/configure-aws-credentials@"));
        assert.ok(creds.with["role-to-assume"]);
        const build = job.steps.find((s: any) => String(s.uses).startsWith("docker/build-push-action@"));
        assert.equal(build.with.file, "app/Dockerfile");
        assert.equal(build.with.push, true);
        const run = job.steps.map((s: any) => s.run).filter(Boolean).join("\n");
        assert.match(run, /pulumi config set app\.image "\$REPO_URL@\$digest"/);
        assert.match(run, /pulumi up --stack "\$STACK" --policy-pack policy/);
    });
});
