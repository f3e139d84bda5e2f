// The tests' view of the mock cloud; `npm start` uses the same module to print the plan.
import { Settings } from "../components/config";
import { Evaluation, evaluateStack, MockResource } from "../local/mock-cloud";
import { mandatory, runPolicies } from "../policy/run";

export * from "../local/mock-cloud";

export type StackEvaluation = Evaluation & { settings: Settings };

const evaluated: Partial<Record<"dev" | "prod", Promise<StackEvaluation>>> = {};

/** A stack with its real settings file, evaluated once per test run; callers must not modify it. */
export function stackAsDeclared(stack: "dev" | "prod"): Promise<StackEvaluation> {
    evaluated[stack] ??= evaluateStack(stack);
    return evaluated[stack]!;
}

/**
 * Both stacks as declared, for a describe block: evaluated (once per run) before its tests, read through
 * the getters inside them.
 */
export function bothStacksAsDeclared(): { dev: () => StackEvaluation; prod: () => StackEvaluation; both: () => StackEvaluation[] } {
    const got: Partial<Record<"dev" | "prod", StackEvaluation>> = {};
    before(async () => {
        got.dev = await stackAsDeclared("dev");
        got.prod = await stackAsDeclared("prod");
    });
    return { dev: () => got.dev!, prod: () => got.prod!, both: () => [got.dev!, got.prod!] };
}

/** A role's inline policies (aws.iam.RolePolicy resources naming the role's id). */
export function inlinePoliciesOf(ev: Evaluation, role: MockResource): MockResource[] {
    return ev.ofType("aws:iam/rolePolicy:RolePolicy").filter((p) => p.inputs.role === role.id);
}

/** Every statement of a role's inline policies. */
export function inlineStatementsOf(ev: Evaluation, role: MockResource): any[] {
    return inlinePoliciesOf(ev, role).flatMap((p) => JSON.parse(p.inputs.policy).Statement);
}

/** The managed policy ARNs attached to a role. */
export function attachedPolicyArnsOf(ev: Evaluation, role: MockResource): string[] {
    return ev
        .ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        .filter((a) => a.inputs.role === role.state.name)
        .map((a) => a.inputs.policyArn);
}

/**
 * The policy pack's mandatory violations of a program as dev, one "policy: message" line each. `existingVpc`: the
 * program brings its own VPC, whose subnets the pack then accepts (rds-proxy-private-subnets allowExternalSubnets).
 */
export function mandatoryViolationLines(resources: MockResource[], o: { existingVpc?: boolean } = {}): string[] {
    const config = o.existingVpc ? ({ "rds-proxy-private-subnets": { allowExternalSubnets: true } } as never) : undefined;
    return mandatory(runPolicies(resources, { environment: "dev", ...(config ? { config } : {}) })).map(
        (v) => `${v.policyName}: ${v.message}`,
    );
}
