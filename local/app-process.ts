// Runs app/ as a real process against the local data plane, with the environment the ECS task
// definition gives it (components/ecs.ts appEnvironment) plus what a tunnel adds: where to dial
// (DB_CONNECT_ADDRESS), the throwaway CA (NODE_EXTRA_CA_CERTS, Node's own way to add a root) and the
// key pair the stand-in trusts (the SDK's standard AWS_* variables, as the task role's would be).
//
// The service is bundled with esbuild first (tsconfig paths map @aurora-iam-proxy/client to
// client/index.ts), so the child starts with plain `node`, in ~0.1 s, with no TypeScript loader.
import { ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { build } from "esbuild";
import { ENV } from "../client/env";
import { appEnvironment } from "../components/ecs";
import type { LocalDataPlane } from "./dataplane";

const ROOT = path.join(__dirname, "..");
const START_TIMEOUT_MS = 10_000;

export interface AppProcess {
    /** http://127.0.0.1:<port> */
    url: string;
    /** Every line the service wrote (JSON logs on stdout, errors on stderr). */
    output(): string;
    stop(): Promise<void>;
}

/** The service as one CommonJS file (pg and the signer inside), built in memory. */
export async function bundleApp(): Promise<string> {
    const result = await build({
        entryPoints: [path.join(ROOT, "app", "main.ts")],
        bundle: true,
        platform: "node",
        target: "node20",
        format: "cjs",
        write: false,
        external: ["pg-native"],
        logLevel: "silent",
        absWorkingDir: ROOT,
        tsconfig: path.join(ROOT, "tsconfig.json"),
    });
    return result.outputFiles[0].text;
}

/** The environment the service gets locally: the task definition's, pointed at the plane through its tunnel-like addresses. */
export function localAppEnvironment(plane: LocalDataPlane, readonlyUser: string | undefined): Record<string, string> {
    const task = appEnvironment({
        proxyEndpoint: plane.proxyHost,
        proxyReaderEndpoint: plane.reader?.proxyHost,
        dbName: plane.database,
        dbUser: plane.user,
        readonlyUser,
        connectAs: plane.users.map((u) => u.name),
        region: plane.region,
    });
    return {
        ...Object.fromEntries(task.map((v) => [v.name, v.value])),
        [ENV.connectAddress]: `${plane.host}:${plane.port}`,
        ...(readonlyUser && plane.reader ? { [ENV.readerConnectAddress]: `${plane.reader.host}:${plane.reader.port}` } : {}),
        NODE_EXTRA_CA_CERTS: plane.caFile,
        AWS_ACCESS_KEY_ID: plane.accessKeyId,
        AWS_SECRET_ACCESS_KEY: plane.secretAccessKey,
        HOST: "127.0.0.1",
        PORT: "0",
    };
}

/** Starts the bundled service (bundle: from bundleApp, possibly built while the plane started) and waits, bounded, until it listens. */
export async function startAppProcess(plane: LocalDataPlane, bundle: string | Promise<string>, readonlyUser?: string): Promise<AppProcess> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "local-app-"));
    const file = path.join(dir, "main.js");
    writeFileSync(file, await bundle);
    // Only what the service needs: no inherited AWS_PROFILE or other credentials may take part.
    const child: ChildProcess = spawn(process.execPath, [file], {
        env: { PATH: process.env.PATH ?? "", ...localAppEnvironment(plane, readonlyUser) },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
        output += d;
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
        output += d;
    });
    let exited = false;
    const stopped = new Promise<void>((resolve) =>
        child.once("exit", () => {
            exited = true;
            rmSync(dir, { recursive: true, force: true });
            resolve();
        }),
    );
    const stop = async () => {
        if (!exited) child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await stopped;
        clearTimeout(timer);
    };
    const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(
            () => reject(new Error(`the service did not listen within ${START_TIMEOUT_MS / 1000}s; output: ${output.trim()}`)),
            START_TIMEOUT_MS,
        );
        const onData = () => {
            const m = /"event":"listening","port":(\d+)/.exec(output);
            if (m) {
                clearTimeout(timer);
                child.stdout!.off("data", onData);
                resolve(Number(m[1]));
            }
        };
        child.stdout!.on("data", onData);
        child.once("exit", (code) => {
            clearTimeout(timer);
            reject(new Error(`the service exited (${code}) before listening: ${output.trim()}`));
        });
    }).catch(async (err) => {
        await stop();
        throw err;
    });
    return { url: `http://127.0.0.1:${port}`, output: () => output, stop };
}

/** GET a path of the service, bounded: status and parsed JSON body. */
export async function getJson(url: string, timeoutMs = 8_000): Promise<{ status: number; body: any }> {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.json() };
}
