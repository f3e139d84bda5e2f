// Stack files as a new user edits them: broken YAML, a tab, a duplicate key or an empty file give one line
// naming the file and the line, and the offline tools (npm start, npm run cost) take any Pulumi.NAME.yaml.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { costSection, estimateStack } from "../cost/report";
import { run as costCli } from "../ops/cost-cli";
import { main as rehearsal, parseRehearsalArgs } from "../local/rehearsal";
import { readStackFile, stackConfig, StackFileError, stackNames } from "../local/stack-file";
import { stackAsDeclared } from "./harness";

/** Runs `fn` with console.error captured. */
async function capturingErrors<T>(fn: () => Promise<T>): Promise<{ result: T; errors: string[] }> {
    const errors: string[] = [];
    const original = console.error;
    console.error = (line: string) => errors.push(String(line));
    try {
        return { result: await fn(), errors };
    } finally {
        console.error = original;
    }
}

describe("stack files", () => {
    let root = "";
    const dev = () => fs.readFileSync(path.join(__dirname, "..", "Pulumi.dev.yaml"), "utf8");
    before(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "stack-file-test-"));
    });
    after(() => {
        if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    const write = (name: string, text: string) => {
        fs.writeFileSync(path.join(root, name), text);
        return path.join(root, name);
    };
    const problem = (text: string) => {
        const file = write("Pulumi.broken.yaml", text);
        try {
            readStackFile(file, root);
        } catch (err) {
            assert.ok(err instanceof StackFileError, String(err));
            assert.ok(!(err as Error).message.includes("\n"), (err as Error).message);
            return (err as Error).message;
        }
        assert.fail("a broken stack file was read");
    };

    it("reads the project's stack files, both of them", () => {
        assert.deepEqual(stackNames(), ["dev", "prod"]);
        assert.equal(stackConfig("prod")["aurora-iam-proxy:environment"], "prod");
    });

    const broken: Array<[string, () => string, string | RegExp]> = [
        [
            "a duplicate key",
            () => dev().replace("  aws:region: eu-west-1\n", "  aws:region: eu-west-1\n  aws:region: eu-west-2\n"),
            'Pulumi.broken.yaml:5:3: duplicate key "aws:region" (a stack file\'s keys must be unique)',
        ],
        [
            "a duplicate section",
            () => `${dev()}  aurora-iam-proxy:database:\n    minCapacity: 1\n`,
            /^Pulumi\.broken\.yaml:\d+:3: duplicate key "aurora-iam-proxy:database" \(a stack file's keys must be unique\)$/,
        ],
        [
            "a tab",
            () => "config:\n  aws:region: eu-west-1\n\taurora-iam-proxy:environment: dev\n",
            "Pulumi.broken.yaml:3:1: a tab indents this line; YAML indents with spaces only",
        ],
        [
            "an unclosed list",
            () => 'config:\n  aws:region: eu-west-1\n  aurora-iam-proxy:app:\n    command: ["node", "x.js"\n',
            /^Pulumi\.broken\.yaml:5:1: Flow sequence in block collection must be sufficiently indented and end with a \] \(BAD_INDENT\)$/,
        ],
        [
            "an empty file",
            () => "",
            "Pulumi.broken.yaml: the file is empty; a stack file needs a config: block (copy Pulumi.dev.yaml to start)",
        ],
        [
            "a file of comments",
            () => "# nothing yet\n",
            "Pulumi.broken.yaml: the file is empty; a stack file needs a config: block (copy Pulumi.dev.yaml to start)",
        ],
        [
            "an empty config block",
            () => "# settings\nconfig:\n",
            "Pulumi.broken.yaml:2: config: is empty; it must be a map of settings such as aws:region: eu-west-1",
        ],
        [
            "no config block",
            () => "confg:\n  aws:region: eu-west-1\n",
            "Pulumi.broken.yaml: has no config: block; the settings go under config: as in Pulumi.dev.yaml",
        ],
        ["a list", () => "- aws:region\n", "Pulumi.broken.yaml:1: the file is not a map of keys; a stack file starts with config:"],
    ];
    for (const [what, text, expected] of broken) {
        it(`names the file and the line for ${what}, in one line`, () => {
            const got = problem(text());
            if (typeof expected === "string") assert.equal(got, expected);
            else assert.match(got, expected);
        });
    }

    it("names a missing stack file and the ones there are", () => {
        assert.throws(
            () => stackConfig("staging"),
            (err: Error) =>
                err instanceof StackFileError &&
                err.message ===
                    "Pulumi.staging.yaml: no such stack file; stack files here: Pulumi.dev.yaml, Pulumi.prod.yaml (copy one to Pulumi.staging.yaml to make it)",
        );
        assert.throws(() => stackConfig("../etc/passwd"), /stack "\.\.\/etc\/passwd" is not a stack name/);
    });

    describe("the offline tools take any stack file", () => {
        it("npm run cost -- --stack staging prices a copied Pulumi.staging.yaml", async function () {
            this.timeout(60_000);
            // A copy of dev on a larger class: its own settings must show in the estimate.
            assert.match(dev(), /\n    instanceClass: db\.t4g\.medium\n/);
            write("Pulumi.staging.yaml", dev().replace("\n    instanceClass: db.t4g.medium\n", "\n    instanceClass: db.r6g.large\n"));
            const out: string[] = [];
            const { result, errors } = await capturingErrors(() => costCli(["--stack", "staging", "--json"], (l) => out.push(l), { root }));
            assert.equal(result, 0, errors.join("\n"));
            const doc = JSON.parse(out.join("\n"));
            assert.equal(doc.stack, "staging");
            const asDev = estimateStack(await stackAsDeclared("dev"));
            assert.ok(
                doc.monthly.expected > asDev.monthly.expected,
                `the copy's db.r6g.large was read: ${doc.monthly.expected} vs dev's ${asDev.monthly.expected}`,
            );
        });

        it("an unknown or broken stack file is one line and exit 2, for npm run cost and npm start alike", async () => {
            write("Pulumi.tabbed.yaml", "config:\n\taws:region: eu-west-1\n");
            const cost = await capturingErrors(async () => [
                await costCli(["--stack", "qa"], () => undefined, { root }),
                await costCli(["--stack", "tabbed"], () => undefined, { root }),
            ]);
            assert.deepEqual(cost.result, [2, 2]);
            assert.match(cost.errors[0], /^Pulumi\.qa\.yaml: no such stack file; stack files here: .*Pulumi\.staging\.yaml/);
            assert.equal(cost.errors[1], "Pulumi.tabbed.yaml:2:1: a tab indents this line; YAML indents with spaces only");
            const start = await capturingErrors(() => rehearsal(["--stack", "qa"], { root }));
            assert.equal(start.result, 2);
            assert.deepEqual(start.errors.length, 1);
            assert.match(start.errors[0], /^rehearsal: Pulumi\.qa\.yaml: no such stack file/);
        });

        it("npm start reads --stack NAME (default dev) and refuses anything else in one line", () => {
            assert.deepEqual(parseRehearsalArgs([]), { stack: "dev" });
            assert.deepEqual(parseRehearsalArgs(["--stack", "staging"]), { stack: "staging" });
            assert.deepEqual(parseRehearsalArgs(["--stack=prod"]), { stack: "prod" });
            assert.throws(() => parseRehearsalArgs(["--stack"]), /--stack needs a value/);
            assert.throws(() => parseRehearsalArgs(["--stak", "prod"]), /unknown argument "--stak"; allowed: --stack NAME, --help/);
        });
    });

    it("npm start's cost line is a warning, not a failure, for a region the price table lacks", async () => {
        const ev = await stackAsDeclared("dev");
        const lines = costSection({ ...ev, settings: { ...ev.settings, region: "ap-south-2" } });
        assert.equal(lines.length, 1);
        assert.match(
            lines[0],
            /^Monthly cost: warning: not estimated - dev: region ap-south-2 is not in the price table \(cost\/prices\.ts\); priced regions: /,
        );
        assert.match(costSection(ev)[0], /^Monthly cost \(eu-west-1, /);
    });
});
