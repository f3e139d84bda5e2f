// Runs the pack's policies outside the Pulumi engine, over resources recorded by the test harness
// (or any list in the same shape), the way the engine's analyzer host would:
// - resource policies see each resource's inputs; stack policies see every resource's outputs
//   (state), with parent, dependencies and propertyDependencies linked as resource objects;
// - props are wrapped in @pulumi/policy's own unknown-checking proxy, so a policy reading a value
//   that is unknown (at preview) is reported as "can't run during preview" at advisory level, as the
//   engine does, and never silently passes;
// - enforcement levels and per-policy config follow the engine's precedence (pack config, then the
//   policy's own level); `notApplicable` skips a policy for that resource.
import * as pulumi from "@pulumi/pulumi";
import {
    EnforcementLevel,
    Policies,
    PolicyPackConfig,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidation,
    ResourceValidationArgs,
    StackValidationArgs,
} from "@pulumi/policy";
import { PACK_NAME, PACK_VERSION, policies as packPolicies } from "./policies";
import { Environment, UNKNOWN, unknownCheckingProxy, UnknownValueError } from "./util";

/** A resource as the test harness records it (test/harness.ts MockResource has this shape). */
export interface PolicyResourceLike {
    type: string;
    name: string;
    urn: string;
    id?: string;
    /** Resolved inputs; may contain `UNKNOWN` (or pulumi's unknown) where a value is unknown at preview. */
    inputs: Record<string, any>;
    /** Outputs (inputs plus what the provider returned); defaults to inputs. */
    state?: Record<string, any>;
    /** Provider reference, `<provider urn>::<provider id>`, or the provider's urn. */
    provider?: string;
    parent?: string;
    dependencies?: string[];
    propertyDependencies?: Record<string, string[]>;
    opts?: Partial<PolicyResourceOptions>;
}

export interface Violation {
    policyName: string;
    enforcementLevel: EnforcementLevel;
    message: string;
    urn?: string;
}

export interface RunOptions {
    /**
     * Which environment's rules apply, given to every policy as its `environment` config. Omit it to
     * let the policies work it out as under the engine (stack tag, aws provider defaultTags, else prod).
     */
    environment?: Environment;
    /** The engine's `--policy-pack-config`: per policy, an enforcement level or `{ enforcementLevel, ...props }`. */
    config?: PolicyPackConfig;
    /** Stack tags, as the engine passes them. */
    stackTags?: Record<string, string>;
    /** Defaults to the pack's policies. */
    policies?: Policies;
    /** The pack's default level (PolicyPackArgs.enforcementLevel). */
    defaultEnforcementLevel?: EnforcementLevel;
}

class NotApplicable extends Error {}

const emptyOptions: PolicyResourceOptions = {
    protect: false,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
};

/** Turns pulumi's runtime unknowns (preview under mocks) into the sentinel the engine sends. */
function normalise(value: unknown): unknown {
    if (pulumi.isUnknown(value)) {
        return UNKNOWN;
    }
    if (Array.isArray(value)) {
        return value.map(normalise);
    }
    if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) {
            // The engine treats properties with undefined values as absent.
            if (v !== undefined) {
                out[k] = normalise(v);
            }
        }
        return out;
    }
    return value;
}

function pulumiTypeOf(cls: unknown): string | undefined {
    const t = (cls as { __pulumiType?: unknown } | undefined)?.__pulumiType;
    return typeof t === "string" && t.length > 0 ? t : undefined;
}

function isTypeOf(type: string, cls: unknown): boolean {
    const token = pulumiTypeOf(cls);
    if (token) {
        return token === type;
    }
    const isInstance = (cls as { isInstance?: (o: unknown) => boolean }).isInstance;
    return typeof isInstance === "function" && isInstance({ __pulumiType: type }) === true;
}

function providerUrn(ref: string | undefined): string | undefined {
    if (!ref) {
        return undefined;
    }
    // A provider reference is `<urn>::<id>`; URNs themselves contain "::", so cut at the last one.
    return ref.startsWith("urn:") && ref.split("::").length > 4 ? ref.slice(0, ref.lastIndexOf("::")) : ref;
}

function levelOf(policyName: string, own: EnforcementLevel | undefined, opts: RunOptions): EnforcementLevel {
    const c = opts.config?.[policyName];
    const configured = typeof c === "string" ? c : c?.enforcementLevel;
    return configured ?? own ?? opts.defaultEnforcementLevel ?? "advisory";
}

function configOf(policyName: string, opts: RunOptions): Record<string, unknown> {
    const c = opts.config?.[policyName];
    const props = typeof c === "object" && c !== null ? { ...c } : {};
    delete (props as { enforcementLevel?: unknown }).enforcementLevel;
    return { ...(opts.environment ? { environment: opts.environment } : {}), ...props };
}

function freezeTags(tags: Record<string, string> = {}): ReadonlyMap<string, string> {
    return new Map(Object.entries(tags));
}

/**
 * Runs every policy over `resources` and returns the violations, mandatory and advisory alike.
 * Synchronous because every policy of this pack is; a policy returning a promise is an error.
 */
export function runPolicies(resources: PolicyResourceLike[], opts: RunOptions): Violation[] {
    const policies = opts.policies ?? packPolicies;
    const violations: Violation[] = [];
    const stackTags = freezeTags(opts.stackTags);
    const byUrn = new Map(resources.map((r) => [r.urn, r]));

    const providerOf = (r: PolicyResourceLike): PolicyProviderResource | undefined => {
        const p = byUrn.get(providerUrn(r.provider) ?? "");
        return p
            ? { type: p.type, urn: p.urn, name: p.name, props: unknownCheckingProxy(normalise(p.inputs) as Record<string, any>) }
            : undefined;
    };

    const reporter = (policyName: string, level: EnforcementLevel, defaultUrn?: string): ReportViolation =>
        ((message: unknown, urn?: string) => {
            if (message !== null && typeof message === "object") {
                const m = message as { message?: string; urn?: string; enforcementLevel?: EnforcementLevel };
                violations.push({
                    policyName,
                    enforcementLevel: m.enforcementLevel ?? level,
                    message: String(m.message ?? ""),
                    urn: m.urn ?? defaultUrn,
                });
            } else {
                violations.push({ policyName, enforcementLevel: level, message: String(message ?? ""), urn: urn ?? defaultUrn });
            }
        }) as ReportViolation;

    const settle = (policyName: string, run: () => unknown, urn?: string) => {
        try {
            const result = run();
            if (result && typeof (result as Promise<unknown>).then === "function") {
                throw new Error(`policy ${policyName} returned a promise; runPolicies runs synchronous policies only`);
            }
        } catch (e) {
            if (e instanceof NotApplicable) {
                return;
            }
            if (e instanceof UnknownValueError) {
                // What the engine does: the policy can't judge an unknown value, so it is downgraded.
                violations.push({
                    policyName,
                    enforcementLevel: "advisory",
                    urn,
                    message: `can't run policy '${policyName}' from policy pack '${PACK_NAME}@v${PACK_VERSION}' during preview: ${(e as Error).message}`,
                });
                return;
            }
            throw e;
        }
    };

    const notApplicable = (reason?: string): never => {
        throw new NotApplicable(reason);
    };

    // Resource policies: each resource's inputs, one at a time.
    for (const policy of policies) {
        const level = levelOf(policy.name, policy.enforcementLevel, opts);
        if (level === "disabled" || !("validateResource" in policy) || !policy.validateResource) {
            continue;
        }
        const validations: ResourceValidation[] = Array.isArray(policy.validateResource)
            ? policy.validateResource
            : [policy.validateResource];
        const reported: EnforcementLevel = level === "remediate" ? "mandatory" : level;
        for (const r of resources) {
            for (const validation of validations) {
                const token = pulumiTypeOf(validation);
                if (token && token !== r.type) {
                    continue;
                }
                const props = unknownCheckingProxy(normalise(r.inputs ?? {}) as Record<string, any>);
                const args: ResourceValidationArgs = {
                    type: r.type,
                    props,
                    urn: r.urn,
                    name: r.name,
                    opts: { ...emptyOptions, ...(r.parent ? { parent: r.parent } : {}), ...r.opts },
                    provider: providerOf(r),
                    stackTags,
                    isType: (cls) => isTypeOf(r.type, cls),
                    asType: ((cls) => (isTypeOf(r.type, cls) ? props : undefined)) as ResourceValidationArgs["asType"],
                    getConfig: <T extends object>() => configOf(policy.name, opts) as T,
                    notApplicable,
                };
                settle(policy.name, () => validation(args, reporter(policy.name, reported, r.urn)), r.urn);
            }
        }
    }

    // Stack policies: every resource's outputs, linked into a graph.
    const stackResources = new Map<string, PolicyResource>();
    for (const r of resources) {
        const state = { ...(r.state ?? r.inputs ?? {}) };
        if (state.id === undefined && r.id) {
            state.id = r.id;
        }
        const props = unknownCheckingProxy(normalise(state) as Record<string, any>);
        stackResources.set(r.urn, {
            type: r.type,
            props,
            urn: r.urn,
            name: r.name,
            opts: { ...emptyOptions, ...(r.parent ? { parent: r.parent } : {}), ...r.opts },
            provider: providerOf(r),
            dependencies: [],
            propertyDependencies: {},
            isType: (cls) => isTypeOf(r.type, cls),
            asType: ((cls) => (isTypeOf(r.type, cls) ? props : undefined)) as PolicyResource["asType"],
        });
    }
    const link = (urns: string[] | undefined) => (urns ?? []).map((u) => stackResources.get(u)).filter((x): x is PolicyResource => !!x);
    for (const r of resources) {
        const pr = stackResources.get(r.urn)!;
        pr.parent = r.parent ? stackResources.get(r.parent) : undefined;
        pr.dependencies = link(r.dependencies);
        for (const [k, urns] of Object.entries(r.propertyDependencies ?? {})) {
            pr.propertyDependencies[k] = link(urns);
        }
    }
    const all = [...stackResources.values()];
    for (const policy of policies) {
        const level = levelOf(policy.name, policy.enforcementLevel, opts);
        if (level === "disabled" || !("validateStack" in policy) || typeof policy.validateStack !== "function") {
            continue;
        }
        const token = pulumiTypeOf(policy.validateStack);
        if (token && !all.some((r) => r.type === token)) {
            continue;
        }
        const args: StackValidationArgs = {
            resources: all,
            stackTags,
            getConfig: <T extends object>() => configOf(policy.name, opts) as T,
            notApplicable,
        };
        const validateStack = policy.validateStack;
        settle(policy.name, () => validateStack(args, reporter(policy.name, level === "remediate" ? "mandatory" : level)));
    }
    return violations;
}

/** Violations that would fail `pulumi preview`/`up`. */
export function mandatory(violations: Violation[]): Violation[] {
    return violations.filter((v) => v.enforcementLevel === "mandatory");
}

/** One line per violation, mandatory first, for printing next to a plan. */
export function formatViolations(violations: Violation[]): string[] {
    const order: Record<string, number> = { mandatory: 0, remediate: 1, advisory: 2, disabled: 3 };
    return [...violations]
        .sort((a, b) => order[a.enforcementLevel] - order[b.enforcementLevel] || a.policyName.localeCompare(b.policyName))
        .map((v) => `[${v.enforcementLevel}] ${v.policyName}: ${v.message}`);
}

/** A short block for printing next to a plan: a summary line, then one line per violation. */
export function verdictReport(violations: Violation[], title = PACK_NAME): string[] {
    const count = (level: EnforcementLevel) => violations.filter((v) => v.enforcementLevel === level).length;
    const verdict = count("mandatory") > 0 ? "FAIL" : "pass";
    return [
        `policy pack ${title}: ${verdict} (${count("mandatory")} mandatory, ${count("advisory")} advisory)`,
        ...formatViolations(violations).map((line) => `  ${line}`),
    ];
}
