// The warning rows: what the stack cannot enforce on a database it fronts but does not own. Each is a
// check row in a third state: not failed, shown as a warning by the CLI, the Lambda summary and the log
// lines, failing the run only when asked (SMOKE_WARNINGS_FAIL=true, --warnings-fail). Each detail gives the
// risk and the fix in one line. Pure verdicts first (tested row by row), then the reads that feed them.

import type { Client } from "pg";
import { APP_SCHEMA, DB_PORT } from "../access/spec";
import { CheckResult, Timer, timed } from "./checks";
import { WARNING } from "./check-names";
import { SECURITY_GROUP_ID } from "./aws-ids";
// Types only: the EC2 reader (and the HTTPS signing it loads) is imported when a run needs it (smoke/runner.ts).
import type { SecurityGroupRule, SecurityGroupRulesReader } from "./ec2-rules";
import type { Session } from "./session";

export { WARNING };

/** A row's outcome before timing: ok, or a warning with the risk and the fix. */
export type Verdict = { warning: boolean; detail: string };

/**
 * rds.force_ssl as the server reports it (current_setting(..., true): NULL when the server has no such
 * setting). On Aurora PostgreSQL it always exists, so an unknown setting means this is not the server we
 * think it is: we cannot confirm it refuses clients without TLS, which is a warning too, saying so.
 */
export function forceSslVerdict(value: string | null): Verdict {
    if (value === null) {
        return {
            warning: true,
            detail: "rds.force_ssl is not a setting of this server (not Aurora/RDS PostgreSQL?): cannot confirm clients without TLS are refused; check the server's TLS settings",
        };
    }
    if (["1", "on", "true"].includes(value.trim().toLowerCase()))
        return { warning: false, detail: `rds.force_ssl = ${value}: clients without TLS are refused` };
    return {
        warning: true,
        detail: `rds.force_ssl = ${value}: the cluster accepts clients without TLS around the proxy (passwords in clear); once every client uses TLS set rds.force_ssl=1 in the cluster's own (not a default.*) cluster parameter group (aws rds modify-db-cluster-parameter-group ... ParameterName=rds.force_ssl,ParameterValue=1,ApplyMethod=pending-reboot, then reboot the instances)`,
    };
}

export interface AuditSettings {
    /** pgaudit's library is loaded (its settings are real ones in pg_settings, not placeholders). */
    pgauditLoaded: boolean;
    /** pgaudit.log in this session; null when not a setting. */
    pgauditLog: string | null;
    logStatement: string;
}

/** Audit logging is off when pgaudit logs nothing (not loaded, or pgaudit.log none) and log_statement is none. */
export function auditVerdict(a: AuditSettings): Verdict {
    const pgaudit = a.pgauditLoaded && a.pgauditLog !== null && a.pgauditLog.trim().toLowerCase() !== "none";
    const statements = a.logStatement.trim().toLowerCase() !== "none";
    const pgauditText = a.pgauditLoaded ? `pgaudit.log = ${a.pgauditLog ?? "none"}` : "pgaudit not loaded";
    if (pgaudit || statements) return { warning: false, detail: `log_statement = ${a.logStatement}, ${pgauditText}` };
    return {
        warning: true,
        detail: `no audit trail (log_statement = ${a.logStatement}, ${pgauditText}): role, grant and schema changes leave no log line; set log_statement=ddl in the cluster parameter group, or load pgaudit (shared_preload_libraries=pgaudit, pgaudit.log=ddl,role)`,
    };
}

/** PUBLIC's privileges on the app schema: any grant is a warning (every role can use or create there). */
export function publicSchemaVerdict(privileges: string[] | null, schema = APP_SCHEMA): Verdict {
    if (privileges === null) return { warning: false, detail: `schema ${schema} does not exist yet` };
    if (privileges.length === 0) return { warning: false, detail: `PUBLIC holds nothing on schema ${schema}` };
    return {
        warning: true,
        detail: `PUBLIC holds ${privileges.join(", ")} on schema ${schema}: every role, also password logins around the proxy, gets it; once the legacy logins are retired run REVOKE ALL ON SCHEMA ${schema} FROM PUBLIC`,
    };
}

/** True when the rule admits traffic to `port` (tcp or all protocols). */
export function coversPort(rule: SecurityGroupRule, port: number): boolean {
    if (rule.ipProtocol === "-1") return true;
    if (rule.ipProtocol !== "tcp" && rule.ipProtocol !== "6") return false;
    return rule.fromPort <= port && port <= rule.toPort;
}

/** The ingress rules of the cluster's groups that admit addresses (IPv4, IPv6 or a prefix list) to `port`. */
export function cidrRules(rules: SecurityGroupRule[], port: number): SecurityGroupRule[] {
    return rules.filter((r) => !r.isEgress && coversPort(r, port) && (r.cidrIpv4 || r.cidrIpv6 || r.prefixListId));
}

export function cidrVerdict(rules: SecurityGroupRule[], groupIds: string[], port: number = DB_PORT): Verdict {
    const open = cidrRules(rules, port);
    if (open.length === 0) {
        return {
            warning: false,
            detail: `no rule of ${groupIds.join(", ")} admits addresses on ${port} (${rules.filter((r) => !r.isEgress).length} ingress rules read)`,
        };
    }
    const shown = open
        .map((r) => `${r.groupId} admits ${r.cidrIpv4 ?? r.cidrIpv6 ?? `prefix list ${r.prefixListId}`} (${r.securityGroupRuleId})`)
        .join(", ");
    const fixes = [...new Set(open.map((r) => r.groupId))]
        .map(
            (g) =>
                `aws ec2 revoke-security-group-ingress --group-id ${g} --security-group-rule-ids ${open
                    .filter((r) => r.groupId === g)
                    .map((r) => r.securityGroupRuleId)
                    .join(" ")}`,
        )
        .join("; ");
    return {
        warning: true,
        detail: `${shown} on port ${port}: clients there reach the database around the proxy, with passwords; once the app uses the proxy: ${fixes}`,
    };
}

/** What turns the warning rows on, where the cluster's groups are, and whether warnings fail the run. */
export interface WarningOptions {
    /** Existing-database mode: run the warning rows (DB_EXISTING_DATABASE=true, --existing-database). */
    existingDatabase?: boolean;
    /** Warnings fail the run (SMOKE_WARNINGS_FAIL=true, --warnings-fail). Default false. */
    warningsFail?: boolean;
    /** The cluster's own security groups (DB_CLUSTER_SECURITY_GROUP_IDS). */
    clusterSecurityGroupIds?: string[];
    /** The cluster's port, which the CIDR row looks for (DB_CLUSTER_PORT). Default 5432. */
    clusterPort?: number;
    /** Reads the groups' rules; default EC2 DescribeSecurityGroupRules with the run's credentials. Local runs inject one. */
    describeSecurityGroupRules?: SecurityGroupRulesReader;
}

function flag(env: Record<string, string | undefined>, key: string): boolean | undefined {
    const value = env[key];
    if (value === undefined || value === "") return undefined;
    if (value === "true") return true;
    if (value === "false") return false;
    throw new Error(`${key} is ${JSON.stringify(value)}; expected true or false`);
}

/** A comma-separated list of security group ids, validated (e.g. DB_CLUSTER_SECURITY_GROUP_IDS=sg-a,sg-b). */
export function parseGroupIds(text: string, source: string): string[] {
    const ids = text
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
    const bad = ids.find((id) => !SECURITY_GROUP_ID.test(id));
    if (bad !== undefined)
        throw new Error(
            `${source} holds ${JSON.stringify(bad)}, which is not a security group id; expected sg- and 8 or 17 hex digits, comma-separated`,
        );
    return ids;
}

/** The warning settings from the Lambda's (or a shell's) environment; throws one line on a bad value. */
export function warningOptionsFromEnv(env: Record<string, string | undefined>): WarningOptions {
    const existingDatabase = flag(env, "DB_EXISTING_DATABASE");
    const warningsFail = flag(env, "SMOKE_WARNINGS_FAIL");
    const groups = env.DB_CLUSTER_SECURITY_GROUP_IDS;
    const port = env.DB_CLUSTER_PORT;
    const clusterPort = port === undefined || port === "" ? undefined : Number(port);
    if (clusterPort !== undefined && (!Number.isInteger(clusterPort) || clusterPort < 1 || clusterPort > 65535)) {
        throw new Error(`DB_CLUSTER_PORT is ${JSON.stringify(port)}; expected an integer 1..65535 (the cluster's port)`);
    }
    return {
        ...(existingDatabase !== undefined ? { existingDatabase } : {}),
        ...(warningsFail !== undefined ? { warningsFail } : {}),
        ...(groups ? { clusterSecurityGroupIds: parseGroupIds(groups, "DB_CLUSTER_SECURITY_GROUP_IDS") } : {}),
        ...(clusterPort !== undefined ? { clusterPort } : {}),
    };
}

/** A verdict as a check row: a warning is ok (not failed) and marked. */
function row(v: Verdict): Omit<CheckResult, "name" | "ms"> {
    return v.warning ? { ok: true, warning: true, detail: v.detail } : { ok: true, detail: v.detail };
}

/** A row that could not be read: a warning saying why (the run should not break on what it only advises). */
function unread(what: string, err: unknown): Omit<CheckResult, "name" | "ms"> {
    const message = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, " ");
    return { ok: true, warning: true, detail: `not checked: ${what}: ${message}` };
}

/** The three rows read from the database, in one query on the application user's own connection. */
export async function databaseWarningChecks(session: Session, client: Client, clock: Timer): Promise<CheckResult[]> {
    let facts:
        | {
              force_ssl: string | null;
              pgaudit_loaded: boolean;
              pgaudit_log: string | null;
              log_statement: string;
              public_privileges: string[] | null;
          }
        | undefined;
    let failure: unknown;
    const started = clock();
    try {
        // current_setting(name, true) is NULL for a setting the server does not have. A loaded library's settings
        // are in pg_settings; a placeholder (a name set in the configuration without the library) is not.
        const { rows } = await session.within(
            client.query(
                `SELECT current_setting('rds.force_ssl', true) AS force_ssl,
              EXISTS (SELECT 1 FROM pg_settings WHERE name = 'pgaudit.log') AS pgaudit_loaded,
              current_setting('pgaudit.log', true) AS pgaudit_log,
              current_setting('log_statement') AS log_statement,
              (SELECT ARRAY(SELECT p FROM unnest(ARRAY['USAGE', 'CREATE']) p WHERE has_schema_privilege('public', n.oid, p))
               FROM pg_namespace n WHERE n.nspname = $1) AS public_privileges`,
                [APP_SCHEMA],
            ),
        );
        facts = rows[0];
    } catch (err) {
        failure = err;
    }
    const ms = Math.round(clock() - started);
    const rowFor = (name: string, verdict: () => Verdict): CheckResult => ({
        name,
        ms,
        ...(facts ? row(verdict()) : unread("the settings query failed", failure)),
    });
    return [
        rowFor(WARNING.forceSsl, () => forceSslVerdict(facts!.force_ssl)),
        rowFor(WARNING.audit, () =>
            auditVerdict({ pgauditLoaded: facts!.pgaudit_loaded, pgauditLog: facts!.pgaudit_log, logStatement: facts!.log_statement }),
        ),
        rowFor(WARNING.publicSchema, () => publicSchemaVerdict(facts!.public_privileges)),
    ];
}

/** The CIDR row: the cluster groups' ingress rules, read at run time. */
export async function cidrWarningCheck(
    session: Session,
    clock: Timer,
    o: WarningOptions,
    reader: SecurityGroupRulesReader | undefined,
): Promise<CheckResult> {
    return timed(WARNING.cidr, session, clock, async () => {
        const groups = o.clusterSecurityGroupIds ?? [];
        if (groups.length === 0) {
            return {
                ok: true,
                warning: true,
                detail: "not checked: no cluster security groups were given (DB_CLUSTER_SECURITY_GROUP_IDS, --cluster-security-groups)",
            };
        }
        if (!reader) return { ok: true, warning: true, detail: "not checked: no way to read security group rules was given" };
        try {
            const rules = await session.within(reader(groups));
            return row(cidrVerdict(rules, groups, o.clusterPort ?? DB_PORT));
        } catch (err) {
            return unread(`reading the rules of ${groups.join(", ")}`, err);
        }
    });
}
