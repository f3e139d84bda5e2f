// The price table: what AWS charges, in USD, for the things this program declares, per region.
// Dated and sourced so a reviewer can check every figure; read once from the pages below, never
// fetched at run time. To refresh it, see cost/README.md ("Refreshing the price table").
//
// `source` names the AWS pricing page that is authoritative for the figure and says what was
// actually checked on the row's `read` date: "seen" means the figure was found on that date in a published
// summary of that page (named); "not confirmed" means no page read that day showed the figure, and
// the value given is the one used (AWS's published list price as last known to the author).

/** The date the table was last refreshed as a whole: the oldest `read` date of its rows (rows added later carry their own). */
export const PRICES_AS_OF = "2026-11-23";

export const REGIONS = ["eu-west-1", "us-east-1"] as const;
export type Region = (typeof REGIONS)[number];

/** Hours in a month as AWS's own calculator counts them. */
export const HOURS_PER_MONTH = 730;

export interface Price {
    /** What one unit is, e.g. "ACU-hour", "GB-month". */
    unit: string;
    usd: Record<Region, number>;
    source: string;
    /** The date `source` was read (YYYY-MM-DD); a row older than STALE_AFTER_MONTHS makes the tool warn. */
    read: string;
}

const AURORA = "https://aws.amazon.com/rds/aurora/pricing/";
const PROXY = "https://aws.amazon.com/rds/proxy/pricing/";
const VPC = "https://aws.amazon.com/vpc/pricing/";
const FARGATE = "https://aws.amazon.com/fargate/pricing/";
const CLOUDWATCH = "https://aws.amazon.com/cloudwatch/pricing/";
const LAMBDA = "https://aws.amazon.com/lambda/pricing/";
const READ_2026_12_01 = "2026-12-01";
const NOT_CONFIRMED_DEC = "not confirmed on 2026-12-01 (no page read that day showed it); value used is AWS's list price as last known";
const NOT_CONFIRMED = "not confirmed on 2026-11-23 (no page read that day showed it); value used is AWS's list price as last known";

export const PRICES = {
    auroraAcuHour: {
        unit: "ACU-hour (Aurora Serverless v2, Aurora Standard, PostgreSQL)",
        usd: { "us-east-1": 0.12, "eu-west-1": 0.13 },
        source: `${AURORA} — us-east-1 $0.12 seen in c3x.dev "Aurora Serverless v2 cost" (2026) and aws/agent-toolkit-for-aws acu_calculator.py (static us-east-1 table, 2026-03-28); eu-west-1 ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    auroraStorageGbMonth: {
        unit: "GB-month of Aurora Standard cluster storage",
        usd: { "us-east-1": 0.1, "eu-west-1": 0.11 },
        source: `${AURORA} — us-east-1 $0.10 seen in aws/agent-toolkit-for-aws acu_calculator.py (2026-03-28) and awsnegotiations.com (May 2026); eu-west-1 ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    auroraIoMillion: {
        unit: "1 million I/O requests (Aurora Standard)",
        usd: { "us-east-1": 0.2, "eu-west-1": 0.22 },
        source: `${AURORA} — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    dataApiMillion: {
        unit: "1 million RDS Data API requests (first billion)",
        usd: { "us-east-1": 0.35, "eu-west-1": 0.35 },
        source: `${AURORA} (Data API section) — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    proxyAcuHour: {
        unit: "ACU-hour of the Serverless v2 instances an RDS Proxy fronts (minimum 8 ACUs)",
        usd: { "us-east-1": 0.015, "eu-west-1": 0.0165 },
        source: `${PROXY} — the 8-ACU minimum for Aurora Serverless v2 seen in blog.serverworks.co.jp "Aurora Serverless v2 + RDS Proxy: the proxy's minimum charge is 8 ACUs" (June 2024); the per-ACU rates ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    proxyVcpuHour: {
        unit: "vCPU-hour of the provisioned instances an RDS Proxy fronts (minimum 2 vCPUs)",
        usd: { "us-east-1": 0.015, "eu-west-1": 0.0165 },
        source: `${PROXY} — billing per vCPU of the provisioned instances behind the proxy seen in the RDS Proxy GA announcement ("you pay per vCPU of the database instance for which the proxy is enabled", quoted in a public notes repository read ${READ_2026_12_01}); the 2-vCPU minimum and the per-vCPU rates ${NOT_CONFIRMED_DEC}`,
        read: READ_2026_12_01,
    },
    auroraT4gMediumHour: {
        unit: "db.t4g.medium instance-hour (Aurora PostgreSQL, Aurora Standard, on demand)",
        usd: { "us-east-1": 0.073, "eu-west-1": 0.08 },
        source: `${AURORA} — db.t4g.medium is Aurora PostgreSQL's smallest class (2 vCPU, 4 GiB), and Aurora Standard $0.113/h in ap-northeast-1, seen in kenzo0107.github.io "How much Aurora Serverless v2 capacity equals a db.t4g.medium" (Dec 2025); the us-east-1 and eu-west-1 rates ${NOT_CONFIRMED_DEC}`,
        read: READ_2026_12_01,
    },
    auroraT4gLargeHour: {
        unit: "db.t4g.large instance-hour (Aurora PostgreSQL, Aurora Standard, on demand)",
        usd: { "us-east-1": 0.146, "eu-west-1": 0.16 },
        source: `${AURORA} — ${NOT_CONFIRMED_DEC}`,
        read: READ_2026_12_01,
    },
    auroraT3MediumHour: {
        unit: "db.t3.medium instance-hour (Aurora PostgreSQL, Aurora Standard, on demand)",
        usd: { "us-east-1": 0.082, "eu-west-1": 0.088 },
        source: `${AURORA} — ${NOT_CONFIRMED_DEC}`,
        read: READ_2026_12_01,
    },
    auroraR6gLargeHour: {
        unit: "db.r6g.large instance-hour (Aurora PostgreSQL, Aurora Standard, on demand)",
        usd: { "us-east-1": 0.26, "eu-west-1": 0.285 },
        source: `${AURORA} — ${NOT_CONFIRMED_DEC}`,
        read: READ_2026_12_01,
    },
    auroraR7gLargeHour: {
        unit: "db.r7g.large instance-hour (Aurora PostgreSQL, Aurora Standard, on demand)",
        usd: { "us-east-1": 0.276, "eu-west-1": 0.3035 },
        source: `${AURORA} — ${NOT_CONFIRMED_DEC}`,
        read: READ_2026_12_01,
    },
    secretMonth: {
        unit: "Secrets Manager secret-month",
        usd: { "us-east-1": 0.4, "eu-west-1": 0.4 },
        source: `https://aws.amazon.com/secrets-manager/pricing/ — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    kmsKeyMonth: {
        unit: "KMS customer managed key-month (each of the first two rotations adds one more)",
        usd: { "us-east-1": 1.0, "eu-west-1": 1.0 },
        source: `https://aws.amazon.com/kms/pricing/ — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    natGatewayHour: {
        unit: "NAT gateway-hour",
        usd: { "us-east-1": 0.045, "eu-west-1": 0.048 },
        source: `${VPC} — us-east-1 $0.045 seen in basavytix.com and cloudburn.io "AWS NAT Gateway pricing" (2026); Europe (Ireland, Frankfurt, London) "~$0.048–$0.052" seen in cloudpipelines.pages.dev "AWS NAT Gateway pricing 2026", Ireland's exact figure not confirmed: $0.048 used`,
        read: PRICES_AS_OF,
    },
    natGatewayGb: {
        unit: "GB processed by a NAT gateway",
        usd: { "us-east-1": 0.045, "eu-west-1": 0.048 },
        source: `${VPC} — us-east-1 $0.045/GB seen in basavytix.com and cloudburn.io (2026); Europe (Ireland, Frankfurt, London) "~$0.048–$0.052" seen in cloudpipelines.pages.dev (2026), Ireland's exact figure not confirmed: $0.048 used`,
        read: PRICES_AS_OF,
    },
    publicIpv4Hour: {
        unit: "public IPv4 address-hour (in use or idle)",
        usd: { "us-east-1": 0.005, "eu-west-1": 0.005 },
        source: `${VPC} (Public IPv4 Address tab) — $0.005/h seen in cloudburn.io "AWS NAT Gateway pricing" (2026); same in every commercial region`,
        read: PRICES_AS_OF,
    },
    interfaceEndpointAzHour: {
        unit: "VPC interface endpoint, per AZ-hour",
        usd: { "us-east-1": 0.01, "eu-west-1": 0.011 },
        source: `https://aws.amazon.com/privatelink/pricing/ — us-east-1 $7.20 per AZ-month ($0.01/h) seen in egresscost.com "NAT Gateway costs" (2026); eu-west-1 ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    interfaceEndpointGb: {
        unit: "GB processed by a VPC interface endpoint (first PB)",
        usd: { "us-east-1": 0.01, "eu-west-1": 0.01 },
        source: `https://aws.amazon.com/privatelink/pricing/ — $0.01/GB seen in egresscost.com and wring.co (2026)`,
        read: PRICES_AS_OF,
    },
    fargateVcpuHourX86: {
        unit: "Fargate Linux/x86 vCPU-hour",
        usd: { "us-east-1": 0.04048, "eu-west-1": 0.04048 },
        source: `${FARGATE} — us-east-1 $0.04048 seen in vantage.sh "AWS Fargate pricing explained" and factualminds.com (June 2026); eu-west-1 ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    fargateGbHourX86: {
        unit: "Fargate Linux/x86 GB-hour of memory",
        usd: { "us-east-1": 0.004445, "eu-west-1": 0.004445 },
        source: `${FARGATE} — us-east-1 $0.004445 seen in vantage.sh and factualminds.com (June 2026); eu-west-1 ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    fargateVcpuHourArm: {
        unit: "Fargate Linux/ARM vCPU-hour",
        usd: { "us-east-1": 0.03238, "eu-west-1": 0.03238 },
        source: `${FARGATE} — us-east-1 $0.03238 seen in vantage.sh "AWS Fargate pricing explained"; eu-west-1 ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    fargateGbHourArm: {
        unit: "Fargate Linux/ARM GB-hour of memory",
        usd: { "us-east-1": 0.00356, "eu-west-1": 0.00356 },
        source: `${FARGATE} — us-east-1 $0.00356 seen in vantage.sh "AWS Fargate pricing explained"; eu-west-1 ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    logsIngestGb: {
        unit: "GB ingested into CloudWatch Logs (Standard class)",
        usd: { "us-east-1": 0.5, "eu-west-1": 0.57 },
        source: `${CLOUDWATCH} (Logs tab) — us-east-1 $0.50 seen in c3x.dev and hykell.com (2026); eu-west-1 ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    logsStorageGbMonth: {
        unit: "GB-month archived in CloudWatch Logs",
        usd: { "us-east-1": 0.03, "eu-west-1": 0.03 },
        source: `${CLOUDWATCH} (Logs tab) — us-east-1 $0.03 seen in c3x.dev and hykell.com (2026); eu-west-1 ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    vendedLogsGb: {
        unit: "GB of vended logs (VPC flow logs) delivered to CloudWatch Logs, first 10 TB",
        usd: { "us-east-1": 0.5, "eu-west-1": 0.57 },
        source: `${CLOUDWATCH} (Vended logs) — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    vendedLogsS3Gb: {
        unit: "GB of vended logs (VPC flow logs) delivered to S3, first 10 TB",
        usd: { "us-east-1": 0.25, "eu-west-1": 0.25 },
        source: `${CLOUDWATCH} (Vended logs) — us-east-1 $0.25 seen in c3x.dev (2026); eu-west-1 ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    metricMonth: {
        unit: "CloudWatch custom metric-month (first 10,000)",
        usd: { "us-east-1": 0.3, "eu-west-1": 0.3 },
        source: `${CLOUDWATCH} (Metrics tab; Container Insights metrics are billed as custom metrics) — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    alarmMetricMonth: {
        unit: "standard-resolution alarm metric-month",
        usd: { "us-east-1": 0.1, "eu-west-1": 0.1 },
        source: `${CLOUDWATCH} (Alarms tab) — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    alarmHighResMetricMonth: {
        unit: "high-resolution (10 s) alarm metric-month",
        usd: { "us-east-1": 0.3, "eu-west-1": 0.3 },
        source: `${CLOUDWATCH} (Alarms tab) — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    compositeAlarmMonth: {
        unit: "composite alarm-month",
        usd: { "us-east-1": 0.5, "eu-west-1": 0.5 },
        source: `${CLOUDWATCH} (Alarms tab) — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    dashboardMonth: {
        unit: "dashboard-month (the account's first 3 are free)",
        usd: { "us-east-1": 3.0, "eu-west-1": 3.0 },
        source: `${CLOUDWATCH} (Dashboards tab) — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    lambdaRequestMillion: {
        unit: "1 million Lambda requests",
        usd: { "us-east-1": 0.2, "eu-west-1": 0.2 },
        source: `${LAMBDA} — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    lambdaGbSecondX86: {
        unit: "Lambda x86 GB-second (first 6 billion)",
        usd: { "us-east-1": 0.0000166667, "eu-west-1": 0.0000166667 },
        source: `${LAMBDA} — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    lambdaGbSecondArm: {
        unit: "Lambda arm64 GB-second (first 7.5 billion)",
        usd: { "us-east-1": 0.0000133334, "eu-west-1": 0.0000133334 },
        source: `${LAMBDA} — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    schedulerMillion: {
        unit: "1 million EventBridge Scheduler invocations beyond the 14 million free each month",
        usd: { "us-east-1": 1.0, "eu-west-1": 1.0 },
        source: `https://aws.amazon.com/eventbridge/pricing/ (Scheduler) — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    ec2T4gNanoHour: {
        unit: "t4g.nano on-demand Linux instance-hour",
        usd: { "us-east-1": 0.0042, "eu-west-1": 0.0046 },
        source: `https://aws.amazon.com/ec2/pricing/on-demand/ — us-east-1 $3.07/month (= $0.0042/h) seen in egresscost.com (2026); eu-west-1 ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    ec2T4gMicroHour: {
        unit: "t4g.micro on-demand Linux instance-hour",
        usd: { "us-east-1": 0.0084, "eu-west-1": 0.0092 },
        source: `https://aws.amazon.com/ec2/pricing/on-demand/ — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    ec2T4gSmallHour: {
        unit: "t4g.small on-demand Linux instance-hour",
        usd: { "us-east-1": 0.0168, "eu-west-1": 0.0184 },
        source: `https://aws.amazon.com/ec2/pricing/on-demand/ — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    ebsGp3GbMonth: {
        unit: "EBS gp3 GB-month (3,000 IOPS and 125 MB/s included)",
        usd: { "us-east-1": 0.08, "eu-west-1": 0.088 },
        source: `https://aws.amazon.com/ebs/pricing/ — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    ebsGp2GbMonth: {
        unit: "EBS gp2 GB-month",
        usd: { "us-east-1": 0.1, "eu-west-1": 0.11 },
        source: `https://aws.amazon.com/ebs/pricing/ — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    s3StandardGbMonth: {
        unit: "S3 Standard GB-month (first 50 TB)",
        usd: { "us-east-1": 0.023, "eu-west-1": 0.023 },
        source: `https://aws.amazon.com/s3/pricing/ — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    cloudTrailDataEvents100k: {
        unit: "100,000 CloudTrail data events delivered",
        usd: { "us-east-1": 0.1, "eu-west-1": 0.1 },
        source: `https://aws.amazon.com/cloudtrail/pricing/ — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    ecrStorageGbMonth: {
        unit: "GB-month of image storage in a private ECR repository",
        usd: { "us-east-1": 0.1, "eu-west-1": 0.1 },
        source: `https://aws.amazon.com/ecr/pricing/ — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    snsPublishMillion: {
        unit: "1 million SNS publishes beyond the first million each month",
        usd: { "us-east-1": 0.5, "eu-west-1": 0.5 },
        source: `https://aws.amazon.com/sns/pricing/ — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
    ssmAdvancedParameterMonth: {
        unit: "SSM Parameter Store advanced parameter-month (standard ones are free)",
        usd: { "us-east-1": 0.05, "eu-west-1": 0.05 },
        source: `https://aws.amazon.com/systems-manager/pricing/ — ${NOT_CONFIRMED}`,
        read: PRICES_AS_OF,
    },
} satisfies Record<string, Price>;

export type PriceKey = keyof typeof PRICES;

export function isPricedRegion(region: string): region is Region {
    return (REGIONS as readonly string[]).includes(region);
}

/** The on-demand hourly price key of an EC2 instance type the table knows. */
export const EC2_INSTANCE_HOUR: Record<string, PriceKey> = {
    "t4g.nano": "ec2T4gNanoHour",
    "t4g.micro": "ec2T4gMicroHour",
    "t4g.small": "ec2T4gSmallHour",
};

/**
 * The on-demand hourly price key and the vCPUs of each provisioned Aurora PostgreSQL class the table
 * prices (RDS Proxy bills a provisioned target per vCPU). A class Aurora offers but this map lacks is
 * listed as not priced, never as zero. vCPUs: the AWS hardware specifications page
 * (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.DBInstanceClass.Summary.html);
 * test/cost.test.ts checks they agree with components/aurora-classes.ts.
 */
export const AURORA_INSTANCE_HOUR: Record<string, { key: PriceKey; vcpu: number }> = {
    "db.t4g.medium": { key: "auroraT4gMediumHour", vcpu: 2 },
    "db.t4g.large": { key: "auroraT4gLargeHour", vcpu: 2 },
    "db.t3.medium": { key: "auroraT3MediumHour", vcpu: 2 },
    "db.r6g.large": { key: "auroraR6gLargeHour", vcpu: 2 },
    "db.r7g.large": { key: "auroraR7gLargeHour", vcpu: 2 },
};

/** The proxy's minimum billed vCPUs for provisioned targets, and ACUs for Serverless v2 targets. */
export const PROXY_MIN_VCPU = 2;
export const PROXY_MIN_ACU = 8;

/** A row warns once its `read` date is this many months old. */
export const STALE_AFTER_MONTHS = 12;

/** True when a row's source says some figure of it could not be confirmed on the day it was read. */
export function isUnverified(price: Price): boolean {
    return /not confirmed/.test(price.source);
}

/** The rows some figure of which could not be confirmed: `npm run cost -- --unverified` and the README list them. */
export function unverifiedRows(): Array<{ key: PriceKey; price: Price }> {
    return (Object.entries(PRICES) as Array<[PriceKey, Price]>)
        .filter(([, price]) => isUnverified(price))
        .map(([key, price]) => ({ key, price }));
}

/** Rows read more than STALE_AFTER_MONTHS before `now` (the clock is a parameter so tests can move it). */
export function staleRows(now: Date = new Date()): Array<{ key: PriceKey; read: string }> {
    const limit = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - STALE_AFTER_MONTHS, now.getUTCDate()));
    return (Object.entries(PRICES) as Array<[PriceKey, Price]>)
        .filter(([, price]) => new Date(`${price.read}T00:00:00Z`) < limit)
        .map(([key, price]) => ({ key, read: price.read }));
}

/** The one-line warning for stale rows, or undefined when every row is fresh. */
export function staleWarning(now: Date = new Date()): string | undefined {
    const stale = staleRows(now);
    if (stale.length === 0) return undefined;
    const oldest = stale.map((s) => s.read).sort()[0];
    return (
        `warning: ${stale.length} price row(s) were read more than ${STALE_AFTER_MONTHS} months ago (oldest ${oldest}: ${stale
            .slice(0, 5)
            .map((s) => s.key)
            .join(", ")}` +
        `${stale.length > 5 ? ", ..." : ""}); refresh cost/prices.ts from the sources they name (cost/README.md, "Refreshing the price table")`
    );
}
