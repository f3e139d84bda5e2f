// A mock cloud for the Pulumi program: the tests and `npm start`'s plan both use it.
// Evaluates the Pulumi program under pulumi.runtime.setMocks — Pulumi's own unit-testing method — with
// mocks that answer like AWS does (proxy ARNs ending in db-proxy:prx-…, cluster resource ids, endpoints),
// and records every resource the program declares with its inputs, parent, provider and dependencies.
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { parseSettings, PROJECT, Settings } from "../components/config";
import { stackConfig, StackFileError } from "./stack-file";

export const ACCOUNT_ID = "123456789012";

/** The engine versions the mocks say AWS offers, oldest first (16.1 is retired already; 12 is in extended support). */
export const MOCK_ENGINE_VERSIONS: Record<string, string[]> = {
    "aurora-postgresql": ["12.20", "12.22", "15.6", "15.8", "15.10", "16.4", "16.6", "16.8", "16.9"],
};

export interface MockResource {
    type: string;
    name: string;
    urn: string;
    id: string;
    /** The inputs the program passed, resolved. */
    inputs: Record<string, any>;
    /** Inputs plus what the mock "cloud" returned (arn, id, endpoint, ...). */
    state: Record<string, any>;
    parent?: string;
    provider?: string;
    /** URNs this resource depends on (dependsOn and every input's dependencies). */
    dependencies: string[];
    /** For each input property, the URNs its value came from. */
    propertyDependencies: Record<string, string[]>;
    /**
     * The resource options that decide what a replacement or a destroy does: `importId` set adopts an existing
     * cloud resource, and `retainOnDelete` leaves it behind on destroy.
     */
    options: { protect: boolean; deleteBeforeReplace: boolean; ignoreChanges: string[]; importId: string; retainOnDelete: boolean };
    /** The aliases the registration carries: old URNs, or specs the engine resolves (name, type, parent). */
    aliases: Array<{
        urn?: string;
        spec?: { name: string; type: string; stack: string; project: string; parenturn?: string; noparent?: boolean };
    }>;
}

export interface Evaluation {
    stack: string;
    resources: MockResource[];
    outputs: Record<string, any>;
    /** Every resource of a type, e.g. ofType("aws:rds/proxy:Proxy"). */
    ofType(type: string): MockResource[];
    /** The one resource of a type; fails if there are none or several. */
    one(type: string): MockResource;
    /** The resource of a type with this logical name, e.g. named("aws:iam/role:Role", "ecs-task"). */
    named(type: string, name: string): MockResource;
    byUrn(urn: string): MockResource;
}

/** The stack file's `config:` block, as Pulumi hands it to a program (read by local/stack-file.ts, the one reader). */
export { stackConfig, StackFileError };

/** Applies `{ "database.minCapacity": 4 }`-style overrides to a stack's config (undefined deletes the key). */
export function withOverrides(config: Record<string, unknown>, overrides: Record<string, unknown> = {}): Record<string, unknown> {
    const out: Record<string, any> = JSON.parse(JSON.stringify(config));
    for (const [key, value] of Object.entries(overrides)) {
        if (key.includes(":")) {
            if (value === undefined) delete out[key];
            else out[key] = value;
            continue;
        }
        const [section, ...rest] = key.split(".");
        const full = `${PROJECT}:${section}`;
        if (rest.length === 0) {
            if (value === undefined) delete out[full];
            else out[full] = value;
            continue;
        }
        out[full] = { ...(out[full] ?? {}) };
        if (value === undefined) delete out[full][rest.join(".")];
        else out[full][rest.join(".")] = value;
    }
    return out;
}

function hash(text: string, length: number): string {
    return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/**
 * Subnets that exist before the program runs (a VPC the caller brings): what aws_subnet answers for each id.
 * awsx's ec2.Vpc (a remote component whose children are invisible under mocks) adds its subnets here.
 */
export const EXISTING_SUBNETS = new Map<string, { vpcId: string; availabilityZone: string; cidrBlock: string }>();

/**
 * A cluster that exists before the program runs (database.existingCluster), as the data sources describe it:
 * aws_rds_cluster, its DB subnet group (aws_db_subnet_group) and, where it has one, its RDS-managed master secret
 * and that secret's key. Tests put one with `putExistingCluster` and vary any field.
 */
export interface MockExistingCluster {
    clusterIdentifier: string;
    engine: string;
    engineMode: string;
    engineVersion: string;
    iamDatabaseAuthenticationEnabled: boolean;
    port: number;
    masterUsername: string;
    databaseName: string;
    clusterMembers: string[];
    vpcSecurityGroupIds: string[];
    replicationSourceIdentifier: string;
    /** RDS manages the master password in this secret (master_user_secret), or it does not (undefined). */
    managedSecret?: { secretArn: string; kmsKeyId: string };
    subnetGroup: { name: string; vpcId: string; subnetIds: string[] };
}

export const EXISTING_CLUSTERS = new Map<string, MockExistingCluster>();
/** Secrets Manager secrets that exist (aws_secretsmanager_secret): their key, "" for the default aws/secretsmanager key. */
export const EXISTING_SECRETS = new Map<string, { kmsKeyId: string }>();
/** KMS keys that exist (aws_kms_key), by id or ARN: who manages each. */
export const EXISTING_KMS_KEYS = new Map<string, { arn: string; keyManager: "AWS" | "CUSTOMER" }>();

/**
 * A healthy existing cluster in `vpcId`, as teams have them: Aurora PostgreSQL 16, IAM authentication on, one
 * security group, a writer and a reader, its master password managed by RDS under the AWS-managed key.
 */
export function sampleExistingCluster(identifier: string, vpcId: string, region = "eu-west-1"): MockExistingCluster {
    const h = hash(identifier, 17);
    return {
        clusterIdentifier: identifier,
        engine: "aurora-postgresql",
        engineMode: "provisioned",
        engineVersion: "16.6",
        iamDatabaseAuthenticationEnabled: true,
        port: 5432,
        masterUsername: "postgres",
        databaseName: "orders",
        clusterMembers: [`${identifier}-instance-1`, `${identifier}-instance-2`],
        vpcSecurityGroupIds: [`sg-${h}`],
        replicationSourceIdentifier: "",
        managedSecret: {
            secretArn: `arn:aws:secretsmanager:${region}:${ACCOUNT_ID}:secret:rds!cluster-${hash(`${identifier}/secret`, 8)}-${h.slice(0, 6)}`,
            kmsKeyId: `arn:aws:kms:${region}:${ACCOUNT_ID}:key/${hash("aws/secretsmanager", 8)}-aws-managed`,
        },
        subnetGroup: { name: `${identifier}-subnets`, vpcId, subnetIds: [] },
    };
}

/** Makes `cluster` (and its secret and key) exist for the data sources; returns it. */
export function putExistingCluster(cluster: MockExistingCluster): MockExistingCluster {
    EXISTING_CLUSTERS.set(cluster.clusterIdentifier, cluster);
    if (cluster.managedSecret) {
        EXISTING_SECRETS.set(cluster.managedSecret.secretArn, { kmsKeyId: cluster.managedSecret.kmsKeyId });
        if (!EXISTING_KMS_KEYS.has(cluster.managedSecret.kmsKeyId)) {
            EXISTING_KMS_KEYS.set(cluster.managedSecret.kmsKeyId, {
                arn: cluster.managedSecret.kmsKeyId,
                keyManager: /aws-managed$/.test(cluster.managedSecret.kmsKeyId) ? "AWS" : "CUSTOMER",
            });
        }
    }
    return cluster;
}

/** aws_rds_cluster's answer for a cluster that exists. */
function describeCluster(c: MockExistingCluster, region: string): Record<string, any> {
    const arn = `arn:aws:rds:${region}:${ACCOUNT_ID}:cluster:${c.clusterIdentifier}`;
    const dns = `c${hash(region, 11)}.${region}.rds.amazonaws.com`;
    return {
        id: c.clusterIdentifier,
        arn,
        clusterIdentifier: c.clusterIdentifier,
        clusterResourceId: `cluster-${hash(arn, 26).toUpperCase()}`,
        engine: c.engine,
        engineMode: c.engineMode,
        engineVersion: c.engineVersion,
        iamDatabaseAuthenticationEnabled: c.iamDatabaseAuthenticationEnabled,
        endpoint: `${c.clusterIdentifier}.cluster-${dns}`,
        readerEndpoint: `${c.clusterIdentifier}.cluster-ro-${dns}`,
        port: c.port,
        masterUsername: c.masterUsername,
        databaseName: c.databaseName,
        clusterMembers: c.clusterMembers,
        vpcSecurityGroupIds: c.vpcSecurityGroupIds,
        replicationSourceIdentifier: c.replicationSourceIdentifier,
        masterUserSecrets: c.managedSecret ? [{ ...c.managedSecret, secretStatus: "active" }] : [],
        dbSubnetGroupName: c.subnetGroup.name,
        storageEncrypted: true,
        region,
    };
}

/** awsx.ec2.Vpc's outputs, as the remote component would return them: one subnet per AZ for each spec'd type. */
function mockAwsxVpc(args: pulumi.runtime.MockResourceArgs, region: string): { id: string; state: Record<string, any> } {
    const i = args.inputs;
    const vpcId = `vpc-${hash(`awsx/${args.name}`, 17)}`;
    const azCount = i.numberOfAvailabilityZones ?? 2;
    const types: string[] = (i.subnetSpecs ?? [{ type: "Public" }, { type: "Private" }]).map((s: { type: string }) => s.type);
    const ids: Record<string, string[]> = { Public: [], Private: [], Isolated: [] };
    types.forEach((type, t) => {
        for (let az = 0; az < azCount; az++) {
            const id = `subnet-${hash(`${args.name}/${type}/${az}`, 17)}`;
            EXISTING_SUBNETS.set(id, { vpcId, availabilityZone: `${region}${"abc"[az]}`, cidrBlock: `10.0.${t * 16 + az}.0/24` });
            ids[type].push(id);
        }
    });
    return {
        id: vpcId,
        state: {
            vpcId,
            publicSubnetIds: ids.Public,
            privateSubnetIds: ids.Private,
            isolatedSubnetIds: ids.Isolated,
            subnets: [],
            natGateways: [],
        },
    };
}

/** Answers resource registrations the way AWS would shape them. */
function mockState(args: pulumi.runtime.MockResourceArgs, region: string): { id: string; state: Record<string, any> } {
    const i = args.inputs;
    const h = hash(`${args.type}/${args.name}`, 17);
    const arn = (service: string, resource: string) => `arn:aws:${service}:${region}:${ACCOUNT_ID}:${resource}`;
    switch (args.type) {
        case "awsx:ec2:Vpc":
            return mockAwsxVpc(args, region);
        case "aws:rds/proxy:Proxy": {
            const id = `prx-${h}`;
            return {
                id: i.name,
                state: {
                    ...i,
                    arn: arn("rds", `db-proxy:${id}`),
                    endpoint: `${i.name}.proxy-c${hash(region, 11)}.${region}.rds.amazonaws.com`,
                },
            };
        }
        case "aws:rds/cluster:Cluster": {
            const id = i.clusterIdentifier;
            const resourceId = `cluster-${h.toUpperCase()}`;
            return {
                id,
                state: {
                    ...i,
                    arn: arn("rds", `cluster:${id}`),
                    clusterResourceId: resourceId,
                    port: 5432,
                    engineVersionActual: i.engineVersion,
                    endpoint: `${id}.cluster-c${hash(region, 11)}.${region}.rds.amazonaws.com`,
                    readerEndpoint: `${id}.cluster-ro-c${hash(region, 11)}.${region}.rds.amazonaws.com`,
                    masterUserSecrets: [
                        {
                            kmsKeyId: i.masterUserSecretKmsKeyId,
                            secretArn: arn("secretsmanager", `secret:rds!cluster-${hash(id, 8)}-${h.slice(0, 6)}`),
                            secretStatus: "active",
                        },
                    ],
                },
            };
        }
        case "aws:rds/clusterInstance:ClusterInstance":
            return { id: i.identifier, state: { ...i, arn: arn("rds", `db:${i.identifier}`), dbiResourceId: `db-${h.toUpperCase()}` } };
        case "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup":
            return { id: i.dbProxyName, state: { ...i, name: "default", arn: arn("rds", `target-group:prx-tg-${h}`) } };
        case "aws:rds/proxyEndpoint:ProxyEndpoint":
            return {
                id: `${i.dbProxyName}/${i.dbProxyEndpointName}`,
                state: {
                    ...i,
                    arn: arn("rds", `db-proxy-endpoint:prx-endpoint-${h}`),
                    endpoint: `${i.dbProxyEndpointName}.endpoint.proxy-c${hash(region, 11)}.${region}.rds.amazonaws.com`,
                    isDefault: false,
                },
            };
        case "aws:ec2/vpcEndpoint:VpcEndpoint":
            return { id: `vpce-${h}`, state: { ...i, arn: arn("ec2", `vpc-endpoint/vpce-${h}`) } };
        case "random:index/randomId:RandomId":
            return { id: `mock${h.slice(0, 6)}`, state: { ...i, hex: h.slice(0, 2 * (i.byteLength ?? 4)), b64Url: "mock", dec: "1" } };
        case "aws:rds/proxyTarget:ProxyTarget":
            return {
                id: `${i.dbProxyName}/${i.targetGroupName}/CLUSTER/${i.dbClusterIdentifier}`,
                state: { ...i, type: "TRACKED_CLUSTER" },
            };
        case "aws:iam/role:Role": {
            const name = `${args.name}-${h.slice(0, 7)}`;
            return { id: name, state: { ...i, name, arn: `arn:aws:iam::${ACCOUNT_ID}:role/${name}` } };
        }
        case "aws:kms/key:Key": {
            const keyId = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(12, 15)}-a${hash(h, 3)}-${hash(h, 12)}`;
            return { id: keyId, state: { ...i, keyId, arn: arn("kms", `key/${keyId}`) } };
        }
        case "aws:ec2/instance:Instance": {
            const id = `i-${h}`;
            return {
                id,
                state: { ...i, arn: arn("ec2", `instance/${id}`), privateIp: "10.20.64.10", publicIp: "", instanceState: "running" },
            };
        }
        case "aws:iam/instanceProfile:InstanceProfile": {
            const name = `${args.name}-${h.slice(0, 7)}`;
            return { id: name, state: { ...i, name, arn: `arn:aws:iam::${ACCOUNT_ID}:instance-profile/${name}` } };
        }
        case "aws:ssm/document:Document":
            return { id: i.name, state: { ...i, arn: arn("ssm", `document/${i.name}`) } };
        case "aws:ec2/vpc:Vpc":
            return { id: `vpc-${h}`, state: { ...i, arn: arn("ec2", `vpc/vpc-${h}`) } };
        case "aws:ec2/subnet:Subnet":
            return { id: `subnet-${h}`, state: { ...i, arn: arn("ec2", `subnet/subnet-${h}`) } };
        case "aws:ec2/securityGroup:SecurityGroup":
            return { id: `sg-${h}`, state: { ...i, arn: arn("ec2", `security-group/sg-${h}`) } };
        case "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup":
            return { id: `sg-${h}`, state: { ...i } };
        case "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        case "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule":
            return { id: `sgr-${h}`, state: { ...i } };
        case "aws:ec2/natGateway:NatGateway":
            return { id: `nat-${h}`, state: { ...i } };
        case "aws:ec2/internetGateway:InternetGateway":
            return { id: `igw-${h}`, state: { ...i } };
        case "aws:ec2/eip:Eip":
            return { id: `eipalloc-${h}`, state: { ...i, publicIp: "203.0.113.10" } };
        case "aws:ec2/routeTable:RouteTable":
            return { id: `rtb-${h}`, state: { ...i } };
        case "aws:cloudwatch/logGroup:LogGroup":
            return { id: i.name, state: { ...i, arn: arn("logs", `log-group:${i.name}`) } };
        case "aws:secretsmanager/secret:Secret": {
            const name = `${i.namePrefix ?? args.name}${h.slice(0, 6)}`;
            return { id: arn("secretsmanager", `secret:${name}`), state: { ...i, name, arn: arn("secretsmanager", `secret:${name}`) } };
        }
        case "aws:ecs/cluster:Cluster": {
            const name = `${args.name}-${h.slice(0, 7)}`;
            return { id: arn("ecs", `cluster/${name}`), state: { ...i, name, arn: arn("ecs", `cluster/${name}`) } };
        }
        case "aws:ecr/repository:Repository":
            return {
                id: i.name,
                state: {
                    ...i,
                    arn: arn("ecr", `repository/${i.name}`),
                    repositoryUrl: `${ACCOUNT_ID}.dkr.ecr.${region}.amazonaws.com/${i.name}`,
                },
            };
        case "aws:ecs/taskDefinition:TaskDefinition":
            return { id: i.family, state: { ...i, arn: arn("ecs", `task-definition/${i.family}:1`), revision: 1 } };
        case "aws:ecs/service:Service": {
            const name = `${args.name}-${h.slice(0, 7)}`;
            return { id: name, state: { ...i, name } };
        }
        case "aws:lambda/function:Function": {
            const name = `${args.name}-${h.slice(0, 7)}`;
            return {
                id: name,
                state: { ...i, name, arn: arn("lambda", `function:${name}`), invokeArn: arn("lambda", `function:${name}`) },
            };
        }
        case "aws:lambda/invocation:Invocation":
            // What a passing handler returns; the handler itself is tested against the local data plane.
            return {
                id: `${i.functionName}_${h.slice(0, 8)}`,
                state: { ...i, result: JSON.stringify({ ok: true, target: "mock", checks: [], totalMs: 0 }) },
            };
        case "random:index/randomPassword:RandomPassword":
            return { id: "none", state: { ...i, result: `mock-${h}`, bcryptHash: "mock" } };
        default: {
            // Like the provider's auto-naming: a physical name from the logical one plus a random suffix.
            const id = `${args.name}-${h.slice(0, 7)}`;
            return { id, state: { name: id, ...i, ...(args.custom !== false && !("arn" in i) ? { arn: arn("mock", args.name) } : {}) } };
        }
    }
}

function mockCall(args: pulumi.runtime.MockCallArgs, region: string): Record<string, any> {
    switch (args.token) {
        case "aws:index/getCallerIdentity:getCallerIdentity":
            return { accountId: ACCOUNT_ID, arn: `arn:aws:iam::${ACCOUNT_ID}:user/deployer`, userId: "AIDAMOCKUSER", id: ACCOUNT_ID };
        case "aws:index/getPartition:getPartition":
            return { partition: "aws", dnsSuffix: "amazonaws.com", reverseDnsPrefix: "com.amazonaws", id: "aws" };
        case "aws:index/getAvailabilityZones:getAvailabilityZones": {
            const names = ["a", "b", "c"].map((z) => `${region}${z}`);
            return { names, zoneIds: names.map((_, n) => `euw1-az${n + 1}`), id: region, groupNames: [region] };
        }
        case "aws:rds/getEngineVersion:getEngineVersion": {
            // As aws_rds_engine_version answers: the versions AWS offers for the major (prefix match), the first
            // preferred one offered, else (latest) the newest; an error when no preferred version is offered.
            const offered = (MOCK_ENGINE_VERSIONS[args.inputs.engine] ?? []).filter((v) => v.startsWith(`${args.inputs.version}.`));
            const preferred: string[] = args.inputs.preferredVersions ?? [];
            const matches = preferred.length > 0 ? preferred.filter((v) => offered.includes(v)) : offered;
            if (matches.length === 0)
                throw new Error(`no RDS engine versions match the criteria and preferred versions: ${preferred.join(", ")}`);
            const found = args.inputs.latest ? matches[matches.length - 1] : matches[0];
            return {
                id: found,
                engine: args.inputs.engine,
                version: found,
                versionActual: found,
                parameterGroupFamily: `${args.inputs.engine}${found.split(".")[0]}`,
                status: "available",
            };
        }
        case "aws:ec2/getSubnet:getSubnet": {
            const found = EXISTING_SUBNETS.get(args.inputs.id);
            if (!found) throw new Error(`InvalidSubnetID.NotFound: The subnet ID '${args.inputs.id}' does not exist`);
            return { id: args.inputs.id, arn: `arn:aws:ec2:${region}:${ACCOUNT_ID}:subnet/${args.inputs.id}`, ...found };
        }
        case "aws:rds/getCluster:getCluster": {
            const found = EXISTING_CLUSTERS.get(args.inputs.clusterIdentifier);
            // As the provider words it (aws_rds_cluster data source: "reading RDS Cluster (%s): %s").
            if (!found) throw new Error(`reading RDS Cluster (${args.inputs.clusterIdentifier}): couldn't find resource`);
            return describeCluster(found, region);
        }
        case "aws:rds/getSubnetGroup:getSubnetGroup": {
            const found = [...EXISTING_CLUSTERS.values()].find((c) => c.subnetGroup.name === args.inputs.name);
            if (!found) throw new Error(`reading RDS DB Subnet Group (${args.inputs.name}): couldn't find resource`);
            return {
                id: found.subnetGroup.name,
                arn: `arn:aws:rds:${region}:${ACCOUNT_ID}:subgrp:${found.subnetGroup.name}`,
                ...found.subnetGroup,
                status: "Complete",
            };
        }
        case "aws:secretsmanager/getSecret:getSecret": {
            const found = EXISTING_SECRETS.get(args.inputs.arn);
            if (!found) throw new Error(`reading Secrets Manager Secret (${args.inputs.arn}): couldn't find resource`);
            return { id: args.inputs.arn, arn: args.inputs.arn, name: String(args.inputs.arn).split(":").pop(), kmsKeyId: found.kmsKeyId };
        }
        case "aws:kms/getKey:getKey": {
            const found = EXISTING_KMS_KEYS.get(args.inputs.keyId);
            if (!found) throw new Error(`reading KMS Key (${args.inputs.keyId}): NotFoundException`);
            return {
                id: found.arn,
                arn: found.arn,
                keyId: found.arn.split("/").pop(),
                keyManager: found.keyManager,
                enabled: true,
                keyState: "Enabled",
            };
        }
        case "aws:ssm/getParameter:getParameter":
            // AWS's public AMI parameters: the latest Amazon Linux 2023 image of the region.
            if (String(args.inputs.name).startsWith("/aws/service/ami-amazon-linux-latest/")) {
                const ami = `ami-0${hash(`${region}${args.inputs.name}`, 16)}`;
                return {
                    id: args.inputs.name,
                    name: args.inputs.name,
                    type: "String",
                    value: ami,
                    insecureValue: ami,
                    version: 1,
                    arn: `arn:aws:ssm:${region}::parameter${args.inputs.name}`,
                };
            }
            throw new Error(`test mocks: no SSM parameter ${args.inputs.name}`);
        default:
            throw new Error(`test mocks: no answer for invoke ${args.token}; add one to test/harness.ts`);
    }
}

/** Resolves every Output inside a value (arrays and plain objects included). */
async function resolveDeep(value: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(value)) {
        // The Output's own promise: it rejects when an apply threw (e.g. a check at preview), where an apply
        // callback would simply never run and the evaluation would wait for ever.
        return resolveDeep(await (value as unknown as { promise(): Promise<unknown> }).promise());
    }
    if (Array.isArray(value)) return Promise.all(value.map(resolveDeep));
    if (value && typeof value === "object" && !(value instanceof pulumi.Resource)) {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) out[k] = await resolveDeep(v);
        return out;
    }
    return value;
}

let running: Promise<unknown> = Promise.resolve();

export interface EvaluateOptions {
    /** The region the mocks shape ARNs and endpoints for. */
    region?: string;
    /** Configuration the program reads through pulumi.Config (`"aws:region"`, ...), as `pulumi config` holds it. */
    config?: Record<string, string>;
    /** The Pulumi project's name (Pulumi.yaml `name`). */
    project?: string;
}

/**
 * Runs `program()` for a stack under mocks and returns what it declared. Evaluations are serialised:
 * Pulumi's runtime state is process-wide.
 */
export function evaluate(stack: string, program: () => unknown, opts: EvaluateOptions = {}): Promise<Evaluation> {
    const run = running.then(() => evaluateNow(stack, program, opts));
    running = run.catch(() => undefined);
    return run;
}

async function evaluateNow(stack: string, program: () => unknown, opts: EvaluateOptions): Promise<Evaluation> {
    const region = opts.region ?? "eu-west-1";
    const byUrn = new Map<string, MockResource>();
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => mockState(args, region),
            call: (args) => {
                try {
                    return mockCall(args, region);
                } catch (err) {
                    // The engine hands an invoke's failure to the program as the error's details (runtime/invoke.js).
                    throw Object.assign(new Error((err as Error).message), { details: (err as Error).message });
                }
            },
        },
        opts.project ?? PROJECT,
        stack,
        false,
    );
    pulumi.runtime.setAllConfig(opts.config ?? {});

    // Record each registration's metadata: the mocks API shows inputs, the request also shows the graph.
    const monitor = (pulumi.runtime as any).getMonitor();
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: (err: any, res: any) => void) =>
        register(req, (err: any, res: any) => {
            if (!err && res) {
                const propertyDependencies: Record<string, string[]> = {};
                req.getPropertydependenciesMap().forEach((deps: any, key: string) => {
                    propertyDependencies[key] = deps.getUrnsList();
                });
                const urn = res.getUrn();
                byUrn.set(urn, {
                    type: req.getType(),
                    name: req.getName(),
                    urn,
                    id: res.getId(),
                    inputs: unwrapSecrets(pulumi.runtime.deserializeProperties(req.getObject())),
                    state: unwrapSecrets(pulumi.runtime.deserializeProperties(res.getObject())),
                    parent: req.getParent() || undefined,
                    provider: req.getProvider() || undefined,
                    dependencies: req.getDependenciesList(),
                    propertyDependencies,
                    aliases: req.getAliasesList().map((a: any) => a.toObject()),
                    options: {
                        protect: req.getProtect() === true,
                        deleteBeforeReplace: req.getDeletebeforereplace() === true,
                        ignoreChanges: req.getIgnorechangesList(),
                        importId: req.getImportid(),
                        retainOnDelete: req.getRetainondelete() === true,
                    },
                });
            }
            callback(err, res);
        });

    const outputs = (await resolveDeep(program())) as Record<string, any>;
    await (pulumi.runtime as any).waitForRPCs();
    const resources = [...byUrn.values()];
    const ofType = (type: string) => resources.filter((r) => r.type === type);
    return {
        stack,
        resources,
        outputs,
        ofType,
        one(type) {
            const found = ofType(type);
            if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
            return found[0];
        },
        named(type, name) {
            const found = ofType(type).find((r) => r.name === name);
            if (!found)
                throw new Error(
                    `no ${type} named ${name}; have ${
                        ofType(type)
                            .map((r) => r.name)
                            .join(", ") || "none"
                    }`,
                );
            return found;
        },
        byUrn(urn) {
            const found = byUrn.get(urn);
            if (!found) throw new Error(`no resource with urn ${urn}`);
            return found;
        },
    };
}

/** Secrets arrive as { 4dabf18193072939515e22adb298388d: ..., value }; tests look at the plain value. */
function unwrapSecrets(value: any): any {
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (value && typeof value === "object") {
        if ("4dabf18193072939515e22adb298388d" in value && "value" in value) return unwrapSecrets(value.value);
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) out[k] = unwrapSecrets(v);
        return out;
    }
    return value;
}

/**
 * A program file (e.g. examples/typescript/index.ts) under mocks, loaded afresh: its exports are the outputs.
 * Its Pulumi.yaml gives the project name and the config; `stackConfig` adds what `pulumi config set` would
 * (keys without a namespace are the project's).
 */
export async function evaluateProgram(
    file: string,
    stack: string,
    stackConfig: Record<string, string> = {},
): Promise<Evaluation & { region: string }> {
    const dir = path.dirname(file);
    const project = parseYaml(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8"));
    const config = Object.fromEntries(
        Object.entries(project.config ?? {}).map(([k, v]) => [k, String((v as { value?: unknown })?.value ?? v)]),
    );
    for (const [key, value] of Object.entries(stackConfig)) config[key.includes(":") ? key : `${project.name}:${key}`] = value;
    const region = config["aws:region"] ?? "eu-west-1";
    const ev = await evaluate(
        stack,
        () => {
            delete require.cache[require.resolve(file)];
            return { ...require(file) };
        },
        { region, config, project: project.name },
    );
    return { ...ev, region };
}

/**
 * The program for a stack with its settings file (plus overrides), as `pulumi up -s <stack>` would run it: any
 * Pulumi.<stack>.yaml in the project (or in `opts.root`), not only dev and prod.
 */
export async function evaluateStack(
    stack: string,
    overrides?: Record<string, unknown>,
    opts: { root?: string } = {},
): Promise<Evaluation & { settings: Settings }> {
    const { createStack } = await import("../components/stack");
    const settings = parseSettings(stack, withOverrides(stackConfig(stack, opts.root), overrides));
    const ev = await evaluate(stack, () => createStack(settings), { region: settings.region });
    return { ...ev, settings };
}
