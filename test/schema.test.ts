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
        assert.deepStrictEqual(
            inferred,
            committed,
            "the inferred schema differs from components/schema.json; if the change is meant, refresh it (UPDATE_SCHEMA=1)",
        );
    });

    it("exposes AuroraIamProxy with its Args as inputs and its outputs", () => {
        const resource = inferred.resources["aurora-iam-proxy:index:AuroraIamProxy"];
        assert.ok(resource?.isComponent);
        assert.deepStrictEqual(resource.requiredInputs.sort(), ["environment", "region", "tags"]);
        for (const input of ["network", "database", "proxy", "access", "operator", "smoke", "alarms", "name"])
            assert.ok(resource.inputProperties[input], input);
        for (const output of ["proxyEndpoint", "port", "connectArns", "connectPolicies", "clientSecurityGroupId"])
            assert.ok(resource.properties[output], output);
        assert.deepStrictEqual(
            inferred.types["aurora-iam-proxy:index:AuthMode"].enum.map((e: any) => e.value),
            ["iam", "secrets"],
        );
    });

    it("has no untyped (Any) property: every input and output has a type another language can hold", () => {
        assert.deepStrictEqual(anyTyped(inferred), []);
    });

    it("would catch a provider class leaking into the public API (the offline inference sees it as Any)", async () => {
        const leaked = await inferSchema({
            entry: path.join(__dirname, "fixtures", "provider-type-output-component.ts"),
            component: "ProviderTypeOutputComponent",
            name: "bad",
        });
        assert.deepStrictEqual(anyTyped(leaked), ["bad:index:ProviderTypeOutputComponent.proxy"]);
    });

    it("names the analyzer's problem when an Args type cannot cross languages", async () => {
        await assert.rejects(
            inferSchema({
                entry: path.join(__dirname, "fixtures", "union-args-component.ts"),
                component: "UnionArgsComponent",
                name: "bad",
            }),
            /Union types are not supported for component 'UnionArgsComponent' property 'UnionArgs\.size'/,
        );
    });
});

/** Every property, in resources and types, whose type is pulumi.json#/Any. */
function anyTyped(schema: any): string[] {
    const found: string[] = [];
    const visit = (owner: string, props: Record<string, any> = {}) => {
        for (const [name, p] of Object.entries(props)) {
            const refs = [p, p.items, p.additionalProperties].filter(Boolean).map((x: any) => x.$ref);
            if (refs.includes("pulumi.json#/Any")) found.push(`${owner}.${name}`);
        }
    };
    for (const [token, r] of Object.entries<any>(schema.resources ?? {})) {
        visit(token, r.inputProperties);
        visit(token, r.properties);
    }
    for (const [token, t] of Object.entries<any>(schema.types ?? {})) visit(token, t.properties);
    return found;
}
