import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { TYPE } from "./tokens";

export interface SecretsArgs {
    namePrefix: string;
    region: string;
    accountId: pulumi.Input<string>;
    partition: pulumi.Input<string>;
    /** In the proxy's secrets mode, the users whose passwords the proxy keeps (one secret each); otherwise unset. */
    proxyUsers?: string[];
    /** The component fronts an existing cluster: the key encrypts only the component's own logs and alarm topic. */
    frontsExistingCluster?: boolean;
}

/** Every alarm of the stack: the Monitoring component names each `<namePrefix>-…`. */
export function alarmArnPattern(partition: string, region: string, account: string, namePrefix: string): string {
    return `arn:${partition}:cloudwatch:${region}:${account}:alarm:${namePrefix}-*`;
}

/**
 * The stack's customer-managed KMS key (cluster storage, the RDS-managed master secret, log groups and any
 * proxy secret) and, in the proxy's secrets mode, the application user's secret.
 */
export class Secrets extends pulumi.ComponentResource {
    readonly kmsKeyArn: pulumi.Output<string>;
    readonly kmsKeyId: pulumi.Output<string>;
    /** Only in secrets mode: for each user, the secret the proxy reads to log in to the database as that user. */
    readonly proxyUserSecretArns?: Record<string, pulumi.Output<string>>;
    /** Only in secrets mode: each user's password, which the bootstrap sets on the role. A Pulumi secret; never exported. */
    readonly proxyUserPasswords?: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: SecretsArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE.Secrets, name, {}, opts);
        const child = { parent: this };

        const key = new aws.kms.Key(
            `${name}-cmk`,
            {
                // An existing cluster keeps its own keys: this one is never the database's.
                description: args.frontsExistingCluster
                    ? `${args.namePrefix}: log groups and the alarm topic of the proxy in front of an existing cluster`
                    : `${args.namePrefix}: Aurora storage, RDS master secret, proxy secret and log groups`,
                enableKeyRotation: true,
                rotationPeriodInDays: 365,
                deletionWindowInDays: 30,
                policy: pulumi.all([args.accountId, args.partition]).apply(([account, partition]) =>
                    JSON.stringify({
                        Version: "2012-10-17",
                        Statement: [
                            {
                                // Key administration stays with the account's IAM policies, as AWS's default key policy does.
                                Sid: "AccountAdministers",
                                Effect: "Allow",
                                Principal: { AWS: `arn:${partition}:iam::${account}:root` },
                                Action: "kms:*",
                                Resource: "*",
                            },
                            {
                                // CloudWatch Logs encrypts with a CMK only when the key policy names it; scoped to this account's log groups.
                                Sid: "CloudWatchLogsEncrypt",
                                Effect: "Allow",
                                Principal: { Service: `logs.${args.region}.amazonaws.com` },
                                Action: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                                Resource: "*",
                                Condition: {
                                    ArnLike: {
                                        "kms:EncryptionContext:aws:logs:arn": `arn:${partition}:logs:${args.region}:${account}:log-group:*`,
                                    },
                                },
                            },
                            {
                                // CloudWatch alarms publish to the stack's encrypted SNS topic only if the key lets them
                                // (SNS Developer Guide, "compatibility between event sources from AWS services and encrypted topics",
                                // which shows the statement without conditions). Only for this account's alarms of this stack (confused
                                // deputy), as AWS's MDAA (grantCloudWatchAlarmsTopicAccess) conditions the same grant. No AWS page we
                                // read says CloudWatch sends aws:SourceArn/aws:SourceAccount on these KMS calls: docs/alarms.md has the
                                // one-command check to run after the first deploy, and what to remove if notifications fail.
                                Sid: "CloudWatchAlarmsPublishToEncryptedTopic",
                                Effect: "Allow",
                                Principal: { Service: "cloudwatch.amazonaws.com" },
                                Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
                                Resource: "*",
                                Condition: {
                                    StringEquals: { "aws:SourceAccount": account },
                                    ArnLike: { "aws:SourceArn": alarmArnPattern(partition, args.region, account, args.namePrefix) },
                                },
                            },
                        ],
                    }),
                ),
            },
            child,
        );
        new aws.kms.Alias(`${name}-cmk`, { name: `alias/${args.namePrefix}`, targetKeyId: key.keyId }, child);

        if (args.proxyUsers && args.proxyUsers.length > 0) {
            // RDS Proxy in secrets mode logs in to the database with these passwords; clients still need IAM tokens.
            const arns: Record<string, pulumi.Output<string>> = {};
            const passwords: Record<string, pulumi.Output<string>> = {};
            for (const user of args.proxyUsers) {
                const password = new random.RandomPassword(`${name}-proxy-user-${user}`, { length: 40, special: false }, child);
                const secret = new aws.secretsmanager.Secret(
                    `${name}-proxy-user-${user}`,
                    {
                        namePrefix: `${args.namePrefix}/proxy/${user}-`,
                        description: `RDS Proxy login for database user ${user}`,
                        kmsKeyId: key.arn,
                        recoveryWindowInDays: 7,
                    },
                    child,
                );
                new aws.secretsmanager.SecretVersion(
                    `${name}-proxy-user-${user}`,
                    {
                        secretId: secret.id,
                        secretString: pulumi.secret(pulumi.jsonStringify({ username: user, password: password.result })),
                    },
                    child,
                );
                arns[user] = secret.arn;
                passwords[user] = password.result;
            }
            this.proxyUserSecretArns = arns;
            this.proxyUserPasswords = pulumi.secret(pulumi.all(passwords));
        }

        this.kmsKeyArn = key.arn;
        this.kmsKeyId = key.keyId;
        this.registerOutputs({ kmsKeyArn: this.kmsKeyArn, proxyUserSecretArns: this.proxyUserSecretArns });
    }
}
