// The layering rule (README "Project layout"): each room imports only rooms below it, so an
// application can take client/ without the smoke runner, and the Lambdas carry no Pulumi.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { bundleInputs, HANDLERS, HandlerName } from "../smoke/lambda/bundle";

const root = path.join(__dirname, "..");

/** Which rooms each room may import from (its own included). test/ may import anything. */
export const MAY_IMPORT: Record<string, string[]> = {
    access: ["access"],
    client: ["client", "access"],
    smoke: ["smoke", "client", "access"],
    components: ["components", "smoke", "client", "access"],
    cost: ["cost"],
    policy: ["policy", "cost", "components", "smoke", "access"],
    local: ["local", "cost", "components", "policy", "smoke", "client", "access"],
    // The operator commands (db:connect, the cost CLI): on top, beside the local plane they can use.
    ops: ["ops", "local", "cost", "components", "policy", "smoke", "client", "access"],
    ".": ["components"],
    // Programs a team copies: they use the component package, as a consumer would.
    examples: ["components"],
    // app/ is what another repository would hold: it reaches the client only by its package name.
    app: ["app"],
};

export interface SourceFile {
    file: string;
    text: string;
}

/** Relative module specifiers of a TypeScript source: import/export from, import(), require(). */
export function relativeImports(text: string): string[] {
    const found: string[] = [];
    const pattern = /(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)(["'])(\.{1,2}\/[^"']*)\1/gm;
    for (const m of text.matchAll(pattern)) found.push(m[2]);
    return found;
}

function roomOf(file: string): string {
    const first = file.split("/")[0];
    return file.includes("/") ? first : ".";
}

/** One line per import that goes up (or sideways into a room it may not use). */
export function layerViolations(files: SourceFile[]): string[] {
    const violations: string[] = [];
    for (const { file, text } of files) {
        const room = roomOf(file);
        if (room === "test") continue;
        const allowed = MAY_IMPORT[room];
        for (const spec of relativeImports(text)) {
            const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
            const targetRoom = roomOf(target);
            if (allowed === undefined) violations.push(`${file}: room ${room} has no layering rule (imports ${spec})`);
            else if (!allowed.includes(targetRoom))
                violations.push(`${file} imports ${spec} (room ${targetRoom}); ${room}/ may import only ${allowed.join(", ")}`);
        }
    }
    return violations;
}

function projectSources(): SourceFile[] {
    return execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "*.ts"], { cwd: root, encoding: "utf8" })
        .split("\n")
        .filter((f) => f && !f.includes("node_modules/") && fs.existsSync(path.join(root, f)))
        .map((file) => ({ file, text: fs.readFileSync(path.join(root, file), "utf8") }));
}

describe("layers", () => {
    it("finds every form of relative import", () => {
        const text = [
            `import { a } from "../client/token";`,
            `import type { B } from './b';`,
            `export * from "../x/y";`,
            `const m = await import("../local/dataplane");`,
            `const r = require("../smoke/runner");`,
            `import "../side/effect";`,
            `import pg from "pg";`,
        ].join("\n");
        assert.deepEqual(relativeImports(text), [
            "../client/token",
            "./b",
            "../x/y",
            "../local/dataplane",
            "../smoke/runner",
            "../side/effect",
        ]);
    });

    it("flags a lower room importing a higher one, and lets a higher room import a lower one", () => {
        const violations = layerViolations([
            { file: "access/grants.ts", text: `import { x } from "../client/token";` },
            { file: "client/pool.ts", text: `import { DB_PORT } from "../access/grants";` },
            { file: "smoke/runner.ts", text: `import { y } from "../local/dataplane";` },
            { file: "components/stack.ts", text: `import { z } from "../policy/run";` },
            { file: "policy/run.ts", text: `import { s } from "../components/config";` },
            { file: "test/x.test.ts", text: `import { s } from "../local/dataplane";` },
        ]);
        assert.deepEqual(
            violations.map((v) => v.split(" ")[0]),
            ["access/grants.ts", "smoke/runner.ts", "components/stack.ts"],
        );
    });

    it("holds for every .ts file in the project: access < client < smoke < components < local", () => {
        const files = projectSources();
        assert.ok(
            files.some((f) => f.file.startsWith("access/")) && files.some((f) => f.file.startsWith("local/")),
            "expected to read the project's sources",
        );
        assert.deepEqual(layerViolations(files), []);
    });

    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
        it(`bundles only access/, client/ and smoke/ (and no Pulumi) into the ${name} Lambda`, () => {
            const inputs = bundleInputs(name);
            const ours = inputs.filter((f) => !f.includes("node_modules/"));
            assert.ok(
                ours.some((f) => f.startsWith("smoke/lambda/")),
                `expected the handler among the inputs, got ${ours.join(", ")}`,
            );
            assert.deepEqual(
                ours.filter((f) => !/^(access|client|smoke)\//.test(f)),
                [],
            );
            assert.deepEqual(
                inputs.filter((f) => /node_modules\/@pulumi\//.test(f)),
                [],
            );
        });
    }
});
