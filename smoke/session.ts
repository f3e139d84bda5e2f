// One smoke run's connections: every client gets bounded timeouts derived
// from the run's deadline, and all of them can be torn down at once when the
// deadline passes, so nothing outlives the run or hangs it.

import { Client, ClientConfig } from "pg";
import { verifyFullSsl } from "../client/tls";
import type { SmokeTarget } from "./target";

export type Password = string | (() => Promise<string>);

export interface AttemptSpec {
    user: string;
    /** Another endpoint of the same proxy (the READ_ONLY one); default the target's host and port. */
    host?: string;
    port?: number;
    /** The name TLS verifies; default `host`, or the target's proxyHost when connecting to the target itself. */
    name?: string;
    /** A function keeps tokens out of any config object that might be logged. */
    password: Password;
    tls: boolean;
}

export class DeadlineError extends Error {
    constructor(readonly budgetMs: number) {
        super(`smoke run exceeded its overall deadline of ${budgetMs} ms`);
        this.name = "DeadlineError";
    }
}

export class Session {
    private readonly clients = new Set<Client>();
    private readonly deadlineAt: number;

    constructor(
        readonly target: SmokeTarget,
        readonly budgetMs: number,
        private readonly connectTimeoutMs: number,
        private readonly queryTimeoutMs: number,
        private readonly clock: () => number,
    ) {
        this.deadlineAt = clock() + budgetMs;
    }

    /** The longest a single connection attempt may take in this run. */
    get connectBoundMs(): number {
        return Math.min(this.connectTimeoutMs, this.budgetMs);
    }

    remainingMs(): number {
        return Math.max(0, this.deadlineAt - this.clock());
    }

    /** Opens a client; rejects with pg's/Node's own error so it can be classified. */
    async connect(spec: AttemptSpec): Promise<Client> {
        const remaining = this.remainingMs();
        if (remaining <= 0) throw new DeadlineError(this.budgetMs);
        const bound = Math.max(1, Math.min(this.connectTimeoutMs, remaining));
        const config: ClientConfig = {
            host: spec.host ?? this.target.host,
            port: spec.port ?? this.target.port,
            database: this.target.database,
            user: spec.user,
            password: spec.password,
            // Through a tunnel host is 127.0.0.1 and the certificate names the proxy: verify that name (SNI), never the IP.
            ssl: spec.tls
                ? verifyFullSsl(
                      spec.name ?? (spec.host === undefined ? (this.target.proxyHost ?? this.target.host) : spec.host),
                      this.target.caPem,
                  )
                : false,
            connectionTimeoutMillis: bound,
            query_timeout: this.queryTimeoutMs,
            statement_timeout: this.queryTimeoutMs,
            application_name: "smoke-runner",
        };
        const client = new Client(config);
        // Errors after connect (server restart, proxy idle close) must not crash the process.
        client.on("error", () => undefined);
        this.clients.add(client);
        try {
            await client.connect();
            return client;
        } catch (err) {
            this.clients.delete(client);
            destroy(client);
            throw err;
        }
    }

    async close(client: Client): Promise<void> {
        this.clients.delete(client);
        await endWithin(client, 1_000);
    }

    /** Tears down everything still open: used on deadline and at the end of a run. */
    async closeAll(): Promise<void> {
        const open = [...this.clients];
        this.clients.clear();
        await Promise.all(open.map((client) => endWithin(client, 1_000)));
    }

    /** Races work against the run's deadline. */
    within<T>(work: Promise<T>): Promise<T> {
        const remaining = this.remainingMs();
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new DeadlineError(this.budgetMs)), remaining);
        });
        return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
    }
}

function destroy(client: Client): void {
    const stream = (client as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream;
    stream?.destroy?.();
}

async function endWithin(client: Client, ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const giveUp = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
    });
    await Promise.race([client.end().catch(() => undefined), giveUp]);
    clearTimeout(timer);
    destroy(client);
}
