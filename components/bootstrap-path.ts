// Where the post-deploy bootstrap runs its SQL, in one home the settings parser, the adoption check and the component
// share (it imports only the instance-class table, which imports nothing):
// - "data-api": through the RDS Data API as the master user (its secret and IAM), not attached to the VPC: no second
//   network path into the database. The cluster has the Data API turned on (enableHttpEndpoint).
// - "vpc": a function in the private subnets connects to the writer endpoint as the master user over verified TLS
//   (DB_BOOTSTRAP_PATH=vpc), with a security group of its own that the database's group admits on 5432. Taken where
//   the Data API cannot serve the cluster, and always in front of an existing cluster (docs/existing-cluster.md).
import { AURORA_POSTGRESQL_CLASSES } from "./aurora-classes";

export type BootstrapPath = "data-api" | "vpc";

/**
 * The first Aurora PostgreSQL minor of each major with the RDS Data API on provisioned and Serverless v2 clusters
 * (Aurora User Guide, "Supported Regions and Aurora DB engines for RDS Data API", section "Data API with Aurora
 * PostgreSQL Serverless v2 and provisioned": 13.11, 14.8, 15.3, 16.1, 17.4 and higher). Another major has none.
 */
export const DATA_API_MINIMUM_MINOR: Record<number, number> = { 13: 11, 14: 8, 15: 3, 16: 1, 17: 4 };

/**
 * Why the RDS Data API cannot serve a cluster whose writer has this class and which runs this version, or undefined.
 * `engineVersion` may be a major alone ("16"): a cluster the component creates runs the newest minor of it, which
 * the Data API serves. Sources: Aurora User Guide, "Limitations for the Amazon RDS Data API" ("Data API isn't
 * supported on T DB instance classes"), and the versions above.
 */
export function dataApiProblem(o: { instanceClass: string; engineVersion: string }): string | undefined {
    return dataApiClassProblem(o.instanceClass) ?? dataApiVersionProblem(o.engineVersion);
}

/** Why the RDS Data API cannot serve a writer of this class (a T class), or undefined. */
export function dataApiClassProblem(instanceClass: string): string | undefined {
    return AURORA_POSTGRESQL_CLASSES[instanceClass]?.burstable
        ? `${instanceClass} is a T class, which the RDS Data API does not serve`
        : undefined;
}

/** Why the RDS Data API cannot serve this Aurora PostgreSQL version, or undefined (a major alone passes). */
export function dataApiVersionProblem(engineVersion: string): string | undefined {
    const m = /^(\d+)(?:\.(\d+))?/.exec(engineVersion);
    if (!m) return undefined;
    const [major, minor] = [Number(m[1]), m[2] === undefined ? undefined : Number(m[2])];
    const minimum = DATA_API_MINIMUM_MINOR[major];
    if (minimum === undefined) return `Aurora PostgreSQL ${engineVersion} has no RDS Data API (it starts at 13.11)`;
    if (minor !== undefined && minor < minimum)
        return `Aurora PostgreSQL ${engineVersion} is older than ${major}.${minimum}, the first ${major}.x with the RDS Data API`;
    return undefined;
}

/** The bootstrap's path for a cluster the component creates or adopts (the writer's class, the version as written), or fronts. */
export function bootstrapPathFor(o: { existingCluster: boolean; instanceClass: string; engineVersion: string }): BootstrapPath {
    return o.existingCluster || dataApiProblem(o) !== undefined ? "vpc" : "data-api";
}
