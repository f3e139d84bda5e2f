// Operator access (issues 10 and 15): people reach the VPC-only proxy through a Session Manager port forward
// on a relay instance, with the stack's own Session document (host = a proxy endpoint, port 5432). What may
// never happen: an identity policy that starts a shell, a session on any instance, or a session with an
// AWS-managed document (AWS-StartPortForwardingSessionToRemoteHost forwards to any host and port the relay
// reaches: the cluster's endpoint directly, other VPC hosts, any HTTPS host through NAT); a relay that can be reached from outside or leaks
// its role through IMDSv1; a relay role that can read parameters or secrets.
//
// Sources: Session Manager User Guide, "Start a session with a document by specifying the session documents
// in IAM policies" (no document named = SSM-SessionManagerRunShell, the default shell document), "Enforce a
// session document permission check for the AWS CLI" (without ssm:SessionDocumentAccessCheck, a user allowed
// to start sessions gets the default shell document even if no statement names it; the condition must be on
// every statement allowing ssm:StartSession) and "Quickstart end user policies for Session Manager".
import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import {
    asList,
    containsUnknown,
    grantsAction,
    isYes,
    label,
    ofType,
    peek,
    refersTo,
    resolveRefs,
    show,
    statementsOf,
    strings,
    Unknown,
} from "../util";
import { coversPort, ruleSources, stackRules } from "./network";
import { stackDocuments } from "./stack";
import { RELAY_TAG } from "../../components/operator";
import { T } from "./types";

const INSTANCE = "aws:ec2/instance:Instance";

/** Session documents that give a shell or run commands on the target rather than forward a port. */
export const SHELL_DOCUMENTS = [
    "SSM-SessionManagerRunShell",
    "AWS-StartInteractiveCommand",
    "AWS-StartNonInteractiveCommand",
    "AWS-RunShellScript",
    "AWS-StartSSHSession",
    "AWS-PasswordReset",
    "AWS-RunPowerShellScript",
];

/**
 * Whether a document ARN names an AWS-owned document: its account field is empty (AWS's documents are
 * addressed as arn:aws:ssm:<region>::document/<name>), or its name has a prefix AWS reserves for its own
 * (AWS-, Amazon, SSM-; Systems Manager's CreateDocument refuses names starting with aws, amazon or amzn).
 */
export function awsOwnedDocument(resource: string): boolean {
    const m = /^arn:[^:]*:ssm:[^:]*:([^:]*):document\/(.+)$/.exec(resource);
    if (!m) return false;
    return m[1] === "" || /^(AWS|Amazon|amzn|SSM-)/i.test(m[2]);
}

/** Why an ssm:StartSession resource is too wide, or undefined: `*`, any wildcard, a shell or an AWS-managed document. */
export function startSessionResourceProblem(resource: string): string | undefined {
    if (resource === "*") return "is every target and every document, a shell on any instance included";
    const document = /:document\/(.+)$/.exec(resource)?.[1];
    if (document !== undefined) {
        if (document.includes("*") || document.includes("?")) return "is a wildcard over session documents, shell documents included";
        if (SHELL_DOCUMENTS.includes(document)) return `is ${document}, a document that gives a shell or runs commands on the target`;
        if (awsOwnedDocument(resource)) {
            return (
                `is ${document}, an AWS-managed document whose host and port the caller chooses (the cluster's endpoint directly, ` +
                "other hosts of the VPC, any HTTPS host through NAT); allow only the stack's own session document, which admits the proxy's endpoints on 5432"
            );
        }
        return undefined;
    }
    if (resource.includes("*") || resource.includes("?")) return "is a wildcard over targets; name the relay instance";
    return undefined;
}

export const operatorSessionPortForwardOnly: StackValidationPolicy = {
    name: "operator-session-port-forward-only",
    description:
        "No identity policy allows ssm:StartSession on `*`, on a wildcard, on a shell document (SSM-SessionManagerRunShell, " +
        "AWS-StartInteractiveCommand, AWS-RunShellScript, ...), on any AWS-managed document (AWS-StartPortForwardingSessionToRemoteHost " +
        "forwards to any host, the instance metadata service included), or on an instance without naming a document or without the " +
        "ssm:SessionDocumentAccessCheck condition (either way a session without --document-name starts the default shell).",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateStack: (args, report) => {
        for (const { holder, doc } of stackDocuments(args.resources)) {
            // An unknown document (the relay's ARN at a first preview) is judged once known.
            if (containsUnknown(doc.document)) continue;
            (statementsOf(doc.document) ?? []).forEach((s, i) => {
                if ((s.Effect ?? "Allow") !== "Allow" || !grantsAction(s, "ssm:StartSession")) return;
                const where = `${label(holder)} ${doc.where} Statement[${i}]`;
                if (s.NotResource !== undefined) {
                    report(
                        `${where}: ssm:StartSession on everything except ${show(s.NotResource)}; name the relay instance and ` +
                            "the stack's own session document (operatorSessionDocument)",
                        holder.urn,
                    );
                    return;
                }
                const resources = strings(s.Resource);
                for (const resource of resources) {
                    const problem = startSessionResourceProblem(resource);
                    if (problem)
                        report(
                            `${where}: ssm:StartSession on ${show(resource)}, which ${problem}; allow only the relay and the port-forwarding document`,
                            holder.urn,
                        );
                }
                const targets = resources.filter((r) => !/:document\//.test(r) && r !== "*");
                const documents = resources.filter((r) => /:document\//.test(r));
                if (targets.length > 0 && documents.length === 0) {
                    report(
                        `${where}: ssm:StartSession on ${targets.map(show).join(", ")} without a document resource, so a session without ` +
                            "--document-name starts SSM-SessionManagerRunShell (a shell); add the stack's own session document as the only document",
                        holder.urn,
                    );
                } else if (targets.length > 0 && !documentAccessChecked(s.Condition)) {
                    report(
                        `${where}: ssm:StartSession on ${targets.map(show).join(", ")} without the condition ` +
                            `{"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}}, so a session without --document-name still starts ` +
                            "SSM-SessionManagerRunShell (a shell); add the condition",
                        holder.urn,
                    );
                }
            });
        }
    },
};

/** Whether a statement's Condition makes Session Manager check the document permission. */
function documentAccessChecked(condition: unknown): boolean {
    const c = (condition ?? {}) as Record<string, Record<string, unknown>>;
    return ["Bool", "BoolIfExists"].some((op) => String(c[op]?.["ssm:SessionDocumentAccessCheck"]).toLowerCase() === "true");
}

/** The security groups of EC2 instances, by instance. */
function instanceGroups(resources: PolicyResource[], instance: PolicyResource): PolicyResource[] {
    const value = peek(instance.props, "vpcSecurityGroupIds");
    // At a first preview the list (or its ids) is unknown: refersTo then decides by the dependency graph.
    const items = value === Unknown ? [Unknown] : Array.isArray(value) ? value : [];
    return ofType(resources, T.securityGroup).filter((g) =>
        items.some((v) => isYes(refersTo(instance, "vpcSecurityGroupIds", v, g, ["id"]))),
    );
}

/** The security groups of EC2 instances declared as the operator relay (tag Role=operator-relay). */
export function relayGroups(resources: PolicyResource[]): PolicyResource[] {
    return ofType(resources, INSTANCE)
        .filter((i) => peek(i.props, "tags", RELAY_TAG.key) === RELAY_TAG.value)
        .flatMap((i) => instanceGroups(resources, i));
}

export const ec2RelayLockedDown: StackValidationPolicy = {
    name: "ec2-relay-locked-down",
    description:
        "Every EC2 instance (the operator relay) has no public IP (associatePublicIpAddress, or a subnet that maps one on launch), " +
        "no inbound rule on any of its security groups, and requires IMDSv2.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateStack: (args, report) => {
        const resources = args.resources;
        const rules = stackRules(resources);
        for (const instance of ofType(resources, INSTANCE)) {
            const name = label(instance);
            if (peek(instance.props, "associatePublicIpAddress") === true) {
                report(
                    `${name}: associatePublicIpAddress is true; the relay needs no address on the internet (Session Manager dials out), set it to false`,
                    instance.urn,
                );
            }
            const subnetId = peek(instance.props, "subnetId");
            for (const subnet of ofType(resources, T.subnet).filter((s) => isYes(refersTo(instance, "subnetId", subnetId, s, ["id"])))) {
                // Even with associatePublicIpAddress false: a public subnet is one launch setting away from an exposed relay.
                if (peek(subnet.props, "mapPublicIpOnLaunch") === true) {
                    report(
                        `${name}: runs in ${label(subnet)}, which maps a public IP on launch; put the relay in a private subnet`,
                        instance.urn,
                    );
                }
            }
            if (peek(instance.props, "metadataOptions", "httpTokens") !== "required") {
                report(
                    `${name}: metadataOptions.httpTokens is ${show(peek(instance.props, "metadataOptions", "httpTokens"))}; set "required" (IMDSv2 only)`,
                    instance.urn,
                );
            }
            const groups = instanceGroups(resources, instance);
            if (groups.length === 0) {
                report(
                    `${name}: no security group of this stack, so the VPC's default group (which admits its own members) applies; give it a group without inbound rules`,
                    instance.urn,
                );
            }
            for (const { rule, groups: owners } of rules) {
                if (rule.direction !== "ingress") continue;
                for (const g of owners.filter((o) => groups.includes(o))) {
                    const owner = resources.find((r) => r.urn === rule.owner.urn)!;
                    const sources = [
                        ...rule.cidrs,
                        ...rule.prefixLists,
                        ...ruleSources(rule, owner, ofType(resources, T.securityGroup)).resolved.map(label),
                    ];
                    report(
                        `${name}: its group ${label(g)} has an inbound rule (${label(owner)} ${rule.where}${sources.length ? ` from ${sources.join(", ")}` : ""}` +
                            `${coversPort(rule, 22) ? ", SSH included" : ""}); the relay needs none, remove it`,
                        owner.urn,
                    );
                }
            }
        }
    },
};

/** Actions that read Parameter Store parameters (SecureStrings included) or Secrets Manager secrets. */
export const SECRET_READING_ACTIONS = [
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "ssm:GetParameterHistory",
    "secretsmanager:GetSecretValue",
];

/** The roles an EC2 instance runs as: its iamInstanceProfile's role. */
function instanceRoles(resources: PolicyResource[], instance: PolicyResource): PolicyResource[] {
    const profiles = resolveRefs(instance, "iamInstanceProfile", ofType(resources, T.instanceProfile), ["name", "id", "arn"]).resolved;
    return profiles.flatMap((p) => resolveRefs(p, "role", ofType(resources, T.role), ["name", "id", "arn"]).resolved);
}

export const relayRoleReadsNoSecrets: StackValidationPolicy = {
    name: "relay-role-reads-no-secrets",
    description:
        "The role of an EC2 instance (the operator relay) may not read Parameter Store parameters or Secrets Manager secrets " +
        "(ssm:GetParameter*, secretsmanager:GetSecretValue) and has no AWS-managed policy attached: AmazonSSMManagedInstanceCore " +
        "allows ssm:GetParameter(s) on `*`. Whoever obtains the relay's credentials would hold them (least privilege: the agent needs none of it).",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateStack: (args, report) => {
        const resources = args.resources;
        const documents = stackDocuments(resources);
        for (const instance of ofType(resources, INSTANCE)) {
            for (const role of instanceRoles(resources, instance)) {
                const whose = `${label(instance)}'s role ${label(role)}`;
                const attached = ofType(resources, T.rolePolicyAttachment)
                    .filter((a) => isYes(refersTo(a, "role", peek(a.props, "role"), role, ["name", "id", "arn"])))
                    .map((a) => ({ holder: a, arn: peek(a.props, "policyArn") }));
                const listed = asList(peek(role.props, "managedPolicyArns")).map((arn) => ({ holder: role, arn: arn as unknown }));
                for (const { holder, arn } of [...attached, ...listed]) {
                    if (typeof arn === "string" && /^arn:[^:]+:iam::aws:policy\//.test(arn)) {
                        report(
                            `${whose}: the AWS-managed policy ${arn} is attached (${label(holder)}); AmazonSSMManagedInstanceCore, for one, ` +
                                "allows ssm:GetParameter(s) on every parameter; give the relay only the Session Manager agent actions " +
                                "(ssm:UpdateInstanceInformation, ssmmessages:Create/OpenControlChannel, Create/OpenDataChannel)",
                            holder.urn,
                        );
                    }
                }
                for (const { holder, doc } of documents.filter((d) => d.roles.includes(role))) {
                    // An unknown document is judged once known.
                    if (containsUnknown(doc.document)) continue;
                    (statementsOf(doc.document) ?? []).forEach((s, i) => {
                        const reads = SECRET_READING_ACTIONS.filter((a) => grantsAction(s, a));
                        if (reads.length > 0) {
                            report(
                                `${whose}: ${label(holder)} ${doc.where} Statement[${i}] allows ${reads.join(", ")}; the relay reads no parameter ` +
                                    "or secret (whoever obtains its credentials would hold that access), remove it",
                                holder.urn,
                            );
                        }
                    });
                }
            }
        }
    },
};
