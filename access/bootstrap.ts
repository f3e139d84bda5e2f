// Runs the bootstrap's statements through a pg client in one transaction, with bounded waits.
// No Pulumi import: the access/ room is bundled into the Lambdas.

import type pg from "pg";
import { BootstrapOptions, bootstrapStatements, toPositional } from "./bootstrap-sql";
import { AccessSpec, accessOf, GrantsSpec } from "./spec";

export interface BootstrapResult {
    statements: number;
    /** Managed roles no longer declared: NOLOGIN, no grants, kept because they may own objects. */
    retired: string[];
}

/** Runs the bootstrap in one transaction with bounded waits; on failure nothing is half-applied. */
export async function bootstrap(client: pg.ClientBase, input: AccessSpec | GrantsSpec, o: BootstrapOptions = {}): Promise<BootstrapResult> {
    const spec = accessOf(input);
    const statements = bootstrapStatements(spec, o);
    let retired: string[] = [];
    await client.query("BEGIN");
    try {
        await client.query("SET LOCAL lock_timeout = '10s'");
        await client.query("SET LOCAL statement_timeout = '60s'");
        for (const [index, statement] of statements.entries()) {
            try {
                const { text, values } = toPositional(statement);
                const result = await client.query(text, values);
                if (statement.returnsRows) retired = result.rows.map((row: { retired: string }) => row.retired);
            } catch (err) {
                // Statement text never holds a secret; parameters are not shown.
                const shown = statement.sql.replace(/\s+/g, " ").slice(0, 120);
                throw new Error(`grants: bootstrap of ${spec.users.map((u) => u.user).join(", ")} failed at statement ${index + 1}/${statements.length} (${shown}): ${(err as Error).message}`);
            }
        }
        await client.query("COMMIT");
    } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
    }
    return { statements: statements.length, retired };
}
