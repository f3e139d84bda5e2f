// RDS Proxy. None of AWSGuard, checkov or cdk-nag has a rule for it.
import * as aws from "@pulumi/aws";
import { PolicyResource, ResourceValidationPolicy, StackValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { asList, environmentConfigSchema, environmentOf, isYes, label, ofType, peek, refersTo, resolveRefs, show, Unknown } from "../util";
import { frontsExistingCluster } from "./rds";
import { T } from "./types";

export const rdsProxyRequiresTls: ResourceValidationPolicy = {
    name: "rds-proxy-requires-tls",
    description: "RDS Proxy refuses clients that do not use TLS.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: validateResourceOfType(aws.rds.Proxy, (proxy, args, report) => {
        if (proxy.requireTls !== true) {
            report(`${label(args)}: requireTls is ${show(proxy.requireTls)}; set requireTls: true so clients must use TLS`);
        }
    }),
};

export const rdsProxyRequiresIam: ResourceValidationPolicy = {
    name: "rds-proxy-requires-iam",
    description:
        "RDS Proxy requires IAM authentication from every client: defaultAuthScheme IAM_AUTH, or every auths entry iamAuth REQUIRED.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: validateResourceOfType(aws.rds.Proxy, (proxy, args, report) => {
        const auths = proxy.auths ?? [];
        if (proxy.defaultAuthScheme !== "IAM_AUTH" && auths.length === 0) {
            report(
                `${label(args)}: defaultAuthScheme is ${show(proxy.defaultAuthScheme)} and there are no auths; ` +
                    `set defaultAuthScheme: "IAM_AUTH" (end-to-end IAM) or auths with iamAuth: "REQUIRED"`,
            );
        }
        auths.forEach((auth, i) => {
            if (auth.iamAuth !== "REQUIRED") {
                report(
                    `${label(args)}: auths[${i}].iamAuth is ${show(auth.iamAuth)}, so clients may log in with a password; set iamAuth: "REQUIRED"`,
                );
            }
            if (
                auth.clientPasswordAuthType !== undefined &&
                auth.clientPasswordAuthType !== "POSTGRES_SCRAM_SHA_256" &&
                /POSTGRES/.test(auth.clientPasswordAuthType)
            ) {
                report(
                    `${label(args)}: auths[${i}].clientPasswordAuthType is ${show(auth.clientPasswordAuthType)}; set "POSTGRES_SCRAM_SHA_256"`,
                );
            }
        });
    }),
};

export const rdsProxyDebugLoggingOffProd: ResourceValidationPolicy = {
    name: "rds-proxy-debug-logging-off-prod",
    description: "Prod RDS Proxies do not log SQL statements (debug logging can capture data and credentials).",
    enforcementLevel: "mandatory",
    severity: "medium",
    configSchema: environmentConfigSchema,
    validateResource: validateResourceOfType(aws.rds.Proxy, (proxy, args, report) => {
        const env = environmentOf(args, [args.provider], args.props);
        if (env === "prod" && proxy.debugLogging === true) {
            report(`${label(args)}: debugLogging is true in prod; set debugLogging: false`);
        }
    }),
};

/** Does any route in the stack send `subnet`'s traffic to an internet gateway? */
function publicRouteOf(subnet: PolicyResource, resources: PolicyResource[]): string | undefined {
    const gateways = ofType(resources, T.internetGateway);
    const isIgw = (source: PolicyResource, prop: string, value: unknown) =>
        (typeof value === "string" && value.startsWith("igw-")) || gateways.some((g) => isYes(refersTo(source, prop, value, g, ["id"])));
    const tables = ofType(resources, T.routeTableAssociation)
        .filter((a) => isYes(refersTo(a, "subnetId", peek(a.props, "subnetId"), subnet, ["id"])))
        .flatMap((a) => resolveRefs(a, "routeTableId", ofType(resources, T.routeTable), ["id"]).resolved);
    for (const table of tables) {
        for (const route of asList(peek(table.props, "routes"))) {
            if (isIgw(table, "routes", peek(route, "gatewayId"))) {
                return `route table ${label(table)} routes to an internet gateway`;
            }
        }
        for (const route of ofType(resources, T.route)) {
            if (
                isYes(refersTo(route, "routeTableId", peek(route.props, "routeTableId"), table, ["id"])) &&
                isIgw(route, "gatewayId", peek(route.props, "gatewayId"))
            ) {
                return `route ${label(route)} sends its route table ${label(table)} to an internet gateway`;
            }
        }
    }
    return undefined;
}

export const rdsProxyPrivateSubnets: StackValidationPolicy = {
    name: "rds-proxy-private-subnets",
    description:
        "RDS Proxies sit in this stack's private subnets (or awsx ec2.Vpc's isolated or private ones): no public IPs on launch, no route to an internet gateway.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: {
        properties: {
            allowExternalSubnets: {
                type: "boolean",
                default: false,
                description: "Accept subnet ids that are not managed by this stack (existing VPCs).",
            },
        },
    },
    validateStack: (args, report) => {
        const { allowExternalSubnets } = args.getConfig<{ allowExternalSubnets?: boolean }>();
        const subnets = ofType(args.resources, T.subnet);
        // A VPC from awsx's ec2.Vpc (a component of another package) reports its subnets by tier in its outputs.
        const awsxTier = (id: unknown): string | undefined => {
            for (const vpc of args.resources.filter((r) => r.type === "awsx:ec2:Vpc")) {
                for (const tier of ["isolated", "private", "public"]) {
                    const ids = peek(vpc.props, `${tier}SubnetIds`);
                    if (Array.isArray(ids) && ids.includes(id)) return tier;
                }
            }
            return undefined;
        };
        for (const proxy of ofType(args.resources, T.proxy)) {
            const { resolved, unresolved } = resolveRefs(proxy, "vpcSubnetIds", subnets, ["id"]);
            if (resolved.length === 0 && unresolved.length === 0) {
                report(`${label(proxy)}: vpcSubnetIds is empty; place the proxy in private subnets`, proxy.urn);
            }
            for (const id of unresolved.filter((id) => awsxTier(id) === "public")) {
                report(
                    `${label(proxy)}: subnet ${show(id)} is one of awsx ec2.Vpc's public subnets; put the proxy in its isolated (or private) subnets`,
                    proxy.urn,
                );
            }
            if (!allowExternalSubnets) {
                for (const id of unresolved.filter((id) => awsxTier(id) === undefined)) {
                    report(
                        `${label(proxy)}: subnet ${show(id)} is not a subnet of this stack, so it can't be shown to be private; ` +
                            "use this stack's private subnets (or set allowExternalSubnets for an existing VPC)",
                        proxy.urn,
                    );
                }
            }
            for (const subnet of resolved) {
                const mapPublic = peek(subnet.props, "mapPublicIpOnLaunch");
                const name = String(peek(subnet.props, "tags", "Name") ?? subnet.name);
                const why =
                    mapPublic === true
                        ? "mapPublicIpOnLaunch is true"
                        : mapPublic === Unknown
                          ? "mapPublicIpOnLaunch is unknown until apply"
                          : /public/i.test(name)
                            ? `it is named ${JSON.stringify(name)}`
                            : publicRouteOf(subnet, args.resources);
                if (why) {
                    report(`${label(proxy)}: subnet ${label(subnet)} is public (${why}); put the proxy in private subnets only`, proxy.urn);
                }
            }
        }
    },
};

export const proxyTargetsStackCluster: StackValidationPolicy = {
    name: "proxy-targets-stack-cluster",
    description:
        "Each RDS Proxy targets this stack's Aurora cluster (by cluster, not instance), and only that; a stack that fronts an existing cluster " +
        "(it declares none, and its post-deploy functions say DB_EXISTING_DATABASE=true) targets that cluster by its identifier.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateStack: (args, report) => {
        const proxies = ofType(args.resources, T.proxy);
        const clusters = ofType(args.resources, T.rdsCluster);
        const targets = ofType(args.resources, T.proxyTarget);
        for (const target of targets) {
            const proxy = resolveRefs(target, "dbProxyName", proxies, ["name", "id"]);
            if (proxy.resolved.length === 0) {
                report(
                    `${label(target)}: dbProxyName ${show(peek(target.props, "dbProxyName"))} is not a proxy of this stack; ` +
                        "target this stack's proxy (pass proxy.name)",
                    target.urn,
                );
            }
            const instanceId = peek(target.props, "dbInstanceIdentifier");
            if (instanceId !== undefined && instanceId !== "") {
                report(
                    `${label(target)}: dbInstanceIdentifier is ${show(instanceId)}; target the Aurora cluster with dbClusterIdentifier instead`,
                    target.urn,
                );
                continue;
            }
            const cluster = resolveRefs(target, "dbClusterIdentifier", clusters, ["clusterIdentifier", "id"]);
            const identifier = peek(target.props, "dbClusterIdentifier");
            if (frontsExistingCluster(args.resources) && typeof identifier === "string" && identifier !== "") {
                continue;
            }
            if (cluster.resolved.length === 0) {
                report(
                    `${label(target)}: dbClusterIdentifier ${show(peek(target.props, "dbClusterIdentifier"))} is not a cluster of this stack; ` +
                        "pass this stack's cluster.clusterIdentifier",
                    target.urn,
                );
            }
        }
        for (const proxy of proxies) {
            const hasTarget = targets.some((t) => isYes(refersTo(t, "dbProxyName", peek(t.props, "dbProxyName"), proxy, ["name", "id"])));
            if (!hasTarget) {
                report(
                    `${label(proxy)}: no aws.rds.ProxyTarget in this stack points it at a cluster; add one with dbClusterIdentifier: cluster.clusterIdentifier`,
                    proxy.urn,
                );
            }
        }
    },
};
