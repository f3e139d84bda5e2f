import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AuthMode, DB_PORT } from "../access/grants";
import { bundle, HandlerName, LAMBDA_RUNTIME } from "../smoke/lambda/bundle";
import { connectPolicy, serviceTrustPolicy } from "./arns";
import { SmokeSettings } from "./config";

export interface SmokeArgs {
    namePrefix: string;
    region: string;
    settings: SmokeSettings;
    kmsKeyArn: pulumi.Input<string>;
    /** Changes on every `pulumi up`, so both invocations run after every update. */
    deploymentId: string;
    // Where and as whom the smoke connects: the application's own path.
    privateSubnetIds: pulumi.Input<string>[];
    appSecurityGroupId: pulumi.Input<string>;
    proxyEndpoint: pulumi.Input<string>;
    /** The same exact rds-db:connect resource as the task role (Proxy.connectArn). */
    connectArn: pulumi.Input<string>;
    dbName: string;
    dbUser: string;
    dbOwner: string;
    authMode: AuthMode;
    // What the bootstrap needs: the cluster and the master secret RDS manages, nothing else.
    clusterArn: pulumi.Input<string>;
    masterSecretArn: pulumi.Input<string>;
    /** Secrets mode only: the password of the proxy's secret, set on the role by the bootstrap. */
    proxyUserPassword?: pulumi.Input<string>;
    /** The bootstrap runs once these exist (the cluster's instances). */
    bootstrapAfter: pulumi.Resource[];
    /** The smoke runs once these exist too (the proxy's target, the ECS service). */
    smokeAfter: pulumi.Resource[];
}

/**
 * After every update: converge the application role to the grants spec (bootstrap, through the RDS Data
 * API), then prove the path from inside the VPC (smoke, a Lambda on the app's subnets and security group).
 * A failed check fails the update with the runner's one-line reason.
 */
export class Smoke extends pulumi.ComponentResource {
    readonly bootstrapFunctionName: pulumi.Output<string>;
    readonly smokeFunctionName?: pulumi.Output<string>;
    readonly smokeRoleArn?: pulumi.Output<string>;
    /** The smoke runner's verdicts and timings (JSON); no token or secret. Unset when the smoke is off. */
    readonly report?: pulumi.Output<string>;
    readonly bootstrapInvocation: aws.lambda.Invocation;
    readonly smokeInvocation?: aws.lambda.Invocation;

    constructor(name: string, args: SmokeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("aurora-iam-proxy:index:Smoke", name, {}, opts);
        const child = { parent: this };
        const timeout = args.settings.timeoutSeconds;

        const logGroup = (fn: string) => new aws.cloudwatch.LogGroup(`${name}-${fn}-logs`, {
            name: `/aws/lambda/${args.namePrefix}-${fn}`,
            retentionInDays: 30,
            kmsKeyId: args.kmsKeyArn,
        }, child);
        const writeLogs = (group: aws.cloudwatch.LogGroup) => ({
            Sid: "WriteOwnLogs",
            Effect: "Allow",
            Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
            Resource: group.arn.apply((arn) => `${arn}:*`),
        });
        const lambdaRole = (fn: string, description: string) => new aws.iam.Role(`${name}-${fn}`, {
            description,
            assumeRolePolicy: serviceTrustPolicy("lambda.amazonaws.com"),
        }, child);
        const fn = (id: HandlerName, role: aws.iam.Role, group: aws.cloudwatch.LogGroup, extra: Partial<aws.lambda.FunctionArgs>, dependsOn: pulumi.Resource[]) =>
            new aws.lambda.Function(`${name}-${id}`, {
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
            }, { parent: this, dependsOn });

        // Bootstrap: reads the RDS-managed master secret (decrypting it only through Secrets Manager) and runs
        // SQL through the Data API on this cluster. No network access at all: it is not attached to the VPC.
        const bootstrapLogs = logGroup("bootstrap");
        const bootstrapRole = lambdaRole("bootstrap", `${args.namePrefix}: converges the application role's grants via the RDS Data API`);
        const bootstrapPolicy = new aws.iam.RolePolicy(`${name}-bootstrap`, {
            role: bootstrapRole.id,
            policy: pulumi.output({
                Version: "2012-10-17",
                Statement: [
                    {
                        Sid: "RunSqlOnThisCluster",
                        Effect: "Allow",
                        Action: ["rds-data:BeginTransaction", "rds-data:ExecuteStatement", "rds-data:CommitTransaction", "rds-data:RollbackTransaction"],
                        Resource: args.clusterArn,
                    },
                    { Sid: "ReadMasterSecret", Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: args.masterSecretArn },
                    {
                        Sid: "DecryptThroughSecretsManagerOnly",
                        Effect: "Allow",
                        Action: "kms:Decrypt",
                        Resource: args.kmsKeyArn,
                        Condition: { StringEquals: { "kms:ViaService": `secretsmanager.${args.region}.amazonaws.com` } },
                    },
                    writeLogs(bootstrapLogs),
                ],
            }).apply((doc) => JSON.stringify(doc)),
        }, child);
        const bootstrapFunction = fn("bootstrap", bootstrapRole, bootstrapLogs, {
            description: "Converges the application database role to the declared grants",
            environment: {
                variables: {
                    DB_CLUSTER_ARN: args.clusterArn,
                    DB_SECRET_ARN: args.masterSecretArn,
                    DB_NAME: args.dbName,
                    DB_USER: args.dbUser,
                    DB_OWNER: args.dbOwner,
                    DB_AUTH_MODE: args.authMode,
                },
            },
        }, [bootstrapPolicy]);
        this.bootstrapInvocation = new aws.lambda.Invocation(`${name}-bootstrap`, {
            functionName: bootstrapFunction.name,
            // In secrets mode the password travels only in this (secret) input, never in the function's environment.
            input: args.proxyUserPassword
                ? pulumi.secret(pulumi.jsonStringify({ password: args.proxyUserPassword }))
                : JSON.stringify({}),
            triggers: { deployment: args.deploymentId },
        }, { parent: this, dependsOn: args.bootstrapAfter });
        this.bootstrapFunctionName = bootstrapFunction.name;

        if (args.settings.enabled) {
            // Smoke: in the tasks' private subnets with the tasks' security group, and the tasks' one database
            // permission. It needs only the proxy on 5432: signing a token is local, so it calls no AWS API.
            const smokeLogs = logGroup("smoke");
            const smokeRole = lambdaRole("smoke", `${args.namePrefix}: post-deploy smoke test, connects as ${args.dbUser} through the proxy`);
            // What Lambda needs to attach the function to the VPC, and its own log group: narrower than the
            // AWSLambdaVPCAccessExecutionRole managed policy, which also allows writing to every log group.
            const vpcAccess = new aws.iam.RolePolicy(`${name}-smoke-runtime`, {
                role: smokeRole.id,
                policy: pulumi.output({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Sid: "AttachToVpc",
                            Effect: "Allow",
                            Action: [
                                "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
                                "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
                            ],
                            // EC2 does not support resource-level permissions for these actions.
                            Resource: "*",
                        },
                        writeLogs(smokeLogs),
                    ],
                }).apply((doc) => JSON.stringify(doc)),
            }, child);
            const connect = new aws.iam.RolePolicy(`${name}-smoke-connect`, {
                role: smokeRole.id,
                policy: pulumi.output(args.connectArn).apply((arn) => connectPolicy([arn])),
            }, child);
            const smokeFunction = fn("smoke", smokeRole, smokeLogs, {
                description: "Proves IAM auth, TLS and grants through the RDS Proxy after every update",
                vpcConfig: { subnetIds: args.privateSubnetIds, securityGroupIds: [args.appSecurityGroupId] },
                environment: {
                    variables: {
                        DB_HOST: args.proxyEndpoint,
                        DB_PORT: String(DB_PORT),
                        DB_NAME: args.dbName,
                        DB_USER: args.dbUser,
                        DB_OWNER: args.dbOwner,
                        DB_AUTH_MODE: args.authMode,
                        // Leave the function a margin to report before Lambda's own timeout cuts it off.
                        SMOKE_TIMEOUT_MS: String(Math.max(5, timeout - 5) * 1000),
                    },
                },
            }, [vpcAccess, connect]);
            this.smokeInvocation = new aws.lambda.Invocation(`${name}-smoke`, {
                functionName: smokeFunction.name,
                input: JSON.stringify({}),
                triggers: { deployment: args.deploymentId },
            }, { parent: this, dependsOn: [this.bootstrapInvocation, ...args.smokeAfter] });
            this.smokeFunctionName = smokeFunction.name;
            this.smokeRoleArn = smokeRole.arn;
            this.report = this.smokeInvocation.result;
        } else {
            pulumi.log.warn(`${args.namePrefix}: the post-deploy smoke is off (smoke.enabled: false); nothing proves this update works`, this);
        }
        this.registerOutputs({ bootstrapFunctionName: this.bootstrapFunctionName, report: this.report });
    }
}
