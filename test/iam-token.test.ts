import * as assert from "node:assert/strict";
import { Sha256 } from "@aws-crypto/sha256-js";
import { Signer } from "@aws-sdk/rds-signer";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { verifyRdsIamToken, VerifyRdsIamTokenOptions } from "../local/iam-token";

const endpoint = { host: "127.0.0.1", port: 6543, user: "app_user", region: "eu-west-1" };
const trusted = { accessKeyId: "AKIAEXAMPLETRUSTED01", secretAccessKey: "trusted-secret-key-for-unit-tests-only" };
const options: VerifyRdsIamTokenOptions = { ...endpoint, credentials: trusted };

function sign(o: Partial<typeof endpoint> & { credentials?: typeof trusted } = {}): Promise<string> {
    return new Signer({
        hostname: o.host ?? endpoint.host,
        port: o.port ?? endpoint.port,
        username: o.user ?? endpoint.user,
        region: o.region ?? endpoint.region,
        credentials: o.credentials ?? trusted,
    }).getAuthToken();
}

/** Presigns like rds-signer but with a chosen lifetime, which the SDK fixes at 900 s. */
async function signWithExpiry(expiresIn: number): Promise<string> {
    const presigned = await new SignatureV4({ service: "rds-db", region: endpoint.region, sha256: Sha256, credentials: trusted }).presign(
        new HttpRequest({
            method: "GET",
            protocol: "https:",
            hostname: endpoint.host,
            port: endpoint.port,
            path: "/",
            query: { Action: "connect", DBUser: endpoint.user },
            headers: { host: `${endpoint.host}:${endpoint.port}` },
        }),
        { expiresIn },
    );
    const query = Object.entries(presigned.query ?? {})
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
        .join("&");
    return `${endpoint.host}:${endpoint.port}/?${query}`;
}

async function refusal(token: string, o: VerifyRdsIamTokenOptions = options): Promise<string> {
    const verdict = await verifyRdsIamToken(token, o);
    assert.equal(verdict.ok, false, "token should have been refused");
    return verdict.ok ? "" : verdict.reason;
}

describe("RDS IAM token verification", () => {
    it("accepts a token from @aws-sdk/rds-signer for this endpoint, user, region and key", async () => {
        assert.deepEqual(await verifyRdsIamToken(await sign(), options), { ok: true });
    });

    it("accepts a token carrying a session token (temporary credentials)", async () => {
        const token = await new Signer({
            hostname: endpoint.host,
            port: endpoint.port,
            username: endpoint.user,
            region: endpoint.region,
            credentials: { ...trusted, sessionToken: "session/token+with=odd chars" },
        }).getAuthToken();
        assert.match(token, /X-Amz-Security-Token=/);
        assert.deepEqual(await verifyRdsIamToken(token, options), { ok: true });
    });

    it("refuses a tampered signature", async () => {
        const token = await sign();
        const tampered = token.replace(/X-Amz-Signature=([0-9a-f])/, (_m, c: string) => `X-Amz-Signature=${c === "0" ? "1" : "0"}`);
        assert.notEqual(tampered, token);
        assert.match(await refusal(tampered), /signature does not match/);
    });

    it("refuses a token whose signed fields were altered (DBUser swapped after signing)", async () => {
        const token = (await sign({ user: "other_user" })).replace("DBUser=other_user", "DBUser=app_user");
        assert.match(await refusal(token), /signature does not match/);
    });

    it("refuses a token for another database user", async () => {
        assert.match(await refusal(await sign({ user: "postgres" })), /database user "postgres".*"app_user"/);
    });

    it("refuses a token for another region", async () => {
        assert.match(await refusal(await sign({ region: "us-east-1" })), /region "us-east-1".*eu-west-1/);
    });

    it("refuses a token for another endpoint", async () => {
        assert.match(await refusal(await sign({ port: 5432 })), /endpoint 127\.0\.0\.1:5432.*127\.0\.0\.1:6543/);
    });

    it("refuses a token signed with a key it does not trust", async () => {
        const reason = await refusal(await sign({ credentials: { accessKeyId: "AKIAEXAMPLEOTHER0001", secretAccessKey: "x" } }));
        assert.match(reason, /AKIAEXAMPLEOTHER0001.*does not trust/);
    });

    it("refuses a token signed with the trusted key id but another secret", async () => {
        const token = await sign({ credentials: { accessKeyId: trusted.accessKeyId, secretAccessKey: "guessed-secret" } });
        assert.match(await refusal(token), /signature does not match/);
    });

    it("refuses an expired token", async () => {
        const token = await sign();
        const sixteenMinutesLater = Date.now() + 16 * 60_000;
        assert.match(await refusal(token, { ...options, now: () => sixteenMinutesLater }), /expired/);
    });

    it("refuses a token dated too far in the future", async () => {
        const token = await sign();
        const tenMinutesEarlier = Date.now() - 10 * 60_000;
        assert.match(await refusal(token, { ...options, now: () => tenMinutesEarlier }), /in the future/);
    });

    it("refuses a token valid for longer than 900 seconds, even when correctly signed", async () => {
        assert.match(await refusal(await signWithExpiry(3600)), /X-Amz-Expires is 3600s; allowed is 1\.\.900s/);
    });

    it("refuses a plain password", async () => {
        assert.match(await refusal("correct horse battery staple"), /not an RDS IAM authentication token/);
        assert.match(await refusal(""), /not an RDS IAM authentication token/);
    });

    it("refuses unexpected or repeated parameters", async () => {
        const token = await sign();
        assert.match(await refusal(`${token}&Extra=1`), /unexpected parameter Extra/);
        assert.match(await refusal(`${token}&Action=connect`), /repeats parameter Action/);
    });

    it("never echoes the token or the secret in its reasons", async () => {
        const token = await sign();
        const signature = /X-Amz-Signature=([0-9a-f]+)/.exec(token)?.[1] ?? "missing";
        const reasons = [
            await refusal(token.replace(signature, "0".repeat(64))),
            await refusal(token, { ...options, now: () => Date.now() + 3_600_000 }),
            await refusal(token, { ...options, user: "someone_else" }),
        ];
        for (const reason of reasons) {
            assert.ok(!reason.includes(signature) && !reason.includes(trusted.secretAccessKey) && !reason.includes(token), reason);
        }
    });
});
