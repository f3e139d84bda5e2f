import { strict as assert } from "assert";
import { connectPolicy, dbUserArn, parseProxyArn } from "../components/arns";
import { planSubnets } from "../components/network";
import { assertDescription, descriptionProblem } from "../components/validation";

describe("rds-db:connect ARNs", () => {
    const proxyArn = "arn:aws:rds:eu-west-1:123456789012:db-proxy:prx-0a1b2c3d4e5f67890";

    it("takes the region, account and resource id from the proxy's own ARN", () => {
        assert.deepEqual(parseProxyArn(proxyArn), {
            partition: "aws",
            region: "eu-west-1",
            accountId: "123456789012",
            resourceId: "prx-0a1b2c3d4e5f67890",
        });
        assert.equal(
            dbUserArn({ ...parseProxyArn(proxyArn), user: "app_user" }),
            "arn:aws:rds-db:eu-west-1:123456789012:dbuser:prx-0a1b2c3d4e5f67890/app_user",
        );
        assert.equal(parseProxyArn("arn:aws-us-gov:rds:us-gov-west-1:123456789012:db-proxy:prx-abc").partition, "aws-us-gov");
    });

    it("refuses anything that is not a proxy ARN", () => {
        for (const bad of ["arn:aws:rds:eu-west-1:123456789012:cluster:orders", "prx-abc", "arn:aws:rds:eu-west-1:*:db-proxy:prx-abc"]) {
            assert.throws(() => parseProxyArn(bad), /is not of the form arn:aws:rds:<region>:<account>:db-proxy:prx-<id>/);
        }
    });

    it("never builds a wildcard grant", () => {
        const good = { partition: "aws", region: "eu-west-1", accountId: "123456789012", resourceId: "prx-abc", user: "app_user" };
        assert.throws(() => dbUserArn({ ...good, resourceId: "*" }), /resource id "\*" is not allowed/);
        assert.throws(() => dbUserArn({ ...good, user: "*" }), /database user "\*" is not a PostgreSQL identifier/);
        assert.throws(() => dbUserArn({ ...good, region: "*" }), /region "\*" is not allowed/);
        assert.throws(() => dbUserArn({ ...good, accountId: "1234*" }), /account "1234\*" is not allowed/);
        assert.throws(() => dbUserArn({ ...good, user: "postgres" }), /database user "postgres" is reserved/);
    });

    it("writes a policy with exactly rds-db:connect on the given users", () => {
        const doc = JSON.parse(connectPolicy(["arn:aws:rds-db:eu-west-1:123456789012:dbuser:prx-abc/app_user"]));
        assert.deepEqual(doc.Statement, [
            {
                Sid: "ConnectAsApplicationUser",
                Effect: "Allow",
                Action: "rds-db:connect",
                Resource: ["arn:aws:rds-db:eu-west-1:123456789012:dbuser:prx-abc/app_user"],
            },
        ]);
    });
});

describe("security-group descriptions", () => {
    it("accepts AWS's allowed characters", () => {
        assert.equal(descriptionProblem("orders RDS Proxy - from app tasks, to the database (5432) #1 @team [a]+=&;{}!$*/:"), undefined);
    });

    it("refuses an apostrophe, naming the character, at program time", () => {
        assert.throws(
            () => assertDescription("app security group", "Tony's Chips"),
            /^Error: app security group: description "Tony's Chips" contains "'", which AWS rejects; allowed: a-z A-Z 0-9/,
        );
    });

    it("refuses non-ASCII and 256+ characters", () => {
        assert.match(descriptionProblem("café")!, /contains "é"/);
        assert.match(descriptionProblem("x".repeat(256))!, /is 256 characters; AWS allows at most 255/);
        assert.equal(descriptionProblem("x".repeat(255)), undefined);
    });
});

describe("subnet plan", () => {
    it("gives each tier its own block and each AZ its own subnet, without overlap", () => {
        const plan = planSubnets("10.20.0.0/16", 3);
        assert.deepEqual(plan.public, ["10.20.0.0/21", "10.20.8.0/21", "10.20.16.0/21"]);
        assert.deepEqual(plan.private, ["10.20.64.0/21", "10.20.72.0/21", "10.20.80.0/21"]);
        assert.deepEqual(plan.isolated, ["10.20.128.0/21", "10.20.136.0/21", "10.20.144.0/21"]);
    });

    it("keeps existing subnets where they are when an AZ is added", () => {
        const two = planSubnets("10.20.0.0/16", 2);
        const three = planSubnets("10.20.0.0/16", 3);
        assert.deepEqual(three.private.slice(0, 2), two.private);
    });

    it("fits a /22", () => {
        assert.deepEqual(planSubnets("192.168.4.0/22", 2).isolated, ["192.168.6.0/27", "192.168.6.32/27"]);
    });
});
