// Operator access (issue 10), as declared: a Session Manager relay nobody can reach and an operator role
// that may only forward a port to the proxy through it and connect as the operator users.
import { strict as assert } from "assert";
import { evaluateStack, inlineStatementsOf, attachedPolicyArnsOf, stackAsDeclared, StackEvaluation, ACCOUNT_ID } from "./harness";
import { operatorTrustPolicy, PORT_FORWARD_DOCUMENT, RELAY_AMI_PARAMETER } from "../components/operator";

const T = {
    instance: "aws:ec2/instance:Instance",
    sg: "aws:ec2/securityGroup:SecurityGroup",
    ingress: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    egress: "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    role: "aws:iam/role:Role",
    profile: "aws:iam/instanceProfile:InstanceProfile",
    proxy: "aws:rds/proxy:Proxy",
    key: "aws:kms/key:Key",
    subnet: "aws:ec2/subnet:Subnet",
};

describe("operator access (issue 10)", () => {
    for (const stack of ["dev", "prod"] as const) {
        describe(stack, () => {
            let ev: StackEvaluation;
            before(async () => { ev = await stackAsDeclared(stack); });

            it("runs a t4g.nano relay on Amazon Linux 2023 in a private subnet: no public IP, IMDSv2 only, CMK-encrypted gp3, AMI changes ignored", () => {
                const relay = ev.one(T.instance);
                assert.equal(relay.inputs.instanceType, "t4g.nano");
                assert.match(relay.inputs.ami, /^ami-/);
                assert.match(RELAY_AMI_PARAMETER, /al2023-ami-kernel-default-arm64$/);
                assert.deepEqual(relay.options.ignoreChanges, ["ami"]);
                assert.equal(relay.inputs.associatePublicIpAddress, false);
                assert.deepEqual(relay.inputs.metadataOptions, { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 1 });
                assert.equal(relay.inputs.rootBlockDevice.volumeType, "gp3");
                assert.equal(relay.inputs.rootBlockDevice.encrypted, true);
                assert.equal(relay.inputs.rootBlockDevice.kmsKeyId, ev.one(T.key).state.arn);
                const subnet = ev.ofType(T.subnet).find((s) => s.id === relay.inputs.subnetId)!;
                assert.equal(subnet.inputs.tags.Tier, "private");
                assert.equal(relay.inputs.tags.Role, "operator-relay");
            });

            it("gives the relay a role with AmazonSSMManagedInstanceCore and nothing else", () => {
                const relay = ev.one(T.instance);
                const profile = ev.ofType(T.profile).find((p) => p.state.name === relay.inputs.iamInstanceProfile)!;
                const role = ev.ofType(T.role).find((r) => r.state.name === profile.inputs.role)!;
                assert.equal(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Principal.Service, "ec2.amazonaws.com");
                assert.deepEqual(attachedPolicyArnsOf(ev, role), ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]);
                assert.deepEqual(inlineStatementsOf(ev, role), []);
            });

            it("admits nothing into the relay; it reaches the proxy on 5432 by reference and HTTPS for the agent, and the proxy admits it by reference", () => {
                const relaySg = ev.named(T.sg, "operator-relay").id;
                const proxySg = ev.one(T.proxy).inputs.vpcSecurityGroupIds[0];
                assert.deepEqual(ev.one(T.instance).inputs.vpcSecurityGroupIds, [relaySg]);
                assert.equal(ev.ofType(T.ingress).filter((r) => r.inputs.securityGroupId === relaySg).length, 0);
                const out = ev.ofType(T.egress).filter((r) => r.inputs.securityGroupId === relaySg)
                    .map((r) => [r.inputs.fromPort, r.inputs.referencedSecurityGroupId ?? r.inputs.cidrIpv4]);
                assert.deepEqual(out.sort(), [[443, "0.0.0.0/0"], [5432, proxySg]]);
                const into = ev.ofType(T.ingress).filter((r) => r.inputs.securityGroupId === proxySg && r.inputs.referencedSecurityGroupId === relaySg);
                assert.deepEqual(into.map((r) => [r.inputs.fromPort, r.inputs.toPort, r.inputs.cidrIpv4]), [[5432, 5432, undefined]]);
            });

            it("lets the operator role start only port-forwarding sessions on the relay, end its own, and connect as the operator users through the proxy", () => {
                const role = ev.named(T.role, "operator-role");
                const relay = ev.one(T.instance);
                const proxyId = ev.one(T.proxy).state.arn.split(":").pop();
                const s = inlineStatementsOf(ev, role);
                assert.deepEqual(s.map((x) => x.Action), ["ssm:StartSession", "ssm:TerminateSession", "rds-db:connect"]);
                assert.deepEqual(s[0].Resource, [relay.state.arn, `arn:aws:ssm:eu-west-1::document/${PORT_FORWARD_DOCUMENT}`]);
                assert.deepEqual(s[0].Condition, { BoolIfExists: { "ssm:SessionDocumentAccessCheck": "true" } });
                // Its own sessions only, by the tag Session Manager puts on each (a session-id pattern misses role sessions).
                assert.equal(s[1].Resource, `arn:aws:ssm:eu-west-1:${ACCOUNT_ID}:session/*`);
                assert.deepEqual(s[1].Condition, { StringLike: { "ssm:resourceTag/aws:ssmmessages:session-id": "${aws:userid}" } });
                assert.deepEqual(s[2].Resource, ["app_reader", "app_migrator"].map((u) => `arn:aws:rds-db:eu-west-1:${ACCOUNT_ID}:dbuser:${proxyId}/${u}`));
                assert.ok(!JSON.stringify(s).includes("dbadmin"), "never the master user");
                assert.equal(role.inputs.tags.OperatorUsers, "app_reader app_migrator");
                // No principals in the settings: the account itself, so this account's identity policies decide.
                const trust = JSON.parse(role.inputs.assumeRolePolicy).Statement[0];
                assert.deepEqual(trust.Principal, { AWS: `arn:aws:iam::${ACCOUNT_ID}:root` });
                assert.deepEqual(trust.Action, ["sts:AssumeRole", "sts:SetSourceIdentity"], "sessions with a source identity can chain in");
            });

            it("exports relayInstanceId, operatorRoleArn and operatorUsers", () => {
                assert.equal(ev.outputs.relayInstanceId, ev.one(T.instance).id);
                assert.equal(ev.outputs.operatorRoleArn, ev.named(T.role, "operator-role").state.arn);
                assert.deepEqual(ev.outputs.operatorUsers, ["app_reader", "app_migrator"]);
            });
        });
    }

    it("trusts exactly the principals the settings name", () => {
        const sso = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_DBOperator_0123abcd";
        const breakGlass = "arn:aws:iam::123456789012:role/BreakGlass";
        assert.deepEqual(JSON.parse(operatorTrustPolicy({ partition: "aws", accountId: ACCOUNT_ID, principals: [sso] })).Statement,
            [{ Effect: "Allow", Principal: { AWS: sso }, Action: ["sts:AssumeRole", "sts:SetSourceIdentity"] }]);
        assert.deepEqual(JSON.parse(operatorTrustPolicy({ partition: "aws", accountId: ACCOUNT_ID, principals: [sso, breakGlass] })).Statement[0].Principal,
            { AWS: [sso, breakGlass] });
    });

    it("declares no relay and no operator role with operator.enabled false", async () => {
        const ev = await evaluateStack("dev", { "operator.enabled": false });
        assert.equal(ev.ofType(T.instance).length, 0);
        assert.equal(ev.ofType(T.role).filter((r) => r.name.startsWith("operator")).length, 0);
        assert.equal(ev.outputs.relayInstanceId, undefined);
    });
});
