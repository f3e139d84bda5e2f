// IAM: identity policy documents and managed policy attachments.
import { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { asList, dbUserArnProblem, grantsAction, label, peek, show, Statement, statementsOf, strings, Unknown } from "../util";
import { T } from "./types";

/** A policy document held by a resource, with the property it came from. */
export interface HeldDocument {
    prop: string;
    where: string;
    document: unknown;
}

/** Identity policy documents a resource carries: inline JSON `policy`, or a role's inlinePolicies. */
export function documentsOf(r: { type: string; props: Record<string, any> }): HeldDocument[] {
    switch (r.type) {
        case T.rolePolicy:
        case T.iamPolicy:
        case T.userPolicy:
        case T.groupPolicy:
            return [{ prop: "policy", where: "policy", document: peek(r.props, "policy") }];
        case T.role: {
            const inline = peek(r.props, "inlinePolicies");
            if (inline === Unknown) {
                return [{ prop: "inlinePolicies", where: "inlinePolicies", document: Unknown }];
            }
            return asList(inline)
                .map((p, i) => ({ prop: "inlinePolicies", where: `inlinePolicies[${i}]`, document: peek(p, "policy") }))
                .filter((d) => d.document !== undefined && d.document !== "");
        }
        default:
            return [];
    }
}

const documentTypes: string[] = [T.rolePolicy, T.iamPolicy, T.userPolicy, T.groupPolicy, T.role];

/**
 * Per-resource IAM rules read the document through the engine's proxy on purpose: an unknown
 * document makes the engine report "can't run during preview"; the stack rule
 * `task-role-connect-scope` is the one that checks unknown documents through the dependency graph.
 */
function knownStatements(args: ResourceValidationArgs): { where: string; statements: Statement[] }[] {
    if (!documentTypes.includes(args.type)) {
        args.notApplicable("applies to IAM policy documents");
    }
    const result: { where: string; statements: Statement[] }[] = [];
    if (args.type === T.role) {
        const inline: { policy?: string }[] = args.props.inlinePolicies ?? [];
        inline.forEach((p, i) => {
            if (p.policy) {
                result.push({ where: `inlinePolicies[${i}]`, statements: statementsOf(p.policy) ?? [] });
            }
        });
    } else {
        // Reading through the proxy: throws UnknownValueError at preview when unknown.
        const policy = args.props.policy;
        result.push({ where: "policy", statements: statementsOf(policy) ?? [] });
    }
    return result;
}

export const iamNoWildcardAction: ResourceValidationPolicy = {
    name: "iam-no-wildcard-action",
    description: "No IAM policy allows every action (`*`, `*:*`, or Allow with NotAction).",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: (args, report) => {
        for (const { where, statements } of knownStatements(args)) {
            statements.forEach((s, i) => {
                if ((s.Effect ?? "Allow") !== "Allow") {
                    return;
                }
                const wildcard = strings(s.Action).filter((a) => a === "*" || a === "*:*");
                if (wildcard.length > 0) {
                    report(
                        `${label(args)}: ${where} Statement[${i}] allows Action ${show(wildcard.join(","))}; list the specific actions needed`,
                    );
                }
                if (s.NotAction !== undefined) {
                    report(
                        `${label(args)}: ${where} Statement[${i}] allows everything except NotAction ${show(s.NotAction)}; use an explicit Action list`,
                    );
                }
            });
        }
    },
};

export const iamRdsConnectScoped: ResourceValidationPolicy = {
    name: "iam-rds-connect-scoped",
    description:
        "rds-db:connect is granted only on fully specified arn:aws:rds-db:<region>:<account>:dbuser:<resource id>/<user> ARNs, no wildcards.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: (args, report) => {
        for (const { where, statements } of knownStatements(args)) {
            statements.forEach((s, i) => {
                if (!grantsAction(s, "rds-db:connect")) {
                    return;
                }
                if (s.NotResource !== undefined) {
                    report(
                        `${label(args)}: ${where} Statement[${i}] grants rds-db:connect on NotResource ${show(s.NotResource)}; ` +
                            "name each dbuser ARN in Resource",
                    );
                    return;
                }
                for (const resource of strings(s.Resource)) {
                    const problem = dbUserArnProblem(resource);
                    if (problem) {
                        report(
                            `${label(args)}: ${where} Statement[${i}] grants rds-db:connect on ${show(resource)}, which ${problem}; ` +
                                "grant arn:aws:rds-db:<region>:<account>:dbuser:<proxy resource id>/<user> exactly",
                        );
                    }
                }
            });
        }
    },
};

/** AWS-managed policies that give far more than a database client or proxy needs. */
const BROAD_MANAGED_POLICY =
    /^arn:aws[a-z-]*:iam::aws:policy\/(?:job-function\/)?(AdministratorAccess|PowerUserAccess|IAMFullAccess|[A-Za-z0-9]*FullAccess)$/;

export const iamNoAdminManagedPolicies: ResourceValidationPolicy = {
    name: "iam-no-admin-managed-policies",
    description: "No role gets AdministratorAccess, PowerUserAccess, IAMFullAccess or another AWS *FullAccess policy.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: (args, report) => {
        if (args.type === T.rolePolicyAttachment) {
            const arn = args.props.policyArn;
            if (typeof arn === "string" && BROAD_MANAGED_POLICY.test(arn)) {
                report(`${label(args)}: attaches ${arn}; attach a least-privilege policy instead`);
            }
        } else if (args.type === T.role) {
            for (const arn of strings(args.props.managedPolicyArns)) {
                if (BROAD_MANAGED_POLICY.test(arn)) {
                    report(`${label(args)}: managedPolicyArns includes ${arn}; attach a least-privilege policy instead`);
                }
            }
        } else {
            args.notApplicable("applies to roles and role policy attachments");
        }
    },
};

/** Does any statement of the (known) documents grant the action? */
export function documentsGrant(docs: HeldDocument[], action: string): boolean {
    return docs.some((d) => (statementsOf(d.document) ?? []).some((s) => grantsAction(s, action)));
}

/** Does a statement's Principal allow anyone (`*`, or `{ AWS: "*" }`)? */
function anyPrincipal(principal: unknown): boolean {
    if (principal === "*") {
        return true;
    }
    if (principal !== null && typeof principal === "object") {
        return Object.values(principal as Record<string, unknown>).some((v) => strings(v).includes("*"));
    }
    return false;
}

export const noWildcardPrincipal: ResourceValidationPolicy = {
    name: "no-wildcard-principal",
    description: "Role trust policies and KMS key policies never allow every principal (`*`) without a condition.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: (args, report) => {
        const field = args.type === T.role ? "assumeRolePolicy" : args.type === T.kmsKey ? "policy" : undefined;
        if (!field) {
            args.notApplicable("applies to role trust policies and KMS key policies");
        }
        const document = args.props[field!];
        if (document === undefined) {
            return;
        }
        (statementsOf(document) ?? []).forEach((s, i) => {
            if (
                (s.Effect ?? "Allow") === "Allow" &&
                (anyPrincipal(s.Principal) || s.NotPrincipal !== undefined) &&
                s.Condition === undefined
            ) {
                report(
                    `${label(args)}: ${field} Statement[${i}] allows Principal ${show(s.Principal ?? { NotPrincipal: s.NotPrincipal })} with no Condition; ` +
                        "name the service or account principal (and add aws:SourceAccount for services)",
                );
            }
        });
    },
};
