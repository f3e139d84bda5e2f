import { strict as assert } from "node:assert";
import { createServer, Server, Socket } from "node:net";
import { AddressInfo } from "node:net";
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
