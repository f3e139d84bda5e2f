// What the engine shows a policy at a stack's *first* `pulumi preview`, derived from a resolved
// evaluation (test/harness.ts records inputs, state and propertyDependencies). Nothing exists yet,
// so every value that comes from another resource is unknown, and so is every output the cloud
// would compute (ids, ARNs, endpoints). This is deliberately at least as pessimistic as the engine
// (which still knows outputs that merely echo a literal input), so a rule that holds here holds there.
import { PolicyResourceLike } from "./run";
import { UNKNOWN } from "./util";

/** `aws:rds/proxy:Proxy`, `random:index/randomPassword:RandomPassword`: custom resources have a module path. */
const CUSTOM_TOKEN = /^[^:]+:[^:]*\/[^:]*:[^:]+$/;

export function simulateFirstPreview(resources: PolicyResourceLike[]): PolicyResourceLike[] {
    const custom = new Set(resources.filter((r) => CUSTOM_TOKEN.test(r.type)).map((r) => r.urn));
    return resources.map((r) => {
        const deps = r.propertyDependencies ?? {};
        const inputs: Record<string, any> = {};
        for (const [key, value] of Object.entries(r.inputs ?? {})) {
            inputs[key] = (deps[key] ?? []).some((urn) => custom.has(urn)) ? UNKNOWN : clone(value);
        }
        const state: Record<string, any> = { ...inputs };
        for (const key of Object.keys(r.state ?? {})) {
            if (!(key in inputs)) {
                state[key] = UNKNOWN;
            }
        }
        state.id = UNKNOWN;
        return { ...r, id: undefined, inputs, state };
    });
}

function clone<T>(value: T): T {
    return value === undefined ? value : JSON.parse(JSON.stringify(value));
}
