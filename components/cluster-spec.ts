// What the component's Aurora cluster is, in one home that imports nothing: the database declares it from these,
// and the settings parser and the adoption check (components/adopt.ts) compare an existing cluster with them.

/** The only engine the component runs. */
export const ENGINE = "aurora-postgresql";
/** Provisioned (Serverless v2 instances are provisioned clusters' db.serverless instances). */
export const ENGINE_MODE = "provisioned";

/** A DB cluster parameter as the provider's ClusterParameterGroup takes it. */
export interface ClusterParameter {
    name: string;
    value: string;
    /** "immediate" (dynamic parameters only) or "pending-reboot" (any parameter). */
    applyMethod: "immediate" | "pending-reboot";
}

export const CLUSTER_PARAMETERS: readonly ClusterParameter[] = [
    // pending-reboot is accepted for every parameter; at creation the group is in force from the first boot.
    { name: "rds.force_ssl", value: "1", applyMethod: "pending-reboot" },
    { name: "log_connections", value: "1", applyMethod: "pending-reboot" },
    { name: "log_disconnections", value: "1", applyMethod: "pending-reboot" },
    // Every role and grant change (CREATE/ALTER/DROP/GRANT/REVOKE) reaches the exported PostgreSQL log,
    // including the bootstrap's, which the Data API runs as the master user (CloudTrail records Data
    // API calls only as data events, off by default). The bootstrap never sends password material in
    // statement text. log_statement is dynamic, so an existing cluster picks it up without a reboot.
    { name: "log_statement", value: "ddl", applyMethod: "immediate" },
];
