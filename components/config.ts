// The stack's settings, read once, validated completely, and handed to the components as a typed object.
// No component reads pulumi.Config itself. Every invalid value is reported on its own line naming the
// stack, the key, the value seen and what is allowed, and the program stops before declaring anything.
import { DbUser, SMOKE_OTHER_USER, toUsers, usersProblems } from "../access/users";
import type { AuroraIamProxyArgs } from "./args";
import { AuthMode, DEFAULT_MASTER_USERNAME } from "../access/spec";
import { adoptSettingsProblems, AdoptSettings } from "./adopt";
import { AURORA_POSTGRESQL_CLASSES, classesFor, SERVERLESS_CLASS } from "./aurora-classes";
import { BootstrapPath, bootstrapPathFor } from "./bootstrap-path";
import { closest, descriptionProblem, isPrivateIpv4, parseImageReference, parseIpv4Cidr, pgIdentifierProblem } from "./validation";
import { SECURITY_GROUP_ID } from "../smoke/aws-ids";

export const PROJECT = "aurora-iam-proxy";

export type Environment = "dev" | "prod";

export interface NetworkSettings {
    /** The VPC's IPv4 block, /16 to /22, inside RFC 1918. */
    cidr: string;
    /** Availability zones to spread subnets over (2 to 4). */
    azCount: number;
    /** "single" NAT gateway (dev) or one "perAz" (prod); derived from the environment. */
    natGateways: "single" | "perAz";
    /** VPC flow logs; always on in prod. */
    flowLogs: boolean;
    flowLogRetentionDays: number;
}

/** A cluster that exists already (database.existingCluster): fronted, read at preview time, never modified. */
export interface ExistingClusterSettings {
    identifier: string;
    /** The master credentials' secret, when RDS does not manage them; otherwise the cluster's RDS-managed secret. */
    masterSecretArn?: string;
    /** The cluster security group that gets the one ingress rule; otherwise the cluster's only group. */
    securityGroupId?: string;
}

export interface DatabaseSettings {
    /** The application database: created by Aurora, or on an existing cluster the one the application uses. */
    name: string;
    /** The application's database role, authenticated with IAM tokens; never the master user. */
    user: string;
    /**
     * The master user; its password is managed by RDS in Secrets Manager and is never seen here. Empty with an
     * existing cluster, whose own master user is read at preview time.
     */
    masterUsername: string;
    /** Set when the component fronts a cluster that exists instead of creating one (the settings below then don't apply). */
    existingCluster?: ExistingClusterSettings;
    /** As written: a major ("16") or a preferred MAJOR.MINOR ("16.8"). */
    engineVersion: string;
    /** The PostgreSQL major version, e.g. 16, which picks the parameter-group family. */
    engineMajor: number;
    /**
     * MAJOR.MINOR versions to use if AWS still offers them, first match wins; otherwise the newest of the
     * major, resolved at deploy time. Existing clusters keep the version they run.
     */
    preferredEngineVersions: string[];
    /**
     * The instances' class: "db.serverless" (Aurora Serverless v2, the default; capacity from min/maxCapacity)
     * or a provisioned class Aurora PostgreSQL offers for engineMajor (components/aurora-classes.ts).
     */
    instanceClass: string;
    /** Serverless v2 only (instanceClass "db.serverless"): ACU range of each instance. */
    minCapacity: number;
    maxCapacity: number;
    instanceCount: number;
    backupRetentionDays: number;
    deletionProtection: boolean;
    performanceInsights: boolean;
    /** Enhanced Monitoring granularity in seconds; 0 turns it off. */
    monitoringIntervalSeconds: number;
    logRetentionDays: number;
    /** A cluster the team already runs, imported and protected instead of a new one (docs/adopt-existing-cluster.md). */
    adopt?: AdoptSettings;
    /**
     * Where the post-deploy bootstrap runs its SQL (components/bootstrap-path.ts): "data-api" (the RDS Data API, the
     * cluster's HTTP endpoint on), or "vpc" (in the private subnets, connecting to the writer over verified TLS) where
     * the Data API cannot serve the cluster (a T-class writer, an older engine version) and in front of an existing cluster.
     */
    bootstrapPath: BootstrapPath;
}

export interface ProxySettings {
    /** "iam": end-to-end IAM (proxy to database too, no password exists); "secrets": a per-user secret. */
    authMode: AuthMode;
    maxConnectionsPercent: number;
    maxIdleConnectionsPercent: number;
    connectionBorrowTimeoutSeconds: number;
    idleClientTimeoutSeconds: number;
    debugLogging: boolean;
}

export interface AppSettings {
    image: string;
    /** Overrides the image's command; unset keeps the image's own. */
    command?: string[];
    /**
     * true when app.image is unset (dev only): a public Node image that only stays up, so a stack without a built
     * image still deploys. It serves no /health/db, so its task definition carries no container health check.
     */
    placeholder: boolean;
    cpu: number;
    memory: number;
    desiredCount: number;
    readonlyRootFilesystem: boolean;
    logRetentionDays: number;
}

/**
 * What a dev stack runs until the deploy workflow has built and set the application image: a pinned public
 * Node image that stays up and connects to nothing. The plan `npm start` prints says so.
 */
export const PLACEHOLDER_APP = {
    image: "public.ecr.aws/docker/library/node:20.18.1-alpine3.20",
    command: ["node", "-e", "setInterval(() => {}, 1 << 30)"],
};

export interface SmokeSettings {
    /** Run the bootstrap and the smoke runner inside the VPC after every update. Turning it off is discouraged. */
    enabled: boolean;
    timeoutSeconds: number;
    /** Any new value re-runs the bootstrap and the smoke on the next `pulumi up`, with no other change. */
    rerun: string;
    /** Between deploys: `rate(N minutes)` etc. for EventBridge Scheduler, or undefined when off. */
    schedule?: { expression: string; intervalSeconds: number };
    /** The smoke's warning rows (an existing cluster's risks it can't fix) fail the post-deploy smoke. */
    warningsFail: boolean;
}

export interface AlarmSettings {
    /**
     * Who hears about an alarm: SNS subscriptions on the stack's encrypted topic. Default: none (an e-mail
     * address must confirm within 48 hours, or SNS deletes the subscription). `sqs` is refused: see docs/alarms.md.
     */
    subscriptions: Array<{ protocol: "email" | "https" | "lambda"; endpoint: string }>;
    /** Alarm when the proxy's certificate expires within this many days. */
    certExpiryDays: number;
}

export interface AccessSettings {
    /** Every database user of the stack, with its access profile and the endpoint it is meant for. */
    users: DbUser[];
    /** The users the ECS task role may connect as (default: every readwrite and readonly user; ddl only if named). */
    ecsTaskUsers: string[];
    /** The user the application connects as by default (DB_USER): database.user, a readwrite user. */
    appUser: string;
    /** True when a user is meant for the reader endpoint: the stack then declares a READ_ONLY proxy endpoint. */
    readerEndpoint: boolean;
}

export interface OperatorSettings {
    /** A Session Manager relay and an operator role, so people can reach the VPC-only proxy (default true). */
    enabled: boolean;
    /**
     * IAM role or user ARNs that may assume the operator role (e.g. SSO permission-set roles). Empty: the
     * account itself (its root ARN), so only principals of this account whose own policy allows
     * sts:AssumeRole on the operator role get in.
     */
    principals: string[];
    /**
     * The database users operators may connect as (default: the readonly and ddl users of access.users; none
     * when there are none, and then the operator role may open the tunnel but connect as nobody).
     */
    users: string[];
    /**
     * true: the relay follows AWS's latest Amazon Linux 2023 AMI, so `pulumi up` replaces it when a newer one
     * is published; set it for one `pulumi up` to roll a new AMI on purpose. Default false: the relay keeps
     * its AMI (dnf-automatic patches it daily). See docs/operator-access.md.
     */
    followLatestAmi: boolean;
}

export interface BudgetSettings {
    /** The stack's monthly budget in USD; the cost policy compares the plan's expected cost with it. */
    monthlyUsd?: number;
    /** true: a plan over budget fails (mandatory); false (default): it is reported (advisory). */
    enforce: boolean;
}

export interface Tags {
    Environment: string;
    Application: string;
    Owner: string;
    CostCenter: string;
}

export interface Settings {
    /** AuroraIamProxy's Args as the stack file gives them (its sections without app, access.ecsTask and budget). */
    args: AuroraIamProxyArgs;
    stack: string;
    environment: Environment;
    region: string;
    /** Short lower-case prefix for physical names, e.g. "orders-dev". */
    namePrefix: string;
    tags: Tags;
    network: NetworkSettings;
    database: DatabaseSettings;
    proxy: ProxySettings;
    app: AppSettings;
    smoke: SmokeSettings;
    access: AccessSettings;
    operator: OperatorSettings;
    budget: BudgetSettings;
    alarms: AlarmSettings;
}

/** Raised for invalid settings; `problems` holds one line per invalid value. */
export class SettingsError extends Error {
    constructor(readonly problems: string[]) {
        super(problems.join("\n"));
        this.name = "SettingsError";
    }
}

/** CloudWatch Logs' allowed retention values, in days. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/** Fargate's allowed memory (MiB) for each CPU size (units). */
const FARGATE_MEMORY: Record<number, number[]> = {
    256: [512, 1024, 2048],
    512: range(1024, 4096, 1024),
    1024: range(2048, 8192, 1024),
    2048: range(4096, 16384, 1024),
    4096: range(8192, 30720, 1024),
    8192: range(16384, 61440, 4096),
    16384: range(32768, 122880, 8192),
};

function range(from: number, to: number, step: number): number[] {
    const out: number[] = [];
    for (let v = from; v <= to; v += step) out.push(v);
    return out;
}

/** The keys each settings object may hold; anything else is a typo we report rather than ignore. */
const KEYS = {
    network: ["existingVpc", "cidr", "azCount", "flowLogs", "flowLogRetentionDays"],
    database: [
        "name",
        "user",
        "masterUsername",
        "engineVersion",
        "preferredEngineVersions",
        "instanceClass",
        "minCapacity",
        "maxCapacity",
        "instanceCount",
        "backupRetentionDays",
        "deletionProtection",
        "performanceInsights",
        "monitoringIntervalSeconds",
        "logRetentionDays",
        "existingCluster",
        "adopt",
    ],
    proxy: [
        "authMode",
        "maxConnectionsPercent",
        "maxIdleConnectionsPercent",
        "connectionBorrowTimeoutSeconds",
        "idleClientTimeoutSeconds",
        "debugLogging",
    ],
    app: ["image", "command", "cpu", "memory", "desiredCount", "readonlyRootFilesystem", "logRetentionDays"],
    tags: ["Application", "Owner", "CostCenter"],
    smoke: ["enabled", "timeoutSeconds", "rerun", "schedule", "warningsFail"],
    alarms: ["subscriptions", "certExpiryDays"],
    access: ["users", "clientSecurityGroupIds", "ecsTask"],
    operator: ["enabled", "principals", "users", "followLatestAmi"],
    budget: ["monthlyUsd", "enforce"],
} as const;
const TOP_KEYS = ["environment", "environmentMismatchAllowed", "name", ...Object.keys(KEYS)];
/**
 * Settings of this repository's program only (the example ECS consumer, the budget, and what the stack's name
 * says about its environment), not arguments of AuroraIamProxy.
 */
const PROGRAM_ONLY_KEYS = ["app", "budget", "access.ecsTask", "environmentMismatchAllowed"];
const COMPONENT_KEYS = TOP_KEYS.filter((k) => !PROGRAM_ONLY_KEYS.includes(k));

/**
 * Every key a stack file may set, dotted (`database.maxCapacity`): the component's (which test/settings-table.test.ts
 * checks against AuroraIamProxy's schema, key for key) and, with `program`, this repository's own.
 */
export function settingKeys(o: { program: boolean }): string[] {
    const keys = [
        ...TOP_KEYS.filter((k) => !(k in KEYS)),
        ...Object.entries(KEYS).flatMap(([section, names]) => names.map((n) => `${section}.${n}`)),
    ];
    const programOnly = (k: string) => PROGRAM_ONLY_KEYS.some((p) => k === p || k.startsWith(`${p}.`));
    return keys.filter((k) => programOnly(k) === o.program);
}

/**
 * The config namespaces this program reads: its own, the AWS provider's (aws:region and the provider's other
 * settings) and Pulumi's own (e.g. pulumi:tags). The random provider has no configuration. A key in any other
 * namespace is a typo that would otherwise be ignored, and a whole section would silently fall back to defaults.
 */
export const CONFIG_NAMESPACES: readonly string[] = [PROJECT, "aws", "pulumi"];

/** The stack-name words that say which environment a stack is; a stack named otherwise (e.g. staging) says nothing. */
const ENVIRONMENT_WORDS: Record<string, Environment> = { dev: "dev", development: "dev", prod: "prod", production: "prod" };

/** The environment a stack's name implies (dev, prod-eu, orders-production, ...), or undefined when it implies none or both. */
export function environmentNamedBy(stack: string): Environment | undefined {
    const named = new Set(
        stack
            .toLowerCase()
            .split(/[^a-z0-9]+/)
            .map((w) => ENVIRONMENT_WORDS[w])
            .filter((e) => e !== undefined),
    );
    return named.size === 1 ? [...named][0] : undefined;
}

/** "; did you mean X?" for a likely typo, or "". */
function didYouMean(word: string, candidates: readonly string[]): string {
    const match = closest(word, candidates);
    return match && match !== word ? `; did you mean ${match}?` : "";
}

/**
 * Parses a stack's configuration: the flat map Pulumi keeps (`"aurora-iam-proxy:database"` → object or
 * JSON string, `"aws:region"` → string). Throws SettingsError listing every invalid value.
 *
 * The stack file's sections are AuroraIamProxy's Args key for key (components/aurora-iam-proxy.ts), plus what
 * only this repository's program has: `app` and `access.ecsTask` (the example ECS consumer) and `budget`.
 */
export function parseSettings(stack: string, config: Record<string, unknown>): Settings {
    const problems: string[] = [];
    const ours: Record<string, unknown> = {};
    const ourKeys = TOP_KEYS.map((k) => `${PROJECT}:${k}`);
    for (const [fullKey, value] of Object.entries(config)) {
        const [ns, key] = splitKey(fullKey);
        if (!CONFIG_NAMESPACES.includes(ns)) {
            // The key, not its value: a misspelled section's whole object would not fit on one line.
            const section = ns.startsWith(`${PROJECT}-`) ? ns.slice(PROJECT.length + 1) : key;
            const namespace = closest(ns, CONFIG_NAMESPACES);
            const suggestion =
                didYouMean(fullKey, [...ourKeys, "aws:region"]) ||
                (TOP_KEYS.includes(section) ? `; did you mean ${PROJECT}:${section}?` : "") ||
                (namespace ? `; did you mean ${namespace}:${key}?` : "");
            problems.push(
                `${stack}: config key ${fullKey} ${ns ? `is in namespace ${ns}, which` : "has no namespace; it"} is not read by this program ` +
                    `(allowed namespaces: ${CONFIG_NAMESPACES.join(", ")})${suggestion}`,
            );
            continue;
        }
        if (ns !== PROJECT) continue;
        if (!TOP_KEYS.includes(key)) {
            problems.push(
                `${stack}: ${fullKey} (${show(value)}) is not a setting of this program; allowed: ${TOP_KEYS.join(", ")}${didYouMean(fullKey, ourKeys)}`,
            );
            continue;
        }
        ours[key] = decode(value);
    }
    const settings = resolve(stack, ours, config["aws:region"], { program: true, problems }) as Omit<Settings, "args">;
    return { ...settings, args: componentArgsOf(ours, settings) };
}

/** The stack file's sections as AuroraIamProxy's Args: the same keys, less the program's own. */
function componentArgsOf(ours: Record<string, unknown>, settings: { environment: Environment; region: string }): AuroraIamProxyArgs {
    const args: Record<string, unknown> = { environment: settings.environment, region: settings.region };
    for (const [key, value] of Object.entries(ours)) {
        if (PROGRAM_ONLY_KEYS.includes(key)) continue;
        // A section keeps its keys but the program's own (access.ecsTask); a scalar (environment, name) is copied.
        args[key] =
            value !== null && typeof value === "object" && !Array.isArray(value)
                ? Object.fromEntries(Object.entries(value).filter(([k]) => !PROGRAM_ONLY_KEYS.includes(`${key}.${k}`)))
                : value;
    }
    return args as unknown as AuroraIamProxyArgs;
}

/** What AuroraIamProxy declares from: the settings without the example consumer's `app` and the `budget`. */
export type ComponentSettings = Omit<Settings, "app" | "budget" | "args">;

/**
 * Validates AuroraIamProxy's Args with the same rules, presets and one-line messages as a stack file, and
 * applies the defaults. Values that are computed (Inputs such as an existing VPC's subnet ids) pass through
 * and are checked when they are known.
 */
export function resolveArgs(stack: string, args: AuroraIamProxyArgs): ComponentSettings {
    const ours: Record<string, unknown> = { ...args };
    const region = ours.region;
    delete ours.region;
    const problems: string[] = [];
    for (const key of Object.keys(ours)) {
        if (!COMPONENT_KEYS.includes(key))
            problems.push(
                `${stack}: ${key} (${show(ours[key])}) is not an argument of AuroraIamProxy; allowed: region, ${COMPONENT_KEYS.join(", ")}`,
            );
    }
    return resolve(stack, ours, region, { program: false, problems });
}

function resolve(
    stack: string,
    ours: Record<string, unknown>,
    regionValue: unknown,
    o: { program: boolean; problems: string[] },
): ComponentSettings | Omit<Settings, "args"> {
    const problems = o.problems;
    const fail = (key: string, value: unknown, allowed: string) => problems.push(`${stack}: ${key} (${show(value)}) ${allowed}`);
    const section = (name: keyof typeof KEYS): Reader => {
        const value = ours[name] ?? {};
        if (typeof value !== "object" || value === null || Array.isArray(value)) {
            fail(name, value, "must be an object of settings");
            return new Reader(name, {}, fail);
        }
        const allowed: readonly string[] = o.program ? KEYS[name] : KEYS[name].filter((k) => !PROGRAM_ONLY_KEYS.includes(`${name}.${k}`));
        for (const key of Object.keys(value)) {
            if (!allowed.includes(key)) {
                fail(
                    `${name}.${key}`,
                    (value as Record<string, unknown>)[key],
                    `is not a setting; allowed in ${name}: ${allowed.join(", ")}${didYouMean(key, allowed)}`,
                );
            }
        }
        return new Reader(name, value as Record<string, unknown>, fail);
    };

    // Environment and region first: several defaults and rules depend on them.
    const envValue = ours.environment ?? stack;
    let environment: Environment = "dev";
    if (envValue === "dev" || envValue === "prod") environment = envValue;
    else fail("environment", envValue, "must be dev or prod");
    const prod = environment === "prod";
    // A stack file named prod that says dev would skip every prod rule; a mistake unless the settings say it is
    // meant. (A program using the component names its own stacks: there the environment argument decides.)
    const mismatchAllowed = decode(ours.environmentMismatchAllowed ?? false);
    const namedAs = o.program ? environmentNamedBy(stack) : undefined;
    if (typeof mismatchAllowed !== "boolean") {
        fail("environmentMismatchAllowed", mismatchAllowed, "must be true or false");
    } else if (namedAs !== undefined && (envValue === "dev" || envValue === "prod") && namedAs !== environment) {
        if (!mismatchAllowed) {
            fail(
                "environment",
                envValue,
                `does not match the stack name (${stack} means ${namedAs}); set environment: ${namedAs}, ` +
                    `or set ${PROJECT}:environmentMismatchAllowed: true if a ${environment} stack is deliberately named ${stack}`,
            );
        }
    } else if (mismatchAllowed) {
        fail(
            "environmentMismatchAllowed",
            mismatchAllowed,
            `is only for a stack whose name says dev or prod while its environment differs; stack ${stack} is ${environment}: remove it`,
        );
    }

    const region = decode(regionValue);
    if (typeof region !== "string" || !/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/.test(region)) {
        fail("aws:region", region, "must be an AWS region such as eu-west-1 (set it with pulumi config set aws:region)");
    }

    const name = decode(ours.name ?? PROJECT);
    if (typeof name !== "string" || !/^[a-z][a-z0-9-]{0,19}$/.test(name) || name.endsWith("-") || name.includes("--")) {
        fail("name", name, "must be 1-20 characters of a-z, 0-9 and single hyphens, starting with a letter");
    } else if (/^(aws|amazon|amzn|ssm-)/.test(name)) {
        // It starts the operator session document's name, and SSM reserves these prefixes (CreateDocument, Name).
        fail("name", name, "starts with aws, amazon, amzn or ssm-, which AWS reserves for its own SSM documents; choose another name");
    }

    // Network.
    const net = section("network");
    const cidr = net.string("cidr", "10.20.0.0/16");
    const parsed = parseIpv4Cidr(cidr);
    if (typeof parsed === "string") fail("network.cidr", cidr, `${parsed}; use a block such as 10.20.0.0/16`);
    else if (parsed.prefix < 16 || parsed.prefix > 22)
        fail("network.cidr", cidr, "must be a /16 to /22 block so every tier has room in every AZ");
    else if (!isPrivateIpv4(parsed.base, parsed.prefix))
        fail("network.cidr", cidr, "must lie in a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)");
    const azCount = net.integer("azCount", prod ? 3 : 2, 2, 4);
    const existingVpc = net.raw("existingVpc");
    if (existingVpc !== undefined) {
        existingVpcProblems(existingVpc).forEach((line) => problems.push(`${stack}: ${line}`));
        for (const key of ["cidr", "azCount", "flowLogs"]) {
            if (net.raw(key) !== undefined)
                fail(
                    `network.${key}`,
                    net.raw(key),
                    "is for a VPC the component creates; remove it, or remove network.existingVpc (flow logs of your VPC are yours to keep)",
                );
        }
    }
    const flowLogs = existingVpc === undefined && net.boolean("flowLogs", prod);
    if (prod && !flowLogs && existingVpc === undefined)
        fail("network.flowLogs", flowLogs, "must be true in prod: VPC flow logs are required there");
    const flowLogRetentionDays = net.retention("flowLogRetentionDays", prod ? 365 : 30);

    // Database.
    const db = section("database");
    const adopting = db.raw("adopt") !== undefined;
    const rawExistingCluster = db.raw("existingCluster");
    let existingCluster: ExistingClusterSettings | undefined;
    if (rawExistingCluster !== undefined) {
        const shape = existingClusterProblems(rawExistingCluster);
        shape.forEach((line) => problems.push(`${stack}: ${line}`));
        if (shape.length === 0) existingCluster = rawExistingCluster as ExistingClusterSettings;
        // The cluster's VPC exists already: the component can only join it, never build one around the cluster.
        if (existingVpc === undefined)
            fail(
                "database.existingCluster",
                rawExistingCluster,
                "needs network.existingVpc: give the cluster's VPC (vpcId) and subnets of it (privateSubnetIds, isolatedSubnetIds)",
            );
        // With database.adopt as well, the one problem is choosing (below), not each adopted setting.
        if (!adopting)
            for (const key of CREATED_CLUSTER_KEYS) {
                if (db.raw(key) !== undefined)
                    fail(
                        `database.${key}`,
                        db.raw(key),
                        "is for a cluster the component creates; remove it, or remove database.existingCluster (an existing cluster keeps its own)",
                    );
            }
        if (db.raw("name") === undefined)
            fail(
                "database.name",
                undefined,
                "is required with database.existingCluster: name the database on that cluster the application uses",
            );
    }
    const existing = rawExistingCluster !== undefined;
    // An adopted cluster's database and master user are facts, not choices: "postgres" (the master user RDS's
    // console suggests, refused for a new cluster) is kept as the cluster has it.
    const adoptedFact = (key: string, fallback: string) =>
        adopting && db.raw(key) === "postgres" ? "postgres" : db.identifier(key, fallback);
    const dbName = adoptedFact("name", "appdb");
    const dbUser = db.identifier("user", "app_user");
    // An existing cluster's master user is read at preview time (and checked against the users there).
    const masterUsername = existing ? "" : adoptedFact("masterUsername", DEFAULT_MASTER_USERNAME);
    if (masterUsername === SMOKE_OTHER_USER)
        fail(
            "database.masterUsername",
            masterUsername,
            "is reserved: the smoke signs a token for it and expects the proxy to refuse it; choose another name",
        );
    if (dbUser === masterUsername)
        fail("database.user", dbUser, "must differ from database.masterUsername: the application never connects as the master user");
    const engineVersion = db.string("engineVersion", "16", { numbers: "refuse" });
    const versionMatch = /^(1[3-7])(?:\.(\d{1,2}))?$/.exec(engineVersion);
    if (!versionMatch)
        fail(
            "database.engineVersion",
            engineVersion,
            'is not an aurora-postgresql version; use a major 13-17 (e.g. "16": the newest 16.x at deploy time) or MAJOR.MINOR (e.g. "16.8": preferred while AWS offers it)',
        );
    const engineMajor = versionMatch ? Number(versionMatch[1]) : 16;
    const rawPreferred = db.raw("preferredEngineVersions") ?? [];
    const preferredEngineVersions: string[] = versionMatch?.[2] !== undefined ? [engineVersion] : [];
    if (
        !Array.isArray(rawPreferred) ||
        !rawPreferred.every((v) => typeof v === "string" && new RegExp(`^${engineMajor}\\.\\d{1,2}$`).test(v))
    ) {
        fail(
            "database.preferredEngineVersions",
            rawPreferred,
            `must be a list of quoted ${engineMajor}.MINOR versions of database.engineVersion's major, e.g. ["${engineMajor}.8"]`,
        );
    } else {
        for (const v of rawPreferred as string[]) if (!preferredEngineVersions.includes(v)) preferredEngineVersions.push(v);
    }
    const instanceClass = db.string("instanceClass", SERVERLESS_CLASS);
    const serverless = instanceClass === SERVERLESS_CLASS;
    if (!serverless && !classesFor(engineMajor).includes(instanceClass)) {
        fail(
            "database.instanceClass",
            instanceClass,
            `is not an Aurora PostgreSQL ${engineMajor} instance class; allowed: ${SERVERLESS_CLASS} (Serverless v2), ${classesFor(engineMajor).join(", ")}`,
        );
    } else if (prod && AURORA_POSTGRESQL_CLASSES[instanceClass]?.burstable) {
        // "We recommend using the T DB instance classes only for development and test servers" (Aurora User Guide, DB instance classes).
        fail(
            "database.instanceClass",
            instanceClass,
            `is a burstable T class, which AWS recommends for development and test only; use ${SERVERLESS_CLASS} or a memory-optimized class (e.g. db.r6g.large) in prod`,
        );
    }
    if (!serverless) {
        // A provisioned class has a fixed size: an ACU range would be silently ignored, so it is refused.
        for (const key of ["minCapacity", "maxCapacity"]) {
            if (db.raw(key) !== undefined)
                fail(
                    `database.${key}`,
                    db.raw(key),
                    `applies to Serverless v2 only; remove it, or set database.instanceClass to ${SERVERLESS_CLASS} (now ${instanceClass})`,
                );
        }
    }
    const minCapacity = serverless ? db.capacity("minCapacity", 0.5) : 0.5;
    const maxCapacity = serverless ? db.capacity("maxCapacity", prod ? 8 : 1) : 1;
    if (minCapacity > maxCapacity) {
        problems.push(
            `${stack}: database.minCapacity (${minCapacity}) is above database.maxCapacity (${maxCapacity}); set minCapacity <= maxCapacity`,
        );
    }
    if (maxCapacity < 1) fail("database.maxCapacity", maxCapacity, "must be at least 1 ACU (Aurora Serverless v2's smallest maximum)");
    const instanceCount = db.integer("instanceCount", prod ? 2 : 1, 1, 15);
    if (prod && instanceCount < 2)
        fail("database.instanceCount", instanceCount, "must be at least 2 in prod, so a reader in another AZ can take over");
    const backupRetentionDays = db.integer("backupRetentionDays", prod ? 14 : 1, 1, 35);
    if (prod && backupRetentionDays < 7) fail("database.backupRetentionDays", backupRetentionDays, "must be at least 7 in prod");
    const deletionProtection = db.boolean("deletionProtection", prod);
    if (prod && !deletionProtection) fail("database.deletionProtection", deletionProtection, "must be true in prod");
    const performanceInsights = db.boolean("performanceInsights", prod);
    const monitoringIntervalSeconds = db.integer("monitoringIntervalSeconds", prod ? 60 : 0, 0, 60);
    if (![0, 1, 5, 10, 15, 30, 60].includes(monitoringIntervalSeconds)) {
        fail("database.monitoringIntervalSeconds", monitoringIntervalSeconds, "must be 0 (off), 1, 5, 10, 15, 30 or 60");
    }
    const dbLogRetention = db.retention("logRetentionDays", prod ? 365 : 14);
    const bootstrapPath = bootstrapPathFor({ existingCluster: existing, instanceClass, engineVersion });
    // A cluster the team already runs, adopted (imported, protected) instead of created.
    let adopt: AdoptSettings | undefined;
    if (adopting) {
        const checked = adoptSettingsProblems(db.raw("adopt"));
        checked.problems.forEach((line) => problems.push(`${stack}: ${line}`));
        adopt = checked.adopt;
        if (existing) {
            problems.push(
                `${stack}: database.adopt and database.existingCluster exclude each other: adopt imports a cluster into full management, existingCluster fronts one and never modifies it; keep one`,
            );
        }
        if (existingVpc === undefined)
            problems.push(
                `${stack}: database.adopt needs network.existingVpc: the cluster's VPC, with its subnet group's subnets as isolatedSubnetIds`,
            );
        if (adopt && adopt.instanceIdentifiers.length > instanceCount) {
            fail(
                "database.instanceCount",
                instanceCount,
                `is below the ${adopt.instanceIdentifiers.length} instances database.adopt.instanceIdentifiers names; every adopted instance is declared (set at least ${adopt.instanceIdentifiers.length})`,
            );
        }
    }

    // Proxy.
    const px = section("proxy");
    const authMode = px.string("authMode", "iam");
    if (authMode !== "iam" && authMode !== "secrets")
        fail("proxy.authMode", authMode, "must be iam (end-to-end IAM, the default) or secrets");
    const maxConnectionsPercent = px.integer("maxConnectionsPercent", 90, 1, 100);
    const maxIdleConnectionsPercent = px.integer("maxIdleConnectionsPercent", 50, 0, 100);
    if (maxIdleConnectionsPercent > maxConnectionsPercent) {
        problems.push(
            `${stack}: proxy.maxIdleConnectionsPercent (${maxIdleConnectionsPercent}) is above proxy.maxConnectionsPercent (${maxConnectionsPercent}); set maxIdle <= maxConnections`,
        );
    }
    const connectionBorrowTimeoutSeconds = px.integer("connectionBorrowTimeoutSeconds", 120, 0, 3600);
    const idleClientTimeoutSeconds = px.integer("idleClientTimeoutSeconds", 1800, 1, 28800);
    const debugLogging = px.boolean("debugLogging", false);
    if (prod && debugLogging)
        fail("proxy.debugLogging", debugLogging, "must be false in prod: debug logs can contain SQL text and parameters");

    // Tags: Environment comes from the environment; the rest describe who owns and pays.
    const tg = section("tags");
    const tagValue = (key: "Application" | "Owner" | "CostCenter", fallback?: string) => {
        const v = tg.string(key, fallback ?? "");
        if (!v) fail(`tags.${key}`, v, "is required: every resource is tagged with it");
        else if (!/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,256}$/u.test(v))
            fail(`tags.${key}`, v, "has characters AWS tags do not allow; use letters, digits, spaces and _ . : / = + - @");
        return v;
    };
    // The application name appears in security-group descriptions; catch an apostrophe here, not at deploy time.
    const appName = tg.string("Application", PROJECT);
    const descProblem = descriptionProblem(`${appName} database`);
    if (descProblem) fail("tags.Application", appName, `is used in security-group descriptions and ${descProblem}`);
    const application = descProblem ? appName : tagValue("Application", PROJECT);
    const tags: Tags = { Environment: environment, Application: application, Owner: tagValue("Owner"), CostCenter: tagValue("CostCenter") };

    // Post-deploy smoke.
    const sm = section("smoke");
    const smokeEnabled = sm.boolean("enabled", true);
    // Long enough to wait out a proxy target that is still registering right after the first deploy.
    const smokeTimeout = sm.integer("timeoutSeconds", 300, 60, 900);
    const rerun = sm.string("rerun", "");
    const scheduleText = sm.string("schedule", prod ? "rate(5 minutes)" : "rate(1 hour)");
    const schedule = scheduleText === "off" ? undefined : parseRate(scheduleText);
    if (schedule === null) {
        fail(
            "smoke.schedule",
            scheduleText,
            "must be off or rate(N unit) with unit minute(s), hour(s) or day(s), e.g. rate(5 minutes); the alarms' period follows it",
        );
    } else if (prod && (!schedule || schedule.intervalSeconds > 300)) {
        fail(
            "smoke.schedule",
            scheduleText,
            "must run at least every 5 minutes in prod (e.g. rate(5 minutes)), so a failure alarms within 10 minutes",
        );
    }
    if (schedule && !smokeEnabled)
        fail("smoke.schedule", scheduleText, "needs smoke.enabled: true (it runs the smoke function); set it to off");
    const warningsFail = sm.boolean("warningsFail", false);

    // Alarms: where they go, and how early a certificate expiry is raised.
    const al = section("alarms");
    const rawSubscriptions = al.raw("subscriptions") ?? [];
    const subscriptions: AlarmSettings["subscriptions"] = [];
    if (!Array.isArray(rawSubscriptions)) fail("alarms.subscriptions", rawSubscriptions, "must be a list of { protocol, endpoint }");
    else
        rawSubscriptions.forEach((sub, i) => {
            const problem = subscriptionProblem(sub);
            if (problem) fail(`alarms.subscriptions[${i}]`, sub, problem);
            else subscriptions.push(sub as AlarmSettings["subscriptions"][number]);
        });
    const certExpiryDays = al.integer("certExpiryDays", 30, 1, 365);
    if (!/^[\w.:@+-]{0,64}$/.test(rerun))
        fail("smoke.rerun", rerun, "must be up to 64 letters, digits and . _ : @ + - (e.g. a date or a ticket id)");

    // Database users: who exists, what each may do, and who may connect as whom.
    const ac = section("access");
    const rawUsers = ac.raw("users") ?? [{ name: dbUser, access: "readwrite" }];
    // prod already requires 2+ instances; an existing cluster's readers are counted at preview time.
    const userProblems = usersProblems(rawUsers, { key: "access.users", masterUsername, readers: prod || instanceCount >= 2 || existing });
    userProblems.forEach((line) => problems.push(`${stack}: ${line}`));
    const users = userProblems.length === 0 ? toUsers(rawUsers as unknown[]) : [];
    const byName = new Map(users.map((u) => [u.name, u]));
    const rawTask = ac.raw("ecsTask");
    // By default the task may connect as every readwrite and readonly user; a ddl user only if named.
    const ecsTask = rawTask ?? users.filter((u) => u.access !== "ddl").map((u) => u.name);
    if (users.length > 0) {
        const declared = users.map((u) => `${u.name} (${u.access})`).join(", ");
        const appEntry = byName.get(dbUser);
        if (dbUser !== masterUsername && (!appEntry || appEntry.access !== "readwrite")) {
            fail("database.user", dbUser, `must be a readwrite user of access.users; declared: ${declared}`);
        }
        if (!Array.isArray(ecsTask) || ecsTask.some((n) => typeof n !== "string")) {
            fail("access.ecsTask", rawTask, "must be a list of user names from access.users");
        } else {
            for (const n of ecsTask) if (!byName.has(n)) fail("access.ecsTask", n, `is not a user of access.users; declared: ${declared}`);
            if (new Set(ecsTask).size !== ecsTask.length) fail("access.ecsTask", rawTask, "names a user twice");
        }
    }

    // Operator access (issue 10): who may assume the operator role, and as which users it may connect.
    const op = section("operator");
    const operatorEnabled = op.boolean("enabled", true);
    const followLatestAmi = op.boolean("followLatestAmi", false);
    const rawPrincipals = op.raw("principals") ?? [];
    const principals: string[] = [];
    if (!Array.isArray(rawPrincipals)) {
        fail(
            "operator.principals",
            rawPrincipals,
            'must be a list of IAM role or user ARNs, e.g. ["arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_DBOperator_0123abcd"]',
        );
    } else {
        for (const p of rawPrincipals) {
            const problem = principalArnProblem(p);
            if (problem) fail("operator.principals", p, problem);
            else if (principals.includes(p)) fail("operator.principals", p, "is listed twice");
            else principals.push(p);
        }
    }
    const rawOperatorUsers = op.raw("users");
    const defaultOperatorUsers = users.filter((u) => u.access === "readonly" || u.access === "ddl").map((u) => u.name);
    const operatorUsers: string[] = [];
    if (rawOperatorUsers !== undefined && (!Array.isArray(rawOperatorUsers) || rawOperatorUsers.length === 0)) {
        fail(
            "operator.users",
            rawOperatorUsers,
            'must be a non-empty list of user names from access.users, e.g. ["app_reader", "app_migrator"]',
        );
    } else if (users.length > 0) {
        const declared = users.map((u) => u.name).join(", ");
        for (const n of (rawOperatorUsers as unknown[] | undefined) ?? defaultOperatorUsers) {
            if (n === masterUsername) fail("operator.users", n, "is database.masterUsername; operators never connect as the master user");
            else if (typeof n !== "string" || !byName.has(n))
                fail("operator.users", n, `is not a user of access.users; declared: ${declared}`);
            else if (operatorUsers.includes(n)) fail("operator.users", n, "is listed twice");
            else operatorUsers.push(n);
        }
    }

    // This repository's program only: the example ECS consumer and the budget (see cost/README.md).
    const program = o.program ? { app: readApp(section("app"), fail, prod), budget: readBudget(section("budget"), fail) } : {};

    if (problems.length > 0) throw new SettingsError(problems);
    const ecsTaskUsers = ecsTask as string[]; // checked above: a list of declared names
    return {
        ...program,
        stack,
        environment,
        region: region as string,
        namePrefix: `${name}-${environment}`,
        tags,
        network: { cidr, azCount, natGateways: prod ? "perAz" : "single", flowLogs, flowLogRetentionDays },
        database: {
            name: dbName,
            user: dbUser,
            masterUsername,
            engineVersion,
            engineMajor,
            preferredEngineVersions,
            instanceClass,
            minCapacity,
            maxCapacity,
            instanceCount,
            backupRetentionDays,
            deletionProtection,
            performanceInsights,
            monitoringIntervalSeconds,
            logRetentionDays: dbLogRetention,
            ...(existingCluster ? { existingCluster } : {}),
            ...(adopt ? { adopt } : {}),
            bootstrapPath,
        },
        proxy: {
            authMode: authMode as AuthMode,
            maxConnectionsPercent,
            maxIdleConnectionsPercent,
            connectionBorrowTimeoutSeconds,
            idleClientTimeoutSeconds,
            debugLogging,
        },
        smoke: { enabled: smokeEnabled, timeoutSeconds: smokeTimeout, rerun, ...(schedule ? { schedule } : {}), warningsFail },
        alarms: { subscriptions, certExpiryDays },
        access: { users, ecsTaskUsers, appUser: dbUser, readerEndpoint: users.some((u) => u.endpoint === "reader") },
        operator: { enabled: operatorEnabled, principals, users: operatorUsers, followLatestAmi },
    };
}

/** The example ECS consumer's settings (`app`), read only for this repository's program. */
function readApp(ap: Reader, fail: Fail, prod: boolean): AppSettings {
    // dev without an image runs a pinned placeholder (the plan says so); prod must name the real one.
    const imageUnset = ap.raw("image") === undefined;
    // The placeholder image is a placeholder in any stack: it serves no /health/db, so it gets no health check
    // (prod's committed file still names it until the deploy workflow sets the real one).
    const image = imageUnset && !prod ? PLACEHOLDER_APP.image : ap.string("image", "");
    const placeholder = imageUnset ? !prod : image === PLACEHOLDER_APP.image;
    const imageRef = parseImageReference(image);
    if (imageUnset && prod) {
        fail(
            "app.image",
            "",
            "must be set in prod to the application image by digest (<repo>@sha256:…) or a pinned tag; the deploy workflow sets it (pulumi config set app.image)",
        );
    } else if (typeof imageRef === "string") fail("app.image", image, `is not an image reference ECS can pull: it ${imageRef}`);
    else if (
        prod &&
        ((imageRef.tag === undefined && imageRef.digest === undefined) || (imageRef.tag === "latest" && imageRef.digest === undefined))
    ) {
        fail("app.image", image, "must be pinned in prod: use an explicit tag other than latest, or a digest");
    }
    const rawCommand = ap.raw("command");
    let command: string[] | undefined;
    if (rawCommand !== undefined) {
        if (!Array.isArray(rawCommand) || rawCommand.length === 0 || !rawCommand.every((c) => typeof c === "string")) {
            fail("app.command", rawCommand, 'must be a non-empty list of strings, e.g. ["node", "server.js"]');
        } else command = rawCommand;
    }
    if (placeholder) command ??= PLACEHOLDER_APP.command;
    const cpu = ap.integer("cpu", 256, 256, 16384);
    const memory = ap.integer("memory", 512, 512, 122880);
    const memoryChoices = FARGATE_MEMORY[cpu];
    if (!memoryChoices) fail("app.cpu", cpu, `is not a Fargate CPU size; allowed: ${Object.keys(FARGATE_MEMORY).join(", ")}`);
    else if (!memoryChoices.includes(memory))
        fail(
            "app.memory",
            memory,
            `is not allowed with cpu ${cpu} on Fargate; allowed: ${memoryChoices[0]}-${memoryChoices[memoryChoices.length - 1]} MiB in steps of ${memoryChoices[1] - memoryChoices[0]}`,
        );
    const desiredCount = ap.integer("desiredCount", prod ? 2 : 1, 0, 1000);
    const readonlyRootFilesystem = ap.boolean("readonlyRootFilesystem", true);
    const appLogRetention = ap.retention("logRetentionDays", prod ? 365 : 14);

    return { image, command, placeholder, cpu, memory, desiredCount, readonlyRootFilesystem, logRetentionDays: appLogRetention };
}

/** The optional monthly budget the cost policy compares the plan with (`budget`). */
function readBudget(bg: Reader, fail: Fail): BudgetSettings {
    const monthlyUsd = bg.raw("monthlyUsd");
    if (monthlyUsd !== undefined && (typeof monthlyUsd !== "number" || !Number.isFinite(monthlyUsd) || monthlyUsd <= 0)) {
        fail("budget.monthlyUsd", monthlyUsd, "must be a positive number of US dollars a month, e.g. 250");
    }
    const enforce = bg.boolean("enforce", false);
    if (enforce && monthlyUsd === undefined) fail("budget.enforce", enforce, "needs budget.monthlyUsd: there is no budget to enforce");

    return { monthlyUsd: monthlyUsd as number | undefined, enforce };
}

/**
 * What is wrong with `network.existingVpc`'s shape. Computed values (Outputs) pass: the component checks the
 * subnets themselves through the aws_subnet data source at preview time (components/network.ts).
 */
export function existingVpcProblems(value: unknown): string[] {
    const key = "network.existingVpc";
    if (typeof value !== "object" || value === null || Array.isArray(value))
        return [`${key} (${show(value)}) must be { vpcId, privateSubnetIds, isolatedSubnetIds }`];
    const v = value as Record<string, unknown>;
    const problems: string[] = [];
    const extra = Object.keys(v).filter((k) => !["vpcId", "privateSubnetIds", "isolatedSubnetIds"].includes(k));
    if (extra.length > 0) problems.push(`${key} has ${extra.join(", ")}; allowed: vpcId, privateSubnetIds, isolatedSubnetIds`);
    const known = (x: unknown) => !pulumiValue(x);
    if (known(v.vpcId) && (typeof v.vpcId !== "string" || !/^vpc-[0-9a-f]{8,17}$/.test(v.vpcId)))
        problems.push(`${key}.vpcId (${show(v.vpcId)}) must be a VPC id such as vpc-0123456789abcdef0`);
    for (const tier of ["privateSubnetIds", "isolatedSubnetIds"]) {
        const list = v[tier];
        if (!known(list)) continue;
        if (!Array.isArray(list) || list.length < 2) {
            problems.push(`${key}.${tier} (${show(list)}) must list at least 2 subnet ids, in at least 2 availability zones`);
            continue;
        }
        for (const id of list) {
            if (known(id) && (typeof id !== "string" || !/^subnet-[0-9a-f]{8,17}$/.test(id)))
                problems.push(`${key}.${tier}: ${show(id)} is not a subnet id such as subnet-0123456789abcdef0`);
        }
    }
    return problems;
}

/** The database settings of a cluster the component creates: they do not apply to an existing cluster. */
const CREATED_CLUSTER_KEYS = [
    "masterUsername",
    "engineVersion",
    "preferredEngineVersions",
    "instanceClass",
    "minCapacity",
    "maxCapacity",
    "instanceCount",
    "backupRetentionDays",
    "deletionProtection",
    "performanceInsights",
    "monitoringIntervalSeconds",
];

/**
 * What is wrong with `database.existingCluster`'s shape: an RDS cluster identifier (CreateDBCluster's
 * DBClusterIdentifier rules: 1-63 letters, digits or hyphens, starting with a letter, no trailing or double hyphen),
 * a Secrets Manager secret ARN and a security group id where given. The cluster itself is read at preview time.
 */
export function existingClusterProblems(value: unknown): string[] {
    const key = "database.existingCluster";
    if (typeof value !== "object" || value === null || Array.isArray(value))
        return [`${key} (${show(value)}) must be { identifier, masterSecretArn?, securityGroupId? }`];
    const v = value as Record<string, unknown>;
    const problems: string[] = [];
    const extra = Object.keys(v).filter((k) => !["identifier", "masterSecretArn", "securityGroupId"].includes(k));
    if (extra.length > 0) problems.push(`${key} has ${extra.join(", ")}; allowed: identifier, masterSecretArn, securityGroupId`);
    if (typeof v.identifier !== "string" || !/^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,62}$/.test(v.identifier) || v.identifier.endsWith("-")) {
        problems.push(
            `${key}.identifier (${show(v.identifier)}) must be an Aurora cluster identifier: 1-63 letters, digits and single hyphens, starting with a letter`,
        );
    }
    if (
        v.masterSecretArn !== undefined &&
        (typeof v.masterSecretArn !== "string" || !/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/.test(v.masterSecretArn))
    ) {
        problems.push(
            `${key}.masterSecretArn (${show(v.masterSecretArn)}) must be a Secrets Manager secret ARN such as arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders-master-AbCdEf`,
        );
    }
    if (v.securityGroupId !== undefined && (typeof v.securityGroupId !== "string" || !SECURITY_GROUP_ID.test(v.securityGroupId))) {
        problems.push(`${key}.securityGroupId (${show(v.securityGroupId)}) must be a security group id such as sg-0123456789abcdef0`);
    }
    return problems;
}

/**
 * A computed value (an Output or a promise), which only the deployment knows. Recognised by the marker
 * pulumi.Output.isInstance reads (`__pulumiOutput`), so this parser loads no Pulumi module: the local tools
 * (local:up, the data plane) read settings without loading the SDK.
 */
function pulumiValue(x: unknown): boolean {
    return (
        typeof x === "object" &&
        x !== null &&
        ((x as { __pulumiOutput?: unknown }).__pulumiOutput === true || typeof (x as { then?: unknown }).then === "function")
    );
}

/** An EventBridge Scheduler rate expression and its interval; null when it is not one. */
export function parseRate(text: string): { expression: string; intervalSeconds: number } | null {
    const m = /^rate\((\d{1,4}) (minute|minutes|hour|hours|day|days)\)$/.exec(text);
    if (!m) return null;
    const n = Number(m[1]);
    const unit = m[2].replace(/s$/, "");
    // EventBridge: the singular unit for 1, the plural otherwise.
    if (n < 1 || (n === 1) !== (m[2] === unit)) return null;
    const seconds = n * { minute: 60, hour: 3600, day: 86400 }[unit as "minute" | "hour" | "day"];
    return seconds > 86400 ? null : { expression: text, intervalSeconds: seconds };
}

/**
 * The reserved placeholder domain an address or URL points at (RFC 2606 / RFC 6761: example.com, .org, .net,
 * .example, .invalid, .test, .localhost), or undefined. Mail to them goes nowhere, and an unconfirmed e-mail
 * subscription is deleted by SNS after 48 hours, so every later `up` would create it again.
 */
export function placeholderDomain(endpoint: string): string | undefined {
    const host = /^https?:\/\/([^/:?#\s]+)/i.exec(endpoint)?.[1] ?? /@([^@\s]+)$/.exec(endpoint)?.[1];
    if (!host) return undefined;
    const name = host.toLowerCase().replace(/\.$/, "");
    const hit = /(^|\.)(example\.(com|org|net)|example|invalid|test|localhost)$/.exec(name);
    return hit ? hit[2] : undefined;
}

/** Why an SNS subscription from the settings will not work, or undefined. */
function subscriptionProblem(sub: unknown): string | undefined {
    if (typeof sub !== "object" || sub === null || Array.isArray(sub)) return "must be { protocol, endpoint }";
    const { protocol, endpoint, ...rest } = sub as Record<string, unknown>;
    if (Object.keys(rest).length > 0) return `has ${Object.keys(rest).join(", ")}; allowed: protocol, endpoint`;
    if (typeof endpoint !== "string") return "needs an endpoint string";
    const formatProblem = (() => {
        switch (protocol) {
            case "email":
                return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(endpoint) ? undefined : "endpoint must be an email address for protocol email";
            case "https":
                return /^https:\/\/[^\s/]+/.test(endpoint) ? undefined : "endpoint must be an https:// URL for protocol https";
            // SNS delivers to a queue only if the queue's own policy lets this topic send to it, and a policy written
            // by this stack would replace the queue owner's. So the owner adds the statement and subscribes the queue.
            case "sqs":
                return (
                    "sqs is not subscribed by this stack: a queue policy written here would replace its owner's; " +
                    "add to the queue's policy: Allow sqs:SendMessage to Service sns.amazonaws.com with ArnEquals aws:SourceArn <alarmTopicArn output>, " +
                    "then subscribe the queue to that topic yourself"
                );
            case "lambda":
                return /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[\w-]+$/.test(endpoint)
                    ? undefined
                    : "endpoint must be a Lambda function ARN for protocol lambda";
            default:
                return "protocol must be email, https or lambda";
        }
    })();
    if (formatProblem) return formatProblem;
    const placeholder = placeholderDomain(endpoint);
    return placeholder
        ? `endpoint is at ${placeholder}, a placeholder domain that receives no mail; name a real address or leave subscriptions empty`
        : undefined;
}

/**
 * Why `arn` cannot be trusted to assume the operator role, or undefined: an IAM role or user ARN of one
 * account, no wildcard (a trust policy does not accept one in a principal ARN, and it would widen the trust).
 */
export function principalArnProblem(arn: unknown): string | undefined {
    if (typeof arn !== "string") return "must be an IAM role or user ARN string";
    if (arn.includes("*") || arn.includes("?")) return "has a wildcard; name each role or user exactly";
    if (/^arn:aws[a-z-]*:sts::\d{12}:assumed-role\//.test(arn))
        return "is a session (sts assumed-role) ARN; name the role itself: arn:aws:iam::<account>:role/<path/name>";
    if (!/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\w+=,.@\/-]{1,512}$/.test(arn)) {
        return "is not an IAM role or user ARN; expected arn:aws:iam::<12-digit account>:role/<path/name> or :user/<name>";
    }
    return undefined;
}

type Fail = (key: string, value: unknown, allowed: string) => void;

/** Typed access to one settings object, reporting each bad value through `fail` and returning a safe default. */
class Reader {
    constructor(
        private section: string,
        private values: Record<string, unknown>,
        private fail: Fail,
    ) {}

    /** The value as given, decoded from JSON if Pulumi handed it over as a string. */
    raw(key: string): unknown {
        return this.get(key);
    }

    private get(key: string): unknown {
        return decode(this.values[key]);
    }

    /**
     * A string setting, read as given: never through number decoding, which would turn "15.10" into 15.1.
     * YAML reads `CostCenter: 1234` as a number, which is a fine string; a version must be quoted instead.
     */
    string(key: string, fallback: string, o: { numbers: "accept" | "refuse" } = { numbers: "accept" }): string {
        const v = this.values[key];
        if (v === undefined) return fallback;
        if (typeof v === "number" && Number.isFinite(v)) {
            if (o.numbers === "accept") return String(v);
            this.fail(
                `${this.section}.${key}`,
                v,
                `must be a quoted string: YAML reads an unquoted ${v} as a number and drops trailing zeros`,
            );
            return fallback;
        }
        if (typeof v !== "string") {
            this.fail(`${this.section}.${key}`, v, "must be a string");
            return fallback;
        }
        return v;
    }

    boolean(key: string, fallback: boolean): boolean {
        const v = this.get(key);
        if (v === undefined) return fallback;
        if (typeof v !== "boolean") {
            this.fail(`${this.section}.${key}`, v, "must be true or false");
            return fallback;
        }
        return v;
    }

    integer(key: string, fallback: number, min: number, max: number): number {
        const v = this.get(key);
        if (v === undefined) return fallback;
        if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
            this.fail(`${this.section}.${key}`, v, `must be a whole number from ${min} to ${max}`);
            return fallback;
        }
        return v;
    }

    capacity(key: string, fallback: number): number {
        const v = this.get(key);
        if (v === undefined) return fallback;
        if (typeof v !== "number" || v < 0 || v > 256 || !Number.isInteger(v * 2)) {
            this.fail(`${this.section}.${key}`, v, "must be Aurora Serverless v2 capacity: 0 to 256 ACU in steps of 0.5");
            return fallback;
        }
        return v;
    }

    identifier(key: string, fallback: string): string {
        const v = this.string(key, fallback);
        const problem = pgIdentifierProblem(v);
        if (problem) {
            this.fail(`${this.section}.${key}`, v, problem);
            return fallback;
        }
        return v;
    }

    retention(key: string, fallback: number): number {
        const v = this.get(key);
        if (v === undefined) return fallback;
        if (typeof v !== "number" || !LOG_RETENTION_DAYS.includes(v)) {
            this.fail(`${this.section}.${key}`, v, `must be a CloudWatch Logs retention: ${LOG_RETENTION_DAYS.join(", ")}`);
            return fallback;
        }
        return v;
    }
}

function splitKey(fullKey: string): [string, string] {
    const i = fullKey.indexOf(":");
    return i < 0 ? ["", fullKey] : [fullKey.slice(0, i), fullKey.slice(i + 1)];
}

/** Pulumi hands structured and scalar config to programs as strings; stack files give typed YAML. Accept both. */
function decode(value: unknown): unknown {
    if (typeof value !== "string") return value;
    const t = value.trim();
    if (t === "true") return true;
    if (t === "false") return false;
    if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
    if (t.startsWith("{") || t.startsWith("[")) {
        try {
            return JSON.parse(t);
        } catch {
            return value;
        }
    }
    return value;
}

function show(value: unknown): string {
    if (value === undefined) return "unset";
    if (typeof value === "string") return JSON.stringify(value);
    return typeof value === "object" ? JSON.stringify(value) : String(value);
}
