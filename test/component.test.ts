// AuroraIamProxy used as a component: its Args are checked like a stack file, and a VPC it is given is read
// through the aws_subnet data source and refused, one line per problem naming the subnet.
import * as assert from "assert";
import { AuroraIamProxy, AuroraIamProxyArgs } from "../components";
import { existingSubnetProblems } from "../components/network";
import { resolveArgs, SettingsError } from "../components/config";
import { evaluate, EXISTING_SUBNETS } from "./harness";

const base: AuroraIamProxyArgs = {
    environment: "dev",
    region: "eu-west-1",
    tags: { Owner: "platform-team", CostCenter: "1234" },
};

function subnet(id: string, vpcId: string, availabilityZone: string) {
    EXISTING_SUBNETS.set(id, { vpcId, availabilityZone, cidrBlock: "10.9.0.0/24" });
    return id;
}
const VPC = "vpc-0a1b2c3d4e5f60718";
const OTHER_VPC = "vpc-0ffffffffffffffff";
const private1 = subnet("subnet-0000000000000a001", VPC, "eu-west-1a");
const private2 = subnet("subnet-0000000000000a002", VPC, "eu-west-1b");
const isolated1 = subnet("subnet-0000000000000b001", VPC, "eu-west-1a");
const isolated2 = subnet("subnet-0000000000000b002", VPC, "eu-west-1b");
const isolatedSameAz = subnet("subnet-0000000000000b003", VPC, "eu-west-1a");
const foreign = subnet("subnet-0000000000000c001", OTHER_VPC, "eu-west-1b");

function withVpc(privateSubnetIds: string[], isolatedSubnetIds: string[]): AuroraIamProxyArgs {
    return { ...base, network: { existingVpc: { vpcId: VPC, privateSubnetIds, isolatedSubnetIds } } };
}

describe("AuroraIamProxy's arguments", () => {
    it("refuses a misspelled argument in one line naming it and what is allowed", () => {
        assert.throws(
            () => resolveArgs("dev", { ...base, databse: {} } as any),
            (e: SettingsError) =>
                e.problems.length === 1 &&
                /^dev: databse \(\{\}\) is not an argument of AuroraIamProxy; allowed: region, environment, name, network, database/.test(
                    e.problems[0],
                ),
        );
    });

    it("refuses the example consumer's settings (app, budget, access.ecsTask): they are the program's, not the component's", () => {
        assert.throws(
            () => resolveArgs("dev", { ...base, access: { ecsTask: ["app_user"] } } as any),
            /dev: access\.ecsTask \(\["app_user"\]\) is not a setting; allowed in access: users, clientSecurityGroupIds/,
        );
        assert.throws(() => resolveArgs("dev", { ...base, app: { image: "x" } } as any), /app .* is not an argument of AuroraIamProxy/);
    });

    it("applies the same presets as a stack file: prod gets 3 AZs and 2 instances by default", () => {
        const prod = resolveArgs("prod", { ...base, environment: "prod" });
        assert.strictEqual(prod.network.azCount, 3);
        assert.strictEqual(prod.database.instanceCount, 2);
        assert.strictEqual(resolveArgs("dev", base).database.instanceCount, 1);
    });

    it("checks an existing VPC's ids where they are known, and refuses settings for a VPC it would create", () => {
        assert.throws(
            () =>
                resolveArgs("dev", {
                    ...base,
                    network: {
                        existingVpc: { vpcId: "vpc-XYZ", privateSubnetIds: [private1], isolatedSubnetIds: ["subnet-1", isolated2] },
                        cidr: "10.1.0.0/16",
                    },
                }),
            (e: SettingsError) => {
                assert.deepStrictEqual(e.problems, [
                    'dev: network.existingVpc.vpcId ("vpc-XYZ") must be a VPC id such as vpc-0123456789abcdef0',
                    `dev: network.existingVpc.privateSubnetIds (["${private1}"]) must list at least 2 subnet ids, in at least 2 availability zones`,
                    'dev: network.existingVpc.isolatedSubnetIds: "subnet-1" is not a subnet id such as subnet-0123456789abcdef0',
                    'dev: network.cidr ("10.1.0.0/16") is for a VPC the component creates; remove it, or remove network.existingVpc (flow logs of your VPC are yours to keep)',
                ]);
                return true;
            },
        );
    });

    it("does not ask prod for flow logs on a VPC it does not own", () => {
        const prod = resolveArgs("prod", { ...withVpc([private1, private2], [isolated1, isolated2]), environment: "prod" });
        assert.strictEqual(prod.network.flowLogs, false);
    });
});

describe("AuroraIamProxy in an existing VPC", () => {
    it("names each subnet that is in another VPC, and a tier that covers one AZ only", () => {
        const d = (id: string) => ({ id, ...EXISTING_SUBNETS.get(id)! });
        assert.deepStrictEqual(
            existingSubnetProblems(VPC, {
                privateSubnetIds: [d(private1), d(foreign)],
                isolatedSubnetIds: [d(isolated1), d(isolatedSameAz)],
            }),
            [
                `network.existingVpc.privateSubnetIds: subnet ${foreign} is in ${OTHER_VPC}, not in network.existingVpc.vpcId ${VPC}; give subnets of that VPC`,
                `network.existingVpc.isolatedSubnetIds (${isolated1}, ${isolatedSameAz}) covers only eu-west-1a; Aurora and RDS Proxy need subnets in at least 2 availability zones`,
            ],
        );
        assert.deepStrictEqual(
            existingSubnetProblems(VPC, { privateSubnetIds: [d(private1), d(private2)], isolatedSubnetIds: [d(private1), d(isolated2)] }),
            [`network.existingVpc: subnet ${private1} is in both privateSubnetIds and isolatedSubnetIds; give each tier its own subnets`],
        );
        assert.deepStrictEqual(
            existingSubnetProblems(VPC, { privateSubnetIds: [d(private1), d(private2)], isolatedSubnetIds: [d(isolated1), d(isolated2)] }),
            [],
        );
    });

    it("fails the preview with that line when a given subnet is in another VPC, before the cluster is declared", async function () {
        this.timeout(60_000);
        // The program's output waits on the subnets' check, as a preview does.
        await assert.rejects(
            evaluate("dev", () => ({ vpcId: new AuroraIamProxy("db", withVpc([private1, foreign], [isolated1, isolated2])).vpcId })),
            new RegExp(`subnet ${foreign} is in ${OTHER_VPC}, not in network\\.existingVpc\\.vpcId ${VPC}`),
        );
    });

    it("refuses proxy.authMode secrets, which would add a Secrets Manager endpoint to the VPC", () => {
        assert.throws(
            () => new AuroraIamProxy("db", { ...withVpc([private1, private2], [isolated1, isolated2]), proxy: { authMode: "secrets" } }),
            /dev: proxy\.authMode \(secrets\) with network\.existingVpc/,
        );
    });
});
