import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DB_PORT } from "../access/spec";
import { serviceTrustPolicy } from "./arns";
import { sessionDocumentContent, sessionDocumentName } from "./operator-session";
import { assertDescription } from "./validation";
import { TYPE } from "./tokens";

/**
 * What the relay's SSM agent needs for Session Manager sessions and nothing else: AWS's "minimal Session
 * Manager permissions" policy (Session Manager User Guide, "Create a custom IAM role for Session Manager";
 * also "Step 2: Verify or add instance permissions for Session Manager"): ssm:UpdateInstanceInformation to
 * register, the four ssmmessages channel actions for the session, on `*` as AWS writes it.
 *
 * Left out on purpose:
 * - AmazonSSMManagedInstanceCore, which also grants ssm:GetParameter and ssm:GetParameters on `*` (every
 *   parameter in the region, SecureStrings included), ec2messages:* and the association/inventory actions
 *   of Run Command and State Manager that sessions do not use. A role anyone with a tunnel could once reach
 *   through IMDS must not read the region's parameters.
 * - s3:GetEncryptionConfiguration: only for session logs to S3 (we send none).
 * - kms:Decrypt: only for KMS encryption of session data. We don't use it: the forwarded bytes are already
 *   TLS (verify-full) end to end between the operator's client and the proxy, inside Session Manager's own
 *   TLS channel, and Decrypt on the stack's CMK would let the relay decrypt what that key protects.
 */
export const RELAY_AGENT_ACTIONS = [
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
] as const;

/** The relay role's only policy (see RELAY_AGENT_ACTIONS). */
export function relayPolicy(): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Sid: "SessionManagerAgentOnly", Effect: "Allow", Action: [...RELAY_AGENT_ACTIONS], Resource: "*" }],
    });
}

/**
 * The relay's first-boot script: unattended security updates on Amazon Linux 2023.
 *
 * Why dnf-automatic and not a patch association (AWS-RunPatchBaseline through aws.ssm.Association): Patch
 * Manager runs through State Manager and Run Command, so the relay's agent would need the association and
 * command channel actions (ec2messages:*, ssm:ListInstanceAssociations, ssm:UpdateInstanceAssociationStatus,
 * ssm:GetDocument, ssm:PutInventory, ssm:PutComplianceItems, ...) that AmazonSSMManagedInstanceCore carries
 * and this issue removes; and a role that may run documents is a role that can be made to run commands.
 * dnf-automatic needs no AWS permission at all: the AL2023 repositories are served over HTTPS (the relay's
 * 443 egress through NAT).
 *
 * AL2023 locks each AMI to its release's repository version, so `dnf upgrade` alone finds nothing new;
 * /etc/dnf/vars/releasever = latest is AWS's persistent override (Amazon Linux 2023 User Guide,
 * "Deterministic upgrades through versioned repositories", "Using persistent override"). The
 * dnf-automatic-install.timer downloads and installs updates daily (dnf-automatic(8); Red Hat, "Automating
 * software updates", timer units). A kernel or glibc update needs a reboot: a weekly timer reboots at a
 * quiet hour only when `dnf needs-restarting -r` says so, i.e. exits 1 (0: not needed; other codes are errors,
 * which must not reboot: dnf-plugins-core, needs_restarting). A reboot ends open sessions; db:connect then says
 * "the tunnel dropped".
 *
 * A t4g.nano has 512 MiB: dnf beside the SSM agent can meet the OOM killer there (an AL2023 maintainer on
 * amazonlinux/amazon-linux-2023#404 suggests swap), so the script first adds a 1 GiB swap file.
 */
export const RELAY_USER_DATA = `#!/bin/bash
# Operator relay: unattended updates (components/operator.ts, docs/operator-access.md).
set -uo pipefail
if [ ! -f /swapfile ]; then
  dd if=/dev/zero of=/swapfile bs=1M count=1024 && chmod 600 /swapfile && mkswap /swapfile && swapon /swapfile &&
    echo '/swapfile none swap defaults 0 0' >> /etc/fstab
fi
echo latest > /etc/dnf/vars/releasever
for attempt in 1 2 3 4 5; do
  dnf -y install dnf-automatic dnf-plugins-core && break
  sleep 30
done
dnf -y upgrade || true
systemctl enable --now dnf-automatic-install.timer
cat > /etc/systemd/system/relay-reboot-if-needed.service <<'UNIT'
[Unit]
Description=Reboot the operator relay when installed updates need it
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'dnf needs-restarting -r >/dev/null; [ $? -eq 1 ] && systemctl reboot || true'
UNIT
cat > /etc/systemd/system/relay-reboot-if-needed.timer <<'UNIT'
[Unit]
Description=Weekly: reboot the operator relay if updates need it
[Timer]
OnCalendar=Sun *-*-* 04:00:00
RandomizedDelaySec=30m
[Install]
WantedBy=timers.target
UNIT
systemctl daemon-reload
systemctl enable --now relay-reboot-if-needed.timer
`;

/** The tag that declares an EC2 instance the operator relay; the policy pack admits its group to the proxy. */
export const RELAY_TAG = { key: "Role", value: "operator-relay" } as const;
/** The tag on the operator role naming the database users it may connect as (space-separated), for the policy pack. */
export const OPERATOR_USERS_TAG = "OperatorUsers";

/** Amazon Linux 2023 for arm64 (t4g), latest, as AWS publishes it in its public SSM parameters. */
export const RELAY_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64";
export const RELAY_INSTANCE_TYPE = "t4g.nano";
/** AL2023's AMI has an 8 GiB root volume; gp3 because it is cheaper than gp2 at the same size. */
export const RELAY_ROOT_VOLUME_GB = 8;

/**
 * What the relay ignores: its AMI, unless operator.followLatestAmi. Not `pulumi up --replace` for a new AMI:
 * the engine substitutes the old value of an ignored property into the new inputs, so a replacement would
 * come back on the old AMI (Pulumi docs, "Resource option: ignoreChanges"; pulumi/pulumi#2657).
 */
export function relayIgnoreChanges(followLatestAmi: boolean): string[] {
    return followLatestAmi ? [] : ["ami"];
}

export interface OperatorArgs {
    namePrefix: string;
    applicationName: string;
    /** Where the relay runs: a private subnet, out through NAT to the SSM endpoints, nothing inbound. */
    privateSubnetId: pulumi.Input<string>;
    vpcId: pulumi.Input<string>;
    proxySecurityGroupId: pulumi.Input<string>;
    /** The proxy's endpoint names the tunnel may reach: the writer first, then the READ_ONLY endpoint where there is one. */
    proxyEndpoints: pulumi.Input<string>[];
    /**
     * false (default): the relay keeps the AMI it was created with (dnf-automatic keeps its packages current).
     * true: the relay follows AWS's latest AL2023 AMI, so a `pulumi up` replaces it whenever a newer one is
     * published. Set it for one `pulumi up` to roll a new AMI on purpose (`pulumi up --replace` alone would
     * not: ignoreChanges makes the engine reuse the old AMI id for the replacement).
     */
    followLatestAmi: boolean;
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
        Statement: [
            {
                Effect: "Allow",
                Principal: { AWS: principals.length === 1 ? principals[0] : principals },
                Action: ["sts:AssumeRole", "sts:SetSourceIdentity"],
            },
        ],
    });
}

/**
 * What an operator may do, and nothing else:
 * - start a Session Manager session on the relay, and only with the stack's own Session document, whose host
 *   must be one of the proxy's endpoints and whose port is 5432 (never AWS-StartPortForwardingSessionToRemoteHost,
 *   which forwards to any host and port the relay can reach: the Aurora cluster's endpoint directly, other hosts
 *   of the VPC, any HTTPS host through NAT. The agent itself refuses the instance metadata addresses:
 *   amazon-ssm-agent, agent/appconfig/constants.go DefaultDeniedPortForwardingRemoteIPs, port.go validateParameters).
 *   StartSession is authorized on the target and on the document; without ssm:SessionDocumentAccessCheck a
 *   session without --document-name would start the default shell document SSM-SessionManagerRunShell even
 *   though no statement names it: Session Manager User Guide, "Enforce a session document permission check for
 *   the AWS CLI", "Start a session with a document by specifying the session documents in IAM policies");
 * - end and resume only their own sessions: Session Manager tags each session with aws:ssmmessages:session-id =
 *   the caller's aws:userid, which for an assumed role is "role-id:session-name" (Session Manager User Guide,
 *   "Restrict access ... Example 4: Allow a user to end only sessions they started"); a session-id ARN pattern would not match role sessions. ResumeSession
 *   because the Session Manager plugin resumes a session by itself after a network drop;
 * - rds-db:connect through this stack's proxy as the operator users only (ARNs from proxy.connectArn).
 */
export function operatorPolicy(o: {
    partition: string;
    region: string;
    accountId: string;
    relayInstanceArn: string;
    sessionDocumentArn: string;
    connectArns: string[];
}): string {
    const statements: object[] = [
        {
            Sid: "PortForwardToTheProxyThroughTheRelayOnly",
            Effect: "Allow",
            Action: "ssm:StartSession",
            Resource: [o.relayInstanceArn, o.sessionDocumentArn],
            Condition: { BoolIfExists: { "ssm:SessionDocumentAccessCheck": "true" } },
        },
        {
            Sid: "EndOrResumeOwnSessions",
            Effect: "Allow",
            Action: ["ssm:TerminateSession", "ssm:ResumeSession"],
            Resource: `arn:${o.partition}:ssm:${o.region}:${o.accountId}:session/*`,
            Condition: { StringLike: { "ssm:resourceTag/aws:ssmmessages:session-id": "${aws:userid}" } },
        },
        {
            // Session Manager plugin 1.2.764.0 and later (AWS's minimum supported version) sign the data channel's
            // OpenDataChannel request, so the caller needs it on its sessions (Session Manager User Guide,
            // "Quickstart end user policies"; plugin version history). session/* rather than the guide's
            // ${aws:userid}-*: a role session's id starts with the session name, not with the role id.
            Sid: "OpenOwnSessionDataChannel",
            Effect: "Allow",
            Action: "ssmmessages:OpenDataChannel",
            Resource: `arn:${o.partition}:ssm:${o.region}:${o.accountId}:session/*`,
        },
    ];
    if (o.connectArns.length > 0) {
        statements.push({
            Sid: "ConnectThroughTheProxyAsOperatorUsers",
            Effect: "Allow",
            Action: "rds-db:connect",
            Resource: o.connectArns,
        });
    }
    return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}

/**
 * Operator access (issues 10 and 15): a Session Manager relay in a private subnet, a Session document of the
 * stack's own that forwards only to the proxy's endpoints on 5432, and an operator role that may only start
 * that document on the relay and connect as the operator users.
 *
 * Why an EC2 instance and not a Fargate task with ECS Exec: ECS Exec gives a shell in a container
 * (ssm:StartSession on the task with the ECS document), not a port forward to another host, and a task
 * must be kept running with an image of its own; a t4g.nano with the SSM agent that AL2023 ships is the
 * smallest thing a Port session to a remote host works with, costs a few dollars
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
    /** The Session document db:connect passes as --document-name. */
    readonly sessionDocumentName: pulumi.Output<string>;

    constructor(name: string, args: OperatorArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE.Operator, name, {}, opts);
        const descriptions = {
            relay: assertDescription(
                "relay security group",
                `${args.applicationName} operator relay - no inbound, egress to the proxy and SSM only`,
            ),
            relayToProxy: assertDescription("relay egress rule", "PostgreSQL to the RDS Proxy (Session Manager port forwarding)"),
            relayHttps: assertDescription("relay egress rule", "HTTPS to the SSM agent endpoints and the AL2023 repositories through NAT"),
            proxyFromRelay: assertDescription("proxy ingress rule", "PostgreSQL from the operator relay"),
        };
        const child = { parent: this };
        this.operatorUsers = Object.keys(args.connectArns);

        // The relay: nothing inbound at all; the SSM agent dials out to ssm/ssmmessages on 443, dnf to the AL2023
        // repositories. That egress would let a port forward reach any HTTPS host, but the session document
        // below admits only the proxy's names on 5432, so no tunnel can use it.
        const relaySg = new aws.ec2.SecurityGroup(
            `${name}-relay`,
            {
                vpcId: args.vpcId,
                description: descriptions.relay,
                tags: { Name: `${args.namePrefix}-operator-relay` },
            },
            child,
        );
        const postgres = { ipProtocol: "tcp", fromPort: DB_PORT, toPort: DB_PORT };
        new aws.vpc.SecurityGroupEgressRule(
            `${name}-relay-to-proxy`,
            {
                ...postgres,
                securityGroupId: relaySg.id,
                referencedSecurityGroupId: args.proxySecurityGroupId,
                description: descriptions.relayToProxy,
            },
            child,
        );
        new aws.vpc.SecurityGroupEgressRule(
            `${name}-relay-https`,
            {
                ipProtocol: "tcp",
                fromPort: 443,
                toPort: 443,
                securityGroupId: relaySg.id,
                cidrIpv4: "0.0.0.0/0",
                description: descriptions.relayHttps,
            },
            child,
        );
        new aws.vpc.SecurityGroupIngressRule(
            `${name}-proxy-from-relay`,
            {
                ...postgres,
                securityGroupId: args.proxySecurityGroupId,
                referencedSecurityGroupId: relaySg.id,
                description: descriptions.proxyFromRelay,
            },
            child,
        );

        const relayRole = new aws.iam.Role(
            `${name}-relay`,
            {
                description: `${args.namePrefix} operator relay: registers with Systems Manager, nothing else`,
                assumeRolePolicy: serviceTrustPolicy("ec2.amazonaws.com"),
            },
            child,
        );
        const relayAgentPolicy = new aws.iam.RolePolicy(
            `${name}-relay-session-agent`,
            { role: relayRole.id, policy: relayPolicy() },
            child,
        );
        const profile = new aws.iam.InstanceProfile(`${name}-relay`, { role: relayRole.name }, child);

        const ami = aws.ssm.getParameterOutput({ name: RELAY_AMI_PARAMETER }, child);
        const relay = new aws.ec2.Instance(
            `${name}-relay`,
            {
                // The public AMI id, not a secret: insecureValue keeps previews readable.
                ami: ami.insecureValue,
                instanceType: RELAY_INSTANCE_TYPE,
                subnetId: args.privateSubnetId,
                vpcSecurityGroupIds: [relaySg.id],
                associatePublicIpAddress: false,
                iamInstanceProfile: profile.name,
                // IMDSv2 only, one hop: a process on the relay can't be tricked into handing out the role's credentials.
                metadataOptions: { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 1 },
                rootBlockDevice: {
                    volumeType: "gp3",
                    volumeSize: RELAY_ROOT_VOLUME_GB,
                    encrypted: true,
                    kmsKeyId: args.kmsKeyArn,
                    deleteOnTermination: true,
                },
                monitoring: false,
                userData: RELAY_USER_DATA,
                // User data runs once, at first boot: a changed script must mean a new relay, or it never runs.
                userDataReplaceOnChange: true,
                tags: { Name: `${args.namePrefix}-operator-relay`, [RELAY_TAG.key]: RELAY_TAG.value },
            },
            {
                parent: this,
                // The agent registers at first boot: its permissions exist before the instance does.
                dependsOn: [relayAgentPolicy],
                // A new AMI is published every few weeks; the relay keeps its own (patched daily by dnf-automatic)
                // until operator.followLatestAmi rolls it on purpose.
                ignoreChanges: relayIgnoreChanges(args.followLatestAmi),
            },
        );

        // The only document operators may start: host = one of the proxy's endpoint names, port 5432.
        const sessionDocument = new aws.ssm.Document(
            `${name}-tunnel`,
            {
                name: sessionDocumentName(args.namePrefix),
                documentType: "Session",
                documentFormat: "JSON",
                content: pulumi
                    .all(args.proxyEndpoints)
                    .apply((proxyHosts) => JSON.stringify(sessionDocumentContent({ proxyHosts }), null, 2)),
            },
            child,
        );

        const role = new aws.iam.Role(
            `${name}-role`,
            {
                description: `${args.namePrefix} operators: port forwarding to the RDS Proxy through the relay, connect as ${this.operatorUsers.join(", ") || "nobody"}`,
                assumeRolePolicy: pulumi
                    .all([args.partition, args.accountId])
                    .apply(([partition, accountId]) => operatorTrustPolicy({ partition, accountId, principals: args.principals })),
                maxSessionDuration: 3600,
                tags: { [OPERATOR_USERS_TAG]: this.operatorUsers.join(" ") },
            },
            child,
        );
        new aws.iam.RolePolicy(
            `${name}-role`,
            {
                role: role.id,
                policy: pulumi
                    .all([args.partition, args.accountId, relay.arn, sessionDocument.arn, pulumi.all(Object.values(args.connectArns))])
                    .apply(([partition, accountId, relayInstanceArn, sessionDocumentArn, connectArns]) =>
                        operatorPolicy({ partition, region: args.region, accountId, relayInstanceArn, sessionDocumentArn, connectArns }),
                    ),
            },
            child,
        );

        this.relayInstanceId = relay.id;
        this.relaySecurityGroupId = relaySg.id;
        this.operatorRoleArn = role.arn;
        this.sessionDocumentName = sessionDocument.name;
        this.registerOutputs({
            relayInstanceId: this.relayInstanceId,
            operatorRoleArn: this.operatorRoleArn,
            sessionDocumentName: this.sessionDocumentName,
        });
    }
}
