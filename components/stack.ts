import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DbUser } from "../access/users";
import { DB_PORT } from "../access/grants";
import { Settings } from "./config";
import { Database } from "./database";
import { Ecs } from "./ecs";
import { Monitoring } from "./monitoring";
import { Network } from "./network";
import { Operator } from "./operator";
import { Proxy } from "./proxy";
import { Secrets } from "./secrets";
import { Smoke } from "./smoke";

/** What the stack exports: every fact the smoke runner and an operator need, and no secret. */
export interface StackOutputs {
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
    dbOwner: string;
    clusterArn: pulumi.Output<string>;
    clusterEndpoint: pulumi.Output<string>;
    clusterReaderEndpoint: pulumi.Output<string>;
    vpcId: pulumi.Output<string>;
    privateSubnetIds: pulumi.Output<string>[];
    isolatedSubnetIds: pulumi.Output<string>[];
    appSecurityGroupId: pulumi.Output<string>;
    smokeSecurityGroupId: pulumi.Output<string>;
    proxySecurityGroupId: pulumi.Output<string>;
    dbSecurityGroupId: pulumi.Output<string>;
    taskRoleArn: pulumi.Output<string>;
    appConnectArn: pulumi.Output<string>;
    /** For each user, the exact rds-db:connect resource through this proxy. */
    connectArns: Record<string, pulumi.Output<string>>;
    ecsClusterName: pulumi.Output<string>;
    ecsServiceName: pulumi.Output<string>;
    /** The ECR repository the deploy workflow pushes the application image to. */
    appRepositoryUrl: pulumi.Output<string>;
    bootstrapFunctionName: pulumi.Output<string>;
    /** The post-deploy smoke's verdicts (JSON), or a note that it is off. */
    smokeReport: pulumi.Output<string> | string;
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
}

/** The whole architecture, top to bottom: key, network, database, proxy, application, post-deploy proof. */
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
    const access = settings.access;
    const secretsMode = settings.proxy.authMode === "secrets";

    const secrets = new Secrets("secrets", {
        namePrefix: prefix,
        region: settings.region,
        accountId: identity.accountId,
        partition,
        proxyUsers: secretsMode ? access.users.map((u) => u.name) : undefined,
    }, opts);

    const network = new Network("network", {
        namePrefix: prefix,
        applicationName: settings.tags.Application,
        cidr: settings.network.cidr,
        azCount: settings.network.azCount,
        natGateways: settings.network.natGateways,
        flowLogs: settings.network.flowLogs,
        flowLogRetentionDays: settings.network.flowLogRetentionDays,
        secretsManagerEndpoint: secretsMode,
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
        users: access.users,
        logRetentionDays: db.logRetentionDays,
        region: settings.region,
        accountId: identity.accountId,
        partition,
        clusterIdentifier: database.clusterIdentifier,
        clusterResourceId: database.clusterResourceId,
        clusterInstances: database.instances,
        subnetIds: network.isolatedSubnetIds,
        securityGroupId: network.proxySecurityGroupId,
        kmsKeyArn: secrets.kmsKeyArn,
        userSecretArns: secrets.proxyUserSecretArns,
        readerEndpoint: access.readerEndpoint,
        // Secrets mode: the proxy reads its secrets through the VPC endpoint, so it must exist first.
        dependsOn: network.secretsManagerEndpoint ? [network.secretsManagerEndpoint] : [],
    }, opts);

    // Every rds-db:connect resource comes from the proxy's own ARN: nobody writes one by hand.
    const connectArns = Object.fromEntries(access.users.map((u) => [u.name, proxy.connectArn(u.name)]));
    const readonlyTaskUser = access.ecsTaskUsers.find((n) => access.users.find((u) => u.name === n)?.access === "readonly");

    // Order on every update that changes them: the proxy's auth settings, then the bootstrap (so a switch of
    // proxy.authMode converges the users right after the proxy changes), then the service, then the smoke.
    const smoke = new Smoke("smoke", {
        namePrefix: prefix,
        stack: settings.stack,
        region: settings.region,
        settings: settings.smoke,
        kmsKeyArn: secrets.kmsKeyArn,
        privateSubnetIds: network.privateSubnetIds,
        smokeSecurityGroupId: network.smokeSecurityGroupId,
        proxyEndpoint: proxy.endpoint,
        proxyReaderEndpoint: proxy.readerEndpoint,
        connectArns,
        dbName: db.name,
        appUser: access.appUser,
        users: access.users,
        dbOwner: db.masterUsername,
        authMode: settings.proxy.authMode,
        clusterArn: database.clusterArn,
        masterSecretArn: database.masterSecretArn,
        proxyUserPasswords: secrets.proxyUserPasswords,
        bootstrapAfter: [...database.instances, proxy.proxy],
        verifies: {
            cluster: [database.clusterArn, database.clusterResourceId, database.endpoint, database.readerEndpoint],
            proxy: [proxy.arn, proxy.endpoint, proxy.readerEndpoint, settings.proxy, proxy.backendPolicy],
            target: proxy.target.id,
            dataPathRules: network.dataPathRules,
        },
    }, opts);

    const ecs = new Ecs("ecs", {
        namePrefix: prefix,
        region: settings.region,
        accountId: identity.accountId,
        settings: settings.app,
        proxyEndpoint: proxy.endpoint,
        proxyReaderEndpoint: proxy.readerEndpoint,
        dbName: db.name,
        dbUser: access.appUser,
        readonlyUser: readonlyTaskUser,
        connectAs: access.ecsTaskUsers,
        connectArns: access.ecsTaskUsers.map((n) => connectArns[n]),
        subnetIds: network.privateSubnetIds,
        securityGroupId: network.appSecurityGroupId,
        kmsKeyArn: secrets.kmsKeyArn,
        // The first task connects as a user the bootstrap has already created.
        dependsOn: [proxy.target, smoke.bootstrapInvocation],
    }, opts);

    // A new image, command or grant for the tasks re-runs the smoke, which runs once the service is steady.
    const smokeReport = smoke.proveAfter([proxy.target, ecs.service], {
        taskDefinition: ecs.containerDefinitions,
        taskGrants: ecs.taskConnectPolicy,
    });

    // Between deploys: the same smoke on a schedule, its metrics, alarms and a dashboard.
    const monitoring = new Monitoring("monitoring", {
        namePrefix: prefix,
        stack: settings.stack,
        region: settings.region,
        accountId: identity.accountId,
        smoke: settings.smoke,
        alarms: settings.alarms,
        kmsKeyArn: secrets.kmsKeyArn,
        smokeFunctionArn: smoke.smokeFunctionArn,
        smokeFunctionName: smoke.smokeFunctionName,
        proxyName: proxy.proxyName,
        clusterIdentifier: database.clusterIdentifier,
        instanceIdentifiers: database.instances.map((i) => i.identifier),
    }, opts);
    // A way in for people (npm run db:connect): a port forward through a relay, as the operator users only.
    const operator = settings.operator.enabled
        ? new Operator("operator", {
            namePrefix: prefix,
            applicationName: settings.tags.Application,
            privateSubnetId: network.privateSubnetIds[0],
            vpcId: network.vpcId,
            proxySecurityGroupId: network.proxySecurityGroupId,
            kmsKeyArn: secrets.kmsKeyArn,
            region: settings.region,
            accountId: identity.accountId,
            partition,
            principals: settings.operator.principals,
            connectArns: Object.fromEntries(settings.operator.users.map((u) => [u, connectArns[u]])),
        }, opts)
        : undefined;

    return {
        region: settings.region,
        environment: settings.environment,
        proxyEndpoint: proxy.endpoint,
        ...(proxy.readerEndpoint ? { proxyReaderEndpoint: proxy.readerEndpoint } : {}),
        proxyPort: DB_PORT,
        proxyArn: proxy.arn,
        proxyResourceId: proxy.resourceId,
        proxyAuthMode: proxy.authMode,
        dbName: db.name,
        dbUser: access.appUser,
        dbUsers: access.users,
        engineVersion: database.engineVersion,
        dbOwner: db.masterUsername,
        clusterArn: database.clusterArn,
        clusterEndpoint: database.endpoint,
        clusterReaderEndpoint: database.readerEndpoint,
        vpcId: network.vpcId,
        privateSubnetIds: network.privateSubnetIds,
        isolatedSubnetIds: network.isolatedSubnetIds,
        appSecurityGroupId: network.appSecurityGroupId,
        smokeSecurityGroupId: network.smokeSecurityGroupId,
        proxySecurityGroupId: network.proxySecurityGroupId,
        dbSecurityGroupId: network.dbSecurityGroupId,
        taskRoleArn: ecs.taskRoleArn,
        appConnectArn: connectArns[access.appUser],
        connectArns,
        ecsClusterName: ecs.clusterName,
        ecsServiceName: ecs.serviceName,
        appRepositoryUrl: ecs.repositoryUrl,
        bootstrapFunctionName: smoke.bootstrapFunctionName,
        smokeReport: smokeReport ?? "off (smoke.enabled is false)",
        alarmTopicArn: monitoring.topicArn,
        dashboardName: monitoring.dashboardName,
        smokeSchedule: settings.smoke.schedule?.expression ?? "off",
        ...(operator ? { relayInstanceId: operator.relayInstanceId, operatorRoleArn: operator.operatorRoleArn, operatorUsers: operator.operatorUsers } : {}),
    };
}
