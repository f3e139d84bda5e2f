// A program that already has its VPC, built with awsx's ec2.Vpc (the VPC component most Pulumi AWS programs
// use), puts Aurora PostgreSQL behind an IAM-only RDS Proxy in it, and lets its own service connect.
import * as aws from "@pulumi/aws";
import * as awsx from "@pulumi/awsx";
import * as pulumi from "@pulumi/pulumi";
// In your repository: `pulumi package add <this repository's git URL>` (or npm install it) and import from there.
import { AuroraIamProxy } from "../../components/index";

const region = new pulumi.Config("aws").require("region");
const environment = pulumi.getStack() === "prod" ? "prod" : "dev";
// Tags belong on the provider: every resource the component declares carries them.
const provider = new aws.Provider("aws", {
    region: region as aws.Region,
    defaultTags: { tags: { Application: "orders", Owner: "platform-team", CostCenter: "1234", Environment: environment } },
});

const vpc = new awsx.ec2.Vpc(
    "orders",
    {
        numberOfAvailabilityZones: 2,
        natGateways: { strategy: "Single" },
        // Private subnets reach the SSM and Lambda endpoints through NAT; isolated ones have no route out.
        subnetSpecs: [{ type: "Public" }, { type: "Private" }, { type: "Isolated" }],
    },
    { provider },
);

const db = new AuroraIamProxy(
    "orders-db",
    {
        environment,
        region,
        name: "orders",
        network: { existingVpc: { vpcId: vpc.vpcId, privateSubnetIds: vpc.privateSubnetIds, isolatedSubnetIds: vpc.isolatedSubnetIds } },
        access: {
            users: [
                { name: "app_user", access: "readwrite" },
                { name: "app_reader", access: "readonly" },
                { name: "app_migrator", access: "ddl" },
            ],
        },
        tags: { Application: "orders", Owner: "platform-team", CostCenter: "1234" },
    },
    { providers: { aws: provider } },
);

// Your service's role connects as app_user only: the component wrote the policy, nobody writes an ARN by hand.
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
export const smokeReport = db.smokeReport;
