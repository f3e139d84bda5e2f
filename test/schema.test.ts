// The component package's schema, inferred offline by the analyzer `pulumi package add` runs
// (@pulumi/pulumi/provider/experimental, ComponentProvider.getSchema()), must equal the committed snapshot:
// an unsupported type fails here with the analyzer's message, and a renamed input shows in the diff.
// Refresh the snapshot on purpose with: UPDATE_SCHEMA=1 npx mocha test/schema.test.ts
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { inferSchema, SCHEMA_FILE } from "./schema-infer";

describe("component package schema", function () {
    this.timeout(120_000);
    let inferred: any;
    before(async () => {
        inferred = await inferSchema();
        if (process.env.UPDATE_SCHEMA) fs.writeFileSync(SCHEMA_FILE, JSON.stringify(inferred, null, 2) + "\n");
    });

    it("is inferred with no error and matches components/schema.json", () => {
        const committed = JSON.parse(fs.readFileSync(SCHEMA_FILE, "utf8"));
        assert.deepStrictEqual(inferred, committed, "the inferred schema differs from components/schema.json; if the change is meant, refresh it (UPDATE_SCHEMA=1)");
    });

    it("exposes AuroraIamProxy with its Args as inputs and its outputs", () => {
        const resource = inferred.resources["aurora-iam-proxy:index:AuroraIamProxy"];
        assert.ok(resource?.isComponent);
        assert.deepStrictEqual(resource.requiredInputs.sort(), ["environment", "region", "tags"]);
        for (const input of ["network", "database", "proxy", "access", "operator", "smoke", "alarms", "name"]) assert.ok(resource.inputProperties[input], input);
        for (const output of ["proxyEndpoint", "port", "connectArns", "connectPolicies", "clientSecurityGroupId"]) assert.ok(resource.properties[output], output);
        assert.deepStrictEqual(inferred.types["aurora-iam-proxy:index:AuthMode"].enum.map((e: any) => e.value), ["iam", "secrets"]);
    });

    it("names the analyzer's problem when an Args type cannot cross languages", async () => {
        await assert.rejects(inferSchema({ entry: path.join(__dirname, "fixtures", "union-args-component.ts"), component: "UnionArgsComponent", name: "bad" }),
            /Union types are not supported for component 'UnionArgsComponent' property 'UnionArgs\.size'/);
    });
});
