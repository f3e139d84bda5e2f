import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

export interface SecretsArgs {
    namePrefix: string;
    region: string;
    accountId: pulumi.Input<string>;
    partition: pulumi.Input<string>;
    /** In the proxy's secrets mode, the application user whose password the proxy keeps; otherwise unset. */
    proxyUser?: string;
}

/**
 * The stack's customer-managed KMS key (cluster storage, the RDS-managed master secret, log groups and any
 * proxy secret) and, in the proxy's secrets mode, the application user's secret.
 */
export class Secrets extends pulumi.ComponentResource {
    readonly kmsKeyArn: pulumi.Output<string>;
    readonly kmsKeyId: pulumi.Output<string>;
    /** Only in secrets mode: the secret the proxy reads to log in to the database as the application user. */
    readonly proxyUserSecretArn?: pulumi.Output<string>;
    /** Only in secrets mode: the password the bootstrap sets on the role. A Pulumi secret; never exported. */
    readonly proxyUserPassword?: pulumi.Output<string>;

    constructor(name: string, args: SecretsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("aurora-iam-proxy:index:Secrets", name, {}, opts);
        const child = { parent: this };

        const key = new aws.kms.Key(`${name}-cmk`, {
            description: `${args.namePrefix}: Aurora storage, RDS master secret, proxy secret and log groups`,
            enableKeyRotation: true,
            rotationPeriodInDays: 365,
            deletionWindowInDays: 30,
            policy: pulumi.all([args.accountId, args.partition]).apply(([account, partition]) => JSON.stringify({
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
                        Condition: { ArnLike: { "kms:EncryptionContext:aws:logs:arn": `arn:${partition}:logs:${args.region}:${account}:log-group:*` } },
                    },
                ],
            })),
        }, child);
        new aws.kms.Alias(`${name}-cmk`, { name: `alias/${args.namePrefix}`, targetKeyId: key.keyId }, child);

        if (args.proxyUser) {
            // RDS Proxy in secrets mode logs in to the database with this password; clients still need IAM tokens.
            const password = new random.RandomPassword(`${name}-proxy-user`, { length: 40, special: false }, child);
            const secret = new aws.secretsmanager.Secret(`${name}-proxy-user`, {
                namePrefix: `${args.namePrefix}/proxy/${args.proxyUser}-`,
                description: `RDS Proxy login for database user ${args.proxyUser}`,
                kmsKeyId: key.arn,
                recoveryWindowInDays: 7,
            }, child);
            new aws.secretsmanager.SecretVersion(`${name}-proxy-user`, {
                secretId: secret.id,
                secretString: pulumi.secret(pulumi.jsonStringify({ username: args.proxyUser, password: password.result })),
            }, child);
            this.proxyUserSecretArn = secret.arn;
            this.proxyUserPassword = pulumi.secret(password.result);
        }

        this.kmsKeyArn = key.arn;
        this.kmsKeyId = key.keyId;
        this.registerOutputs({ kmsKeyArn: this.kmsKeyArn, proxyUserSecretArn: this.proxyUserSecretArn });
    }
}
