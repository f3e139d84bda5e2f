// Project-wide rules no single module can enforce: things that must appear nowhere in our code.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const root = path.join(__dirname, "..");
const tracked = () =>
    execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" })
        .split("\n")
        .filter((f) => f && !f.includes("node_modules/") && fs.existsSync(path.join(root, f)));

describe("project hygiene", () => {
    const sources = () => tracked().filter((f) => /\.(ts|js|json|ya?ml|md|sh)$/.test(f) || f === ".ci/run");

    it("never turns off TLS certificate verification", () => {
        // Built from parts so this file does not match itself.
        const forbidden = new RegExp(["reject", "Unauthorized\\s*:\\s*false"].join(""));
        const offenders = sources().filter((f) => forbidden.test(fs.readFileSync(path.join(root, f), "utf8")));
        assert.deepEqual(offenders, []);
    });

    it("never disables Node's TLS checks through the environment", () => {
        const forbidden = new RegExp(["NODE_TLS_REJECT", "_UNAUTHORIZED"].join(""));
        const offenders = sources().filter((f) => forbidden.test(fs.readFileSync(path.join(root, f), "utf8")));
        assert.deepEqual(offenders, []);
    });

    it("grants rds-db:connect on no wildcard user anywhere in the program", () => {
        const forbidden = new RegExp(["dbuser:", "\\*"].join(""));
        // Everything that builds a policy or ships in a Lambda: the program, and the rooms the bundles take.
        const offenders = tracked()
            .filter((f) => /^(components|access|client|smoke)\//.test(f) || f === "index.ts")
            .filter((f) => forbidden.test(fs.readFileSync(path.join(root, f), "utf8")));
        assert.deepEqual(offenders, []);
    });

    it("removes every temp folder a test file makes (no smoke-cli-* or other leftovers after npm test)", () => {
        const makes = /\bmkdtemp(Sync)?\(/;
        const removes = /\brm(Sync)?\([^)]*recursive: true/;
        const offenders = tracked()
            .filter((f) => f.startsWith("test/") && f.endsWith(".ts"))
            .filter((f) => {
                const text = fs.readFileSync(path.join(root, f), "utf8");
                return makes.test(text) && !removes.test(text);
            });
        assert.deepEqual(offenders, []);
    });

    it("has no focused tests that would silently skip the rest", () => {
        const focused = new RegExp(["\\b(it|describe|context)", "\\.only\\("].join(""));
        const offenders = tracked().filter((f) => f.startsWith("test/") && focused.test(fs.readFileSync(path.join(root, f), "utf8")));
        assert.deepEqual(offenders, []);
    });

    it("every relative link in the Markdown files reaches a file, and every #anchor a heading (GitHub's slugs)", () => {
        const slug = (heading: string) =>
            heading
                .trim()
                .toLowerCase()
                .replace(/[^\p{L}\p{N}\s_-]/gu, "")
                .replace(/\s/g, "-");
        const anchorsOf = new Map<string, Set<string>>();
        const anchors = (file: string) => {
            if (!anchorsOf.has(file)) {
                const text = fs.readFileSync(path.join(root, file), "utf8").replace(/```[\s\S]*?```/g, "");
                anchorsOf.set(file, new Set([...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => slug(m[1].replace(/`/g, "")))));
            }
            return anchorsOf.get(file)!;
        };
        const broken: string[] = [];
        for (const file of tracked().filter((f) => f.endsWith(".md"))) {
            const text = fs.readFileSync(path.join(root, file), "utf8").replace(/```[\s\S]*?```/g, "");
            for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
                if (/^[a-z]+:/i.test(target)) continue;
                const [ref, anchor] = target.split("#");
                const dest = ref ? path.posix.normalize(path.posix.join(path.posix.dirname(file), ref)) : file;
                if (!fs.existsSync(path.join(root, dest))) broken.push(`${file}: ${target} (no ${dest})`);
                else if (anchor && dest.endsWith(".md") && !anchors(dest).has(anchor))
                    broken.push(`${file}: ${target} (no heading #${anchor} in ${dest})`);
            }
        }
        assert.deepEqual(broken, []);
    });
});
