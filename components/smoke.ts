import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { DbUser } from "../access/users";
import { AuthMode, DB_PORT } from "../access/spec";
import { bundle, HandlerName, LAMBDA_RUNTIME } from "../smoke/lambda/bundle";
import { smokeMetricsEnv } from "../smoke/metrics";
import { connectPolicy, serviceTrustPolicy } from "./arns";
import { SmokeSettings } from "./config";
import { TYPE } from "./tokens";
import { functionEnv } from "../client/env";

export interface SmokeArgs {
    namePrefix: string;
    /** The stack's name: the Stack dimension of the smoke's metrics. */
    stack: string;
    region: string;
    settings: SmokeSettings;
    kmsKeyArn: pulumi.Input<string>;
    // Where the smoke connects from: the tasks' private subnets, with a security group of its own.
    privateSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
    smokeSecurityGroupId: pulumi.Input<string>;
    proxyEndpoint: pulumi.Input<string>;
    /** The READ_ONLY proxy endpoint, where the stack has one. */
    proxyReaderEndpoint?: pulumi.Input<string>;
    /** For each declared user, the exact rds-db:connect resource through this proxy (Proxy.connectArn). */
    connectArns: Record<string, pulumi.Input<string>>;
    dbName: string;
    /** The user the application connects as by default. */
    appUser: string;
    users: DbUser[];
    /** The master user (an existing cluster's is read at preview time): owner of the app schema. */
    dbOwner: pulumi.Input<string>;
    authMode: AuthMode;
    // What the bootstrap needs: the cluster and the master secret RDS manages, nothing else.
    clusterArn: pulumi.Input<string>;
    masterSecretArn: pulumi.Input<string>;
    /** Secrets mode only: each user's password (the proxy's secrets), set on the roles by the bootstrap. */
    proxyUserPasswords?: pulumi.Input<Record<string, string>>;
    /**
     * The master secret's key when it is customer-managed: the bootstrap may decrypt with it, through Secrets Manager
     * only. Undefined for the AWS-managed aws/secretsmanager key, whose key policy needs no grant.
     */
    masterSecretKmsKeyArn: pulumi.Input<string | undefined>;
    /**
     * The database holds what others made (a fronted or an adopted cluster): the bootstrap runs its non-destructive
     * variant (DB_EXISTING_DATABASE): it never revokes from PUBLIC, changes an owner or touches an undeclared role.
     */
    existingDatabase?: boolean;
    /**
     * Where the RDS Data API cannot serve the cluster (a T-class writer, an older version) and in front of an existing
     * cluster: the bootstrap runs in the VPC and connects to the writer as the master user over verified TLS
     * (DB_BOOTSTRAP_PATH=vpc). Unset: it runs through the Data API, outside the VPC.
     */
    vpcBootstrap?: {
        /** The cluster's writer endpoint and port. */
        host: pulumi.Input<string>;
        port: pulumi.Input<number>;
        /** Where the bootstrap runs: the private subnets (a route to Secrets Manager), in these groups. */
        subnetIds: pulumi.Input<pulumi.Input<string>[]>;
        securityGroupIds: pulumi.Input<string>[];
    };
    /** Fronting a cluster that exists (database.existingCluster): the smoke runs its warning rows. */
    existingCluster?: {
        /** Every security group of the cluster: the smoke reads their ingress rules. */
        clusterSecurityGroupIds: pulumi.Input<string[]>;
    };
    /** The bootstrap runs once these exist or have changed (the cluster's instances, the proxy's auth settings). */
    bootstrapAfter: pulumi.Resource[];
    /** The smoke runs once the bootstrap has run and these exist (the proxy's target). */
    smokeAfter: pulumi.Resource[];
    /**
     * What the smoke's verdict depends on besides the access spec and its own code: cluster, proxy and target
     * identity and endpoints, the IAM grants and the security-group rules on the path.
     * Any change re-runs the smoke; an update that changes none of it runs nothing.
     */
    verifies: Record<string, pulumi.Input<unknown>>;
}

/** A stable digest of a JSON value: object keys are sorted, so equal content gives an equal digest. */
export function contentHash(value: unknown): string {
    const canonical = (v: unknown): unknown => {
        if (Array.isArray(v)) return v.map(canonical);
        if (v && typeof v === "object") {
            return Object.fromEntries(
                Object.keys(v as object)
                    .sort()
                    .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
            );
        }
        return v;
    };
    return createHash("sha256")
        .update(JSON.stringify(canonical(value) ?? null))
        .digest("hex");
}

/** The digest of a handler's bundle: new smoke or bootstrap code re-runs its invocation. */
export function codeHash(id: HandlerName): string {
    return contentHash(bundle(id));
}

/**
 * After each update that changes what they depend on: converge every declared database user to the access
 * spec (bootstrap, through the RDS Data API, or inside the VPC where the Data API cannot serve the cluster), then prove the path from inside the VPC (smoke, a Lambda on
 * the app's private subnets). A failed check fails the update with the runner's one-line reason.
 *
 * The invocations are triggered by content hashes, not by a new id per run, so an unchanged stack
 * previews with no changes (`pulumi preview --expect-no-changes` passes) and the prod bootstrap does not
 * re-run its REVOKE/GRANT sequence on every `pulumi up`. `smoke.rerun` re-runs both on demand.
 */
export class Smoke extends pulumi.ComponentResource {
    readonly bootstrapFunctionName: pulumi.Output<string>;
    readonly smokeFunctionName?: pulumi.Output<string>;
    readonly smokeFunctionArn?: pulumi.Output<string>;
    readonly smokeRoleArn?: pulumi.Output<string>;
    /** The smoke runner's verdicts and timings (JSON); no token or secret. Unset when the smoke is off. */
    readonly report?: pulumi.Output<string>;
    readonly bootstrapInvocation: aws.lambda.Invocation;
    readonly smokeInvocation?: aws.lambda.Invocation;
    /** The content hash that triggers the bootstrap: its code, the access spec, the cluster, `smoke.rerun`. */
    readonly bootstrapTrigger: pulumi.Output<string>;
    /** The content hash that triggers the smoke: the bootstrap's, its own code and grants, everything in `verifies`. */
    readonly smokeTrigger?: pulumi.Output<string>;

    constructor(name: string, args: SmokeArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE.Smoke, name, {}, opts);
        const child = { parent: this };
        const usersEnv = JSON.stringify(args.users);
        const timeout = args.settings.timeoutSeconds;

        const logGroup = (fn: string) =>
            new aws.cloudwatch.LogGroup(
                `${name}-${fn}-logs`,
                {
                    name: `/aws/lambda/${args.namePrefix}-${fn}`,
                    retentionInDays: 30,
                    kmsKeyId: args.kmsKeyArn,
                },
                { parent: this, deleteBeforeReplace: true },
            );
        const writeLogs = (group: aws.cloudwatch.LogGroup) => ({
            Sid: "WriteOwnLogs",
            Effect: "Allow",
            Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
            Resource: group.arn.apply((arn) => `${arn}:*`),
        });
        const lambdaRole = (fn: string, description: string) =>
            new aws.iam.Role(
                `${name}-${fn}`,
                {
                    description,
                    assumeRolePolicy: serviceTrustPolicy("lambda.amazonaws.com"),
                },
                child,
            );
        const fn = (
            id: HandlerName,
            role: aws.iam.Role,
            group: aws.cloudwatch.LogGroup,
            extra: Partial<aws.lambda.FunctionArgs>,
            dependsOn: pulumi.Resource[],
        ) =>
            new aws.lambda.Function(
                `${name}-${id}`,
                {
                    name: `${args.namePrefix}-${id}`,
                    runtime: LAMBDA_RUNTIME,
                    architectures: ["arm64"],
                    handler: "index.handler",
                    code: new pulumi.asset.AssetArchive({ "index.js": new pulumi.asset.StringAsset(bundle(id)) }),
                    role: role.arn,
                    timeout,
                    memorySize: 256,
                    loggingConfig: { logFormat: "JSON", logGroup: group.name },
                    ...extra,
                    // The fixed name would collide with a replacement's: delete the old function first.
                },
                { parent: this, dependsOn, deleteBeforeReplace: true },
            );

        const existing = args.existingCluster;
        const vpc = args.vpcBootstrap;
        const decryptThroughSecretsManager = (keyArn: pulumi.Input<string>) => ({
            Sid: "DecryptThroughSecretsManagerOnly",
            Effect: "Allow",
            Action: "kms:Decrypt",
            Resource: keyArn,
            Condition: { StringEquals: { "kms:ViaService": `secretsmanager.${args.region}.amazonaws.com` } },
        });
        // What Lambda needs to attach a function to the VPC: narrower than the AWSLambdaVPCAccessExecutionRole managed
        // policy, which also allows writing to every log group.
        const attachToVpc = {
            Sid: "AttachToVpc",
            Effect: "Allow",
            Action: [
                "ec2:CreateNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSubnets",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            // EC2 does not support resource-level permissions for these actions.
            Resource: "*",
        };

        // Bootstrap, through the Data API: reads the master secret (decrypting it only through Secrets Manager) and runs
        // SQL through the Data API on this cluster. No network access at all: it is not attached to the VPC.
        // In the VPC (the Data API cannot serve the cluster, or it is an existing one): connects to the writer as the
        // master user with TLS verified, reading the master secret (its key's kms:Decrypt only if that is a
        // customer-managed key, and only through Secrets Manager). No Data API permission: components/bootstrap-path.ts
        // and docs/existing-cluster.md say why this path.
        const bootstrapLogs = logGroup("bootstrap");
        const bootstrapRole = lambdaRole(
            "bootstrap",
            existing
                ? `${args.namePrefix}: converges the database users' grants on the existing cluster, from inside the VPC`
                : vpc
                  ? `${args.namePrefix}: converges the database users' grants on the cluster, from inside the VPC`
                  : `${args.namePrefix}: converges the database users' grants via the RDS Data API`,
        );
        const bootstrapPolicy = new aws.iam.RolePolicy(
            `${name}-bootstrap`,
            {
                role: bootstrapRole.id,
                policy: pulumi
                    .all([args.clusterArn, args.masterSecretArn, args.masterSecretKmsKeyArn, bootstrapLogs.arn])
                    .apply(([clusterArn, secretArn, keyArn, logsArn]) =>
                        JSON.stringify({
                            Version: "2012-10-17",
                            Statement: [
                                vpc
                                    ? attachToVpc
                                    : {
                                          Sid: "RunSqlOnThisCluster",
                                          Effect: "Allow",
                                          Action: [
                                              "rds-data:BeginTransaction",
                                              "rds-data:ExecuteStatement",
                                              "rds-data:CommitTransaction",
                                              "rds-data:RollbackTransaction",
                                          ],
                                          Resource: clusterArn,
                                      },
                                { Sid: "ReadMasterSecret", Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: secretArn },
                                ...(keyArn ? [decryptThroughSecretsManager(keyArn)] : []),
                                { ...writeLogs(bootstrapLogs), Resource: `${logsArn}:*` },
                            ],
                        }),
                    ),
            },
            child,
        );
        const bootstrapFunction = fn(
            "bootstrap",
            bootstrapRole,
            bootstrapLogs,
            {
                description: "Converges the stack's database users to the declared access profiles",
                ...(vpc ? { vpcConfig: { subnetIds: vpc.subnetIds, securityGroupIds: vpc.securityGroupIds } } : {}),
                environment: {
                    // The contract with the handler (client/env.ts): a name it does not read fails to compile here.
                    variables: functionEnv({
                        ...(vpc
                            ? { DB_BOOTSTRAP_PATH: "vpc", DB_HOST: vpc.host, DB_PORT: pulumi.output(vpc.port).apply(String) }
                            : { DB_CLUSTER_ARN: args.clusterArn }),
                        ...(args.existingDatabase ? { DB_EXISTING_DATABASE: "true" } : {}),
                        DB_SECRET_ARN: args.masterSecretArn,
                        DB_NAME: args.dbName,
                        DB_USER: args.appUser,
                        DB_USERS: usersEnv,
                        DB_OWNER: args.dbOwner,
                        DB_AUTH_MODE: args.authMode,
                    }),
                },
            },
            [bootstrapPolicy],
        );
        this.bootstrapTrigger = pulumi
            .output({
                code: codeHash("bootstrap"),
                access: { users: args.users, owner: args.dbOwner, database: args.dbName, authMode: args.authMode },
                cluster: args.clusterArn,
                masterSecret: args.masterSecretArn,
                rerun: args.settings.rerun,
                ...(vpc ? { path: { host: vpc.host, port: vpc.port } } : {}),
                // Only when set, so the trigger of a stack that never had it keeps its value (no re-run on upgrade).
                ...(args.existingDatabase ? { existingDatabase: true } : {}),
            })
            .apply(contentHash);
        this.bootstrapInvocation = new aws.lambda.Invocation(
            `${name}-bootstrap`,
            {
                functionName: bootstrapFunction.name,
                // In secrets mode the passwords travel only in this (secret) input, never in the function's environment;
                // a new password changes the input, which re-runs the bootstrap.
                input: args.proxyUserPasswords
                    ? pulumi.secret(pulumi.jsonStringify({ passwords: args.proxyUserPasswords }))
                    : JSON.stringify({}),
                triggers: { checks: this.bootstrapTrigger },
            },
            { parent: this, dependsOn: args.bootstrapAfter },
        );
        this.bootstrapFunctionName = bootstrapFunction.name;

        if (args.settings.enabled) {
            // Smoke: in the tasks' private subnets with a security group of its own (egress to the proxy only).
            // It may connect as every declared user, to prove each one's grants: that grant is on this function's
            // role alone; the task role holds only its own users. Signing a token is local: it calls no AWS API.
            const smokeLogs = logGroup("smoke");
            const smokeRole = lambdaRole(
                "smoke",
                `${args.namePrefix}: post-deploy smoke test, connects as each database user through the proxy`,
            );
            // Attaching to the VPC and its own log group. On an existing cluster, also reading its groups' rules for the
            // CIDR warning row: EC2's Describe actions take no resource-level permission, so "*" (read only).
            const vpcAccess = new aws.iam.RolePolicy(
                `${name}-smoke-runtime`,
                {
                    role: smokeRole.id,
                    policy: pulumi
                        .output({
                            Version: "2012-10-17",
                            Statement: [
                                attachToVpc,
                                ...(existing
                                    ? [
                                          {
                                              Sid: "ReadClusterGroupRules",
                                              Effect: "Allow",
                                              Action: "ec2:DescribeSecurityGroupRules",
                                              Resource: "*",
                                          },
                                      ]
                                    : []),
                                writeLogs(smokeLogs),
                            ],
                        })
                        .apply((doc) => JSON.stringify(doc)),
                },
                child,
            );
            const connect = new aws.iam.RolePolicy(
                `${name}-smoke-connect`,
                {
                    role: smokeRole.id,
                    policy: pulumi.all(args.users.map((u) => args.connectArns[u.name])).apply((arns) => connectPolicy(arns)),
                },
                child,
            );
            const smokeFunction = fn(
                "smoke",
                smokeRole,
                smokeLogs,
                {
                    description: "Proves IAM auth, TLS and every user's grants through the RDS Proxy after each update",
                    vpcConfig: { subnetIds: args.privateSubnetIds, securityGroupIds: [args.smokeSecurityGroupId] },
                    environment: {
                        variables: functionEnv({
                            DB_HOST: args.proxyEndpoint,
                            ...(args.proxyReaderEndpoint ? { DB_READER_HOST: args.proxyReaderEndpoint } : {}),
                            DB_PORT: String(DB_PORT),
                            DB_NAME: args.dbName,
                            DB_USER: args.appUser,
                            DB_USERS: usersEnv,
                            DB_OWNER: args.dbOwner,
                            DB_AUTH_MODE: args.authMode,
                            STACK_NAME: args.stack,
                            // The custom metrics it may publish: the cost tool prices each (CloudWatch custom metrics).
                            SMOKE_METRICS: smokeMetricsEnv(),
                            // Leave the function a margin to report before Lambda's own timeout cuts it off.
                            SMOKE_TIMEOUT_MS: String(Math.max(5, timeout - 5) * 1000),
                            // What PUBLIC holds there is the database's, which the bootstrap leaves (smoke/warnings.ts).
                            ...(existing || args.existingDatabase ? { DB_EXISTING_DATABASE: "true" } : {}),
                            ...(existing
                                ? {
                                      DB_CLUSTER_SECURITY_GROUP_IDS: pulumi
                                          .output(existing.clusterSecurityGroupIds)
                                          .apply((ids) => ids.join(",")),
                                  }
                                : {}),
                            // Warning rows exist only on an existing cluster; a stack that asks for them to fail says so anyway.
                            ...(existing || args.settings.warningsFail ? { SMOKE_WARNINGS_FAIL: String(args.settings.warningsFail) } : {}),
                        }),
                    },
                },
                [vpcAccess, connect],
            );
            const trigger = pulumi
                .output({
                    bootstrap: this.bootstrapTrigger,
                    code: codeHash("smoke"),
                    grants: [vpcAccess.policy, connect.policy],
                    verifies: args.verifies,
                })
                .apply(contentHash);
            this.smokeTrigger = trigger;
            this.smokeInvocation = new aws.lambda.Invocation(
                `${name}-smoke`,
                {
                    functionName: smokeFunction.name,
                    input: JSON.stringify({}),
                    triggers: { checks: trigger },
                },
                { parent: this, dependsOn: [this.bootstrapInvocation, ...args.smokeAfter] },
            );
            this.report = this.smokeInvocation.result;
            this.smokeFunctionName = smokeFunction.name;
            this.smokeFunctionArn = smokeFunction.arn;
            this.smokeRoleArn = smokeRole.arn;
        } else {
            pulumi.log.warn(
                `${args.namePrefix}: the post-deploy smoke is off (smoke.enabled: false); nothing proves this update works`,
                this,
            );
        }
        this.registerOutputs({ bootstrapFunctionName: this.bootstrapFunctionName });
    }
}
