// Reading stack outputs for the CLI: from `pulumi stack output --json` or from
// a file holding the same JSON (what CI saves after `pulumi up`). Not needed by
// the Lambda handler, which gets its target from the environment.

import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { inputFromOutputs, TargetError, TargetInput } from "./target";

export async function readOutputsFile(path: string): Promise<TargetInput> {
    let text: string;
    try {
        text = await readFile(path, "utf8");
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? "error";
        throw new TargetError(
            `--outputs ${path}: cannot read the file (${code}); expected the JSON saved from "pulumi stack output --json"`,
        );
    }
    return inputFromOutputs(parseOutputsJson(text, `--outputs ${path}`));
}

export function parseOutputsJson(text: string, source: string): unknown {
    try {
        return JSON.parse(text);
    } catch (err) {
        throw new TargetError(`${source}: not valid JSON (${(err as Error).message}); expected the output of "pulumi stack output --json"`);
    }
}

export interface StackReadOptions {
    timeoutMs?: number;
    /** The pulumi binary; tests point this at a missing path or a stub. */
    pulumiBin?: string;
    cwd?: string;
}

const STACK_NAME = /^[A-Za-z0-9_.\-/]{1,200}$/;

export function readStackOutputs(stack: string, opts: StackReadOptions = {}): Promise<TargetInput> {
    if (!STACK_NAME.test(stack)) {
        return Promise.reject(
            new TargetError(`--stack is ${JSON.stringify(stack)}; expected a stack name of letters, digits, "-", "_", ".", "/"`),
        );
    }
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const bin = opts.pulumiBin ?? "pulumi";
    return new Promise((resolve, reject) => {
        execFile(
            bin,
            // --show-secrets is deliberately absent: the runner needs no secret output.
            ["stack", "output", "--json", "-s", stack],
            { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024, cwd: opts.cwd, windowsHide: true },
            (err, stdout, stderr) => {
                if (err) {
                    const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string };
                    if (e.code === "ENOENT") {
                        reject(
                            new TargetError(
                                `--stack ${stack}: the pulumi CLI is not installed (${bin} not found on PATH); install it or pass --outputs FILE`,
                            ),
                        );
                    } else if (e.killed || e.signal === "SIGTERM") {
                        reject(
                            new TargetError(
                                `--stack ${stack}: "pulumi stack output" did not finish within ${timeoutMs} ms; check pulumi login and network, or pass --outputs FILE`,
                            ),
                        );
                    } else {
                        const why = String(stderr).trim().split("\n").filter(Boolean).pop() ?? e.message;
                        reject(new TargetError(`--stack ${stack}: "pulumi stack output" failed: ${why}`));
                    }
                    return;
                }
                try {
                    resolve(inputFromOutputs(parseOutputsJson(String(stdout), `--stack ${stack}`)));
                } catch (parseErr) {
                    reject(parseErr);
                }
            },
        );
    });
}
