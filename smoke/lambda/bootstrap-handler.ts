// Converges every declared database user to its access profile, after every update, through the RDS Data
// API: no network path into the database besides the proxy's, no VPC endpoint, no password in this code.
// The Data API runs the SQL as the master user whose RDS-managed secret this function alone may read.
import {
    BeginTransactionCommand, CommitTransactionCommand, ExecuteStatementCommand, RDSDataClient, RollbackTransactionCommand,
} from "@aws-sdk/client-rds-data";
import { accessSpec, AuthMode } from "../../access/spec";
import { bootstrapStatements, SqlStatement } from "../../access/bootstrap-sql";
import { usersFromEnv } from "../../access/users";

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

export function dataApiExecutor(o: { client: Pick<RDSDataClient, "send">; resourceArn: string; secretArn: string; database: string }): SqlExecutor {
    const base = { resourceArn: o.resourceArn, secretArn: o.secretArn, database: o.database };
    return async (statements) => {
        const { transactionId } = await o.client.send(new BeginTransactionCommand(base));
        const results: Array<Rows | undefined> = [];
        try {
            for (const [index, statement] of statements.entries()) {
                try {
                    const parameters = Object.entries(statement.parameters ?? {}).map(([name, value]) => ({ name, value: { stringValue: value } }));
                    const response = await o.client.send(new ExecuteStatementCommand({
                        ...base,
                        sql: statement.sql,
                        transactionId,
                        ...(parameters.length > 0 ? { parameters } : {}),
                        ...(statement.returnsRows ? { formatRecordsAs: "JSON" as const } : {}),
                    }));
                    results.push(statement.returnsRows ? (JSON.parse(response?.formattedRecords ?? "[]") as Rows) : undefined);
                } catch (err) {
                    // Statement text never holds a secret (parameters do, and are not shown).
                    const shown = statement.sql.replace(/\s+/g, " ").slice(0, 120);
                    throw new Error(`bootstrap failed at statement ${index + 1}/${statements.length} (${shown}): ${(err as Error).message}`);
                }
            }
            await o.client.send(new CommitTransactionCommand({ resourceArn: o.resourceArn, secretArn: o.secretArn, transactionId }));
            return results;
        } catch (err) {
            await o.client.send(new RollbackTransactionCommand({ resourceArn: o.resourceArn, secretArn: o.secretArn, transactionId })).catch(() => undefined);
            throw err;
        }
    };
}

function required(env: Record<string, string | undefined>, key: string): string {
    const value = env[key];
    if (!value) throw new Error(`bootstrap: environment variable ${key} is not set`);
    return value;
}

export function createBootstrapHandler(deps: { env: Record<string, string | undefined>; execute?: SqlExecutor }) {
    return async (event: BootstrapEvent = {}): Promise<BootstrapResult> => {
        const env = deps.env;
        const authMode = required(env, "DB_AUTH_MODE");
        if (authMode !== "iam" && authMode !== "secrets") throw new Error(`bootstrap: DB_AUTH_MODE is ${JSON.stringify(authMode)}; allowed: iam, secrets`);
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
        const passwords: Record<string, string> = { ...(event.password !== undefined ? { [defaultUser]: event.password } : {}), ...(event.passwords ?? {}) };
        if (authMode === "secrets") {
            const missing = users.map((u) => u.name).filter((name) => !passwords[name]);
            if (missing.length > 0) {
                throw new Error(`bootstrap: secrets mode needs each user's proxy-secret password in the event ({ "passwords": { "<user>": "<password>" } }); missing: ${missing.join(", ")}`);
            }
        }
        const statements = bootstrapStatements(spec, authMode === "secrets" ? { passwords } : {});
        const execute = deps.execute ?? dataApiExecutor({
            client: new RDSDataClient({}),
            resourceArn: required(env, "DB_CLUSTER_ARN"),
            secretArn: required(env, "DB_SECRET_ARN"),
            database: spec.database,
        });
        const results = (await execute(statements)) ?? [];
        const index = statements.findIndex((s) => s.returnsRows);
        const retired = (results[index] ?? []).map((row) => String(row.retired));
        return { ok: true, user: defaultUser, users: users.map((u) => u.name), statements: statements.length, retired };
    };
}

export const handler = createBootstrapHandler({ env: process.env });
