// Converges every declared database user to its access profile, after every update. Two paths
// (DB_BOOTSTRAP_PATH):
//  - data-api (default): through the RDS Data API, no network path into the database besides the proxy's, no
//    VPC endpoint, no password in this code; the Data API runs the SQL as the master user whose RDS-managed
//    secret this function alone may read.
//  - vpc: for a cluster the stack fronts (docs/existing-cluster.md says why this path there); the function runs in
//    the VPC and connects with pg as the master user over verified TLS (bootstrap-vpc.ts).
// DB_EXISTING_DATABASE=true runs the non-destructive bootstrap (access/bootstrap-sql.ts existingDatabase).
import {
    BeginTransactionCommand,
    CommitTransactionCommand,
    ExecuteStatementCommand,
    RDSDataClient,
    RollbackTransactionCommand,
} from "@aws-sdk/client-rds-data";
import { accessSpec, AuthMode } from "../../access/spec";
import { bootstrapStatements, SqlStatement } from "../../access/bootstrap-sql";
import { usersFromEnv } from "../../access/users";
import type { SecretReader } from "./bootstrap-vpc";
import type { ClientConfig, Client } from "pg";
import type { FunctionEnv, FunctionEnvName } from "../../client/env";

/** Rows a statement returned (only for statements with returnsRows). */
export type Rows = Array<Record<string, unknown>>;
/** Runs statements in one transaction, all of them or none; returns each statement's rows (or undefined). */
export type SqlExecutor = (statements: SqlStatement[]) => Promise<Array<Rows | undefined> | void>;

export interface BootstrapEvent {
    /** Only in the proxy's secrets mode: each user's password, as its proxy secret holds it. */
    passwords?: Record<string, string>;
    /** Only in secrets mode, older form: the password of DB_USER. */
    password?: string;
}

export interface BootstrapResult {
    ok: true;
    /** The default application user (DB_USER, else the first declared user). */
    user: string;
    users: string[];
    statements: number;
    /** Managed roles no longer declared: NOLOGIN, no grants, kept because they may own objects. */
    retired: string[];
}

export function dataApiExecutor(o: {
    client: Pick<RDSDataClient, "send">;
    resourceArn: string;
    secretArn: string;
    database: string;
}): SqlExecutor {
    const base = { resourceArn: o.resourceArn, secretArn: o.secretArn, database: o.database };
    return async (statements) => {
        const { transactionId } = await o.client.send(new BeginTransactionCommand(base));
        const results: Array<Rows | undefined> = [];
        try {
            for (const [index, statement] of statements.entries()) {
                try {
                    const parameters = Object.entries(statement.parameters ?? {}).map(([name, value]) => ({
                        name,
                        value: { stringValue: value },
                    }));
                    const response = await o.client.send(
                        new ExecuteStatementCommand({
                            ...base,
                            sql: statement.sql,
                            transactionId,
                            ...(parameters.length > 0 ? { parameters } : {}),
                            ...(statement.returnsRows ? { formatRecordsAs: "JSON" as const } : {}),
                        }),
                    );
                    results.push(statement.returnsRows ? (JSON.parse(response?.formattedRecords ?? "[]") as Rows) : undefined);
                } catch (err) {
                    // Statement text never holds a secret (parameters do, and are not shown).
                    const shown = statement.sql.replace(/\s+/g, " ").slice(0, 120);
                    throw new Error(
                        `bootstrap failed at statement ${index + 1}/${statements.length} (${shown}): ${(err as Error).message}`,
                    );
                }
            }
            await o.client.send(new CommitTransactionCommand({ resourceArn: o.resourceArn, secretArn: o.secretArn, transactionId }));
            return results;
        } catch (err) {
            await o.client
                .send(new RollbackTransactionCommand({ resourceArn: o.resourceArn, secretArn: o.secretArn, transactionId }))
                .catch(() => undefined);
            throw err;
        }
    };
}

function required(env: FunctionEnv, key: FunctionEnvName): string {
    const value = env[key];
    if (!value) throw new Error(`bootstrap: environment variable ${key} is not set`);
    return value;
}

function flag(env: FunctionEnv, key: FunctionEnvName): boolean {
    const value = env[key];
    if (value === undefined || value === "" || value === "false") return false;
    if (value === "true") return true;
    throw new Error(`bootstrap: ${key} is ${JSON.stringify(value)}; expected true or false`);
}

export interface BootstrapHandlerDeps {
    env: FunctionEnv;
    /** Runs the statements; default by DB_BOOTSTRAP_PATH (the Data API, or pg inside the VPC). */
    execute?: SqlExecutor;
    /** vpc path: reads the master secret; default Secrets Manager. */
    readSecret?: SecretReader;
    /** vpc path: the CA certificates TLS trusts; default the Amazon RDS bundle in this bundle. */
    ca?: readonly string[];
    /** vpc path: builds the pg client (tests point it at a local server). */
    connect?: (config: ClientConfig) => Client;
}

/** The executor DB_BOOTSTRAP_PATH selects; the vpc path reads the master secret first. */
async function executorFor(deps: BootstrapHandlerDeps, database: string, owner: string): Promise<SqlExecutor> {
    const env = deps.env;
    const path = env.DB_BOOTSTRAP_PATH || "data-api";
    if (path === "data-api") {
        return dataApiExecutor({
            client: new RDSDataClient({}),
            resourceArn: required(env, "DB_CLUSTER_ARN"),
            secretArn: required(env, "DB_SECRET_ARN"),
            database,
        });
    }
    if (path !== "vpc") throw new Error(`bootstrap: DB_BOOTSTRAP_PATH is ${JSON.stringify(path)}; allowed: data-api, vpc`);
    const host = required(env, "DB_HOST");
    const port = Number(required(env, "DB_PORT"));
    if (!Number.isInteger(port) || port < 1 || port > 65535)
        throw new Error(`bootstrap: DB_PORT is ${JSON.stringify(env.DB_PORT)}; expected an integer 1..65535 (the cluster's port)`);
    const secretArn = required(env, "DB_SECRET_ARN");
    // Loaded only on this path, so the Data API path's cold start does not load pg, the Secrets Manager client and
    // the RDS CA bundle.
    const { secretsManagerReader, vpcExecutor } = await import("./bootstrap-vpc");
    const secret = await (deps.readSecret ?? secretsManagerReader())(secretArn);
    // The schema owner the statements name (default privileges FOR ROLE, the probe's owner) is the user they run as.
    if (secret.username !== owner) {
        throw new Error(
            `bootstrap: the master secret ${secretArn} is for user ${JSON.stringify(secret.username)}, but DB_OWNER is ${JSON.stringify(owner)}; set database.masterUsername to the cluster's master user`,
        );
    }
    return vpcExecutor({
        target: { host, port, database },
        secret,
        ...(deps.ca ? { ca: deps.ca } : {}),
        ...(deps.connect ? { connect: deps.connect } : {}),
    });
}

export function createBootstrapHandler(deps: BootstrapHandlerDeps) {
    return async (event: BootstrapEvent = {}): Promise<BootstrapResult> => {
        const env = deps.env;
        const authMode = required(env, "DB_AUTH_MODE");
        if (authMode !== "iam" && authMode !== "secrets")
            throw new Error(`bootstrap: DB_AUTH_MODE is ${JSON.stringify(authMode)}; allowed: iam, secrets`);
        const owner = required(env, "DB_OWNER");
        const database = required(env, "DB_NAME");
        let users;
        try {
            users = usersFromEnv(env, { masterUsername: owner });
        } catch (err) {
            throw new Error(`bootstrap: ${(err as Error).message}`);
        }
        const defaultUser = env.DB_USER || users[0].name;
        const spec = accessSpec({ database, owner, authMode: authMode as AuthMode, users });
        const passwords: Record<string, string> = {
            ...(event.password !== undefined ? { [defaultUser]: event.password } : {}),
            ...(event.passwords ?? {}),
        };
        if (authMode === "secrets") {
            const missing = users.map((u) => u.name).filter((name) => !passwords[name]);
            if (missing.length > 0) {
                throw new Error(
                    `bootstrap: secrets mode needs each user's proxy-secret password in the event ({ "passwords": { "<user>": "<password>" } }); missing: ${missing.join(", ")}`,
                );
            }
        }
        const existingDatabase = flag(env, "DB_EXISTING_DATABASE");
        const statements = bootstrapStatements(spec, {
            ...(authMode === "secrets" ? { passwords } : {}),
            ...(existingDatabase ? { existingDatabase } : {}),
        });
        const execute = deps.execute ?? (await executorFor(deps, spec.database, owner));
        const results = (await execute(statements)) ?? [];
        const index = statements.findIndex((s) => s.returnsRows);
        const retired = (results[index] ?? []).map((row) => String(row.retired));
        return { ok: true, user: defaultUser, users: users.map((u) => u.name), statements: statements.length, retired };
    };
}

export const handler = createBootstrapHandler({ env: process.env });
