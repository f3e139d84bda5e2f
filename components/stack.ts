import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DB_PORT } from "../smoke/grants";
import { Settings } from "./config";
import { Database } from "./database";
import { Ecs } from "./ecs";
import { Network } from "./network";
import { Proxy } from "./proxy";
import { Secrets } from "./secrets";

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
}

/** The whole architecture, top to bottom: key, network, database, proxy, application. */
export function createStack(settings: Settings): StackOutputs {
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
    }, opts);

    const database = new Database("database", {
        namePrefix: prefix,
        environment: settings.environment,
        settings: db,
        subnetIds: network.isolatedSubnetIds,
        availabilityZones: network.isolatedSubnetAzs,
        securityGroupId: network.dbSecurityGroupId,
        kmsKeyArn: secrets.kmsKeyArn,
        enableDataApi: settings.smoke.enabled,
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
    };
}
