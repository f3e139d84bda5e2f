import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DB_PORT } from "../access/grants";
import { serviceTrustPolicy } from "./arns";
import { assertDescription } from "./validation";

/**
 * The Session Manager document that forwards a local port to a host the relay can reach: AWS's own,
 * so its name is fixed ("Port forwarding to remote hosts", Session Manager User Guide, session-manager-working-with-sessions-start).
 */
export const PORT_FORWARD_DOCUMENT = "AWS-StartPortForwardingSessionToRemoteHost";

/** The tag that declares an EC2 instance the operator relay; the policy pack admits its group to the proxy. */
export const RELAY_TAG = { key: "Role", value: "operator-relay" } as const;
/** The tag on the operator role naming the database users it may connect as (space-separated), for the policy pack. */
export const OPERATOR_USERS_TAG = "OperatorUsers";

/** Amazon Linux 2023 for arm64 (t4g), latest, as AWS publishes it in its public SSM parameters. */
export const RELAY_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64";
export const RELAY_INSTANCE_TYPE = "t4g.nano";
/** AL2023's AMI has an 8 GiB root volume; gp3 because it is cheaper than gp2 at the same size. */
export const RELAY_ROOT_VOLUME_GB = 8;

export interface OperatorArgs {
    namePrefix: string;
    applicationName: string;
    /** Where the relay runs: a private subnet, out through NAT to the SSM endpoints, nothing inbound. */
    privateSubnetId: pulumi.Input<string>;
    vpcId: pulumi.Input<string>;
    proxySecurityGroupId: pulumi.Input<string>;
    /** The stack's CMK: the relay's root volume is encrypted with it. */
    kmsKeyArn: pulumi.Input<string>;
    region: string;
    accountId: pulumi.Input<string>;
    partition: pulumi.Input<string>;
    /** IAM role/user ARNs that may assume the operator role; empty: this account. */
    principals: string[];
    /** The database users operators may connect as, with each one's rds-db:connect ARN from proxy.connectArn(user). */
    connectArns: Record<string, pulumi.Input<string>>;
}

/**
 * The operator trust policy: the settings' principals, or (none given) the account root, which delegates the
 * choice to identity policies in this account (IAM User Guide, "AWS JSON policy elements: Principal": an account
 * principal in a role's trust policy lets that account's administrators decide who may assume it).
 * No aws:MultiFactorAuthPresent condition: MFA belongs at sign-in (IAM Identity Center enforces it there), and
 * federated or role-chained sessions are, to our knowledge, without that key, so the condition would lock out
 * exactly the principals the issue names (SSO roles). Not confirmed against the IAM condition-key reference here.
 */
export function operatorTrustPolicy(o: { partition: string; accountId: string; principals: string[] }): string {
    const principals = o.principals.length > 0 ? o.principals : [`arn:${o.partition}:iam::${o.accountId}:root`];
    return JSON.stringify({
        Version: "2012-10-17",
        // sts:SetSourceIdentity too: a session that carries a source identity (set by an IdP or Identity Center)
        // can only chain into a role whose trust allows it (IAM User Guide, "Permissions required to set source identity").
        Statement: [{ Effect: "Allow", Principal: { AWS: principals.length === 1 ? principals[0] : principals }, Action: ["sts:AssumeRole", "sts:SetSourceIdentity"] }],
    });
}

/**
 * What an operator may do, and nothing else:
 * - start a Session Manager session on the relay, and only with the remote-host port-forwarding document
 *   (StartSession is authorized on the target and on the document; without ssm:SessionDocumentAccessCheck a
 *   session without --document-name would start the default shell document SSM-SessionManagerRunShell even
 *   though no statement names it: Session Manager User Guide, "Enforce a session document permission check for
 *   the AWS CLI", "Start a session with a document by specifying the session documents in IAM policies");
 * - end only their own sessions: Session Manager tags each session with aws:ssmmessages:session-id = the caller's
 *   aws:userid, which for an assumed role is "role-id:session-name" (Session Manager User Guide, "Restrict access
 *   ... Example 3"); a session-id ARN pattern would not match role sessions. db:connect never resumes one;
 * - rds-db:connect through this stack's proxy as the operator users only (ARNs from proxy.connectArn).
 */
export function operatorPolicy(o: {
    partition: string; region: string; accountId: string; relayInstanceArn: string; connectArns: string[];
}): string {
    const statements: object[] = [
        {
            Sid: "PortForwardToTheProxyThroughTheRelayOnly",
            Effect: "Allow",
            Action: "ssm:StartSession",
            Resource: [o.relayInstanceArn, `arn:${o.partition}:ssm:${o.region}::document/${PORT_FORWARD_DOCUMENT}`],
            Condition: { BoolIfExists: { "ssm:SessionDocumentAccessCheck": "true" } },
        },
        {
            Sid: "EndOwnSessions",
            Effect: "Allow",
            Action: "ssm:TerminateSession",
            Resource: `arn:${o.partition}:ssm:${o.region}:${o.accountId}:session/*`,
            Condition: { StringLike: { "ssm:resourceTag/aws:ssmmessages:session-id": "${aws:userid}" } },
        },
    ];
    if (o.connectArns.length > 0) {
        statements.push({ Sid: "ConnectThroughTheProxyAsOperatorUsers", Effect: "Allow", Action: "rds-db:connect", Resource: o.connectArns });
    }
    return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}

/**
 * Operator access (issue 10): a Session Manager relay in a private subnet and an operator role that may
 * only forward a local port to the proxy through it and connect as the operator users.
 *
 * Why an EC2 instance and not a Fargate task with ECS Exec: ECS Exec gives a shell in a container
 * (ssm:StartSession on the task with the ECS document), not a port forward to another host, and a task
 * must be kept running with an image of its own; a t4g.nano with the SSM agent that AL2023 ships is the
 * smallest thing AWS's AWS-StartPortForwardingSessionToRemoteHost document works with, costs a few dollars
 * a month, and has no inbound rule at all (the agent dials out).
 *
 * Why no VPC endpoints for SSM: the private subnets already reach AWS APIs through NAT (the ECS tasks use it);
 * ssm, ssmmessages and ec2messages interface endpoints would cost 3 × (AZs) × ~$7.3 a month, several times the relay.
 */
export class Operator extends pulumi.ComponentResource {
    readonly relayInstanceId: pulumi.Output<string>;
    readonly relaySecurityGroupId: pulumi.Output<string>;
    readonly operatorRoleArn: pulumi.Output<string>;
    readonly operatorUsers: string[];

    constructor(name: string, args: OperatorArgs, opts?: pulumi.ComponentResourceOptions) {
        super("aurora-iam-proxy:index:Operator", name, {}, opts);
        const descriptions = {
            relay: assertDescription("relay security group", `${args.applicationName} operator relay - no inbound, egress to the proxy and SSM only`),
            relayToProxy: assertDescription("relay egress rule", "PostgreSQL to the RDS Proxy (Session Manager port forwarding)"),
            relayHttps: assertDescription("relay egress rule", "HTTPS to the SSM agent endpoints through NAT"),
            proxyFromRelay: assertDescription("proxy ingress rule", "PostgreSQL from the operator relay"),
        };
        const child = { parent: this };
        this.operatorUsers = Object.keys(args.connectArns);

        // The relay: nothing inbound at all; the SSM agent dials out to ssm/ssmmessages/ec2messages on 443.
        const relaySg = new aws.ec2.SecurityGroup(`${name}-relay`, {
            vpcId: args.vpcId,
            description: descriptions.relay,
            tags: { Name: `${args.namePrefix}-operator-relay` },
        }, child);
        const postgres = { ipProtocol: "tcp", fromPort: DB_PORT, toPort: DB_PORT };
        new aws.vpc.SecurityGroupEgressRule(`${name}-relay-to-proxy`, {
            ...postgres, securityGroupId: relaySg.id, referencedSecurityGroupId: args.proxySecurityGroupId, description: descriptions.relayToProxy,
        }, child);
        new aws.vpc.SecurityGroupEgressRule(`${name}-relay-https`, {
            ipProtocol: "tcp", fromPort: 443, toPort: 443, securityGroupId: relaySg.id, cidrIpv4: "0.0.0.0/0", description: descriptions.relayHttps,
        }, child);
        new aws.vpc.SecurityGroupIngressRule(`${name}-proxy-from-relay`, {
            ...postgres, securityGroupId: args.proxySecurityGroupId, referencedSecurityGroupId: relaySg.id, description: descriptions.proxyFromRelay,
        }, child);

        const relayRole = new aws.iam.Role(`${name}-relay`, {
            description: `${args.namePrefix} operator relay: registers with Systems Manager, nothing else`,
            assumeRolePolicy: serviceTrustPolicy("ec2.amazonaws.com"),
        }, child);
        new aws.iam.RolePolicyAttachment(`${name}-relay-ssm`, {
            role: relayRole.name,
            policyArn: pulumi.interpolate`arn:${args.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore`,
        }, child);
        const profile = new aws.iam.InstanceProfile(`${name}-relay`, { role: relayRole.name }, child);

        const ami = aws.ssm.getParameterOutput({ name: RELAY_AMI_PARAMETER }, child);
        const relay = new aws.ec2.Instance(`${name}-relay`, {
            // The public AMI id, not a secret: insecureValue keeps previews readable.
            ami: ami.insecureValue,
            instanceType: RELAY_INSTANCE_TYPE,
            subnetId: args.privateSubnetId,
            vpcSecurityGroupIds: [relaySg.id],
            associatePublicIpAddress: false,
            iamInstanceProfile: profile.name,
            // IMDSv2 only, one hop: a process on the relay can't be tricked into handing out the role's credentials.
            metadataOptions: { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 1 },
            rootBlockDevice: { volumeType: "gp3", volumeSize: RELAY_ROOT_VOLUME_GB, encrypted: true, kmsKeyId: args.kmsKeyArn, deleteOnTermination: true },
            monitoring: false,
            tags: { Name: `${args.namePrefix}-operator-relay`, [RELAY_TAG.key]: RELAY_TAG.value },
        }, {
            parent: this,
            // A new AMI is published every few weeks; the relay keeps its own until someone replaces it on purpose.
            ignoreChanges: ["ami"],
        });

        const role = new aws.iam.Role(`${name}-role`, {
            description: `${args.namePrefix} operators: port forwarding to the RDS Proxy through the relay, connect as ${this.operatorUsers.join(", ") || "nobody"}`,
            assumeRolePolicy: pulumi.all([args.partition, args.accountId]).apply(([partition, accountId]) =>
                operatorTrustPolicy({ partition, accountId, principals: args.principals })),
            maxSessionDuration: 3600,
            tags: { [OPERATOR_USERS_TAG]: this.operatorUsers.join(" ") },
        }, child);
        new aws.iam.RolePolicy(`${name}-role`, {
            role: role.id,
            policy: pulumi.all([args.partition, args.accountId, relay.arn, pulumi.all(Object.values(args.connectArns))])
                .apply(([partition, accountId, relayInstanceArn, connectArns]) =>
                    operatorPolicy({ partition, region: args.region, accountId, relayInstanceArn, connectArns })),
        }, child);

        this.relayInstanceId = relay.id;
        this.relaySecurityGroupId = relaySg.id;
        this.operatorRoleArn = role.arn;
        this.registerOutputs({ relayInstanceId: this.relayInstanceId, operatorRoleArn: this.operatorRoleArn });
    }
}
