// Operator access (issues 10 and 15), as declared: a Session Manager relay nobody can reach, a Session document
// that forwards only to the proxy's endpoints on 5432, and an operator role that may only start that document
// on the relay and connect as the operator users.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import {
    evaluateStack,
    inlineStatementsOf,
    attachedPolicyArnsOf,
    stackAsDeclared,
    stackConfig,
    StackEvaluation,
    withOverrides,
    ACCOUNT_ID,
} from "./harness";
import { operatorTrustPolicy, RELAY_AGENT_ACTIONS, RELAY_AMI_PARAMETER, RELAY_USER_DATA, relayIgnoreChanges } from "../components/operator";
import { parseSettings } from "../components/config";
import {
    proxyHostPattern,
    sessionDocumentContent,
    TunnelHostError,
    tunnelHostAllowed,
    tunnelRequestProblem,
} from "../components/operator-session";

const WRITER = "orders-prod-proxy.proxy-c0123456789.eu-west-1.rds.amazonaws.com";
const READER = "orders-prod-proxy-ro.endpoint.proxy-c0123456789.eu-west-1.rds.amazonaws.com";

describe("the tunnel's host rule (issue 15)", () => {
    const pattern = proxyHostPattern([WRITER, READER]);

    it("accepts exactly the proxy's endpoint names", () => {
        assert.equal(pattern, `^(?:${WRITER.replace(/\./g, "\\.")}|${READER.replace(/\./g, "\\.")})$`);
        for (const host of [WRITER, READER]) assert.ok(tunnelHostAllowed(pattern, host), host);
    });

    for (const [what, host] of [
        ["the instance metadata service", "169.254.169.254"],
        ["the ECS/EKS credentials endpoint", "169.254.170.2"],
        ["localhost", "localhost"],
        ["the loopback address", "127.0.0.1"],
        ["another VPC address (the relay's own)", "10.20.64.10"],
        ["the cluster's own endpoint, around the proxy", "orders-prod-aurora.cluster-c0123456789.eu-west-1.rds.amazonaws.com"],
        ["an external name", "example.com"],
        ["the writer's name with a suffix", `${WRITER}.attacker.example`],
        ["the writer's name with a prefix", `evil-${WRITER}`],
        ["a label in front of the writer's name", `x.${WRITER}`],
        ["the writer's name as a fully qualified name (trailing dot)", `${WRITER}.`],
        ["the writer's name with a port", `${WRITER}:80`],
        ["the writer's name with a trailing newline", `${WRITER}\n`],
        ["both names at once", `${WRITER}|${READER}`],
        ["the writer's name with any character in place of a dot", WRITER.replace(".", "x")],
        ["the empty string", ""],
    ] as const) {
        it(`refuses ${what}`, () => assert.ok(!tunnelHostAllowed(pattern, host), JSON.stringify(host)));
    }

    it("uses only regex syntax that Java, Go (RE2) and JavaScript read alike", () => {
        // ^, $, (?:...|...), escaped dots and literal name characters: no lookaround, no backreference, no \z.
        assert.match(pattern, /^\^\(\?:[a-z0-9\-\\.|]+\)\$$/);
    });

    it("says in one line why a request is refused: another host, or another port", () => {
        assert.equal(tunnelRequestProblem([WRITER], { host: WRITER, port: 5432 }), undefined);
        assert.equal(
            tunnelRequestProblem([WRITER], { host: "169.254.169.254", port: 80 }),
            `the tunnel refuses host "169.254.169.254": the operator session document forwards only to this stack's proxy endpoints (${WRITER}) on 5432`,
        );
        assert.match(tunnelRequestProblem([WRITER], { host: WRITER, port: 22 })!, /^the tunnel refuses port 22: .* on 5432$/);
    });

    it("refuses to build a rule from nothing, or from anything but a DNS name", () => {
        assert.throws(() => proxyHostPattern([]), TunnelHostError);
        for (const bad of ["", "*.rds.amazonaws.com", "a.b|c.d", "UPPER.example.com", "10.0.0.1/8", "host"]) {
            assert.throws(
                () => proxyHostPattern([bad]),
                (e: Error) => e instanceof TunnelHostError && e.message.includes(JSON.stringify(bad)),
                bad,
            );
        }
    });

    it("is a Port session document: host matches the rule and defaults to the writer, the port is 5432 and no parameter", () => {
        const doc = sessionDocumentContent({ proxyHosts: [WRITER, READER] }) as any;
        assert.equal(doc.schemaVersion, "1.0");
        assert.equal(doc.sessionType, "Port");
        assert.deepEqual(Object.keys(doc.parameters).sort(), ["host", "localPortNumber"]);
        assert.equal(doc.parameters.host.allowedPattern, pattern);
        assert.equal(doc.parameters.host.default, WRITER);
        assert.deepEqual(doc.properties, {
            type: "LocalPortForwarding",
            host: "{{ host }}",
            portNumber: "5432",
            localPortNumber: "{{ localPortNumber }}",
        });
    });
});

const T = {
    instance: "aws:ec2/instance:Instance",
    sg: "aws:ec2/securityGroup:SecurityGroup",
    ingress: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    egress: "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    role: "aws:iam/role:Role",
    profile: "aws:iam/instanceProfile:InstanceProfile",
    proxy: "aws:rds/proxy:Proxy",
    key: "aws:kms/key:Key",
    document: "aws:ssm/document:Document",
    subnet: "aws:ec2/subnet:Subnet",
};

describe("operator access (issue 10)", () => {
    for (const stack of ["dev", "prod"] as const) {
        describe(stack, () => {
            let ev: StackEvaluation;
            before(async () => {
                ev = await stackAsDeclared(stack);
            });

            it("runs a t4g.nano relay on Amazon Linux 2023 in a private subnet: no public IP, IMDSv2 only, CMK-encrypted gp3, AMI changes ignored, updated by dnf-automatic", () => {
                const relay = ev.one(T.instance);
                assert.equal(relay.inputs.instanceType, "t4g.nano");
                assert.match(relay.inputs.ami, /^ami-/);
                assert.match(RELAY_AMI_PARAMETER, /al2023-ami-kernel-default-arm64$/);
                assert.deepEqual(relay.options.ignoreChanges, ["ami"]);
                assert.equal(relay.inputs.associatePublicIpAddress, false);
                assert.deepEqual(relay.inputs.metadataOptions, {
                    httpTokens: "required",
                    httpEndpoint: "enabled",
                    httpPutResponseHopLimit: 1,
                });
                assert.equal(relay.inputs.rootBlockDevice.volumeType, "gp3");
                assert.equal(relay.inputs.rootBlockDevice.encrypted, true);
                assert.equal(relay.inputs.rootBlockDevice.kmsKeyId, ev.one(T.key).state.arn);
                const subnet = ev.ofType(T.subnet).find((s) => s.id === relay.inputs.subnetId)!;
                assert.equal(subnet.inputs.tags.Tier, "private");
                assert.equal(relay.inputs.tags.Role, "operator-relay");
                assert.equal(relay.inputs.userData, RELAY_USER_DATA);
                assert.equal(relay.inputs.userDataReplaceOnChange, true, "a changed first-boot script must mean a new relay");
            });

            it("gives the relay a role with only what the SSM agent needs for sessions: no managed policy, no parameter or secret", () => {
                const relay = ev.one(T.instance);
                const profile = ev.ofType(T.profile).find((p) => p.state.name === relay.inputs.iamInstanceProfile)!;
                const role = ev.ofType(T.role).find((r) => r.state.name === profile.inputs.role)!;
                assert.equal(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Principal.Service, "ec2.amazonaws.com");
                assert.deepEqual(attachedPolicyArnsOf(ev, role), []);
                assert.deepEqual(role.inputs.managedPolicyArns ?? [], []);
                assert.deepEqual(inlineStatementsOf(ev, role), [
                    {
                        Sid: "SessionManagerAgentOnly",
                        Effect: "Allow",
                        Resource: "*",
                        Action: [
                            "ssm:UpdateInstanceInformation",
                            "ssmmessages:CreateControlChannel",
                            "ssmmessages:CreateDataChannel",
                            "ssmmessages:OpenControlChannel",
                            "ssmmessages:OpenDataChannel",
                        ],
                    },
                ]);
            });

            it("declares a Session document that forwards only to this stack's proxy endpoints, on 5432", () => {
                const doc = ev.one(T.document);
                assert.equal(doc.inputs.documentType, "Session");
                assert.equal(doc.inputs.name, `orders-${stack}-operator-tunnel`);
                const content = JSON.parse(doc.inputs.content);
                assert.equal(content.sessionType, "Port");
                assert.equal(content.properties.portNumber, "5432");
                const endpoints = [ev.outputs.proxyEndpoint, ...(ev.outputs.proxyReaderEndpoint ? [ev.outputs.proxyReaderEndpoint] : [])];
                assert.equal(endpoints.length, stack === "prod" ? 2 : 1, "prod has a READ_ONLY endpoint, dev none");
                const pattern = content.parameters.host.allowedPattern;
                for (const host of endpoints) assert.ok(tunnelHostAllowed(pattern, host), host);
                for (const host of [
                    "169.254.169.254",
                    "localhost",
                    ev.one(T.instance).state.privateIp,
                    "example.com",
                    ev.outputs.clusterEndpoint,
                ]) {
                    assert.ok(!tunnelHostAllowed(pattern, host), host);
                }
                assert.equal(ev.outputs.operatorSessionDocument, doc.inputs.name);
            });

            it("admits nothing into the relay; it reaches the proxy on 5432 by reference and HTTPS for the agent, and the proxy admits it by reference", () => {
                const relaySg = ev.named(T.sg, "operator-relay").id;
                const proxySg = ev.one(T.proxy).inputs.vpcSecurityGroupIds[0];
                assert.deepEqual(ev.one(T.instance).inputs.vpcSecurityGroupIds, [relaySg]);
                assert.equal(ev.ofType(T.ingress).filter((r) => r.inputs.securityGroupId === relaySg).length, 0);
                const out = ev
                    .ofType(T.egress)
                    .filter((r) => r.inputs.securityGroupId === relaySg)
                    .map((r) => [r.inputs.fromPort, r.inputs.referencedSecurityGroupId ?? r.inputs.cidrIpv4]);
                assert.deepEqual(out.sort(), [
                    [443, "0.0.0.0/0"],
                    [5432, proxySg],
                ]);
                const into = ev
                    .ofType(T.ingress)
                    .filter((r) => r.inputs.securityGroupId === proxySg && r.inputs.referencedSecurityGroupId === relaySg);
                assert.deepEqual(
                    into.map((r) => [r.inputs.fromPort, r.inputs.toPort, r.inputs.cidrIpv4]),
                    [[5432, 5432, undefined]],
                );
            });

            it("lets the operator role start sessions only with the stack's document on the relay, end and resume its own, and connect as the operator users through the proxy", () => {
                const role = ev.named(T.role, "operator-role");
                const relay = ev.one(T.instance);
                const proxyId = ev.one(T.proxy).state.arn.split(":").pop();
                const s = inlineStatementsOf(ev, role);
                assert.deepEqual(
                    s.map((x) => x.Action),
                    ["ssm:StartSession", ["ssm:TerminateSession", "ssm:ResumeSession"], "ssmmessages:OpenDataChannel", "rds-db:connect"],
                );
                assert.deepEqual(s[0].Resource, [
                    relay.state.arn,
                    `arn:aws:ssm:eu-west-1:${ACCOUNT_ID}:document/orders-${stack}-operator-tunnel`,
                ]);
                assert.ok(!JSON.stringify(s).includes("document/AWS-"), "no AWS-managed document");
                assert.deepEqual(s[0].Condition, { BoolIfExists: { "ssm:SessionDocumentAccessCheck": "true" } });
                // Its own sessions only, by the tag Session Manager puts on each (a session-id pattern misses role sessions).
                assert.equal(s[1].Resource, `arn:aws:ssm:eu-west-1:${ACCOUNT_ID}:session/*`);
                assert.deepEqual(s[1].Condition, { StringLike: { "ssm:resourceTag/aws:ssmmessages:session-id": "${aws:userid}" } });
                // The Session Manager plugin's signed OpenDataChannel, on sessions only (AWS's minimum plugin version needs it).
                assert.equal(s[2].Resource, `arn:aws:ssm:eu-west-1:${ACCOUNT_ID}:session/*`);
                assert.deepEqual(
                    s[3].Resource,
                    ["app_reader", "app_migrator"].map((u) => `arn:aws:rds-db:eu-west-1:${ACCOUNT_ID}:dbuser:${proxyId}/${u}`),
                );
                assert.ok(!JSON.stringify(s).includes("dbadmin"), "never the master user");
                assert.equal(role.inputs.tags.OperatorUsers, "app_reader app_migrator");
                // No principals in the settings: the account itself, so this account's identity policies decide.
                const trust = JSON.parse(role.inputs.assumeRolePolicy).Statement[0];
                assert.deepEqual(trust.Principal, { AWS: `arn:aws:iam::${ACCOUNT_ID}:root` });
                assert.deepEqual(trust.Action, ["sts:AssumeRole", "sts:SetSourceIdentity"], "sessions with a source identity can chain in");
            });

            it("exports relayInstanceId, operatorRoleArn, operatorUsers and operatorSessionDocument", () => {
                assert.equal(ev.outputs.relayInstanceId, ev.one(T.instance).id);
                assert.equal(ev.outputs.operatorRoleArn, ev.named(T.role, "operator-role").state.arn);
                assert.deepEqual(ev.outputs.operatorUsers, ["app_reader", "app_migrator"]);
            });
        });
    }

    it("trusts exactly the principals the settings name", () => {
        const sso = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_DBOperator_0123abcd";
        const breakGlass = "arn:aws:iam::123456789012:role/BreakGlass";
        assert.deepEqual(JSON.parse(operatorTrustPolicy({ partition: "aws", accountId: ACCOUNT_ID, principals: [sso] })).Statement, [
            { Effect: "Allow", Principal: { AWS: sso }, Action: ["sts:AssumeRole", "sts:SetSourceIdentity"] },
        ]);
        assert.deepEqual(
            JSON.parse(operatorTrustPolicy({ partition: "aws", accountId: ACCOUNT_ID, principals: [sso, breakGlass] })).Statement[0]
                .Principal,
            { AWS: [sso, breakGlass] },
        );
    });

    it("installs unattended updates on the relay from the latest AL2023 release, in a script bash accepts", () => {
        assert.match(RELAY_USER_DATA, /^#!\/bin\/bash\n/);
        assert.match(RELAY_USER_DATA, /^echo latest > \/etc\/dnf\/vars\/releasever$/m);
        assert.match(RELAY_USER_DATA, /^  dnf -y install dnf-automatic dnf-plugins-core && break$/m);
        assert.match(RELAY_USER_DATA, /^systemctl enable --now dnf-automatic-install\.timer$/m);
        // Reboot only on needs-restarting's "reboot required" (exit 1), never on an error; swap first, for dnf on 512 MiB.
        assert.match(RELAY_USER_DATA, /dnf needs-restarting -r >\/dev\/null; \[ \$\? -eq 1 \] && systemctl reboot \|\| true/);
        assert.match(RELAY_USER_DATA, /mkswap \/swapfile && swapon \/swapfile/);
        const syntax = spawnSync("bash", ["-n"], { input: RELAY_USER_DATA, encoding: "utf8" });
        assert.equal(syntax.status, 0, syntax.stderr);
        assert.deepEqual(
            [...RELAY_AGENT_ACTIONS].filter((a) => /GetParameter|GetSecretValue|Decrypt/.test(a)),
            [],
        );
    });

    it("follows the latest AMI only when operator.followLatestAmi says so (the way to roll a new AMI on purpose)", async () => {
        assert.equal(parseSettings("dev", stackConfig("dev")).operator.followLatestAmi, false);
        assert.equal(
            parseSettings("dev", withOverrides(stackConfig("dev"), { "operator.followLatestAmi": true })).operator.followLatestAmi,
            true,
        );
        assert.deepEqual((await stackAsDeclared("dev")).one(T.instance).options.ignoreChanges, relayIgnoreChanges(false));
        assert.deepEqual([relayIgnoreChanges(false), relayIgnoreChanges(true)], [["ami"], []]);
    });

    it("declares no relay and no operator role with operator.enabled false", async () => {
        const ev = await evaluateStack("dev", { "operator.enabled": false });
        assert.equal(ev.ofType(T.instance).length, 0);
        assert.equal(ev.ofType(T.role).filter((r) => r.name.startsWith("operator")).length, 0);
        assert.equal(ev.outputs.relayInstanceId, undefined);
        assert.equal(ev.outputs.operatorSessionDocument, undefined);
        assert.equal(ev.ofType(T.document).length, 0);
    });
});
