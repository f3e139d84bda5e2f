// `npm run adopt:settings -- --cluster FILE --instances FILE [--parameters FILE]`: the stack-file settings that adopt
// an existing Aurora PostgreSQL cluster (docs/adopt-existing-cluster.md), written from what the AWS CLI prints for it:
//   aws rds describe-db-clusters --db-cluster-identifier ID > cluster.json
//   aws rds describe-db-instances --filters Name=db-cluster-id,Values=ID > instances.json
//   aws rds describe-db-cluster-parameters --db-cluster-parameter-group-name GROUP --source user > parameters.json
// Prints YAML to paste under `config:`, with what the first `pulumi up` changes in place as comments. Reads files only.
import * as fs from "fs";
import { parseArgs } from "util";
import { stringify } from "yaml";
import { adoptionSettings, describedFromCli, parametersFromCli } from "../components/adopt";
import { PROJECT } from "../components/config";

const USAGE =
    "usage: npm run adopt:settings -- --cluster FILE --instances FILE [--parameters FILE]   (the JSON of aws rds describe-db-clusters, describe-db-instances, describe-db-cluster-parameters --source user)";

/** The settings text for the cluster the three AWS CLI outputs describe. */
export function adoptionSettingsText(clusterJson: unknown, instancesJson: unknown, parametersJson?: unknown): string {
    const described = describedFromCli(clusterJson, instancesJson);
    const { database, existingVpc, changes } = adoptionSettings(
        described,
        parametersJson === undefined ? [] : parametersFromCli(parametersJson),
    );
    const yaml = stringify(
        {
            [`${PROJECT}:database`]: database,
            [`${PROJECT}:network`]: { existingVpc: { ...existingVpc, privateSubnetIds: [] } },
        },
        { indent: 2 },
    );
    return [
        `# Adopts cluster ${described.identifier} (docs/adopt-existing-cluster.md). Paste under config: in Pulumi.<stack>.yaml, then set`,
        "# network.existingVpc.privateSubnetIds to 2+ subnets of that VPC with a route out (NAT or VPC endpoints).",
        "# The first pulumi up imports the cluster and changes in place (no replacement):",
        ...changes.map((c) => `#   - ${c}`),
        yaml
            .trimEnd()
            .split("\n")
            .map((line) => `  ${line}`)
            .join("\n"),
    ].join("\n");
}

function main(argv: string[]): number {
    let values: { cluster?: string; instances?: string; parameters?: string; help?: boolean };
    try {
        ({ values } = parseArgs({
            args: argv,
            options: {
                cluster: { type: "string" },
                instances: { type: "string" },
                parameters: { type: "string" },
                help: { type: "boolean", short: "h" },
            },
        }));
    } catch (e) {
        console.error(`${(e as Error).message}\n${USAGE}`);
        return 2;
    }
    if (values.help) {
        console.log(USAGE);
        return 0;
    }
    if (!values.cluster || !values.instances) {
        console.error(`--cluster and --instances are required\n${USAGE}`);
        return 2;
    }
    const read = (file: string): unknown => {
        try {
            return JSON.parse(fs.readFileSync(file, "utf8"));
        } catch (e) {
            throw new Error(`${file}: ${(e as Error).message} (expected the AWS CLI's JSON output)`);
        }
    };
    try {
        console.log(
            adoptionSettingsText(read(values.cluster), read(values.instances), values.parameters ? read(values.parameters) : undefined),
        );
        return 0;
    } catch (e) {
        console.error((e as Error).message);
        return 1;
    }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
