// The CI workflows a team relies on between deploys.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
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
        const run = job.steps
            .map((s: any) => s.run)
            .filter(Boolean)
            .join("\n");
        assert.match(run, /pulumi preview --stack \$\{\{ matrix\.stack \}\}.*--refresh.*--expect-no-changes/);
        assert.ok(
            job.steps.some((s: any) => s.run === "npm ci"),
            "installs from the lockfile first",
        );
    });

    it("posts each pull request's monthly-cost change for both stacks as one comment, updated on every push, offline", () => {
        const cost = workflow("cost.yml");
        assert.ok("pull_request" in cost.on && Object.keys(cost.on).length === 1, "runs on pull requests only");
        assert.deepEqual(cost.permissions, { contents: "read", "pull-requests": "write" }, "the workflow's own token, no more");
        const job = cost.jobs.diff;
        const text = JSON.stringify(cost);
        assert.doesNotMatch(
            text,
            /aws-actions|configure-aws-credentials|pulumi\/actions|id-token|AWS_|PULUMI_ACCESS_TOKEN/,
            "no cloud access",
        );
        const checkout = job.steps.find((s: any) => String(s.uses).startsWith("actions/checkout@"));
        assert.equal(checkout.with["fetch-depth"], 0, "the base commit is local, for the offline worktree");
        assert.ok(job.steps.some((s: any) => s.run === "npm ci"));
        const diff = job.steps.find((s: any) => /--diff/.test(s.run ?? ""));
        assert.equal(diff.shell, "bash", "bash with pipefail: a failing diff fails the job");
        assert.match(diff.run, /for stack in dev prod; do/);
        assert.match(diff.run, /npm run -s cost -- --stack "\$stack" --diff "\$BASE_SHA"/);
        assert.equal(diff.env.BASE_SHA, "${{ github.event.pull_request.base.sha }}");
        assert.match(diff.run, /\| tee cost-diff\.md/, "the same table in the job log");
        assert.match(diff.run, /echo "<!-- cost-diff -->"/);
        const post = job.steps.find((s: any) => String(s.uses).startsWith("actions/github-script@"));
        assert.equal(post.with["github-token"], "${{ secrets.GITHUB_TOKEN }}");
        const script: string = post.with.script;
        assert.match(script, /const marker = "<!-- cost-diff -->"/);
        assert.match(script, /github\.paginate\(github\.rest\.issues\.listComments/);
        assert.match(script, /c\.body\?\.startsWith\(marker\)/, "finds its own comment by the marker");
        assert.match(
            script,
            /updateComment\(\{ owner, repo, comment_id: ours\.id, body \}\)[\s\S]*createComment/,
            "updates it, else creates one",
        );
        assert.ok(cost.concurrency.group.includes("github.event.pull_request.number"), "one run per pull request at a time");
    });

    it("the preview hands the budget policy its budget as pack config, written from the stack settings", () => {
        const run = workflow("ci.yml")
            .jobs.preview.steps.map((s: any) => s.run)
            .filter(Boolean)
            .join("\n");
        assert.match(run, /npm run -s cost -- --stack \$\{\{ matrix\.stack \}\} --policy-config > policy-config\.json\n/);
        assert.match(
            run,
            /pulumi preview --stack \$\{\{ matrix\.stack \}\} --policy-pack policy --policy-pack-config policy-config\.json /,
        );
    });

    describe("state backend and secrets provider", () => {
        const previewJobs = () => [workflow("ci.yml").jobs.preview, workflow("drift.yml").jobs.preview];
        const checkStep = (job: any) => job.steps.find((s: any) => s.name === "Check the state backend and the secrets provider");

        it("pass the Pulumi token and the passphrase as secrets, the backend URL as a variable, and check them before any preview", () => {
            for (const job of previewJobs()) {
                assert.equal(job.env.PULUMI_ACCESS_TOKEN, "${{ secrets.PULUMI_ACCESS_TOKEN }}");
                assert.equal(job.env.PULUMI_CONFIG_PASSPHRASE, "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}");
                assert.equal(job.env.PULUMI_BACKEND_URL, "${{ vars.PULUMI_BACKEND_URL }}");
                const steps: any[] = job.steps;
                const check = steps.indexOf(checkStep(job));
                const preview = steps.findIndex((s) => /pulumi preview/.test(s.run ?? ""));
                assert.ok(check >= 0 && check < preview, "the check runs before the preview");
            }
        });

        it("say in one line what is missing for the backend and secrets provider in use", function () {
            this.timeout(10_000);
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aurora-workflow-"));
            const script = checkStep(workflow("drift.yml").jobs.preview).run;
            assert.equal(script, checkStep(workflow("ci.yml").jobs.preview).run, "both workflows run the same check");
            const run = (secretsprovider: string | undefined, env: Record<string, string>) => {
                fs.writeFileSync(
                    path.join(dir, "Pulumi.prod.yaml"),
                    `${secretsprovider ? `secretsprovider: ${secretsprovider}\n` : ""}config: {}\n`,
                );
                const r = spawnSync("bash", ["--noprofile", "--norc", "-c", script], {
                    cwd: dir,
                    encoding: "utf8",
                    timeout: 5_000,
                    env: { PATH: "/usr/bin:/bin", HOME: dir, STACK: "prod", ...env },
                });
                return { ok: r.status === 0, out: r.stdout.trim() };
            };
            try {
                assert.deepEqual(run(undefined, {}), {
                    ok: false,
                    out: "::error::prod: state in Pulumi Cloud (vars.PULUMI_BACKEND_URL is empty) needs the PULUMI_ACCESS_TOKEN secret",
                });
                assert.deepEqual(run(undefined, { PULUMI_ACCESS_TOKEN: "t" }), {
                    ok: true,
                    out: "prod: state in Pulumi Cloud, secrets provider service",
                });
                assert.match(
                    run(undefined, { PULUMI_BACKEND_URL: "s3://state" }).out,
                    /^::error::prod: the passphrase secrets provider needs the PULUMI_CONFIG_PASSPHRASE secret/,
                );
                assert.deepEqual(run(undefined, { PULUMI_BACKEND_URL: "s3://state", PULUMI_CONFIG_PASSPHRASE: "p" }), {
                    ok: true,
                    out: "prod: state in s3://state, secrets provider passphrase",
                });
                const kms = "awskms://alias/orders-prod-pulumi?region=eu-west-1";
                assert.deepEqual(run(kms, { PULUMI_BACKEND_URL: "s3://state" }), {
                    ok: true,
                    out: `prod: state in s3://state, secrets provider ${kms}`,
                });
                assert.match(
                    run("gcpkms://projects/x", { PULUMI_BACKEND_URL: "s3://state" }).out,
                    /^::error::prod: secrets provider gcpkms:\/\/projects\/x is not one this workflow supports/,
                );
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
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
        const run = job.steps
            .map((s: any) => s.run)
            .filter(Boolean)
            .join("\n");
        assert.match(run, /pulumi config set app\.image "\$REPO_URL@\$digest"/);
        assert.match(run, /pulumi up --stack "\$STACK" --policy-pack policy/);
    });
});
