import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DbUser } from "../access/users";
import { DB_PORT } from "../access/spec";
import { Settings } from "./config";
import { AuroraIamProxy } from "./aurora-iam-proxy";
import { Ecs } from "./ecs";
import type { ConsumedOutputs } from "../smoke/stack-outputs";

/** Each output a tool reads (smoke/stack-outputs.ts), as a value or an Output of the type it reads. */
type ReadByTools = { [K in keyof ConsumedOutputs]: pulumi.Input<ConsumedOutputs[K]> };

/**
 * What the stack exports: every fact the smoke runner and an operator need, and no secret. It extends what the
 * tools read, so an output renamed or retyped here fails to compile instead of failing a reader after a deploy.
 */
export interface StackOutputs extends ReadByTools {
    region: string;
    environment: string;
    proxyEndpoint: pulumi.Output<string>;
    /** The READ_ONLY proxy endpoint (readers), where the stack has one. */
    proxyReaderEndpoint?: pulumi.Output<string>;
    proxyPort: number;
    proxyArn: pulumi.Output<string>;
    proxyResourceId: pulumi.Output<string>;
    proxyAuthMode: string;
    dbName: string;
    dbUser: string;
    /** Every database user of the stack: name, access profile, endpoint. */
    dbUsers: DbUser[];
    /** The Aurora engine version chosen when the cluster was declared (an existing cluster keeps its own). */
    engineVersion: pulumi.Output<string>;
    /** The master user's name (not its password): owner of the app schema, which the grants spec names. */
    dbOwner: string | pulumi.Output<string>;
    clusterArn: pulumi.Output<string>;
    clusterEndpoint: pulumi.Output<string>;
    clusterReaderEndpoint: pulumi.Output<string>;
    vpcId: pulumi.Output<string>;
    privateSubnetIds: pulumi.Output<string[]>;
    isolatedSubnetIds: pulumi.Output<string[]>;
    appSecurityGroupId: pulumi.Output<string>;
    smokeSecurityGroupId: pulumi.Output<string>;
    proxySecurityGroupId: pulumi.Output<string>;
    dbSecurityGroupId: pulumi.Output<string>;
    taskRoleArn: pulumi.Output<string>;
    appConnectArn: pulumi.Output<string>;
    /** For each user, the exact rds-db:connect resource through this proxy. */
    connectArns: pulumi.Output<Record<string, string>>;
    ecsClusterName: pulumi.Output<string>;
    ecsServiceName: pulumi.Output<string>;
    /** The ECR repository the deploy workflow pushes the application image to. */
    appRepositoryUrl: pulumi.Output<string>;
    bootstrapFunctionName: pulumi.Output<string>;
    /** The post-deploy smoke's verdicts (JSON), or a note that it is off. */
    smokeReport: pulumi.Output<string>;
    /** Where the alarms go, the dashboard, and how often the smoke runs between deploys. */
    alarmTopicArn: pulumi.Output<string>;
    dashboardName: pulumi.Output<string>;
    smokeSchedule: string;
    /** Operator access (operator.enabled): the Session Manager relay `npm run db:connect` forwards through. */
    relayInstanceId?: pulumi.Output<string>;
    /** The role operators assume for db:connect. */
    operatorRoleArn?: pulumi.Output<string>;
    /** The database users the operator role may connect as. */
    operatorUsers?: string[];
    /** The stack's Session document (port forwarding to the proxy's endpoints on 5432 only): db:connect's --document-name. */
    operatorSessionDocument?: pulumi.Output<string>;
}

/**
 * This repository's program: the AWS provider with the stack's tags, AuroraIamProxy from the stack file's
 * settings (its Args, key for key), and the example consumer, an ECS service that connects as its users.
 */
export function createStack(settings: Settings): StackOutputs {
    const provider = new aws.Provider("aws", {
        region: settings.region as aws.Region,
        // Every taggable resource carries who owns it, what it is for and who pays.
        defaultTags: { tags: { ...settings.tags } },
    });
    const access = settings.access;
    const aurora = new AuroraIamProxy("aurora", settings.args, { providers: { aws: provider } });
    const readonlyTaskUser = access.ecsTaskUsers.find((n) => access.users.find((u) => u.name === n)?.access === "readonly");
    const identity = aws.getCallerIdentityOutput({}, { provider });

    // The example consumer: it attaches the component's client group and holds the grants of its users only.
    // It starts once the component is complete: the users exist and the smoke has proven the path.
    const ecs = new Ecs(
        "ecs",
        {
            namePrefix: settings.namePrefix,
            region: settings.region,
            accountId: identity.accountId,
            settings: settings.app,
            proxyEndpoint: aurora.proxyEndpoint,
            proxyReaderEndpoint: access.readerEndpoint ? aurora.proxyReaderEndpoint : undefined,
            dbName: settings.database.name,
            dbUser: access.appUser,
            readonlyUser: readonlyTaskUser,
            connectAs: access.ecsTaskUsers,
            connectArns: access.ecsTaskUsers.map((n) => aurora.connectArns.apply((arns) => arns[n])),
            subnetIds: aurora.privateSubnetIds,
            securityGroupId: aurora.clientSecurityGroupId,
            kmsKeyArn: aurora.kmsKeyArn,
            dependsOn: [aurora],
        },
        { providers: { aws: provider } },
    );

    const operatorOn = settings.operator.enabled;
    return {
        region: settings.region,
        environment: settings.environment,
        proxyEndpoint: aurora.proxyEndpoint,
        ...(access.readerEndpoint ? { proxyReaderEndpoint: aurora.proxyReaderEndpoint } : {}),
        proxyPort: DB_PORT,
        proxyArn: aurora.proxyArn,
        proxyResourceId: aurora.proxyResourceId,
        proxyAuthMode: settings.proxy.authMode,
        dbName: settings.database.name,
        dbUser: access.appUser,
        dbUsers: access.users,
        engineVersion: aurora.engineVersion,
        // An existing cluster's master user is read at preview time.
        dbOwner: settings.database.existingCluster ? aurora.masterUsername : settings.database.masterUsername,
        clusterArn: aurora.clusterArn,
        clusterEndpoint: aurora.clusterEndpoint,
        clusterReaderEndpoint: aurora.clusterReaderEndpoint,
        vpcId: aurora.vpcId,
        privateSubnetIds: aurora.privateSubnetIds,
        isolatedSubnetIds: aurora.isolatedSubnetIds,
        appSecurityGroupId: aurora.clientSecurityGroupId,
        smokeSecurityGroupId: aurora.smokeSecurityGroupId,
        proxySecurityGroupId: aurora.proxySecurityGroupId,
        dbSecurityGroupId: aurora.databaseSecurityGroupId,
        taskRoleArn: ecs.taskRoleArn,
        appConnectArn: aurora.connectArns.apply((arns) => arns[access.appUser]),
        connectArns: aurora.connectArns,
        ecsClusterName: ecs.clusterName,
        ecsServiceName: ecs.serviceName,
        appRepositoryUrl: ecs.repositoryUrl,
        bootstrapFunctionName: aurora.bootstrapFunctionName,
        smokeReport: aurora.smokeReport,
        alarmTopicArn: aurora.alarmTopicArn,
        dashboardName: aurora.dashboardName,
        smokeSchedule: settings.smoke.schedule?.expression ?? "off",
        ...(operatorOn
            ? {
                  relayInstanceId: aurora.relayInstanceId,
                  operatorRoleArn: aurora.operatorRoleArn,
                  operatorUsers: settings.operator.users,
                  operatorSessionDocument: aurora.operatorSessionDocument,
              }
            : {}),
    };
}
