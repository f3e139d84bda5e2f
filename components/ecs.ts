import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DB_PORT } from "../access/spec";
import { connectPolicy, serviceTrustPolicy } from "./arns";
import { ENV } from "../client/env";
import { AppSettings } from "./config";
import { TYPE } from "./tokens";

export interface EcsArgs {
    namePrefix: string;
    region: string;
    accountId: pulumi.Input<string>;
    settings: AppSettings;
    proxyEndpoint: pulumi.Input<string>;
    /** The READ_ONLY proxy endpoint, where the stack has one (readonly users are meant for it). */
    proxyReaderEndpoint?: pulumi.Input<string>;
    dbName: string;
    /** The user the application connects as by default (DB_USER); a readwrite user. */
    dbUser: string;
    /** A readonly user the task may connect as, if any (DB_READONLY_USER). */
    readonlyUser?: string;
    /** The users the task may connect as (access.ecsTask), and their exact rds-db:connect resources (Proxy.connectArn). */
    connectAs: string[];
    connectArns: pulumi.Input<string>[];
    subnetIds: pulumi.Input<pulumi.Input<string>[]>;
    securityGroupId: pulumi.Input<string>;
    kmsKeyArn: pulumi.Input<string>;
    /** The service starts only once the proxy can reach the database and the bootstrap has created its users. */
    dependsOn: pulumi.Resource[];
}

export const CONTAINER_NAME = "app";

/** The port app/ listens on inside the task (PORT); only the container's own health check calls it. */
export const APP_PORT = 8080;

/**
 * The container health check: /health/db through the proxy, with Node (the image's runtime; the Alpine
 * image's busybox wget would do too, Node keeps it to one tool). /health/db bounds itself to ~4.5 s
 * (two 2-second connection attempts), inside the 5-second timeout.
 *
 * Timings against the proxy's cold start (docs/app.md): a new task's first check may meet a proxy
 * that has no database connection yet (it opens one on demand) or a Serverless v2 writer resuming;
 * startPeriod 90 s lets those checks fail without counting. After it, 3 failures 30 s apart (~90 s)
 * mark the task unhealthy; ECS stops it, and the deployment circuit breaker counts it toward the rollback.
 * Ranges (ECS HealthCheck API): interval 5-300, timeout 2-60, retries 1-10, startPeriod 0-300 seconds.
 */
export const HEALTH_CHECK = {
    command: [
        "CMD",
        "node",
        "-e",
        `fetch("http://127.0.0.1:${APP_PORT}/health/db",{signal:AbortSignal.timeout(4500)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`,
    ],
    interval: 30,
    timeout: 5,
    retries: 3,
    startPeriod: 90,
};

/** The container definition of the task: exported so tests read it without evaluating a stack. */
export function containerDefinition(
    s: AppSettings,
    a: { environment: Array<{ name: string; value: string }>; logGroupName: string; region: string },
) {
    return {
        name: CONTAINER_NAME,
        image: s.image,
        ...(s.command ? { command: s.command } : {}),
        essential: true,
        privileged: false,
        readonlyRootFilesystem: s.readonlyRootFilesystem,
        // The placeholder serves nothing: no port, no PORT, no health check it could never pass.
        environment: s.placeholder ? a.environment : [...a.environment, { name: "PORT", value: String(APP_PORT) }],
        ...(s.placeholder ? {} : { portMappings: [{ containerPort: APP_PORT, protocol: "tcp" }], healthCheck: HEALTH_CHECK }),
        // A read-only root still needs somewhere to write temporary files.
        mountPoints: [{ sourceVolume: "tmp", containerPath: "/tmp", readOnly: false }],
        linuxParameters: { initProcessEnabled: true, capabilities: { drop: ["ALL"] } },
        logConfiguration: {
            logDriver: "awslogs",
            options: { "awslogs-group": a.logGroupName, "awslogs-region": a.region, "awslogs-stream-prefix": CONTAINER_NAME },
        },
    };
}

/** The environment the application container gets: where to connect and as whom. Never a password. */
export function appEnvironment(a: {
    proxyEndpoint: string;
    proxyReaderEndpoint?: string;
    dbName: string;
    dbUser: string;
    readonlyUser?: string;
    connectAs: string[];
    region: string;
}) {
    return [
        { name: ENV.host, value: a.proxyEndpoint },
        { name: ENV.port, value: String(DB_PORT) },
        { name: ENV.database, value: a.dbName },
        { name: ENV.user, value: a.dbUser },
        { name: ENV.iamAuth, value: "true" },
        { name: ENV.region, value: a.region },
        // Reads that may go to the replicas: as the readonly user, through the READ_ONLY endpoint where there is one.
        ...(a.readonlyUser ? [{ name: ENV.readonlyUser, value: a.readonlyUser }] : []),
        ...(a.readonlyUser ? [{ name: ENV.readerHost, value: a.proxyReaderEndpoint ?? a.proxyEndpoint }] : []),
        // Every user the task role may connect as (access.ecsTask): what the policy pack holds its grants to.
        { name: ENV.connectAs, value: a.connectAs.join(",") },
    ];
}

/**
 * Untagged layers (a failed or replaced push) go after 7 days; of the rest the newest 30 stay, so a rollback
 * target (the previous revisions' digests) is still there to pull.
 * See https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html
 */
export function imageLifecyclePolicy() {
    return {
        rules: [
            {
                rulePriority: 1,
                description: "untagged images after 7 days",
                selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 7 },
                action: { type: "expire" },
            },
            {
                rulePriority: 2,
                description: "keep the newest 30 images",
                selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 30 },
                action: { type: "expire" },
            },
        ],
    };
}

/** The ECS cluster, the Fargate task definition and the service, with a task role that can only connect as its users. */
export class Ecs extends pulumi.ComponentResource {
    readonly clusterName: pulumi.Output<string>;
    readonly serviceName: pulumi.Output<string>;
    readonly taskRoleArn: pulumi.Output<string>;
    readonly executionRoleArn: pulumi.Output<string>;
    readonly taskDefinitionArn: pulumi.Output<string>;
    /** What the tasks run (image, command, environment): a change re-runs the post-deploy smoke. */
    readonly containerDefinitions: pulumi.Output<string>;
    /** The task role's rds-db:connect policy document. */
    readonly taskConnectPolicy: pulumi.Output<string>;
    readonly service: aws.ecs.Service;
    /** Where the deploy workflow pushes the application image. */
    readonly repositoryUrl: pulumi.Output<string>;

    constructor(name: string, args: EcsArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE.Ecs, name, {}, opts);
        const s = args.settings;
        const child = { parent: this };

        const logGroup = new aws.cloudwatch.LogGroup(
            `${name}-logs`,
            {
                name: `/ecs/${args.namePrefix}/app`,
                retentionInDays: s.logRetentionDays,
                kmsKeyId: args.kmsKeyArn,
            },
            { parent: this, deleteBeforeReplace: true },
        );

        const cluster = new aws.ecs.Cluster(
            `${name}-cluster`,
            {
                settings: [{ name: "containerInsights", value: "enabled" }],
            },
            child,
        );

        // The execution role pulls the image and writes logs for ECS; it holds no database permission.
        const executionRole = new aws.iam.Role(
            `${name}-execution`,
            {
                description: `ECS agent for ${args.namePrefix}: image pull and logs only`,
                assumeRolePolicy: pulumi.output(args.accountId).apply((account) => serviceTrustPolicy("ecs-tasks.amazonaws.com", account)),
            },
            child,
        );
        new aws.iam.RolePolicyAttachment(
            `${name}-execution`,
            {
                role: executionRole.name,
                policyArn: aws.iam.ManagedPolicy.AmazonECSTaskExecutionRolePolicy,
            },
            child,
        );

        // The task role is what the application's IAM tokens are signed with: rds-db:connect as its users via this proxy, nothing else.
        const taskRole = new aws.iam.Role(
            `${name}-task`,
            {
                description: `Application tasks of ${args.namePrefix}: connect to the database as their declared users through the proxy`,
                assumeRolePolicy: pulumi.output(args.accountId).apply((account) => serviceTrustPolicy("ecs-tasks.amazonaws.com", account)),
            },
            child,
        );
        const taskConnect = new aws.iam.RolePolicy(
            `${name}-task-connect`,
            {
                role: taskRole.id,
                policy: pulumi.all(args.connectArns).apply((arns) => connectPolicy(arns)),
            },
            child,
        );

        // Where the deploy workflow pushes the application image (.github/workflows/deploy.yml). Tags cannot be
        // moved (a deployed tag always means the same image), every push is scanned, and old images expire.
        // The execution role pulls with AmazonECSTaskExecutionRolePolicy (ecr:GetAuthorizationToken, BatchGetImage,
        // GetDownloadUrlForLayer); AES256 keeps that pull free of a KMS grant.
        const repository = new aws.ecr.Repository(
            `${name}-images`,
            {
                name: `${args.namePrefix}-app`,
                imageTagMutability: "IMMUTABLE",
                imageScanningConfiguration: { scanOnPush: true },
                encryptionConfigurations: [{ encryptionType: "AES256" }],
            },
            child,
        );
        new aws.ecr.LifecyclePolicy(
            `${name}-images`,
            {
                repository: repository.name,
                policy: JSON.stringify(imageLifecyclePolicy()),
            },
            child,
        );

        const containerDefinitions = pulumi
            .all([args.proxyEndpoint, args.proxyReaderEndpoint, logGroup.name])
            .apply(([proxyEndpoint, proxyReaderEndpoint, logGroupName]) =>
                JSON.stringify([
                    containerDefinition(s, {
                        environment: appEnvironment({
                            proxyEndpoint,
                            proxyReaderEndpoint,
                            dbName: args.dbName,
                            dbUser: args.dbUser,
                            readonlyUser: args.readonlyUser,
                            connectAs: args.connectAs,
                            region: args.region,
                        }),
                        logGroupName,
                        region: args.region,
                    }),
                ]),
            );

        const taskDefinition = new aws.ecs.TaskDefinition(
            `${name}-task`,
            {
                family: `${args.namePrefix}-app`,
                requiresCompatibilities: ["FARGATE"],
                networkMode: "awsvpc",
                cpu: String(s.cpu),
                memory: String(s.memory),
                runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: "X86_64" },
                executionRoleArn: executionRole.arn,
                taskRoleArn: taskRole.arn,
                volumes: [{ name: "tmp" }],
                containerDefinitions,
            },
            child,
        );

        this.service = new aws.ecs.Service(
            `${name}-service`,
            {
                cluster: cluster.arn,
                taskDefinition: taskDefinition.arn,
                desiredCount: s.desiredCount,
                launchType: "FARGATE",
                platformVersion: "LATEST",
                networkConfiguration: {
                    subnets: args.subnetIds,
                    securityGroups: [args.securityGroupId],
                    assignPublicIp: false,
                },
                // A revision whose tasks fail their /health/db check (or crash) fails the deployment, and ECS rolls the
                // service back to the last revision that reached a steady state.
                deploymentCircuitBreaker: { enable: true, rollback: true },
                enableExecuteCommand: false,
                propagateTags: "SERVICE",
                // `pulumi up` succeeds only once the tasks are running and stable; a crash loop fails it (and rolls back).
                waitForSteadyState: true,
            },
            { parent: this, dependsOn: args.dependsOn },
        );

        this.repositoryUrl = repository.repositoryUrl;
        this.clusterName = cluster.name;
        this.serviceName = this.service.name;
        this.taskRoleArn = taskRole.arn;
        this.executionRoleArn = executionRole.arn;
        this.taskDefinitionArn = taskDefinition.arn;
        this.containerDefinitions = taskDefinition.containerDefinitions;
        this.taskConnectPolicy = taskConnect.policy;
        this.registerOutputs({ clusterName: this.clusterName, serviceName: this.serviceName, taskRoleArn: this.taskRoleArn });
    }
}
