// npm run bench: what the smoke runner's way in costs, against the local data
// plane, compared with the floor of a direct TLS + password connection to the
// same PostgreSQL. Targets: ratio <= 1.5, full verdict <= 1 s.

import { performance } from "node:perf_hooks";
import { Client } from "pg";
import { localSmokeTarget, startLocalDataPlane } from "./dataplane";
import { runSmoke } from "../smoke/runner";
import { Session } from "../smoke/session";
import { tokenFactory } from "../client/token";
import { createIamPool } from "../client/pool";
import { verifyFullSsl } from "../client/tls";

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 25);
const WARMUP = 3;
const VERDICT_RUNS = 5;

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function ms(value: number): string {
    return `${value.toFixed(1)} ms`;
}

async function main(): Promise<number> {
    if (!Number.isInteger(SAMPLES) || SAMPLES < 20) {
        throw new Error(`BENCH_SAMPLES is ${process.env.BENCH_SAMPLES}; expected an integer >= 20`);
    }
    const dp = await startLocalDataPlane();
    try {
        const { target, credentials } = localSmokeTarget(dp);
        const caPem = target.caPem;
        const token = tokenFactory({ ...target, host: target.proxyHost, port: target.proxyPort, credentials });

        // (a) exactly the runner's positive connect: fresh token, verify-full TLS, proxy, first query.
        const smokeConnect = async (): Promise<number> => {
            const session = new Session(target, 10_000, 5_000, 5_000, () => performance.now());
            const started = performance.now();
            const client = await session.connect({ user: target.user, password: token, tls: true });
            await client.query("select current_user");
            const elapsed = performance.now() - started;
            await session.closeAll();
            return elapsed;
        };
        // (b) the floor: direct TLS (same verification) + password to the same PostgreSQL.
        const pgSsl = verifyFullSsl(dp.postgres.host, caPem);
        const directConnect = async (): Promise<number> => {
            const started = performance.now();
            const client = new Client({
                host: dp.postgres.host,
                port: dp.postgres.port,
                user: dp.postgres.user,
                password: dp.postgres.password,
                database: dp.database,
                ssl: pgSsl,
                connectionTimeoutMillis: 5_000,
            });
            client.on("error", () => undefined);
            await client.connect();
            await client.query("select current_user");
            const elapsed = performance.now() - started;
            await client.end();
            return elapsed;
        };

        for (let i = 0; i < WARMUP; i++) {
            await smokeConnect();
            await directConnect();
        }
        // Interleaved so drift (GC, CPU frequency, other work) hits both series alike.
        const smoke: number[] = [];
        const direct: number[] = [];
        for (let i = 0; i < SAMPLES; i++) {
            smoke.push(await smokeConnect());
            direct.push(await directConnect());
        }

        const verdicts: number[] = [];
        let lastOk = true;
        let lastReason: string | undefined;
        for (let i = 0; i < VERDICT_RUNS; i++) {
            const started = performance.now();
            const report = await runSmoke(target, { credentials });
            verdicts.push(performance.now() - started);
            lastOk &&= report.ok;
            lastReason ??= report.reason;
        }

        // (c) Token reuse: what signing costs per new connection, against what the connection costs, alone and in a storm.
        const SIGNS = 500;
        const signTimes: number[] = [];
        await token();
        for (let i = 0; i < SIGNS; i++) {
            const t = performance.now();
            await token();
            signTimes.push(performance.now() - t);
        }
        const STORM = 20;
        const storm = async (reuse: boolean): Promise<number> => {
            const pool = createIamPool({
                host: target.host,
                port: target.port,
                proxyHost: target.proxyHost,
                proxyPort: target.proxyPort,
                database: target.database,
                user: target.user,
                region: target.region,
                caPem,
                credentials,
                max: STORM,
            });
            if (reuse) {
                const once = await token();
                (pool as unknown as { options: { password: () => Promise<string> } }).options.password = async () => once;
            }
            const started = performance.now();
            const clients = await Promise.all(
                Array.from({ length: STORM }, () => pool.connect().then((c) => c.on("error", () => undefined))),
            );
            const elapsed = performance.now() - started;
            clients.forEach((c) => c.release());
            await pool.end();
            return elapsed;
        };
        const fresh: number[] = [];
        const reused: number[] = [];
        // Alternating which goes first, so a warm-up or refill effect of the stand-in hits both alike.
        for (let i = 0; i < 6; i++) {
            if (i % 2 === 0) {
                fresh.push(await storm(false));
                reused.push(await storm(true));
            } else {
                reused.push(await storm(true));
                fresh.push(await storm(false));
            }
        }

        const smokeMedian = median(smoke);
        const directMedian = median(direct);
        const ratio = smokeMedian / directMedian;
        const verdictMedian = median(verdicts);
        const ratioOk = ratio <= 1.5;
        const verdictOk = verdictMedian <= 1_000;
        console.log(`bench against the local data plane (${SAMPLES} samples each, interleaved, after ${WARMUP} warm-up rounds)`);
        console.log(
            `  (a) smoke positive connect (token + TLS + proxy + first query)  median ${ms(smokeMedian)}  min ${ms(Math.min(...smoke))}  max ${ms(Math.max(...smoke))}`,
        );
        console.log(
            `  (b) floor: direct TLS + password + first query                  median ${ms(directMedian)}  min ${ms(Math.min(...direct))}  max ${ms(Math.max(...direct))}`,
        );
        console.log(`  ratio a/b ${ratio.toFixed(2)} (target <= 1.5) ${ratioOk ? "✓" : "✗"}`);
        console.log(
            `  full smoke verdict: median ${ms(verdictMedian)} of ${VERDICT_RUNS} runs (target <= 1000 ms) ${verdictOk ? "✓" : "✗"}; verdict ${lastOk ? "PASS" : `FAIL: ${lastReason}`}`,
        );
        const signMedian = median(signTimes);
        const freshMedian = median(fresh);
        const reusedMedian = median(reused);
        const gain = (freshMedian - reusedMedian) / freshMedian;
        // What reuse can save is bounded by the signing it skips: STORM signs. A storm difference larger than
        // that is noise (scheduling, the server forking backends), not the token.
        const saveable = (signMedian * STORM) / freshMedian;
        const decision =
            signMedian / smokeMedian > 0.05
                ? `signing is over 5% of a connection: a token cache (at most 10 minutes of the 15-minute validity) would help`
                : `sign a fresh token per connection: reuse could save at most ${(saveable * 100).toFixed(2)}% of the storm (${STORM} signs), ` +
                  `any larger measured difference is not the token's; no token cache, nothing to expire`;
        console.log(
            `  (c) signing one IAM token: median ${signMedian.toFixed(3)} ms, p99 ${[...signTimes].sort((a, b) => a - b)[Math.floor(SIGNS * 0.99)].toFixed(3)} ms (${SIGNS} signs); ` +
                `${((signMedian / directMedian) * 100).toFixed(1)}% of the direct connect (b), ${((signMedian / smokeMedian) * 100).toFixed(1)}% of the proxied connect (a)`,
        );
        console.log(
            `      storm of ${STORM} concurrent new connections (median of 6, order alternating): a token per connection ${ms(freshMedian)}, one token reused ${ms(reusedMedian)} ` +
                `(${(gain * 100).toFixed(1)}% ${gain >= 0 ? "faster" : "slower"} with reuse)`,
        );
        console.log(`      decision: ${decision}`);
        return ratioOk && verdictOk && lastOk ? 0 : 1;
    } finally {
        await dp.stop();
    }
}

main().then(
    (code) => {
        process.exitCode = code;
    },
    (err) => {
        console.error(`bench: ${(err as Error).message}`);
        process.exitCode = 1;
    },
);
