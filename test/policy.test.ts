// The policy pack, as a specification: both stacks pass it, it judges exactly as the engine's own
// analyzer host does (resolved and at a first preview), and each policy reports a broken variant of
// the real program with its message while leaving a compliant variant alone.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { Policies } from "@pulumi/policy";
import { evaluateStack, MockResource, stackAsDeclared } from "./harness";
import { analyzeViaHost } from "../policy/host";
import { PACK_NAME, policies } from "../policy/policies";
import { simulateFirstPreview } from "../policy/preview";
import { formatViolations, mandatory, PolicyResourceLike, runPolicies, verdictReport, Violation } from "../policy/run";
import { T } from "../policy/rules/types";
import { UNKNOWN } from "../policy/util";

type Stack = "dev" | "prod";
const evaluations: Partial<Record<Stack, Promise<MockResource[]>>> = {};

/** Each stack is evaluated once; every test gets its own deep copy to break. */
async function stack(name: Stack): Promise<MockResource[]> {
    evaluations[name] ??= stackAsDeclared(name).then((e) => e.resources);
    return JSON.parse(JSON.stringify(await evaluations[name]!));
}

function all(rs: PolicyResourceLike[], type: string): PolicyResourceLike[] {
    return rs.filter((r) => r.type === type);
}

function one(rs: PolicyResourceLike[], type: string, name?: string): PolicyResourceLike {
    const found = all(rs, type).filter((r) => name === undefined || r.name === name);
    assert.ok(found.length >= 1, `fixture: no ${type}${name ? ` named ${name}` : ""}`);
    return found[0];
}

/** Changes a resource's inputs and its state alike (resource rules read inputs, stack rules state). */
function edit(r: PolicyResourceLike, change: (props: Record<string, any>) => void): void {
    change(r.inputs);
    if (r.state) {
        change(r.state);
    }
}

function byId(rs: PolicyResourceLike[], id: string): PolicyResourceLike {
    const found = rs.find((r) => r.id === id);
    assert.ok(found, `fixture: no resource with id ${id}`);
    return found!;
}

/** Adds a resource the way the harness records one, on the stack's explicit provider. */
function add(
    rs: PolicyResourceLike[],
    type: string,
    name: string,
    inputs: Record<string, any>,
    extra: Partial<PolicyResourceLike> = {},
): PolicyResourceLike {
    const provider = one(rs, T.awsProvider);
    const stackName = provider.urn.split("::")[0].split(":").pop();
    const r: PolicyResourceLike = {
        type,
        name,
        urn: `urn:pulumi:${stackName}::aurora-iam-proxy::${type}::${name}`,
        id: `${name}-id`,
        inputs,
        state: { ...inputs },
        provider: `${provider.urn}::${provider.id}`,
        dependencies: [],
        propertyDependencies: {},
        ...extra,
    };
    rs.push(r);
    return r;
}

function containers(td: PolicyResourceLike): any[] {
    return JSON.parse(td.inputs.containerDefinitions);
}

function setContainers(td: PolicyResourceLike, change: (c: any) => void): void {
    const list = containers(td);
    list.forEach(change);
    edit(td, (p) => {
        p.containerDefinitions = JSON.stringify(list);
    });
}

function policy(name: string): Policies[number] {
    const p = policies.find((x) => x.name === name);
    assert.ok(p, `no policy named ${name}`);
    return p!;
}

function verdicts(rs: PolicyResourceLike[], env: Stack, only?: string): Violation[] {
    return runPolicies(rs, { environment: env, ...(only ? { policies: [policy(only)] } : {}) });
}

const APP_USER = "app_user";

interface Case {
    policy: string;
    stack: Stack;
    /** What the broken variant does, as a test title. */
    broken: string;
    breakIt: (rs: PolicyResourceLike[]) => void;
    message: RegExp;
    /** A compliant variant other than the stack itself (which must also pass). */
    compliant?: { title: string; fix: (rs: PolicyResourceLike[]) => void; stack?: Stack };
}

const connectPolicy = (resource: unknown) =>
    JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "rds-db:connect", Resource: resource }] });

const cases: Case[] = [
    // ---------------------------------------------------------------- RDS
    {
        policy: "rds-iam-authentication",
        stack: "dev",
        broken: "IAM database authentication off",
        breakIt: (rs) =>
            edit(one(rs, T.rdsCluster), (p) => {
                p.iamDatabaseAuthenticationEnabled = false;
            }),
        message:
            /aws:rds\/cluster:Cluster "database-cluster": iamDatabaseAuthenticationEnabled is false; set iamDatabaseAuthenticationEnabled: true/,
    },
    {
        policy: "rds-storage-encrypted-cmk",
        stack: "prod",
        broken: "storage encrypted with the AWS-managed aws/rds key",
        breakIt: (rs) =>
            edit(one(rs, T.rdsCluster), (p) => {
                p.kmsKeyId = "alias/aws/rds";
            }),
        message: /kmsKeyId is "alias\/aws\/rds", so the AWS-managed aws\/rds key is used; set kmsKeyId to a customer-managed/,
    },
    {
        policy: "rds-storage-encrypted-cmk",
        stack: "dev",
        broken: "storage not encrypted",
        breakIt: (rs) =>
            edit(one(rs, T.rdsCluster), (p) => {
                p.storageEncrypted = false;
                delete p.kmsKeyId;
            }),
        message: /storageEncrypted is false; set storageEncrypted: true/,
    },
    {
        policy: "rds-managed-master-password",
        stack: "dev",
        broken: "a plaintext masterPassword",
        breakIt: (rs) =>
            edit(one(rs, T.rdsCluster), (p) => {
                p.masterPassword = "Sup3rSecret!";
                delete p.manageMasterUserPassword;
            }),
        message: /masterPassword is set in the program .*; remove it and set manageMasterUserPassword: true/,
    },
    {
        policy: "rds-backup-retention",
        stack: "prod",
        broken: "3 days of backups in prod",
        breakIt: (rs) =>
            edit(one(rs, T.rdsCluster), (p) => {
                p.backupRetentionPeriod = 3;
            }),
        message: /backupRetentionPeriod is 3 in prod; set backupRetentionPeriod >= 7/,
        compliant: {
            title: "3 days in dev",
            stack: "dev",
            fix: (rs) =>
                edit(one(rs, T.rdsCluster), (p) => {
                    p.backupRetentionPeriod = 3;
                }),
        },
    },
    {
        policy: "rds-deletion-protection-prod",
        stack: "prod",
        broken: "deletion protection off in prod",
        breakIt: (rs) =>
            edit(one(rs, T.rdsCluster), (p) => {
                p.deletionProtection = false;
            }),
        message: /deletionProtection is false in prod; set deletionProtection: true/,
        compliant: {
            title: "deletion protection off in dev",
            stack: "dev",
            fix: (rs) =>
                edit(one(rs, T.rdsCluster), (p) => {
                    p.deletionProtection = false;
                }),
        },
    },
    {
        policy: "rds-final-snapshot-prod",
        stack: "prod",
        broken: "skipFinalSnapshot in prod",
        breakIt: (rs) =>
            edit(one(rs, T.rdsCluster), (p) => {
                p.skipFinalSnapshot = true;
            }),
        message: /skipFinalSnapshot is true in prod; set skipFinalSnapshot: false and a finalSnapshotIdentifier/,
    },
    {
        policy: "rds-postgresql-logs-exported",
        stack: "dev",
        broken: "no log exports",
        breakIt: (rs) =>
            edit(one(rs, T.rdsCluster), (p) => {
                p.enabledCloudwatchLogsExports = [];
            }),
        message: /enabledCloudwatchLogsExports is \[\]; add "postgresql"/,
    },
    {
        policy: "rds-copy-tags-to-snapshot",
        stack: "dev",
        broken: "copyTagsToSnapshot off",
        breakIt: (rs) =>
            edit(one(rs, T.rdsCluster), (p) => {
                p.copyTagsToSnapshot = false;
            }),
        message: /copyTagsToSnapshot is false; set copyTagsToSnapshot: true/,
    },
    {
        policy: "rds-not-publicly-accessible",
        stack: "prod",
        broken: "a publicly accessible instance",
        breakIt: (rs) =>
            edit(one(rs, T.rdsClusterInstance), (p) => {
                p.publiclyAccessible = true;
            }),
        message:
            /aws:rds\/clusterInstance:ClusterInstance "database-instance-1": publiclyAccessible is true; set publiclyAccessible: false/,
    },
    {
        policy: "rds-cluster-forces-tls",
        stack: "dev",
        broken: "rds.force_ssl = 0 in the cluster's parameter group",
        breakIt: (rs) =>
            edit(one(rs, T.clusterParameterGroup), (p) => {
                p.parameters = p.parameters.map((x: any) => (x.name === "rds.force_ssl" ? { ...x, value: "0" } : x));
            }),
        message:
            /its parameter group aws:rds\/clusterParameterGroup:ClusterParameterGroup "database-params" sets rds.force_ssl to "0"; add parameter \{ name: "rds.force_ssl", value: "1" \}/,
    },
    {
        policy: "rds-cluster-forces-tls",
        stack: "prod",
        broken: "the default parameter group",
        breakIt: (rs) =>
            edit(one(rs, T.rdsCluster), (p) => {
                p.dbClusterParameterGroupName = "default.aurora-postgresql16";
            }),
        message: /dbClusterParameterGroupName is "default.aurora-postgresql16" \(default group, rds.force_ssl not enforced\)/,
    },
    {
        policy: "rds-supported-engine-version",
        stack: "dev",
        broken: "Aurora PostgreSQL 13",
        breakIt: (rs) =>
            edit(one(rs, T.rdsCluster), (p) => {
                p.engineVersion = "13.12";
            }),
        message: /engineVersion is "13.12"; use Aurora PostgreSQL 14 or later/,
    },
    {
        policy: "rds-auto-minor-version-upgrade",
        stack: "dev",
        broken: "minor version upgrades off",
        breakIt: (rs) =>
            edit(one(rs, T.rdsClusterInstance), (p) => {
                p.autoMinorVersionUpgrade = false;
            }),
        message: /ClusterInstance "database-instance-1": autoMinorVersionUpgrade is false; set autoMinorVersionUpgrade: true/,
    },
    {
        policy: "rds-performance-insights",
        stack: "prod",
        broken: "Performance Insights off in prod",
        breakIt: (rs) =>
            edit(one(rs, T.rdsClusterInstance), (p) => {
                p.performanceInsightsEnabled = false;
                delete p.performanceInsightsKmsKeyId;
            }),
        message: /performanceInsightsEnabled is false in prod; set performanceInsightsEnabled: true/,
        compliant: { title: "Performance Insights off in dev", stack: "dev", fix: () => undefined },
    },
    {
        policy: "rds-performance-insights",
        stack: "dev",
        broken: "Performance Insights on the AWS-managed key",
        breakIt: (rs) =>
            edit(one(rs, T.rdsClusterInstance), (p) => {
                p.performanceInsightsEnabled = true;
                delete p.performanceInsightsKmsKeyId;
            }),
        message: /performanceInsightsKmsKeyId is unset, so query text is kept under the AWS-managed key/,
    },
    {
        policy: "rds-enhanced-monitoring-prod",
        stack: "prod",
        broken: "no Enhanced Monitoring in prod (advisory)",
        breakIt: (rs) =>
            all(rs, T.rdsClusterInstance).forEach((i) =>
                edit(i, (p) => {
                    delete p.monitoringInterval;
                }),
            ),
        message: /monitoringInterval is unset in prod; set monitoringInterval/,
        compliant: {
            title: "monitoringInterval 60 in prod",
            fix: (rs) =>
                all(rs, T.rdsClusterInstance).forEach((i) =>
                    edit(i, (p) => {
                        p.monitoringInterval = 60;
                    }),
                ),
        },
    },
    {
        policy: "rds-multi-az-prod",
        stack: "prod",
        broken: "a single instance in prod",
        breakIt: (rs) => {
            const extra = all(rs, T.rdsClusterInstance).slice(1);
            for (const i of extra) rs.splice(rs.indexOf(i), 1);
        },
        message: /Cluster "database-cluster": 1 instance\(s\) in prod; add a second aws.rds.ClusterInstance in another availability zone/,
        compliant: { title: "a single instance in dev", stack: "dev", fix: () => undefined },
    },
    {
        policy: "rds-multi-az-prod",
        stack: "prod",
        broken: "two instances pinned to one zone",
        breakIt: (rs) =>
            all(rs, T.rdsClusterInstance).forEach((i) =>
                edit(i, (p) => {
                    p.availabilityZone = "eu-west-1a";
                }),
            ),
        message: /all 2 instances are pinned to eu-west-1a; spread them over availability zones/,
    },
    // ---------------------------------------------------------------- RDS Proxy
    {
        policy: "rds-proxy-requires-tls",
        stack: "prod",
        broken: "requireTls: false",
        breakIt: (rs) =>
            edit(one(rs, T.proxy), (p) => {
                p.requireTls = false;
            }),
        message: /^aws:rds\/proxy:Proxy "proxy-proxy": requireTls is false; set requireTls: true so clients must use TLS$/,
    },
    {
        policy: "rds-proxy-requires-iam",
        stack: "dev",
        broken: "a SECRETS auth with iamAuth DISABLED",
        breakIt: (rs) =>
            edit(one(rs, T.proxy), (p) => {
                delete p.defaultAuthScheme;
                p.auths = [
                    { authScheme: "SECRETS", iamAuth: "DISABLED", secretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app" },
                ];
            }),
        message: /auths\[0\]\.iamAuth is "DISABLED", so clients may log in with a password; set iamAuth: "REQUIRED"/,
        compliant: {
            title: "secrets mode with every auth iamAuth REQUIRED",
            fix: (rs) =>
                edit(one(rs, T.proxy), (p) => {
                    delete p.defaultAuthScheme;
                    p.auths = [
                        {
                            authScheme: "SECRETS",
                            iamAuth: "REQUIRED",
                            clientPasswordAuthType: "POSTGRES_SCRAM_SHA_256",
                            secretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app",
                        },
                    ];
                }),
        },
    },
    {
        policy: "rds-proxy-requires-iam",
        stack: "prod",
        broken: "no auth scheme at all",
        breakIt: (rs) =>
            edit(one(rs, T.proxy), (p) => {
                delete p.defaultAuthScheme;
                delete p.auths;
            }),
        message: /defaultAuthScheme is unset and there are no auths; set defaultAuthScheme: "IAM_AUTH"/,
    },
    {
        policy: "rds-proxy-debug-logging-off-prod",
        stack: "prod",
        broken: "debug logging in prod",
        breakIt: (rs) =>
            edit(one(rs, T.proxy), (p) => {
                p.debugLogging = true;
            }),
        message: /debugLogging is true in prod; set debugLogging: false/,
        compliant: {
            title: "debug logging in dev",
            stack: "dev",
            fix: (rs) =>
                edit(one(rs, T.proxy), (p) => {
                    p.debugLogging = true;
                }),
        },
    },
    {
        policy: "rds-proxy-private-subnets",
        stack: "dev",
        broken: "the proxy in the public subnets",
        breakIt: (rs) => {
            const publicIds = all(rs, T.subnet)
                .filter((s) => s.inputs.mapPublicIpOnLaunch === true)
                .map((s) => s.id);
            assert.ok(publicIds.length > 0, "fixture: the stack has public subnets");
            edit(one(rs, T.proxy), (p) => {
                p.vpcSubnetIds = publicIds;
            });
        },
        message:
            /subnet aws:ec2\/subnet:Subnet "network-public-1" is public \(mapPublicIpOnLaunch is true\); put the proxy in private subnets only/,
    },
    {
        policy: "rds-proxy-private-subnets",
        stack: "prod",
        broken: "a subnet routed to the internet gateway",
        breakIt: (rs) => {
            const proxySubnet = byId(rs, one(rs, T.proxy).inputs.vpcSubnetIds[0]);
            const igw = one(rs, T.internetGateway);
            const table = add(rs, T.routeTable, "leaky-rt", {
                vpcId: one(rs, T.vpc).id,
                routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }],
            });
            add(rs, T.routeTableAssociation, "leaky-assoc", { subnetId: proxySubnet.id, routeTableId: table.id });
        },
        message: /is public \(route table aws:ec2\/routeTable:RouteTable "leaky-rt" routes to an internet gateway\)/,
    },
    {
        policy: "rds-proxy-private-subnets",
        stack: "dev",
        broken: "a subnet id from outside the stack",
        breakIt: (rs) =>
            edit(one(rs, T.proxy), (p) => {
                p.vpcSubnetIds = [...p.vpcSubnetIds, "subnet-0123456789abcdef0"];
            }),
        message: /subnet "subnet-0123456789abcdef0" is not a subnet of this stack/,
    },
    {
        policy: "rds-proxy-private-subnets",
        stack: "dev",
        broken: "the proxy in an awsx ec2.Vpc's public subnets",
        breakIt: (rs) => {
            add(
                rs,
                "awsx:ec2:Vpc",
                "brought",
                {},
                {
                    state: {
                        vpcId: "vpc-0a1b2c3d4e5f60718",
                        publicSubnetIds: ["subnet-00000000000000p01"],
                        privateSubnetIds: [],
                        isolatedSubnetIds: ["subnet-00000000000000i01", "subnet-00000000000000i02"],
                    },
                },
            );
            edit(one(rs, T.proxy), (p) => {
                p.vpcSubnetIds = ["subnet-00000000000000p01", "subnet-00000000000000i02"];
            });
        },
        message:
            /subnet "subnet-00000000000000p01" is one of awsx ec2.Vpc's public subnets; put the proxy in its isolated \(or private\) subnets/,
        compliant: {
            title: "the proxy in an awsx ec2.Vpc's isolated subnets (a VPC the program brings)",
            stack: "dev",
            fix: (rs) => {
                add(
                    rs,
                    "awsx:ec2:Vpc",
                    "brought",
                    {},
                    {
                        state: {
                            vpcId: "vpc-0a1b2c3d4e5f60718",
                            publicSubnetIds: [],
                            privateSubnetIds: [],
                            isolatedSubnetIds: ["subnet-00000000000000i01", "subnet-00000000000000i02"],
                        },
                    },
                );
                edit(one(rs, T.proxy), (p) => {
                    p.vpcSubnetIds = ["subnet-00000000000000i01", "subnet-00000000000000i02"];
                });
            },
        },
    },
    // ---------------------------------------------------------------- Security groups and VPC
    {
        policy: "sg-no-internet-ingress-db-ports",
        stack: "dev",
        broken: "0.0.0.0/0 on 5432 (an ingress rule resource)",
        breakIt: (rs) =>
            add(rs, T.ingressRule, "db-from-anywhere", {
                securityGroupId: one(rs, T.rdsCluster).inputs.vpcSecurityGroupIds[0],
                cidrIpv4: "0.0.0.0/0",
                ipProtocol: "tcp",
                fromPort: 5432,
                toPort: 5432,
            }),
        message:
            /aws:vpc\/securityGroupIngressRule:SecurityGroupIngressRule "db-from-anywhere": ingress from 0.0.0.0\/0 on port 5432 \(database port 5432\)/,
        compliant: {
            title: "0.0.0.0/0 on 443 only",
            fix: (rs) =>
                add(rs, T.ingressRule, "https-from-anywhere", {
                    securityGroupId: one(rs, T.securityGroup).id,
                    cidrIpv4: "0.0.0.0/0",
                    ipProtocol: "tcp",
                    fromPort: 443,
                    toPort: 443,
                }),
        },
    },
    {
        policy: "sg-no-internet-ingress-db-ports",
        stack: "prod",
        broken: "::/0 on all ports (inline ingress)",
        breakIt: (rs) =>
            edit(one(rs, T.securityGroup, "network-db"), (p) => {
                p.ingress = [{ protocol: "-1", fromPort: 0, toPort: 0, ipv6CidrBlocks: ["::/0"] }];
            }),
        message: /aws:ec2\/securityGroup:SecurityGroup "network-db" ingress\[0\]: ingress from ::\/0 on all ports/,
    },
    {
        policy: "sg-no-internet-ingress-db-ports",
        stack: "dev",
        broken: "0.0.0.0/0 on 5400-5500 (aws.ec2.SecurityGroupRule)",
        breakIt: (rs) =>
            add(rs, T.securityGroupRule, "legacy-rule", {
                type: "ingress",
                securityGroupId: one(rs, T.proxy).inputs.vpcSecurityGroupIds[0],
                protocol: "tcp",
                fromPort: 5400,
                toPort: 5500,
                cidrBlocks: ["0.0.0.0/0"],
            }),
        message: /aws:ec2\/securityGroupRule:SecurityGroupRule "legacy-rule": ingress from 0.0.0.0\/0 on ports 5400-5500/,
    },
    {
        policy: "sg-data-path-ingress-by-reference",
        stack: "dev",
        broken: "5432 admitted from the VPC CIDR",
        breakIt: (rs) =>
            add(rs, T.ingressRule, "proxy-from-vpc", {
                securityGroupId: one(rs, T.proxy).inputs.vpcSecurityGroupIds[0],
                cidrIpv4: "10.20.0.0/16",
                ipProtocol: "tcp",
                fromPort: 5432,
                toPort: 5432,
            }),
        message: /ingress on port 5432 from 10.20.0.0\/16; admit the data path only by security group/,
        compliant: {
            title: "5432 admitted by security group reference",
            fix: (rs) =>
                add(rs, T.ingressRule, "proxy-from-app-again", {
                    securityGroupId: one(rs, T.proxy).inputs.vpcSecurityGroupIds[0],
                    referencedSecurityGroupId: one(rs, T.ecsService).inputs.networkConfiguration.securityGroups[0],
                    ipProtocol: "tcp",
                    fromPort: 5432,
                    toPort: 5432,
                }),
        },
    },
    {
        policy: "sg-description-valid",
        stack: "dev",
        broken: "a description with an apostrophe",
        breakIt: (rs) =>
            edit(one(rs, T.securityGroup, "network-app"), (p) => {
                p.description = "App's tasks";
            }),
        message: /aws:ec2\/securityGroup:SecurityGroup "network-app": description "App's tasks" contains "'", which AWS rejects/,
        compliant: {
            title: "an & in a group description (allowed there)",
            fix: (rs) =>
                edit(one(rs, T.securityGroup, "network-app"), (p) => {
                    p.description = "App & tasks";
                }),
        },
    },
    {
        policy: "sg-description-valid",
        stack: "prod",
        broken: "an & in a rule description (not allowed there)",
        breakIt: (rs) =>
            edit(one(rs, T.ingressRule), (p) => {
                p.description = "PostgreSQL from app & smoke";
            }),
        message: /description "PostgreSQL from app & smoke" contains "&", which AWS rejects/,
    },
    {
        policy: "sg-description-valid",
        stack: "dev",
        broken: "a rule without a description",
        breakIt: (rs) =>
            edit(one(rs, T.egressRule), (p) => {
                delete p.description;
            }),
        message: /SecurityGroupEgressRule "[^"]+": description is unset; say why the path is open/,
    },
    {
        policy: "vpc-flow-logs-prod",
        stack: "prod",
        broken: "no flow log in prod",
        breakIt: (rs) => {
            for (const f of all(rs, T.flowLog)) rs.splice(rs.indexOf(f), 1);
        },
        message: /aws:ec2\/vpc:Vpc "network-vpc": no flow log in prod; add an aws.ec2.FlowLog/,
        compliant: {
            title: "no flow log in dev",
            stack: "dev",
            fix: (rs) => {
                for (const f of all(rs, T.flowLog)) rs.splice(rs.indexOf(f), 1);
            },
        },
    },
    {
        policy: "vpc-default-security-group-closed",
        stack: "dev",
        broken: "the default group keeps a self-referencing ingress",
        breakIt: (rs) =>
            edit(one(rs, T.defaultSecurityGroup), (p) => {
                p.ingress = [{ protocol: "-1", fromPort: 0, toPort: 0, self: true }];
            }),
        message: /DefaultSecurityGroup "network-default-sg": ingress has 1 rule\(s\); remove them/,
    },
    {
        policy: "vpc-default-security-group-closed",
        stack: "prod",
        broken: "the default group not adopted",
        breakIt: (rs) => rs.splice(rs.indexOf(one(rs, T.defaultSecurityGroup)), 1),
        message: /its default security group keeps AWS's allow-all rules; adopt it with an aws.ec2.DefaultSecurityGroup/,
    },
    // ---------------------------------------------------------------- IAM
    {
        policy: "iam-no-wildcard-action",
        stack: "dev",
        broken: 'Action "*"',
        breakIt: (rs) =>
            edit(one(rs, T.rolePolicy, "ecs-task-connect"), (p) => {
                p.policy = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] });
            }),
        message: /RolePolicy "ecs-task-connect": policy Statement\[0\] allows Action "\*"; list the specific actions needed/,
    },
    {
        policy: "iam-rds-connect-scoped",
        stack: "dev",
        broken: "rds-db:connect on dbuser:*/*",
        breakIt: (rs) =>
            edit(one(rs, T.rolePolicy, "ecs-task-connect"), (p) => {
                p.policy = connectPolicy("arn:aws:rds-db:eu-west-1:123456789012:dbuser:*/*");
            }),
        message: /grants rds-db:connect on "arn:aws:rds-db:eu-west-1:123456789012:dbuser:\*\/\*", which has a wildcard in its resource id/,
    },
    {
        policy: "iam-rds-connect-scoped",
        stack: "prod",
        broken: 'a wildcard region, and Resource "*"',
        breakIt: (rs) =>
            edit(one(rs, T.rolePolicy, "ecs-task-connect"), (p) => {
                p.policy = connectPolicy(["arn:aws:rds-db:*:123456789012:dbuser:prx-0abc/app_user", "*"]);
            }),
        message: /has a wildcard in its region/,
    },
    {
        policy: "iam-no-admin-managed-policies",
        stack: "dev",
        broken: "AdministratorAccess on the task role",
        breakIt: (rs) =>
            add(rs, T.rolePolicyAttachment, "task-admin", {
                role: one(rs, T.role, "ecs-task").id,
                policyArn: "arn:aws:iam::aws:policy/AdministratorAccess",
            }),
        message:
            /RolePolicyAttachment "task-admin": attaches arn:aws:iam::aws:policy\/AdministratorAccess; attach a least-privilege policy instead/,
    },
    {
        policy: "no-wildcard-principal",
        stack: "prod",
        broken: "a task role anyone may assume",
        breakIt: (rs) =>
            edit(one(rs, T.role, "ecs-task"), (p) => {
                p.assumeRolePolicy = JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [{ Effect: "Allow", Principal: { AWS: "*" }, Action: "sts:AssumeRole" }],
                });
            }),
        message: /Role "ecs-task": assumeRolePolicy Statement\[0\] allows Principal \{"AWS":"\*"\} with no Condition/,
    },
    // ---------------------------------------------------------------- ECS
    {
        policy: "ecs-awsvpc-network-mode",
        stack: "dev",
        broken: "bridge networking",
        breakIt: (rs) =>
            edit(one(rs, T.ecsTaskDefinition), (p) => {
                p.networkMode = "bridge";
            }),
        message: /networkMode is "bridge"; set networkMode: "awsvpc"/,
    },
    {
        policy: "ecs-no-public-ip",
        stack: "prod",
        broken: "assignPublicIp: true",
        breakIt: (rs) =>
            edit(one(rs, T.ecsService), (p) => {
                p.networkConfiguration.assignPublicIp = true;
            }),
        message: /networkConfiguration.assignPublicIp is true; set assignPublicIp: false/,
    },
    {
        policy: "ecs-no-privileged-containers",
        stack: "dev",
        broken: "a privileged container (ECS's `privileged` key)",
        breakIt: (rs) =>
            setContainers(one(rs, T.ecsTaskDefinition), (c) => {
                c.privileged = true;
            }),
        message: /TaskDefinition "ecs-task" container "app": privileged is true; remove privileged/,
    },
    {
        policy: "ecs-read-only-root-filesystem",
        stack: "dev",
        broken: "a writable root filesystem",
        breakIt: (rs) =>
            setContainers(one(rs, T.ecsTaskDefinition), (c) => {
                c.readonlyRootFilesystem = false;
            }),
        message: /container "app": readonlyRootFilesystem is false; set readonlyRootFilesystem: true/,
    },
    {
        policy: "ecs-logging-with-retention",
        stack: "prod",
        broken: "logs to a group kept forever",
        breakIt: (rs) => {
            const groupName = containers(one(rs, T.ecsTaskDefinition))[0].logConfiguration.options["awslogs-group"];
            edit(all(rs, T.logGroup).find((g) => g.inputs.name === groupName)!, (p) => {
                delete p.retentionInDays;
            });
        },
        message: /container "app": its log group aws:cloudwatch\/logGroup:LogGroup "ecs-logs" has retentionInDays unset \(kept forever\)/,
    },
    {
        policy: "ecs-logging-with-retention",
        stack: "dev",
        broken: "no log configuration",
        breakIt: (rs) =>
            setContainers(one(rs, T.ecsTaskDefinition), (c) => {
                delete c.logConfiguration;
            }),
        message: /container "app": logConfiguration.logDriver is unset; set logDriver "awslogs"/,
    },
    {
        policy: "ecs-execution-role-no-db-connect",
        stack: "dev",
        broken: "rds-db:connect on the execution role",
        breakIt: (rs) => {
            const executionRole = rs.find(
                (r) => r.type === T.role && r.state?.arn === one(rs, T.ecsTaskDefinition).inputs.executionRoleArn,
            )!;
            const proxyId = one(rs, T.proxy).state!.arn.split(":").pop();
            add(rs, T.rolePolicy, "execution-connect", {
                role: executionRole.id,
                policy: connectPolicy(`arn:aws:rds-db:eu-west-1:123456789012:dbuser:${proxyId}/${APP_USER}`),
            });
        },
        message:
            /RolePolicy "execution-connect" policy: execution role aws:iam\/role:Role "ecs-execution" is granted rds-db:connect; only the task role may connect/,
    },
    {
        policy: "ecs-no-plaintext-secrets",
        stack: "dev",
        broken: "DB_PASSWORD in the plain environment",
        breakIt: (rs) =>
            setContainers(one(rs, T.ecsTaskDefinition), (c) => {
                c.environment.push({ name: "DB_PASSWORD", value: "hunter2hunter2" });
            }),
        message:
            /container "app": environment DB_PASSWORD is set in plaintext \(its name says it holds a credential\); move it to the container's secrets/,
        compliant: {
            title: "a secret's ARN in the environment",
            fix: (rs) =>
                setContainers(one(rs, T.ecsTaskDefinition), (c) => {
                    c.environment.push({ name: "DB_SECRET_ARN", value: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app" });
                }),
        },
    },
    {
        policy: "ecs-no-plaintext-secrets",
        stack: "prod",
        broken: "a password inside a connection URL",
        breakIt: (rs) =>
            setContainers(one(rs, T.ecsTaskDefinition), (c) => {
                c.environment.push({ name: "DATABASE_URL", value: "postgres://app_user:pa55w0rd@db:5432/appdb" });
            }),
        message: /environment DATABASE_URL is set in plaintext \(its value looks like a credential\)/,
    },
    {
        policy: "ecs-no-host-namespaces",
        stack: "dev",
        broken: "pidMode host",
        breakIt: (rs) =>
            edit(one(rs, T.ecsTaskDefinition), (p) => {
                p.pidMode = "host";
            }),
        message: /pidMode is "host", so containers see the host's processes/,
    },
    {
        policy: "ecs-cluster-container-insights",
        stack: "prod",
        broken: "Container Insights off",
        breakIt: (rs) =>
            edit(one(rs, "aws:ecs/cluster:Cluster"), (p) => {
                p.settings = [{ name: "containerInsights", value: "disabled" }];
            }),
        message: /containerInsights is "disabled"; add settings: \[\{ name: "containerInsights", value: "enabled" \}\]/,
    },
    {
        policy: "lambda-no-plaintext-secrets",
        stack: "dev",
        broken: "a password in the smoke runner's environment",
        breakIt: (rs) =>
            edit(one(rs, T.lambdaFunction), (p) => {
                p.environment.variables.PGPASSWORD = "hunter2hunter2";
            }),
        message: /aws:lambda\/function:Function "[^"]+": environment variable PGPASSWORD is set in plaintext/,
    },
    // ---------------------------------------------------------------- Secrets Manager, KMS, logs
    {
        policy: "secretsmanager-secret-cmk",
        stack: "dev",
        broken: "a secret on the AWS-managed key",
        breakIt: (rs) => add(rs, T.secret, "app-user-secret", { namePrefix: "orders-dev-app-user-" }),
        message:
            /aws:secretsmanager\/secret:Secret "app-user-secret": kmsKeyId is unset, so the AWS-managed aws\/secretsmanager key is used/,
        compliant: {
            title: "a secret on the stack's CMK",
            fix: (rs) => add(rs, T.secret, "app-user-secret", { namePrefix: "x-", kmsKeyId: one(rs, T.kmsKey).state!.arn }),
        },
    },
    {
        policy: "kms-key-rotation",
        stack: "prod",
        broken: "rotation off",
        breakIt: (rs) =>
            edit(one(rs, T.kmsKey), (p) => {
                p.enableKeyRotation = false;
            }),
        message: /aws:kms\/key:Key "secrets-cmk": enableKeyRotation is false; set enableKeyRotation: true/,
    },
    {
        policy: "cloudwatch-log-group-retention",
        stack: "dev",
        broken: "a log group without retention",
        breakIt: (rs) =>
            edit(one(rs, T.logGroup), (p) => {
                delete p.retentionInDays;
            }),
        message: /retentionInDays is unset \(never expire\); set retentionInDays/,
    },
    {
        policy: "cloudwatch-log-group-cmk",
        stack: "dev",
        broken: "a log group on the default encryption",
        breakIt: (rs) =>
            edit(one(rs, T.logGroup), (p) => {
                delete p.kmsKeyId;
            }),
        message: /LogGroup "[^"]+": kmsKeyId is unset; set kmsKeyId to a customer-managed aws.kms.Key/,
    },
    // ---------------------------------------------------------------- The stack as a whole
    {
        policy: "db-sg-admits-only-proxy",
        stack: "dev",
        broken: "the database admitting the app directly",
        breakIt: (rs) =>
            add(rs, T.ingressRule, "db-from-app", {
                securityGroupId: one(rs, T.rdsCluster).inputs.vpcSecurityGroupIds[0],
                referencedSecurityGroupId: one(rs, T.ecsService).inputs.networkConfiguration.securityGroups[0],
                ipProtocol: "tcp",
                fromPort: 5432,
                toPort: 5432,
            }),
        message:
            /SecurityGroupIngressRule "db-from-app": the database group aws:ec2\/securityGroup:SecurityGroup "network-db" admits aws:ec2\/securityGroup:SecurityGroup "network-app" on 5432, which is not the proxy's group/,
    },
    {
        policy: "proxy-sg-admits-only-app",
        stack: "prod",
        broken: "the proxy admitting a bastion's group",
        breakIt: (rs) => {
            const bastion = add(rs, T.securityGroup, "bastion", { description: "bastion", vpcId: one(rs, T.vpc).id });
            add(rs, T.ingressRule, "proxy-from-bastion", {
                securityGroupId: one(rs, T.proxy).inputs.vpcSecurityGroupIds[0],
                referencedSecurityGroupId: bastion.id,
                ipProtocol: "tcp",
                fromPort: 5432,
                toPort: 5432,
            });
        },
        message:
            /the proxy group aws:ec2\/securityGroup:SecurityGroup "network-proxy" admits aws:ec2\/securityGroup:SecurityGroup "bastion" on 5432, which is not the application's group/,
    },
    {
        policy: "proxy-sg-admits-only-app",
        stack: "dev",
        broken: "the proxy admitting a group no service uses and nobody declared a database client",
        breakIt: (rs) => {
            const spare = add(rs, T.securityGroup, "spare", { description: "spare", vpcId: one(rs, T.vpc).id, tags: { Role: "web" } });
            add(rs, T.ingressRule, "proxy-from-spare", {
                securityGroupId: one(rs, T.proxy).inputs.vpcSecurityGroupIds[0],
                referencedSecurityGroupId: spare.id,
                ipProtocol: "tcp",
                fromPort: 5432,
                toPort: 5432,
            });
        },
        message: /admits aws:ec2\/securityGroup:SecurityGroup "spare" on 5432, which is not the application's group/,
        compliant: {
            title: "a group declared the database's client (tag Role=database-client), for a service in another program",
            stack: "dev",
            fix: (rs) => {
                const client = add(rs, T.securityGroup, "other-client", {
                    description: "client",
                    vpcId: one(rs, T.vpc).id,
                    tags: { Role: "database-client" },
                });
                add(rs, T.ingressRule, "proxy-from-other-client", {
                    securityGroupId: one(rs, T.proxy).inputs.vpcSecurityGroupIds[0],
                    referencedSecurityGroupId: client.id,
                    ipProtocol: "tcp",
                    fromPort: 5432,
                    toPort: 5432,
                });
            },
        },
    },
    {
        policy: "task-role-connect-scope",
        stack: "dev",
        broken: "the task role granted another proxy",
        breakIt: (rs) =>
            edit(one(rs, T.rolePolicy, "ecs-task-connect"), (p) => {
                p.policy = connectPolicy(`arn:aws:rds-db:eu-west-1:123456789012:dbuser:prx-0123456789abcdef0/${APP_USER}`);
            }),
        message:
            /rds-db:connect names prx-0123456789abcdef0, but this stack's proxy is prx-[0-9a-f]+; build the ARN from this stack's proxy/,
    },
    {
        policy: "task-role-connect-scope",
        stack: "prod",
        broken: "the task role granted the master user",
        breakIt: (rs) =>
            edit(one(rs, T.rolePolicy, "ecs-task-connect"), (p) => {
                const proxyId = one(rs, T.proxy).state!.arn.split(":").pop();
                p.policy = connectPolicy(`arn:aws:rds-db:eu-west-1:123456789012:dbuser:${proxyId}/dbadmin`);
            }),
        message: /rds-db:connect as "dbadmin", the cluster's master user/,
    },
    {
        policy: "task-role-connect-scope",
        stack: "dev",
        broken: "the task role connecting straight to the cluster",
        breakIt: (rs) =>
            edit(one(rs, T.rolePolicy, "ecs-task-connect"), (p) => {
                p.policy = connectPolicy(
                    `arn:aws:rds-db:eu-west-1:123456789012:dbuser:${one(rs, T.rdsCluster).state!.clusterResourceId}/${APP_USER}`,
                );
            }),
        message: /names cluster-[0-9A-F]+ \(a direct database connection that bypasses the proxy\)/,
    },
    {
        policy: "task-role-connect-scope",
        stack: "prod",
        broken: "the proxy's own role (end-to-end IAM) granted another cluster",
        breakIt: (rs) =>
            edit(one(rs, T.rolePolicy, "proxy-role"), (p) => {
                p.policy = connectPolicy(`arn:aws:rds-db:eu-west-1:123456789012:dbuser:cluster-ABCDEFGHIJKLMNOPQRSTUVWXY/${APP_USER}`);
            }),
        message:
            /RolePolicy "proxy-role" policy: the proxy's role may connect to cluster-ABCDEFGHIJKLMNOPQRSTUVWXY, but this stack's cluster is cluster-[0-9A-F]+/,
    },
    // ---------------------------------------------------------------- Between deploys
    {
        policy: "smoke-scheduled-prod",
        stack: "prod",
        broken: "prod without the scheduled smoke",
        breakIt: (rs) => rs.splice(rs.indexOf(one(rs, "aws:scheduler/schedule:Schedule")), 1),
        message: /Function "smoke-smoke": no aws\.scheduler\.Schedule runs it in prod; set smoke\.schedule/,
    },
    {
        policy: "smoke-scheduled-prod",
        stack: "prod",
        broken: "no smoke alarm treating missing data as breaching",
        breakIt: (rs) =>
            edit(one(rs, "aws:cloudwatch/metricAlarm:MetricAlarm", "monitoring-smoke-silent"), (p) => {
                p.treatMissingData = "notBreaching";
            }),
        message:
            /no alarm on AuroraIamProxy\/Smoke Pass treats missing data as breaching in prod .*"monitoring-smoke-silent" treats missing data as "notBreaching".*: a schedule that stops running would go unnoticed/,
        compliant: {
            title: "dev without a schedule (prod only)",
            stack: "dev",
            fix: (rs) => rs.splice(rs.indexOf(one(rs, "aws:scheduler/schedule:Schedule")), 1),
        },
    },
    {
        policy: "alarms-reach-someone-prod",
        stack: "prod",
        broken: "prod alarms with no subscription (the stack file ships none)",
        breakIt: (rs) => {
            for (const sub of all(rs, "aws:sns/topicSubscription:TopicSubscription")) rs.splice(rs.indexOf(sub), 1);
        },
        message:
            /Topic "monitoring-alarms": the prod alarms notify this topic, but nothing subscribes to it, so alarms go nowhere; add alarms\.subscriptions/,
        compliant: {
            title: "prod with an e-mail subscription on the alarm topic",
            fix: (rs) => {
                add(rs, "aws:sns/topicSubscription:TopicSubscription", "monitoring-alarms-1", {
                    topic: one(rs, "aws:sns/topic:Topic").state!.arn,
                    protocol: "email",
                    endpoint: "oncall@acme-corp.io",
                });
            },
        },
    },
    {
        policy: "alarms-reach-someone-prod",
        stack: "prod",
        broken: "a subscription to another topic does not count",
        breakIt: (rs) => {
            add(rs, "aws:sns/topicSubscription:TopicSubscription", "other-1", {
                topic: "arn:aws:sns:eu-west-1:123456789012:other",
                protocol: "email",
                endpoint: "oncall@acme-corp.io",
            });
        },
        message: /nothing subscribes to it, so alarms go nowhere/,
        compliant: { title: "dev with no subscription (prod only)", stack: "dev", fix: () => undefined },
    },
    // ---------------------------------------------------------------- Database users
    {
        policy: "ddl-user-connect-named",
        stack: "dev",
        broken: "the task role granted the migrations user the settings do not give it",
        breakIt: (rs) =>
            edit(one(rs, T.rolePolicy, "ecs-task-connect"), (p) => {
                const proxyId = one(rs, T.proxy).state!.arn.split(":").pop();
                p.policy = connectPolicy(
                    ["app_user", "app_migrator"].map((u) => `arn:aws:rds-db:eu-west-1:123456789012:dbuser:${proxyId}/${u}`),
                );
            }),
        message:
            /RolePolicy "ecs-task-connect": aws:iam\/role:Role "ecs-task" may connect as "app_migrator", a ddl \(migrations\) user that the settings do not give it/,
        compliant: {
            title: "the task named for the migrations user in its DB_CONNECT_AS (access.ecsTask)",
            fix: (rs) => {
                const proxyId = one(rs, T.proxy).state!.arn.split(":").pop();
                edit(one(rs, T.rolePolicy, "ecs-task-connect"), (p) => {
                    p.policy = connectPolicy(
                        ["app_user", "app_migrator"].map((u) => `arn:aws:rds-db:eu-west-1:123456789012:dbuser:${proxyId}/${u}`),
                    );
                });
                setContainers(one(rs, T.ecsTaskDefinition), (c) => {
                    c.environment = c.environment.map((e: any) =>
                        e.name === "DB_CONNECT_AS" ? { ...e, value: "app_user,app_reader,app_migrator" } : e,
                    );
                });
            },
        },
    },
    {
        policy: "ddl-user-connect-named",
        stack: "prod",
        broken: "the operator role granted the migrations user its OperatorUsers tag does not name",
        breakIt: (rs) =>
            edit(one(rs, T.role, "operator-role"), (p) => {
                p.tags = { ...p.tags, OperatorUsers: "app_reader" };
            }),
        message:
            /RolePolicy "operator-role": aws:iam\/role:Role "operator-role" may connect as "app_migrator", a ddl \(migrations\) user that the settings do not give it/,
    },
    // ---------------------------------------------------------------- operator access (issue 10)
    {
        policy: "operator-session-port-forward-only",
        stack: "dev",
        broken: "the operator role allowed ssm:StartSession on *",
        breakIt: (rs) =>
            edit(one(rs, T.rolePolicy, "operator-role"), (p) => {
                const doc = JSON.parse(p.policy);
                doc.Statement[0].Resource = "*";
                p.policy = JSON.stringify(doc);
            }),
        message: /RolePolicy "operator-role" policy Statement\[0\]: ssm:StartSession on "\*", which is every target and every document/,
    },
    {
        policy: "operator-session-port-forward-only",
        stack: "prod",
        broken: "the operator role allowed the default shell document",
        breakIt: (rs) =>
            edit(one(rs, T.rolePolicy, "operator-role"), (p) => {
                p.policy = p.policy.replace(
                    /arn:aws:ssm:eu-west-1:\d+:document\/orders-prod-operator-tunnel/,
                    "arn:aws:ssm:eu-west-1::document/SSM-SessionManagerRunShell",
                );
            }),
        message:
            /ssm:StartSession on "arn:aws:ssm:eu-west-1::document\/SSM-SessionManagerRunShell", which is SSM-SessionManagerRunShell, a document that gives a shell/,
    },
    {
        policy: "operator-session-port-forward-only",
        stack: "dev",
        broken: "the operator role allowed AWS-StartPortForwardingSessionToRemoteHost, which forwards to any host",
        breakIt: (rs) =>
            edit(one(rs, T.rolePolicy, "operator-role"), (p) => {
                p.policy = p.policy.replace(
                    /arn:aws:ssm:eu-west-1:\d+:document\/orders-dev-operator-tunnel/,
                    "arn:aws:ssm:eu-west-1::document/AWS-StartPortForwardingSessionToRemoteHost",
                );
            }),
        message:
            /RolePolicy "operator-role" policy Statement\[0\]: ssm:StartSession on "arn:aws:ssm:eu-west-1::document\/AWS-StartPortForwardingSessionToRemoteHost", which is AWS-StartPortForwardingSessionToRemoteHost, an AWS-managed document whose host and port the caller chooses/,
        compliant: {
            title: "a second document of the account's own next to the stack's",
            fix: (rs) =>
                edit(one(rs, T.rolePolicy, "operator-role"), (p) => {
                    const doc = JSON.parse(p.policy);
                    doc.Statement[0].Resource.push("arn:aws:ssm:eu-west-1:123456789012:document/orders-dev-operator-tunnel-v2");
                    p.policy = JSON.stringify(doc);
                }),
        },
    },
    {
        policy: "operator-session-port-forward-only",
        stack: "prod",
        broken: "an extra policy naming an AWS-managed document by a name AWS reserves",
        breakIt: (rs) => {
            const relay = one(rs, "aws:ec2/instance:Instance", "operator-relay");
            add(rs, T.iamPolicy, "ops-forward", {
                policy: JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Effect: "Allow",
                            Action: "ssm:StartSession",
                            Resource: [relay.state!.arn, "arn:aws:ssm:eu-west-1:123456789012:document/AWS-StartPortForwardingSession"],
                            Condition: { BoolIfExists: { "ssm:SessionDocumentAccessCheck": "true" } },
                        },
                    ],
                }),
            });
        },
        message:
            /Policy "ops-forward" policy Statement\[0\]: ssm:StartSession on ".*document\/AWS-StartPortForwardingSession", which is AWS-StartPortForwardingSession, an AWS-managed document/,
    },
    // ---------------------------------------------------------------- the relay's role (issue 15)
    {
        policy: "relay-role-reads-no-secrets",
        stack: "dev",
        broken: "AmazonSSMManagedInstanceCore attached to the relay's role",
        breakIt: (rs) => {
            const role = one(rs, T.role, "operator-relay");
            add(rs, T.rolePolicyAttachment, "relay-ssm-core", {
                role: role.state!.name,
                policyArn: "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
            });
        },
        message:
            /Instance "operator-relay"'s role aws:iam\/role:Role "operator-relay": the AWS-managed policy arn:aws:iam::aws:policy\/AmazonSSMManagedInstanceCore is attached .*allows ssm:GetParameter\(s\) on every parameter/,
        compliant: {
            title: "a customer-managed policy with only the Session Manager agent actions attached",
            stack: "dev",
            fix: (rs) => {
                const role = one(rs, T.role, "operator-relay");
                const policy = add(rs, T.iamPolicy, "relay-agent", {
                    policy: JSON.stringify({
                        Version: "2012-10-17",
                        Statement: [
                            {
                                Effect: "Allow",
                                Action: ["ssm:UpdateInstanceInformation", "ssmmessages:OpenDataChannel"],
                                Resource: "*",
                            },
                        ],
                    }),
                });
                edit(policy, (p) => {
                    p.arn = "arn:aws:iam::123456789012:policy/relay-agent";
                });
                add(rs, T.rolePolicyAttachment, "relay-agent", {
                    role: role.state!.name,
                    policyArn: "arn:aws:iam::123456789012:policy/relay-agent",
                });
            },
        },
    },
    {
        policy: "relay-role-reads-no-secrets",
        stack: "prod",
        broken: "the relay's own policy allowing ssm:GetParameters",
        breakIt: (rs) =>
            edit(one(rs, T.rolePolicy, "operator-relay-session-agent"), (p) => {
                const doc = JSON.parse(p.policy);
                doc.Statement[0].Action.push("ssm:GetParameters");
                p.policy = JSON.stringify(doc);
            }),
        message:
            /Instance "operator-relay"'s role aws:iam\/role:Role "operator-relay": aws:iam\/rolePolicy:RolePolicy "operator-relay-session-agent" policy Statement\[0\] allows ssm:GetParameters; the relay reads no parameter or secret/,
    },
    {
        policy: "relay-role-reads-no-secrets",
        stack: "dev",
        broken: "a customer-managed policy on the relay's role allowing secretsmanager:Get*",
        breakIt: (rs) => {
            const role = one(rs, T.role, "operator-relay");
            const policy = add(rs, T.iamPolicy, "relay-extra", {
                policy: JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Effect: "Allow",
                            Action: "secretsmanager:Get*",
                            Resource: "*",
                        },
                    ],
                }),
            });
            edit(policy, (p) => {
                p.arn = "arn:aws:iam::123456789012:policy/relay-extra";
            });
            add(rs, T.rolePolicyAttachment, "relay-extra", {
                role: role.state!.name,
                policyArn: "arn:aws:iam::123456789012:policy/relay-extra",
            });
        },
        message: /Policy "relay-extra" policy Statement\[0\] allows secretsmanager:GetSecretValue; the relay reads no parameter or secret/,
    },
    {
        policy: "operator-session-port-forward-only",
        stack: "dev",
        broken: "an extra policy allowing a session on the relay without naming a document",
        breakIt: (rs) => {
            const relay = one(rs, "aws:ec2/instance:Instance", "operator-relay");
            add(rs, T.iamPolicy, "ops-shell", {
                policy: JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [{ Effect: "Allow", Action: "ssm:StartSession", Resource: relay.state!.arn }],
                }),
            });
        },
        message:
            /Policy "ops-shell" policy Statement\[0\]: ssm:StartSession on "arn:aws:ec2:eu-west-1:123456789012:instance\/i-[0-9a-f]+" without a document resource, so a session without --document-name starts SSM-SessionManagerRunShell/,
    },
    {
        policy: "operator-session-port-forward-only",
        stack: "prod",
        broken: "the operator role without the session document access check",
        breakIt: (rs) =>
            edit(one(rs, T.rolePolicy, "operator-role"), (p) => {
                const doc = JSON.parse(p.policy);
                delete doc.Statement[0].Condition;
                p.policy = JSON.stringify(doc);
            }),
        message:
            /RolePolicy "operator-role" policy Statement\[0\]: ssm:StartSession on "arn:aws:ec2:.*" without the condition \{"BoolIfExists": \{"ssm:SessionDocumentAccessCheck": "true"\}\}, so a session without --document-name still starts SSM-SessionManagerRunShell/,
    },
    {
        policy: "ec2-relay-locked-down",
        stack: "dev",
        broken: "the relay with a public IP",
        breakIt: (rs) =>
            edit(one(rs, "aws:ec2/instance:Instance", "operator-relay"), (p) => {
                p.associatePublicIpAddress = true;
            }),
        message: /Instance "operator-relay": associatePublicIpAddress is true/,
    },
    {
        policy: "ec2-relay-locked-down",
        stack: "prod",
        broken: "the relay in a public subnet that maps public IPs",
        breakIt: (rs) => {
            const publicSubnet = all(rs, T.subnet).find((s) => /public/.test(s.name))!;
            edit(publicSubnet, (p) => {
                p.mapPublicIpOnLaunch = true;
            });
            edit(one(rs, "aws:ec2/instance:Instance", "operator-relay"), (p) => {
                p.subnetId = publicSubnet.id;
            });
        },
        message: /Instance "operator-relay": runs in aws:ec2\/subnet:Subnet "network-public-[0-9]+", which maps a public IP on launch/,
    },
    {
        policy: "ec2-relay-locked-down",
        stack: "prod",
        broken: "SSH admitted into the relay's group",
        breakIt: (rs) =>
            add(rs, T.ingressRule, "relay-ssh", {
                securityGroupId: one(rs, T.securityGroup, "operator-relay").id,
                cidrIpv4: "10.0.0.0/8",
                ipProtocol: "tcp",
                fromPort: 22,
                toPort: 22,
            }),
        message:
            /Instance "operator-relay": its group aws:ec2\/securityGroup:SecurityGroup "operator-relay" has an inbound rule \(.*"relay-ssh" rule from 10\.0\.0\.0\/8, SSH included\)/,
    },
    {
        policy: "ec2-relay-locked-down",
        stack: "dev",
        broken: "the relay allowing IMDSv1",
        breakIt: (rs) =>
            edit(one(rs, "aws:ec2/instance:Instance", "operator-relay"), (p) => {
                p.metadataOptions = { ...p.metadataOptions, httpTokens: "optional" };
            }),
        message: /Instance "operator-relay": metadataOptions\.httpTokens is "optional"; set "required" \(IMDSv2 only\)/,
    },
    {
        policy: "proxy-sg-admits-only-app",
        stack: "dev",
        broken: "the proxy admitting an instance's group that is not declared the operator relay",
        breakIt: (rs) =>
            edit(one(rs, "aws:ec2/instance:Instance", "operator-relay"), (p) => {
                p.tags = { Name: "something-else" };
            }),
        message:
            /the proxy group aws:ec2\/securityGroup:SecurityGroup "network-proxy" admits aws:ec2\/securityGroup:SecurityGroup "operator-relay" on 5432, which is not the application's group/,
    },
    {
        policy: "connect-only-served-users",
        stack: "prod",
        broken: "a role granted a user the proxy does not log in as",
        breakIt: (rs) => {
            const proxyId = one(rs, T.proxy).state!.arn.split(":").pop();
            const role = add(rs, T.role, "reports", { assumeRolePolicy: "{}" }, {});
            edit(role, (p) => {
                p.arn = "arn:aws:iam::123456789012:role/reports";
            });
            add(rs, T.rolePolicy, "reports-connect", {
                role: role.id,
                policy: connectPolicy(`arn:aws:rds-db:eu-west-1:123456789012:dbuser:${proxyId}/analytics`),
            });
        },
        message:
            /RolePolicy "reports-connect": rds-db:connect as "analytics" through the proxy, which serves only app_user, app_reader, app_migrator/,
    },
    {
        policy: "read-only-endpoint-needs-readers",
        stack: "prod",
        broken: "a READ_ONLY endpoint with a single instance",
        breakIt: (rs) => {
            const instances = all(rs, T.rdsClusterInstance);
            rs.splice(rs.indexOf(instances[1]), 1);
        },
        message: /ProxyEndpoint "proxy-reader": a READ_ONLY endpoint, but the cluster has 1 instance\(s\) and so no reader/,
    },
    {
        policy: "proxy-targets-stack-cluster",
        stack: "dev",
        broken: "the proxy targeting another stack's cluster",
        breakIt: (rs) =>
            edit(one(rs, T.proxyTarget), (p) => {
                p.dbClusterIdentifier = "orders-prod-aurora";
            }),
        message: /ProxyTarget "proxy-cluster-target": dbClusterIdentifier "orders-prod-aurora" is not a cluster of this stack/,
    },
    // ---------------------------------------------------------------- Tags
    {
        policy: "required-tags",
        stack: "dev",
        broken: "no CostCenter in the provider's defaultTags",
        breakIt: (rs) =>
            edit(one(rs, T.awsProvider), (p) => {
                p.defaultTags = JSON.stringify({ tags: { Environment: "dev", Application: "orders", Owner: "platform-team" } });
            }),
        message: /aws:rds\/cluster:Cluster "database-cluster": missing tag\(s\) CostCenter/,
        compliant: {
            title: "CostCenter on the resource itself",
            fix: (rs) => {
                edit(one(rs, T.awsProvider), (p) => {
                    p.defaultTags = JSON.stringify({ tags: { Environment: "dev", Application: "orders", Owner: "platform-team" } });
                });
                for (const r of rs.filter((x) => x.type.startsWith("aws:")))
                    edit(r, (p) => {
                        p.tags = { ...(p.tags ?? {}), CostCenter: "1234" };
                    });
            },
        },
    },
    // ---------------------------------------------------------------- Cost (test/cost.test.ts has the rest)
    {
        policy: "cost-within-budget",
        stack: "dev",
        broken: "a plan above the budget in the provider's defaultTags",
        breakIt: (rs) =>
            edit(one(rs, T.awsProvider), (p) => {
                p.defaultTags = withBudgetTag(p.defaultTags, "100");
            }),
        message:
            /expected monthly cost \$\d+\.\d\d \(low .*\) is above the budget of \$100\.00 from the aws provider's default tag BudgetMonthlyUsd; largest lines: database-instance-1/,
        compliant: {
            title: "a budget above the plan",
            fix: (rs) =>
                edit(one(rs, T.awsProvider), (p) => {
                    p.defaultTags = withBudgetTag(p.defaultTags, "10000");
                }),
        },
    },
];

/** The provider's defaultTags (a JSON string, as the aws SDK sends them) with a BudgetMonthlyUsd tag. */
function withBudgetTag(defaultTags: unknown, amount: string): string {
    const parsed = typeof defaultTags === "string" ? JSON.parse(defaultTags) : (defaultTags ?? {});
    return JSON.stringify({ ...parsed, tags: { ...(parsed.tags ?? {}), BudgetMonthlyUsd: amount } });
}

describe("policy pack", function () {
    this.timeout(20000);

    describe("interface", () => {
        it("exports its policies as an array from a module that starts no server; index.ts serves them", () => {
            assert.ok(policies.length >= 30);
            assert.strictEqual(new Set(policies.map((p) => p.name)).size, policies.length, "policy names are unique");
            // PolicyPack starts the analyzer's gRPC server through server.serve; record calls instead.
            // eslint-disable-next-line @typescript-eslint/no-var-requires
            const server = require("@pulumi/policy/server");
            const original = server.serve;
            const served: { name: string; policies: unknown[] }[] = [];
            server.serve = (name: string, _version: string, _level: string, args: { policies: unknown[] }) =>
                served.push({ name, policies: args.policies });
            const policyDir = path.join(__dirname, "..", "policy");
            const fresh = (file: string) => {
                for (const key of Object.keys(require.cache)) {
                    if (key.startsWith(policyDir + path.sep)) delete require.cache[key];
                }
                return require(path.join(policyDir, file));
            };
            try {
                fresh("policies.ts");
                fresh("run.ts");
                assert.strictEqual(served.length, 0, "importing policies/run starts nothing");
                const { policies: fromModule } = fresh("index.ts") && require(path.join(policyDir, "policies.ts"));
                assert.strictEqual(served.length, 1, "index.ts serves the pack");
                assert.strictEqual(served[0].name, PACK_NAME);
                assert.strictEqual(served[0].policies, fromModule);
            } finally {
                server.serve = original;
            }
        });

        it("is a CrossGuard pack: PulumiPolicy.yaml runs nodejs, package.json carries the version", () => {
            const dir = path.join(__dirname, "..", "policy");
            assert.match(fs.readFileSync(path.join(dir, "PulumiPolicy.yaml"), "utf8"), /^runtime: nodejs$/m);
            assert.match(JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).version, /^\d+\.\d+\.\d+/);
            assert.match(PACK_NAME, /^[a-zA-Z0-9-_.]{1,100}$/);
        });

        it("its README documents every policy", () => {
            const readme = fs.readFileSync(path.join(__dirname, "..", "policy", "README.md"), "utf8");
            assert.deepStrictEqual(
                policies.map((p) => p.name).filter((n) => !readme.includes(`| \`${n}\` | ${policy(n).enforcementLevel} |`)),
                [],
            );
        });

        it("every policy is mandatory except required-tags, rds-enhanced-monitoring-prod, cost-within-budget and alarms-reach-someone-prod, which are advisory", () => {
            const advisory = ["required-tags", "rds-enhanced-monitoring-prod", "cost-within-budget", "alarms-reach-someone-prod"];
            for (const p of policies) {
                assert.strictEqual(p.enforcementLevel, advisory.includes(p.name) ? "advisory" : "mandatory", p.name);
            }
        });

        it("prints a verdict block for npm start: summary first, mandatory before advisory", () => {
            const lines = verdictReport([
                { policyName: "required-tags", enforcementLevel: "advisory", message: "a" },
                { policyName: "rds-proxy-requires-tls", enforcementLevel: "mandatory", message: "b" },
            ]);
            assert.deepStrictEqual(lines, [
                "policy pack aurora-iam-proxy-security: FAIL (1 mandatory, 1 advisory)",
                "  [mandatory] rds-proxy-requires-tls: b",
                "  [advisory] required-tags: a",
            ]);
        });

        it("a pack config can change a policy's level, as --policy-pack-config does", async () => {
            const rs = await stack("prod");
            edit(one(rs, T.proxy), (p) => {
                p.debugLogging = true;
            });
            const v = runPolicies(rs, {
                environment: "prod",
                policies: [policy("rds-proxy-debug-logging-off-prod")],
                config: { "rds-proxy-debug-logging-off-prod": "advisory" },
            });
            assert.deepStrictEqual(
                v.map((x) => x.enforcementLevel),
                ["advisory"],
            );
        });
    });

    describe("CI for users", () => {
        it("tests every pull request and previews dev and prod with the pack where credentials exist", () => {
            // eslint-disable-next-line @typescript-eslint/no-var-requires
            const workflow = require("yaml").parse(fs.readFileSync(path.join(__dirname, "..", ".github", "workflows", "ci.yml"), "utf8"));
            assert.ok("pull_request" in workflow.on);
            const runs = (job: { steps: { run?: string }[] }) => job.steps.map((s) => s.run).filter(Boolean);
            assert.deepStrictEqual(runs(workflow.jobs.test), ["npm ci", "npm test"]);
            const preview = workflow.jobs.preview;
            assert.deepStrictEqual(preview.strategy.matrix.stack, ["dev", "prod"]);
            assert.match(preview.if, /vars\.AWS_ROLE_ARN != ''/);
            assert.ok(runs(preview).some((r) => /^pulumi preview --stack \$\{\{ matrix.stack \}\} --policy-pack policy\b/.test(r ?? "")));
        });
    });

    describe("both stacks", () => {
        for (const name of ["dev", "prod"] as const) {
            it(`${name} passes every mandatory policy`, async () => {
                const v = verdicts(await stack(name), name);
                assert.deepStrictEqual(formatViolations(mandatory(v)), []);
            });

            it(`${name} in proxy secrets mode (SECRETS auth, iamAuth REQUIRED) passes every mandatory policy, resolved and at a first preview`, async () => {
                const { resources } = await evaluateStack(name, { "proxy.authMode": "secrets" });
                assert.ok(all(resources, T.secret).length > 0, "secrets mode keeps the proxy user's secret");
                for (const rs of [resources, simulateFirstPreview(resources)]) {
                    assert.deepStrictEqual(formatViolations(mandatory(verdicts(rs, name))), []);
                }
            });

            it(`${name}: the engine's own analyzer host gives the same verdicts as runPolicies, resolved and at a first preview`, async () => {
                for (const rs of [await stack(name), simulateFirstPreview(await stack(name))]) {
                    const host = await analyzeViaHost(rs);
                    assert.deepStrictEqual(formatViolations(host), formatViolations(verdicts(rs, name)));
                }
            });

            it(`${name} passes every mandatory policy at its first preview, when ids, ARNs and policy documents are unknown`, async () => {
                const preview = simulateFirstPreview(await stack(name));
                assert.strictEqual(one(preview, T.rolePolicy, "ecs-task-connect").inputs.policy, UNKNOWN);
                const v = verdicts(preview, name);
                assert.deepStrictEqual(formatViolations(mandatory(v)), []);
                // The scope rule decided through the graph; it did not give up.
                assert.deepStrictEqual(
                    v.filter((x) => x.policyName === "task-role-connect-scope"),
                    [],
                );
            });
        }
    });

    describe("the environment", () => {
        it("comes from the aws provider's defaultTags when no config says otherwise", async () => {
            const rs = await stack("dev");
            edit(one(rs, T.proxy), (p) => {
                p.debugLogging = true;
            });
            const p = [policy("rds-proxy-debug-logging-off-prod")];
            assert.deepStrictEqual(runPolicies(rs, { policies: p }), []);
            edit(one(rs, T.awsProvider), (x) => {
                x.defaultTags = JSON.stringify({ tags: { Environment: "prod" } });
            });
            assert.strictEqual(runPolicies(rs, { policies: p }).length, 1);
        });

        it("a stack tag Environment outranks the provider's defaultTags, and the policy config outranks both", async () => {
            const rs = await stack("dev");
            edit(one(rs, T.proxy), (p) => {
                p.debugLogging = true;
            });
            const p = [policy("rds-proxy-debug-logging-off-prod")];
            assert.strictEqual(runPolicies(rs, { policies: p, stackTags: { Environment: "prod" } }).length, 1);
            assert.strictEqual(runPolicies(rs, { policies: p, stackTags: { Environment: "prod" }, environment: "dev" }).length, 0);
        });

        it("is prod when nothing names it, so a missing setting never relaxes a rule", async () => {
            const rs = await stack("dev");
            edit(one(rs, T.proxy), (p) => {
                p.debugLogging = true;
            });
            edit(one(rs, T.awsProvider), (x) => {
                delete x.defaultTags;
            });
            assert.strictEqual(runPolicies(rs, { policies: [policy("rds-proxy-debug-logging-off-prod")] }).length, 1);
        });
    });

    describe("preview unknowns (the task role's policy document at a first preview)", () => {
        const scope = "task-role-connect-scope";
        const taskPolicy = (rs: PolicyResourceLike[]) => one(rs, T.rolePolicy, "ecs-task-connect");

        it("an unknown document built from this stack's proxy passes through the dependency graph", async () => {
            const rs = simulateFirstPreview(await stack("dev"));
            assert.ok(taskPolicy(rs).propertyDependencies!.policy.some((u) => u === one(rs, T.proxy).urn));
            assert.deepStrictEqual(verdicts(rs, "dev", scope), []);
        });

        it("an unknown document not built from the proxy is reported, not passed", async () => {
            const rs = simulateFirstPreview(await stack("dev"));
            taskPolicy(rs).propertyDependencies!.policy = [one(rs, T.kmsKey).urn];
            const v = verdicts(rs, "dev", scope);
            assert.deepStrictEqual(v.map((x) => x.enforcementLevel).sort(), ["advisory", "mandatory"]);
            const text = v.map((x) => x.message).join("\n");
            assert.match(
                text,
                /TaskDefinition "ecs-task": its task role aws:iam\/role:Role "ecs-task" has no rds-db:connect on this stack's proxy \(no document grants it, or, at preview, none is built from the proxy\)/,
            );
            assert.match(
                text,
                /RolePolicy "ecs-task-connect" policy: document of task role aws:iam\/role:Role "ecs-task" is unknown at this preview and not built from this stack's proxy/,
            );
        });

        it("an unknown document built from the cluster (a direct connection) fails, naming the cluster", async () => {
            const rs = simulateFirstPreview(await stack("prod"));
            taskPolicy(rs).propertyDependencies!.policy = [one(rs, T.rdsCluster).urn];
            const v = verdicts(rs, "prod", scope);
            assert.ok(v.some((x) => x.enforcementLevel === "mandatory" && /has no rds-db:connect on this stack's proxy/.test(x.message)));
            assert.ok(v.some((x) => /built from cluster aws:rds\/cluster:Cluster "database-cluster", not the proxy/.test(x.message)));
        });

        it("a hard-coded proxy id can't be this stack's proxy while the proxy's id is unknown", async () => {
            const rs = simulateFirstPreview(await stack("dev"));
            edit(taskPolicy(rs), (p) => {
                p.policy = connectPolicy(`arn:aws:rds-db:eu-west-1:123456789012:dbuser:prx-0123456789abcdef0/${APP_USER}`);
            });
            const v = verdicts(rs, "dev", scope);
            assert.match(
                v.map((x) => x.message).join("\n"),
                /names prx-0123456789abcdef0, but this stack's proxy id is unknown until apply/,
            );
        });

        it('per-resource rules reading an unknown are downgraded to advisory "can\'t run during preview", as the engine does', async () => {
            const rs = simulateFirstPreview(await stack("dev"));
            const v = verdicts(rs, "dev", "iam-rds-connect-scoped");
            assert.ok(v.length > 0);
            for (const x of v) {
                assert.strictEqual(x.enforcementLevel, "advisory");
                assert.match(
                    x.message,
                    /^can't run policy 'iam-rds-connect-scoped' from policy pack '.*' during preview: string value at \.policy can't be known during preview$/,
                );
            }
        });

        it("an address range unknown at preview still counts as address-based ingress on the data path", async () => {
            const rs = await stack("dev");
            add(rs, T.ingressRule, "proxy-from-vpc-cidr", {
                securityGroupId: one(rs, T.proxy).inputs.vpcSecurityGroupIds[0],
                cidrIpv4: UNKNOWN,
                ipProtocol: "tcp",
                fromPort: 5432,
                toPort: 5432,
            });
            const v = [...verdicts(rs, "dev", "sg-data-path-ingress-by-reference"), ...verdicts(rs, "dev", "proxy-sg-admits-only-app")];
            assert.deepStrictEqual(
                v.map((x) => x.enforcementLevel),
                ["mandatory", "mandatory"],
            );
            for (const x of v) {
                assert.match(x.message, /an address range unknown until apply/);
            }
        });

        it("once known, the document is checked as a string: dbuser:*/* is reported", async () => {
            const rs = await stack("dev");
            edit(taskPolicy(rs), (p) => {
                p.policy = connectPolicy("arn:aws:rds-db:eu-west-1:123456789012:dbuser:*/*");
            });
            assert.match(
                verdicts(rs, "dev", scope)
                    .map((x) => x.message)
                    .join("\n"),
                /has a wildcard in its resource id/,
            );
        });
    });

    describe("each policy reports a broken variant with its message, and not a compliant one", () => {
        it("has a broken fixture for every policy in the pack", () => {
            const covered = new Set(cases.map((c) => c.policy));
            assert.deepStrictEqual(
                policies.map((p) => p.name).filter((n) => !covered.has(n)),
                [],
            );
        });

        for (const c of cases) {
            describe(c.policy, () => {
                it(`reports ${c.broken} (${c.stack})`, async () => {
                    const rs = await stack(c.stack);
                    c.breakIt(rs);
                    const v = verdicts(rs, c.stack, c.policy);
                    const level = policy(c.policy).enforcementLevel;
                    assert.ok(
                        v.some((x) => c.message.test(x.message) && x.enforcementLevel === level),
                        `expected ${c.policy} to report ${c.message} at ${level}; got:\n${formatViolations(v).join("\n") || "(nothing)"}`,
                    );
                    for (const x of v) {
                        assert.doesNotMatch(x.message, /\n/, "messages are one line");
                    }
                });

                it(`passes the compliant ${c.compliant ? c.compliant.title : `${c.stack} stack`}`, async () => {
                    const name = c.compliant?.stack ?? c.stack;
                    const rs = await stack(name);
                    c.compliant?.fix(rs);
                    assert.deepStrictEqual(formatViolations(verdicts(rs, name, c.policy)), []);
                });
            });
        }
    });
});
