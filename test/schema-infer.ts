// Infers the component package's schema the way `pulumi package add` does, offline: the same analyzer over
// the package entry (package.json "main") and everything it imports, with the project's compiler options.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ComponentProvider } from "@pulumi/pulumi/provider/experimental";

const ROOT = path.join(__dirname, "..");
export const SCHEMA_FILE = path.join(ROOT, "components", "schema.json");
const PROVIDER_SDKS = ["@pulumi/aws", "@pulumi/random", "@pulumi/awsx"];

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
        // The provider SDKs are used only inside the component, never in its Args or outputs (which are plain
        // data and pulumi.Input/Output: a provider class couldn't cross languages). So the analyzer sees them as
        // an `any` module: same schema, a quarter of the CPU (3.4 s instead of 11.5 s here), because @pulumi/aws's
        // 3,700 declaration files are not read. A provider type that leaked into the public API would become
        // `any` here, so the analyzer types it pulumi.json#/Any, which test/schema.test.ts refuses (and shows with a fixture).
        const stub = path.join(dir, "provider-sdk.d.ts");
        fs.writeFileSync(stub, "declare const sdk: any;\nexport = sdk;\n");
        const stubbed = Object.fromEntries(
            PROVIDER_SDKS.flatMap((m) => [
                [m, [stub]],
                [`${m}/*`, [stub]],
            ]),
        );
        tsconfig.compilerOptions.paths = { ...stubbed, "*": [path.join(ROOT, "node_modules", "*")] };
        tsconfig.files = [entry];
        fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig));
        fs.writeFileSync(
            path.join(dir, "package.json"),
            JSON.stringify({ name, version: pkg.version, description: pkg.description, main: entry }),
        );
        // The analyzer needs the component's class name only (it reads the source); nothing is loaded.
        const component = { name: o.component ?? "AuroraIamProxy" } as unknown as ConstructorParameters<
            typeof ComponentProvider
        >[0]["components"][number];
        const provider = new ComponentProvider({ components: [component], name, dirname: dir });
        return JSON.parse(await provider.getSchema());
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
