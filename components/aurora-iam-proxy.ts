// AuroraIamProxy: Aurora PostgreSQL behind an RDS Proxy that only admits IAM tokens over TLS, with declared
// database users, a post-deploy bootstrap and smoke, operator access and monitoring: one component, usable
// from any Pulumi language (PulumiPlugin.yaml). Its Args are plain data, shaped key for key like the stack
// files' settings, and validated by the same parser (components/config.ts resolveArgs).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DB_PORT } from "../access/spec";
import { AuroraIamProxyArgs } from "./args";
import { connectPolicy } from "./arns";
import { resolveArgs } from "./config";
import { Database } from "./database";
import { describeExistingCluster } from "./existing-cluster";
import { Monitoring } from "./monitoring";
import { Network } from "./network";
import { Operator } from "./operator";
import { Proxy } from "./proxy";
import { Secrets } from "./secrets";
import { Smoke } from "./smoke";
import { TYPE } from "./tokens";

/** The logical names the parts had as top-level components of the stack (release 2): kept, and aliased. */
const ALIAS_TO_STACK_ROOT = [{ parent: pulumi.rootStackResource }];

/**
 * Aurora PostgreSQL behind RDS Proxy with IAM authentication, end to end. The application's compute stays
 * outside: attach `clientSecurityGroupId` (or pass your groups in `access.clientSecurityGroupIds`) and grant
 * your role `connectPolicies[user]`, then connect to `proxyEndpoint:port` with a fresh IAM token over verified TLS.
 */
export class AuroraIamProxy extends pulumi.ComponentResource {
    /** The VPC the component runs in (created, or the one given). */
    readonly vpcId: pulumi.Output<string>;
    readonly privateSubnetIds: pulumi.Output<string[]>;
    readonly isolatedSubnetIds: pulumi.Output<string[]>;
    /** A group to attach to your tasks or functions: egress to the proxy on 5432 (and HTTPS out), admitted by the proxy. */
    readonly clientSecurityGroupId: pulumi.Output<string>;
    readonly proxySecurityGroupId: pulumi.Output<string>;
    readonly databaseSecurityGroupId: pulumi.Output<string>;
    readonly smokeSecurityGroupId: pulumi.Output<string>;
    /** Where clients connect (the writer's endpoint), on `port`, with TLS verified against this name. */
    readonly proxyEndpoint: pulumi.Output<string>;
    /** The READ_ONLY endpoint on the readers, where users are meant for it; otherwise empty. */
    readonly proxyReaderEndpoint: pulumi.Output<string>;
    readonly port: pulumi.Output<number>;
    readonly proxyArn: pulumi.Output<string>;
    readonly proxyName: pulumi.Output<string>;
    /** The proxy's resource id (prx-...), which rds-db:connect ARNs name. */
    readonly proxyResourceId: pulumi.Output<string>;
    /** For each user, the exact `rds-db:connect` resource through this proxy. */
    readonly connectArns: pulumi.Output<Record<string, string>>;
    /** For each user, an IAM policy document (JSON) that allows connecting as that user only: attach it to your role. */
    readonly connectPolicies: pulumi.Output<Record<string, string>>;
    readonly databaseName: pulumi.Output<string>;
    /** The master user's name (not its password): owner of the app schema. */
    readonly masterUsername: pulumi.Output<string>;
    readonly clusterArn: pulumi.Output<string>;
    readonly clusterIdentifier: pulumi.Output<string>;
    readonly clusterEndpoint: pulumi.Output<string>;
    readonly clusterReaderEndpoint: pulumi.Output<string>;
    /** The engine version the cluster runs. */
    readonly engineVersion: pulumi.Output<string>;
    /** The stack's customer-managed KMS key. */
    readonly kmsKeyArn: pulumi.Output<string>;
    readonly bootstrapFunctionName: pulumi.Output<string>;
    /** The post-deploy smoke's verdicts (JSON, no token or secret), or a note that it is off. */
    readonly smokeReport: pulumi.Output<string>;
    readonly smokeFunctionName: pulumi.Output<string>;
    readonly alarmTopicArn: pulumi.Output<string>;
    readonly dashboardName: pulumi.Output<string>;
    /** The Session Manager relay db:connect forwards through (empty when operator access is off). */
    readonly relayInstanceId: pulumi.Output<string>;
    /** The role operators assume for db:connect (empty when operator access is off). */
    readonly operatorRoleArn: pulumi.Output<string>;
    /** The Session document db:connect starts: port forwarding to the proxy's endpoints on 5432 only (empty when off). */
    readonly operatorSessionDocument: pulumi.Output<string>;

    constructor(name: string, args: AuroraIamProxyArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE.AuroraIamProxy, name, {}, opts);
        // Validations first: every bad argument is reported in one line each, before anything is declared.
        const s = resolveArgs(pulumi.getStack(), args);
        const access = s.access;
        const secretsMode = s.proxy.authMode === "secrets";
        const existingVpc = args.network?.existingVpc;
        if (existingVpc && secretsMode) {
            throw new Error(
                `${s.stack}: proxy.authMode (secrets) with network.existingVpc: secrets mode needs a Secrets Manager endpoint the component would add to your VPC; use iam (the default)`,
            );
        }
        const part = { parent: this, aliases: ALIAS_TO_STACK_ROOT };
        const identity = aws.getCallerIdentityOutput({}, { parent: this });
        const partition = aws.getPartitionOutput({}, { parent: this }).partition;
        const prefix = s.namePrefix;
        // A cluster that exists already (the settings parser requires network.existingVpc with it) is read and checked
        // at preview time; everything that refers to it is built from these checked facts, so a refused cluster stops
        // the program before any of it is declared. docs/existing-cluster.md.
        const fronted =
            s.database.existingCluster && existingVpc
                ? describeExistingCluster(
                      s.stack,
                      s.database.existingCluster,
                      { vpcId: existingVpc.vpcId, users: access.users, appUser: access.appUser, region: s.region },
                      { parent: this },
                  )
                : undefined;

        const secrets = new Secrets(
            "secrets",
            {
                namePrefix: prefix,
                region: s.region,
                accountId: identity.accountId,
                partition,
                proxyUsers: secretsMode ? access.users.map((u) => u.name) : undefined,
                frontsExistingCluster: fronted !== undefined,
            },
            part,
        );

        const network = new Network(
            "network",
            {
                namePrefix: prefix,
                existing: existingVpc,
                applicationName: s.tags.Application,
                cidr: s.network.cidr,
                azCount: s.network.azCount,
                natGateways: s.network.natGateways,
                flowLogs: s.network.flowLogs,
                flowLogRetentionDays: s.network.flowLogRetentionDays,
                secretsManagerEndpoint: secretsMode,
                clientSecurityGroupIds: args.access?.clientSecurityGroupIds,
                existingCluster: fronted ? { securityGroupId: fronted.securityGroupId, port: fronted.port } : undefined,
                bootstrapInVpc: s.database.bootstrapPath === "vpc",
                kmsKeyArn: secrets.kmsKeyArn,
                region: s.region,
                accountId: identity.accountId,
                partition,
            },
            part,
        );

        // The cluster: created here, or the existing one (no cluster, instance, parameter group or subnet group then).
        const database = fronted
            ? undefined
            : new Database(
                  "database",
                  {
                      namePrefix: prefix,
                      environment: s.environment,
                      settings: s.database,
                      subnetIds: network.isolatedSubnetIds,
                      availabilityZones: network.isolatedSubnetAzs,
                      securityGroupId: network.dbSecurityGroupId,
                      kmsKeyArn: secrets.kmsKeyArn,
                      vpcId: network.vpcId,
                  },
                  part,
              );
        const cluster = database
            ? {
                  identifier: database.clusterIdentifier,
                  arn: database.clusterArn,
                  resourceId: database.clusterResourceId,
                  endpoint: database.endpoint,
                  port: database.port,
                  readerEndpoint: database.readerEndpoint,
                  engineVersion: database.engineVersion,
                  masterSecretArn: database.masterSecretArn,
                  masterUsername: pulumi.output(s.database.masterUsername),
                  instanceIdentifiers: database.instances.map((i) => i.identifier) as pulumi.Input<pulumi.Input<string>[]>,
                  // What must exist before the proxy's target is registered and the bootstrap runs.
                  reachable: database.instances as pulumi.Resource[],
              }
            : {
                  identifier: fronted!.identifier,
                  arn: fronted!.arn,
                  resourceId: fronted!.resourceId,
                  endpoint: fronted!.endpoint,
                  port: fronted!.port,
                  readerEndpoint: fronted!.readerEndpoint,
                  engineVersion: fronted!.engineVersion,
                  masterSecretArn: fronted!.masterSecretArn,
                  masterUsername: fronted!.masterUsername,
                  instanceIdentifiers: fronted!.instanceIdentifiers as pulumi.Input<pulumi.Input<string>[]>,
                  reachable: network.clusterAccessRules,
              };

        const proxy = new Proxy(
            "proxy",
            {
                namePrefix: prefix,
                settings: s.proxy,
                users: access.users,
                logRetentionDays: s.database.logRetentionDays,
                region: s.region,
                accountId: identity.accountId,
                partition,
                clusterIdentifier: cluster.identifier,
                clusterResourceId: cluster.resourceId,
                clusterInstances: cluster.reachable,
                subnetIds: network.isolatedSubnetIds,
                securityGroupId: network.proxySecurityGroupId,
                clusterAccessSecurityGroupId: network.clusterAccessSecurityGroupId,
                kmsKeyArn: secrets.kmsKeyArn,
                userSecretArns: secrets.proxyUserSecretArns,
                readerEndpoint: access.readerEndpoint,
                // Secrets mode: the proxy reads its secrets through the VPC endpoint, so it must exist first.
                dependsOn: network.secretsManagerEndpoint ? [network.secretsManagerEndpoint] : [],
            },
            part,
        );

        // Every rds-db:connect resource comes from the proxy's own ARN: nobody writes one by hand.
        const connectArns = Object.fromEntries(access.users.map((u) => [u.name, proxy.connectArn(u.name)]));

        // The proxy's auth settings, then the bootstrap (so a switch of proxy.authMode converges the users right
        // after the proxy changes), then the smoke once the target is registered.
        const smoke = new Smoke(
            "smoke",
            {
                namePrefix: prefix,
                stack: s.stack,
                region: s.region,
                settings: s.smoke,
                kmsKeyArn: secrets.kmsKeyArn,
                privateSubnetIds: network.privateSubnetIds,
                smokeSecurityGroupId: network.smokeSecurityGroupId,
                proxyEndpoint: proxy.endpoint,
                proxyReaderEndpoint: proxy.readerEndpoint,
                connectArns,
                dbName: s.database.name,
                appUser: access.appUser,
                users: access.users,
                dbOwner: database ? s.database.masterUsername : cluster.masterUsername,
                authMode: s.proxy.authMode,
                clusterArn: cluster.arn,
                masterSecretArn: cluster.masterSecretArn,
                proxyUserPasswords: secrets.proxyUserPasswords,
                // An adopted cluster holds the team's data and roles too: the bootstrap leaves what it did not declare.
                existingDatabase: fronted !== undefined || s.database.adopt !== undefined,
                // The stack's key encrypts a created cluster's master secret; a fronted or adopted cluster's is described at preview.
                masterSecretKmsKeyArn: fronted ? fronted.secretKmsKeyArn : database!.masterSecretKmsKeyArn,
                // Where the Data API cannot serve the cluster (database.bootstrapPath, components/bootstrap-path.ts), the
                // bootstrap connects to the writer from the private subnets, in its own group (and, in front of an existing
                // cluster, the group that cluster admits).
                vpcBootstrap:
                    s.database.bootstrapPath === "vpc"
                        ? {
                              host: cluster.endpoint,
                              port: cluster.port,
                              subnetIds: network.privateSubnetIds,
                              securityGroupIds: [
                                  network.bootstrapSecurityGroupId!,
                                  ...(fronted ? [network.clusterAccessSecurityGroupId!] : []),
                              ],
                          }
                        : undefined,
                existingCluster: fronted ? { clusterSecurityGroupIds: fronted.securityGroupIds } : undefined,
                bootstrapAfter: [...cluster.reachable, ...network.bootstrapPathRules, proxy.proxy],
                smokeAfter: [proxy.target],
                verifies: {
                    cluster: [cluster.arn, cluster.resourceId, cluster.endpoint, cluster.readerEndpoint],
                    proxy: [proxy.arn, proxy.endpoint, proxy.readerEndpoint, s.proxy, proxy.backendPolicy],
                    target: proxy.target.id,
                    dataPathRules: network.dataPathRules,
                },
            },
            part,
        );

        // Between deploys: the same smoke on a schedule, its metrics, alarms and a dashboard.
        const monitoring = new Monitoring(
            "monitoring",
            {
                namePrefix: prefix,
                stack: s.stack,
                region: s.region,
                accountId: identity.accountId,
                smoke: s.smoke,
                alarms: s.alarms,
                kmsKeyArn: secrets.kmsKeyArn,
                smokeFunctionArn: smoke.smokeFunctionArn,
                smokeFunctionName: smoke.smokeFunctionName,
                proxyName: proxy.proxyName,
                clusterIdentifier: cluster.identifier,
                instanceIdentifiers: cluster.instanceIdentifiers,
                instanceClass: database ? s.database.instanceClass : undefined,
                // The schedule and the smoke's alarms start once the first post-deploy smoke has passed.
                startAfter: smoke.smokeInvocation ? [smoke.smokeInvocation] : undefined,
            },
            part,
        );

        // A way in for people (npm run db:connect): a port forward through a relay, as the operator users only.
        const operator = s.operator.enabled
            ? new Operator(
                  "operator",
                  {
                      namePrefix: prefix,
                      applicationName: s.tags.Application,
                      privateSubnetId: network.privateSubnetIds.apply((ids) => ids[0]),
                      vpcId: network.vpcId,
                      proxySecurityGroupId: network.proxySecurityGroupId,
                      proxyEndpoints: [proxy.endpoint, ...(proxy.readerEndpoint ? [proxy.readerEndpoint] : [])],
                      followLatestAmi: s.operator.followLatestAmi,
                      kmsKeyArn: secrets.kmsKeyArn,
                      region: s.region,
                      accountId: identity.accountId,
                      partition,
                      principals: s.operator.principals,
                      connectArns: Object.fromEntries(s.operator.users.map((u) => [u, connectArns[u]])),
                  },
                  part,
              )
            : undefined;

        this.vpcId = network.vpcId;
        this.privateSubnetIds = network.privateSubnetIds;
        this.isolatedSubnetIds = network.isolatedSubnetIds;
        this.clientSecurityGroupId = network.appSecurityGroupId;
        this.proxySecurityGroupId = network.proxySecurityGroupId;
        this.databaseSecurityGroupId = network.dbSecurityGroupId;
        this.smokeSecurityGroupId = network.smokeSecurityGroupId;
        this.proxyEndpoint = proxy.endpoint;
        this.proxyReaderEndpoint = proxy.readerEndpoint ?? pulumi.output("");
        this.port = pulumi.output(DB_PORT);
        this.proxyArn = proxy.arn;
        this.proxyName = proxy.proxyName;
        this.proxyResourceId = proxy.resourceId;
        this.connectArns = pulumi.output(connectArns);
        this.connectPolicies = this.connectArns.apply((arns) =>
            Object.fromEntries(Object.entries(arns).map(([user, arn]) => [user, connectPolicy([arn])])),
        );
        this.databaseName = pulumi.output(s.database.name);
        this.masterUsername = cluster.masterUsername;
        this.clusterArn = cluster.arn;
        this.clusterIdentifier = cluster.identifier;
        this.clusterEndpoint = cluster.endpoint;
        this.clusterReaderEndpoint = cluster.readerEndpoint;
        this.engineVersion = cluster.engineVersion;
        this.kmsKeyArn = secrets.kmsKeyArn;
        this.bootstrapFunctionName = smoke.bootstrapFunctionName;
        this.smokeReport = smoke.report ?? pulumi.output("off (smoke.enabled is false)");
        this.smokeFunctionName = smoke.smokeFunctionName ?? pulumi.output("");
        this.alarmTopicArn = monitoring.topicArn;
        this.dashboardName = monitoring.dashboardName;
        this.relayInstanceId = operator?.relayInstanceId ?? pulumi.output("");
        this.operatorRoleArn = operator?.operatorRoleArn ?? pulumi.output("");
        this.operatorSessionDocument = operator?.sessionDocumentName ?? pulumi.output("");
        this.registerOutputs({
            vpcId: this.vpcId,
            clientSecurityGroupId: this.clientSecurityGroupId,
            proxyEndpoint: this.proxyEndpoint,
            proxyReaderEndpoint: this.proxyReaderEndpoint,
            port: this.port,
            connectArns: this.connectArns,
            connectPolicies: this.connectPolicies,
            smokeReport: this.smokeReport,
        });
    }
}
