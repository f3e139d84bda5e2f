// Cross-resource rules: the path app -> proxy -> database, and who may connect as whom.
//
// These read every value through `peek`, so an unknown value at preview never aborts the rule.
// Where a value is unknown they decide by the dependency graph (`propertyDependencies`): at a
// stack's first preview the task role's policy document is unknown because the proxy's resource id
// is, and the graph still shows whether the document is built from this stack's proxy.
import { PolicyResource, ReportViolation, StackValidationPolicy } from "@pulumi/policy";
import {
    containsUnknown,
    grantsAction,
    isYes,
    label,
    ofType,
    parseDbUserArn,
    dbUserArnProblem,
    peek,
    Peeked,
    refersTo,
    reportAdvisory,
    resolveRefs,
    show,
    statementsOf,
    strings,
    Unknown,
} from "../util";
import { parseContainers, taskRoles } from "./ecs";
import { documentsOf, HeldDocument } from "./iam";
import { DATA_PORTS, coversPort, ruleSources, stackRules } from "./network";
import { relayGroups } from "./operator";
import { frontsExistingCluster } from "./rds";
import { T } from "./types";

const DB_PORT = DATA_PORTS[0];

/** Security groups referenced by `prop` of each resource of `type`. */
function groupsOf(resources: PolicyResource[], type: string, read: (r: PolicyResource) => { prop: string; value: Peeked }) {
    const sgs = ofType(resources, T.securityGroup);
    const found: PolicyResource[] = [];
    const unresolved: { owner: PolicyResource; value: Peeked }[] = [];
    for (const r of ofType(resources, type)) {
        const { prop, value } = read(r);
        const items = value === Unknown ? [Unknown] : Array.isArray(value) ? value : value === undefined ? [] : [value];
        for (const item of items) {
            const hits = sgs.filter((g) => isYes(refersTo(r, prop, item, g, ["id"])));
            if (hits.length === 0) {
                unresolved.push({ owner: r, value: item });
            }
            for (const h of hits) {
                if (!found.includes(h)) {
                    found.push(h);
                }
            }
        }
    }
    return { groups: found, unresolved };
}

const proxyGroups = (rs: PolicyResource[]) =>
    groupsOf(rs, T.proxy, (r) => ({ prop: "vpcSecurityGroupIds", value: peek(r.props, "vpcSecurityGroupIds") }));
const clusterGroups = (rs: PolicyResource[]) =>
    groupsOf(rs, T.rdsCluster, (r) => ({ prop: "vpcSecurityGroupIds", value: peek(r.props, "vpcSecurityGroupIds") }));
/**
 * The application's groups: ECS services' and in-VPC Lambda functions' (the smoke runner), and the groups
 * declared as the database's client group (tag Role=database-client, AuroraIamProxy's clientSecurityGroupId),
 * which a service in another program attaches.
 */
const appGroups = (rs: PolicyResource[]) => {
    const ecs = groupsOf(rs, T.ecsService, (r) => ({
        prop: "networkConfiguration",
        value: peek(r.props, "networkConfiguration", "securityGroups"),
    }));
    const lambda = groupsOf(rs, T.lambdaFunction, (r) => ({ prop: "vpcConfig", value: peek(r.props, "vpcConfig", "securityGroupIds") }));
    const declared = ofType(rs, T.securityGroup).filter((g) => peek(g.props, "tags", "Role") === "database-client");
    return [...new Set([...ecs.groups, ...lambda.groups, ...declared])];
};

/**
 * The group of the stack's in-VPC bootstrap (where the RDS Data API cannot serve the cluster, it connects to the writer
 * from the private subnets): a group tagged Role=database-bootstrap that exactly one function is in, one whose
 * environment says DB_BOOTSTRAP_PATH=vpc (or is not known yet, at a first preview), and no ECS service or instance.
 * Such a group may be admitted to the database besides the proxy's.
 */
const bootstrapGroups = (rs: PolicyResource[]) => {
    const users = (group: PolicyResource, type: string, read: (r: PolicyResource) => Peeked, prop: string) =>
        ofType(rs, type).filter((r) => asArray(read(r)).some((v) => isYes(refersTo(r, prop, v, group, ["id"]))));
    return ofType(rs, T.securityGroup)
        .filter((g) => peek(g.props, "tags", "Role") === "database-bootstrap")
        .filter((g) => {
            const functions = users(g, T.lambdaFunction, (r) => peek(r.props, "vpcConfig", "securityGroupIds"), "vpcConfig");
            const path = functions.map((fn) => peek(fn.props, "environment", "variables", "DB_BOOTSTRAP_PATH"));
            return (
                functions.length === 1 &&
                (path[0] === "vpc" || path[0] === Unknown) &&
                users(g, T.ecsService, (r) => peek(r.props, "networkConfiguration", "securityGroups"), "networkConfiguration").length ===
                    0 &&
                users(g, T.ec2Instance, (r) => peek(r.props, "vpcSecurityGroupIds"), "vpcSecurityGroupIds").length === 0
            );
        });
};

/** Reports every ingress on 5432 into `targets` whose source is not one of `allowed`. */
function checkIngressOnlyFrom(
    resources: PolicyResource[],
    targets: PolicyResource[],
    allowed: PolicyResource[],
    targetRole: string,
    allowedRole: string,
    fix: string,
    report: ReportViolation,
) {
    const sgs = ofType(resources, T.securityGroup);
    for (const { rule, groups } of stackRules(resources)) {
        if (rule.direction !== "ingress" || !coversPort(rule, DB_PORT)) {
            continue;
        }
        for (const target of groups.filter((g) => targets.includes(g))) {
            const owner = resources.find((r) => r.urn === rule.owner.urn)!;
            const where = rule.where === "rule" ? label(owner) : `${label(owner)} ${rule.where}`;
            for (const cidr of [...rule.cidrs, ...rule.prefixLists]) {
                report(
                    `${where}: ${targetRole} ${label(target)} admits ${cidr} on ${DB_PORT}; admit only ${allowedRole}. ${fix}`,
                    owner.urn,
                );
            }
            const { resolved, unresolved } = ruleSources(rule, owner, sgs);
            for (const source of resolved.filter((s) => !allowed.includes(s))) {
                report(
                    `${where}: ${targetRole} ${label(target)} admits ${label(source)} on ${DB_PORT}, which is not ${allowedRole}. ${fix}`,
                    owner.urn,
                );
            }
            for (const value of unresolved) {
                report(
                    `${where}: ${targetRole} ${label(target)} admits security group ${show(value)} on ${DB_PORT}, which is not ${allowedRole} of this stack. ${fix}`,
                    owner.urn,
                );
            }
        }
    }
}

export const dbSgAdmitsOnlyProxy: StackValidationPolicy = {
    name: "db-sg-admits-only-proxy",
    description:
        "The database's security group admits 5432 only from the proxy's security group, and from the in-VPC bootstrap's own group " +
        "(tagged Role=database-bootstrap, with only a DB_BOOTSTRAP_PATH=vpc function in it: where the RDS Data API cannot serve the cluster). A stack that fronts an existing " +
        "cluster adds rules to groups it does not declare only to admit a group the proxy is in.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateStack: (args, report) => {
        const db = clusterGroups(args.resources);
        const proxy = proxyGroups(args.resources);
        for (const cluster of ofType(args.resources, T.rdsCluster)) {
            if (asArray(peek(cluster.props, "vpcSecurityGroupIds")).length === 0) {
                report(
                    `${label(cluster)}: vpcSecurityGroupIds is empty, so the VPC's default group applies; give the cluster its own group admitting only the proxy`,
                    cluster.urn,
                );
            }
        }
        checkIngressOnlyFrom(
            args.resources,
            db.groups,
            [...proxy.groups, ...bootstrapGroups(args.resources)],
            "the database group",
            "the proxy's group",
            "Reach the database only through the proxy (referencedSecurityGroupId: proxy group).",
            report,
        );
        if (frontsExistingCluster(args.resources)) {
            // The existing cluster's group is not declared here: every ingress rule the stack adds to a group it does not
            // declare (on any port: the cluster's may not be 5432) must admit a group of the proxy's, nothing else.
            const sgs = ofType(args.resources, T.securityGroup);
            for (const { rule, groups } of stackRules(args.resources)) {
                if (rule.direction !== "ingress" || rule.groupRef === "self" || groups.length > 0) {
                    continue;
                }
                const owner = args.resources.find((r) => r.urn === rule.owner.urn)!;
                const target = show(rule.groupRef.value);
                for (const cidr of [...rule.cidrs, ...rule.prefixLists]) {
                    report(
                        `${label(owner)}: adds ingress from ${cidr} to ${target}, a group this stack does not declare; admit only the proxy's group`,
                        owner.urn,
                    );
                }
                const { resolved, unresolved } = ruleSources(rule, owner, sgs);
                for (const source of [
                    ...resolved.filter((s) => !proxy.groups.includes(s)).map((s) => label(s)),
                    ...unresolved.map((v) => `security group ${show(v)}`),
                ]) {
                    report(
                        `${label(owner)}: adds ingress from ${source} to ${target}, a group this stack does not declare; admit only a group the proxy is in`,
                        owner.urn,
                    );
                }
            }
        }
    },
};

export const proxySgAdmitsOnlyApp: StackValidationPolicy = {
    name: "proxy-sg-admits-only-app",
    description:
        "The proxy's security group admits 5432 only from the application's security group (ECS service, in-VPC Lambda such as the smoke runner, or a group tagged Role=database-client) " +
        "and from the operator relay's (EC2 instances tagged Role=operator-relay, which ec2-relay-locked-down keeps without inbound rules or public IP).",
    enforcementLevel: "mandatory",
    severity: "high",
    validateStack: (args, report) => {
        const proxy = proxyGroups(args.resources);
        for (const p of ofType(args.resources, T.proxy)) {
            if (asArray(peek(p.props, "vpcSecurityGroupIds")).length === 0) {
                report(
                    `${label(p)}: vpcSecurityGroupIds is empty, so the VPC's default group applies; give the proxy its own group admitting only the application`,
                    p.urn,
                );
            }
        }
        const relays = relayGroups(args.resources);
        checkIngressOnlyFrom(
            args.resources,
            proxy.groups,
            [...appGroups(args.resources), ...relays],
            "the proxy group",
            relays.length > 0 ? "the application's group or the operator relay's" : "the application's group",
            "Admit clients by their security group (referencedSecurityGroupId: app group).",
            report,
        );
    },
};

function asArray(value: Peeked): unknown[] {
    return value === Unknown ? [Unknown] : Array.isArray(value) ? value : value === undefined ? [] : [value];
}

/** The proxy's resource id (`prx-...`), from its ARN; Unknown at a first preview. */
function proxyResourceId(proxy: PolicyResource): string | typeof Unknown | undefined {
    const arn = peek(proxy.props, "arn");
    if (arn === Unknown) {
        return Unknown;
    }
    return typeof arn === "string" ? arn.split(":").pop() : undefined;
}

function arnRegionAccount(arn: unknown): { region: string; account: string } | undefined {
    if (typeof arn !== "string") {
        return undefined;
    }
    const parts = arn.split(":");
    return parts.length >= 6 ? { region: parts[3], account: parts[4] } : undefined;
}

/** Every identity policy document in the stack, with the roles it applies to. */
export function stackDocuments(resources: PolicyResource[]): { holder: PolicyResource; doc: HeldDocument; roles: PolicyResource[] }[] {
    const roles = ofType(resources, T.role);
    const result: { holder: PolicyResource; doc: HeldDocument; roles: PolicyResource[] }[] = [];
    for (const holder of resources) {
        for (const doc of documentsOf(holder)) {
            let owners: PolicyResource[] = [];
            if (holder.type === T.role) {
                owners = [holder];
            } else if (holder.type === T.rolePolicy) {
                owners = resolveRefs(holder, "role", roles, ["name", "id", "arn"]).resolved;
            } else if (holder.type === T.iamPolicy) {
                owners = ofType(resources, T.rolePolicyAttachment)
                    .filter((a) => isYes(refersTo(a, "policyArn", peek(a.props, "policyArn"), holder, ["arn", "id"])))
                    .flatMap((a) => resolveRefs(a, "role", roles, ["name", "id", "arn"]).resolved);
            }
            result.push({ holder, doc, roles: owners });
        }
    }
    return result;
}

/** The users the application connects as, read from its task definition's environment. */
const USER_VARIABLES = ["DB_USER", "PGUSER", "DB_USERNAME", "DATABASE_USER", "POSTGRES_USER", "DB_READONLY_USER"];

/** Every user the task may connect as: DB_CONNECT_AS (comma-separated) and the single-user variables. */
export function appUsersOf(td: PolicyResource): string[] | undefined {
    const containers = parseContainers(peek(td.props, "containerDefinitions")) ?? [];
    const users = containers.flatMap((c) =>
        (c.environment ?? [])
            .filter((e) => (USER_VARIABLES.includes(String(e.name)) || e.name === "DB_CONNECT_AS") && typeof e.value === "string")
            .flatMap((e) =>
                String(e.value)
                    .split(",")
                    .map((u) => u.trim())
                    .filter(Boolean),
            ),
    );
    return users.length > 0 ? [...new Set(users)] : undefined;
}

export const taskRoleConnectScope: StackValidationPolicy = {
    name: "task-role-connect-scope",
    description:
        "Every rds-db:connect grant names this stack's proxy, except the proxy's own role (end-to-end IAM), which names this stack's cluster; " +
        "the task role's names the application's users (DB_USER, DB_READONLY_USER), and no grant names the master user. At preview an unknown document must be built from " +
        "this stack's proxy (dependency graph), and is checked as a string once known.",
    enforcementLevel: "mandatory",
    severity: "critical",
    configSchema: {
        properties: {
            appUser: {
                type: "string",
                description:
                    "The database user the application connects as; defaults to DB_USER/PGUSER (and DB_READONLY_USER) in the task's environment.",
            },
        },
    },
    validateStack: (args, report) => {
        const resources = args.resources;
        const proxies = ofType(resources, T.proxy);
        const clusters = ofType(resources, T.rdsCluster);
        // The master user: the declared cluster's, or (an existing cluster) the one the post-deploy functions name as owner.
        const masterUsers = [
            ...clusters.map((c) => peek(c.props, "masterUsername")),
            ...ofType(resources, T.lambdaFunction).map((fn) => peek(fn.props, "environment", "variables", "DB_OWNER")),
        ].filter((u): u is string => typeof u === "string" && u !== "");
        const fronting = frontsExistingCluster(resources);
        const configuredUser = args.getConfig<{ appUser?: string }>().appUser;
        const tasks = taskRoles(resources, "taskRoleArn");
        const appUserOfRole = (role: PolicyResource) => {
            const td = tasks.find((t) => t.resolved.includes(role));
            return td ? { users: configuredUser ? [configuredUser] : appUsersOf(td.td), td: td.td } : undefined;
        };
        const documents = stackDocuments(resources);
        const grantingRoles = new Set<PolicyResource>();
        // The proxy's own role connects to the cluster itself when the proxy uses end-to-end IAM.
        const proxyRoles = proxies.flatMap((p) => resolveRefs(p, "roleArn", ofType(resources, T.role), ["arn", "name", "id"]).resolved);

        for (const { holder, doc, roles } of documents) {
            const where = `${label(holder)} ${doc.where}`;
            const taskRole = roles.find((r) => appUserOfRole(r));
            const isProxyRole = roles.length > 0 && roles.every((r) => proxyRoles.includes(r));
            if (doc.document === Unknown || containsUnknown(doc.document)) {
                const deps = holder.propertyDependencies?.[doc.prop] ?? [];
                const fromProxy = deps.filter((d) => proxies.some((p) => p.urn === d.urn));
                const fromCluster = deps.filter((d) => clusters.some((c) => c.urn === d.urn));
                if (fromProxy.length > 0 || (isProxyRole && fromCluster.length > 0)) {
                    roles.forEach((r) => grantingRoles.add(r));
                } else if (taskRole) {
                    // Not built from this stack's proxy, so it does not count as the task role's grant
                    // (the role-level check below then fails if nothing else grants it).
                    const source =
                        fromCluster.length > 0
                            ? `built from cluster ${label(fromCluster[0])}, not the proxy`
                            : "not built from this stack's proxy";
                    reportAdvisory(
                        report,
                        `${where}: document of task role ${label(taskRole)} is unknown at this preview and ${source}, ` +
                            "so what it grants can't be proved; it is checked as a string once known. Build rds-db:connect from the proxy (proxy.connectArn(user))",
                        holder.urn,
                    );
                }
                continue;
            }
            for (const statement of statementsOf(doc.document) ?? []) {
                if (!grantsAction(statement, "rds-db:connect")) {
                    continue;
                }
                roles.forEach((r) => grantingRoles.add(r));
                for (const resource of strings(statement.Resource)) {
                    const problem = dbUserArnProblem(resource);
                    const parsed = parseDbUserArn(resource);
                    if (problem || !parsed) {
                        report(
                            `${where}: rds-db:connect on ${show(resource)}, which ${problem}; grant this stack's proxy and user exactly`,
                            holder.urn,
                        );
                        continue;
                    }
                    if (isProxyRole) {
                        const ids = clusters.map((c) => peek(c.props, "clusterResourceId"));
                        if (fronting) {
                            // The existing cluster's resource id comes from the data source the component checked it with.
                            if (!/^cluster-[A-Z0-9]+$/.test(parsed.resourceId)) {
                                report(
                                    `${where}: the proxy's role may connect to ${parsed.resourceId}, which is not an Aurora cluster resource id (cluster-...); build the ARN from the fronted cluster's clusterResourceId`,
                                    holder.urn,
                                );
                            }
                        } else if (!ids.includes(parsed.resourceId)) {
                            const seen = ids.includes(Unknown)
                                ? "this stack's cluster resource id is unknown until apply, so a fixed id can't be it"
                                : `this stack's cluster is ${ids.map(String).join(", ") || "absent"}`;
                            report(
                                `${where}: the proxy's role may connect to ${parsed.resourceId}, but ${seen}; build the ARN from this stack's cluster.clusterResourceId`,
                                holder.urn,
                            );
                        }
                        if (masterUsers.includes(parsed.user)) {
                            report(
                                `${where}: rds-db:connect as ${JSON.stringify(parsed.user)}, the cluster's master user; let the proxy log in as the application's user only`,
                                holder.urn,
                            );
                        }
                        continue;
                    }
                    const proxy = proxies.find((p) => proxyResourceId(p) === parsed.resourceId);
                    if (!proxy) {
                        const ids = proxies.map(proxyResourceId);
                        const why = parsed.resourceId.startsWith("prx-") ? "" : " (a direct database connection that bypasses the proxy)";
                        const seen = ids.includes(Unknown)
                            ? "this stack's proxy id is unknown until apply, so a fixed id can't be it"
                            : ids.length === 0
                              ? "this stack has no RDS proxy"
                              : `this stack's proxy is ${ids.join(", ")}`;
                        report(
                            `${where}: rds-db:connect names ${parsed.resourceId}${why}, but ${seen}; build the ARN from this stack's proxy (proxy.connectArn(user))`,
                            holder.urn,
                        );
                        continue;
                    }
                    const location = arnRegionAccount(peek(proxy.props, "arn"));
                    if (location && (location.region !== parsed.region || location.account !== parsed.account)) {
                        report(
                            `${where}: rds-db:connect names ${parsed.region}/${parsed.account} but proxy ${label(proxy)} is in ${location.region}/${location.account}; use the proxy's region and account`,
                            holder.urn,
                        );
                    }
                    if (masterUsers.includes(parsed.user)) {
                        report(
                            `${where}: rds-db:connect as ${JSON.stringify(parsed.user)}, the cluster's master user; connect as the application's own user`,
                            holder.urn,
                        );
                    }
                    const app = taskRole && appUserOfRole(taskRole);
                    if (app && app.users !== undefined && !app.users.includes(parsed.user)) {
                        report(
                            `${where}: task role ${label(taskRole!)} may connect as ${JSON.stringify(parsed.user)}, but the application connects as ${app.users.map((u) => JSON.stringify(u)).join(" or ")}; ` +
                                "grant exactly the application's users",
                            holder.urn,
                        );
                    }
                }
            }
        }

        if (proxies.length > 0) {
            for (const { td, resolved } of tasks) {
                for (const role of resolved.filter((r) => !grantingRoles.has(r))) {
                    report(
                        `${label(td)}: its task role ${label(role)} has no rds-db:connect on this stack's proxy (no document grants it, or, at preview, ` +
                            "none is built from the proxy); attach a policy built with proxy.connectArn(user)",
                        td.urn,
                    );
                }
            }
        }
    },
};

export const ecsExecutionRoleNoDbConnect: StackValidationPolicy = {
    name: "ecs-execution-role-no-db-connect",
    description: "The ECS execution role (used by the agent, not the app) holds no rds-db:connect and is not the task role.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateStack: (args, report) => {
        const resources = args.resources;
        const proxies = ofType(resources, T.proxy);
        const clusters = ofType(resources, T.rdsCluster);
        const documents = stackDocuments(resources);
        const tasks = taskRoles(resources, "taskRoleArn");
        for (const { td, resolved } of taskRoles(resources, "executionRoleArn")) {
            for (const role of resolved) {
                if (tasks.some((t) => t.td === td && t.resolved.includes(role))) {
                    report(
                        `${label(td)}: executionRoleArn and taskRoleArn are the same role ${label(role)}; give the agent its own role without database access`,
                        td.urn,
                    );
                }
                for (const { holder, doc } of documents.filter((d) => d.roles.includes(role))) {
                    const where = `${label(holder)} ${doc.where}`;
                    if (doc.document === Unknown || containsUnknown(doc.document)) {
                        const deps = holder.propertyDependencies?.[doc.prop] ?? [];
                        if (deps.some((d) => [...proxies, ...clusters].some((r) => r.urn === d.urn))) {
                            report(
                                `${where}: execution role ${label(role)}'s document is built from the database/proxy, i.e. a database grant; move it to the task role`,
                                holder.urn,
                            );
                        }
                        continue;
                    }
                    if ((statementsOf(doc.document) ?? []).some((s) => grantsAction(s, "rds-db:connect"))) {
                        report(
                            `${where}: execution role ${label(role)} is granted rds-db:connect; only the task role may connect to the database`,
                            holder.urn,
                        );
                    }
                }
            }
        }
    },
};
