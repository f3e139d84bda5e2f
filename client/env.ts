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
    if (portText && (!Number.isInteger(port) || port < 1 || port > 65535)) problems.push(`${ENV.port} is ${JSON.stringify(portText)}; expected a port number such as 5432`);
    const database = required(ENV.database);
    const user = required(ENV.user);
    const region = required(ENV.region);
    const iam = env[ENV.iamAuth];
    if (iam !== undefined && iam !== "true") problems.push(`${ENV.iamAuth} is ${JSON.stringify(iam)}; only "true" is supported (IAM tokens, no password)`);

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
