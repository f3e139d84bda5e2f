// db:connect's arguments: the command line, validated one line per mistake, and what the stack's outputs say to
// connect to (endpoint, relay, document, users).
import { parseArgs } from "node:util";
import { TUNNEL_PORT, tunnelRequestProblem } from "../../components/operator-session";
import { PROXY_PORT } from "../../local/dataplane";
import type { OutputKey } from "../../smoke/stack-outputs";
import { IDENTIFIER } from "../../access/spec";

export const USAGE = `Usage:
  npm run db:connect -- --stack NAME [--user NAME] [--reader | --host NAME] [-c SQL | --psql | --print-env] [--ca FILE] [--local-port N]
  npm run db:connect -- --local [--user NAME] [--reader | --host NAME] -c SQL

  --stack NAME      the Pulumi stack whose outputs name the proxy, the relay and the operator users
  --local           the local plane instead (npm start's stand-ins), through a local TCP forwarder
  --user NAME       database user (default: the stack's readonly operator user); one of operatorUsers
  --reader          through the READ_ONLY proxy endpoint (stacks that have one)
  --host NAME       the proxy endpoint to forward to, by name; the tunnel refuses any other host
  -c SQL            run SQL and print the rows (tab-separated, no header)
  --psql            run psql with host=<endpoint> hostaddr=127.0.0.1 sslmode=verify-full (the default)
  --print-env       print PG* variables (token included) for other tools, then keep the tunnel open until Ctrl-C
  --ca FILE         extra trusted CA bundle (PEM), e.g. https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
  --local-port N    the local end of the tunnel (default: a free port)
  --timeout S       the longest -c may run, in seconds (default 600: long enough for a migration, never forever)

AWS credentials come from the usual chain (AWS_PROFILE, aws sso login); use the stack's operatorRoleArn.`;

/** Where the AWS CLI v2 and the Session Manager plugin are documented for installation. */
export const INSTALL = {
    awsCli: "https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html",
    plugin: "https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html",
};

export type Action = { kind: "sql"; sql: string } | { kind: "psql" } | { kind: "print-env" };

export interface ConnectArgs {
    source: { kind: "stack"; stack: string } | { kind: "local" };
    user?: string;
    reader: boolean;
    /** The host the tunnel is asked for (default: the writer endpoint, or the READ_ONLY one with --reader). */
    host?: string;
    action: Action;
    caFile?: string;
    localPort?: number;
    /** The bound on -c, in seconds. */
    timeoutSeconds: number;
}

export class ConnectError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ConnectError";
    }
}

/** The command line, validated: one line per mistake, naming the flag, the value and what is allowed. */
export function parseConnectArgs(argv: string[]): ConnectArgs {
    let values: Record<string, string | boolean | undefined>;
    try {
        ({ values } = parseArgs({
            args: argv,
            options: {
                stack: { type: "string" },
                local: { type: "boolean" },
                user: { type: "string" },
                reader: { type: "boolean" },
                host: { type: "string" },
                c: { type: "string", short: "c" },
                psql: { type: "boolean" },
                "print-env": { type: "boolean" },
                ca: { type: "string" },
                "local-port": { type: "string" },
                timeout: { type: "string" },
                help: { type: "boolean", short: "h" },
            },
            strict: true,
        }));
    } catch (err) {
        throw new ConnectError(`db:connect: ${(err as Error).message}`);
    }
    if (values.help) throw new ConnectError(USAGE);
    if ((values.stack === undefined) === (values.local !== true)) {
        throw new ConnectError("db:connect: name exactly one of --stack NAME (a deployed stack) or --local (the local plane)");
    }
    if (values.stack !== undefined && !/^[A-Za-z0-9_.\-/]{1,200}$/.test(String(values.stack))) {
        throw new ConnectError(`db:connect: --stack is ${JSON.stringify(values.stack)}; expected a stack name such as dev or prod`);
    }
    if (values.user !== undefined && !IDENTIFIER.test(String(values.user))) {
        throw new ConnectError(`db:connect: --user is ${JSON.stringify(values.user)}; expected a database user name such as app_reader`);
    }
    if (values.host !== undefined && values.reader) throw new ConnectError("db:connect: choose one of --reader or --host NAME");
    if (values.host !== undefined && !/^[A-Za-z0-9.:\-[\]]{1,253}$/.test(String(values.host))) {
        throw new ConnectError(`db:connect: --host is ${JSON.stringify(values.host)}; expected a proxy endpoint's DNS name`);
    }
    const actions = [values.c !== undefined, values.psql === true, values["print-env"] === true].filter(Boolean).length;
    if (actions > 1) throw new ConnectError("db:connect: choose one of -c SQL, --psql or --print-env");
    if (values.local && values.c === undefined)
        throw new ConnectError('db:connect: --local runs -c SQL only (e.g. -c "select current_user")');
    let localPort: number | undefined;
    if (values["local-port"] !== undefined) {
        localPort = Number(values["local-port"]);
        if (!Number.isInteger(localPort) || localPort < 1024 || localPort > 65535) {
            throw new ConnectError(`db:connect: --local-port is ${JSON.stringify(values["local-port"])}; expected an integer 1024..65535`);
        }
    }
    const timeoutSeconds = values.timeout === undefined ? 600 : Number(values.timeout);
    if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 86_400) {
        throw new ConnectError(`db:connect: --timeout is ${JSON.stringify(values.timeout)}; expected seconds, an integer 1..86400`);
    }
    const action: Action =
        values.c !== undefined ? { kind: "sql", sql: String(values.c) } : values["print-env"] ? { kind: "print-env" } : { kind: "psql" };
    return {
        source: values.local ? { kind: "local" } : { kind: "stack", stack: String(values.stack) },
        ...(values.user !== undefined ? { user: String(values.user) } : {}),
        reader: values.reader === true,
        ...(values.host !== undefined ? { host: String(values.host) } : {}),
        action,
        ...(values.ca !== undefined ? { caFile: String(values.ca) } : {}),
        ...(localPort !== undefined ? { localPort } : {}),
        timeoutSeconds,
    };
}

/** What the command needs from a stack's outputs. */
export interface OperatorTarget {
    region: string;
    database: string;
    /** The proxy endpoint (writer, or READ_ONLY with --reader): what the token is signed for and TLS verifies. */
    endpoint: string;
    /** RDS Proxy's port: 5432. */
    port: number;
    user: string;
    relayInstanceId?: string;
    /** The stack's Session document: forwards only to the proxy's endpoints (below), on 5432. */
    sessionDocument: string;
    /** Every endpoint name the document admits: the writer and, where there is one, the READ_ONLY endpoint. */
    proxyEndpoints: string[];
}

/** Picks the endpoint and user from `pulumi stack output --json`; every missing piece is one line with its fix. */
export function operatorTarget(outputs: unknown, o: { stack: string; user?: string; reader: boolean; host?: string }): OperatorTarget {
    const out = (outputs ?? {}) as Record<string, unknown>;
    const str = (key: OutputKey) => (typeof out[key] === "string" && out[key] !== "" ? (out[key] as string) : undefined);
    const relay = str("relayInstanceId");
    if (!relay) {
        throw new ConnectError(
            `db:connect: stack ${o.stack} has no relayInstanceId output: operator access is off or not deployed; set operator.enabled: true and run pulumi up`,
        );
    }
    const sessionDocument = str("operatorSessionDocument");
    if (!sessionDocument) {
        throw new ConnectError(
            `db:connect: stack ${o.stack} has no operatorSessionDocument output: it predates the tunnel locked to the proxy (issue 15); run pulumi up`,
        );
    }
    const proxyEndpoints = [str("proxyEndpoint"), str("proxyReaderEndpoint")].filter((e): e is string => e !== undefined);
    if (o.host !== undefined && proxyEndpoints.length === 0) {
        throw new ConnectError(`db:connect: stack ${o.stack} has no proxyEndpoint output; has it been deployed?`);
    }
    if (o.host !== undefined) {
        const problem = tunnelRequestProblem(proxyEndpoints, { host: o.host, port: TUNNEL_PORT });
        if (problem) throw new ConnectError(`db:connect: ${problem}`);
    }
    const endpoint = o.host ?? (o.reader ? str("proxyReaderEndpoint") : str("proxyEndpoint"));
    if (!endpoint) {
        throw new ConnectError(
            o.reader
                ? `db:connect: stack ${o.stack} has no READ_ONLY proxy endpoint (proxyReaderEndpoint output); drop --reader`
                : `db:connect: stack ${o.stack} has no proxyEndpoint output; has it been deployed?`,
        );
    }
    const region = str("region");
    const database = str("dbName");
    if (!region || !database)
        throw new ConnectError(`db:connect: stack ${o.stack}'s outputs lack region or dbName; expected this program's outputs`);
    const operatorUsers = Array.isArray(out.operatorUsers)
        ? (out.operatorUsers as unknown[]).filter((u): u is string => typeof u === "string")
        : [];
    if (operatorUsers.length === 0) {
        throw new ConnectError(
            `db:connect: stack ${o.stack} gives operators no database user (operatorUsers is empty); set operator.users and run pulumi up`,
        );
    }
    const users = Array.isArray(out.dbUsers) ? (out.dbUsers as Array<{ name?: string; access?: string; endpoint?: string }>) : [];
    let user = o.user;
    if (user === undefined) {
        const readonly = operatorUsers.filter((n) => users.find((u) => u.name === n)?.access === "readonly");
        user = (o.reader ? readonly.find((n) => users.find((u) => u.name === n)?.endpoint === "reader") : undefined) ?? readonly[0];
        if (!user)
            throw new ConnectError(
                `db:connect: stack ${o.stack} has no readonly operator user to default to; pass --user (one of ${operatorUsers.join(", ")})`,
            );
    } else if (!operatorUsers.includes(user)) {
        throw new ConnectError(
            `db:connect: --user ${user} is not an operator user of stack ${o.stack}; the operator role may connect as ${operatorUsers.join(", ")} (operator.users)`,
        );
    }
    const port = typeof out.proxyPort === "number" ? out.proxyPort : PROXY_PORT;
    return { region, database, endpoint, port, user, relayInstanceId: relay, sessionDocument, proxyEndpoints };
}
