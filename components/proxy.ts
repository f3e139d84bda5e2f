import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { dbUserArn, parseProxyArn, serviceTrustPolicy } from "./arns";
import { ProxySettings } from "./config";
import { pgIdentifierProblem } from "./validation";

export interface ProxyArgs {
    namePrefix: string;
    settings: ProxySettings;
    /** The application's database user: the only user the proxy logs in as. */
    dbUser: string;
    region: string;
    accountId: pulumi.Input<string>;
    partition: pulumi.Input<string>;
    clusterIdentifier: pulumi.Input<string>;
    clusterResourceId: pulumi.Input<string>;
    /** The proxy registers its target only once the instances exist. */
    clusterInstances: pulumi.Resource[];
    subnetIds: pulumi.Input<string>[];
    securityGroupId: pulumi.Input<string>;
    kmsKeyArn: pulumi.Input<string>;
    /** Required in secrets mode: the secret holding the application user's password. */
    userSecretArn?: pulumi.Input<string>;
}

/**
 * RDS Proxy in front of the cluster: TLS and an IAM token required from every client. Behind it, either
 * end-to-end IAM (the proxy's role may connect as the application user; no password exists) or a per-user
 * secret the proxy reads.
 */
export class Proxy extends pulumi.ComponentResource {
    readonly proxyName: pulumi.Output<string>;
    readonly arn: pulumi.Output<string>;
    /** `prx-…`, the part of the ARN that IAM's rds-db:connect resources name. */
    readonly resourceId: pulumi.Output<string>;
    readonly endpoint: pulumi.Output<string>;
    readonly roleArn: pulumi.Output<string>;
    readonly authMode: ProxySettings["authMode"];
    /** Resolves once the cluster is registered as the proxy's target: before that, connections fail. */
    readonly target: aws.rds.ProxyTarget;

    constructor(name: string, args: ProxyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("aurora-iam-proxy:index:Proxy", name, {}, opts);
        const s = args.settings;
        if (s.authMode === "secrets" && !args.userSecretArn) {
            throw new Error(`proxy: authMode secrets needs the application user's secret; none was passed`);
        }
        const child = { parent: this };

        const role = new aws.iam.Role(`${name}-role`, {
            description: `RDS Proxy ${args.namePrefix}: logs in to the database as ${args.dbUser} only`,
            assumeRolePolicy: serviceTrustPolicy("rds.amazonaws.com"),
        }, child);

        const backendPolicy = s.authMode === "iam"
            // End-to-end IAM: the proxy itself authenticates to the cluster with IAM, as the application user only.
            ? pulumi.all([args.partition, args.accountId, args.clusterResourceId]).apply(([partition, accountId, resourceId]) => JSON.stringify({
                Version: "2012-10-17",
                Statement: [{
                    Sid: "ProxyConnectsAsApplicationUser",
                    Effect: "Allow",
                    Action: "rds-db:connect",
                    Resource: dbUserArn({ partition, region: args.region, accountId, resourceId, user: args.dbUser }),
                }],
            }))
            : pulumi.all([args.userSecretArn!, args.kmsKeyArn]).apply(([secretArn, keyArn]) => JSON.stringify({
                Version: "2012-10-17",
                Statement: [
                    { Sid: "ReadApplicationUserSecret", Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: secretArn },
                    {
                        Sid: "DecryptThroughSecretsManagerOnly",
                        Effect: "Allow",
                        Action: "kms:Decrypt",
                        Resource: keyArn,
                        Condition: { StringEquals: { "kms:ViaService": `secretsmanager.${args.region}.amazonaws.com` } },
                    },
                ],
            }));
        const rolePolicy = new aws.iam.RolePolicy(`${name}-role`, { role: role.id, policy: backendPolicy }, child);

        const proxy = new aws.rds.Proxy(`${name}-proxy`, {
            name: `${args.namePrefix}-proxy`,
            engineFamily: "POSTGRESQL",
            requireTls: true,
            roleArn: role.arn,
            vpcSubnetIds: args.subnetIds,
            vpcSecurityGroupIds: [args.securityGroupId],
            idleClientTimeout: s.idleClientTimeoutSeconds,
            debugLogging: s.debugLogging,
            ...(s.authMode === "iam"
                ? { defaultAuthScheme: "IAM_AUTH" }
                : {
                    auths: [{
                        authScheme: "SECRETS",
                        iamAuth: "REQUIRED",
                        secretArn: args.userSecretArn!,
                        clientPasswordAuthType: "POSTGRES_SCRAM_SHA_256",
                        description: `IAM-authenticated clients log in as ${args.dbUser}`,
                    }],
                }),
        }, { parent: this, dependsOn: [rolePolicy] });

        const targetGroup = new aws.rds.ProxyDefaultTargetGroup(`${name}-targets`, {
            dbProxyName: proxy.name,
            connectionPoolConfig: {
                maxConnectionsPercent: s.maxConnectionsPercent,
                maxIdleConnectionsPercent: s.maxIdleConnectionsPercent,
                connectionBorrowTimeout: s.connectionBorrowTimeoutSeconds,
            },
        }, child);

        this.target = new aws.rds.ProxyTarget(`${name}-cluster-target`, {
            dbProxyName: proxy.name,
            targetGroupName: targetGroup.name,
            dbClusterIdentifier: args.clusterIdentifier,
        }, { parent: this, dependsOn: args.clusterInstances });

        this.proxyName = proxy.name;
        this.arn = proxy.arn;
        this.resourceId = proxy.arn.apply((arn) => parseProxyArn(arn).resourceId);
        this.endpoint = proxy.endpoint;
        this.roleArn = role.arn;
        this.authMode = s.authMode;
        this.registerOutputs({ arn: this.arn, endpoint: this.endpoint, resourceId: this.resourceId });
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
