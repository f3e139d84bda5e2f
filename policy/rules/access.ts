// Database users as declared (issue: database access as code): who may connect as a migrations (ddl)
// user, which users the proxy serves, and a READ_ONLY endpoint only where readers exist.
//
// The declared users and their profiles are read from the post-deploy functions' DB_USERS variable
// (the program writes the stack's access.users there); a stack without it is judged on what it has.
import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { containsUnknown, grantsAction, label, ofType, parseDbUserArn, peek, resolveRefs, statementsOf, strings, Unknown } from "../util";
import { taskRoles } from "./ecs";
import { frontsExistingCluster } from "./rds";
import { appUsersOf, stackDocuments } from "./stack";
import { T } from "./types";

const PROXY_ENDPOINT = "aws:rds/proxyEndpoint:ProxyEndpoint";

interface DeclaredUser {
    name: string;
    access: string;
}

/**
 * The post-deploy functions: those whose environment declares the stack's users (DB_USERS). With
 * `orUnknown`, also those whose environment is not known yet (a first preview).
 */
export function usersDeclaringFunctions(resources: PolicyResource[], o: { orUnknown?: boolean } = {}): PolicyResource[] {
    return ofType(resources, T.lambdaFunction).filter((fn) => {
        const users = peek(fn.props, "environment", "variables", "DB_USERS");
        return typeof users === "string" || (o.orUnknown === true && users === Unknown);
    });
}

/** The stack's declared users, from a function's DB_USERS; undefined when no function declares them. */
export function declaredUsers(resources: PolicyResource[]): DeclaredUser[] | undefined {
    for (const fn of usersDeclaringFunctions(resources)) {
        const raw = peek(fn.props, "environment", "variables", "DB_USERS") as string;
        try {
            const users = JSON.parse(raw);
            if (Array.isArray(users))
                return users.filter((u) => typeof u?.name === "string").map((u) => ({ name: u.name, access: String(u.access) }));
        } catch {
            // not ours
        }
    }
    return undefined;
}

/** Every known rds-db:connect grant through a proxy (prx-…), with the roles that hold it. */
function proxyGrants(resources: PolicyResource[]) {
    const grants: { holder: PolicyResource; roles: PolicyResource[]; user: string; resourceId: string }[] = [];
    for (const { holder, doc, roles } of stackDocuments(resources)) {
        if (containsUnknown(doc.document)) continue;
        for (const s of statementsOf(doc.document) ?? []) {
            if (!grantsAction(s, "rds-db:connect")) continue;
            for (const resource of strings(s.Resource)) {
                const parsed = parseDbUserArn(resource);
                if (parsed) grants.push({ holder, roles, user: parsed.user, resourceId: parsed.resourceId });
            }
        }
    }
    return grants;
}

/** Roles of functions that declare DB_USERS: the smoke, which proves every user's access. */
function verifierRoles(resources: PolicyResource[]): PolicyResource[] {
    return usersDeclaringFunctions(resources).flatMap((fn) => resolveRefs(fn, "role", ofType(resources, T.role), ["arn"]).resolved);
}

export const ddlUserConnectNamed: StackValidationPolicy = {
    name: "ddl-user-connect-named",
    description:
        "No client principal may connect as a ddl (migrations) user unless the settings name it: the ECS task only for users in " +
        "its DB_CONNECT_AS (access.ecsTask), the operator role only for users its OperatorUsers tag names (operator.users); the post-deploy smoke, which proves every user, may.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateStack: (args, report) => {
        const users = declaredUsers(args.resources);
        if (!users) return;
        const ddl = new Set(users.filter((u) => u.access === "ddl").map((u) => u.name));
        const verifiers = verifierRoles(args.resources);
        const tasks = taskRoles(args.resources, "taskRoleArn");
        for (const g of proxyGrants(args.resources)) {
            if (!g.resourceId.startsWith("prx-") || !ddl.has(g.user)) continue;
            for (const role of g.roles) {
                if (verifiers.includes(role)) continue;
                const task = tasks.find((t) => t.resolved.includes(role));
                if (task && (appUsersOf(task.td) ?? []).includes(g.user)) continue;
                const operatorUsers = peek(role.props, "tags", "OperatorUsers");
                if (typeof operatorUsers === "string" && operatorUsers.split(/\s+/).includes(g.user)) continue;
                report(
                    `${label(g.holder)}: ${label(role)} may connect as ${JSON.stringify(g.user)}, a ddl (migrations) user that the settings do not ` +
                        "give it; name it in access.ecsTask if the task really runs migrations (operator.users for the operator role), or connect as a readwrite/readonly user",
                    g.holder.urn,
                );
            }
        }
    },
};

export const connectOnlyServedUsers: StackValidationPolicy = {
    name: "connect-only-served-users",
    description:
        "No rds-db:connect grant through the proxy names a user the proxy does not serve (end-to-end IAM: a user its role may log in as; " +
        "secrets mode: a declared user with a secret).",
    enforcementLevel: "mandatory",
    severity: "high",
    validateStack: (args, report) => {
        const resources = args.resources;
        const proxies = ofType(resources, T.proxy);
        if (proxies.length === 0) return;
        const proxyRoles = proxies.flatMap((p) => resolveRefs(p, "roleArn", ofType(resources, T.role), ["arn", "name", "id"]).resolved);
        const grants = proxyGrants(resources);
        const iam = proxies.some((p) => peek(p.props, "defaultAuthScheme") === "IAM_AUTH");
        const served = new Set(
            iam
                ? grants.filter((g) => g.roles.some((r) => proxyRoles.includes(r)) && !g.resourceId.startsWith("prx-")).map((g) => g.user)
                : (declaredUsers(resources) ?? []).map((u) => u.name),
        );
        if (served.size === 0) return;
        for (const g of grants) {
            if (!g.resourceId.startsWith("prx-") || served.has(g.user)) continue;
            report(
                `${label(g.holder)}: rds-db:connect as ${JSON.stringify(g.user)} through the proxy, which serves only ${[...served].join(", ")}; ` +
                    "declare the user in access.users or drop the grant",
                g.holder.urn,
            );
        }
    },
};

export const readOnlyEndpointNeedsReaders: StackValidationPolicy = {
    name: "read-only-endpoint-needs-readers",
    description:
        "A READ_ONLY proxy endpoint exists only where the cluster has reader instances: without them RDS Proxy fails its connections. " +
        "An existing cluster's instances are not the stack's: the component counts them at preview time.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateStack: (args, report) => {
        if (frontsExistingCluster(args.resources)) return;
        const instances = ofType(args.resources, T.rdsClusterInstance).length;
        for (const endpoint of ofType(args.resources, PROXY_ENDPOINT)) {
            if (peek(endpoint.props, "targetRole") !== "READ_ONLY" || instances >= 2) continue;
            report(
                `${label(endpoint)}: a READ_ONLY endpoint, but the cluster has ${instances} instance(s) and so no reader; ` +
                    "set database.instanceCount >= 2 or send readonly users to the writer endpoint",
                endpoint.urn,
            );
        }
    },
};
