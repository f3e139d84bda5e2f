// Converges the application's database role to the grants spec, after every update, through the RDS Data
// API: no network path into the database besides the proxy's, no VPC endpoint, no password in this code.
// The Data API runs the SQL as the master user whose RDS-managed secret this function alone may read.
import {
    BeginTransactionCommand, CommitTransactionCommand, ExecuteStatementCommand, RDSDataClient, RollbackTransactionCommand,
} from "@aws-sdk/client-rds-data";
import { AuthMode, bootstrapStatements, grantsSpec } from "../../access/grants";

/** Runs statements in one transaction: all of them or none. */
export type SqlExecutor = (statements: string[]) => Promise<void>;

export interface BootstrapEvent {
    /** Only in the proxy's secrets mode: the password the proxy's secret holds, set on the role. */
    password?: string;
}

export interface BootstrapResult {
    ok: true;
    user: string;
    statements: number;
}

export function dataApiExecutor(o: { client: Pick<RDSDataClient, "send">; resourceArn: string; secretArn: string; database: string }): SqlExecutor {
    const base = { resourceArn: o.resourceArn, secretArn: o.secretArn, database: o.database };
    return async (statements) => {
        const { transactionId } = await o.client.send(new BeginTransactionCommand(base));
        try {
            for (const [index, sql] of statements.entries()) {
                try {
                    await o.client.send(new ExecuteStatementCommand({ ...base, sql, transactionId }));
                } catch (err) {
                    const shown = sql.replace(/PASSWORD '(?:[^']|'')*'/g, "PASSWORD '***'").replace(/\s+/g, " ").slice(0, 120);
                    throw new Error(`bootstrap failed at statement ${index + 1}/${statements.length} (${shown}): ${(err as Error).message}`);
                }
            }
            await o.client.send(new CommitTransactionCommand({ resourceArn: o.resourceArn, secretArn: o.secretArn, transactionId }));
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
        const spec = grantsSpec({ database: required(env, "DB_NAME"), user: required(env, "DB_USER"), owner: required(env, "DB_OWNER"), authMode: authMode as AuthMode });
        if (authMode === "secrets" && !event.password) throw new Error("bootstrap: secrets mode needs the proxy secret's password in the event");
        const statements = bootstrapStatements(spec, authMode === "secrets" ? { password: event.password } : {});
        const execute = deps.execute ?? dataApiExecutor({
            client: new RDSDataClient({}),
            resourceArn: required(env, "DB_CLUSTER_ARN"),
            secretArn: required(env, "DB_SECRET_ARN"),
            database: spec.database,
        });
        await execute(statements);
        return { ok: true, user: spec.user, statements: statements.length };
    };
}

export const handler = createBootstrapHandler({ env: process.env });
