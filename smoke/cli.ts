// npm run smoke -- [flags]: run the smoke checks against a deployed stack.
// Exit 0 only if every check holds; 1 if a check failed; 2 for usage errors.

import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { readOutputsFile, readStackOutputs } from "./outputs";
import { formatReport, runSmoke } from "./runner";
import { inputFromEnv, mergeInputs, TargetError, TargetInput, validateTarget } from "./target";
import { parseGroupIds, warningOptionsFromEnv, WarningOptions } from "./warnings";

export const USAGE = `Usage: npm run smoke -- [target] [options]

Proves a deployed stack works: connects through RDS Proxy with a fresh IAM
token and verify-full TLS, checks the user, TLS, grants, and that insecure
ways in are refused; then, for every declared user, the same through its own
endpoint plus what its profile must allow and refuse, and the reader endpoint.

Target (later sources win: environment < stack outputs < flags):
  --stack NAME        read outputs with "pulumi stack output --json -s NAME"
  --outputs FILE      read the same JSON from a file
  --host HOST         proxy endpoint                      (DB_HOST)
  --port PORT         proxy port                          (DB_PORT)
  --database NAME     database name                       (DB_NAME)
  --user NAME         database user                       (DB_USER)
  --region REGION     AWS region the token is signed for  (AWS_REGION)
  --auth-mode MODE    proxy auth to Aurora: iam | secrets (DB_AUTH_MODE; default iam)
  --owner ROLE        schema owner for the grants spec     (DB_OWNER; dbOwner output; default dbadmin)
  --users JSON        every user: [{"name","access","endpoint"}] (DB_USERS; dbUsers output;
                      default: --user alone as readwrite on the writer endpoint)
  --reader-host HOST  the proxy's READ_ONLY endpoint       (DB_READER_HOST; proxyReaderEndpoint output)
  --reader-port PORT  its port, if not --port              (DB_READER_PORT)
  --proxy-host NAME   through a tunnel: the proxy's DNS name, which TLS verifies and the token is
                      signed for while --host is 127.0.0.1 (DB_PROXY_HOST; default --host)
  --proxy-port PORT   the port tokens are signed for, 5432, while --port is the local one (DB_PROXY_PORT)
  --reader-proxy-host NAME  the same for the READ_ONLY endpoint (DB_READER_PROXY_HOST)
  --ca FILE           extra CA bundle (PEM), added to the system roots

A database the stack fronts but does not own (existing-cluster mode):
  --existing-database also the warning rows: rds.force_ssl, audit logging, PUBLIC's grant on schema
                      app; and what a user holds only through PUBLIC is named, not drift
                      (DB_EXISTING_DATABASE=true)
  --cluster-security-groups sg-a,sg-b  the cluster's security groups: adds the row for a CIDR rule on
                      the database port (DB_CLUSTER_SECURITY_GROUP_IDS; ec2:DescribeSecurityGroupRules)
  --warnings-fail     warnings fail the run (exit 1), as SMOKE_WARNINGS_FAIL=true does

Options:
  --json              print the report as JSON
  --timeout MS        overall deadline (default 15000)
  --no-negatives      skip the must-be-refused attempts
  --other-user NAME   user the "other user" negatives sign for (default app_user_smoke_other)
  -h, --help          show this help

Credentials come from the AWS SDK default chain (AWS_PROFILE, env, task role).
Exit status: 0 all checks hold (warnings too, unless --warnings-fail), 1 a check failed or a
warning with --warnings-fail, 2 usage or target error.`;

export interface CliIo {
    out: (line: string) => void;
    err: (line: string) => void;
    env: Record<string, string | undefined>;
}

const defaultIo: CliIo = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
};

export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
    let values;
    try {
        ({ values } = parseArgs({
            args: argv,
            strict: true,
            allowPositionals: false,
            options: {
                stack: { type: "string" },
                outputs: { type: "string" },
                host: { type: "string" },
                port: { type: "string" },
                database: { type: "string" },
                user: { type: "string" },
                region: { type: "string" },
                "auth-mode": { type: "string" },
                owner: { type: "string" },
                users: { type: "string" },
                "reader-host": { type: "string" },
                "reader-port": { type: "string" },
                "proxy-host": { type: "string" },
                "proxy-port": { type: "string" },
                "reader-proxy-host": { type: "string" },
                ca: { type: "string" },
                json: { type: "boolean", default: false },
                timeout: { type: "string" },
                "no-negatives": { type: "boolean", default: false },
                "other-user": { type: "string" },
                "existing-database": { type: "boolean", default: false },
                "cluster-security-groups": { type: "string" },
                "warnings-fail": { type: "boolean", default: false },
                help: { type: "boolean", short: "h", default: false },
            },
        }));
    } catch (err) {
        io.err(`smoke: ${(err as Error).message}; see --help`);
        return 2;
    }
    if (values.help) {
        io.out(USAGE);
        return 0;
    }

    let target;
    let timeoutMs: number | undefined;
    let warnings: WarningOptions;
    try {
        // Flags win over the environment, like the target's.
        warnings = warningOptionsFromEnv(io.env);
        if (values["existing-database"]) warnings.existingDatabase = true;
        if (values["warnings-fail"]) warnings.warningsFail = true;
        if (values["cluster-security-groups"] !== undefined) {
            warnings.clusterSecurityGroupIds = parseGroupIds(values["cluster-security-groups"], "--cluster-security-groups");
        }
        if (values.stack !== undefined && values.outputs !== undefined) {
            throw new TargetError("--stack and --outputs were both given; pass one source of stack outputs");
        }
        if (values.timeout !== undefined) {
            timeoutMs = Number(values.timeout);
            if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 300_000) {
                throw new TargetError(`--timeout is ${JSON.stringify(values.timeout)}; expected milliseconds, an integer 100..300000`);
            }
        }
        const fromOutputs: TargetInput =
            values.stack !== undefined
                ? await readStackOutputs(values.stack)
                : values.outputs !== undefined
                  ? await readOutputsFile(values.outputs)
                  : {};
        const fromFlags: TargetInput = {
            host: values.host,
            port: values.port,
            database: values.database,
            user: values.user,
            region: values.region,
            authMode: values["auth-mode"],
            owner: values.owner,
            users: values.users,
            readerHost: values["reader-host"],
            readerPort: values["reader-port"],
            proxyHost: values["proxy-host"],
            proxyPort: values["proxy-port"],
            readerProxyHost: values["reader-proxy-host"],
            caPem: values.ca !== undefined ? await readCa(values.ca) : undefined,
        };
        target = validateTarget(mergeInputs(inputFromEnv(io.env), fromOutputs, fromFlags));
    } catch (err) {
        io.err(`smoke: ${err instanceof TargetError ? err.message : (err as Error).message}`);
        return 2;
    }

    const report = await runSmoke(target, {
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        negatives: !values["no-negatives"],
        ...(values["other-user"] !== undefined ? { otherUser: values["other-user"] } : {}),
        ...warnings,
    });
    io.out(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.ok ? 0 : 1;
}

async function readCa(path: string): Promise<string> {
    try {
        return await readFile(path, "utf8");
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? "error";
        throw new TargetError(`--ca ${path}: cannot read the file (${code}); expected a PEM CA bundle`);
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => {
            process.exitCode = code;
        },
        (err) => {
            process.stderr.write(`smoke: unexpected error: ${(err as Error).message}\n`);
            process.exitCode = 1;
        },
    );
}
