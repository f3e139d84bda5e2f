// Quoting for SQL text: identifiers are validated first (spec.ts), so quoting never needs escaping.
import { assertIdentifier } from "./spec";

/** Identifiers are validated against IDENTIFIER first, so quoting never needs escaping. */
export function ident(name: string): string {
    assertIdentifier("identifier", name);
    return `"${name}"`;
}

export function literal(value: string): string {
    return `'${value.replace(/'/g, "''")}'`;
}
