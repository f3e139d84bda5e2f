// db:connect's tunnel: the Session Manager port forward through the relay with the stack's own document (or,
// with --local, a TCP forwarder that applies the same host rule), bounded waits, one-line AWS CLI failures.
import { ChildProcess, spawn } from "node:child_process";
import * as net from "node:net";
import { tunnelRequestProblem } from "../../components/operator-session";
import { freePort } from "../../local/postgres";
import { ConnectError, INSTALL } from "./args";

/**
 * `aws ssm start-session` forwarding localhost:<localPort> to <host>:5432 through the relay with the stack's
 * document. Its parameters are lists of strings (host, localPortNumber); the port is no parameter: the document
 * fixes it at 5432, and a portNumber the document does not declare would be refused.
 */
export function startSessionArgv(o: {
    relayInstanceId: string;
    documentName: string;
    host: string;
    localPort: number;
    region: string;
}): string[] {
    return [
        "ssm",
        "start-session",
        "--target",
        o.relayInstanceId,
        "--document-name",
        o.documentName,
        "--parameters",
        JSON.stringify({ host: [o.host], localPortNumber: [String(o.localPort)] }),
        "--region",
        o.region,
    ];
}

/** One line with the fix for what the AWS CLI printed when the tunnel would not start (or ended). */
export function classifyAwsFailure(stderr: string, o: { relayInstanceId?: string; spawnError?: string } = {}): string {
    const text = stderr.trim();
    if (o.spawnError === "ENOENT") {
        return `the AWS CLI is not installed (aws not found on PATH); install AWS CLI v2 (${INSTALL.awsCli}) and the Session Manager plugin (${INSTALL.plugin})`;
    }
    if (/SessionManagerPlugin is not found|session-manager-plugin.*not found/i.test(text)) {
        return `the Session Manager plugin for the AWS CLI is not installed; install it (${INSTALL.plugin}), check with session-manager-plugin --version, and run the command again`;
    }
    if (/Unable to locate credentials|NoCredentialProviders|could not be found.*credentials/i.test(text)) {
        return "no AWS credentials: sign in (aws sso login --profile <profile>) and use a profile that assumes the stack's operatorRoleArn (AWS_PROFILE=...)";
    }
    if (/ExpiredToken|security token included in the request is expired|Token has expired|refresh failed/i.test(text)) {
        return "your AWS credentials have expired: sign in again (aws sso login --profile <profile>) and run the command again";
    }
    if (/TargetNotConnected/.test(text)) {
        return (
            `the relay ${o.relayInstanceId ?? ""} is not connected to Systems Manager (stopped, starting, or its agent cannot reach SSM through NAT); ` +
            "start it (aws ec2 start-instances --instance-ids <relayInstanceId>), wait a minute and run the command again"
        );
    }
    if (/AccessDenied|not authorized to perform/i.test(text)) {
        return "AWS refused the session: use credentials of the stack's operator role (operatorRoleArn), which may start sessions on the relay with the stack's document (operatorSessionDocument) only";
    }
    if (/InvalidParameters|allowed pattern|does not match/i.test(text)) {
        return `the session document refused the request (${text.split("\n").filter(Boolean).pop()}): it forwards only to this stack's proxy endpoints on 5432; pass one of them with --host, or none`;
    }
    const last = text.split("\n").filter(Boolean).pop();
    return `the Session Manager tunnel did not start: ${last ?? "the AWS CLI exited without a message"}`;
}

/** The local end of a tunnel: a port on 127.0.0.1 that leads to the proxy. */
export interface Tunnel {
    localPort: number;
    /** True once the tunnel has ended (the aws process exited, the forwarder closed). */
    readonly closed: boolean;
    close(): Promise<void>;
}

/** Resolves once 127.0.0.1:port accepts a TCP connection; rejects at the deadline or when `gaveUp` says so. */
export async function waitForPort(
    port: number,
    timeoutMs: number,
    gaveUp: () => string | undefined = () => undefined,
    o: { ready?: () => boolean; probeAfterMs?: number } = {},
): Promise<void> {
    const started = Date.now();
    const deadline = started + timeoutMs;
    for (;;) {
        const reason = gaveUp();
        if (reason) throw new ConnectError(reason);
        if (o.ready?.()) return;
        // Each probe is a connection the tunnel forwards; with a readiness signal, probe only if it never comes.
        const probe = Date.now() - started >= (o.probeAfterMs ?? 0);
        const ok =
            probe &&
            (await new Promise<boolean>((resolve) => {
                const socket = net.connect({ host: "127.0.0.1", port });
                const done = (v: boolean) => {
                    socket.destroy();
                    resolve(v);
                };
                socket.setTimeout(500, () => done(false));
                socket.once("connect", () => done(true));
                socket.once("error", () => done(false));
            }));
        if (ok) return;
        if (Date.now() > deadline)
            throw new ConnectError(
                `the tunnel's local port 127.0.0.1:${port} did not accept connections within ${timeoutMs / 1000}s; run the command again`,
            );
        await new Promise((r) => setTimeout(r, 100));
    }
}

/** The Session Manager port forward: `aws ssm start-session ...` as a child process, killed on close. */
export async function startSsmTunnel(o: {
    relayInstanceId: string;
    documentName: string;
    host: string;
    region: string;
    localPort?: number;
    timeoutMs?: number;
    awsBin?: string;
    env?: NodeJS.ProcessEnv;
}): Promise<Tunnel> {
    const localPort = o.localPort ?? (await freePort());
    const argv = startSessionArgv({
        relayInstanceId: o.relayInstanceId,
        documentName: o.documentName,
        host: o.host,
        localPort,
        region: o.region,
    });
    let stderr = "";
    let stdout = "";
    let exited = false;
    let spawnError: string | undefined;
    // Its own process group: a Ctrl-C meant for psql (cancel a query) must not end the tunnel under it.
    const child: ChildProcess = spawn(o.awsBin ?? "aws", argv, {
        stdio: ["ignore", "pipe", "pipe"],
        windowsHide: true,
        env: o.env ?? process.env,
        detached: true,
    });
    child.stdout!.on("data", (b: Buffer) => {
        stdout += b.toString();
        stderr += b.toString();
    });
    child.stderr!.on("data", (b: Buffer) => {
        stderr += b.toString();
    });
    child.once("error", (err: NodeJS.ErrnoException) => {
        spawnError = err.code ?? "error";
        exited = true;
    });
    child.once("exit", () => {
        exited = true;
    });
    // The whole group: aws starts session-manager-plugin, which must end with it.
    const signal = (sig: NodeJS.Signals) => {
        try {
            process.kill(-child.pid!, sig);
        } catch {
            child.kill(sig);
        }
    };
    const kill = () => {
        if (!exited) signal("SIGTERM");
    };
    process.once("exit", kill);
    const tunnel: Tunnel = {
        localPort,
        get closed() {
            return exited;
        },
        async close() {
            process.off("exit", kill);
            if (exited) return;
            const gone = new Promise<void>((r) => child.once("exit", () => r()));
            signal("SIGTERM");
            const timer = setTimeout(() => signal("SIGKILL"), 2_000);
            await gone;
            clearTimeout(timer);
        },
    };
    try {
        await waitForPort(
            localPort,
            o.timeoutMs ?? 30_000,
            () => {
                if (!exited) return undefined;
                // Give the last output a moment to arrive before judging it.
                return classifyAwsFailure(stderr, { relayInstanceId: o.relayInstanceId, spawnError });
            },
            {
                // The plugin prints this once the local port listens; probing the port is the fallback.
                ready: () => /Waiting for connections/.test(stdout),
                probeAfterMs: 5_000,
            },
        );
    } catch (err) {
        await tunnel.close();
        if (spawnError === undefined && exited) throw new ConnectError(classifyAwsFailure(stderr, { relayInstanceId: o.relayInstanceId }));
        throw err;
    }
    return tunnel;
}

/**
 * The local stand-in for the Session Manager tunnel with the stack's document: a session is asked for a host
 * name and a port, and, like the document, it refuses anything but one of the proxy endpoints on 5432
 * (tunnelRequestProblem, the rule the document's allowedPattern carries). `routes` plays the VPC's DNS:
 * proxy endpoint name → where its stand-in listens.
 */
export async function startLocalTunnel(
    request: { host: string; port: number },
    routes: Record<string, { host: string; port: number }>,
): Promise<Tunnel & { drop(): void }> {
    const problem = tunnelRequestProblem(Object.keys(routes), request);
    if (problem) throw new ConnectError(`db:connect: ${problem}`);
    return startTcpForwarder(routes[request.host]);
}

/** A TCP forwarder from a free port on 127.0.0.1 to `to` (what a port-forwarding session does once it is allowed). */
export async function startTcpForwarder(to: { host: string; port: number }): Promise<Tunnel & { drop(): void }> {
    const sockets = new Set<net.Socket>();
    let closed = false;
    const server = net.createServer((client) => {
        const upstream = net.connect(to);
        sockets.add(client);
        sockets.add(upstream);
        const end = () => {
            client.destroy();
            upstream.destroy();
            sockets.delete(client);
            sockets.delete(upstream);
        };
        client.on("error", end);
        upstream.on("error", end);
        client.on("close", end);
        upstream.on("close", end);
        client.pipe(upstream);
        upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address() as net.AddressInfo;
    const close = () =>
        new Promise<void>((resolve) => {
            closed = true;
            for (const s of sockets) s.destroy();
            server.close(() => resolve());
        });
    return {
        localPort: address.port,
        get closed() {
            return closed;
        },
        close,
        /** Drops every connection and stops accepting: what a Session Manager session ending looks like. */
        drop() {
            void close();
        },
    };
}
