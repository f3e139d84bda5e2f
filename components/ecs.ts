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
    dbName: string;
    dbUser: string;
    /** The exact rds-db:connect resource for dbUser through the proxy (from Proxy.connectArn). */
    connectArn: pulumi.Input<string>;
    subnetIds: pulumi.Input<string>[];
    securityGroupId: pulumi.Input<string>;
    kmsKeyArn: pulumi.Input<string>;
    /** The service starts only once the proxy can reach the database. */
    dependsOn: pulumi.Resource[];
}

export const CONTAINER_NAME = "app";

/** The environment the application container gets: where to connect and as whom. Never a password. */
export function appEnvironment(a: { proxyEndpoint: string; dbName: string; dbUser: string; region: string }) {
    return [
        { name: "DB_HOST", value: a.proxyEndpoint },
        { name: "DB_PORT", value: String(DB_PORT) },
        { name: "DB_NAME", value: a.dbName },
        { name: "DB_USER", value: a.dbUser },
        { name: "DB_IAM_AUTH", value: "true" },
        { name: "AWS_REGION", value: a.region },
    ];
}

/** The ECS cluster, the Fargate task definition and the service, with a task role that can only connect as dbUser. */
export class Ecs extends pulumi.ComponentResource {
    readonly clusterName: pulumi.Output<string>;
    readonly serviceName: pulumi.Output<string>;
    readonly taskRoleArn: pulumi.Output<string>;
    readonly executionRoleArn: pulumi.Output<string>;
    readonly taskDefinitionArn: pulumi.Output<string>;
    readonly service: aws.ecs.Service;

    constructor(name: string, args: EcsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("aurora-iam-proxy:index:Ecs", name, {}, opts);
        const s = args.settings;
        const child = { parent: this };

        const logGroup = new aws.cloudwatch.LogGroup(`${name}-logs`, {
            name: `/ecs/${args.namePrefix}/app`,
            retentionInDays: s.logRetentionDays,
            kmsKeyId: args.kmsKeyArn,
        }, child);

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

        // The task role is what the application's IAM tokens are signed with: rds-db:connect as dbUser via this proxy, nothing else.
        const taskRole = new aws.iam.Role(`${name}-task`, {
            description: `Application tasks of ${args.namePrefix}: connect to the database as ${args.dbUser} through the proxy`,
            assumeRolePolicy: pulumi.output(args.accountId).apply((account) => serviceTrustPolicy("ecs-tasks.amazonaws.com", account)),
        }, child);
        new aws.iam.RolePolicy(`${name}-task-connect`, {
            role: taskRole.id,
            policy: pulumi.output(args.connectArn).apply((arn) => connectPolicy([arn])),
        }, child);

        const containerDefinitions = pulumi.all([args.proxyEndpoint, logGroup.name]).apply(([proxyEndpoint, logGroupName]) => JSON.stringify([{
            name: CONTAINER_NAME,
            image: s.image,
            ...(s.command ? { command: s.command } : {}),
            essential: true,
            privileged: false,
            readonlyRootFilesystem: s.readonlyRootFilesystem,
            environment: appEnvironment({ proxyEndpoint, dbName: args.dbName, dbUser: args.dbUser, region: args.region }),
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
        this.registerOutputs({ clusterName: this.clusterName, serviceName: this.serviceName, taskRoleArn: this.taskRoleArn });
    }
}
