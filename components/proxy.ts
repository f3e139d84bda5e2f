import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { dbUserArn, parseProxyArn, serviceTrustPolicy } from "./arns";
import { DbUser } from "../access/users";
import { ProxySettings } from "./config";
import { pgIdentifierProblem } from "./validation";
import { TYPE } from "./tokens";

export interface ProxyArgs {
    namePrefix: string;
    settings: ProxySettings;
    /** The stack's database users: the only users the proxy logs in as. */
    users: DbUser[];
    /** Days the proxy's log group keeps its events. */
    logRetentionDays: number;
    region: string;
    accountId: pulumi.Input<string>;
    partition: pulumi.Input<string>;
    clusterIdentifier: pulumi.Input<string>;
    clusterResourceId: pulumi.Input<string>;
    /** The proxy registers its target only once these exist: the instances, or an existing cluster's access rules. */
    clusterInstances: pulumi.Resource[];
    subnetIds: pulumi.Input<pulumi.Input<string>[]>;
    securityGroupId: pulumi.Input<string>;
    /** Existing cluster only: the group the cluster admits, which the proxy joins besides its own. */
    clusterAccessSecurityGroupId?: pulumi.Input<string>;
    kmsKeyArn: pulumi.Input<string>;
    /** Required in secrets mode: for each user, the secret holding its password. */
    userSecretArns?: Record<string, pulumi.Input<string>>;
    /** A READ_ONLY endpoint for the reader instances (only where the cluster has them). */
    readerEndpoint: boolean;
    /** Resources the proxy needs before it can log in (secrets mode: the Secrets Manager VPC endpoint). */
    dependsOn?: pulumi.Resource[];
}

/**
 * RDS Proxy in front of the cluster: TLS and an IAM token required from every client. Behind it, either
 * end-to-end IAM (the proxy's role may connect as each declared user; no password exists) or a per-user
 * secret the proxy reads. Where the cluster has readers, a READ_ONLY endpoint too.
 */
export class Proxy extends pulumi.ComponentResource {
    readonly proxyName: pulumi.Output<string>;
    readonly arn: pulumi.Output<string>;
    /** `prx-…`, the part of the ARN that IAM's rds-db:connect resources name. */
    readonly resourceId: pulumi.Output<string>;
    readonly endpoint: pulumi.Output<string>;
    /** The READ_ONLY endpoint's host, where the stack has one. */
    readonly readerEndpoint?: pulumi.Output<string>;
    /** The proxy role's policy: which users it may log in as (iam) or which secrets it reads (secrets). */
    readonly backendPolicy: pulumi.Output<string>;
    /** The proxy resource itself: the bootstrap waits for its auth settings to change first. */
    readonly proxy: aws.rds.Proxy;
    readonly roleArn: pulumi.Output<string>;
    readonly authMode: ProxySettings["authMode"];
    /** Resolves once the cluster is registered as the proxy's target: before that, connections fail. */
    readonly target: aws.rds.ProxyTarget;

    constructor(name: string, args: ProxyArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE.Proxy, name, {}, opts);
        const s = args.settings;
        const userNames = args.users.map((u) => u.name);
        const secretArns = args.userSecretArns ?? {};
        if (s.authMode === "secrets" && !userNames.every((u) => secretArns[u])) {
            throw new Error(
                `proxy: authMode secrets needs a secret for each user (${userNames.join(", ")}); got ${Object.keys(secretArns).join(", ") || "none"}`,
            );
        }
        const child = { parent: this };
        const proxyName = `${args.namePrefix}-proxy`;
        const securityGroupIds = [args.securityGroupId, ...(args.clusterAccessSecurityGroupId ? [args.clusterAccessSecurityGroupId] : [])];

        const role = new aws.iam.Role(
            `${name}-role`,
            {
                description: `RDS Proxy ${args.namePrefix}: logs in to the database as the stack's declared users only`,
                assumeRolePolicy: serviceTrustPolicy("rds.amazonaws.com"),
            },
            child,
        );

        const backendPolicy =
            s.authMode === "iam"
                ? // End-to-end IAM: the proxy itself authenticates to the cluster with IAM, as each declared user and no other.
                  pulumi.all([args.partition, args.accountId, args.clusterResourceId]).apply(([partition, accountId, resourceId]) =>
                      JSON.stringify({
                          Version: "2012-10-17",
                          Statement: [
                              {
                                  Sid: "ProxyConnectsAsDeclaredUsers",
                                  Effect: "Allow",
                                  Action: "rds-db:connect",
                                  Resource: userNames.map((user) =>
                                      dbUserArn({ partition, region: args.region, accountId, resourceId, user }),
                                  ),
                              },
                          ],
                      }),
                  )
                : pulumi.all([pulumi.all(userNames.map((u) => secretArns[u])), args.kmsKeyArn]).apply(([arns, keyArn]) =>
                      JSON.stringify({
                          Version: "2012-10-17",
                          Statement: [
                              { Sid: "ReadUserSecrets", Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: arns },
                              {
                                  Sid: "DecryptThroughSecretsManagerOnly",
                                  Effect: "Allow",
                                  Action: "kms:Decrypt",
                                  Resource: keyArn,
                                  Condition: { StringEquals: { "kms:ViaService": `secretsmanager.${args.region}.amazonaws.com` } },
                              },
                          ],
                      }),
                  );
        const rolePolicy = new aws.iam.RolePolicy(`${name}-role`, { role: role.id, policy: backendPolicy }, child);
        this.backendPolicy = rolePolicy.policy;

        // RDS Proxy logs to /aws/rds/proxy/<name>; declared first so it has our retention and key, not RDS's defaults.
        const logGroup = new aws.cloudwatch.LogGroup(
            `${name}-logs`,
            {
                name: `/aws/rds/proxy/${proxyName}`,
                retentionInDays: args.logRetentionDays,
                kmsKeyId: args.kmsKeyArn,
            },
            { parent: this, deleteBeforeReplace: true },
        );

        this.proxy = new aws.rds.Proxy(
            `${name}-proxy`,
            {
                name: proxyName,
                engineFamily: "POSTGRESQL",
                requireTls: true,
                roleArn: role.arn,
                vpcSubnetIds: args.subnetIds,
                vpcSecurityGroupIds: securityGroupIds,
                idleClientTimeout: s.idleClientTimeoutSeconds,
                debugLogging: s.debugLogging,
                // Set in both modes: the provider keeps default_auth_scheme (Optional+Computed) as it was when the
                // setting disappears, so leaving it out in secrets mode would keep IAM_AUTH after a switch.
                ...(s.authMode === "iam"
                    ? { defaultAuthScheme: "IAM_AUTH", auths: [] }
                    : {
                          defaultAuthScheme: "NONE",
                          auths: userNames.map((user) => ({
                              authScheme: "SECRETS",
                              iamAuth: "REQUIRED",
                              secretArn: secretArns[user],
                              clientPasswordAuthType: "POSTGRES_SCRAM_SHA_256",
                              description: `IAM-authenticated clients log in as ${user}`,
                          })),
                      }),
            },
            {
                parent: this,
                dependsOn: [rolePolicy, logGroup, ...(args.dependsOn ?? [])],
                // A replacement (new subnets) would collide with the old proxy's name: delete it first.
                deleteBeforeReplace: true,
            },
        );
        const proxy = this.proxy;

        const targetGroup = new aws.rds.ProxyDefaultTargetGroup(
            `${name}-targets`,
            {
                dbProxyName: proxy.name,
                connectionPoolConfig: {
                    maxConnectionsPercent: s.maxConnectionsPercent,
                    maxIdleConnectionsPercent: s.maxIdleConnectionsPercent,
                    connectionBorrowTimeout: s.connectionBorrowTimeoutSeconds,
                },
            },
            child,
        );

        this.target = new aws.rds.ProxyTarget(
            `${name}-cluster-target`,
            {
                dbProxyName: proxy.name,
                targetGroupName: targetGroup.name,
                dbClusterIdentifier: args.clusterIdentifier,
            },
            { parent: this, dependsOn: args.clusterInstances },
        );

        if (args.readerEndpoint) {
            // Routes to the reader instances only. Tokens for it are signed for its host name and authorized
            // against the proxy's own prx- resource id ("a proxy endpoint uses the same authentication mechanism
            // as its associated proxy", RDS User Guide, rds-proxy-endpoints), so connectArn(user) covers it.
            const reader = new aws.rds.ProxyEndpoint(
                `${name}-reader`,
                {
                    dbProxyName: proxy.name,
                    dbProxyEndpointName: `${proxyName}-ro`,
                    targetRole: "READ_ONLY",
                    vpcSubnetIds: args.subnetIds,
                    vpcSecurityGroupIds: securityGroupIds,
                },
                { parent: this, dependsOn: [this.target], deleteBeforeReplace: true },
            );
            this.readerEndpoint = reader.endpoint;
        }

        this.proxyName = proxy.name;
        this.arn = proxy.arn;
        this.resourceId = proxy.arn.apply((arn) => parseProxyArn(arn).resourceId);
        this.endpoint = proxy.endpoint;
        this.roleArn = role.arn;
        this.authMode = s.authMode;
        this.registerOutputs({ arn: this.arn, endpoint: this.endpoint, readerEndpoint: this.readerEndpoint, resourceId: this.resourceId });
    }

    /**
     * The exact `rds-db:connect` resource for connecting as `user` through this proxy:
     * `arn:aws:rds-db:<region>:<account>:dbuser:<proxy resource id>/<user>`, built from the proxy's own ARN.
     */
    connectArn(user: string): pulumi.Output<string> {
        const problem = pgIdentifierProblem(user);
        if (problem) throw new Error(`proxy.connectArn: database user ${JSON.stringify(user)} ${problem}`);
        return this.arn.apply((arn) => dbUserArn({ ...parseProxyArn(arn), user }));
    }
}
