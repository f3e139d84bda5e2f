// The smoke runner: proves a deployed stack works by connecting the way the
// application does (RDS Proxy, fresh IAM token, verified TLS) and checking
// what matters. Library code: no Pulumi, no heavy dependencies, so it can be
// bundled into a Lambda inside the VPC.

import { performance } from "node:perf_hooks";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { CheckResult, CHECK, connectCheck, negativeCheck, negativeSpecs, skipped, tlsCheck, Timer } from "./checks";
import { grantsCheck, targetSpecs } from "./grants-check";
import { buildReport, formatReport, SmokeReport } from "./report";
import { Session } from "./session";
import { signedFor } from "../client/endpoint";
import { readerEndpoint, SmokeTarget, TargetError, targetUsers, validateTarget, writerEndpoint } from "./target";
import { noReaderHost, profileChecks, readerChecks, USER_CHECK, userChecks, UserRunOptions } from "./users-check";
import { Credentials, tokenFactory } from "../client/token";
import { SMOKE_OTHER_USER } from "../access/users";
import { cidrWarningCheck, databaseWarningChecks, WARNING, WarningOptions } from "./warnings";
import { IDENTIFIER } from "../access/spec";

export type { CheckResult } from "./checks";
export type { SmokeReport } from "./report";
export type { SmokeTarget, AuthMode } from "./target";
export type { Credentials } from "../client/token";
export { formatReport };

export interface SmokeOptions extends WarningOptions {
    /** Explicit credentials or provider; default: the AWS SDK chain, resolved once per run. */
    credentials?: Credentials;
    /** Overall deadline for the whole run, in ms. Default 15000. */
    timeoutMs?: number;
    /** Bound on each connection attempt, in ms (never beyond the deadline). Default 5000. */
    connectTimeoutMs?: number;
    /** Bound on each query, in ms. Default 5000. */
    queryTimeoutMs?: number;
    /**
     * Keep retrying the first connection's transient failures (refused, timed out, not resolving) for this
     * long, in ms: right after a deploy the proxy's target may still be registering. Default 0 (no retry).
     */
    retryConnectMs?: number;
    /** Run the must-be-refused attempts. Default true. */
    negatives?: boolean;
    /** Compare grants with the declared spec. Default true. */
    grants?: boolean;
    /** Check every declared user other than the default one, and the reader endpoint. Default true. */
    users?: boolean;
    /** The user the "other user" negatives sign for. Default SMOKE_OTHER_USER ("app_user_smoke_other"), which no stack may declare. */
    otherUser?: string;
    /** Monotonic milliseconds for timings. Default performance.now. */
    clock?: () => number;
}

export const DEFAULT_OTHER_USER = SMOKE_OTHER_USER;

/** Runs every check and returns the verdict. Never throws; never reports a token. */
export async function runSmoke(target: SmokeTarget, opts: SmokeOptions = {}): Promise<SmokeReport> {
    const clock: Timer = opts.clock ?? (() => performance.now());
    const started = clock();
    let valid: SmokeTarget;
    try {
        valid = validateTarget(target);
    } catch (err) {
        const detail = err instanceof TargetError ? err.message : String(err);
        return buildReport(safeTarget(target), [{ name: "target", ok: false, detail, ms: 0, kind: "config" }], clock() - started);
    }

    const otherUser = opts.otherUser ?? DEFAULT_OTHER_USER;
    if (!IDENTIFIER.test(otherUser) || otherUser === valid.user) {
        const detail = `otherUser is ${JSON.stringify(otherUser)}; expected a lower-case identifier different from target.user`;
        return buildReport(valid, [{ name: "target", ok: false, detail, ms: 0, kind: "config" }], clock() - started);
    }
    const timeoutMs = opts.timeoutMs ?? 15_000;
    const session = new Session(valid, timeoutMs, opts.connectTimeoutMs ?? 5_000, opts.queryTimeoutMs ?? 5_000, clock);
    // One credential provider for every signer in the run, so the chain is walked once.
    const credentials = opts.credentials ?? fromNodeProviderChain();
    // Tokens are signed for the proxy's name and port, which differ from host:port only through a tunnel.
    const writer = writerEndpoint(valid);
    const proxy = signedFor(writer);
    const ours = tokenFactory({ ...valid, ...proxy, credentials });
    const others = tokenFactory({ ...valid, ...proxy, user: otherUser, credentials });

    const checks: CheckResult[] = [];
    const allUsers = targetUsers(valid);
    let specs;
    try {
        specs = targetSpecs(valid);
    } catch (err) {
        return buildReport(
            valid,
            [{ name: "target", ok: false, detail: (err as Error).message, ms: 0, kind: "config" }],
            clock() - started,
        );
    }
    const existing = opts.existingDatabase === true;
    const userOptions: UserRunOptions = { credentials, clock, specs, existingDatabase: existing };
    const report = (list: CheckResult[]) => buildReport(valid, list, clock() - started, { warningsFail: opts.warningsFail });
    // The CIDR row asks EC2, not the database: it runs alongside everything else. The EC2 reader (and the
    // HTTPS client it needs) is loaded only in this mode, so other runs' cold start does not pay for it.
    // Only with the cluster's groups given (a fronted cluster's, DB_CLUSTER_SECURITY_GROUP_IDS): an adopted cluster's
    // groups are the stack's own, which the policy pack already holds to the proxy alone.
    const cidrRun =
        existing && (opts.clusterSecurityGroupIds ?? []).length > 0
            ? (opts.describeSecurityGroupRules
                  ? Promise.resolve(opts.describeSecurityGroupRules)
                  : import("./ec2-rules").then(({ ec2RulesReader }) =>
                        ec2RulesReader({ region: valid.region, credentials, timeoutMs: Math.min(5_000, timeoutMs) }),
                    )
              )
                  .then((reader) => cidrWarningCheck(session, clock, opts, reader))
                  .catch(
                      (err: Error): CheckResult => ({
                          name: WARNING.cidr,
                          ok: true,
                          warning: true,
                          detail: `not checked: ${err.message}`,
                          ms: 0,
                      }),
                  )
            : undefined;
    const defaultUser = allUsers.find((u) => u.name === valid.user)!;
    const reader = readerEndpoint(valid);
    const checkUsers = opts.users ?? true;
    const otherUsers = checkUsers ? allUsers.filter((u) => u.name !== valid.user) : [];
    try {
        const { result, client } = await connectCheck(session, ours, clock, opts.retryConnectMs ?? 0);
        checks.push(result);
        const negatives = opts.negatives ?? true;
        const negativeSpecsList = negatives ? negativeSpecs(session, ours, others, otherUser) : [];
        if (!client) {
            checks.push(skipped(CHECK.tls, "no connection"));
            if (opts.grants ?? true) checks.push(skipped(CHECK.grants, "no connection"));
            // A refusal proves nothing when the legitimate way in fails too.
            for (const spec of negativeSpecsList)
                checks.push(skipped(spec.name, "the IAM connection failed, so a refusal would prove nothing"));
            for (const u of otherUsers)
                checks.push({ ...skipped(USER_CHECK.connect(u.name), `the default user ${valid.user} could not connect`), user: u.name });
        } else {
            // The negatives and the other users use their own connections; run them alongside.
            const negativeRuns = Promise.all(negativeSpecsList.map((spec) => negativeCheck(session, spec, clock)));
            const otherRuns = Promise.all(
                otherUsers
                    .filter((u) => u.endpoint === "writer" || reader !== undefined)
                    .map((u) => userChecks(session, u, u.endpoint === "reader" && reader ? reader : writer, userOptions)),
            );
            checks.push(await tlsCheck(session, client, clock));
            if (opts.grants ?? true)
                checks.push(await grantsCheck(session, client, clock, undefined, undefined, { existingDatabase: existing }));
            // What the stack cannot enforce on a database it does not own, read in the application user's own session.
            if (existing) checks.push(...(await databaseWarningChecks(session, client, clock)));
            if (checkUsers) checks.push(...(await profileChecks(session, client, defaultUser, userOptions)));
            await session.close(client);
            checks.push(...(await negativeRuns));
            checks.push(...(await otherRuns).flat());
            if (checkUsers) {
                if (reader !== undefined) {
                    // A reader-endpoint user if there is one, else any readonly user, else the default user.
                    const readerUser =
                        allUsers.find((u) => u.endpoint === "reader") ?? allUsers.find((u) => u.access === "readonly") ?? defaultUser;
                    checks.push(...(await readerChecks(session, readerUser.name, reader, userOptions)));
                } else {
                    checks.push(...noReaderHost(otherUsers));
                }
            }
        }
        if (cidrRun) checks.push(await cidrRun);
    } finally {
        await session.closeAll();
    }
    return report(checks);
}

function safeTarget(t: Partial<SmokeTarget>): SmokeReport["target"] {
    return {
        host: String(t.host ?? ""),
        port: Number(t.port ?? 0),
        database: String(t.database ?? ""),
        user: String(t.user ?? ""),
        region: String(t.region ?? ""),
    };
}
