// npm run local:up — start a local data plane and keep it up until SIGINT/SIGTERM.
// stdout carries exactly one JSON line once the plane is ready (what a client needs to connect,
// including the throwaway key pair the stand-in trusts); everything else goes to stderr.
// `npm run local:up -- --existing`: existing-database mode (docs/existing-database-local.md): the database
// first gets a legacy application's role, table and PUBLIC grant, the bootstrap runs non-destructively, and
// the JSON line adds `legacy: {user, password, table, rows, host, port}` (host:port = PostgreSQL itself).

import { AppProcess, bundleApp, startAppProcess } from "./app-process";
import { LOCAL_USERS, startLocalDataPlane, LocalDataPlane } from "./dataplane";

/** The users the dev stack declares; defined in dataplane.ts so db:connect --local shares them. */
export { LOCAL_USERS };

/** local:up's arguments; anything else is one line naming what is allowed. */
export function parseUpArgs(argv: string[]): { existing: boolean } {
    let existing = false;
    for (const arg of argv) {
        if (arg === "--existing") existing = true;
        else throw new Error(`unknown argument ${JSON.stringify(arg)}; allowed: --existing (existing-database mode)`);
    }
    return { existing };
}

async function main(): Promise<void> {
    let args: { existing: boolean };
    try {
        args = parseUpArgs(process.argv.slice(2));
    } catch (err) {
        process.stderr.write(`local:up: ${(err as Error).message}\n`);
        process.exit(2);
    }
    let plane: LocalDataPlane;
    let app: AppProcess;
    // app/ is bundled while the plane starts, then runs against it as the ECS task would (appUrl).
    const appBundle = bundleApp();
    appBundle.catch(() => undefined);
    try {
        // The dev stack's users, so a client can try each profile; a hot standby behind a READ_ONLY stand-in.
        plane = await startLocalDataPlane({ users: LOCAL_USERS, reader: true, existing: args.existing });
    } catch (err) {
        process.stderr.write(`local:up: ${(err as Error).message}\n`);
        process.exit(1);
    }
    try {
        app = await startAppProcess(plane, appBundle, LOCAL_USERS.find((u) => u.access === "readonly")?.name);
    } catch (err) {
        process.stderr.write(`local:up: ${(err as Error).message}\n`);
        await plane.stop();
        process.exit(1);
    }
    let stopping = false;
    const shutdown = (signal: NodeJS.Signals) => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`local:up: ${signal} received, stopping and removing temp data\n`);
        const forceExit = setTimeout(() => {
            process.stderr.write("local:up: shutdown took longer than 20s, exiting anyway\n");
            process.exit(1);
        }, 20_000);
        forceExit.unref();
        app.stop()
            .then(() => plane.stop())
            .then(
                () => process.exit(0),
                (err: unknown) => {
                    process.stderr.write(`local:up: stop failed: ${(err as Error).message}\n`);
                    process.exit(1);
                },
            );
    };
    process.on("SIGINT", shutdown);
    process.on("SIGTERM", shutdown);

    const ready = {
        host: plane.host,
        port: plane.port,
        database: plane.database,
        user: plane.user,
        region: plane.region,
        caFile: plane.caFile,
        accessKeyId: plane.accessKeyId,
        secretAccessKey: plane.secretAccessKey,
        users: plane.users.map((u) => ({ name: u.name, access: u.access })),
        reader: { host: plane.reader!.host, port: plane.reader!.port, proxyHost: plane.reader!.proxyHost },
        // Connect to host:port, verify TLS against proxyHost and sign tokens for proxyHost:5432 (reader: reader.proxyHost).
        proxyHost: plane.proxyHost,
        // app/ running against this plane: GET /health, /health/db, /health/db/reader.
        appUrl: app.url,
        // Existing-database mode: the legacy application's password login, straight to PostgreSQL (TLS, caFile).
        ...(plane.legacy
            ? {
                  legacy: {
                      user: plane.legacy.user,
                      password: plane.legacy.password,
                      table: plane.legacy.table,
                      rows: plane.legacy.rows,
                      host: plane.legacy.host,
                      port: plane.legacy.port,
                  },
              }
            : {}),
    };
    process.stdout.write(`${JSON.stringify(ready)}\n`);
    process.stderr.write(
        `local:up: RDS Proxy stand-in on ${plane.host}:${plane.port}, READ_ONLY stand-in on ${plane.reader!.host}:${plane.reader!.port} ` +
            `app ${app.url} (database ${plane.database}, users ${plane.users.map((u) => `${u.name}/${u.access}`).join(", ")}, region ${plane.region}); Ctrl-C to stop\n`,
    );
}

if (require.main === module) void main();
