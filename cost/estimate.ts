// Prices a plan: a list of `{ type, name, inputs }` resources (what the mock cloud records, or what a
// policy sees) becomes monthly cost lines with low / expected / high figures, each saying how it was
// reached. Pure: no Pulumi, no network, no settings file; the price table is cost/prices.ts.
//
// Every AWS resource type is either priced here (PRICERS), classed as free (FREE), or reported as
// "not priced": a type this file doesn't know never counts as zero.
import {
    AURORA_INSTANCE_HOUR,
    EC2_INSTANCE_HOUR,
    HOURS_PER_MONTH,
    isPricedRegion,
    PRICES,
    PRICES_AS_OF,
    PriceKey,
    PROXY_MIN_ACU,
    PROXY_MIN_VCPU,
    Region,
    REGIONS,
} from "./prices";

/** A resource as planned: its type token, logical name and resolved inputs (state/id when known). */
export interface PlannedResource {
    type: string;
    name: string;
    inputs: Record<string, any>;
    /** Inputs plus provider outputs, when known (the mock cloud records them; policies see them). */
    state?: Record<string, any>;
    id?: string;
}

export interface Range {
    low: number;
    expected: number;
    high: number;
}

/** Usage the plan can't tell; each is a low / expected / high scenario. */
export interface Assumptions {
    /** Where each Serverless v2 instance sits on average between its min and max ACU (0 = min, 1 = max). */
    acuPositionInRange: Range;
    /** Aurora Standard cluster storage, GB (automated backups up to this size are free). */
    auroraStorageGb: Range;
    /** Aurora Standard I/O, millions of requests per month. */
    auroraIoMillions: Range;
    /** Data through the stack's NAT gateways, GB per month, split evenly over them. */
    natDataGb: Range;
    /** Logs ingested per log group, GB per month. */
    logIngestGbPerGroup: Range;
    /** VPC flow log records per flow log, GB per month. */
    flowLogGb: Range;
    /** One Enhanced Monitoring sample (an RDSOSMetrics log event), KB. */
    enhancedMonitoringSampleKb: Range;
    /** `pulumi up` runs per month: each runs every aws.lambda.Invocation once. */
    deploysPerMonth: Range;
    /** Duration of one Lambda run, seconds. */
    lambdaRunSeconds: Range;
    /** RDS Data API requests per deploy (the bootstrap's statements). */
    dataApiCallsPerDeploy: Range;
    /** Container Insights performance log events per ECS service, GB per month. */
    containerInsightsLogGbPerService: Range;
    /** Data through each interface VPC endpoint, GB per month. */
    endpointDataGb: Range;
    /** Data kept in each S3 bucket, GB. */
    s3Gb: Range;
    /** CloudTrail data events per trail that records them, millions per month. */
    cloudTrailDataEventsMillions: Range;
}

const r = (low: number, expected: number, high: number): Range => ({ low, expected, high });

export const DEFAULT_ASSUMPTIONS: Assumptions = {
    acuPositionInRange: r(0, 0.25, 1),
    auroraStorageGb: r(1, 20, 200),
    auroraIoMillions: r(1, 20, 200),
    natDataGb: r(5, 50, 500),
    logIngestGbPerGroup: r(0.1, 0.5, 5),
    flowLogGb: r(1, 5, 50),
    enhancedMonitoringSampleKb: r(4, 10, 20),
    deploysPerMonth: r(4, 20, 60),
    lambdaRunSeconds: r(2, 10, 60),
    dataApiCallsPerDeploy: r(20, 50, 200),
    containerInsightsLogGbPerService: r(0.1, 0.5, 2),
    endpointDataGb: r(0.1, 1, 10),
    s3Gb: r(0.1, 1, 10),
    cloudTrailDataEventsMillions: r(0.1, 1, 10),
};

/** The assumptions in words, for the CLI, `npm start` and the README. */
export function describeAssumptions(a: Assumptions = DEFAULT_ASSUMPTIONS): string[] {
    const s = (x: Range, unit: string) => `${x.low} / ${x.expected} / ${x.high} ${unit}`;
    return [
        `Serverless v2 ACU: low = min capacity all month, expected = min + ${pct(a.acuPositionInRange.expected)} of (max - min) on average, high = max all month`,
        "RDS Proxy: the ACUs of the Serverless v2 instances it fronts, never fewer than 8 ACUs; the vCPUs of provisioned instances, never fewer than 2",
        `Aurora storage ${s(a.auroraStorageGb, "GB")} (automated backups within that size are free), I/O ${s(a.auroraIoMillions, "million requests/month")}`,
        `NAT data ${s(a.natDataGb, "GB/month")} for the whole stack, split evenly over the gateways`,
        `logs ${s(a.logIngestGbPerGroup, "GB/month")} per log group, kept for its retention (storage priced uncompressed); flow logs ${s(a.flowLogGb, "GB/month")}`,
        `Enhanced Monitoring ${s(a.enhancedMonitoringSampleKb, "KB")} per sample, ingested into CloudWatch Logs`,
        `${s(a.deploysPerMonth, "deploys/month")}, each running every Invocation once (${s(a.lambdaRunSeconds, "s")} per run) and ${s(a.dataApiCallsPerDeploy, "Data API calls")}`,
        `Container Insights: 8 cluster + 11 per-service metrics, ${s(a.containerInsightsLogGbPerService, "GB/month")} of performance events per service`,
        `interface endpoints ${s(a.endpointDataGb, "GB/month")} each; S3 ${s(a.s3Gb, "GB")} per bucket; CloudTrail data events ${s(a.cloudTrailDataEventsMillions, "million/month")}`,
        "account-level free tiers (Lambda, the first 3 dashboards, KMS requests) are not subtracted, except where a line says so",
        `${HOURS_PER_MONTH} hours a month; on-demand prices, no Savings Plans or Reserved capacity; data transfer out of AWS not included`,
    ];
}

export interface CostLine {
    resource: string;
    type: string;
    /** Expected USD per month, rounded to cents. */
    monthly: number;
    low: number;
    high: number;
    /** How the figure was reached. */
    basis: string;
}

export interface Unpriced {
    resource: string;
    type: string;
    reason: string;
}

export interface Estimate {
    stack: string;
    region: Region;
    currency: "USD";
    pricesAsOf: string;
    monthly: Range;
    lines: CostLine[];
    /** Resources (or parts of them) the table can't price: listed, never counted as zero. */
    notPriced: Unpriced[];
    /** Resources AWS doesn't charge for, with why. */
    free: Unpriced[];
}

/**
 * How a type is handled: priced, free, not an AWS resource (our components, providers), a remote component of
 * another package whose AWS resources the offline plan cannot see (awsx), or unknown.
 */
export type Classification = "priced" | "free" | "ignored" | "opaque" | "unknown";

export function classify(type: string): Classification {
    if (type.startsWith("awsx:")) return "opaque";
    if (!type.startsWith("aws:") && !type.startsWith("random:")) return "ignored";
    if (type in PRICERS) return "priced";
    if (freeReason(type) !== undefined) return "free";
    return "unknown";
}

/** Thrown for a region the price table doesn't cover. */
export class UnpricedRegionError extends Error {}

/** Prices every resource in `resources` for `region`. */
export function estimate(
    stack: string,
    region: string,
    resources: PlannedResource[],
    assumptions: Assumptions = DEFAULT_ASSUMPTIONS,
): Estimate {
    if (!isPricedRegion(region)) {
        throw new UnpricedRegionError(
            `${stack}: region ${region} is not in the price table (cost/prices.ts); priced regions: ${REGIONS.join(", ")}`,
        );
    }
    const ctx = new Context(region, resources, assumptions);
    const lines: CostLine[] = [];
    const notPriced: Unpriced[] = [];
    const free: Unpriced[] = [];
    for (const res of resources) {
        const kind = classify(res.type);
        if (kind === "ignored") continue;
        if (kind === "opaque") {
            notPriced.push({
                resource: res.name,
                type: res.type,
                reason:
                    `${res.type} is a remote component: its AWS resources (an awsx ec2.Vpc's NAT gateways, for one) ` +
                    "are created by its own provider and are not in the offline plan, so they are not priced here",
            });
            continue;
        }
        if (kind === "free") {
            free.push({ resource: res.name, type: res.type, reason: freeReason(res.type)! });
            continue;
        }
        if (kind === "unknown") {
            notPriced.push({
                resource: res.name,
                type: res.type,
                reason: `the price table doesn't know ${res.type}; price it or class it as free in cost/estimate.ts`,
            });
            continue;
        }
        for (const part of PRICERS[res.type](res, ctx)) {
            if ("reason" in part) notPriced.push({ resource: res.name, type: res.type, reason: part.reason });
            else
                lines.push({
                    resource: res.name,
                    type: res.type,
                    monthly: cents(part.expected),
                    low: cents(part.low),
                    high: cents(part.high),
                    basis: part.basis,
                });
        }
    }
    const total = (pick: (l: CostLine) => number) => Math.round(lines.reduce((sum, l) => sum + Math.round(pick(l) * 100), 0)) / 100;
    return {
        stack,
        region,
        currency: "USD",
        pricesAsOf: PRICES_AS_OF,
        monthly: { low: total((l) => l.low), expected: total((l) => l.monthly), high: total((l) => l.high) },
        lines,
        notPriced,
        free,
    };
}

/** The `--json` document: the contract in cost/README.md, plus `notPriced` (an added field). */
export function toJson(e: Estimate) {
    return {
        stack: e.stack,
        region: e.region,
        currency: e.currency,
        pricesAsOf: e.pricesAsOf,
        monthly: { low: e.monthly.low, expected: e.monthly.expected, high: e.monthly.high },
        lines: e.lines.map((l) => ({ resource: l.resource, type: l.type, monthly: l.monthly, basis: l.basis })),
        notPriced: e.notPriced.map((n) => ({ resource: n.resource, type: n.type, reason: n.reason })),
    };
}

// ------------------------------------------------------------------------------------------------
// Pricing by type
// ------------------------------------------------------------------------------------------------

type Part = (Range & { basis: string }) | { reason: string };
type Pricer = (res: PlannedResource, ctx: Context) => Part[];

class Context {
    constructor(
        readonly region: Region,
        readonly resources: PlannedResource[],
        readonly a: Assumptions,
    ) {}

    price(key: PriceKey): number {
        return PRICES[key].usd[this.region];
    }

    /** "$0.13/ACU-hour"-style text for a basis. */
    show(key: PriceKey): string {
        return usd(this.price(key));
    }

    ofType(type: string): PlannedResource[] {
        return this.resources.filter((x) => x.type === type);
    }
}

const T = {
    cluster: "aws:rds/cluster:Cluster",
    instance: "aws:rds/clusterInstance:ClusterInstance",
    proxy: "aws:rds/proxy:Proxy",
    proxyTarget: "aws:rds/proxyTarget:ProxyTarget",
    nat: "aws:ec2/natGateway:NatGateway",
    service: "aws:ecs/service:Service",
    taskDefinition: "aws:ecs/taskDefinition:TaskDefinition",
    flowLog: "aws:ec2/flowLog:FlowLog",
    lambda: "aws:lambda/function:Function",
    schedule: "aws:scheduler/schedule:Schedule",
} as const;

/** Values a resource may be referred to by: its id, names and ARN. */
function handles(res: PlannedResource): string[] {
    return [res.id, res.state?.id, res.state?.name, res.state?.arn, res.inputs.name, res.inputs.arn].filter(
        (v): v is string => typeof v === "string" && v.length > 0,
    );
}

/** The resource of `candidates` that `ref` names; the only candidate when the plan has just one. */
function resolve(
    ref: unknown,
    candidates: PlannedResource[],
    extra: (c: PlannedResource) => string[] = () => [],
): PlannedResource | undefined {
    if (typeof ref === "string") {
        const hit = candidates.find((c) => [...handles(c), ...extra(c)].includes(ref));
        if (hit) return hit;
    }
    return candidates.length === 1 ? candidates[0] : undefined;
}

const clusterOf = (ctx: Context, identifier: unknown) =>
    resolve(identifier, ctx.ofType(T.cluster), (c) => [c.inputs.clusterIdentifier].filter(Boolean));

/** Each Serverless v2 instance's ACU: min, expected average and max, from its cluster's scaling configuration. */
function instanceAcu(ctx: Context, inst: PlannedResource): Range | { reason: string } {
    if (inst.inputs.instanceClass !== "db.serverless") {
        return { reason: `instance class ${inst.inputs.instanceClass} is provisioned, not Serverless v2` };
    }
    const cluster = clusterOf(ctx, inst.inputs.clusterIdentifier);
    const scaling = cluster?.inputs.serverlessv2ScalingConfiguration;
    if (typeof scaling?.minCapacity !== "number" || typeof scaling?.maxCapacity !== "number") {
        return { reason: "no serverlessv2ScalingConfiguration (min/max ACU) found on its cluster" };
    }
    const { minCapacity: min, maxCapacity: max } = scaling;
    const at = (f: number) => min + f * (max - min);
    return { low: min, expected: at(ctx.a.acuPositionInRange.expected), high: max };
}

const scale = (x: Range, f: (v: number, level: keyof Range) => number): Range => ({
    low: f(x.low, "low"),
    expected: f(x.expected, "expected"),
    high: f(x.high, "high"),
});

/**
 * The proxy in front of a cluster outside the plan (database.existingCluster): it bills that cluster's capacity,
 * which the plan does not hold. low: the least any target bills (2 vCPUs, one small provisioned instance);
 * expected: a writer and a reader of 2 vCPUs each (a db.r6g.large pair); high: the 8-ACU minimum of Serverless v2.
 * The basis says what a larger cluster adds, so a reviewer can price their own.
 */
function existingClusterProxyPart(ctx: Context, identifiers: string[]): Part {
    const price = ctx.price("proxyVcpuHour");
    const month = (units: number) => units * HOURS_PER_MONTH * price;
    return {
        low: month(PROXY_MIN_VCPU),
        expected: month(2 * PROXY_MIN_VCPU),
        high: month(PROXY_MIN_ACU),
        basis:
            `fronts ${identifiers.join(", ")}, a cluster outside the plan: RDS Proxy bills its provisioned instances' vCPUs (at least ${PROXY_MIN_VCPU}) ` +
            `or its Serverless v2 ACUs (at least ${PROXY_MIN_ACU}) at ${usd(price)} an hour each (${usd(month(1))} a month); ` +
            `low ${PROXY_MIN_VCPU} vCPU, expected 2 instances of 2 vCPU, high the ${PROXY_MIN_ACU}-ACU minimum; a larger cluster costs ${usd(month(1))} a month per vCPU or ACU`,
    };
}

/** The proxy's charge for Serverless v2 targets: their ACUs, never fewer than 8. */
function acuProxyPart(ctx: Context, sum: Range, count: number): Part {
    const charged = scale(sum, (x) => Math.max(PROXY_MIN_ACU, x));
    const price = ctx.price("proxyAcuHour");
    const fronts =
        count > 0
            ? `the ${count} Serverless v2 instance(s) it fronts use ${round(sum.low, 3)}-${round(sum.high, 3)} ACU (${round(sum.expected, 3)} expected)`
            : "no Serverless v2 instance behind it in the plan";
    return {
        ...scale(charged, (x) => x * HOURS_PER_MONTH * price),
        basis:
            `RDS Proxy bills the ACUs of the instances it fronts with a minimum of ${PROXY_MIN_ACU} ACUs: ${fronts}, so it charges ` +
            `${round(charged.expected, 3)} ACU × ${HOURS_PER_MONTH} h × ${usd(price)}/ACU-hour`,
    };
}

function flat(amount: number, basis: string): Part {
    return { low: amount, expected: amount, high: amount, basis };
}

/**
 * The custom metrics a function publishes as EMF, as it declares them in SMOKE_METRICS ({ namespace, dimensions,
 * metrics }): each metric name with the function's one set of dimension values is one series. CloudWatch meters a
 * custom metric by the hour it is sent in, prorated over the month (CloudWatch pricing, Metrics): a function run
 * at least hourly keeps each series for the whole month; one run only at deploys keeps it for about an hour each.
 */
function emfMetrics(res: PlannedResource, ctx: Context, scheduledRunsPerMonth: number): Part[] {
    const declared = res.inputs.environment?.variables?.SMOKE_METRICS;
    if (typeof declared !== "string") return [];
    let metrics: unknown;
    try {
        metrics = JSON.parse(declared).metrics;
    } catch {
        return [{ reason: `SMOKE_METRICS ${JSON.stringify(declared)} is not JSON` }];
    }
    if (!Array.isArray(metrics)) return [{ reason: "SMOKE_METRICS lists no metrics" }];
    const series = metrics.length;
    const hours = scale(ctx.a.deploysPerMonth, (d) => Math.min(HOURS_PER_MONTH, scheduledRunsPerMonth + d));
    return [
        {
            ...scale(hours, (h) => series * (h / HOURS_PER_MONTH) * ctx.price("metricMonth")),
            basis:
                `${series} EMF custom metrics (${metrics.join(", ")}; one series each) × ${ctx.show("metricMonth")}/metric-month, ` +
                `prorated by the hours a run sends them (${Math.round(hours.expected)} of ${HOURS_PER_MONTH})`,
        },
    ];
}

/** Lambda runs: requests plus GB-seconds at the function's memory and architecture. */
function lambdaRuns(ctx: Context, fn: PlannedResource | undefined, runs: Range): Range & { what: string } {
    const memoryGb = (typeof fn?.inputs.memorySize === "number" ? fn.inputs.memorySize : 128) / 1024;
    const arm = (fn?.inputs.architectures ?? []).includes("arm64");
    const timeout = typeof fn?.inputs.timeout === "number" ? fn.inputs.timeout : 3;
    const gbs = arm ? "lambdaGbSecondArm" : "lambdaGbSecondX86";
    const cost = scale(runs, (n, level) => {
        const seconds = Math.min(ctx.a.lambdaRunSeconds[level], timeout);
        return n * (ctx.price("lambdaRequestMillion") / 1e6 + seconds * memoryGb * ctx.price(gbs));
    });
    return {
        ...cost,
        what:
            `${memoryGb * 1024} MB ${arm ? "arm64" : "x86"}, ${ctx.a.lambdaRunSeconds.expected} s a run (at most its ${timeout} s timeout), ` +
            `${ctx.show("lambdaRequestMillion")}/M requests + ${ctx.show(gbs)}/GB-s`,
    };
}

/** Runs a month of a Scheduler expression: rate(...), cron(...) (fields counted, days from day-of-month or -week) or at(...). */
export function runsPerMonth(expression: unknown): number | undefined {
    if (typeof expression !== "string") return undefined;
    const text = expression.trim();
    const rate = /^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$/.exec(text);
    if (rate) {
        const perHour = { minute: 60, minutes: 60, hour: 1, hours: 1, day: 1 / 24, days: 1 / 24 }[rate[2]]!;
        return (HOURS_PER_MONTH * perHour) / Number(rate[1]);
    }
    if (/^at\(/.test(text)) return 0;
    const cron = /^cron\(([^)]*)\)$/.exec(text);
    const fields = cron?.[1].trim().split(/\s+/);
    if (!fields || fields.length !== 6) return undefined;
    const [minutes, hours, dayOfMonth, month, dayOfWeek] = fields;
    const any = (f: string) => f === "*" || f === "?";
    const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
    const value = (v: string) => (DAYS.includes(v.toUpperCase()) ? DAYS.indexOf(v.toUpperCase()) + 1 : Number(v));
    /** How many values of a field of `size` values match, e.g. "*\/15" of 60 → 4, "8-17" → 10, "MON-FRI" → 5. */
    const count = (field: string, size: number): number =>
        field.split(",").reduce((n, part) => {
            const [range, step] = part.split("/");
            const by = step ? Number(step) : 1;
            if (range === "*" || range === "?") return n + Math.ceil(size / by);
            const [from, to] = range.split("-");
            return n + (to === undefined ? 1 : Math.floor((value(to) - value(from)) / by) + 1);
        }, 0);
    const daysPerMonth = HOURS_PER_MONTH / 24;
    const days = !any(dayOfWeek) ? (count(dayOfWeek, 7) / 7) * daysPerMonth : !any(dayOfMonth) ? count(dayOfMonth, 31) : daysPerMonth;
    const months = any(month) ? 1 : count(month, 12) / 12;
    const runs = count(minutes, 60) * count(hours, 24) * days * months;
    return Number.isFinite(runs) ? runs : undefined;
}

const PRICERS: Record<string, Pricer> = {
    [T.cluster]: (res, ctx) => {
        const parts: Part[] = [];
        if (res.inputs.storageType === "aurora-iopt1") {
            parts.push({ reason: "Aurora I/O-Optimized storage is not in the price table (only Aurora Standard is)" });
        } else {
            const storage = scale(ctx.a.auroraStorageGb, (gb) => gb * ctx.price("auroraStorageGbMonth"));
            const io = scale(ctx.a.auroraIoMillions, (m) => m * ctx.price("auroraIoMillion"));
            parts.push({
                low: storage.low + io.low,
                expected: storage.expected + io.expected,
                high: storage.high + io.high,
                basis:
                    `Aurora Standard storage ${ctx.a.auroraStorageGb.expected} GB × ${ctx.show("auroraStorageGbMonth")}/GB-month + ` +
                    `${ctx.a.auroraIoMillions.expected}M I/O × ${ctx.show("auroraIoMillion")}/M (assumed); ` +
                    `${res.inputs.backupRetentionPeriod ?? 1}-day backups assumed within the free allowance (100% of storage)`,
            });
        }
        if (res.inputs.manageMasterUserPassword === true) {
            parts.push(
                flat(
                    ctx.price("secretMonth"),
                    `the RDS-managed master user secret: 1 Secrets Manager secret × ${ctx.show("secretMonth")}/month`,
                ),
            );
        }
        if (res.inputs.enableHttpEndpoint === true) {
            const calls = scale(ctx.a.deploysPerMonth, (d, level) => d * ctx.a.dataApiCallsPerDeploy[level]);
            parts.push({
                ...scale(calls, (n) => (n / 1e6) * ctx.price("dataApiMillion")),
                basis: `RDS Data API: ${ctx.a.deploysPerMonth.expected} deploys × ${ctx.a.dataApiCallsPerDeploy.expected} calls (bootstrap, assumed) × ${ctx.show("dataApiMillion")}/M`,
            });
        }
        return parts;
    },

    [T.instance]: (res, ctx) => {
        const parts: Part[] = [];
        const instanceClass = String(res.inputs.instanceClass ?? "");
        if (instanceClass === "db.serverless") {
            const acu = instanceAcu(ctx, res);
            if ("reason" in acu) return [acu];
            const price = ctx.price("auroraAcuHour");
            const reader = typeof res.inputs.promotionTier === "number" && res.inputs.promotionTier > 0;
            parts.push({
                ...scale(acu, (x) => x * HOURS_PER_MONTH * price),
                basis:
                    `Serverless v2 ${acu.low}-${acu.high} ACU, ${round(acu.expected, 3)} ACU on average (assumed) × ${HOURS_PER_MONTH} h × ${usd(price)}/ACU-hour` +
                    (reader ? "; a reader in promotion tier 0-1 scales with the writer, higher tiers may sit lower" : ""),
            });
        } else {
            const known = AURORA_INSTANCE_HOUR[instanceClass];
            if (!known)
                return [
                    {
                        reason: `instance class ${instanceClass || "(unset)"} is not in the price table (db.serverless, ${Object.keys(AURORA_INSTANCE_HOUR).join(", ")} are)`,
                    },
                ];
            parts.push(
                flat(
                    HOURS_PER_MONTH * ctx.price(known.key),
                    `provisioned ${instanceClass} (${known.vcpu} vCPU) on demand: ${HOURS_PER_MONTH} h × ${ctx.show(known.key)}/h` +
                        (/^db\.t/.test(instanceClass)
                            ? "; a T class bills CPU credits when it runs above its baseline for long (Unlimited mode; the rate is not confirmed here): not priced"
                            : ""),
                ),
            );
        }
        if (res.inputs.performanceInsightsEnabled === true) {
            const days = res.inputs.performanceInsightsRetentionPeriod ?? 7;
            if (days <= 7) parts.push(flat(0, "Performance Insights with 7-day retention: free tier"));
            else parts.push({ reason: `Performance Insights retention of ${days} days (beyond the free 7) is not in the price table` });
        }
        const interval = res.inputs.monitoringInterval;
        if (typeof interval === "number" && interval > 0) {
            const samples = (HOURS_PER_MONTH * 3600) / interval;
            const gb = scale(ctx.a.enhancedMonitoringSampleKb, (kb) => (samples * kb) / (1024 * 1024));
            parts.push({
                ...scale(gb, (g) => g * (ctx.price("logsIngestGb") + ctx.price("logsStorageGbMonth"))),
                basis:
                    `Enhanced Monitoring every ${interval} s: ${Math.round(samples)} samples × ${ctx.a.enhancedMonitoringSampleKb.expected} KB (assumed) = ` +
                    `${round(gb.expected, 2)} GB into RDSOSMetrics × (${ctx.show("logsIngestGb")}/GB ingested + ${ctx.show("logsStorageGbMonth")}/GB-month kept 30 days)`,
            });
        }
        return parts;
    },

    [T.proxy]: (res, ctx) => {
        const targets = ctx
            .ofType(T.proxyTarget)
            .filter((t) => t.inputs.dbProxyName === res.inputs.name || ctx.ofType(T.proxy).length === 1);
        const clusters = targets.map((t) => clusterOf(ctx, t.inputs.dbClusterIdentifier)).filter((c): c is PlannedResource => !!c);
        const instances = ctx.ofType(T.instance).filter((i) => clusters.some((c) => clusterOf(ctx, i.inputs.clusterIdentifier) === c));
        if (targets.length > 0 && clusters.length === 0)
            return [
                existingClusterProxyPart(
                    ctx,
                    targets.map((t) => String(t.inputs.dbClusterIdentifier)),
                ),
            ];
        // RDS Proxy bills the capacity of what it fronts: ACUs of Serverless v2 instances (at least 8), vCPUs of
        // provisioned ones (at least 2). A cluster mixing both is billed on each part here (not confirmed).
        const acu: Range = { low: 0, expected: 0, high: 0 };
        let vcpu = 0;
        let serverlessCount = 0;
        for (const inst of instances) {
            if (inst.inputs.instanceClass === "db.serverless") {
                const a = instanceAcu(ctx, inst);
                if ("reason" in a) return [{ reason: `fronts ${inst.name}, whose ${a.reason}` }];
                acu.low += a.low;
                acu.expected += a.expected;
                acu.high += a.high;
                serverlessCount++;
                continue;
            }
            const known = AURORA_INSTANCE_HOUR[String(inst.inputs.instanceClass)];
            if (!known)
                return [
                    {
                        reason: `fronts ${inst.name}, whose instance class ${inst.inputs.instanceClass} has no vCPU count in the price table`,
                    },
                ];
            vcpu += known.vcpu;
        }
        const provisionedCount = instances.length - serverlessCount;
        if (provisionedCount > 0) {
            const charged = Math.max(PROXY_MIN_VCPU, vcpu);
            const price = ctx.price("proxyVcpuHour");
            const parts: Part[] = [
                flat(
                    charged * HOURS_PER_MONTH * price,
                    `RDS Proxy bills the vCPUs of the provisioned instances it fronts with a minimum of ${PROXY_MIN_VCPU} vCPUs: the ${provisionedCount} ` +
                        `provisioned instance(s) it fronts have ${vcpu} vCPU, so it charges ${charged} vCPU × ${HOURS_PER_MONTH} h × ${usd(price)}/vCPU-hour`,
                ),
            ];
            if (serverlessCount === 0) return parts;
            return [...parts, acuProxyPart(ctx, acu, serverlessCount)];
        }
        return [acuProxyPart(ctx, acu, serverlessCount)];
    },

    "aws:rds/proxyEndpoint:ProxyEndpoint": () => [
        flat(
            0,
            "no charge of its own (not confirmed on the pricing page): the proxy's ACU-hours cover its endpoints, and a reader endpoint routes to the same instances; " +
                "an endpoint in another VPC may add PrivateLink charges",
        ),
    ],

    [T.nat]: (res, ctx) => {
        const count = Math.max(1, ctx.ofType(T.nat).length);
        const data = scale(ctx.a.natDataGb, (gb) => gb / count);
        return [
            {
                ...scale(data, (gb) => HOURS_PER_MONTH * ctx.price("natGatewayHour") + gb * ctx.price("natGatewayGb")),
                basis: `${HOURS_PER_MONTH} h × ${ctx.show("natGatewayHour")}/h + ${round(data.expected, 2)} GB (1/${count} of ${ctx.a.natDataGb.expected} GB assumed) × ${ctx.show("natGatewayGb")}/GB`,
            },
        ];
    },

    "aws:ec2/eip:Eip": (_res, ctx) => [
        flat(HOURS_PER_MONTH * ctx.price("publicIpv4Hour"), `public IPv4 address: ${HOURS_PER_MONTH} h × ${ctx.show("publicIpv4Hour")}/h`),
    ],

    [T.service]: (res, ctx) => {
        const strategies: any[] = res.inputs.capacityProviderStrategies ?? [];
        const fargate =
            res.inputs.launchType === "FARGATE" || (strategies.length > 0 && strategies.every((s) => s.capacityProvider === "FARGATE"));
        if (!fargate)
            return [
                {
                    reason: `launch type ${res.inputs.launchType ?? (strategies.length > 0 ? strategies.map((s) => s.capacityProvider).join("+") : "EC2")} is not priced (only Fargate on-demand is)`,
                },
            ];
        const ref = String(res.inputs.taskDefinition ?? "");
        const family = /task-definition\/([^:]+)/.exec(ref)?.[1] ?? ref.split(":")[0];
        const td = resolve(family, ctx.ofType(T.taskDefinition), (t) => [t.inputs.family].filter(Boolean));
        if (!td) return [{ reason: `its task definition ${ref} is not in the plan` }];
        const vcpu = Number(td.inputs.cpu) / 1024;
        const gb = Number(td.inputs.memory) / 1024;
        if (!(vcpu > 0 && gb > 0)) return [{ reason: `task definition ${td.name} has no task-level cpu/memory` }];
        const arm = td.inputs.runtimePlatform?.cpuArchitecture === "ARM64";
        const [cpuKey, memKey]: PriceKey[] = arm ? ["fargateVcpuHourArm", "fargateGbHourArm"] : ["fargateVcpuHourX86", "fargateGbHourX86"];
        const tasks = typeof res.inputs.desiredCount === "number" ? res.inputs.desiredCount : 1;
        const perTask = HOURS_PER_MONTH * (vcpu * ctx.price(cpuKey) + gb * ctx.price(memKey));
        return [
            flat(
                tasks * perTask,
                `Fargate ${arm ? "Linux/ARM" : "Linux/x86"}: ${tasks} task(s) × (${vcpu} vCPU × ${ctx.show(cpuKey)} + ${gb} GB × ${ctx.show(memKey)}) × ${HOURS_PER_MONTH} h ` +
                    "(desiredCount; no autoscaling in the plan)",
            ),
        ];
    },

    "aws:ecs/cluster:Cluster": (res, ctx) => {
        const setting = (res.inputs.settings ?? []).find((s: any) => s.name === "containerInsights")?.value;
        if (setting !== "enabled" && setting !== "enhanced")
            return [flat(0, "ECS cluster without Container Insights: no charge of its own")];
        if (setting === "enhanced")
            return [{ reason: "Container Insights with enhanced observability (task- and container-level metrics) is not modelled" }];
        const services = ctx.ofType(T.service).filter((s) => resolve(s.inputs.cluster, ctx.ofType("aws:ecs/cluster:Cluster")) === res);
        const metrics = 8 + 11 * services.length;
        const logs = scale(ctx.a.containerInsightsLogGbPerService, (gb) => gb * services.length);
        return [
            {
                ...scale(logs, (gb) => metrics * ctx.price("metricMonth") + gb * ctx.price("logsIngestGb")),
                basis:
                    `Container Insights: ${metrics} metrics (8 cluster + 11 × ${services.length} service, assumed) × ${ctx.show("metricMonth")}/metric-month + ` +
                    `${round(logs.expected, 2)} GB of performance events × ${ctx.show("logsIngestGb")}/GB`,
            },
        ];
    },

    "aws:cloudwatch/logGroup:LogGroup": (res, ctx) => {
        const days = typeof res.inputs.retentionInDays === "number" && res.inputs.retentionInDays > 0 ? res.inputs.retentionInDays : 365;
        const kept = (gb: number) => (gb * Math.min(days, 365)) / 30;
        const retention = res.inputs.retentionInDays > 0 ? `kept ${days} days` : "never expires (a year's worth priced)";
        const name = String(res.inputs.name ?? "");
        const flows = ctx
            .ofType(T.flowLog)
            .filter(
                (f) =>
                    typeof f.inputs.logDestination === "string" &&
                    name !== "" &&
                    f.inputs.logDestination.replace(/:\*$/, "").endsWith(`:log-group:${name}`),
            );
        if (flows.length > 0) {
            const gb = scale(ctx.a.flowLogGb, (x) => x * flows.length);
            return [
                {
                    ...scale(gb, (x) => kept(x) * ctx.price("logsStorageGbMonth")),
                    basis: `flow log destination (ingestion priced on the flow log): ${round(kept(gb.expected), 2)} GB stored, ${retention}, × ${ctx.show("logsStorageGbMonth")}/GB-month`,
                },
            ];
        }
        return [
            {
                ...scale(ctx.a.logIngestGbPerGroup, (gb) => gb * ctx.price("logsIngestGb") + kept(gb) * ctx.price("logsStorageGbMonth")),
                basis:
                    `${ctx.a.logIngestGbPerGroup.expected} GB/month ingested (assumed) × ${ctx.show("logsIngestGb")}/GB + ${round(kept(ctx.a.logIngestGbPerGroup.expected), 2)} GB stored, ` +
                    `${retention}, × ${ctx.show("logsStorageGbMonth")}/GB-month`,
            },
        ];
    },

    [T.flowLog]: (res, ctx) => {
        const type = res.inputs.logDestinationType ?? "cloud-watch-logs";
        if (type !== "cloud-watch-logs" && type !== "s3") return [{ reason: `flow logs to ${type} are not in the price table` }];
        const key: PriceKey = type === "s3" ? "vendedLogsS3Gb" : "vendedLogsGb";
        return [
            {
                ...scale(ctx.a.flowLogGb, (gb) => gb * ctx.price(key)),
                basis: `${ctx.a.flowLogGb.expected} GB/month of flow records (assumed, traffic ${res.inputs.trafficType ?? "ALL"}) × ${ctx.show(key)}/GB vended-log delivery to ${type}`,
            },
        ];
    },

    "aws:kms/key:Key": (res, ctx) => {
        const key = ctx.price("kmsKeyMonth");
        const rotating = res.inputs.enableKeyRotation === true;
        return [
            {
                low: key,
                expected: key,
                high: rotating ? 3 * key : key,
                basis:
                    `${ctx.show("kmsKeyMonth")}/key-month` +
                    (rotating
                        ? "; rotation on: each of the first two yearly rotations adds " +
                          `${ctx.show("kmsKeyMonth")}/month (year 2: ${usd(2 * key)}, year 3 on: ${usd(3 * key)}, shown as high)`
                        : "") +
                    "; requests within the 20,000 free a month (assumed)",
            },
        ];
    },

    "aws:secretsmanager/secret:Secret": (_res, ctx) => [
        flat(ctx.price("secretMonth"), `1 secret × ${ctx.show("secretMonth")}/month; API calls negligible (assumed)`),
    ],

    [T.lambda]: (res, ctx) => {
        const arns = handles(res);
        const schedules = ctx
            .ofType(T.schedule)
            .filter(
                (s) =>
                    typeof s.inputs.target?.arn === "string" &&
                    arns.some((h) => s.inputs.target.arn === h || s.inputs.target.arn.endsWith(`:function:${h}`)),
            );
        const perMonth = schedules.reduce((n, s) => n + (runsPerMonth(s.inputs.scheduleExpression) ?? 0), 0);
        const metrics = emfMetrics(res, ctx, perMonth);
        if (schedules.length === 0)
            return [flat(0, "no charge while idle: billed per run; its deploy-time runs are priced on its Invocation"), ...metrics];
        const runs = lambdaRuns(ctx, res, { low: perMonth, expected: perMonth, high: perMonth });
        return [{ ...runs, basis: `${Math.round(perMonth)} scheduled runs/month × (${runs.what})` }, ...metrics];
    },

    "aws:lambda/invocation:Invocation": (res, ctx) => {
        const fn = resolve(res.inputs.functionName, ctx.ofType(T.lambda));
        const named = fn && handles(fn).includes(res.inputs.functionName);
        const runs = lambdaRuns(ctx, named ? fn : undefined, ctx.a.deploysPerMonth);
        return [
            {
                ...runs,
                basis:
                    `runs once per deploy: ${ctx.a.deploysPerMonth.expected} deploys/month (assumed) × (${runs.what})` +
                    (named ? "" : "; its function is not in the plan, 128 MB x86 assumed"),
            },
        ];
    },

    "aws:ec2/vpcEndpoint:VpcEndpoint": (res, ctx) => {
        const kind = res.inputs.vpcEndpointType ?? "Gateway";
        if (kind === "Gateway") return [flat(0, "gateway endpoint (S3, DynamoDB): no charge")];
        if (kind !== "Interface") return [{ reason: `${kind} endpoints are not in the price table` }];
        const azs = Math.max(1, (res.inputs.subnetIds ?? []).length);
        return [
            {
                ...scale(
                    ctx.a.endpointDataGb,
                    (gb) => azs * HOURS_PER_MONTH * ctx.price("interfaceEndpointAzHour") + gb * ctx.price("interfaceEndpointGb"),
                ),
                basis:
                    `interface endpoint in ${azs} AZ(s) × ${HOURS_PER_MONTH} h × ${ctx.show("interfaceEndpointAzHour")}/AZ-hour + ` +
                    `${ctx.a.endpointDataGb.expected} GB (assumed) × ${ctx.show("interfaceEndpointGb")}/GB`,
            },
        ];
    },

    "aws:ec2/instance:Instance": (res, ctx) => {
        const type = String(res.inputs.instanceType ?? "");
        const key = EC2_INSTANCE_HOUR[type];
        if (!key)
            return [
                {
                    reason: `instance type ${type || "(unset)"} is not in the price table (${Object.keys(EC2_INSTANCE_HOUR).join(", ")} are)`,
                },
            ];
        const root = res.inputs.rootBlockDevice ?? {};
        const size = typeof root.volumeSize === "number" ? root.volumeSize : 8;
        const volumeKey: PriceKey = root.volumeType === "gp2" ? "ebsGp2GbMonth" : "ebsGp3GbMonth";
        const publicIp = res.inputs.associatePublicIpAddress === true;
        const amount =
            HOURS_PER_MONTH * ctx.price(key) + size * ctx.price(volumeKey) + (publicIp ? HOURS_PER_MONTH * ctx.price("publicIpv4Hour") : 0);
        return [
            flat(
                amount,
                `${type} on demand: ${HOURS_PER_MONTH} h × ${ctx.show(key)}/h + ${size} GB ${volumeKey === "ebsGp2GbMonth" ? "gp2" : "gp3"} root volume ` +
                    `(${root.volumeSize === undefined ? "AMI default size assumed" : "as declared"}) × ${ctx.show(volumeKey)}/GB-month` +
                    (publicIp ? ` + public IPv4 ${HOURS_PER_MONTH} h × ${ctx.show("publicIpv4Hour")}` : ""),
            ),
        ];
    },

    [T.schedule]: (res, ctx) => {
        const runs = runsPerMonth(res.inputs.scheduleExpression);
        if (runs === undefined)
            return [{ reason: `schedule expression ${JSON.stringify(res.inputs.scheduleExpression)} could not be read` }];
        const beyond = Math.max(0, runs - 14e6);
        return [
            flat(
                (beyond / 1e6) * ctx.price("schedulerMillion"),
                `${Math.round(runs)} invocations/month, within EventBridge Scheduler's 14 million free a month (per account); beyond that ${ctx.show("schedulerMillion")}/M`,
            ),
        ];
    },

    "aws:cloudwatch/metricAlarm:MetricAlarm": (res, ctx) => {
        const queries: any[] = res.inputs.metricQueries ?? [];
        const metrics = Math.max(1, queries.filter((q) => q.metric).length) * (res.inputs.thresholdMetricId ? 3 : 1);
        const periods = [res.inputs.period, ...queries.map((q) => q.metric?.period)].filter((p) => typeof p === "number");
        const highRes = periods.some((p) => p < 60);
        const key: PriceKey = highRes ? "alarmHighResMetricMonth" : "alarmMetricMonth";
        return [
            flat(
                metrics * ctx.price(key),
                `${metrics} ${highRes ? "high-resolution" : "standard"} alarm metric(s) × ${ctx.show(key)}/month` +
                    (res.inputs.thresholdMetricId ? " (anomaly detection counts 3 metrics)" : ""),
            ),
        ];
    },

    "aws:cloudwatch/compositeAlarm:CompositeAlarm": (_res, ctx) => [
        flat(ctx.price("compositeAlarmMonth"), `composite alarm × ${ctx.show("compositeAlarmMonth")}/month`),
    ],

    "aws:cloudwatch/dashboard:Dashboard": (_res, ctx) => [
        {
            low: 0,
            expected: ctx.price("dashboardMonth"),
            high: ctx.price("dashboardMonth"),
            basis: `${ctx.show("dashboardMonth")}/dashboard-month (low: within the account's 3 free dashboards)`,
        },
    ],

    // The lifecycle policy keeps at most 30 images; app/'s image is ~60 MB compressed (node:22-alpine + 18 MB of modules),
    // layers shared between them are stored once, so 30 distinct images is the high end.
    "aws:ecr/repository:Repository": (_res, ctx) => [
        {
            low: cents(0.06 * ctx.price("ecrStorageGbMonth")),
            expected: cents(0.3 * ctx.price("ecrStorageGbMonth")),
            high: cents(1.8 * ctx.price("ecrStorageGbMonth")),
            basis: `images kept by the lifecycle rule (at most 30 × ~60 MB, shared layers stored once; 0.3 GB expected) × ${ctx.show("ecrStorageGbMonth")}/GB-month; pulls inside the region are free`,
        },
    ],
    "aws:sns/topic:Topic": (_res, ctx) => [
        flat(0, `first million publishes a month free, then ${ctx.show("snsPublishMillion")}/M; alarm notifications assumed within it`),
    ],

    "aws:cloudtrail/trail:Trail": (res, ctx) => {
        const selectors: any[] = res.inputs.eventSelectors ?? [];
        const dataEvents =
            (res.inputs.advancedEventSelectors ?? []).length > 0 || selectors.some((s) => (s.dataResources ?? []).length > 0);
        if (!dataEvents)
            return [
                flat(
                    0,
                    "management events: the first copy in each region is free (a second trail recording them is not; priced as the first); delivery to S3/CloudWatch Logs is priced there",
                ),
            ];
        return [
            {
                ...scale(ctx.a.cloudTrailDataEventsMillions, (m) => m * 10 * ctx.price("cloudTrailDataEvents100k")),
                basis: `data events: ${ctx.a.cloudTrailDataEventsMillions.expected}M/month (assumed) × ${ctx.show("cloudTrailDataEvents100k")}/100,000; management events' first copy free`,
            },
        ];
    },

    "aws:s3/bucket:Bucket": (_res, ctx) => s3(ctx),
    "aws:s3/bucketV2:BucketV2": (_res, ctx) => s3(ctx),

    "aws:ssm/parameter:Parameter": (res, ctx) =>
        res.inputs.tier === "Advanced"
            ? [flat(ctx.price("ssmAdvancedParameterMonth"), `advanced parameter × ${ctx.show("ssmAdvancedParameterMonth")}/month`)]
            : [flat(0, "standard parameter: free")],
};

function s3(ctx: Context): Part[] {
    return [
        {
            ...scale(ctx.a.s3Gb, (gb) => gb * ctx.price("s3StandardGbMonth")),
            basis: `${ctx.a.s3Gb.expected} GB S3 Standard (assumed) × ${ctx.show("s3StandardGbMonth")}/GB-month; requests not counted`,
        },
    ];
}

// ------------------------------------------------------------------------------------------------
// Free resources
// ------------------------------------------------------------------------------------------------

const NETWORK = "networking configuration: no charge";
const IAM = "IAM: no charge";
const CONFIG = "configuration of a priced resource: no charge of its own";

const FREE: Record<string, string> = {
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "ECR lifecycle rules: no charge (they lower the repository's storage)",
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": "configuration of asynchronous invocations: no charge",
    "aws:ec2/vpc:Vpc": NETWORK,
    "aws:ec2/subnet:Subnet": NETWORK,
    "aws:ec2/routeTable:RouteTable": NETWORK,
    "aws:ec2/route:Route": NETWORK,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": NETWORK,
    "aws:ec2/mainRouteTableAssociation:MainRouteTableAssociation": NETWORK,
    "aws:ec2/defaultRouteTable:DefaultRouteTable": NETWORK,
    "aws:ec2/internetGateway:InternetGateway": "internet gateway: no charge (data transfer out is not in this estimate)",
    "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway": NETWORK,
    "aws:ec2/securityGroup:SecurityGroup": NETWORK,
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": NETWORK,
    "aws:ec2/securityGroupRule:SecurityGroupRule": NETWORK,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": NETWORK,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": NETWORK,
    "aws:ec2/networkAcl:NetworkAcl": NETWORK,
    "aws:ec2/networkAclRule:NetworkAclRule": NETWORK,
    "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl": NETWORK,
    "aws:ec2/vpcDhcpOptions:VpcDhcpOptions": NETWORK,
    "aws:ec2/vpcDhcpOptionsAssociation:VpcDhcpOptionsAssociation": NETWORK,
    "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy": CONFIG,
    "aws:ec2/vpcEndpointSubnetAssociation:VpcEndpointSubnetAssociation":
        "an interface endpoint's AZs are priced on the endpoint (from its subnetIds)",
    "aws:ec2/vpcEndpointRouteTableAssociation:VpcEndpointRouteTableAssociation": NETWORK,
    "aws:ec2/eipAssociation:EipAssociation": "the address is priced on its Eip",
    "aws:iam/role:Role": IAM,
    "aws:iam/rolePolicy:RolePolicy": IAM,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": IAM,
    "aws:iam/policy:Policy": IAM,
    "aws:iam/policyAttachment:PolicyAttachment": IAM,
    "aws:iam/instanceProfile:InstanceProfile": IAM,
    "aws:iam/serviceLinkedRole:ServiceLinkedRole": IAM,
    "aws:rds/subnetGroup:SubnetGroup": CONFIG,
    "aws:rds/clusterParameterGroup:ClusterParameterGroup": CONFIG,
    "aws:rds/parameterGroup:ParameterGroup": CONFIG,
    "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup": "part of the proxy (priced on the proxy)",
    "aws:rds/proxyTarget:ProxyTarget": "part of the proxy (priced on the proxy from the instances it fronts)",
    "aws:ecs/taskDefinition:TaskDefinition": "a definition: its tasks are priced on the ECS service",
    "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": CONFIG,
    "aws:kms/alias:Alias": "KMS alias: no charge",
    "aws:secretsmanager/secretVersion:SecretVersion": "a secret's value: priced on the secret",
    "aws:secretsmanager/secretPolicy:SecretPolicy": CONFIG,
    "aws:secretsmanager/secretRotation:SecretRotation": "rotation configuration; the rotation function's runs are priced on the function",
    "aws:lambda/permission:Permission": CONFIG,
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": CONFIG,
    "aws:cloudwatch/logMetricFilter:LogMetricFilter":
        "metric filters are free (their metrics are custom metrics only when published with dimensions)",
    "aws:scheduler/scheduleGroup:ScheduleGroup": "schedule group: no charge",
    "aws:sns/topicSubscription:TopicSubscription": "subscriptions are free; deliveries are priced with the topic",
    "aws:sns/topicPolicy:TopicPolicy": CONFIG,
    "aws:s3/bucketPolicy:BucketPolicy": CONFIG,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": CONFIG,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": CONFIG,
    "aws:s3/bucketVersioningV2:BucketVersioningV2": CONFIG,
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": CONFIG,
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2": CONFIG,
    "aws:s3/bucketVersioning:BucketVersioning": CONFIG,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": CONFIG,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": CONFIG,
};

/** Whole families that cost nothing: Systems Manager configuration (Parameter Store is priced above), random values. */
const FREE_PREFIXES: Array<[string, string]> = [
    ["aws:ssm/", "Systems Manager configuration (documents, associations, maintenance windows): no charge"],
    ["random:", "a value generated by Pulumi: not an AWS resource"],
];

function freeReason(type: string): string | undefined {
    return FREE[type] ?? FREE_PREFIXES.find(([prefix]) => type.startsWith(prefix))?.[1];
}

/** Every type priced here, for tests and the README. */
export const PRICED_TYPES = Object.keys(PRICERS);
export const FREE_TYPES = Object.keys(FREE);

// ------------------------------------------------------------------------------------------------

function cents(x: number): number {
    return Math.round(x * 100) / 100;
}

function round(x: number, digits: number): number {
    const f = 10 ** digits;
    return Math.round(x * f) / f;
}

function pct(x: number): string {
    return `${Math.round(x * 100)}%`;
}

/** "$0.13", "$0.0165", "$0.04048", "$1.00": cents at least, and every significant digit of the price. */
export function usd(x: number): string {
    const digits = Number(x.toPrecision(6)).toString();
    const decimals = digits.includes(".") ? digits.split(".")[1].length : 0;
    return `$${decimals <= 2 ? x.toFixed(2) : digits}`;
}
