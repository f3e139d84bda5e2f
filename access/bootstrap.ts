// Runs the bootstrap's statements through a pg client in one transaction, with bounded waits: the local
// plane's bootstrap, and the bootstrap Lambda's path inside the VPC (DB_BOOTSTRAP_PATH=vpc).
// No Pulumi import: the access/ room is bundled into the Lambdas.

import type pg from "pg";
import { BootstrapOptions, bootstrapStatements, SqlStatement, toPositional } from "./bootstrap-sql";
import { AccessSpec, accessOf, GrantsSpec } from "./spec";

export interface BootstrapResult {
    statements: number;
    /** Managed roles no longer declared: NOLOGIN, no grants, kept because they may own objects. */
    retired: string[];
}

/** How long the bootstrap waits for a lock, and how long one statement may run. */
export const BOOTSTRAP_LOCK_TIMEOUT = "10s";
export const BOOTSTRAP_STATEMENT_TIMEOUT = "60s";

/**
 * Runs statements in one transaction with bounded waits; on failure nothing is half-applied. Returns each
 * statement's rows (for those with returnsRows) or undefined. `what` names the run in an error.
 */
export async function runStatements(
    client: pg.ClientBase,
    statements: SqlStatement[],
    what: string,
): Promise<Array<Array<Record<string, unknown>> | undefined>> {
    const results: Array<Array<Record<string, unknown>> | undefined> = [];
    await client.query("BEGIN");
    try {
        await client.query(`SET LOCAL lock_timeout = '${BOOTSTRAP_LOCK_TIMEOUT}'`);
        await client.query(`SET LOCAL statement_timeout = '${BOOTSTRAP_STATEMENT_TIMEOUT}'`);
        for (const [index, statement] of statements.entries()) {
            try {
                const { text, values } = toPositional(statement);
                const result = await client.query(text, values);
                results.push(statement.returnsRows ? result.rows : undefined);
            } catch (err) {
                // Statement text never holds a secret; parameters are not shown.
                const shown = statement.sql.replace(/\s+/g, " ").slice(0, 120);
                throw new Error(`${what} failed at statement ${index + 1}/${statements.length} (${shown}): ${(err as Error).message}`);
            }
        }
        await client.query("COMMIT");
    } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
    }
    return results;
}

/** Runs the bootstrap in one transaction with bounded waits; on failure nothing is half-applied. */
export async function bootstrap(client: pg.ClientBase, input: AccessSpec | GrantsSpec, o: BootstrapOptions = {}): Promise<BootstrapResult> {
    const spec = accessOf(input);
    const statements = bootstrapStatements(spec, o);
    const results = await runStatements(client, statements, `grants: bootstrap of ${spec.users.map((u) => u.user).join(", ")}`);
    const retired = (results[statements.findIndex((s) => s.returnsRows)] ?? []).map((row) => String(row.retired));
    return { statements: statements.length, retired };
}
