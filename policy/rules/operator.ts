// Operator access (issue 10): people reach the VPC-only proxy through a Session Manager port forward
// on a relay instance. What may never happen: an identity policy that starts a shell (or a session on
// any instance), and a relay that can be reached from outside or leaks its role through IMDSv1.
//
// Sources: Session Manager User Guide, "Start a session with a document by specifying the session documents
// in IAM policies" (no document named = SSM-SessionManagerRunShell, the default shell document), "Enforce a
// session document permission check for the AWS CLI" (without ssm:SessionDocumentAccessCheck, a user allowed
// to start sessions gets the default shell document even if no statement names it; the condition must be on
// every statement allowing ssm:StartSession) and "Quickstart end user policies for Session Manager".
import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { containsUnknown, grantsAction, isYes, label, ofType, peek, refersTo, show, statementsOf, strings, Unknown } from "../util";
import { coversPort, ruleSources, stackRules } from "./network";
import { stackDocuments } from "./stack";
import { RELAY_TAG } from "../../components/operator";
import { T } from "./types";

const INSTANCE = "aws:ec2/instance:Instance";

/** Session documents that give a shell or run commands on the target rather than forward a port. */
export const SHELL_DOCUMENTS = [
    "SSM-SessionManagerRunShell", "AWS-StartInteractiveCommand", "AWS-StartNonInteractiveCommand", "AWS-RunShellScript",
    "AWS-StartSSHSession", "AWS-PasswordReset", "AWS-RunPowerShellScript",
];


/** Why an ssm:StartSession resource is too wide, or undefined: `*`, any wildcard, or a shell document. */
export function startSessionResourceProblem(resource: string): string | undefined {
    if (resource === "*") return "is every target and every document, a shell on any instance included";
    const document = /:document\/(.+)$/.exec(resource)?.[1];
    if (document !== undefined) {
        if (document.includes("*") || document.includes("?")) return "is a wildcard over session documents, shell documents included";
        if (SHELL_DOCUMENTS.includes(document)) return `is ${document}, a document that gives a shell or runs commands on the target`;
        return undefined;
    }
    if (resource.includes("*") || resource.includes("?")) return "is a wildcard over targets; name the relay instance";
    return undefined;
}

export const operatorSessionPortForwardOnly: StackValidationPolicy = {
    name: "operator-session-port-forward-only",
    description: "No identity policy allows ssm:StartSession on `*`, on a wildcard, on a shell document (SSM-SessionManagerRunShell, " +
        "AWS-StartInteractiveCommand, AWS-RunShellScript, ...), or on an instance without naming a document or without the " +
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
                    report(`${where}: ssm:StartSession on everything except ${show(s.NotResource)}; name the relay instance and ` +
                        "arn:aws:ssm:<region>::document/AWS-StartPortForwardingSessionToRemoteHost", holder.urn);
                    return;
                }
                const resources = strings(s.Resource);
                for (const resource of resources) {
                    const problem = startSessionResourceProblem(resource);
                    if (problem) report(`${where}: ssm:StartSession on ${show(resource)}, which ${problem}; allow only the relay and the port-forwarding document`, holder.urn);
                }
                const targets = resources.filter(r => !/:document\//.test(r) && r !== "*");
                const documents = resources.filter(r => /:document\//.test(r));
                if (targets.length > 0 && documents.length === 0) {
                    report(`${where}: ssm:StartSession on ${targets.map(show).join(", ")} without a document resource, so a session without ` +
                        "--document-name starts SSM-SessionManagerRunShell (a shell); add the port-forwarding document as the only document", holder.urn);
                } else if (targets.length > 0 && !documentAccessChecked(s.Condition)) {
                    report(`${where}: ssm:StartSession on ${targets.map(show).join(", ")} without the condition ` +
                        `{"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}}, so a session without --document-name still starts ` +
                        "SSM-SessionManagerRunShell (a shell); add the condition", holder.urn);
                }
            });
        }
    },
};

/** Whether a statement's Condition makes Session Manager check the document permission. */
function documentAccessChecked(condition: unknown): boolean {
    const c = (condition ?? {}) as Record<string, Record<string, unknown>>;
    return ["Bool", "BoolIfExists"].some(op => String(c[op]?.["ssm:SessionDocumentAccessCheck"]).toLowerCase() === "true");
}

/** The security groups of EC2 instances, by instance. */
function instanceGroups(resources: PolicyResource[], instance: PolicyResource): PolicyResource[] {
    const value = peek(instance.props, "vpcSecurityGroupIds");
    // At a first preview the list (or its ids) is unknown: refersTo then decides by the dependency graph.
    const items = value === Unknown ? [Unknown] : Array.isArray(value) ? value : [];
    return ofType(resources, T.securityGroup).filter(g => items.some(v => isYes(refersTo(instance, "vpcSecurityGroupIds", v, g, ["id"]))));
}

/** The security groups of EC2 instances declared as the operator relay (tag Role=operator-relay). */
export function relayGroups(resources: PolicyResource[]): PolicyResource[] {
    return ofType(resources, INSTANCE)
        .filter(i => peek(i.props, "tags", RELAY_TAG.key) === RELAY_TAG.value)
        .flatMap(i => instanceGroups(resources, i));
}

export const ec2RelayLockedDown: StackValidationPolicy = {
    name: "ec2-relay-locked-down",
    description: "Every EC2 instance (the operator relay) has no public IP (associatePublicIpAddress, or a subnet that maps one on launch), " +
        "no inbound rule on any of its security groups, and requires IMDSv2.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateStack: (args, report) => {
        const resources = args.resources;
        const rules = stackRules(resources);
        for (const instance of ofType(resources, INSTANCE)) {
            const name = label(instance);
            if (peek(instance.props, "associatePublicIpAddress") === true) {
                report(`${name}: associatePublicIpAddress is true; the relay needs no address on the internet (Session Manager dials out), set it to false`, instance.urn);
            }
            const subnetId = peek(instance.props, "subnetId");
            for (const subnet of ofType(resources, T.subnet).filter(s => isYes(refersTo(instance, "subnetId", subnetId, s, ["id"])))) {
                // Even with associatePublicIpAddress false: a public subnet is one launch setting away from an exposed relay.
                if (peek(subnet.props, "mapPublicIpOnLaunch") === true) {
                    report(`${name}: runs in ${label(subnet)}, which maps a public IP on launch; put the relay in a private subnet`, instance.urn);
                }
            }
            if (peek(instance.props, "metadataOptions", "httpTokens") !== "required") {
                report(`${name}: metadataOptions.httpTokens is ${show(peek(instance.props, "metadataOptions", "httpTokens"))}; set "required" (IMDSv2 only)`, instance.urn);
            }
            const groups = instanceGroups(resources, instance);
            if (groups.length === 0) {
                report(`${name}: no security group of this stack, so the VPC's default group (which admits its own members) applies; give it a group without inbound rules`, instance.urn);
            }
            for (const { rule, groups: owners } of rules) {
                if (rule.direction !== "ingress") continue;
                for (const g of owners.filter(o => groups.includes(o))) {
                    const owner = resources.find(r => r.urn === rule.owner.urn)!;
                    const sources = [...rule.cidrs, ...rule.prefixLists, ...ruleSources(rule, owner, ofType(resources, T.securityGroup)).resolved.map(label)];
                    report(`${name}: its group ${label(g)} has an inbound rule (${label(owner)} ${rule.where}${sources.length ? ` from ${sources.join(", ")}` : ""}` +
                        `${coversPort(rule, 22) ? ", SSH included" : ""}); the relay needs none, remove it`, owner.urn);
                }
            }
        }
    },
};
