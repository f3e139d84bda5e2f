// The real entry point, index.ts, as `pulumi up` runs it: config arrives string-encoded through the
// runtime, and invalid settings must stop the program before a single resource is declared.
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT } from "../components/config";
import { evaluate, stackConfig, withOverrides } from "./harness";

/** Hands config to the runtime the way the Pulumi CLI does: every value a string, objects as JSON. */
function setRuntimeConfig(config: Record<string, unknown>) {
    const asCli: Record<string, string> = {};
    for (const [k, v] of Object.entries(config)) asCli[k] = typeof v === "string" ? v : JSON.stringify(v);
    pulumi.runtime.setAllConfig(asCli);
}

function loadIndexFresh(): Record<string, unknown> {
    delete require.cache[require.resolve("../index")];
    return require("../index");
}

describe("index.ts (the program's entry point)", function () {
    this.timeout(30000);

    it("evaluates the dev stack from runtime config and exports its outputs", async () => {
        const ev = await evaluate("dev", () => {
            setRuntimeConfig(stackConfig("dev"));
            return loadIndexFresh();
        });
        assert.equal(ev.outputs.dbUser, "app_user");
        assert.match(ev.outputs.proxyEndpoint, /\.proxy-[a-z0-9]+\.eu-west-1\.rds\.amazonaws\.com$/);
        assert.ok(ev.resources.length > 40);
    });

    const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
        [
            "min capacity above max",
            { "database.minCapacity": 4, "database.maxCapacity": 2 },
            /^prod: database\.minCapacity \(4\) is above database\.maxCapacity \(2\)/m,
        ],
        [
            "deletion protection off in prod",
            { "database.deletionProtection": false },
            /^prod: database\.deletionProtection \(false\) must be true in prod$/m,
        ],
        [
            "a misspelt config namespace",
            { "aurora-iam-prxy:database": { minCapacity: 1, maxCapacity: 16 } },
            /^prod: config key aurora-iam-prxy:database is in namespace aurora-iam-prxy, .*; did you mean aurora-iam-proxy:database\?$/m,
        ],
        [
            "an apostrophe in a security-group description",
            { "tags.Application": "Tony's Chips" },
            /^prod: tags\.Application \("Tony's Chips"\) is used in security-group descriptions/m,
        ],
    ];
    for (const [what, overrides, expected] of invalid) {
        it(`stops on ${what} before declaring any resource`, async () => {
            await pulumi.runtime.setMocks(
                {
                    newResource: (args) => {
                        throw new Error(`declared ${args.type} ${args.name} despite invalid settings`);
                    },
                    call: (args) => {
                        throw new Error(`invoked ${args.token} despite invalid settings`);
                    },
                },
                PROJECT,
                "prod",
                false,
            );
            setRuntimeConfig(withOverrides(stackConfig("prod"), overrides));
            assert.throws(loadIndexFresh, (err: Error) => {
                assert.ok(pulumi.RunError.isInstance(err), "a RunError prints without a stack trace");
                assert.match(err.message, expected);
                return true;
            });
            await (pulumi.runtime as any).waitForRPCs();
            const monitor = (pulumi.runtime as any).getMonitor();
            assert.equal(monitor.getRegisteredResources().size, 0);
        });
    }
});
