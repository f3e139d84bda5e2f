// The README's settings table, generated from the package schema (components/schema.json, which test/schema.test.ts
// keeps equal to what the analyzer infers from components/args.ts). One source of truth: a key's type, default
// and meaning are written once, in the Args' doc comments, and reach the SDKs, this table and the stack files alike.
// `npm run docs:settings` prints it; test/settings-table.test.ts checks the README holds exactly this.
import * as fs from "fs";
import * as path from "path";
import { TYPE } from "../components/tokens";

const SCHEMA = path.join(__dirname, "..", "components", "schema.json");
const COMPONENT = TYPE.AuroraIamProxy;

interface Property {
    type?: string;
    $ref?: string;
    items?: Property;
    additionalProperties?: Property;
    optional?: boolean;
    description?: string;
}
interface TypeSpec {
    type: string;
    properties?: Record<string, Property>;
    required?: string[];
    enum?: Array<{ value: string }>;
    description?: string;
}
export interface Schema {
    resources: Record<string, { inputProperties: Record<string, Property>; requiredInputs?: string[] }>;
    types: Record<string, TypeSpec>;
}

export interface SettingRow {
    key: string;
    type: string;
    default: string;
    meaning: string;
}

const cell = (text: string) =>
    text
        .replace(/\|/g, "\\|")
        .replace(/\s*\n\s*/g, " ")
        .trim();

/** A description's "Default: ..." sentence (the analyzer keeps text, not JSDoc tags), and the rest. */
export function splitDefault(description = ""): { meaning: string; default: string } {
    const m = /(?:^|\n|\s)Default:\s*([\s\S]*?)(?:\n|$)/.exec(description);
    if (!m) return { meaning: description.trim(), default: "" };
    const meaning = (description.slice(0, m.index) + "\n" + description.slice(m.index + m[0].length)).trim();
    return { meaning, default: m[1].replace(/\.$/, "").trim() };
}

function typeName(schema: Schema, p: Property): string {
    if (p.$ref) {
        const t = schema.types[p.$ref.replace("#/types/", "")];
        if (t?.enum) return t.enum.map((e) => `\`${e.value}\``).join(" | ");
        return p.$ref.split(":").pop() ?? p.$ref;
    }
    if (p.type === "array" && p.items) return `list of ${typeName(schema, p.items)}`;
    if (p.type === "object" && p.additionalProperties) return `map of ${typeName(schema, p.additionalProperties)}`;
    return p.type ?? "any";
}

/** Every setting, dotted as in the stack files (`database.maxCapacity`); nested objects are opened, lists of objects are not. */
export function settingRows(schema: Schema): SettingRow[] {
    const rows: SettingRow[] = [];
    const walk = (prefix: string, props: Record<string, Property>, required: string[]) => {
        for (const [name, p] of Object.entries(props)) {
            const key = prefix ? `${prefix}.${name}` : name;
            const t = p.$ref ? schema.types[p.$ref.replace("#/types/", "")] : undefined;
            if (t?.properties && !t.enum) {
                walk(key, t.properties, t.required ?? []);
                continue;
            }
            const { meaning, default: dflt } = splitDefault(p.description);
            const elementType = p.items?.$ref ? schema.types[p.items.$ref.replace("#/types/", "")] : undefined;
            const fields = elementType?.properties
                ? ` Each: ${Object.entries(elementType.properties)
                      .map(([f, fp]) => `\`${f}\` (${typeName(schema, fp)}${(elementType.required ?? []).includes(f) ? "" : ", optional"})`)
                      .join(", ")}.`
                : "";
            rows.push({
                key,
                type: cell(typeName(schema, p) + (required.includes(name) ? ", required" : "")),
                default: cell(dflt),
                meaning: cell(meaning + fields),
            });
        }
    };
    const component = schema.resources[COMPONENT];
    walk("", component.inputProperties, component.requiredInputs ?? []);
    return rows;
}

export function settingsTable(schema: Schema): string {
    const lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"];
    for (const r of settingRows(schema)) lines.push(`| \`${r.key}\` | ${r.type} | ${r.default} | ${r.meaning} |`);
    return lines.join("\n");
}

export function readSchema(file = SCHEMA): Schema {
    return JSON.parse(fs.readFileSync(file, "utf8")) as Schema;
}

/** The README with its generated block (between the settings:begin/end markers) replaced by `table`. */
export function withTable(readme: string, table: string): string {
    const block = /(<!-- settings:begin[^>]*-->\n)[\s\S]*?(\n<!-- settings:end -->)/;
    if (!block.test(readme)) throw new Error("README.md: no <!-- settings:begin --> ... <!-- settings:end --> block to replace");
    return readme.replace(block, (_m, begin: string, end: string) => `${begin}${table}${end}`);
}

if (require.main === module) {
    const table = settingsTable(readSchema());
    if (process.argv.includes("--write")) {
        const file = path.join(__dirname, "..", "README.md");
        fs.writeFileSync(file, withTable(fs.readFileSync(file, "utf8"), table));
        process.stdout.write("README.md: settings table rewritten from components/schema.json\n");
    } else process.stdout.write(`${table}\n`);
}
