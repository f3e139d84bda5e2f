// Security groups and VPC. Security group rules come in three shapes (inline ingress/egress on
// aws.ec2.SecurityGroup, aws.ec2.SecurityGroupRule, and aws.vpc.SecurityGroupIngressRule/
// EgressRule); `rulesOf` turns them into one shape so each check is written once.
import { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import {
    asList,
    environmentConfigSchema,
    environmentOf,
    isUnknownSentinel,
    isYes,
    label,
    ofType,
    peek,
    Peeked,
    raw,
    refersTo,
    show,
    stackProviders,
    Unknown,
} from "../util";
import { T } from "./types";
import { DB_PORT } from "../../access/spec";

/** Ports of the data path; ingress to them must name a security group, never an address range. */
export const DATA_PORTS = [DB_PORT];
/** Well-known database ports that must never be open to the internet. */
export const DATABASE_PORTS = [5432, 3306, 1433, 1521, 5439, 27017, 6379, 9042, 11211];

export interface NormalRule {
    /** The resource that declares the rule. */
    owner: { type: string; name: string; urn: string; props: Record<string, any> };
    /** Where in the owner the rule lives, e.g. `ingress[1]`, for messages. */
    where: string;
    direction: "ingress" | "egress";
    /** The group the rule belongs to: the owner itself for inline rules, else its securityGroupId. */
    groupRef: { prop: string; value: Peeked } | "self";
    protocol: Peeked;
    fromPort: Peeked;
    toPort: Peeked;
    cidrs: string[];
    prefixLists: string[];
    /** Source (ingress) or destination (egress) security groups, with the property they came from. */
    groups: { prop: string; value: Peeked }[];
    selfRef: boolean;
    description: Peeked;
}

type Owner = NormalRule["owner"];

export function rulesOf(owner: Owner): NormalRule[] {
    const p = owner.props;
    switch (owner.type) {
        case T.securityGroup:
        case T.defaultSecurityGroup: {
            const rules: NormalRule[] = [];
            for (const direction of ["ingress", "egress"] as const) {
                const list = peek(p, direction);
                asList(list === Unknown ? [] : list).forEach((r, i) =>
                    rules.push({
                        owner,
                        where: `${direction}[${i}]`,
                        direction,
                        groupRef: "self",
                        protocol: peek(r, "protocol"),
                        fromPort: peek(r, "fromPort"),
                        toPort: peek(r, "toPort"),
                        cidrs: addresses([...asList(peek(r, "cidrBlocks")), ...asList(peek(r, "ipv6CidrBlocks"))]),
                        prefixLists: addresses(asList(peek(r, "prefixListIds"))),
                        groups: asList(peek(r, "securityGroups")).map((value) => ({ prop: direction, value })),
                        selfRef: peek(r, "self") === true,
                        description: peek(r, "description"),
                    }),
                );
            }
            return rules;
        }
        case T.securityGroupRule: {
            const direction = peek(p, "type") === "egress" ? "egress" : "ingress";
            const source = peek(p, "sourceSecurityGroupId");
            return [
                {
                    owner,
                    where: "rule",
                    direction,
                    groupRef: { prop: "securityGroupId", value: peek(p, "securityGroupId") },
                    protocol: peek(p, "protocol"),
                    fromPort: peek(p, "fromPort"),
                    toPort: peek(p, "toPort"),
                    cidrs: addresses([...asList(peek(p, "cidrBlocks")), ...asList(peek(p, "ipv6CidrBlocks"))]),
                    prefixLists: addresses(asList(peek(p, "prefixListIds"))),
                    groups: source === undefined ? [] : [{ prop: "sourceSecurityGroupId", value: source }],
                    selfRef: peek(p, "self") === true,
                    description: peek(p, "description"),
                },
            ];
        }
        case T.ingressRule:
        case T.egressRule: {
            const ref = peek(p, "referencedSecurityGroupId");
            return [
                {
                    owner,
                    where: "rule",
                    direction: owner.type === T.ingressRule ? "ingress" : "egress",
                    groupRef: { prop: "securityGroupId", value: peek(p, "securityGroupId") },
                    protocol: peek(p, "ipProtocol"),
                    fromPort: peek(p, "fromPort"),
                    toPort: peek(p, "toPort"),
                    cidrs: addresses([raw(p)?.cidrIpv4, raw(p)?.cidrIpv6]),
                    prefixLists: addresses([raw(p)?.prefixListId]),
                    groups: ref === undefined ? [] : [{ prop: "referencedSecurityGroupId", value: ref }],
                    selfRef: false,
                    description: peek(p, "description"),
                },
            ];
        }
        default:
            return [];
    }
}

/** Present address values; one unknown at preview is still an address range, shown as such. */
function isString(v: unknown): v is string {
    return typeof v === "string" && v !== "";
}

function addresses(values: unknown[]): string[] {
    return values.map((v) => (v === Unknown || isUnknownSentinel(v) ? "an address range unknown until apply" : v)).filter(isString);
}

/** Does the rule admit traffic on `port`? Unknown protocol or ports count as "yes". */
export function coversPort(rule: NormalRule, port: number): boolean {
    const protocol = rule.protocol === Unknown ? "-1" : String(rule.protocol ?? "-1").toLowerCase();
    if (protocol === "-1" || protocol === "all") {
        return true;
    }
    if (protocol !== "tcp" && protocol !== "6") {
        return false;
    }
    const from = typeof rule.fromPort === "number" ? rule.fromPort : -Infinity;
    const to = typeof rule.toPort === "number" ? rule.toPort : Infinity;
    // fromPort/toPort of 0 with tcp means "all ports" to some users; AWS reads it as port 0 only,
    // which admits nothing useful, so take the range literally.
    return from <= port && port <= to;
}

function portText(rule: NormalRule): string {
    const protocol = String(rule.protocol ?? "-1");
    if (protocol === "-1" || protocol.toLowerCase() === "all") {
        return "all ports";
    }
    return rule.fromPort === rule.toPort ? `port ${show(rule.fromPort)}` : `ports ${show(rule.fromPort)}-${show(rule.toPort)}`;
}

const ANY_ADDRESS = ["0.0.0.0/0", "::/0"];

function ruleLabel(rule: NormalRule): string {
    return rule.where === "rule" ? label(rule.owner) : `${label(rule.owner)} ${rule.where}`;
}

const ruleTypes = [T.securityGroup, T.securityGroupRule, T.ingressRule];

export const sgNoInternetIngressDbPorts: ResourceValidationPolicy = {
    name: "sg-no-internet-ingress-db-ports",
    description: "No security group admits 0.0.0.0/0 or ::/0 on a database port (5432, 3306, 1433, 1521, 5439, 27017, 6379, ...).",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: (args, report) => {
        if (!ruleTypes.includes(args.type as (typeof ruleTypes)[number])) {
            args.notApplicable("applies to security groups and their rules");
        }
        for (const rule of rulesOf(args).filter((r) => r.direction === "ingress")) {
            const open = rule.cidrs.filter((c) => ANY_ADDRESS.includes(c.trim()));
            const ports = DATABASE_PORTS.filter((port) => coversPort(rule, port));
            if (open.length > 0 && ports.length > 0) {
                report(
                    `${ruleLabel(rule)}: ingress from ${open.join(", ")} on ${portText(rule)} (database port ${ports.join(", ")}); ` +
                        "admit only the client's security group (referencedSecurityGroupId)",
                );
            }
        }
    },
};

export const sgDataPathIngressByReference: ResourceValidationPolicy = {
    name: "sg-data-path-ingress-by-reference",
    description: "Ingress on the data path (5432) names a source security group; address ranges and prefix lists are refused.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: (args, report) => {
        if (!ruleTypes.includes(args.type as (typeof ruleTypes)[number])) {
            args.notApplicable("applies to security groups and their rules");
        }
        for (const rule of rulesOf(args).filter((r) => r.direction === "ingress")) {
            // All-traffic rules reach 5432 only incidentally; on the proxy's and database's groups the
            // stack rules (proxy-sg-admits-only-app, db-sg-admits-only-proxy) refuse them too.
            const allTraffic = ["-1", "all"].includes(String(rule.protocol).toLowerCase());
            const ports = allTraffic ? [] : DATA_PORTS.filter((port) => coversPort(rule, port));
            const byAddress = [...rule.cidrs, ...rule.prefixLists];
            if (ports.length > 0 && byAddress.length > 0) {
                report(
                    `${ruleLabel(rule)}: ingress on ${portText(rule)} from ${byAddress.join(", ")}; ` +
                        "admit the data path only by security group (referencedSecurityGroupId / sourceSecurityGroupId)",
                );
            }
        }
    },
};

// AWS's documented character sets: GroupDescription allows `&`, rule descriptions do not.
const GROUP_DESCRIPTION = /^[a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]*$/;
const RULE_DESCRIPTION = /^[a-zA-Z0-9 ._\-:/()#,@[\]+=;{}!$*]*$/;
const DESCRIPTION_MAX = 255;

function descriptionProblem(text: string, pattern: RegExp): string | undefined {
    if (text.length > DESCRIPTION_MAX) {
        return `is ${text.length} characters (max ${DESCRIPTION_MAX})`;
    }
    const bad = [...new Set(text.split("").filter((c) => !pattern.test(c)))];
    return bad.length > 0 ? `contains ${bad.map((c) => JSON.stringify(c)).join(", ")}, which AWS rejects` : undefined;
}

export const sgDescriptionValid: ResourceValidationPolicy = {
    name: "sg-description-valid",
    description:
        "Security groups and their rules carry a description, in AWS's allowed characters (a-zA-Z0-9 space ._-:/()#,@[]+=;{}!$*, plus & for groups) and at most 255 characters, so apply doesn't fail and reviewers know why a path is open.",
    enforcementLevel: "mandatory",
    severity: "low",
    validateResource: (args, report) => {
        const types: string[] = [T.securityGroup, T.securityGroupRule, T.ingressRule, T.egressRule, T.defaultSecurityGroup];
        if (!types.includes(args.type)) {
            args.notApplicable("applies to security groups and their rules");
        }
        if (args.type === T.securityGroup) {
            const description = peek(args.props, "description");
            const problem =
                typeof description === "string"
                    ? descriptionProblem(description, GROUP_DESCRIPTION)
                    : description === undefined
                      ? 'is unset (AWS shows "Managed by Pulumi")'
                      : undefined;
            if (problem) {
                report(
                    `${label(args)}: description ${description === undefined ? "" : show(description) + " "}${problem}; ` +
                        "describe the group's purpose using only a-zA-Z0-9, spaces and ._-:/()#,@[]+=&;{}!$*",
                );
            }
        }
        for (const rule of rulesOf(args)) {
            const problem =
                typeof rule.description === "string"
                    ? descriptionProblem(rule.description, RULE_DESCRIPTION)
                    : rule.description === undefined || rule.description === ""
                      ? "is unset"
                      : undefined;
            if (problem) {
                report(
                    `${ruleLabel(rule)}: description ${typeof rule.description === "string" && rule.description !== "" ? show(rule.description) + " " : ""}${problem}; ` +
                        "say why the path is open, using only a-zA-Z0-9, spaces and ._-:/()#,@[]+=;{}!$*",
                );
            }
        }
    },
};

/** Every rule in the stack, with the security group resource(s) it belongs to. */
export function stackRules(resources: PolicyResource[]): { rule: NormalRule; groups: PolicyResource[] }[] {
    const groups = ofType(resources, T.securityGroup);
    const result: { rule: NormalRule; groups: PolicyResource[] }[] = [];
    for (const r of resources) {
        for (const rule of rulesOf(r)) {
            const ref = rule.groupRef;
            const owners = ref === "self" ? [r] : groups.filter((g) => isYes(refersTo(r, ref.prop, ref.value, g, ["id"])));
            result.push({ rule, groups: owners });
        }
    }
    return result;
}

/** The security groups a rule's source names, resolved to resources of this stack where possible. */
export function ruleSources(
    rule: NormalRule,
    owner: PolicyResource,
    candidates: PolicyResource[],
): { resolved: PolicyResource[]; unresolved: Peeked[] } {
    const resolved: PolicyResource[] = [];
    const unresolved: Peeked[] = [];
    for (const { prop, value } of rule.groups) {
        const hits = candidates.filter((c) => isYes(refersTo(owner, prop, value, c, ["id"])));
        if (hits.length === 0) {
            unresolved.push(value);
        }
        resolved.push(...hits);
    }
    if (rule.selfRef) {
        resolved.push(...candidates.filter((c) => c.urn === owner.urn));
    }
    return { resolved, unresolved };
}

export const vpcFlowLogsProd: StackValidationPolicy = {
    name: "vpc-flow-logs-prod",
    description: "Every VPC of a prod stack has a flow log.",
    enforcementLevel: "mandatory",
    severity: "medium",
    configSchema: environmentConfigSchema,
    validateStack: (args, report) => {
        if (environmentOf(args, stackProviders(args.resources)) !== "prod") {
            return;
        }
        const flowLogs = ofType(args.resources, T.flowLog);
        for (const vpc of ofType(args.resources, T.vpc)) {
            const logged = flowLogs.some((f) => isYes(refersTo(f, "vpcId", peek(f.props, "vpcId"), vpc, ["id"])));
            if (!logged) {
                report(
                    `${label(vpc)}: no flow log in prod; add an aws.ec2.FlowLog with vpcId: vpc.id to a log group with retention`,
                    vpc.urn,
                );
            }
        }
    },
};

export const vpcDefaultSecurityGroupClosed: StackValidationPolicy = {
    name: "vpc-default-security-group-closed",
    description:
        "Each VPC's default security group is adopted by an aws.ec2.DefaultSecurityGroup with no rules, so nothing falls back to it.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateStack: (args, report) => {
        const defaults = ofType(args.resources, T.defaultSecurityGroup);
        for (const sg of defaults) {
            for (const direction of ["ingress", "egress"]) {
                const rules = asList(peek(sg.props, direction));
                if (rules.length > 0) {
                    report(
                        `${label(sg)}: ${direction} has ${rules.length} rule(s); remove them so the default security group admits nothing`,
                        sg.urn,
                    );
                }
            }
        }
        for (const vpc of ofType(args.resources, T.vpc)) {
            if (!defaults.some((d) => isYes(refersTo(d, "vpcId", peek(d.props, "vpcId"), vpc, ["id"])))) {
                report(
                    `${label(vpc)}: its default security group keeps AWS's allow-all rules; adopt it with an aws.ec2.DefaultSecurityGroup (vpcId: vpc.id) with no ingress or egress`,
                    vpc.urn,
                );
            }
        }
    },
};
