// The tests' view of the mock cloud; `npm start` uses the same module to print the plan.
import { Settings } from "../components/config";
import { Evaluation, evaluateStack } from "../smoke/local/mock-cloud";

export * from "../smoke/local/mock-cloud";

export type StackEvaluation = Evaluation & { settings: Settings };

const evaluated: Partial<Record<"dev" | "prod", Promise<StackEvaluation>>> = {};

/** A stack with its real settings file, evaluated once per test run; callers must not modify it. */
export function stackAsDeclared(stack: "dev" | "prod"): Promise<StackEvaluation> {
    evaluated[stack] ??= evaluateStack(stack);
    return evaluated[stack]!;
}
