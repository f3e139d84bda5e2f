// `npm test`: the type check (tsc --noEmit) and the test suite (mocha), side by side. They used to run one after
// the other; mocha's two workers leave the CPU idle while they wait on PostgreSQL and sockets, and tsc fills that
// time. tsc's output is held until mocha has finished so the two never interleave. Exit 0 only if both pass.
"use strict";
const { spawn } = require("child_process");
const path = require("path");

const root = path.join(__dirname, "..");
const bin = (name) => path.join(root, "node_modules", ".bin", name);
const extra = process.argv.slice(2);

function run(cmd, args, { capture }) {
    return new Promise((resolve) => {
        const child = spawn(cmd, args, { cwd: root, stdio: capture ? ["ignore", "pipe", "pipe"] : "inherit" });
        let out = "";
        if (capture) {
            child.stdout.on("data", (d) => {
                out += d;
            });
            child.stderr.on("data", (d) => {
                out += d;
            });
        }
        child.on("error", (err) => resolve({ code: 1, out: `${cmd}: ${err.message}\n` }));
        child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), out }));
    });
}

(async () => {
    const started = Date.now();
    const tsc = run(bin("tsc"), ["--noEmit"], { capture: true }).then((r) => ({ ...r, ms: Date.now() - started }));
    const mocha = await run(bin("mocha"), extra, { capture: false });
    const typed = await tsc;
    if (typed.code !== 0) {
        process.stdout.write(typed.out);
        process.stdout.write(`\ntsc --noEmit: type errors (above); npm test fails\n`);
    } else {
        process.stdout.write(`tsc --noEmit: no type errors (${(typed.ms / 1000).toFixed(1)} s, beside mocha)\n`);
    }
    process.exit(typed.code !== 0 ? typed.code : mocha.code);
})();
