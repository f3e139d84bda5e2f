// The examples a team copies: the TypeScript one runs under mocks with its VPC from awsx (a remote component,
// its outputs mocked) and passes the policy pack; the Python and YAML ones set only properties the inferred
// schema has, and every required one.
import * as assert from "assert";
import * as path from "path";
import { evaluateProgram, Evaluation } from "./harness";
import { mandatory, runPolicies } from "../policy/run";

const EXAMPLES = path.join(__dirname, "..", "examples");

describe("examples/typescript: AuroraIamProxy in a VPC from awsx", () => {
    let ev: Evaluation;
    before(async () => {
        ev = await evaluateProgram(path.join(EXAMPLES, "typescript", "index.ts"), "dev");
    });

    it("creates no VPC, subnet, route or gateway of its own in the VPC it is given", () => {
        for (const type of ["aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable", "aws:ec2/natGateway:NatGateway",
            "aws:ec2/internetGateway:InternetGateway", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "aws:ec2/flowLog:FlowLog"]) {
            assert.deepStrictEqual(ev.ofType(type).map((r) => r.name), [], type);
        }
        const vpc = ev.one("awsx:ec2:Vpc");
        for (const sg of ev.ofType("aws:ec2/securityGroup:SecurityGroup")) assert.strictEqual(sg.inputs.vpcId, vpc.state.vpcId, sg.name);
    });

    it("puts the database and the proxy in the isolated subnets, the smoke and the relay in the private ones", () => {
        const vpc = ev.one("awsx:ec2:Vpc");
        assert.deepStrictEqual(ev.one("aws:rds/subnetGroup:SubnetGroup").inputs.subnetIds, vpc.state.isolatedSubnetIds);
        assert.deepStrictEqual(ev.one("aws:rds/proxy:Proxy").inputs.vpcSubnetIds, vpc.state.isolatedSubnetIds);
        const smoke = ev.ofType("aws:lambda/function:Function").find((f) => f.inputs.vpcConfig)!;
        assert.deepStrictEqual(smoke.inputs.vpcConfig.subnetIds, vpc.state.privateSubnetIds);
        assert.strictEqual(ev.one("aws:ec2/instance:Instance").inputs.subnetId, vpc.state.privateSubnetIds[0]);
    });

    it("gives the service's role rds-db:connect as app_user through this proxy only", () => {
        const policy = JSON.parse(ev.named("aws:iam/rolePolicy:RolePolicy", "orders-api-connect").inputs.policy);
        const proxyId = ev.one("aws:rds/proxy:Proxy").state.arn.split(":").pop();
        assert.deepStrictEqual(policy.Statement.map((s: any) => [s.Action, s.Resource]),
            [["rds-db:connect", [`arn:aws:rds-db:eu-west-1:123456789012:dbuser:${proxyId}/app_user`]]]);
        assert.match(ev.outputs.proxyEndpoint, /^orders-dev-proxy\.proxy-/);
        assert.strictEqual(ev.outputs.port, 5432);
    });

    it("passes the policy pack with no mandatory violation", () => {
        const violations = mandatory(runPolicies(ev.resources, { environment: "dev" }));
        assert.deepStrictEqual(violations.map((v) => `${v.policyName}: ${v.message}`), []);
    });
});
