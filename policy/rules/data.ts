// Secrets Manager, KMS, CloudWatch Logs, and required tags.
import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { label, peek, providerDefaultTags, show, Unknown } from "../util";
import { isCustomerManagedKey } from "./rds";
import { T } from "./types";

export const secretsManagerCmk: ResourceValidationPolicy = {
    name: "secretsmanager-secret-cmk",
    description: "Secrets Manager secrets are encrypted with a customer-managed KMS key.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: validateResourceOfType(aws.secretsmanager.Secret, (_secret, args, report) => {
        const key = peek(args.props, "kmsKeyId");
        if (!isCustomerManagedKey(key)) {
            report(
                `${label(args)}: kmsKeyId is ${show(key)}, so the AWS-managed aws/secretsmanager key is used; set kmsKeyId to a customer-managed aws.kms.Key`,
            );
        }
    }),
};

export const kmsKeyRotation: ResourceValidationPolicy = {
    name: "kms-key-rotation",
    description: "Symmetric customer-managed KMS keys rotate automatically.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: validateResourceOfType(aws.kms.Key, (key, args, report) => {
        // Only symmetric encryption keys support automatic rotation.
        const spec = key.customerMasterKeySpec ?? "SYMMETRIC_DEFAULT";
        if (spec === "SYMMETRIC_DEFAULT" && (key.keyUsage ?? "ENCRYPT_DECRYPT") === "ENCRYPT_DECRYPT" && key.enableKeyRotation !== true) {
            report(`${label(args)}: enableKeyRotation is ${show(key.enableKeyRotation)}; set enableKeyRotation: true`);
        }
    }),
};

export const cloudwatchLogGroupRetention: ResourceValidationPolicy = {
    name: "cloudwatch-log-group-retention",
    description: "CloudWatch log groups have a retention period (the default keeps logs, and their cost, forever).",
    enforcementLevel: "mandatory",
    severity: "low",
    validateResource: validateResourceOfType(aws.cloudwatch.LogGroup, (group, args, report) => {
        if (!(typeof group.retentionInDays === "number" && group.retentionInDays > 0)) {
            report(`${label(args)}: retentionInDays is ${show(group.retentionInDays)} (never expire); set retentionInDays, e.g. 30 or 365`);
        }
    }),
};

export const cloudwatchLogGroupCmk: ResourceValidationPolicy = {
    name: "cloudwatch-log-group-cmk",
    description: "CloudWatch log groups (database, proxy, app and flow logs can hold data) are encrypted with a customer-managed KMS key.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: validateResourceOfType(aws.cloudwatch.LogGroup, (_group, args, report) => {
        const key = peek(args.props, "kmsKeyId");
        if (!isCustomerManagedKey(key)) {
            report(
                `${label(args)}: kmsKeyId is ${show(key)}; set kmsKeyId to a customer-managed aws.kms.Key whose policy lets logs.<region>.amazonaws.com use it`,
            );
        }
    }),
};

export const REQUIRED_TAGS = ["Environment", "Application", "Owner", "CostCenter"];

/**
 * Taggable types of the aws provider that this project creates, plus the common ones users add.
 * (A resource's input props alone can't tell: untagged resources simply have no `tags`.)
 */
const TAGGABLE = new Set<string>([
    T.vpc,
    T.subnet,
    T.routeTable,
    T.internetGateway,
    T.defaultSecurityGroup,
    T.flowLog,
    T.securityGroup,
    T.ingressRule,
    T.egressRule,
    T.kmsKey,
    T.logGroup,
    T.secret,
    T.clusterParameterGroup,
    T.rdsCluster,
    T.rdsClusterInstance,
    T.rdsInstance,
    T.proxy,
    T.role,
    T.iamPolicy,
    T.ecsTaskDefinition,
    T.ecsService,
    T.lambdaFunction,
    "aws:ecs/cluster:Cluster",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip",
    "aws:ec2/vpcEndpoint:VpcEndpoint",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:rds/parameterGroup:ParameterGroup",
    "aws:rds/proxyEndpoint:ProxyEndpoint",
    "aws:ecr/repository:Repository",
    "aws:sns/topic:Topic",
    "aws:sqs/queue:Queue",
    "aws:lb/loadBalancer:LoadBalancer",
    "aws:lb/targetGroup:TargetGroup",
]);

export const requiredTags: ResourceValidationPolicy = {
    name: "required-tags",
    description: `Taggable resources carry ${REQUIRED_TAGS.join(", ")}, from their own tags or the aws provider's defaultTags.`,
    enforcementLevel: "advisory",
    severity: "low",
    configSchema: {
        properties: {
            requiredTags: { type: "array", items: { type: "string" }, default: REQUIRED_TAGS },
        },
    },
    validateResource: (args, report) => {
        if (!TAGGABLE.has(args.type) && !(args.type.startsWith("aws:") && peek(args.props, "tags") !== undefined)) {
            args.notApplicable("applies to taggable aws resources");
        }
        const required = args.getConfig<{ requiredTags?: string[] }>().requiredTags ?? REQUIRED_TAGS;
        const own = peek(args.props, "tags");
        if (own === Unknown) {
            return; // Computed tags: nothing to judge until apply.
        }
        const merged: Record<string, unknown> = {
            ...providerDefaultTags(args.provider),
            ...(own !== null && typeof own === "object" ? (own as Record<string, unknown>) : {}),
        };
        const missing = required.filter((t) => typeof merged[t] !== "string" || merged[t] === "");
        if (missing.length > 0) {
            report(
                `${label(args)}: missing tag(s) ${missing.join(", ")} (neither in tags nor the provider's defaultTags); ` +
                    "set them in the aws provider's defaultTags.tags",
            );
        }
    },
};
