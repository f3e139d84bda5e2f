// What Aurora PostgreSQL offers as provisioned instance classes, per engine major: the one home of
// that fact for the settings parser (database.instanceClass) and the component.
//
// Source: "Supported DB engines for DB instance classes", Amazon Aurora User Guide,
// https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.DBInstanceClass.SupportAurora.html
// (read 2026-12-01), and the hardware specifications page for vCPUs and memory,
// https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.DBInstanceClass.Summary.html.
// The page lists a first minor per major ("16.1 and higher"); only the major is checked here, because
// the cluster runs the newest minor of the major unless a preferred one is pinned, and AWS refuses an
// unsupported class/version pair at creation (CreateDBInstance: InvalidParameterCombination).
// Before relying on a class in a region:
//   aws rds describe-orderable-db-instance-options --engine aurora-postgresql --engine-version 16.8 \
//     --db-instance-class db.t4g.medium --query 'OrderableDBInstanceOptions[].AvailabilityZones'

/** db.serverless: Aurora Serverless v2 (capacity from database.minCapacity/maxCapacity). */
export const SERVERLESS_CLASS = "db.serverless";

export interface AuroraInstanceClass {
    vcpu: number;
    memoryGiB: number;
    /** Aurora PostgreSQL majors the page lists the class for. */
    majors: number[];
    /** AWS recommends the T classes for development and test only (AuroraPostgreSQL.Managing.html). */
    burstable: boolean;
}

const ALL = [13, 14, 15, 16, 17];
const t = (vcpu: number, memoryGiB: number, majors = ALL): AuroraInstanceClass => ({ vcpu, memoryGiB, majors, burstable: true });
const r = (vcpu: number, memoryGiB: number, majors = ALL): AuroraInstanceClass => ({ vcpu, memoryGiB, majors, burstable: false });

export const AURORA_POSTGRESQL_CLASSES: Record<string, AuroraInstanceClass> = {
    "db.t3.medium": t(2, 4, [13, 14, 15, 16]),
    "db.t3.large": t(2, 8, [13, 14, 15, 16]),
    "db.t4g.medium": t(2, 4),
    "db.t4g.large": t(2, 8),
    "db.r6g.large": r(2, 16),
    "db.r6g.xlarge": r(4, 32),
    "db.r6g.2xlarge": r(8, 64),
    "db.r6g.4xlarge": r(16, 128),
    "db.r6i.large": r(2, 16),
    "db.r6i.xlarge": r(4, 32),
    "db.r7g.large": r(2, 16),
    "db.r7g.xlarge": r(4, 32),
    "db.r7g.2xlarge": r(8, 64),
    "db.r7g.4xlarge": r(16, 128),
    "db.r8g.large": r(2, 16),
    "db.r8g.xlarge": r(4, 32),
    "db.r8g.2xlarge": r(8, 64),
};

/** The classes offered for a major, in table order. */
export function classesFor(major: number): string[] {
    return Object.entries(AURORA_POSTGRESQL_CLASSES)
        .filter(([, c]) => c.majors.includes(major))
        .map(([name]) => name);
}

/**
 * The default max_connections of a provisioned Aurora PostgreSQL instance, an upper bound:
 * LEAST({DBInstanceClassMemory/9531392}, 5000) (AuroraPostgreSQL.Managing.html, "Maximum connections").
 * DBInstanceClassMemory is the class's memory less what the OS and RDS reserve, so the live value is
 * lower (check with SHOW max_connections); the proxy's pool is maxConnectionsPercent of it.
 */
export function maxConnectionsUpperBound(instanceClass: string): number | undefined {
    const c = AURORA_POSTGRESQL_CLASSES[instanceClass];
    return c && Math.min(Math.floor((c.memoryGiB * 1024 ** 3) / 9531392), 5000);
}
