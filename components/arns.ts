// ARN logic, pure and unit-tested: nobody in this project writes an rds-db:connect ARN by hand.
import { pgIdentifierProblem } from "./validation";

export interface ProxyArnParts {
    partition: string;
    region: string;
    accountId: string;
    /** The proxy's resource id, `prx-…`: what IAM's rds-db:connect ARNs name for connections through the proxy. */
    resourceId: string;
}

const PROXY_ARN = /^arn:(aws[a-z-]*):rds:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):db-proxy:(prx-[a-z0-9]+)$/;

/** Splits an RDS Proxy ARN (`arn:aws:rds:eu-west-1:123456789012:db-proxy:prx-0abc…`) into its parts. */
export function parseProxyArn(arn: string): ProxyArnParts {
    const m = PROXY_ARN.exec(arn);
    if (!m) throw new Error(`RDS Proxy ARN ${JSON.stringify(arn)} is not of the form arn:aws:rds:<region>:<account>:db-proxy:prx-<id>`);
    return { partition: m[1], region: m[2], accountId: m[3], resourceId: m[4] };
}

export interface DbUserArnParts extends ProxyArnParts {
    user: string;
}

/**
 * The exact resource for `rds-db:connect`: `arn:aws:rds-db:<region>:<account>:dbuser:<resource id>/<user>`.
 * Refuses wildcards anywhere, so a grant can never widen to every user or every proxy by accident.
 */
export function dbUserArn(p: DbUserArnParts): string {
    const fields: Array<[string, string, RegExp]> = [
        ["partition", p.partition, /^aws[a-z-]*$/],
        ["region", p.region, /^[a-z]{2}(-[a-z]+)+-\d$/],
        ["account", p.accountId, /^\d{12}$/],
        ["resource id", p.resourceId, /^(prx|cluster|db)-[A-Za-z0-9]+$/],
    ];
    for (const [what, value, pattern] of fields) {
        if (!pattern.test(value))
            throw new Error(
                `rds-db:connect ARN: ${what} ${JSON.stringify(value)} is not allowed; wildcards and partial values would widen the grant`,
            );
    }
    const userProblem = pgIdentifierProblem(p.user);
    if (userProblem) throw new Error(`rds-db:connect ARN: database user ${JSON.stringify(p.user)} ${userProblem}`);
    return `arn:${p.partition}:rds-db:${p.region}:${p.accountId}:dbuser:${p.resourceId}/${p.user}`;
}

/** An IAM policy document allowing exactly `rds-db:connect` on the given dbuser ARNs. */
export function connectPolicy(resources: string[]): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Sid: "ConnectAsApplicationUser", Effect: "Allow", Action: "rds-db:connect", Resource: resources }],
    });
}

/**
 * A trust policy for a service role. With `sourceAccount`, only that account's resources may assume it
 * (confused-deputy protection); pass it only for services documented to send aws:SourceAccount.
 */
export function serviceTrustPolicy(service: string, sourceAccount?: string, sourceArnLike?: string): string {
    const condition = {
        ...(sourceAccount ? { StringEquals: { "aws:SourceAccount": sourceAccount } } : {}),
        ...(sourceArnLike ? { ArnLike: { "aws:SourceArn": sourceArnLike } } : {}),
    };
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            {
                Effect: "Allow",
                Principal: { Service: service },
                Action: "sts:AssumeRole",
                ...(Object.keys(condition).length > 0 ? { Condition: condition } : {}),
            },
        ],
    });
}
