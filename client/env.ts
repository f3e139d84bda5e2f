// The environment-variable contract between the ECS task definition (components/ecs.ts writes it)
// and the application (app/ reads it, and so can any application using this package). One home for
// the names, so the writer and the readers cannot drift apart.

import type { IamPoolOptions } from "./pool";

export const ENV = {
    /** The RDS Proxy endpoint: TLS verifies this name and tokens are signed for it. */
    host: "DB_HOST",
    port: "DB_PORT",
    database: "DB_NAME",
    /** The user the application connects as by default (readwrite). */
    user: "DB_USER",
    /** Always "true": there is no password to fall back to. */
    iamAuth: "DB_IAM_AUTH",
    region: "AWS_REGION",
    /** A readonly user and the endpoint it reads through (the READ_ONLY endpoint where there is one). */
    readonlyUser: "DB_READONLY_USER",
    readerHost: "DB_READER_HOST",
    /** Every user the task role may connect as, comma-separated. */
    connectAs: "DB_CONNECT_AS",
    /**
     * Not set by ECS. Through a tunnel (or the local plane), where to dial, as host:port, while TLS and
     * the token stay bound to DB_HOST:DB_PORT (resp. DB_READER_HOST).
     */
    connectAddress: "DB_CONNECT_ADDRESS",
    readerConnectAddress: "DB_READER_CONNECT_ADDRESS",
} as const;

type Env = Record<string, string | undefined>;

export type EnvPoolOptions = Pick<IamPoolOptions, "host" | "port" | "proxyHost" | "proxyPort" | "database" | "user" | "region">;

/** The writer's and (where DB_READONLY_USER is set) the reader's connection settings, read from the contract. */
export function poolOptionsFromEnv(env: Env = process.env): { writer: EnvPoolOptions; reader?: EnvPoolOptions } {
    const problems: string[] = [];
    const required = (name: string): string => {
        const value = env[name]?.trim();
        if (!value) problems.push(`${name} is not set`);
        return value ?? "";
    };
    const host = required(ENV.host);
    const portText = required(ENV.port);
    const port = Number(portText);
    if (portText && (!Number.isInteger(port) || port < 1 || port > 65535))
        problems.push(`${ENV.port} is ${JSON.stringify(portText)}; expected a port number such as 5432`);
    const database = required(ENV.database);
    const user = required(ENV.user);
    const region = required(ENV.region);
    const iam = env[ENV.iamAuth];
    if (iam !== undefined && iam !== "true")
        problems.push(`${ENV.iamAuth} is ${JSON.stringify(iam)}; only "true" is supported (IAM tokens, no password)`);

    const address = (name: string): { host: string; port: number } | undefined => {
        const value = env[name]?.trim();
        if (!value) return undefined;
        const m = /^(.+):(\d{1,5})$/.exec(value);
        if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
            problems.push(`${name} is ${JSON.stringify(value)}; expected host:port, e.g. 127.0.0.1:15432`);
            return undefined;
        }
        return { host: m[1], port: Number(m[2]) };
    };
    const dial = address(ENV.connectAddress);
    const readonlyUser = env[ENV.readonlyUser]?.trim();
    const readerHost = env[ENV.readerHost]?.trim() || host;
    const readerDial = address(ENV.readerConnectAddress);
    if (problems.length) throw new Error(`database settings from the environment: ${problems.join("; ")}`);

    const endpoint = (name: string, through: { host: string; port: number } | undefined) =>
        through ? { host: through.host, port: through.port, proxyHost: name, proxyPort: port } : { host: name, port };
    return {
        writer: { ...endpoint(host, dial), database, user, region },
        ...(readonlyUser ? { reader: { ...endpoint(readerHost, readerDial), database, user: readonlyUser, region } } : {}),
    };
}

/**
 * The stack's own functions (the post-deploy bootstrap and the smoke, in smoke/lambda/) get these: the task's
 * names they share (DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_READER_HOST) and their own. components/smoke.ts writes
 * them through `functionEnv()` and the handlers read them typed as `FunctionEnv`, so a name one side spells
 * differently fails to compile. Not part of what an application reads (`poolOptionsFromEnv`).
 */
export const FUNCTION_ENV_NAMES = [
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_READER_HOST",
    /** Set by Lambda itself, not by the component. */
    "AWS_REGION",
    /** Every declared user, JSON [{ name, access, endpoint }]. */
    "DB_USERS",
    /** The master user: owner of schema app; the bootstrap logs in as it. */
    "DB_OWNER",
    /** iam | secrets: how RDS Proxy authenticates to the database. */
    "DB_AUTH_MODE",
    /** Bootstrap: the cluster and master secret (the Data API path), or the writer endpoint above (the vpc path). */
    "DB_CLUSTER_ARN",
    "DB_SECRET_ARN",
    /** data-api (default) | vpc. */
    "DB_BOOTSTRAP_PATH",
    /** true: a database that holds what others made (fronted or adopted): non-destructive bootstrap, warning rows. */
    "DB_EXISTING_DATABASE",
    /** Smoke: the cluster's own security groups, comma-separated, for the CIDR warning row. */
    "DB_CLUSTER_SECURITY_GROUP_IDS",
    /** Smoke: true makes warning rows fail the post-deploy run. */
    "SMOKE_WARNINGS_FAIL",
    /** Smoke: its run's budget in ms, the custom metrics it may publish (JSON), and the stack it reports for. */
    "SMOKE_TIMEOUT_MS",
    "SMOKE_METRICS",
    "STACK_NAME",
    /** Not set by the component: where `npm run smoke` or the local plane dial when host:port is only a forward. */
    "DB_READER_PORT",
    "DB_PROXY_HOST",
    "DB_PROXY_PORT",
    "DB_READER_PROXY_HOST",
    "AWS_DEFAULT_REGION",
] as const;

/** The names the functions share with the task: the task's own (an ENV entry renamed alone fails to compile here). */
export const SHARED_WITH_TASK: readonly FunctionEnvName[] = [ENV.host, ENV.port, ENV.database, ENV.user, ENV.readerHost, ENV.region];

/** One of the functions' environment variable names. */
export type FunctionEnvName = (typeof FUNCTION_ENV_NAMES)[number];

/** The functions' environment as a handler reads it (process.env fits it). */
export type FunctionEnv = Partial<Record<FunctionEnvName, string>>;

/**
 * The functions' environment as the component writes it: the object unchanged, but a key that is not in the
 * contract is a compile error (values may be Pulumi Inputs, hence the generic value type).
 */
export function functionEnv<V, T extends Partial<Record<FunctionEnvName, V>>>(
    vars: T & Record<Exclude<keyof T, FunctionEnvName>, never>,
): T {
    return vars;
}
