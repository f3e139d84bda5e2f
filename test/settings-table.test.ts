// One schema: the stack files' keys are AuroraIamProxy's Args. The README's settings table is generated from the
// package schema, and the parser accepts exactly the keys the schema has (plus this program's own, documented
// in a table of their own).
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { settingKeys } from "../components/config";
import { readSchema, settingRows, settingsTable, splitDefault } from "../ops/settings-table";

const readme = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8");

describe("settings table (README) and the one schema", () => {
    const schema = readSchema();

    it("the README's component table is exactly what `npm run docs:settings` prints from the schema", () => {
        const block = /<!-- settings:begin[^>]*-->\n([\s\S]*?)\n<!-- settings:end -->/.exec(readme);
        assert.ok(block, "README: the settings:begin/end markers");
        assert.equal(
            block[1],
            settingsTable(schema),
            "README is stale: run `npm run docs:settings` and paste its output between the markers",
        );
    });

    it("the parser accepts exactly the schema's keys: none the Args lack, none the Args have that a stack file cannot set", () => {
        // Two levels, as the parser checks them (network.existingVpc is one value); region comes from aws:region.
        const schemaKeys = [...new Set(settingRows(schema).map((r) => r.key.split(".").slice(0, 2).join(".")))].filter(
            (k) => k !== "region",
        );
        assert.deepEqual([...settingKeys({ program: false })].sort(), schemaKeys.sort());
    });

    it("every key has a type, and every optional key without a default says what its absence means", () => {
        for (const row of settingRows(schema)) {
            assert.ok(row.type, `${row.key}: no type`);
            assert.ok(row.default || row.meaning || row.type.includes("required"), `${row.key}: neither default nor meaning`);
        }
    });

    it("every program-only key is in the README's program table", () => {
        const programTable = readme.slice(readme.indexOf("This repository's program also reads these"));
        for (const key of settingKeys({ program: true })) {
            assert.ok(programTable.includes(`\`${key}\``), `README program settings: ${key}`);
        }
    });

    it("a description's Default sentence becomes the default column, and the rest the meaning", () => {
        assert.deepEqual(splitDefault("Days kept.\nDefault: 14 in dev, 365 in prod."), {
            meaning: "Days kept.",
            default: "14 in dev, 365 in prod",
        });
        assert.deepEqual(splitDefault("Default: 300."), { meaning: "", default: "300" });
        assert.deepEqual(splitDefault("No default here."), { meaning: "No default here.", default: "" });
    });
});
