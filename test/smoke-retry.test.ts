// Right after a deploy the proxy's target may still be registering: the smoke retries transient
// connection failures within its budget, and never retries a refusal of its credentials or TLS.
import { strict as assert } from "assert";
import * as net from "net";
import { performance } from "perf_hooks";
import { LocalDataPlane, localSmokeTarget, startLocalDataPlane } from "../local/dataplane";
import { runSmoke } from "../smoke/runner";

async function closedPort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    return port;
}

describe("smoke connection retries", function () {
    this.timeout(30000);
    let dp: LocalDataPlane;
    before(async () => {
        dp = await startLocalDataPlane();
    });
    after(async () => {
        await dp?.stop();
    });

    it("retries a refused connection until its retry budget, then says how often it tried", async () => {
        const { target, credentials } = localSmokeTarget(dp);
        const started = performance.now();
        const r = await runSmoke(
            { ...target, port: await closedPort() },
            { credentials, retryConnectMs: 2_500, timeoutMs: 10_000, negatives: false },
        );
        const elapsed = performance.now() - started;
        assert.equal(r.ok, false);
        assert.match(r.checks[0].detail, /refused.*\(after [2-9] attempts\)/);
        assert.ok(elapsed >= 1_000 && elapsed < 5_000, `${elapsed} ms`);
    });

    it("does not retry when the proxy refuses the token", async () => {
        const { target, credentials } = localSmokeTarget(dp);
        const started = performance.now();
        const r = await runSmoke(target, {
            credentials: { ...credentials, secretAccessKey: "wrong-secret" },
            retryConnectMs: 10_000,
            negatives: false,
        });
        assert.equal(r.ok, false);
        assert.equal(r.checks[0].kind, "auth");
        assert.doesNotMatch(r.checks[0].detail, /attempts/);
        assert.ok(performance.now() - started < 2_000);
    });

    it("passes straight away when the proxy is ready", async () => {
        const { target, credentials } = localSmokeTarget(dp);
        const r = await runSmoke(target, { credentials, retryConnectMs: 10_000 });
        assert.equal(r.ok, true);
    });
});
