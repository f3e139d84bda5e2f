// A stand-in for RDS Proxy with IAM authentication and RequireTLS, speaking the PostgreSQL wire
// protocol through pg-gateway. Like RDS Proxy it:
//   - refuses clients that do not ask for TLS;
//   - asks for a cleartext password (inside TLS) and accepts it only if it is a valid RDS IAM token
//     for this endpoint, this region, a trusted key and the startup user;
//   - only serves users it has credentials for, then opens its own TLS session to the database
//     and relays bytes both ways; the database's own AuthenticationOk/ParameterStatus/
//     BackendKeyData/ReadyForQuery reach the client unchanged, so the session is the real one.
// Upstream, the stand-in logs in with a client certificate (CN = user) issued by the throwaway CA
// and held only in this process; pg_hba requires `cert` for that user, so no password path into
// PostgreSQL exists for the app user at all. That is the local analogue of "only the proxy holds
// the credentials": an IAM token is the only way in.

import net from "node:net";
import tls from "node:tls";
import { createStartupMessage, PostgresConnection, type BackendError, type ClientInfo } from "pg-gateway";
import { TrustedCredentials, verifyRdsIamToken } from "./iam-token";

export interface UpstreamCredential {
    certPem: string;
    keyPem: string;
}

export interface RdsProxyStandInOptions {
    /** Address to listen on; also the host the IAM tokens must be signed for unless tokenHost says otherwise. */
    host: string;
    /**
     * The endpoint name IAM tokens must be signed for, and the port (RDS Proxy: its DNS name and 5432,
     * whatever local port a tunnelled client used). Default: host and the listening port.
     */
    tokenHost?: string;
    tokenPort?: number;
    /** 0 = any free port. */
    port?: number;
    region: string;
    credentials: TrustedCredentials;
    tls: { certPem: string; keyPem: string };
    upstream: {
        host: string;
        port: number;
        caPem: string;
        /** Name the database's certificate must carry. */
        servername: string;
        /** Users this proxy serves, with the client certificate it logs in with (CN = user). */
        users: Record<string, UpstreamCredential>;
    };
    now?: () => number;
    /**
     * RDS Proxy's RequireTLS (default true). false rehearses a misconfigured proxy that lets clients in
     * without TLS, so tests can prove the smoke runner catches it.
     */
    requireTls?: boolean;
    /** From TCP accept to an authenticated session. */
    handshakeTimeoutMs?: number;
    /** Idle client connection timeout (RDS Proxy default: 30 minutes). */
    idleTimeoutMs?: number;
    /** TLS sessions to the database kept ready per user, like RDS Proxy's warm pool (default 2). */
    warmUpstreams?: number;
}

export interface RdsProxyStandIn {
    host: string;
    port: number;
    close(): Promise<void>;
}

const SSL_REQUEST_CODE = 80877103;
const CANCEL_REQUEST_CODE = 80877102;
const GSSENC_REQUEST_CODE = 80877104;
const PASSWORD_MESSAGE = 0x70; // 'p'
const TERMINATE_MESSAGE = 0x58; // 'X'
/** Well under PostgreSQL's authentication_timeout (60 s), after which it drops a silent connection. */
const WARM_UPSTREAM_MAX_AGE_MS = 40_000;
const UPSTREAM_CONNECT_TIMEOUT_MS = 10_000;

export async function startRdsProxyStandIn(o: RdsProxyStandInOptions): Promise<RdsProxyStandIn> {
    const handshakeTimeoutMs = o.handshakeTimeoutMs ?? 15_000;
    const idleTimeoutMs = o.idleTimeoutMs ?? 30 * 60_000;
    const sockets = new Set<net.Socket>();
    let listeningPort = 0;
    const warm = new WarmUpstreams(o.upstream, o.warmUpstreams ?? 2);
    const secureContext = tls.createSecureContext({ cert: o.tls.certPem, key: o.tls.keyPem, minVersion: "TLSv1.2" });

    const server = net.createServer((socket) => {
        sockets.add(socket);
        const upstreams: tls.TLSSocket[] = [];
        const closeAll = () => {
            // Once TLS wraps the socket, the TLS socket owns the file descriptor: destroy both.
            // (Only ever called from events, so after `connection` below is initialised.)
            connection.secureSocket?.destroy();
            socket.destroy();
            for (const upstream of upstreams) upstream.destroy();
        };
        socket.on("close", () => {
            sockets.delete(socket);
            for (const upstream of upstreams) upstream.destroy();
        });
        socket.on("error", closeAll);
        socket.setNoDelay(true);
        // Until the session is relayed, the whole handshake (TLS included) must fit in this deadline.
        const handshakeDeadline = setTimeout(closeAll, handshakeTimeoutMs);
        handshakeDeadline.unref();
        socket.once("close", () => clearTimeout(handshakeDeadline));

        let upstreamSession: Promise<tls.TLSSocket> | undefined;
        const connection: PostgresConnection = new CachedContextConnection(secureContext, socket, {
            authMode: "cleartextPassword",
            tls: { cert: Buffer.from(o.tls.certPem), key: Buffer.from(o.tls.keyPem) },
            onTlsUpgrade() {
                connection.secureSocket?.on("error", closeAll);
            },
            async onStartup(state): Promise<boolean> {
                const user = state.clientInfo?.parameters.user ?? "";
                if (!state.tlsInfo && o.requireTls !== false) {
                    // RDS Proxy with RequireTLS: the client never asked for TLS.
                    return refuse(
                        connection,
                        { severity: "FATAL", code: "28000", message: "This RDS Proxy requires TLS connections" },
                        closeAll,
                    );
                }
                const credential = Object.hasOwn(o.upstream.users, user) ? o.upstream.users[user] : undefined;
                if (!credential) {
                    return refuse(
                        connection,
                        {
                            severity: "FATAL",
                            code: "28000",
                            message: `this RDS Proxy has no credentials for user ${JSON.stringify(user)}; it serves ${Object.keys(o.upstream.users).join(", ")}`,
                        },
                        closeAll,
                    );
                }
                // Open TLS to the database while the client sends its token: it is not
                // authenticated yet (no startup message is sent until the token checks out), it only
                // takes the upstream handshake off the connect latency.
                upstreamSession = warm.take(user, credential);
                upstreamSession
                    .then((upstream) => {
                        upstreams.push(upstream);
                        if (socket.destroyed) upstream.destroy();
                    })
                    .catch(() => undefined);
                return false; // pg-gateway now sends AuthenticationCleartextPassword
            },
            async onMessage(data, state) {
                try {
                    if (!state.hasStarted) return handlePreStartup(connection, data, o.upstream, closeAll);
                    if (state.isAuthenticated) return false;
                    if (data[0] === TERMINATE_MESSAGE) {
                        closeAll();
                        return true;
                    }
                    // Before authentication only a password is acceptable. Anything else is refused
                    // here: pg-gateway would otherwise answer queries itself (and print them on stdout).
                    if (data[0] !== PASSWORD_MESSAGE || !state.clientInfo || !upstreamSession) {
                        return refuse(
                            connection,
                            {
                                severity: "FATAL",
                                code: "08P01",
                                message: "expected a password response (the IAM token) before any other message",
                            },
                            closeAll,
                        );
                    }
                    const user = state.clientInfo.parameters.user;
                    // PasswordMessage: 'p', int32 length, password as a NUL-terminated string.
                    const token = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString(
                        "utf8",
                        5,
                        Math.max(5, data.byteLength - 1),
                    );
                    const verdict = await verifyRdsIamToken(token, {
                        host: o.tokenHost ?? o.host,
                        port: o.tokenPort ?? listeningPort,
                        user,
                        region: o.region,
                        credentials: o.credentials,
                        now: o.now,
                    });
                    if (!verdict.ok) {
                        return refuse(
                            connection,
                            {
                                severity: "FATAL",
                                code: "28P01",
                                message: `password authentication failed for user ${JSON.stringify(user)}: ${verdict.reason}`,
                            },
                            closeAll,
                        );
                    }
                    let upstream: tls.TLSSocket;
                    try {
                        upstream = await upstreamSession;
                    } catch (err) {
                        return refuse(
                            connection,
                            {
                                severity: "FATAL",
                                code: "08006",
                                message: `RDS Proxy stand-in could not reach the database at ${o.upstream.host}:${o.upstream.port}: ${(err as Error).message}`,
                            },
                            closeAll,
                        );
                    }
                    clearTimeout(handshakeDeadline);
                    relay(connection, state.clientInfo, upstream, idleTimeoutMs, closeAll);
                    return true;
                } catch (err) {
                    // Never let pg-gateway log it: a message could carry client input.
                    return refuse(
                        connection,
                        { severity: "FATAL", code: "XX000", message: `RDS Proxy stand-in failed: ${(err as Error).message}` },
                        closeAll,
                    );
                }
            },
        });
    });
    server.maxConnections = 1000;

    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(o.port ?? 0, o.host, () => {
            server.off("error", reject);
            resolve();
        });
    });
    const address = server.address();
    listeningPort = typeof address === "object" && address ? address.port : 0;
    for (const [user, credential] of Object.entries(o.upstream.users)) warm.fill(user, credential);

    let closing: Promise<void> | undefined;
    return {
        host: o.host,
        port: listeningPort,
        close() {
            closing ??= new Promise<void>((resolve) => {
                warm.close();
                server.close(() => resolve());
                for (const socket of sockets) socket.destroy();
            });
            return closing;
        },
    };
}

/**
 * pg-gateway 0.2.4 builds two TLS contexts per connection from PEM (one more when the client
 * sends SNI), about 2 ms of CPU each; RDS Proxy answers with one certificate, so we build its
 * context once. Same steps as PostgresConnection.upgradeToTls, with that context.
 */
class CachedContextConnection extends PostgresConnection {
    constructor(
        private readonly secureContext: tls.SecureContext,
        socket: net.Socket,
        options: ConstructorParameters<typeof PostgresConnection>[1],
    ) {
        super(socket, options);
    }

    override async upgradeToTls(): Promise<void> {
        this.tlsInfo = {};
        const raw = this.socket;
        raw.pause();
        this.removeSocketHandlers(raw);
        const secure = new tls.TLSSocket(raw, {
            isServer: true,
            secureContext: this.secureContext,
            SNICallback: (servername, callback) => {
                if (this.tlsInfo) this.tlsInfo.sniServerName = servername;
                callback(null, this.secureContext);
            },
        });
        this.secureSocket = secure;
        secure.pause();
        await new Promise<void>((resolve) => secure.once("secure", () => resolve()));
        this.createSocketHandlers(secure);
        this.socket = secure;
        await this.options.onTlsUpgrade?.(this.state);
        secure.resume();
        raw.resume();
    }
}

function refuse(connection: PostgresConnection, error: BackendError, closeAll: () => void): true {
    if (!connection.socket.destroyed && connection.socket.writable) {
        connection.sendError(error);
        connection.socket.end();
    }
    // If the client never reads the error, do not keep the socket around for long.
    setTimeout(closeAll, 1_000).unref();
    return true;
}

/** Messages that arrive before a startup message and that pg-gateway 0.2.4 does not know. */
function handlePreStartup(
    connection: PostgresConnection,
    data: Uint8Array,
    upstream: RdsProxyStandInOptions["upstream"],
    closeAll: () => void,
): boolean {
    if (data.length < 8) return false;
    const code = Buffer.from(data.buffer, data.byteOffset, data.byteLength).readInt32BE(4);
    if (code === GSSENC_REQUEST_CODE) {
        // No GSSAPI encryption here (nor in RDS Proxy): answer "N" so libpq goes on to SSLRequest.
        connection.sendData(Buffer.from("N"));
        return true;
    }
    if (code === CANCEL_REQUEST_CODE && data.length === 16) {
        // The database checks the backend key itself; only forward cancels that came over TLS.
        if (connection.secureSocket) {
            openUpstreamTls(upstream, undefined)
                .then((socket) => socket.end(Buffer.from(data)))
                .catch(() => undefined);
        }
        closeAll();
        return true;
    }
    return false;
}

function relay(
    connection: PostgresConnection,
    clientInfo: ClientInfo,
    upstream: tls.TLSSocket,
    idleTimeoutMs: number,
    closeAll: () => void,
): void {
    // The client's own startup parameters (user, database, application_name, ...) go to the database.
    upstream.write(createStartupMessage({ majorVersion: 3, minorVersion: 0, parameters: clientInfo.parameters }));
    const client = connection.detach();
    // A session may last; it may not sit idle longer than RDS Proxy's idle client timeout.
    client.setTimeout(idleTimeoutMs, closeAll);
    upstream.setTimeout(0);
    upstream.on("error", closeAll);
    upstream.on("close", closeAll);
    client.on("close", closeAll);
    client.pipe(upstream);
    upstream.pipe(client);
}

/**
 * Ready TLS sessions to the database, one list per user, not yet started: a session only gets
 * its startup message (and so becomes a login) after the client's token checked out. PostgreSQL
 * drops a connection that sends no startup within authentication_timeout (60 s); such sockets
 * leave the pool when they close and are replaced.
 */
class WarmUpstreams {
    private readonly ready = new Map<string, tls.TLSSocket[]>();
    private readonly pending = new Map<string, number>();
    private readonly onClose = new Map<tls.TLSSocket, () => void>();
    private readonly openedAt = new WeakMap<tls.TLSSocket, number>();
    private closed = false;

    constructor(
        private readonly upstream: RdsProxyStandInOptions["upstream"],
        private readonly size: number,
    ) {}

    take(user: string, credential: UpstreamCredential): Promise<tls.TLSSocket> {
        const list = this.ready.get(user) ?? [];
        let socket: tls.TLSSocket | undefined;
        const fresh = (s: tls.TLSSocket) =>
            !s.destroyed && s.writable && Date.now() - (this.openedAt.get(s) ?? 0) < WARM_UPSTREAM_MAX_AGE_MS;
        while ((socket = list.shift()) && !fresh(socket)) socket.destroy();
        this.fill(user, credential);
        if (socket) {
            const onClose = this.onClose.get(socket);
            if (onClose) socket.off("close", onClose);
            this.onClose.delete(socket);
            return Promise.resolve(socket);
        }
        return openUpstreamTls(this.upstream, credential);
    }

    fill(user: string, credential: UpstreamCredential): void {
        const list = this.ready.get(user) ?? [];
        this.ready.set(user, list);
        const missing = this.size - list.length - (this.pending.get(user) ?? 0);
        for (let i = 0; i < missing && !this.closed; i++) {
            this.pending.set(user, (this.pending.get(user) ?? 0) + 1);
            openUpstreamTls(this.upstream, credential)
                .then((socket) => {
                    if (this.closed) {
                        socket.destroy();
                        return;
                    }
                    list.push(socket);
                    this.openedAt.set(socket, Date.now());
                    const onClose = () => {
                        this.onClose.delete(socket);
                        const index = list.indexOf(socket);
                        if (index >= 0) list.splice(index, 1);
                        if (!this.closed) setTimeout(() => this.fill(user, credential), 100).unref();
                    };
                    this.onClose.set(socket, onClose);
                    socket.once("close", onClose);
                })
                // An unreachable database shows up on the next client's own attempt.
                .catch(() => undefined)
                .finally(() => this.pending.set(user, (this.pending.get(user) ?? 1) - 1));
        }
    }

    close(): void {
        this.closed = true;
        for (const list of this.ready.values()) for (const socket of list.splice(0)) socket.destroy();
    }
}

/** SSLRequest, then TLS verified against the throwaway CA, optionally with a client certificate. */
function openUpstreamTls(upstream: RdsProxyStandInOptions["upstream"], credential: UpstreamCredential | undefined): Promise<tls.TLSSocket> {
    return new Promise((resolve, reject) => {
        const raw = net.connect({ host: upstream.host, port: upstream.port });
        const fail = (err: Error) => {
            raw.destroy();
            reject(err);
        };
        raw.setNoDelay(true);
        raw.setTimeout(UPSTREAM_CONNECT_TIMEOUT_MS, () => fail(new Error(`no TLS session within ${UPSTREAM_CONNECT_TIMEOUT_MS / 1000}s`)));
        raw.once("error", fail);
        raw.once("connect", () => {
            const sslRequest = Buffer.alloc(8);
            sslRequest.writeInt32BE(8, 0);
            sslRequest.writeInt32BE(SSL_REQUEST_CODE, 4);
            raw.write(sslRequest);
        });
        raw.once("data", (answer: Buffer) => {
            if (answer.length !== 1 || answer[0] !== 0x53 /* 'S' */) {
                fail(new Error("the database refused TLS"));
                return;
            }
            const secure = tls.connect({
                socket: raw,
                servername: upstream.servername,
                ca: upstream.caPem,
                ...(credential ? { cert: credential.certPem, key: credential.keyPem } : {}),
                minVersion: "TLSv1.2",
            });
            secure.once("error", fail);
            secure.once("secureConnect", () => {
                secure.off("error", fail);
                // Until relay() attaches its own handlers, an error just closes it.
                secure.on("error", () => secure.destroy());
                // raw keeps `fail` as its error handler: after resolve it only destroys the socket.
                raw.setTimeout(0);
                resolve(secure);
            });
        });
    });
}
