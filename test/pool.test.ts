import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import * as FakeTimers from "@sinonjs/fake-timers";
import { Pool, PoolClient } from "pg";
import { startLocalDataPlane, LocalDataPlane } from "../local/dataplane";
import { createIamPool } from "../client/pool";
import { tokenFactory } from "../client/token";
import { verifyFullSsl } from "../client/tls";

const SIXTEEN_MINUTES = 16 * 60_000;

describe("IAM pool helper against the local data plane", function () {
  this.timeout(30_000);
  let dp: LocalDataPlane;
  let caPem: string;
  let credentials: { accessKeyId: string; secretAccessKey: string };

  before(async () => {
    dp = await startLocalDataPlane();
    caPem = readFileSync(dp.caFile, "utf8");
    credentials = { accessKeyId: dp.accessKeyId, secretAccessKey: dp.secretAccessKey };
  });
  after(async () => {
    await dp?.stop();
  });

  // The stand-in is reached at 127.0.0.1 and named like the proxy, as through a tunnel.
  const options = () => ({ host: dp.host, port: dp.port, proxyHost: dp.proxyHost, proxyPort: dp.proxyPort, database: dp.database, user: dp.user, region: dp.region, caPem, credentials });

  async function whoami(client: PoolClient): Promise<string> {
    const { rows } = await client.query<{ current_user: string }>("select current_user");
    return rows[0].current_user;
  }

  it("signs a fresh token for every new connection", async () => {
    const pool = createIamPool({ ...options(), max: 3 });
    const holder = pool as unknown as { options: { password: () => Promise<string> } };
    const sign = holder.options.password;
    let calls = 0;
    holder.options.password = () => {
      calls += 1;
      return sign();
    };
    try {
      const clients = [await pool.connect(), await pool.connect(), await pool.connect()];
      for (const c of clients) assert.equal(await whoami(c), dp.user);
      assert.equal(calls, 3);
      clients.forEach((c) => c.release());
      // Reusing an idle connection needs no new token.
      const again = await pool.connect();
      again.release();
      assert.equal(calls, 3);
    } finally {
      await pool.end();
    }
  });

  describe("when the first token has expired (Date moved 16 minutes, in process)", () => {
    let clock: FakeTimers.Clock;
    beforeEach(() => {
      // Only Date: the signer and the stand-in both read Date.now; pg's real timers keep running.
      clock = FakeTimers.withGlobal(globalThis).install({ toFake: ["Date"], now: Date.now() });
    });
    afterEach(() => clock.uninstall());

    it("opens its next connection with a new token, and the first one keeps working", async () => {
      const pool = createIamPool({ ...options(), max: 2 });
      try {
        const first = await pool.connect();
        assert.equal(await whoami(first), dp.user);
        clock.tick(SIXTEEN_MINUTES);
        // `first` is still checked out, so the pool must open a second connection.
        const second = await pool.connect();
        assert.equal(await whoami(second), dp.user);
        assert.equal(await whoami(first), dp.user, "an open connection outlives its token");
        first.release();
        second.release();
      } finally {
        await pool.end();
      }
    });

    it("fails its next connection when it holds one token fetched at start-up (so this test can fail)", async () => {
      const tokenAtStartup = await tokenFactory({ ...options(), host: dp.proxyHost, port: dp.proxyPort })();
      const pool = new Pool({
        host: dp.host,
        port: dp.port,
        database: dp.database,
        user: dp.user,
        password: tokenAtStartup,
        ssl: verifyFullSsl(dp.proxyHost, caPem),
        max: 2,
        connectionTimeoutMillis: 5_000,
      });
      pool.on("error", () => undefined);
      try {
        const first = await pool.connect();
        assert.equal(await whoami(first), dp.user);
        clock.tick(SIXTEEN_MINUTES);
        await assert.rejects(pool.connect(), (err: Error & { code?: string }) => {
          assert.ok(!err.message.includes("X-Amz"), "the error must not echo the token");
          return err.code === "28P01" || err.code === "28000";
        });
        first.release();
      } finally {
        await pool.end();
      }
    });
  });
});
