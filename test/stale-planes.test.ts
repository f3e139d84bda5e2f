// A rehearsal killed with SIGKILL leaves its two PostgreSQL servers and its folder behind; the next start
// must stop and remove them, and must never touch a plane whose owner is alive.
import { strict as assert } from "assert";
import { spawn } from "child_process";
import { once } from "events";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { OWNER_FILE, PLANE_PREFIX, planeServers, removeStalePlanes } from "../local/stale-planes";

const alive = (pid: number) => {
    try {
        process.kill(pid, 0);
        return true;
    } catch (err) {
        return (err as NodeJS.ErrnoException).code === "EPERM";
    }
};

describe("stale local data planes", function () {
    this.timeout(60_000);

    it("stops the servers and removes the folder of a plane whose process was killed with SIGKILL", async () => {
        // A plane with its hot standby (two servers), as npm start runs it, in a process of its own.
        const code =
            "require('./local/dataplane').startLocalDataPlane({ reader: true }).then((p) => { " +
            "process.stdout.write(require('path').dirname(p.serverLogFile) + '\\n'); setInterval(() => undefined, 1 << 30); })";
        const child = spawn(process.execPath, ["-r", "./scripts/ts-register.js", "-e", code], {
            cwd: path.join(__dirname, ".."),
            stdio: ["ignore", "pipe", "pipe"],
        });
        let stderr = "";
        child.stderr.on("data", (d) => {
            stderr += d;
        });
        const dir = await new Promise<string>((resolve, reject) => {
            let out = "";
            child.stdout.on("data", (d) => {
                out += d;
                if (out.includes("\n")) resolve(out.split("\n")[0].trim());
            });
            child.once("exit", (c) => reject(new Error(`the plane's process exited (${c}) before it was ready: ${stderr}`)));
        });
        const servers = planeServers(dir);
        assert.equal(servers.length, 2, `expected the primary and the standby running in ${dir}`);
        child.kill("SIGKILL");
        await once(child, "exit");
        assert.ok(servers.every(alive), "the servers outlive a SIGKILLed owner: the leak this cleans up");

        const removed = await removeStalePlanes();
        // A plane starting in another test process may have cleaned it up first; either way it must be gone.
        const ours = removed.find((r) => r.dir === dir);
        if (ours) assert.deepEqual(ours.servers.sort(), [...servers].sort());
        const deadline = Date.now() + 5_000;
        while (servers.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
        assert.deepEqual(servers.filter(alive), [], "both PostgreSQL servers stopped");
        assert.equal(fs.existsSync(dir), false, "the plane's folder removed");
    });

    it("leaves planes of live processes, and folders still being created, alone", async () => {
        const live = fs.mkdtempSync(path.join(os.tmpdir(), PLANE_PREFIX));
        const creating = fs.mkdtempSync(path.join(os.tmpdir(), PLANE_PREFIX));
        try {
            fs.writeFileSync(path.join(live, OWNER_FILE), `${process.pid}\n`);
            const removed = await removeStalePlanes();
            assert.ok(!removed.some((r) => r.dir === live || r.dir === creating));
            assert.ok(fs.existsSync(live) && fs.existsSync(creating));
        } finally {
            fs.rmSync(live, { recursive: true, force: true });
            fs.rmSync(creating, { recursive: true, force: true });
        }
    });
});
