import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DB_PORT } from "../access/spec";
import { ExistingVpc } from "./args";
import { serviceTrustPolicy } from "./arns";
import { assertDescription, formatIpv4, parseIpv4Cidr } from "./validation";
import { TYPE } from "./tokens";

/** The tag that declares a security group the database's client group; the policy pack admits it to the proxy. */
export const CLIENT_GROUP_TAG = { key: "Role", value: "database-client" } as const;
/** The tag of the in-VPC bootstrap's own group; the policy pack admits it to the database while only the bootstrap is in it. */
export const BOOTSTRAP_GROUP_TAG = { key: "Role", value: "database-bootstrap" } as const;

export interface NetworkArgs {
    namePrefix: string;
    /** Use this VPC instead of creating one: nothing in it is modified except the groups and rules declared here. */
    existing?: ExistingVpc;
    /** Groups of the caller's own that the proxy admits on 5432, besides the client group declared here. */
    clientSecurityGroupIds?: pulumi.Input<string>[];
    /**
     * A cluster that exists already (database.existingCluster): its security group and port, as checked at preview.
     * No database group is declared then; see the constructor for the groups and the one rule that replace it.
     */
    existingCluster?: { securityGroupId: pulumi.Input<string>; port: pulumi.Input<number> };
    /**
     * A cluster the component creates or adopts whose bootstrap runs in the VPC (database.bootstrapPath "vpc": the RDS
     * Data API cannot serve it): the bootstrap gets a group of its own that the database's group admits on 5432.
     */
    bootstrapInVpc?: boolean;
    /** Appears in security-group descriptions, so it must use AWS's description characters. */
    applicationName: string;
    cidr: string;
    azCount: number;
    natGateways: "single" | "perAz";
    flowLogs: boolean;
    flowLogRetentionDays: number;
    /**
     * Secrets mode only: RDS Proxy reads its users' secrets from Secrets Manager, and the isolated subnets
     * have no route out, so an interface endpoint for secretsmanager is declared there (and only then).
     */
    secretsManagerEndpoint: boolean;
    /** The stack's CMK; flow-log groups are encrypted with it. */
    kmsKeyArn: pulumi.Input<string>;
    region: string;
    accountId: pulumi.Input<string>;
    partition: pulumi.Input<string>;
}

export interface SubnetPlan {
    /** For NAT gateways only; the only subnets that give instances public addresses. */
    public: string[];
    /** ECS tasks and the smoke function: egress to the internet through NAT, nothing inbound. */
    private: string[];
    /** The proxy and the database: no route out of the VPC at all. */
    isolated: string[];
}

/**
 * Carves the VPC block into three tiers, one subnet per AZ in each. Each tier gets a quarter of the VPC
 * and each AZ an eighth of that, so adding an AZ later never moves an existing subnet.
 */
export function planSubnets(vpcCidr: string, azCount: number): SubnetPlan {
    const parsed = parseIpv4Cidr(vpcCidr);
    if (typeof parsed === "string") throw new Error(`network.cidr ${JSON.stringify(vpcCidr)} ${parsed}`);
    if (azCount < 1 || azCount > 8) throw new Error(`network.azCount (${azCount}) must be 1 to 8`);
    const subnetPrefix = parsed.prefix + 5;
    const subnetSize = 2 ** (32 - subnetPrefix);
    const tier = (t: number) =>
        Array.from({ length: azCount }, (_, az) => `${formatIpv4(parsed.base + (t * 8 + az) * subnetSize)}/${subnetPrefix}`);
    return { public: tier(0), private: tier(1), isolated: tier(2) };
}

/** The VPC, its subnets and routes, and the three security groups of the data path, chained by reference. */
export class Network extends pulumi.ComponentResource {
    readonly vpcId: pulumi.Output<string>;
    readonly privateSubnetIds: pulumi.Output<string[]>;
    readonly isolatedSubnetIds: pulumi.Output<string[]>;
    /** The AZ of each isolated subnet, in the same order. */
    readonly isolatedSubnetAzs: pulumi.Output<string[]>;
    readonly appSecurityGroupId: pulumi.Output<string>;
    /** The post-deploy smoke function's own group: egress to the proxy on 5432, nothing else. */
    readonly smokeSecurityGroupId: pulumi.Output<string>;
    readonly proxySecurityGroupId: pulumi.Output<string>;
    readonly dbSecurityGroupId: pulumi.Output<string>;
    /**
     * Every security-group rule on the data path, as declared (ports, protocol, which groups): the
     * post-deploy checks re-run when any of them changes.
     */
    readonly dataPathRules: pulumi.Output<string>;
    /** Secrets mode only: the Secrets Manager interface endpoint the proxy reads its secrets through. */
    readonly secretsManagerEndpoint?: aws.ec2.VpcEndpoint;
    /** Existing cluster only: the group the cluster admits (the proxy and the bootstrap join it). */
    readonly clusterAccessSecurityGroupId?: pulumi.Output<string>;
    /** The in-VPC bootstrap function's own group (HTTPS out, to read the master secret), where it runs in the VPC. */
    readonly bootstrapSecurityGroupId?: pulumi.Output<string>;
    /** Existing cluster only: the rules that open the path to the cluster; the proxy's target waits for them. */
    readonly clusterAccessRules: pulumi.Resource[] = [];
    /**
     * Where the bootstrap runs in the VPC: every rule its path needs (to the database, and HTTPS out to Secrets Manager);
     * its invocation waits for all of them, or its first run could start before a rule exists and fail.
     */
    readonly bootstrapPathRules: pulumi.Resource[] = [];

    constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE.Network, name, {}, opts);
        // Validations first: a description AWS would reject must stop the program, not the deploy.
        const descriptions = {
            app: assertDescription(
                "app security group",
                `${args.applicationName} application tasks - egress to the proxy only on the data path`,
            ),
            proxy: assertDescription("proxy security group", `${args.applicationName} RDS Proxy - from app tasks, to the database`),
            db: assertDescription("database security group", `${args.applicationName} Aurora cluster - from the RDS Proxy only`),
            smoke: assertDescription("smoke security group", `${args.applicationName} post-deploy smoke - egress to the proxy only`),
            endpoints: assertDescription(
                "endpoint security group",
                `${args.applicationName} Secrets Manager endpoint - HTTPS from the RDS Proxy`,
            ),
            appToProxy: assertDescription("app egress rule", `PostgreSQL to the RDS Proxy`),
            smokeToProxy: assertDescription("smoke egress rule", `PostgreSQL to the RDS Proxy`),
            proxyFromSmoke: assertDescription("proxy ingress rule", `PostgreSQL from the post-deploy smoke function`),
            proxyToEndpoint: assertDescription("proxy egress rule", `HTTPS to the Secrets Manager endpoint`),
            endpointFromProxy: assertDescription("endpoint ingress rule", `HTTPS from the RDS Proxy`),
            appHttps: assertDescription("app egress rule", `HTTPS to AWS APIs and the image registry through NAT`),
            proxyFromApp: assertDescription("proxy ingress rule", `PostgreSQL from application tasks`),
            proxyFromClient: assertDescription("proxy ingress rule", `PostgreSQL from a client group given to the component`),
            proxyToDb: assertDescription("proxy egress rule", `PostgreSQL to the Aurora cluster`),
            dbFromProxy: assertDescription("database ingress rule", `PostgreSQL from the RDS Proxy`),
            clusterAccess: assertDescription(
                "cluster access security group",
                `${args.applicationName} RDS Proxy and bootstrap - admitted by the existing Aurora cluster`,
            ),
            bootstrap: assertDescription(
                "bootstrap security group",
                `${args.applicationName} post-deploy bootstrap - HTTPS to Secrets Manager`,
            ),
            bootstrapDb: assertDescription(
                "bootstrap security group",
                `${args.applicationName} post-deploy bootstrap - to the database and HTTPS to Secrets Manager`,
            ),
            bootstrapToDb: assertDescription("bootstrap egress rule", `PostgreSQL to the Aurora cluster`),
            bootstrapToEndpoint: assertDescription("bootstrap egress rule", `HTTPS to the Secrets Manager endpoint for the master secret`),
            endpointFromBootstrap: assertDescription("endpoint ingress rule", `HTTPS from the post-deploy bootstrap function`),
            dbFromBootstrap: assertDescription("database ingress rule", `PostgreSQL from the post-deploy bootstrap function`),
            accessToCluster: assertDescription("cluster access egress rule", `PostgreSQL to the existing Aurora cluster`),
            clusterFromAccess: assertDescription(
                "existing cluster ingress rule",
                `PostgreSQL from the RDS Proxy and bootstrap of ${args.namePrefix} - added by aurora-iam-proxy`,
            ),
            bootstrapHttps: assertDescription("bootstrap egress rule", `HTTPS to Secrets Manager for the master secret`),
            smokeHttps: assertDescription("smoke egress rule", `HTTPS to the EC2 API to read the cluster security group rules`),
        };
        const child = { parent: this };
        const vpc = args.existing ? useExistingVpc(args.existing, child) : createVpc(name, args, child);

        // The data path: app -> proxy -> database on PostgreSQL's port, each hop admitted by group reference.
        const securityGroup = (id: string, description: string, tags: Record<string, string> = {}) =>
            new aws.ec2.SecurityGroup(
                `${name}-${id}`,
                { vpcId: vpc.vpcId, description, tags: { Name: `${args.namePrefix}-${id}`, ...tags } },
                child,
            );
        // The client group: whoever attaches it may reach the proxy (the tag tells the policy pack it is meant to).
        const appSg = securityGroup("app", descriptions.app, { [CLIENT_GROUP_TAG.key]: CLIENT_GROUP_TAG.value });
        // The smoke function has a group of its own: least privilege, and a destroy never waits on the ENIs
        // Lambda keeps for a while after a VPC function is deleted (they block deleting their group) in the app's group.
        const smokeSg = securityGroup("smoke", descriptions.smoke);
        const proxySg = securityGroup("proxy", descriptions.proxy);
        // An existing cluster keeps its own group: the component declares none for it.
        const dbSg = args.existingCluster ? undefined : securityGroup("db", descriptions.db);
        const postgres = { ipProtocol: "tcp", fromPort: DB_PORT, toPort: DB_PORT };
        const https = { ipProtocol: "tcp", fromPort: 443, toPort: 443 };
        const rules: Array<aws.vpc.SecurityGroupIngressRule | aws.vpc.SecurityGroupEgressRule> = [];
        // A created or adopted cluster's in-VPC bootstrap (args.bootstrapInVpc): its group and the rules of its path.
        let bootstrapSg: aws.ec2.SecurityGroup | undefined;
        const bootstrapRules: pulumi.Resource[] = [];
        const declare = <R extends aws.vpc.SecurityGroupIngressRule | aws.vpc.SecurityGroupEgressRule>(rule: R): R => {
            rules.push(rule);
            return rule;
        };
        const egress = (id: string, a: aws.vpc.SecurityGroupEgressRuleArgs) =>
            declare(new aws.vpc.SecurityGroupEgressRule(`${name}-${id}`, a, child));
        const ingress = (id: string, a: aws.vpc.SecurityGroupIngressRuleArgs) =>
            declare(new aws.vpc.SecurityGroupIngressRule(`${name}-${id}`, a, child));

        egress("app-to-proxy", {
            ...postgres,
            securityGroupId: appSg.id,
            referencedSecurityGroupId: proxySg.id,
            description: descriptions.appToProxy,
        });
        egress("app-https", { ...https, securityGroupId: appSg.id, cidrIpv4: "0.0.0.0/0", description: descriptions.appHttps });
        egress("smoke-to-proxy", {
            ...postgres,
            securityGroupId: smokeSg.id,
            referencedSecurityGroupId: proxySg.id,
            description: descriptions.smokeToProxy,
        });
        ingress("proxy-from-app", {
            ...postgres,
            securityGroupId: proxySg.id,
            referencedSecurityGroupId: appSg.id,
            description: descriptions.proxyFromApp,
        });
        ingress("proxy-from-smoke", {
            ...postgres,
            securityGroupId: proxySg.id,
            referencedSecurityGroupId: smokeSg.id,
            description: descriptions.proxyFromSmoke,
        });
        (args.clientSecurityGroupIds ?? []).forEach((group, i) =>
            ingress(`proxy-from-client-${i + 1}`, {
                ...postgres,
                securityGroupId: proxySg.id,
                referencedSecurityGroupId: group,
                description: descriptions.proxyFromClient,
            }),
        );
        if (dbSg) {
            egress("proxy-to-db", {
                ...postgres,
                securityGroupId: proxySg.id,
                referencedSecurityGroupId: dbSg.id,
                description: descriptions.proxyToDb,
            });
            ingress("db-from-proxy", {
                ...postgres,
                securityGroupId: dbSg.id,
                referencedSecurityGroupId: proxySg.id,
                description: descriptions.dbFromProxy,
            });
            if (args.bootstrapInVpc) {
                // The RDS Data API does not serve this cluster (a T-class writer, or an older version), so the bootstrap
                // connects from the private subnets. The least new path: a group of its own that may only reach the
                // database on 5432 and Secrets Manager on HTTPS (below), and one rule on our database group.
                bootstrapSg = securityGroup("bootstrap", descriptions.bootstrapDb, {
                    [BOOTSTRAP_GROUP_TAG.key]: BOOTSTRAP_GROUP_TAG.value,
                });
                bootstrapRules.push(
                    egress("bootstrap-to-db", {
                        ...postgres,
                        securityGroupId: bootstrapSg.id,
                        referencedSecurityGroupId: dbSg.id,
                        description: descriptions.bootstrapToDb,
                    }),
                    ingress("db-from-bootstrap", {
                        ...postgres,
                        securityGroupId: dbSg.id,
                        referencedSecurityGroupId: bootstrapSg.id,
                        description: descriptions.dbFromBootstrap,
                    }),
                );
            }
        } else {
            // An existing cluster: one group of ours that both the proxy and the in-VPC bootstrap join, so the cluster's
            // group gets exactly one rule (admitting that group on the cluster's port): the only change to anything the
            // component does not own, additive, and deleted with the component. Giving the proxy and the bootstrap a
            // rule each would double what we add to a group we don't own.
            const cluster = args.existingCluster!;
            const clusterPort = { ipProtocol: "tcp", fromPort: cluster.port, toPort: cluster.port };
            const accessSg = securityGroup("cluster-access", descriptions.clusterAccess);
            // Its own name, not the outer bootstrapSg: fronting needs an existing VPC, where secrets mode (the endpoint rules
            // below) is refused, and its HTTPS egress is added here.
            const frontedBootstrapSg = securityGroup("bootstrap", descriptions.bootstrap);
            const before = rules.length;
            egress("cluster-access-to-cluster", {
                ...clusterPort,
                securityGroupId: accessSg.id,
                referencedSecurityGroupId: cluster.securityGroupId,
                description: descriptions.accessToCluster,
            });
            ingress("cluster-from-cluster-access", {
                ...clusterPort,
                securityGroupId: cluster.securityGroupId,
                referencedSecurityGroupId: accessSg.id,
                description: descriptions.clusterFromAccess,
            });
            this.clusterAccessRules = rules.slice(before);
            // The bootstrap reads the master secret from Secrets Manager (through the private subnets' NAT or a VPC
            // endpoint), and the smoke reads the cluster group's rules from the EC2 API for its CIDR warning row.
            egress("bootstrap-https", {
                ...https,
                securityGroupId: frontedBootstrapSg.id,
                cidrIpv4: "0.0.0.0/0",
                description: descriptions.bootstrapHttps,
            });
            this.bootstrapPathRules = rules.slice(before);
            egress("smoke-https", { ...https, securityGroupId: smokeSg.id, cidrIpv4: "0.0.0.0/0", description: descriptions.smokeHttps });
            this.clusterAccessSecurityGroupId = accessSg.id;
            this.bootstrapSecurityGroupId = frontedBootstrapSg.id;
        }

        if (args.secretsManagerEndpoint) {
            const endpointSg = securityGroup("secretsmanager-endpoint", descriptions.endpoints);
            egress("proxy-to-secretsmanager", {
                ...https,
                securityGroupId: proxySg.id,
                referencedSecurityGroupId: endpointSg.id,
                description: descriptions.proxyToEndpoint,
            });
            ingress("secretsmanager-from-proxy", {
                ...https,
                securityGroupId: endpointSg.id,
                referencedSecurityGroupId: proxySg.id,
                description: descriptions.endpointFromProxy,
            });
            // Private DNS makes the regional secretsmanager name resolve to the endpoint inside the VPC.
            this.secretsManagerEndpoint = new aws.ec2.VpcEndpoint(
                `${name}-secretsmanager`,
                {
                    vpcId: vpc.vpcId,
                    serviceName: `com.amazonaws.${args.region}.secretsmanager`,
                    vpcEndpointType: "Interface",
                    privateDnsEnabled: true,
                    subnetIds: vpc.isolatedSubnetIds,
                    securityGroupIds: [endpointSg.id],
                    tags: { Name: `${args.namePrefix}-secretsmanager` },
                },
                child,
            );
            if (bootstrapSg) {
                // Private DNS sends the in-VPC bootstrap's Secrets Manager calls to this endpoint too: admit it there.
                bootstrapRules.push(
                    egress("bootstrap-to-secretsmanager", {
                        ...https,
                        securityGroupId: bootstrapSg.id,
                        referencedSecurityGroupId: endpointSg.id,
                        description: descriptions.bootstrapToEndpoint,
                    }),
                    ingress("secretsmanager-from-bootstrap", {
                        ...https,
                        securityGroupId: endpointSg.id,
                        referencedSecurityGroupId: bootstrapSg.id,
                        description: descriptions.endpointFromBootstrap,
                    }),
                );
            }
        } else if (bootstrapSg) {
            // Secrets Manager through the private subnets' NAT gateway.
            bootstrapRules.push(
                egress("bootstrap-https", {
                    ...https,
                    securityGroupId: bootstrapSg.id,
                    cidrIpv4: "0.0.0.0/0",
                    description: descriptions.bootstrapHttps,
                }),
            );
        }
        if (bootstrapSg) {
            this.bootstrapPathRules = bootstrapRules;
            this.bootstrapSecurityGroupId = bootstrapSg.id;
        }
        this.dataPathRules = pulumi
            .all(
                rules.map((r) =>
                    pulumi.all([r.securityGroupId, r.ipProtocol, r.fromPort, r.toPort, r.referencedSecurityGroupId, r.cidrIpv4, r.urn]),
                ),
            )
            .apply((all) => JSON.stringify(all));

        this.vpcId = vpc.vpcId;
        this.privateSubnetIds = vpc.privateSubnetIds;
        this.isolatedSubnetIds = vpc.isolatedSubnetIds;
        this.isolatedSubnetAzs = vpc.isolatedSubnetAzs;
        this.appSecurityGroupId = appSg.id;
        this.smokeSecurityGroupId = smokeSg.id;
        this.proxySecurityGroupId = proxySg.id;
        this.dbSecurityGroupId = dbSg ? dbSg.id : pulumi.output(args.existingCluster!.securityGroupId);
        this.registerOutputs({
            vpcId: this.vpcId,
            privateSubnetIds: this.privateSubnetIds,
            isolatedSubnetIds: this.isolatedSubnetIds,
            appSecurityGroupId: this.appSecurityGroupId,
            smokeSecurityGroupId: this.smokeSecurityGroupId,
            proxySecurityGroupId: this.proxySecurityGroupId,
            dbSecurityGroupId: this.dbSecurityGroupId,
        });
    }
}

interface VpcFacts {
    vpcId: pulumi.Output<string>;
    privateSubnetIds: pulumi.Output<string[]>;
    isolatedSubnetIds: pulumi.Output<string[]>;
    isolatedSubnetAzs: pulumi.Output<string[]>;
}

/** The VPC the component creates: three tiers over `azCount` AZs, NAT for the private tier, flow logs where asked. */
function createVpc(name: string, args: NetworkArgs, child: { parent: pulumi.Resource }): VpcFacts {
    const plan = planSubnets(args.cidr, args.azCount);

    const azs = aws.getAvailabilityZonesOutput(
        { state: "available", filters: [{ name: "zone-type", values: ["availability-zone"] }] },
        child,
    );
    const azName = (i: number) =>
        azs.names.apply((names) => {
            if (names.length < args.azCount) {
                throw new Error(`network.azCount (${args.azCount}) is more than the ${names.length} availability zones this region offers`);
            }
            return names[i];
        });

    const vpc = new aws.ec2.Vpc(
        `${name}-vpc`,
        {
            cidrBlock: args.cidr,
            enableDnsHostnames: true, // RDS and the proxy endpoint resolve through the VPC's DNS
            enableDnsSupport: true,
            tags: { Name: `${args.namePrefix}-vpc` },
        },
        child,
    );

    // AWS opens the default group to itself on creation; adopting it with no rules closes it.
    new aws.ec2.DefaultSecurityGroup(`${name}-default-sg`, { vpcId: vpc.id, tags: { Name: `${args.namePrefix}-default-closed` } }, child);

    const igw = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags: { Name: `${args.namePrefix}-igw` } }, child);
    const publicRoutes = new aws.ec2.RouteTable(
        `${name}-public-rt`,
        {
            vpcId: vpc.id,
            routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }],
            tags: { Name: `${args.namePrefix}-public` },
        },
        child,
    );

    const subnet = (tier: keyof SubnetPlan, i: number) =>
        new aws.ec2.Subnet(
            `${name}-${tier}-${i + 1}`,
            {
                vpcId: vpc.id,
                cidrBlock: plan[tier][i],
                availabilityZone: azName(i),
                mapPublicIpOnLaunch: tier === "public",
                tags: { Name: `${args.namePrefix}-${tier}-${i + 1}`, Tier: tier },
            },
            child,
        );
    const publicSubnets = plan.public.map((_, i) => subnet("public", i));
    const privateSubnets = plan.private.map((_, i) => subnet("private", i));
    const isolatedSubnets = plan.isolated.map((_, i) => subnet("isolated", i));

    publicSubnets.forEach(
        (s, i) => new aws.ec2.RouteTableAssociation(`${name}-public-${i + 1}`, { subnetId: s.id, routeTableId: publicRoutes.id }, child),
    );

    // dev shares one NAT gateway; prod has one per AZ so losing an AZ never cuts the others off.
    const natCount = args.natGateways === "perAz" ? args.azCount : 1;
    const nats = Array.from({ length: natCount }, (_, i) => {
        const eip = new aws.ec2.Eip(`${name}-nat-${i + 1}`, { domain: "vpc", tags: { Name: `${args.namePrefix}-nat-${i + 1}` } }, child);
        return new aws.ec2.NatGateway(
            `${name}-nat-${i + 1}`,
            {
                allocationId: eip.id,
                subnetId: publicSubnets[i].id,
                tags: { Name: `${args.namePrefix}-nat-${i + 1}` },
            },
            { ...child, dependsOn: [igw] },
        );
    });
    privateSubnets.forEach((s, i) => {
        const routes = new aws.ec2.RouteTable(
            `${name}-private-rt-${i + 1}`,
            {
                vpcId: vpc.id,
                routes: [{ cidrBlock: "0.0.0.0/0", natGatewayId: nats[i % natCount].id }],
                tags: { Name: `${args.namePrefix}-private-${i + 1}` },
            },
            child,
        );
        new aws.ec2.RouteTableAssociation(`${name}-private-${i + 1}`, { subnetId: s.id, routeTableId: routes.id }, child);
    });
    // Isolated subnets keep only the VPC-local route: the database and proxy never reach the internet.
    const isolatedRoutes = new aws.ec2.RouteTable(
        `${name}-isolated-rt`,
        { vpcId: vpc.id, tags: { Name: `${args.namePrefix}-isolated` } },
        child,
    );
    isolatedSubnets.forEach(
        (s, i) =>
            new aws.ec2.RouteTableAssociation(`${name}-isolated-${i + 1}`, { subnetId: s.id, routeTableId: isolatedRoutes.id }, child),
    );

    if (args.flowLogs) {
        const flowLogGroup = new aws.cloudwatch.LogGroup(
            `${name}-flow-logs`,
            {
                name: `/vpc/${args.namePrefix}/flow-logs`,
                retentionInDays: args.flowLogRetentionDays,
                kmsKeyId: args.kmsKeyArn,
            },
            { ...child, deleteBeforeReplace: true },
        );
        const flowLogRole = new aws.iam.Role(
            `${name}-flow-logs`,
            {
                description: "Lets VPC Flow Logs deliver to this VPC's log group",
                // Only this account's flow logs may use the role (confused-deputy protection, as AWS documents).
                assumeRolePolicy: pulumi
                    .all([args.accountId, args.partition])
                    .apply(([account, partition]) =>
                        serviceTrustPolicy(
                            "vpc-flow-logs.amazonaws.com",
                            account,
                            `arn:${partition}:ec2:${args.region}:${account}:vpc-flow-log/*`,
                        ),
                    ),
            },
            child,
        );
        new aws.iam.RolePolicy(
            `${name}-flow-logs`,
            {
                role: flowLogRole.id,
                policy: flowLogGroup.arn.apply((arn) =>
                    JSON.stringify({
                        Version: "2012-10-17",
                        // What the VPC guide lists for the flow-log role (flow-logs-iam-role), on this group where IAM allows;
                        // the group exists already, so logs:CreateLogGroup is not needed. DescribeLogGroups has no resource
                        // type in the Service Authorization Reference for CloudWatch Logs, so it takes "*" (a list call, read only).
                        Statement: [
                            {
                                Effect: "Allow",
                                Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                                Resource: [arn, `${arn}:*`],
                            },
                            {
                                Effect: "Allow",
                                Action: "logs:DescribeLogGroups",
                                Resource: "*",
                            },
                        ],
                    }),
                ),
            },
            child,
        );
        new aws.ec2.FlowLog(
            `${name}-flow-log`,
            {
                vpcId: vpc.id,
                trafficType: "ALL",
                logDestinationType: "cloud-watch-logs",
                logDestination: flowLogGroup.arn,
                iamRoleArn: flowLogRole.arn,
                maxAggregationInterval: 60,
            },
            child,
        );
    }

    return {
        vpcId: vpc.id,
        privateSubnetIds: pulumi.all(privateSubnets.map((s) => s.id)),
        isolatedSubnetIds: pulumi.all(isolatedSubnets.map((s) => s.id)),
        isolatedSubnetAzs: pulumi.all(isolatedSubnets.map((s) => s.availabilityZone)),
    };
}

/** What AWS says about one subnet (aws_subnet data source). */
export interface DescribedSubnet {
    id: string;
    vpcId: string;
    availabilityZone: string;
}

/**
 * Why the given subnets cannot carry the component, one line each naming the subnet: each must be in `vpcId`,
 * each list must span at least 2 AZs (Aurora and RDS Proxy both require subnets in two AZs: RDS User Guide,
 * "Working with a DB instance in a VPC" and rds-proxy-setup), and no subnet may be in both lists.
 */
export function existingSubnetProblems(
    vpcId: string,
    tiers: { privateSubnetIds: DescribedSubnet[]; isolatedSubnetIds: DescribedSubnet[] },
): string[] {
    const problems: string[] = [];
    for (const [key, subnets] of Object.entries(tiers)) {
        const where = `network.existingVpc.${key}`;
        if (subnets.length === 0) problems.push(`${where} is empty; give subnets in at least 2 availability zones`);
        for (const s of subnets) {
            if (s.vpcId !== vpcId)
                problems.push(
                    `${where}: subnet ${s.id} is in ${s.vpcId}, not in network.existingVpc.vpcId ${vpcId}; give subnets of that VPC`,
                );
        }
        const azs = new Set(subnets.map((s) => s.availabilityZone));
        if (subnets.length > 0 && azs.size < 2) {
            problems.push(
                `${where} (${subnets.map((s) => s.id).join(", ")}) covers only ${[...azs].join(", ")}; Aurora and RDS Proxy need subnets in at least 2 availability zones`,
            );
        }
    }
    const isolated = new Set(tiers.isolatedSubnetIds.map((s) => s.id));
    for (const s of tiers.privateSubnetIds) {
        if (isolated.has(s.id))
            problems.push(
                `network.existingVpc: subnet ${s.id} is in both privateSubnetIds and isolatedSubnetIds; give each tier its own subnets`,
            );
    }
    return problems;
}

/**
 * A VPC the caller has: its subnets are read through the aws_subnet data source at preview time and checked
 * (existingSubnetProblems); nothing in it is modified here.
 */
function useExistingVpc(existing: ExistingVpc, child: { parent: pulumi.Resource }): VpcFacts {
    const describe = (ids: pulumi.Input<pulumi.Input<string>[]>) =>
        pulumi
            .output(ids)
            .apply((list) =>
                Promise.all(
                    list.map((id) =>
                        aws.ec2.getSubnet({ id }, child).then((s) => ({ id, vpcId: s.vpcId, availabilityZone: s.availabilityZone })),
                    ),
                ),
            );
    const checked = pulumi
        .all([existing.vpcId, describe(existing.privateSubnetIds), describe(existing.isolatedSubnetIds)])
        .apply(([vpcId, privateSubnetIds, isolatedSubnetIds]) => {
            const problems = existingSubnetProblems(vpcId, { privateSubnetIds, isolatedSubnetIds });
            if (problems.length > 0) throw new Error(problems.join("\n"));
            return { vpcId, privateSubnetIds, isolatedSubnetIds };
        });
    return {
        vpcId: checked.vpcId,
        privateSubnetIds: checked.privateSubnetIds.apply((l) => l.map((s) => s.id)),
        isolatedSubnetIds: checked.isolatedSubnetIds.apply((l) => l.map((s) => s.id)),
        isolatedSubnetAzs: checked.isolatedSubnetIds.apply((l) => l.map((s) => s.availabilityZone)),
    };
}
