// `npm start`: the local rehearsal. With no AWS account, no Docker and no Pulumi CLI it
//   1. evaluates the dev stack under mocks and prints its plan: resources per component and the
//      security settings that matter, read from what the program declared;
//   2. runs the policy pack over that plan and prints the verdicts;
//   3. starts the local data plane (in the background from the start, its servers being other processes) (real PostgreSQL behind an RDS Proxy stand-in that enforces TLS and
//      IAM tokens) and runs the smoke runner against it, exactly as it runs after a real deploy;
//   4. runs app/ as a process against it (local/app-process.ts) and checks /health/db: 200, then 503
//      with the reason once the user's CONNECT is revoked, then 200 again once it is granted back;
// then shuts everything down. Exit 0 only if no mandatory policy is violated and every check holds.
// `npm start -- --stack NAME` rehearses any stack with a Pulumi.NAME.yaml (default dev), e.g. a copied staging.
import { parseSettings, Settings, SettingsError } from "../components/config";
import { costSection } from "../cost/report";
import { budgetPolicyConfig } from "../policy/rules/cost";
import { formatViolations, mandatory, runPolicies } from "../policy/run";
import { policies } from "../policy/policies";
import { formatReport, runSmoke } from "../smoke/runner";
import { AppProcess, bundleApp, getJson, startAppProcess } from "./app-process";
import { LocalDataPlane, localSmokeTarget, startLocalDataPlane } from "./dataplane";
import { Evaluation, evaluateStack, MockResource, stackConfig } from "./mock-cloud";
import { StackFileError } from "./stack-file";
import { PACKAGE } from "../components/tokens";

const DEFAULT_STACK = "dev";
const USAGE = "usage: npm start -- [--stack NAME]   (NAME: any Pulumi.NAME.yaml here; default dev)";

/** The rehearsal's arguments: which stack file to rehearse. A bad argument is one line (exit 2). */
export function parseRehearsalArgs(argv: string[]): { stack: string } | "help" {
    let stack = DEFAULT_STACK;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--help" || arg === "-h") return "help";
        if (arg === "--stack" || arg.startsWith("--stack=")) {
            const value = arg.includes("=") ? arg.slice("--stack=".length) : argv[++i];
            if (!value) throw new StackFileError("--stack needs a value: a stack with a Pulumi.NAME.yaml, e.g. dev or prod");
            stack = value;
            continue;
        }
        throw new StackFileError(`unknown argument ${JSON.stringify(arg)}; allowed: --stack NAME, --help`);
    }
    return { stack };
}

// The innermost component in the parent URN's type chain (AuroraIamProxy$Database → Database).
const COMPONENT = new RegExp(`.*${PACKAGE}:index:(\\w+)`);

/** Resources per component, counted from the parent chain of each declared resource. */
export function resourcesPerComponent(ev: Evaluation): Array<[string, number, string[]]> {
    const groups = new Map<string, MockResource[]>();
    for (const r of ev.resources) {
        if (!r.type.startsWith("aws:") && !r.type.startsWith("random:")) continue;
        const component = COMPONENT.exec(r.parent ?? "")?.[1] ?? "(root)";
        groups.set(component, [...(groups.get(component) ?? []), r]);
    }
    return [...groups.entries()].map(([name, rs]) => {
        const kinds = new Map<string, number>();
        for (const r of rs) {
            const kind = r.type.split(":").pop()!;
            kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        }
        return [name, rs.length, [...kinds.entries()].map(([k, n]) => (n > 1 ? `${n} ${k}` : k))];
    });
}

/** The security settings a reviewer asks about first, each read from the declared resources. */
export function securitySummary(ev: Evaluation): Array<[boolean, string]> {
    const one = (type: string) => ev.resources.find((r) => r.type === type);
    const all = (type: string) => ev.resources.filter((r) => r.type === type);
    const proxy = one("aws:rds/proxy:Proxy")?.inputs ?? {};
    const cluster = one("aws:rds/cluster:Cluster")?.inputs ?? {};
    const params = one("aws:rds/clusterParameterGroup:ClusterParameterGroup")?.inputs.parameters ?? [];
    const taskRole = ev.resources.find((r) => r.type === "aws:iam/role:Role" && r.name === "ecs-task");
    const taskPolicy = all("aws:iam/rolePolicy:RolePolicy").find((p) => p.inputs.role === taskRole?.id);
    const taskResources = taskPolicy ? JSON.parse(taskPolicy.inputs.policy).Statement.flatMap((s: any) => [].concat(s.Resource)) : [];
    const container = JSON.parse(one("aws:ecs/taskDefinition:TaskDefinition")?.inputs.containerDefinitions ?? "[{}]")[0];
    const openRules = [...all("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")].filter(
        (r) => r.inputs.cidrIpv4 === "0.0.0.0/0" || r.inputs.cidrIpv6 === "::/0",
    );
    return [
        [proxy.requireTls === true, `proxy requires TLS (requireTls: ${proxy.requireTls})`],
        [
            proxy.defaultAuthScheme === "IAM_AUTH" ||
                ((proxy.auths ?? []).length > 0 && proxy.auths.every((a: any) => a.iamAuth === "REQUIRED")),
            `clients need an IAM token (${
                proxy.defaultAuthScheme === "IAM_AUTH"
                    ? "end-to-end IAM"
                    : (proxy.auths ?? []).length > 0
                      ? "iamAuth on every auth entry"
                      : "no IAM_AUTH and no auths entry"
            })`,
        ],
        [cluster.iamDatabaseAuthenticationEnabled === true, "cluster: IAM database authentication on"],
        [
            cluster.manageMasterUserPassword === true && cluster.masterPassword === undefined,
            "cluster: master password managed by RDS, none in Pulumi",
        ],
        [cluster.storageEncrypted === true && typeof cluster.kmsKeyId === "string", "cluster: storage encrypted with the stack's CMK"],
        [params.some((p: any) => p.name === "rds.force_ssl" && p.value === "1"), "cluster: rds.force_ssl = 1"],
        [
            taskResources.length >= 1 && taskResources.every((r: string) => /:dbuser:prx-[a-z0-9]+\/[a-z_][a-z0-9_]*$/.test(r)),
            `task role: rds-db:connect on ${taskResources.join(", ") || "nothing"} only`,
        ],
        [container.readonlyRootFilesystem === true && container.privileged === false, "container: read-only root, not privileged"],
        [openRules.length === 0, "no ingress from 0.0.0.0/0 or ::/0"],
    ];
}

function printPlan(ev: Evaluation, settings: Settings) {
    console.log(`Plan for stack ${ev.stack} (evaluated under Pulumi mocks: nothing is created)`);
    console.log(
        `  ${settings.region}, ${settings.network.azCount} AZs, Aurora PostgreSQL ${settings.database.engineVersion} ` +
            `${settings.database.instanceClass === "db.serverless" ? `${settings.database.minCapacity}-${settings.database.maxCapacity} ACU` : settings.database.instanceClass}, ` +
            `proxy auth ${settings.proxy.authMode}`,
    );
    for (const [component, count, kinds] of resourcesPerComponent(ev)) {
        console.log(`  ${component.padEnd(9)} ${String(count).padStart(3)}  ${kinds.join(", ")}`);
    }
    const container = JSON.parse(
        ev.resources.find((r) => r.type === "aws:ecs/taskDefinition:TaskDefinition")?.inputs.containerDefinitions ?? "[{}]",
    )[0];
    console.log(
        settings.app.placeholder
            ? `  app image: PLACEHOLDER ${settings.app.image} (app.image unset): deploys and stays up, serves nothing, no /health/db health check; ` +
                  "the deploy workflow builds app/ and sets app.image by digest"
            : `  app image: ${settings.app.image}; container health check ${container.healthCheck ? `GET /health/db every ${container.healthCheck.interval} s after ${container.healthCheck.startPeriod} s` : "none"}`,
    );
    console.log("Security settings");
    for (const [ok, line] of securitySummary(ev)) console.log(`  ${ok ? "✓" : "✗"} ${line}`);
}

/** One line for a /health/db answer: who, TLS verified, the server version and the latency, or the reason. */
const showHealth = (r: { status: number; body: any }) =>
    r.body.status === "ok"
        ? `${r.status} ${r.body.user}, TLS verified ${r.body.tlsVerified}, PostgreSQL ${r.body.serverVersion}, ${r.body.latencyMs} ms`
        : `${r.status} ${r.body.reason ?? r.body.error}`;

/** The service's health endpoints through the whole path, as deployed: these run alongside the smoke. */
export async function appHealthyChecks(app: AppProcess, dp: LocalDataPlane): Promise<Array<[boolean, string]>> {
    const [db, reader] = await Promise.all([getJson(`${app.url}/health/db`), getJson(`${app.url}/health/db/reader`)]);
    return [
        [db.status === 200 && db.body.tlsVerified === true && db.body.user === dp.user, `GET /health/db → ${showHealth(db)}`],
        [reader.status === 200 && reader.body.tlsVerified === true, `GET /health/db/reader → ${showHealth(reader)}`],
    ];
}

/**
 * Then broken and mended, once the smoke is done: the app user's CONNECT on the database is revoked (what a
 * bootstrap gone wrong or a hand-made REVOKE does), then granted back. Each /health/db opens a new
 * connection, so the answer follows the database's state at once.
 */
export async function appBrokenPathChecks(app: AppProcess, dp: LocalDataPlane): Promise<Array<[boolean, string]>> {
    const results: Array<[boolean, string]> = [];
    const admin = await dp.admin();
    try {
        await admin.query(`REVOKE CONNECT ON DATABASE "${dp.database}" FROM "${dp.user}"`);
        const broken = await getJson(`${app.url}/health/db`);
        results.push([
            broken.status === 503 && /permission denied for database/.test(broken.body.reason ?? ""),
            `CONNECT revoked: GET /health/db → ${showHealth(broken)}`,
        ]);
    } finally {
        await admin.query(`GRANT CONNECT ON DATABASE "${dp.database}" TO "${dp.user}"`).finally(() => admin.end());
    }
    const mended = await getJson(`${app.url}/health/db`);
    results.push([mended.status === 200, `CONNECT granted back: GET /health/db → ${showHealth(mended)}`]);
    const log = app.output();
    const leaked = /X-Amz-/.test(log) || log.includes(dp.secretAccessKey);
    results.push([!leaked, "no token or secret in the service's log"]);
    return results;
}

/**
 * Runs the rehearsal. Bad arguments, a missing or broken stack file and invalid settings print their lines
 * and return 2 before anything starts; `root` is where the stack files are (tests use a temp folder).
 */
export async function main(argv: string[] = [], o: { root?: string } = {}): Promise<number> {
    const started = Date.now();
    let stack: string;
    let settings: Settings;
    try {
        const args = parseRehearsalArgs(argv);
        if (args === "help") {
            console.log(USAGE);
            return 0;
        }
        stack = args.stack;
        // The same settings evaluateStack reads. The data plane starts from them at once: initdb and
        // PostgreSQL run in their own processes while this one evaluates the stack and runs the pack.
        settings = parseSettings(stack, stackConfig(stack, o.root));
    } catch (err) {
        if (err instanceof StackFileError || err instanceof SettingsError) {
            console.error(`rehearsal: ${err.message.split("\n").join("\nrehearsal: ")}`);
            return 2;
        }
        throw err;
    }
    const users = settings.access.users;
    const starting = startLocalDataPlane({
        database: settings.database.name,
        user: settings.database.user,
        region: settings.region,
        authMode: settings.proxy.authMode,
        users,
        reader: true,
    });
    starting.catch(() => undefined); // awaited (and its error reported) below
    // esbuild bundles the service while the stack is evaluated; it is started once the plane is up.
    const appBundle = bundleApp();
    appBundle.catch(() => undefined);
    let app: AppProcess | undefined;
    const stop = async () => {
        await app?.stop();
        await starting.then(
            (dp) => dp.stop(),
            () => undefined,
        );
    };
    const onSignal = () => {
        void stop().finally(() => process.exit(130));
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
        const ev = await evaluateStack(stack, undefined, { root: o.root });
        printPlan(ev, ev.settings);

        const violations = runPolicies(ev.resources, {
            environment: ev.settings.environment,
            config: budgetPolicyConfig(ev.settings.budget),
        });
        const blocking = mandatory(violations);
        console.log(
            `Policies (${policies.length} in the pack): ${blocking.length} mandatory violation(s), ${violations.length - blocking.length} advisory`,
        );
        for (const line of formatViolations(violations)) console.log(`  ${line}`);
        for (const line of costSection(ev)) console.log(line);

        console.log(
            "Local data plane: starting PostgreSQL (TLS only) with a hot standby, and RDS Proxy stand-ins (TLS + IAM tokens) for the writer and READ_ONLY endpoints...",
        );
        const dp = await starting;
        console.log(
            `  proxy stand-in ${dp.host}:${dp.port} (as ${dp.proxyHost}:${dp.proxyPort}) → PostgreSQL ${dp.postgres.host}:${dp.postgres.port}; ` +
                `READ_ONLY stand-in ${dp.reader!.host}:${dp.reader!.port} → hot standby ${dp.standby!.host}:${dp.standby!.port}`,
        );
        console.log(`  users: ${users.map((u) => `${u.name} (${u.access}, ${u.endpoint})`).join(", ")}`);
        if (!ev.settings.access.readerEndpoint) {
            console.log(
                `  ${ev.stack} has no READ_ONLY endpoint in AWS (one instance); the reader checks run here against the local hot standby`,
            );
        }
        const { target, credentials } = localSmokeTarget(dp);
        const readonlyUser = users.find((u) => u.access === "readonly")?.name;
        const plane = dp;
        // The service starts and answers its healthy checks while the smoke runs; only breaking the path waits for the smoke.
        const [report, healthy] = await Promise.all([
            runSmoke(target, { credentials }),
            startAppProcess(plane, appBundle, readonlyUser)
                .then(async (a) => {
                    app = a;
                    return appHealthyChecks(a, plane);
                })
                .catch((err: Error): Array<[boolean, string]> => [[false, `the service did not start or answer: ${err.message}`]]),
        ]);
        console.log("Smoke runner (the same checks as after a real deploy)");
        console.log(formatReport(report));
        console.log(
            "Application (app/ as a process with the task's environment, through the stand-in with IAM tokens and TLS verified by the proxy's name)",
        );
        const appChecksStarted = Date.now();
        const appResults: Array<[boolean, string]> = [...healthy, ...(app ? await appBrokenPathChecks(app, plane) : [])];
        for (const [ok, line] of appResults) console.log(`  ${ok ? "✓" : "✗"}  ${line}`);
        console.log(
            `  (broken-path checks after the smoke: ${Date.now() - appChecksStarted} ms; the service started and answered 200 while the smoke ran)`,
        );
        const appOk = appResults.every(([ok]) => ok);
        const ok = report.ok && blocking.length === 0 && appOk;
        console.log(
            `${ok ? "PASS" : "FAIL"}: rehearsal finished in ${((Date.now() - started) / 1000).toFixed(1)} s` +
                (report.ok ? "" : ` - ${report.reason}`) +
                (appOk ? "" : " - the service's health checks failed") +
                (blocking.length ? ` - ${blocking.length} mandatory policy violation(s)` : ""),
        );
        return ok ? 0 : 1;
    } finally {
        await stop();
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (err) => {
            console.error(`rehearsal failed: ${err instanceof Error ? err.message : String(err)}`);
            process.exit(1);
        },
    );
}
