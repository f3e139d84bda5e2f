// The examples a team copies: the TypeScript one runs under mocks with its VPC from awsx (a remote component,
// its outputs mocked) and passes the policy pack; the Python and YAML ones set only properties the inferred
// schema has, and every required one.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import {
    evaluateProgram,
    Evaluation,
    EXISTING_SUBNETS,
    mandatoryViolationLines,
    putExistingCluster,
    sampleExistingCluster,
} from "./harness";
import { costByPart, estimateStack, money } from "../cost/report";
import { estimate } from "../cost/estimate";
import { parseArgs } from "../ops/cost-cli";

const EXAMPLES = path.join(__dirname, "..", "examples");

describe("examples/typescript: AuroraIamProxy in a VPC from awsx", () => {
    let ev: Evaluation;
    before(async function () {
        this.timeout(60_000); // loads @pulumi/awsx besides the program
        ev = await evaluateProgram(path.join(EXAMPLES, "typescript", "index.ts"), "dev");
    });

    it("creates no VPC, subnet, route or gateway of its own in the VPC it is given", () => {
        for (const type of [
            "aws:ec2/vpc:Vpc",
            "aws:ec2/subnet:Subnet",
            "aws:ec2/routeTable:RouteTable",
            "aws:ec2/natGateway:NatGateway",
            "aws:ec2/internetGateway:InternetGateway",
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
            "aws:ec2/flowLog:FlowLog",
        ]) {
            assert.deepStrictEqual(
                ev.ofType(type).map((r) => r.name),
                [],
                type,
            );
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
        assert.deepStrictEqual(
            policy.Statement.map((s: any) => [s.Action, s.Resource]),
            [["rds-db:connect", [`arn:aws:rds-db:eu-west-1:123456789012:dbuser:${proxyId}/app_user`]]],
        );
        assert.match(ev.outputs.proxyEndpoint, /^orders-dev-proxy\.proxy-/);
        assert.strictEqual(ev.outputs.port, 5432);
    });

    it("is priced by the cost tool (npm run cost -- --program), its awsx VPC named as not priced rather than counted as free", () => {
        const e = estimateStack({ ...ev, settings: { region: "eu-west-1" } });
        assert.ok(
            e.lines.some((l) => l.type === "aws:rds/proxy:Proxy" && l.monthly > 0),
            "the proxy is priced",
        );
        assert.deepEqual(
            e.notPriced.map((n) => [n.resource, n.type]),
            [["orders", "awsx:ec2:Vpc"]],
        );
        assert.match(e.notPriced[0].reason, /remote component: its AWS resources .* are not in the offline plan/);
        assert.deepEqual(parseArgs(["--program", "examples/typescript/index.ts", "--json"]), {
            json: true,
            unverified: false,
            policyConfig: false,
            program: "examples/typescript/index.ts",
            stack: "dev",
        });
        assert.throws(() => parseArgs(["--program", "x.ts", "--diff", "HEAD"]), /--program goes with --json only/);
    });

    it("passes the policy pack with no mandatory violation", () => {
        assert.deepStrictEqual(mandatoryViolationLines(ev.resources), []);
    });
});

describe("examples/existing-cluster: AuroraIamProxy in front of a cluster that exists, by its identifier", () => {
    const vpcId = "vpc-0e0e0e0e0e0e0e0ee";
    const subnets = (tier: string) =>
        ["a", "b"].map((az, i) => {
            const id = `subnet-0ee0000000000${tier}00${i + 1}`;
            EXISTING_SUBNETS.set(id, { vpcId, availabilityZone: `eu-west-1${az}`, cidrBlock: `10.30.${i}.0/24` });
            return id;
        });
    // What the team's stack config holds (pulumi config set ...), and the cluster AWS describes.
    const stackConfig = {
        vpcId,
        privateSubnetIds: JSON.stringify(subnets("a")),
        isolatedSubnetIds: JSON.stringify(subnets("b")),
        clusterIdentifier: "orders-legacy",
    };
    let ev: Evaluation;
    before(async function () {
        this.timeout(60_000);
        putExistingCluster(sampleExistingCluster("orders-legacy", vpcId));
        ev = await evaluateProgram(path.join(EXAMPLES, "existing-cluster", "index.ts"), "dev", stackConfig);
    });

    it("fronts the cluster with the proxy, declaring no RDS resource but the proxy's", () => {
        assert.strictEqual(ev.one("aws:rds/proxyTarget:ProxyTarget").inputs.dbClusterIdentifier, "orders-legacy");
        assert.deepStrictEqual(
            ev.resources.filter((r) => r.type.startsWith("aws:rds/") && !r.type.startsWith("aws:rds/proxy")).map((r) => r.type),
            [],
        );
        assert.match(ev.outputs.clusterEndpoint, /^orders-legacy\.cluster-/);
        assert.match(ev.outputs.proxyEndpoint, /^orders-dev-proxy\.proxy-/);
    });

    it("passes the policy pack with no mandatory violation, its VPC's subnets allowed as an existing VPC's are", () => {
        assert.deepStrictEqual(mandatoryViolationLines(ev.resources, { existingVpc: true }), []);
    });

    it("costs what the README's migration table says for step 1 (the tool's estimate of this plan, by part)", () => {
        const e = estimate("dev", "eu-west-1", ev.resources);
        const part = new Map(costByPart(e).map((p) => [p.part, money(p.monthly)]));
        const proxy = e.lines.find((l) => l.type === "aws:rds/proxy:Proxy")!;
        const expected =
            `expected ${money(e.monthly.expected)} (low ${money(e.monthly.low)}, high ${money(e.monthly.high)}): ` +
            `the proxy ${money(proxy.monthly)} for a writer and a reader of 2 vCPUs (RDS Proxy bills the cluster's vCPUs, at least 2, or its ACUs, at least 8), ` +
            `monitoring ${part.get("monitoring")}, the relay ${part.get("operator")}, the smoke ${part.get("smoke")}, a KMS key ${part.get("secrets")}`;
        const readme = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8");
        assert.strictEqual(/<!-- front-cost -->(.*?)<!-- \/front-cost -->/.exec(readme)?.[1], expected);
        assert.deepStrictEqual(
            [...part.keys()].sort(),
            ["monitoring", "operator", "proxy", "secrets", "smoke"],
            "every part is in the sentence",
        );
        const perUnit = /at \$[\d.]+ an hour each \((\$[\d.]+) a month\)/.exec(proxy.basis)?.[1];
        assert.strictEqual(
            money(proxy.monthly),
            money(4 * Number(perUnit?.slice(1))),
            "a cluster outside the plan: two instances of 2 vCPUs expected, not the 8-ACU minimum",
        );
        assert.strictEqual(money(proxy.low), money(2 * Number(perUnit?.slice(1))), "low: the 2-vCPU minimum");
        assert.ok(
            perUnit && readme.includes(`(${perUnit} a month per vCPU or ACU above the minimum)`),
            `README: the per-vCPU figure ${perUnit}`,
        );
    });
});

type Schema = { resources: Record<string, any>; types: Record<string, any> };
const COMPONENT = "aurora-iam-proxy:index:AuroraIamProxy";

/** Pulumi's Python names: camelCase (or PascalCase) properties become snake_case. */
const pyName = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
const typeOf = (schema: Schema, prop: any): any =>
    prop?.$ref
        ? schema.types[prop.$ref.replace("#/types/", "")]
        : prop?.items?.$ref
          ? schema.types[prop.items.$ref.replace("#/types/", "")]
          : undefined;

/** Problems with a value set for an object of `properties`/`required`, naming where (one line each). */
function objectProblems(
    schema: Schema,
    where: string,
    properties: Record<string, any>,
    required: string[],
    given: Record<string, unknown>,
    name: (p: string) => string,
    nested: (where: string, prop: any, value: unknown) => string[],
): string[] {
    const byName = new Map(Object.entries(properties).map(([p, def]) => [name(p), def]));
    const problems: string[] = [];
    for (const [key, value] of Object.entries(given)) {
        const def = byName.get(key);
        if (!def) problems.push(`${where}.${key} is not in the schema; it has ${[...byName.keys()].join(", ")}`);
        else problems.push(...nested(`${where}.${key}`, def, value));
    }
    for (const r of required) if (!(name(r) in given)) problems.push(`${where} misses the required ${name(r)}`);
    return problems;
}

function pythonProblems(schema: Schema, where: string, prop: any, value: any): string[] {
    const values = Array.isArray(value) ? value : [value];
    return values.flatMap((v: any, i: number) => {
        const at = Array.isArray(value) ? `${where}[${i}]` : where;
        const type = typeOf(schema, prop);
        if (v?.call) {
            const token = `aurora-iam-proxy:index:${v.call.replace(/Args$/, "")}`;
            if (!type || schema.types[token] !== type)
                return [`${at} is ${v.call}, but the schema's type there is ${prop.$ref ?? prop.items?.$ref ?? prop.type}`];
            return objectProblems(schema, at, type.properties, type.required ?? [], v.kwargs, pyName, (w, p, x) =>
                pythonProblems(schema, w, p, x),
            );
        }
        if (v?.enum) {
            const token = `aurora-iam-proxy:index:${v.enum}`;
            const members = (schema.types[token]?.enum ?? []).map((e: any) => pyName(e.name).toUpperCase());
            if (schema.types[token] !== type)
                return [`${at} is the enum ${v.enum}, but the schema's type there is ${prop.$ref ?? prop.items?.$ref ?? prop.type}`];
            return members.includes(v.member) ? [] : [`${at}: ${v.enum}.${v.member} is not a member; members: ${members.join(", ")}`];
        }
        return [];
    });
}

function yamlProblems(schema: Schema, where: string, prop: any, value: any): string[] {
    const type = typeOf(schema, prop);
    if (typeof value === "string" && value.startsWith("${")) return [];
    if (Array.isArray(value)) return value.flatMap((v, i) => yamlProblems(schema, `${where}[${i}]`, prop.items ? prop.items : prop, v));
    if (type?.enum)
        return type.enum.some((e: any) => e.value === value)
            ? []
            : [`${where} (${JSON.stringify(value)}) is not one of ${type.enum.map((e: any) => e.value).join(", ")}`];
    if (type?.properties && value && typeof value === "object") {
        return objectProblems(
            schema,
            where,
            type.properties,
            type.required ?? [],
            value,
            (p) => p,
            (w, p, x) => yamlProblems(schema, w, p, x),
        );
    }
    return [];
}

describe("examples in other languages, against the inferred schema (components/schema.json)", () => {
    const schema: Schema = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "components", "schema.json"), "utf8"));
    const component = schema.resources[COMPONENT];

    it("examples/python sets only properties the schema has, every required one, and reads only its outputs", () => {
        const parsed = JSON.parse(
            execFileSync("python3", [path.join(__dirname, "examples-schema.py"), path.join(EXAMPLES, "python", "__main__.py")], {
                encoding: "utf8",
                timeout: 10_000,
            }),
        );
        assert.strictEqual(parsed.components.length, 1);
        const { opts: _opts, ...kwargs } = parsed.components[0].kwargs;
        const problems = objectProblems(
            schema,
            "AuroraIamProxy",
            component.inputProperties,
            component.requiredInputs,
            kwargs,
            pyName,
            (w, p, x) => pythonProblems(schema, w, p, x),
        );
        const outputs = Object.keys(component.properties).map(pyName);
        problems.push(
            ...parsed.reads
                .filter((r: string) => !outputs.includes(r))
                .map((r: string) => `db.${r} is not an output; outputs: ${outputs.join(", ")}`),
        );
        assert.deepStrictEqual(problems, []);
        assert.ok(JSON.stringify(parsed).includes("ExistingVpcArgs"), "the example brings its own VPC");
    });

    it("examples/yaml sets only properties the schema has, every required one, and reads only its outputs", () => {
        const program = parseYaml(fs.readFileSync(path.join(EXAMPLES, "yaml", "Pulumi.yaml"), "utf8"));
        const resources = Object.entries<any>(program.resources).filter(([, r]) =>
            ["aurora-iam-proxy:AuroraIamProxy", COMPONENT].includes(r.type),
        );
        assert.strictEqual(resources.length, 1);
        const [name, resource] = resources[0];
        const problems = objectProblems(
            schema,
            name,
            component.inputProperties,
            component.requiredInputs,
            resource.properties,
            (p) => p,
            (w, p, x) => yamlProblems(schema, w, p, x),
        );
        for (const [key, expr] of Object.entries<string>(program.outputs)) {
            const m = new RegExp(`^\\$\\{${name}\\.(\\w+)`).exec(expr);
            if (m && !component.properties[m[1]]) problems.push(`outputs.${key}: ${m[1]} is not an output of AuroraIamProxy`);
        }
        assert.deepStrictEqual(problems, []);
    });

    it("would name a misspelled property and a missing required one (the check can fail)", () => {
        const given = { environment: "dev", regoin: "eu-west-1", tags: { Owner: "x", CostCenter: "1" } };
        const problems = objectProblems(
            schema,
            "db",
            component.inputProperties,
            component.requiredInputs,
            given,
            (p) => p,
            (w, p, x) => yamlProblems(schema, w, p, x),
        );
        assert.deepStrictEqual(
            problems.map((p) => p.split(";")[0]),
            ["db.regoin is not in the schema", "db misses the required region"],
        );
    });
});
