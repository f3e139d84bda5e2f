// The CrossGuard entry point: `pulumi preview --policy-pack policy` runs this file, which serves the
// pack's policies to the engine. Everything else imports ./policies (or ./run), which starts nothing.
import { PolicyPack } from "@pulumi/policy";
import { PACK_NAME, policies } from "./policies";

new PolicyPack(PACK_NAME, {
    policies,
    // Every policy sets its own level; anything added without one blocks rather than warns.
    enforcementLevel: "mandatory",
    description:
        "Aurora PostgreSQL behind RDS Proxy with IAM auth for ECS: encryption, TLS, IAM-only clients, least-privilege rds-db:connect, private network paths.",
    displayName: "Aurora + RDS Proxy + IAM security",
    provider: "aws",
    tags: ["aws", "rds", "rds-proxy", "ecs", "iam", "security"],
});
