// A team already runs an Aurora PostgreSQL cluster in its VPC, and its application logs in with a password. This
// program puts AuroraIamProxy in front of that cluster by its identifier: an IAM-only RDS Proxy, declared users, the
// post-deploy smoke, operator access and monitoring. It declares nothing of the cluster and nothing that could modify
// it; the one change to anything it does not own is an ingress rule on the cluster's security group, and
// `pulumi destroy` removes it with the rest (docs/existing-cluster.md).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
// In your repository: `pulumi package add <this repository's git URL>` (or npm install it) and import from there.
import { AuroraIamProxy } from "../../components/index";

const config = new pulumi.Config();
const region = new pulumi.Config("aws").require("region");
const environment = pulumi.getStack() === "prod" ? "prod" : "dev";
// Tags belong on the provider: every resource the component declares carries them.
const provider = new aws.Provider("aws", {
    region: region as aws.Region,
    defaultTags: { tags: { Application: "orders", Owner: "platform-team", CostCenter: "1234", Environment: environment } },
});

const db = new AuroraIamProxy(
    "orders-db",
    {
        environment,
        region,
        name: "orders",
        // The cluster's VPC: the proxy and the in-VPC bootstrap run in it. Private subnets need a route to the AWS APIs
        // (NAT, or endpoints for Secrets Manager, EC2, SSM and CloudWatch Logs).
        network: {
            existingVpc: {
                vpcId: config.require("vpcId"),
                privateSubnetIds: config.requireObject<string[]>("privateSubnetIds"),
                isolatedSubnetIds: config.requireObject<string[]>("isolatedSubnetIds"),
            },
        },
        database: {
            // The database on that cluster your application uses.
            name: config.get("databaseName") ?? "orders",
            existingCluster: {
                identifier: config.require("clusterIdentifier"),
                // Only if RDS does not manage the master password: a secret with the master's {"username","password"}.
                masterSecretArn: config.get("masterSecretArn"),
                // Only if the cluster has several security groups: the one that should admit the proxy.
                securityGroupId: config.get("clusterSecurityGroupId"),
            },
        },
        access: {
            users: [
                { name: "app_user", access: "readwrite" },
                { name: "app_reader", access: "readonly" },
                { name: "app_migrator", access: "ddl" },
            ],
        },
        // What the component can't enforce on a cluster it doesn't own (rds.force_ssl off, no audit logging, a CIDR rule
        // on the cluster's port, a PUBLIC grant) the smoke reports as warnings; set this to make them fail the deploy.
        smoke: { warningsFail: config.getBoolean("warningsFail") ?? false },
        tags: { Application: "orders", Owner: "platform-team", CostCenter: "1234" },
    },
    { providers: { aws: provider } },
);

// Your service's role connects as app_user through the proxy only: the component wrote the policy.
const apiRole = new aws.iam.Role(
    "orders-api",
    {
        description: "orders API tasks",
        assumeRolePolicy: JSON.stringify({
            Version: "2012-10-17",
            Statement: [{ Effect: "Allow", Principal: { Service: "ecs-tasks.amazonaws.com" }, Action: "sts:AssumeRole" }],
        }),
    },
    { provider },
);
new aws.iam.RolePolicy("orders-api-connect", { role: apiRole.id, policy: db.connectPolicies.apply((p) => p["app_user"]) }, { provider });

// Attach db.clientSecurityGroupId to the service's tasks, and connect to proxyEndpoint:port with a fresh IAM token.
export const proxyEndpoint = db.proxyEndpoint;
export const port = db.port;
export const clientSecurityGroupId = db.clientSecurityGroupId;
export const clusterEndpoint = db.clusterEndpoint;
export const smokeReport = db.smokeReport;
