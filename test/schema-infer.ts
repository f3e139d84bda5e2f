// Infers the component package's schema the way `pulumi package add` does, offline: the same analyzer over
// the package entry (package.json "main") and everything it imports, with the project's compiler options.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ComponentProvider } from "@pulumi/pulumi/provider/experimental";

const ROOT = path.join(__dirname, "..");
export const SCHEMA_FILE = path.join(ROOT, "components", "schema.json");

export async function inferSchema(o: { entry?: string; component?: string; name?: string } = {}): Promise<any> {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    const entry = o.entry ?? path.join(ROOT, pkg.main);
    const name = o.name ?? pkg.name;
    // A package folder whose program holds the entry alone: the analyzer follows its imports, so it sees what
    // `pulumi package add` sees, without type-checking the tests and tools the repository also holds.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "schema-"));
    try {
        const tsconfig = JSON.parse(fs.readFileSync(path.join(ROOT, "tsconfig.json"), "utf8"));
        delete tsconfig.include;
        delete tsconfig.exclude;
        tsconfig.compilerOptions.types = ["node"];
        tsconfig.compilerOptions.typeRoots = [path.join(ROOT, "node_modules", "@types")];
        tsconfig.compilerOptions.baseUrl = ROOT;
        tsconfig.compilerOptions.paths = { "*": [path.join(ROOT, "node_modules", "*")] };
        tsconfig.files = [entry];
        fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig));
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, version: pkg.version, description: pkg.description, main: entry }));
        const mod = require(entry);
        const component = mod[o.component ?? "AuroraIamProxy"];
        const provider = new ComponentProvider({ components: [component], name, dirname: dir });
        return JSON.parse(await provider.getSchema());
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
