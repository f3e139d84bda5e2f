// Planes left behind. A data plane whose process dies without stop() (SIGKILL, OOM, a closed laptop lid
// that never woke) leaves its PostgreSQL servers running and its temp folder (keys, data) on disk. Each
// plane writes its owner's pid into its folder; before a plane starts, planes of this project whose owner
// is gone are stopped (their postmaster.pid names each server) and removed. Planes of live processes,
// and folders without an owner file (a plane still being created), are never touched.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** The temp-folder prefix of every local data plane. */
export const PLANE_PREFIX = "aurora-local-dataplane-";
/** The file in a plane's folder that names the process owning it. */
export const OWNER_FILE = "owner.pid";
/** The data directories a plane's servers use (local/postgres.ts): the primary's and the hot standby's. */
const DATA_DIRS = ["data", "standby-data"];

/** Marks `dir` as owned by this process. */
export function writePlaneOwner(dir: string, pid = process.pid): void {
    writeFileSync(path.join(dir, OWNER_FILE), `${pid}\n`, { mode: 0o644 });
}

function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (err) {
        // EPERM: it exists but belongs to someone else (e.g. the postgres OS user when we are not root).
        return (err as NodeJS.ErrnoException).code === "EPERM";
    }
}

/** True only if `pid` is a PostgreSQL server whose data directory is `dataDir`: a recycled pid is left alone. */
function isOurPostgres(pid: number, dataDir: string): boolean {
    try {
        if (existsSync("/proc")) {
            const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
            return path.basename(argv[0]) === "postgres" && argv.includes(dataDir);
        }
        const command = execFileSync("ps", ["-o", "command=", "-p", String(pid)], { encoding: "utf8", timeout: 2_000 });
        return /\bpostgres\b/.test(command) && command.includes(dataDir);
    } catch {
        return false;
    }
}

/** The running servers of a plane's folder, read from each data directory's postmaster.pid (first line: the pid). */
export function planeServers(dir: string): number[] {
    const pids: number[] = [];
    for (const data of DATA_DIRS) {
        const dataDir = path.join(dir, data);
        let pid: number;
        try {
            pid = Number(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
        } catch {
            continue;
        }
        if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && isOurPostgres(pid, dataDir)) pids.push(pid);
    }
    return pids;
}

export interface StalePlane {
    dir: string;
    ownerPid: number;
    /** The PostgreSQL servers that were still running and have been stopped. */
    servers: number[];
}

/**
 * Stops and removes every plane under `tmp` whose owner process is gone. Bounded: a server that ignores
 * SIGQUIT (PostgreSQL's immediate shutdown) for `timeoutMs` gets SIGKILL. Never throws: cleaning up after
 * someone else must not stop a new plane from starting.
 */
export async function removeStalePlanes(tmp = os.tmpdir(), timeoutMs = 5_000): Promise<StalePlane[]> {
    const removed: StalePlane[] = [];
    let names: string[];
    try {
        names = readdirSync(tmp).filter((n) => n.startsWith(PLANE_PREFIX));
    } catch {
        return removed;
    }
    for (const name of names) {
        const dir = path.join(tmp, name);
        let ownerPid: number;
        try {
            ownerPid = Number(readFileSync(path.join(dir, OWNER_FILE), "utf8").trim());
        } catch {
            continue;
        }
        if (!Number.isInteger(ownerPid) || ownerPid <= 0 || isAlive(ownerPid)) continue;
        const servers = planeServers(dir);
        for (const pid of servers) signal(pid, "SIGQUIT");
        const deadline = Date.now() + timeoutMs;
        while (servers.some(isAlive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
        for (const pid of servers.filter(isAlive)) signal(pid, "SIGKILL");
        try {
            rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
        } catch {
            continue;
        }
        removed.push({ dir, ownerPid, servers });
    }
    return removed;
}

function signal(pid: number, name: NodeJS.Signals): void {
    try {
        process.kill(pid, name);
    } catch {
        // gone already
    }
}
