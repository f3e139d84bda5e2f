import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { randomUUID } from "crypto";
import { DB_PORT } from "../access/grants";
import { Settings } from "./config";
import { Database } from "./database";
import { Ecs } from "./ecs";
import { Network } from "./network";
import { Proxy } from "./proxy";
import { Secrets } from "./secrets";
import { Smoke } from "./smoke";

/** What the stack exports: every fact the smoke runner and an operator need, and no secret. */
export interface StackOutputs {
    region: string;
    environment: string;
    proxyEndpoint: pulumi.Output<string>;
    proxyPort: number;
    proxyArn: pulumi.Output<string>;
    proxyResourceId: pulumi.Output<string>;
    proxyAuthMode: string;
    dbName: string;
    dbUser: string;
    /** The master user's name (not its password): owner of the app schema, which the grants spec names. */
    dbOwner: string;
    clusterArn: pulumi.Output<string>;
    clusterEndpoint: pulumi.Output<string>;
    clusterReaderEndpoint: pulumi.Output<string>;
    vpcId: pulumi.Output<string>;
    privateSubnetIds: pulumi.Output<string>[];
    isolatedSubnetIds: pulumi.Output<string>[];
    appSecurityGroupId: pulumi.Output<string>;
    proxySecurityGroupId: pulumi.Output<string>;
    dbSecurityGroupId: pulumi.Output<string>;
    taskRoleArn: pulumi.Output<string>;
    appConnectArn: pulumi.Output<string>;
    ecsClusterName: pulumi.Output<string>;
    ecsServiceName: pulumi.Output<string>;
    bootstrapFunctionName: pulumi.Output<string>;
    /** The post-deploy smoke's verdicts (JSON), or a note that it is off. */
    smokeReport: pulumi.Output<string> | string;
}

/** A value that differs on every program run, so the post-deploy invocations run after every update. */
export function newDeploymentId(): string {
    return `${new Date().toISOString()}/${randomUUID()}`;
}

/** The whole architecture, top to bottom: key, network, database, proxy, application, post-deploy proof. */
export function createStack(settings: Settings, deploymentId: string = newDeploymentId()): StackOutputs {
    const provider = new aws.Provider("aws", {
        region: settings.region as aws.Region,
        // Every taggable resource carries who owns it, what it is for and who pays.
        defaultTags: { tags: { ...settings.tags } },
    });
    const opts: pulumi.ComponentResourceOptions = { providers: { aws: provider } };
    const identity = aws.getCallerIdentityOutput({}, { provider });
    const partition = aws.getPartitionOutput({}, { provider }).partition;
    const prefix = settings.namePrefix;
    const db = settings.database;

    const secrets = new Secrets("secrets", {
        namePrefix: prefix,
        region: settings.region,
        accountId: identity.accountId,
        partition,
        proxyUser: settings.proxy.authMode === "secrets" ? db.user : undefined,
    }, opts);

    const network = new Network("network", {
        namePrefix: prefix,
        applicationName: settings.tags.Application,
        cidr: settings.network.cidr,
        azCount: settings.network.azCount,
        natGateways: settings.network.natGateways,
        flowLogs: settings.network.flowLogs,
        flowLogRetentionDays: settings.network.flowLogRetentionDays,
        kmsKeyArn: secrets.kmsKeyArn,
        region: settings.region,
        accountId: identity.accountId,
        partition,
    }, opts);

    const database = new Database("database", {
        namePrefix: prefix,
        environment: settings.environment,
        settings: db,
        subnetIds: network.isolatedSubnetIds,
        availabilityZones: network.isolatedSubnetAzs,
        securityGroupId: network.dbSecurityGroupId,
        kmsKeyArn: secrets.kmsKeyArn,
    }, opts);

    const proxy = new Proxy("proxy", {
        namePrefix: prefix,
        settings: settings.proxy,
        dbUser: db.user,
        region: settings.region,
        accountId: identity.accountId,
        partition,
        clusterIdentifier: database.clusterIdentifier,
        clusterResourceId: database.clusterResourceId,
        clusterInstances: database.instances,
        subnetIds: network.isolatedSubnetIds,
        securityGroupId: network.proxySecurityGroupId,
        kmsKeyArn: secrets.kmsKeyArn,
        userSecretArn: secrets.proxyUserSecretArn,
    }, opts);

    const appConnectArn = proxy.connectArn(db.user);
    const ecs = new Ecs("ecs", {
        namePrefix: prefix,
        region: settings.region,
        accountId: identity.accountId,
        settings: settings.app,
        proxyEndpoint: proxy.endpoint,
        dbName: db.name,
        dbUser: db.user,
        connectArn: appConnectArn,
        subnetIds: network.privateSubnetIds,
        securityGroupId: network.appSecurityGroupId,
        kmsKeyArn: secrets.kmsKeyArn,
        dependsOn: [proxy.target],
    }, opts);

    const smoke = new Smoke("smoke", {
        namePrefix: prefix,
        region: settings.region,
        settings: settings.smoke,
        kmsKeyArn: secrets.kmsKeyArn,
        deploymentId,
        privateSubnetIds: network.privateSubnetIds,
        appSecurityGroupId: network.appSecurityGroupId,
        proxyEndpoint: proxy.endpoint,
        connectArn: appConnectArn,
        dbName: db.name,
        dbUser: db.user,
        dbOwner: db.masterUsername,
        authMode: settings.proxy.authMode,
        clusterArn: database.clusterArn,
        masterSecretArn: database.masterSecretArn,
        proxyUserPassword: secrets.proxyUserPassword,
        bootstrapAfter: database.instances,
        smokeAfter: [proxy.target, ecs.service],
    }, opts);

    return {
        region: settings.region,
        environment: settings.environment,
        proxyEndpoint: proxy.endpoint,
        proxyPort: DB_PORT,
        proxyArn: proxy.arn,
        proxyResourceId: proxy.resourceId,
        proxyAuthMode: proxy.authMode,
        dbName: db.name,
        dbUser: db.user,
        dbOwner: db.masterUsername,
        clusterArn: database.clusterArn,
        clusterEndpoint: database.endpoint,
        clusterReaderEndpoint: database.readerEndpoint,
        vpcId: network.vpcId,
        privateSubnetIds: network.privateSubnetIds,
        isolatedSubnetIds: network.isolatedSubnetIds,
        appSecurityGroupId: network.appSecurityGroupId,
        proxySecurityGroupId: network.proxySecurityGroupId,
        dbSecurityGroupId: network.dbSecurityGroupId,
        taskRoleArn: ecs.taskRoleArn,
        appConnectArn,
        ecsClusterName: ecs.clusterName,
        ecsServiceName: ecs.serviceName,
        bootstrapFunctionName: smoke.bootstrapFunctionName,
        smokeReport: smoke.report ?? "off (smoke.enabled is false)",
    };
}
