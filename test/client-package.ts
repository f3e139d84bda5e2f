// Packs client/ as npm would publish it and installs the tarball into an empty folder, offline.
//
// The JavaScript and declarations are emitted in-process, file by file (ts.transpileModule and
// ts.transpileDeclaration, which client/tsconfig.json's isolatedDeclarations guarantees are what tsc
// emits), because a full tsc run costs ~2.5 s of CPU; `npm pack` then decides what is in the
// tarball from client/package.json's "files". Installing: the tarball is unpacked where npm would put
// it and each declared runtime dependency is linked from the root's node_modules, so the test needs
// no registry and no npm cache. An undeclared dependency fails to resolve there.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

const CLIENT = path.join(__dirname, "..", "client");
const ROOT_MODULES = path.join(__dirname, "..", "node_modules");

export interface PackedClient {
    name: string;
    tarball: string;
    dependencies: string[];
}

export function packClient(workDir: string): PackedClient {
    const stage = path.join(workDir, "client");
    fs.mkdirSync(path.join(stage, "dist"), { recursive: true });
    const config = ts.getParsedCommandLineOfConfigFile(
        path.join(CLIENT, "tsconfig.json"),
        {},
        {
            ...ts.sys,
            onUnRecoverableConfigFileDiagnostic: (d) => {
                throw new Error(String(d.messageText));
            },
        },
    );
    if (!config) throw new Error("client/tsconfig.json could not be read");
    const sources = fs.readdirSync(CLIENT).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"));
    for (const file of sources) {
        const text = fs.readFileSync(path.join(CLIENT, file), "utf8");
        const base = file.replace(/\.ts$/, "");
        const js = ts.transpileModule(text, { compilerOptions: config.options, fileName: path.join(CLIENT, file) });
        fs.writeFileSync(path.join(stage, "dist", `${base}.js`), js.outputText);
        const dts = ts.transpileDeclaration(text, {
            compilerOptions: config.options,
            fileName: path.join(CLIENT, file),
            reportDiagnostics: true,
        });
        if (dts.diagnostics?.length)
            throw new Error(`client/${file}: ${ts.flattenDiagnosticMessageText(dts.diagnostics[0].messageText, " ")}`);
        fs.writeFileSync(path.join(stage, "dist", `${base}.d.ts`), dts.outputText);
    }
    for (const file of ["package.json", "README.md"]) fs.copyFileSync(path.join(CLIENT, file), path.join(stage, file));
    const manifest = JSON.parse(fs.readFileSync(path.join(stage, "package.json"), "utf8"));
    const out = execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", workDir], {
        cwd: stage,
        encoding: "utf8",
        timeout: 30_000,
    });
    const [{ filename }] = JSON.parse(out);
    return { name: manifest.name, tarball: path.join(workDir, filename), dependencies: Object.keys(manifest.dependencies ?? {}) };
}

/** An empty project with the tarball installed in node_modules and its declared dependencies linked. */
export function installPacked(packed: PackedClient, projectDir: string): void {
    fs.mkdirSync(projectDir, { recursive: true });
    fs.writeFileSync(
        path.join(projectDir, "package.json"),
        JSON.stringify({
            name: "empty-project",
            version: "1.0.0",
            private: true,
            dependencies: { [packed.name]: `file:${packed.tarball}` },
        }),
    );
    const target = path.join(projectDir, "node_modules", packed.name);
    fs.mkdirSync(target, { recursive: true });
    execFileSync("tar", ["-xzf", packed.tarball, "-C", target, "--strip-components=1"], { timeout: 10_000 });
    for (const dep of packed.dependencies) {
        const link = path.join(projectDir, "node_modules", dep);
        fs.mkdirSync(path.dirname(link), { recursive: true });
        fs.symlinkSync(path.join(ROOT_MODULES, dep), link, "dir");
    }
}
