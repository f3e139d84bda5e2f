// Helpers shared by the policies: reading values that may be unknown at preview, following
// references between resources, working out the environment, and parsing IAM documents.
//
// At preview the engine hands a policy its props wrapped in @pulumi/policy's unknown-checking
// proxy: reading a property whose value is not known yet throws UnknownValueError, and the
// engine then downgrades the whole policy to an advisory "can't run during preview". Simple
// per-resource rules let that happen (it is honest: the value really is unknown). The
// cross-resource rules must not, so they read through `peek`, which looks at the proxy's target
// and reports an unknown as a value of its own, and then fall back to the dependency graph.
import { PolicyProviderResource, PolicyResource, ReportViolation } from "@pulumi/policy";

// The sentinels the engine uses for unknown values (@pulumi/policy's proxy.ts, marked internal so
// its typings are stripped). Loaded at runtime so the two can never drift apart.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const policyProxy: {
    unknownCheckingProxy<T>(value: T): T;
    UnknownValueError: new (sentinel: string, props: string[]) => Error;
    unknownBooleanValue: string;
    unknownNumberValue: string;
    unknownStringValue: string;
    unknownArrayValue: string;
    unknownAssetValue: string;
    unknownArchiveValue: string;
    unknownObjectValue: string;
} = require("@pulumi/policy/proxy");

export const unknownCheckingProxy = policyProxy.unknownCheckingProxy;
export const UnknownValueError = policyProxy.UnknownValueError;
/** The sentinel the engine sends for an unknown value of any type. */
export const UNKNOWN = policyProxy.unknownStringValue;

const sentinels = new Set<unknown>([
    policyProxy.unknownBooleanValue,
    policyProxy.unknownNumberValue,
    policyProxy.unknownStringValue,
    policyProxy.unknownArrayValue,
    policyProxy.unknownAssetValue,
    policyProxy.unknownArchiveValue,
    policyProxy.unknownObjectValue,
]);

/** Marker returned by `peek` for a value the engine does not know yet. */
export const Unknown: unique symbol = Symbol("unknown");
export type Peeked = typeof Unknown | unknown;

export function isUnknownSentinel(value: unknown): boolean {
    return sentinels.has(value);
}

/** The plain object behind one of @pulumi/policy's proxies (or the value itself). */
export function raw<T>(value: T): T {
    if (value !== null && typeof value === "object" && (value as any).__isSpecialProxy === true) {
        return (value as any).__getSpecialProxyTarget;
    }
    return value;
}

/**
 * Reads `path` from `obj` without tripping the unknown-checking proxy. Returns `Unknown` if any
 * step is unknown, `undefined` if a step is missing, else the plain value.
 */
export function peek(obj: unknown, ...path: (string | number)[]): Peeked {
    let current: unknown = raw(obj);
    for (const key of path) {
        if (isUnknownSentinel(current)) {
            return Unknown;
        }
        if (current === null || current === undefined || typeof current !== "object") {
            return undefined;
        }
        current = raw((current as any)[key]);
    }
    return isUnknownSentinel(current) ? Unknown : current;
}

/** True if the value, or anything inside it, is unknown. */
export function containsUnknown(value: unknown): boolean {
    const v = raw(value);
    if (isUnknownSentinel(v)) {
        return true;
    }
    if (Array.isArray(v)) {
        return v.some(containsUnknown);
    }
    if (v !== null && typeof v === "object") {
        return Object.values(v).some(containsUnknown);
    }
    return false;
}

/** A short, one-line rendering of a value for messages. */
export function show(value: unknown): string {
    if (value === Unknown || isUnknownSentinel(value)) {
        return "unknown until apply";
    }
    if (value === undefined) {
        return "unset";
    }
    const text = typeof value === "string" ? JSON.stringify(value) : JSON.stringify(raw(value));
    return text === undefined ? String(value) : text.length > 160 ? text.slice(0, 157) + "..." : text;
}

/** `aws:rds/proxy:Proxy "app-proxy"`: how every message names the resource. */
export function label(r: { type: string; name: string }): string {
    return `${r.type} "${r.name}"`;
}

/** Lists that may arrive as a single value, as undefined, or as an array. */
export function asList(value: unknown): unknown[] {
    const v = raw(value);
    if (v === undefined || v === null) {
        return [];
    }
    return Array.isArray(v) ? v.map(raw) : [v];
}

// ------------------------------------------------------------------------------------------------
// Environment
// ------------------------------------------------------------------------------------------------

export type Environment = "dev" | "prod";

export const environmentConfigSchema = {
    properties: {
        environment: {
            type: "string" as const,
            enum: ["dev", "prod"],
            description:
                "Which environment's rules apply. Defaults to the stack tag `Environment`, " +
                "then the aws provider's defaultTags `Environment`, then prod.",
        },
    },
};

/** dev-like names relax the prod-only rules; anything else, including nothing, counts as prod. */
export function normaliseEnvironment(value: unknown): Environment | undefined {
    if (typeof value !== "string" || value === "" || isUnknownSentinel(value)) {
        return undefined;
    }
    return /^(dev|development|test|testing|sandbox|local)$/i.test(value.trim()) ? "dev" : "prod";
}

/** Tags an aws provider applies to every resource it manages (`defaultTags.tags`). */
export function providerDefaultTags(provider: PolicyProviderResource | undefined): Record<string, string> {
    if (!provider || !provider.type.startsWith("pulumi:providers:aws")) {
        return {};
    }
    // The aws provider's generated SDK JSON-encodes object inputs, so under the engine and under
    // mocks `defaultTags` is a string; accept an object too in case that ever changes.
    let defaultTags = peek(provider.props, "defaultTags");
    if (typeof defaultTags === "string") {
        try {
            defaultTags = JSON.parse(defaultTags);
        } catch {
            return {};
        }
    }
    const tags = peek(defaultTags, "tags");
    if (tags === null || typeof tags !== "object") {
        return {};
    }
    const result: Record<string, string> = {};
    for (const [k, v] of Object.entries(tags as Record<string, unknown>)) {
        if (typeof v === "string" && !isUnknownSentinel(v)) {
            result[k] = v;
        }
    }
    return result;
}

interface EnvironmentSources {
    getConfig<T extends object>(): T;
    stackTags?: ReadonlyMap<string, string>;
}

/**
 * How a policy learns dev or prod, most explicit first: the policy's own config
 * (`--policy-pack-config`, or the runner's `environment`), the stack tag `Environment`, the
 * `Environment` default tag of the aws provider(s), the resource's own `Environment` tag. When
 * none is known the prod rules apply: a missing setting must not relax a control.
 */
export function environmentOf(
    args: EnvironmentSources,
    providers: (PolicyProviderResource | undefined)[],
    props?: Record<string, any>,
): Environment {
    const fromConfig = normaliseEnvironment((args.getConfig<{ environment?: string }>() || {}).environment);
    if (fromConfig) {
        return fromConfig;
    }
    const tags = args.stackTags;
    if (tags && typeof tags.get === "function") {
        const fromStackTag = normaliseEnvironment(tags.get("Environment") ?? tags.get("environment"));
        if (fromStackTag) {
            return fromStackTag;
        }
    }
    for (const provider of providers) {
        const fromProvider = normaliseEnvironment(providerDefaultTags(provider).Environment);
        if (fromProvider) {
            return fromProvider;
        }
    }
    const fromResourceTag = normaliseEnvironment(peek(props, "tags", "Environment"));
    return fromResourceTag ?? "prod";
}

/** Every distinct provider used in a stack, for stack policies. */
export function stackProviders(resources: PolicyResource[]): PolicyProviderResource[] {
    const seen = new Map<string, PolicyProviderResource>();
    for (const r of resources) {
        if (r.provider && !seen.has(r.provider.urn)) {
            seen.set(r.provider.urn, r.provider);
        }
    }
    for (const r of resources) {
        if (r.type.startsWith("pulumi:providers:") && !seen.has(r.urn)) {
            seen.set(r.urn, { type: r.type, urn: r.urn, name: r.name, props: r.props });
        }
    }
    return [...seen.values()];
}

// ------------------------------------------------------------------------------------------------
// References between resources
// ------------------------------------------------------------------------------------------------

/** The identifiers another resource may use to point at `target` (id, name, arn, ...). */
export function identifiersOf(target: PolicyResource, fields: string[] = ["id", "arn", "name"]): string[] {
    const ids: string[] = [];
    for (const field of fields) {
        const v = peek(target.props, field);
        if (typeof v === "string" && v !== "") {
            ids.push(v);
        }
    }
    return ids;
}

export type RefVerdict = "yes" | "no" | "unknown-yes" | "unknown-no";

/**
 * Does `value` (read from `source.props[prop]`) point at `target`? A known value is compared with
 * the target's identifiers. An unknown one is decided by the dependency graph: `propertyDependencies`
 * of that property names the target ("unknown-yes") or does not ("unknown-no").
 */
export function refersTo(source: PolicyResource, prop: string, value: Peeked, target: PolicyResource, fields?: string[]): RefVerdict {
    if (value === Unknown || containsUnknown(value)) {
        const deps = source.propertyDependencies?.[prop] ?? [];
        return deps.some((d) => d.urn === target.urn) ? "unknown-yes" : "unknown-no";
    }
    if (typeof value !== "string") {
        return "no";
    }
    return identifiersOf(target, fields).includes(value) ? "yes" : "no";
}

export function isYes(v: RefVerdict): boolean {
    return v === "yes" || v === "unknown-yes";
}

/** The resources of `candidates` that `source.props[prop]` (a string or list of strings) points at. */
export function resolveRefs(
    source: PolicyResource,
    prop: string,
    candidates: PolicyResource[],
    fields?: string[],
): { resolved: PolicyResource[]; unresolved: Peeked[] } {
    const value = peek(source.props, prop);
    const resolved: PolicyResource[] = [];
    const unresolved: Peeked[] = [];
    const items = value === Unknown ? [Unknown] : asList(value).map((v) => (isUnknownSentinel(v) ? Unknown : v));
    for (const item of items) {
        const hits = candidates.filter((c) => isYes(refersTo(source, prop, item, c, fields)));
        if (hits.length === 0) {
            unresolved.push(item);
        }
        for (const h of hits) {
            if (!resolved.includes(h)) {
                resolved.push(h);
            }
        }
    }
    return { resolved, unresolved };
}

export function ofType(resources: PolicyResource[], type: string): PolicyResource[] {
    return resources.filter((r) => r.type === type);
}

// ------------------------------------------------------------------------------------------------
// IAM policy documents
// ------------------------------------------------------------------------------------------------

export interface Statement {
    Effect?: string;
    Action?: string | string[];
    NotAction?: string | string[];
    Resource?: string | string[];
    NotResource?: string | string[];
    [key: string]: unknown;
}

/** Parses a policy document given as a JSON string or an object; undefined if unparsable. */
export function statementsOf(doc: unknown): Statement[] | undefined {
    let parsed: unknown = raw(doc);
    if (typeof parsed === "string") {
        try {
            parsed = JSON.parse(parsed);
        } catch {
            return undefined;
        }
    }
    if (parsed === null || typeof parsed !== "object") {
        return undefined;
    }
    return asList((parsed as { Statement?: unknown }).Statement) as Statement[];
}

export function strings(value: unknown): string[] {
    return asList(value).filter((v): v is string => typeof v === "string");
}

/** Does an IAM action pattern (with * and ?) match the action? Case-insensitive, as IAM is. */
export function actionMatches(pattern: string, action: string): boolean {
    const re = new RegExp(
        "^" +
            pattern
                .split("")
                .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
                .join("") +
            "$",
        "i",
    );
    return re.test(action);
}

export function grantsAction(statement: Statement, action: string): boolean {
    if ((statement.Effect ?? "Allow") !== "Allow") {
        return false;
    }
    if (statement.NotAction !== undefined) {
        return !strings(statement.NotAction).some((p) => actionMatches(p, action));
    }
    return strings(statement.Action).some((p) => actionMatches(p, action));
}

export interface DbUserArn {
    partition: string;
    region: string;
    account: string;
    resourceId: string;
    user: string;
}

const dbUserArnPattern = /^arn:([^:]*):rds-db:([^:]*):([^:]*):dbuser:([^/]*)\/(.*)$/;

export function parseDbUserArn(arn: string): DbUserArn | undefined {
    const m = dbUserArnPattern.exec(arn);
    if (!m) {
        return undefined;
    }
    return { partition: m[1], region: m[2], account: m[3], resourceId: m[4], user: m[5] };
}

/** What is wrong with an `rds-db:connect` resource, or undefined if it is fully specified. */
export function dbUserArnProblem(arn: string): string | undefined {
    const parsed = parseDbUserArn(arn);
    if (!parsed) {
        return "is not an arn:aws:rds-db:<region>:<account>:dbuser:<resource id>/<user> ARN";
    }
    const parts: [string, string, RegExp][] = [
        ["region", parsed.region, /^[a-z]{2}(-[a-z]+)+-\d$/],
        ["account", parsed.account, /^\d{12}$/],
        ["resource id", parsed.resourceId, /^(prx|cluster|db)-[A-Za-z0-9]+$/],
        ["user", parsed.user, /^[A-Za-z_][A-Za-z0-9_$.-]*$/],
    ];
    for (const [what, value, re] of parts) {
        if (/[*?]/.test(value)) {
            return `has a wildcard in its ${what} (${JSON.stringify(value)})`;
        }
        if (!re.test(value)) {
            return `has an invalid ${what} (${JSON.stringify(value)})`;
        }
    }
    return undefined;
}

/** A reportViolation that carries its own enforcement level (the engine honours the object form). */
export function reportAdvisory(report: ReportViolation, message: string, urn?: string): void {
    (report as unknown as (v: { message: string; urn?: string; enforcementLevel: "advisory" }) => void)({
        message,
        urn,
        enforcementLevel: "advisory",
    });
}
