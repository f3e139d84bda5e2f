// The stack outputs other tools read (`pulumi stack output --json`): the smoke CLI, `npm run db:connect`, the
// workflows. One list: the program (components/stack.ts) is type-checked against it, so renaming an output there
// fails to compile instead of breaking a reader at run time, and the readers name their keys through it.

/** A database user as the `dbUsers` output lists it. */
export interface OutputUser {
    name: string;
    access: string;
    endpoint?: string;
}

/** The outputs read by tools, with the types the program exports them as. */
export interface ConsumedOutputs {
    region: string;
    /** The writer endpoint of RDS Proxy: where to connect, what TLS verifies and what tokens are signed for. */
    proxyEndpoint: string;
    /** The READ_ONLY endpoint, when the cluster has readers. */
    proxyReaderEndpoint?: string;
    proxyPort: number;
    proxyAuthMode: string;
    dbName: string;
    /** The application's default user (DB_USER). */
    dbUser: string;
    /** The master user, which owns the app schema. */
    dbOwner: string;
    dbUsers: OutputUser[];
    /** Operator access (operator.enabled): the relay, its Session document and the users operators may be. */
    relayInstanceId?: string;
    operatorSessionDocument?: string;
    operatorUsers?: string[];
}

/** The name of an output a tool reads. */
export type OutputKey = keyof ConsumedOutputs;
