// `npm start`, the local rehearsal: the plan and security summary it prints are read from what the program
// declared, the policy verdicts sit next to them, and the whole run passes on a fresh checkout.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { resourcesPerComponent, securitySummary } from "../local/rehearsal";
import { Evaluation, stackAsDeclared } from "./harness";

/** A deep copy of an evaluation with one resource's inputs changed, to see the summary notice. */
function withInputs(ev: Evaluation, type: string, change: (inputs: Record<string, any>) => void): Evaluation {
    const resources = JSON.parse(JSON.stringify(ev.resources));
    const target = resources.find((r: any) => r.type === type);
    change(target.inputs);
    return { ...ev, resources, ofType: (t: string) => resources.filter((r: any) => r.type === t) };
}

describe("npm start (the local rehearsal)", function () {
    this.timeout(90000);

    it("counts the plan's resources per component from their parents", async () => {
        const ev = await stackAsDeclared("dev");
        const counts = Object.fromEntries(resourcesPerComponent(ev).map(([name, n]) => [name, n]));
        assert.deepEqual(Object.keys(counts).sort(), ["Database", "Ecs", "Monitoring", "Network", "Operator", "Proxy", "Secrets", "Smoke"]);
        const total = Object.values(counts).reduce((a, b) => a + b, 0);
        assert.equal(total, ev.resources.filter((r) => r.type.startsWith("aws:") || r.type.startsWith("random:")).length);
        assert.equal(counts.Proxy, ev.resources.filter((r) => (r.parent ?? "").includes("aurora-iam-proxy:index:Proxy")).length);
    });

    it("summarises the security settings as declared, and notices when one is off", async () => {
        const ev = await stackAsDeclared("dev");
        const summary = securitySummary(ev);
        assert.ok(summary.length >= 8);
        assert.ok(
            summary.every(([ok]) => ok),
            summary
                .filter(([ok]) => !ok)
                .map(([, line]) => line)
                .join("; "),
        );
        const insecure = withInputs(ev, "aws:rds/proxy:Proxy", (p) => {
            p.requireTls = false;
        });
        assert.deepEqual(
            securitySummary(insecure)
                .filter(([ok]) => !ok)
                .map(([, line]) => line),
            ["proxy requires TLS (requireTls: false)"],
        );
        const noIam = withInputs(ev, "aws:rds/proxy:Proxy", (p) => {
            delete p.defaultAuthScheme;
            delete p.auths;
        });
        assert.deepEqual(
            securitySummary(noIam)
                .filter(([ok]) => !ok)
                .map(([, line]) => line),
            ["clients need an IAM token (no IAM_AUTH and no auths entry)"],
        );
        const privileged = withInputs(ev, "aws:ecs/taskDefinition:TaskDefinition", (t) => {
            t.containerDefinitions = t.containerDefinitions.replace('"privileged":false', '"privileged":true');
        });
        assert.deepEqual(
            securitySummary(privileged)
                .filter(([ok]) => !ok)
                .map(([, line]) => line),
            ["container: read-only root, not privileged"],
        );
    });

    it("prints the plan, the policy verdicts and a passing smoke report, and exits 0", () => {
        const root = path.join(__dirname, "..");
        // Exactly what `npm start` runs (package.json), with this Node.
        const [node, ...args] = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).scripts.start.split(" ");
        assert.equal(node, "node");
        const run = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8", timeout: 80_000 });
        assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
        const out = run.stdout;
        const order = ["Plan for stack dev", "Security settings", "Policies (", "Smoke runner", "PASS: rehearsal finished"].map((s) =>
            out.indexOf(s),
        );
        assert.ok(
            order.every((i) => i >= 0),
            out,
        );
        assert.deepEqual(
            [...order].sort((a, b) => a - b),
            order,
            "plan, policies, then the smoke report",
        );
        assert.match(out, /Policies \(\d+ in the pack\): 0 mandatory violation\(s\)/);
        assert.match(out, /✓ {2}refuses no TLS/);
        // Every dev user (read from Pulumi.dev.yaml) and the reader, with the one line about dev having no reader in AWS.
        for (const user of ["app_reader", "app_migrator"]) assert.match(out, new RegExp(`✓ {2}grants match spec for ${user} `));
        assert.match(out, /✓ {2}app_migrator: CREATE in app allowed \(rolled back\)/);
        assert.match(out, /✓ {2}reader endpoint in recovery +pg_is_in_recovery\(\) = true/);
        assert.match(out, /✓ {2}reader endpoint refuses writes \(25006\)/);
        assert.match(
            out,
            /dev has no READ_ONLY endpoint in AWS \(one instance\); the reader checks run here against the local hot standby/,
        );
        // app/ as a process through the stand-in: healthy, broken (CONNECT revoked) with the reason, mended; the plan names the placeholder.
        assert.match(out, /app image: PLACEHOLDER .* no \/health\/db health check/);
        assert.match(out, /✓ {2}GET \/health\/db → 200 app_user, TLS verified true, PostgreSQL 16/);
        assert.match(out, /✓ {2}GET \/health\/db\/reader → 200 app_reader, TLS verified true/);
        assert.match(out, /✓ {2}CONNECT revoked: GET \/health\/db → 503 permission denied for database "appdb" \(42501\)/);
        assert.match(out, /✓ {2}CONNECT granted back: GET \/health\/db → 200 app_user/);
        assert.doesNotMatch(out, /X-Amz-Signature|X-Amz-Credential/);
        // The README's excerpt of this output: its plan and policy lines are printed as they are (lines with … are
        // shortened there and checked up to it).
        const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
        const excerpt = /```\n(Plan for stack dev[\s\S]*?)```/.exec(readme)?.[1] ?? "";
        const lines = excerpt.split("\n").filter((l) => /^(Plan for|  eu-west-1|  [A-Z]\w+ +\d+ |Policies \()/.test(l));
        assert.ok(lines.length >= 4, `README excerpt: ${excerpt}`);
        for (const line of lines) {
            const known = line.split("…")[0];
            assert.ok(
                out.split("\n").some((l) => l.startsWith(known)),
                `README's npm start excerpt has "${line}", which npm start does not print`,
            );
        }
    });
});
