// The one reader of Pulumi.<stack>.yaml for everything that runs without the Pulumi CLI (npm start,
// npm run cost, the tests). A broken file gives one line naming the file and the line, e.g.
//   Pulumi.staging.yaml:14:3: duplicate key "aurora-iam-proxy:database" (a stack file's keys must be unique)
// instead of several lines of parser output or "Cannot read properties of null".
import * as fs from "fs";
import * as path from "path";
import { isMap, parseDocument, YAMLError } from "yaml";

/** Where Pulumi.yaml and the stack files live. */
export const PROJECT_ROOT = path.join(__dirname, "..");

/** A stack file that is missing, unreadable or not a stack file; the message is one line. */
export class StackFileError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "StackFileError";
    }
}

/** The stacks that have a Pulumi.<name>.yaml in `root`, sorted. */
export function stackNames(root = PROJECT_ROOT): string[] {
    return fs
        .readdirSync(root)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((n): n is string => n !== undefined)
        .sort();
}

/** The path of a stack's file; a name that is not one plain file name is refused. */
export function stackFilePath(stack: string, root = PROJECT_ROOT): string {
    if (!/^[\w.-]+$/.test(stack) || stack.startsWith(".")) {
        throw new StackFileError(
            `stack ${JSON.stringify(stack)} is not a stack name; use letters, digits, _ . and -, as in Pulumi.<stack>.yaml`,
        );
    }
    return path.join(root, `Pulumi.${stack}.yaml`);
}

/** A stack's `config:` block, read from Pulumi.<stack>.yaml in `root`. */
export function stackConfig(stack: string, root = PROJECT_ROOT): Record<string, unknown> {
    const file = stackFilePath(stack, root);
    if (!fs.existsSync(file)) {
        const known =
            stackNames(root)
                .map((n) => `Pulumi.${n}.yaml`)
                .join(", ") || "none";
        throw new StackFileError(
            `${shown(file, root)}: no such stack file; stack files here: ${known} (copy one to Pulumi.${stack}.yaml to make it)`,
        );
    }
    return readStackFile(file, root);
}

/** The `config:` block of a stack file, as the Pulumi CLI hands it to the program (keys "ns:key"). */
export function readStackFile(file: string, root = PROJECT_ROOT): Record<string, unknown> {
    const name = shown(file, root);
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new StackFileError(`${name}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    // uniqueKeys: YAML forbids duplicate keys and Pulumi refuses them; without this the last one would win silently.
    const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
    if (doc.errors.length > 0) throw new StackFileError(yamlProblem(name, text, doc.errors[0]));
    if (doc.contents === null) {
        throw new StackFileError(`${name}: the file is empty; a stack file needs a config: block (copy Pulumi.dev.yaml to start)`);
    }
    if (!isMap(doc.contents)) {
        throw new StackFileError(
            `${name}:${lineOf(text, doc.contents.range?.[0] ?? 0)}: the file is not a map of keys; a stack file starts with config:`,
        );
    }
    const configNode = doc.contents.get("config", true);
    if (configNode === undefined) {
        throw new StackFileError(`${name}: has no config: block; the settings go under config: as in Pulumi.dev.yaml`);
    }
    const config = doc.toJS().config;
    if (config === null || typeof config !== "object" || Array.isArray(config)) {
        const at = doc.contents.items.find((pair) => (pair.key as { value?: unknown })?.value === "config")?.key as
            | { range?: number[] }
            | undefined;
        throw new StackFileError(
            `${name}:${lineOf(text, at?.range?.[0] ?? 0)}: config: is ${config === null ? "empty" : `a ${Array.isArray(config) ? "list" : typeof config}`}; ` +
                "it must be a map of settings such as aws:region: eu-west-1",
        );
    }
    return config as Record<string, unknown>;
}

/** One line for a YAML error: file:line:column, what is wrong, and for a duplicate the key. */
function yamlProblem(name: string, text: string, err: YAMLError): string {
    const pos = err.linePos?.[0];
    const where = pos ? `${name}:${pos.line}:${pos.col}` : name;
    // prettyErrors appends " at line L, column C:" and a code excerpt; the position is already in front.
    const what = err.message.replace(/ at line \d+, column \d+:[\s\S]*$/, "").trim();
    if (err.code === "DUPLICATE_KEY") {
        const key = /^\s*(?:-\s+)?("[^"]*"|'[^']*'|.+?)\s*:(?:\s|$)/.exec(text.slice(err.pos[0]).split("\n")[0])?.[1];
        return `${where}: duplicate key${key ? ` ${JSON.stringify(key.replace(/^["']|["']$/g, ""))}` : ""} (a stack file's keys must be unique)`;
    }
    if (err.code === "TAB_AS_INDENT") return `${where}: a tab indents this line; YAML indents with spaces only`;
    return `${where}: ${what} (${err.code})`;
}

function lineOf(text: string, offset: number): number {
    return text.slice(0, offset).split("\n").length;
}

/** The file as a user would name it: relative to the project when inside it. */
function shown(file: string, root: string): string {
    const rel = path.relative(root, file);
    return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file;
}
