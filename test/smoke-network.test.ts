import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { AddressInfo, createServer, Server, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSecureContext, TLSSocket } from "node:tls";
import { runSmoke, SmokeTarget } from "../smoke/runner";

// Only loopback targets: nothing here may leave the machine.
const credentials = { accessKeyId: "AKIDSMOKENETWORK", secretAccessKey: "network-test-secret" };
const base: Omit<SmokeTarget, "port"> = { host: "127.0.0.1", database: "appdb", user: "app_user", region: "eu-west-1", authMode: "iam" };

function listen(server: Server): Promise<number> {
    return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

describe("smoke runner when the proxy cannot be reached", () => {
    it("reports a refused connection on a closed loopback port, quickly", async () => {
        // Bind then close to get a port that is (almost certainly) closed.
        const probe = createServer();
        const port = await listen(probe);
        await new Promise((resolve) => probe.close(resolve));

        const started = Date.now();
        const r = await runSmoke({ ...base, port }, { credentials, connectTimeoutMs: 1_000, timeoutMs: 3_000 });
        const elapsed = Date.now() - started;
        assert.equal(r.ok, false);
        assert.equal(r.checks[0].kind, "refused");
        assert.match(r.reason ?? "", /connection refused by 127\.0\.0\.1:\d+/);
        assert.ok(elapsed < 1_000, `took ${elapsed} ms`);
    });

    describe("against a server that accepts but never answers", () => {
        const sockets = new Set<Socket>();
        const silent = createServer((socket) => {
            sockets.add(socket);
            // Read and discard (the SSLRequest), so the client's FIN is seen and "close" fires.
            socket.resume();
            socket.on("close", () => sockets.delete(socket));
        });
        let port = 0;
        before(async () => {
            port = await listen(silent);
        });
        after(async () => {
            for (const s of sockets) s.destroy();
            await new Promise((resolve) => silent.close(resolve));
        });

        it("times out the connection within its bound and says so", async () => {
            const started = Date.now();
            const r = await runSmoke({ ...base, port }, { credentials, connectTimeoutMs: 600, timeoutMs: 5_000 });
            const elapsed = Date.now() - started;
            assert.equal(r.ok, false);
            assert.equal(r.checks[0].kind, "timeout");
            assert.match(r.reason ?? "", /timed out connecting to 127\.0\.0\.1:\d+/);
            assert.ok(elapsed >= 550 && elapsed < 1_600, `took ${elapsed} ms`);
        });

        it("never runs past the overall deadline, even with a longer connect timeout", async () => {
            const started = Date.now();
            const r = await runSmoke({ ...base, port }, { credentials, connectTimeoutMs: 10_000, timeoutMs: 700 });
            const elapsed = Date.now() - started;
            assert.equal(r.ok, false);
            assert.equal(r.checks[0].kind, "timeout");
            assert.ok(elapsed < 1_700, `took ${elapsed} ms`);
        });

        it("leaves no connection open behind it", async () => {
            await runSmoke({ ...base, port }, { credentials, connectTimeoutMs: 300, timeoutMs: 1_000 });
            await new Promise((resolve) => setTimeout(resolve, 100));
            assert.equal(sockets.size, 0);
        });
    });
});

describe("smoke runner's host name verification", () => {
    // A PostgreSQL-speaking TLS endpoint whose certificate is valid, signed by a CA we
    // trust, but issued for another name: only the host name check can refuse it.
    const dir = mkdtempSync(join(tmpdir(), "smoke-altname-"));
    const sockets = new Set<Socket>();
    let server: Server;
    let caPem = "";
    let port = 0;

    before(function () {
        this.timeout(10_000);
        const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
        openssl(
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=smoke test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        );
        openssl(
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=other.example",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        );
        writeFileSync(join(dir, "ext.cnf"), "subjectAltName=DNS:other.example\n");
        openssl(
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        );
        caPem = readFileSync(join(dir, "ca.pem"), "utf8");
        const secureContext = createSecureContext({
            cert: readFileSync(join(dir, "server.pem")),
            key: readFileSync(join(dir, "server.key")),
        });
        server = createServer((socket) => {
            sockets.add(socket);
            socket.on("close", () => sockets.delete(socket));
            socket.on("error", () => undefined);
            socket.once("data", () => {
                // Answer the SSLRequest with "S", then speak TLS on the same socket.
                socket.write("S");
                const secure = new TLSSocket(socket, { isServer: true, secureContext });
                secure.on("error", () => undefined);
            });
        });
    });
    before(async () => {
        port = await listen(server);
    });
    after(async () => {
        for (const s of sockets) s.destroy();
        await new Promise((resolve) => server.close(resolve));
        rmSync(dir, { recursive: true, force: true });
    });

    it("refuses a trusted certificate issued for another name, and says to pass --ca / use the endpoint name", async () => {
        const started = Date.now();
        const r = await runSmoke({ ...base, port, caPem }, { credentials, connectTimeoutMs: 2_000, timeoutMs: 4_000 });
        assert.equal(r.ok, false);
        assert.equal(r.checks[0].kind, "tls");
        assert.match(r.checks[0].detail, /TLS verification failed for 127\.0\.0\.1 \(ERR_TLS_CERT_ALTNAME_INVALID\)/);
        assert.ok(Date.now() - started < 2_000);
    });
});
