// Where a setting choice is expensive for what it buys: one line each, with the cheaper alternative
// and its monthly saving, found by pricing the alternative plan with the same estimator. Pure, like
// the rest of cost/: the plan in, lines out. Every alternative named here keeps the stack's guarantees
// (IAM end to end, TLS, the proxy, the smoke) unless the line says what it gives up.
import { Assumptions, DEFAULT_ASSUMPTIONS, estimate, PlannedResource } from "./estimate";
import { money } from "./report";
import { EC2_INSTANCE_HOUR, HOURS_PER_MONTH, PRICES, PROXY_MIN_ACU, Region } from "./prices";

export interface Advice {
    /** The setting the line is about, e.g. "database.instanceClass". */
    setting: string;
    message: string;
    /** Expected USD a month the alternative saves. */
    monthlySaving: number;
}

/** The class the advice proposes in place of a Serverless v2 instance that pays the proxy's 8-ACU floor. */
export const CHEAPEST_PROXY_CLASS = "db.t4g.medium";

const cents = (x: number) => Math.round(x * 100) / 100;
const INSTANCE = "aws:rds/clusterInstance:ClusterInstance";
const CLUSTER = "aws:rds/cluster:Cluster";

/** The advice for a plan; `environment` decides what counts as expensive for what it buys. */
export function advise(
    stack: string,
    region: Region,
    resources: PlannedResource[],
    environment: string,
    assumptions: Assumptions = DEFAULT_ASSUMPTIONS,
): Advice[] {
    const out: Advice[] = [];
    const total = (rs: PlannedResource[]) => estimate(stack, region, rs, assumptions).monthly.expected;
    const now = total(resources);
    const hasProxy = resources.some((r) => r.type === "aws:rds/proxy:Proxy");
    const serverless = resources.filter((r) => r.type === INSTANCE && r.inputs.instanceClass === "db.serverless");
    const scaling = resources.find((r) => r.type === CLUSTER)?.inputs.serverlessv2ScalingConfiguration;

    // A proxy in front of Serverless v2 instances that together never reach 8 ACUs bills the floor.
    if (
        hasProxy &&
        serverless.length > 0 &&
        typeof scaling?.maxCapacity === "number" &&
        scaling.maxCapacity * serverless.length < PROXY_MIN_ACU
    ) {
        const alternative = resources.map((r) =>
            r.type === INSTANCE && r.inputs.instanceClass === "db.serverless"
                ? { ...r, inputs: { ...r.inputs, instanceClass: CHEAPEST_PROXY_CLASS } }
                : r,
        );
        const saving = cents(now - total(alternative));
        if (saving > 0) {
            out.push({
                setting: "database.instanceClass",
                monthlySaving: saving,
                message:
                    `RDS Proxy bills at least ${PROXY_MIN_ACU} ACUs in front of ${serverless.length} Serverless v2 instance(s) of at most ${scaling.maxCapacity} ACU; ` +
                    `database.instanceClass: ${CHEAPEST_PROXY_CLASS} (2 vCPU, proxy billed for 2 vCPUs) keeps the proxy, IAM and TLS and saves ${money(saving)}/month`,
            });
        }
    }

    // Scale-to-zero does not happen behind RDS Proxy: the proxy keeps connections open (docs/cost.md).
    if (hasProxy && serverless.length > 0 && scaling?.minCapacity === 0) {
        out.push({
            setting: "database.minCapacity",
            monthlySaving: 0,
            message:
                "database.minCapacity 0 buys nothing here: Aurora Serverless v2 auto-pause is not supported with RDS Proxy, which keeps connections open, " +
                "so the instances never pause; they run at 0.5 ACU or more",
        });
    }

    if (environment !== "prod") {
        const nats = resources.filter((r) => r.type === "aws:ec2/natGateway:NatGateway");
        const natCost = estimate(stack, region, resources, assumptions)
            .lines.filter((l) => l.type === "aws:ec2/natGateway:NatGateway")
            .reduce((sum, l) => sum + l.monthly, 0);
        if (nats.length > 1) {
            const perGateway = natCost / nats.length;
            out.push({
                setting: "network.natGateways",
                monthlySaving: cents(
                    perGateway * (nats.length - 1) + (nats.length - 1) * HOURS_PER_MONTH * PRICES.publicIpv4Hour.usd[region],
                ),
                message:
                    `${nats.length} NAT gateways (one per AZ) in ${environment}: a single one saves ${money(perGateway * (nats.length - 1))}/month plus the extra addresses, ` +
                    "at the cost of egress through one AZ",
            });
        }
        if (nats.length > 0) {
            // A NAT instance (t4g.nano running NAT, the fck-nat pattern) in place of the gateway(s): not built here.
            const nano = HOURS_PER_MONTH * PRICES[EC2_INSTANCE_HOUR["t4g.nano"]].usd[region] + 8 * PRICES.ebsGp3GbMonth.usd[region];
            const saving = cents(natCost - nano);
            if (saving > 0) {
                out.push({
                    setting: "network (NAT)",
                    monthlySaving: saving,
                    message:
                        `the NAT gateway${nats.length > 1 ? "s" : ""} cost ${money(natCost)}/month in ${environment}; a NAT instance (t4g.nano, ${money(nano)}/month) would save ${money(saving)}/month, ` +
                        "but it is an instance to patch, with no managed failover and burstable bandwidth; not offered by this program (docs/cost.md)",
                });
            }
        }
        const insights = estimate(stack, region, resources, assumptions).lines.filter(
            (l) => l.type === "aws:ecs/cluster:Cluster" && /Container Insights/.test(l.basis),
        );
        const insightsCost = cents(insights.reduce((sum, l) => sum + l.monthly, 0));
        if (insightsCost > 0) {
            out.push({
                setting: "ECS Container Insights",
                monthlySaving: insightsCost,
                message: `Container Insights costs ${money(insightsCost)}/month in ${environment}; off would save that, but the mandatory policy ecs-cluster-container-insights requires it, so it stays`,
            });
        }
    }
    return out;
}
