import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DB_PORT } from "../access/grants";
import { connectPolicy, serviceTrustPolicy } from "./arns";
import { AppSettings } from "./config";

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

/** The environment the application container gets: where to connect and as whom. Never a password. */
export function appEnvironment(a: { proxyEndpoint: string; proxyReaderEndpoint?: string; dbName: string; dbUser: string; readonlyUser?: string; connectAs: string[]; region: string }) {
    return [
        { name: "DB_HOST", value: a.proxyEndpoint },
        { name: "DB_PORT", value: String(DB_PORT) },
        { name: "DB_NAME", value: a.dbName },
        { name: "DB_USER", value: a.dbUser },
        { name: "DB_IAM_AUTH", value: "true" },
        { name: "AWS_REGION", value: a.region },
        // Reads that may go to the replicas: as the readonly user, through the READ_ONLY endpoint where there is one.
        ...(a.readonlyUser ? [{ name: "DB_READONLY_USER", value: a.readonlyUser }] : []),
        ...(a.readonlyUser ? [{ name: "DB_READER_HOST", value: a.proxyReaderEndpoint ?? a.proxyEndpoint }] : []),
        // Every user the task role may connect as (access.ecsTask): what the policy pack holds its grants to.
        { name: "DB_CONNECT_AS", value: a.connectAs.join(",") },
    ];
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

    constructor(name: string, args: EcsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("aurora-iam-proxy:index:Ecs", name, {}, opts);
        const s = args.settings;
        const child = { parent: this };

        const logGroup = new aws.cloudwatch.LogGroup(`${name}-logs`, {
            name: `/ecs/${args.namePrefix}/app`,
            retentionInDays: s.logRetentionDays,
            kmsKeyId: args.kmsKeyArn,
        }, { parent: this, deleteBeforeReplace: true });

        const cluster = new aws.ecs.Cluster(`${name}-cluster`, {
            settings: [{ name: "containerInsights", value: "enabled" }],
        }, child);

        // The execution role pulls the image and writes logs for ECS; it holds no database permission.
        const executionRole = new aws.iam.Role(`${name}-execution`, {
            description: `ECS agent for ${args.namePrefix}: image pull and logs only`,
            assumeRolePolicy: pulumi.output(args.accountId).apply((account) => serviceTrustPolicy("ecs-tasks.amazonaws.com", account)),
        }, child);
        new aws.iam.RolePolicyAttachment(`${name}-execution`, {
            role: executionRole.name,
            policyArn: aws.iam.ManagedPolicy.AmazonECSTaskExecutionRolePolicy,
        }, child);

        // The task role is what the application's IAM tokens are signed with: rds-db:connect as its users via this proxy, nothing else.
        const taskRole = new aws.iam.Role(`${name}-task`, {
            description: `Application tasks of ${args.namePrefix}: connect to the database as their declared users through the proxy`,
            assumeRolePolicy: pulumi.output(args.accountId).apply((account) => serviceTrustPolicy("ecs-tasks.amazonaws.com", account)),
        }, child);
        const taskConnect = new aws.iam.RolePolicy(`${name}-task-connect`, {
            role: taskRole.id,
            policy: pulumi.all(args.connectArns).apply((arns) => connectPolicy(arns)),
        }, child);

        const containerDefinitions = pulumi.all([args.proxyEndpoint, args.proxyReaderEndpoint, logGroup.name]).apply(([proxyEndpoint, proxyReaderEndpoint, logGroupName]) => JSON.stringify([{
            name: CONTAINER_NAME,
            image: s.image,
            ...(s.command ? { command: s.command } : {}),
            essential: true,
            privileged: false,
            readonlyRootFilesystem: s.readonlyRootFilesystem,
            environment: appEnvironment({ proxyEndpoint, proxyReaderEndpoint, dbName: args.dbName, dbUser: args.dbUser, readonlyUser: args.readonlyUser, connectAs: args.connectAs, region: args.region }),
            // A read-only root still needs somewhere to write temporary files.
            mountPoints: [{ sourceVolume: "tmp", containerPath: "/tmp", readOnly: false }],
            linuxParameters: { initProcessEnabled: true, capabilities: { drop: ["ALL"] } },
            logConfiguration: {
                logDriver: "awslogs",
                options: { "awslogs-group": logGroupName, "awslogs-region": args.region, "awslogs-stream-prefix": CONTAINER_NAME },
            },
        }]));

        const taskDefinition = new aws.ecs.TaskDefinition(`${name}-task`, {
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
        }, child);

        this.service = new aws.ecs.Service(`${name}-service`, {
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
            deploymentCircuitBreaker: { enable: true, rollback: true },
            enableExecuteCommand: false,
            propagateTags: "SERVICE",
            // `pulumi up` succeeds only once the tasks are running and stable; a crash loop fails it (and rolls back).
            waitForSteadyState: true,
        }, { parent: this, dependsOn: args.dependsOn });

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
