// An Aurora PostgreSQL cluster that exists already (database.existingCluster): read at preview time through
// data sources, checked, and never modified. The component fronts it with its own proxy, users, smoke and
// monitoring; the one change to anything it does not own is an ingress rule on the cluster's security group
// (components/network.ts). docs/existing-cluster.md has what it owns, the checks and their fixes.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DbUser } from "../access/users";
import { ExistingClusterSettings } from "./config";
import { ENGINE } from "./cluster-spec";

/**
 * The oldest minor of each Aurora PostgreSQL major that RDS Proxy supports (Aurora User Guide, "Supported Regions
 * and Aurora DB engines for Amazon RDS Proxy", section "Amazon RDS Proxy with Aurora PostgreSQL": 10.14, 11.9,
 * 12.4 and 13.3 and higher). Majors 14 and later are supported from their first Aurora release (14.3, 15.2, 16.1,
 * 17.4: "Almost all versions of Aurora PostgreSQL support RDS Proxy", Aurora PostgreSQL best practices, connection
 * pooling); majors before 10 are not supported at all.
 */
export const PROXY_MINIMUM_MINOR: Record<number, number> = { 10: 14, 11: 9, 12: 4, 13: 3 };
const OLDEST_PROXY_MAJOR = 10;

/** Why RDS Proxy cannot front this Aurora PostgreSQL version, or undefined. */
export function proxyVersionProblem(version: string): string | undefined {
    const m = /^(\d+)\.(\d+)/.exec(version);
    if (!m) return `is not an Aurora PostgreSQL version RDS Proxy is documented for`;
    const [major, minor] = [Number(m[1]), Number(m[2])];
    if (major < OLDEST_PROXY_MAJOR)
        return `is older than any Aurora PostgreSQL version RDS Proxy supports (${OLDEST_PROXY_MAJOR}.${PROXY_MINIMUM_MINOR[OLDEST_PROXY_MAJOR]} and later)`;
    const minimum = PROXY_MINIMUM_MINOR[major];
    if (minimum !== undefined && minor < minimum) return `is older than ${major}.${minimum}, the first ${major}.x RDS Proxy supports`;
    return undefined;
}

/** What the data sources say about the cluster and what it refers to: the pure check's input. */
export interface DescribedCluster {
    identifier: string;
    arn: string;
    resourceId: string;
    engine: string;
    engineMode: string;
    engineVersion: string;
    iamDatabaseAuthenticationEnabled: boolean;
    endpoint: string;
    readerEndpoint: string;
    port: number;
    masterUsername: string;
    /** Its instances (aws_rds_cluster cluster_members): the writer and the readers. */
    members: string[];
    /** Set when the cluster is a read replica of another cluster. */
    replicationSourceIdentifier: string;
    securityGroupIds: string[];
    /** The VPC of its DB subnet group. */
    vpcId: string;
    subnetGroupName: string;
    /** The RDS-managed master secret (master_user_secret), if RDS manages the master password. */
    managedSecretArn?: string;
    /** The secret the bootstrap would read: database.existingCluster.masterSecretArn, else the managed one. */
    secret?: { arn: string; found: boolean; kmsKey?: { arn: string; customerManaged: boolean } | { error: string } };
    /** The newest minor AWS offers of the cluster's major, for the upgrade command (when the version is refused). */
    newestMinor?: string;
}

/**
 * Why the component cannot front this cluster, one line per problem, each naming the cluster and the fix (the
 * exact AWS CLI command where one exists). RDS Proxy's requirements: RDS User Guide / Aurora User Guide,
 * rds-proxy.html "Quotas and limitations" (same VPC as the database, no Aurora Serverless v1) and the supported
 * versions above; the proxy's end-to-end IAM needs IAM database authentication on the cluster (rds-proxy-iam-setup).
 */
export function existingClusterProblems(
    stack: string,
    given: ExistingClusterSettings,
    c: DescribedCluster,
    o: { vpcId: string; users: DbUser[]; appUser: string },
): string[] {
    const id = c.identifier;
    const where = `${stack}: database.existingCluster (${id})`;
    const modify = (flags: string) => `aws rds modify-db-cluster --db-cluster-identifier ${id} ${flags} --apply-immediately`;
    const problems: string[] = [];

    if (c.engine !== ENGINE) {
        problems.push(
            `${where}: engine is ${c.engine}; this component fronts ${ENGINE} only (its proxy, users and smoke are PostgreSQL's): front an Aurora PostgreSQL cluster (no command changes a cluster's engine)`,
        );
    } else {
        if (c.engineMode === "serverless") {
            problems.push(
                `${where}: engine mode is serverless (Aurora Serverless v1), which RDS Proxy does not support; convert it to provisioned or Serverless v2 first (Aurora User Guide, "Upgrading from an Aurora Serverless v1 cluster")`,
            );
        }
        const versionProblem = proxyVersionProblem(c.engineVersion);
        if (versionProblem) {
            const target = c.newestMinor ? `--engine-version ${c.newestMinor}` : "--engine-version <a newer minor of the same major>";
            problems.push(`${where}: engine version ${c.engineVersion} ${versionProblem}; upgrade it: ${modify(target)}`);
        }
    }
    if (!c.iamDatabaseAuthenticationEnabled) {
        problems.push(
            `${where}: IAM database authentication is off, and the proxy logs in to it with IAM; turn it on (passwords keep working): ${modify("--enable-iam-database-authentication")}`,
        );
    }
    if (c.vpcId !== o.vpcId) {
        problems.push(
            `${where}: the cluster is in ${c.vpcId || "no VPC"} (subnet group ${c.subnetGroupName || "none"}), not in network.existingVpc.vpcId ${o.vpcId}; RDS Proxy must be in the cluster's VPC: give that VPC and its subnets in network.existingVpc`,
        );
    }

    const secret = c.secret;
    if (given.masterSecretArn !== undefined && secret && !secret.found) {
        problems.push(
            `${where}: database.existingCluster.masterSecretArn (${given.masterSecretArn}) is no secret this account can describe; give the ARN of the secret holding the master user's {"username","password"}`,
        );
    } else if (!secret) {
        problems.push(
            `${where}: no master secret: RDS does not manage the master password and database.existingCluster.masterSecretArn is unset; let RDS manage it: ${modify("--manage-master-user-password")} ` +
                `(RDS then generates a new master password: whatever logs in with the old one stops working), or store the current master credentials as {"username","password"} in Secrets Manager and pass its ARN as database.existingCluster.masterSecretArn`,
        );
    } else if (secret.kmsKey && "error" in secret.kmsKey) {
        problems.push(
            `${where}: the master secret's KMS key can't be described (${secret.kmsKey.error}); let the deployer call kms:DescribeKey on it, so the bootstrap is granted kms:Decrypt on exactly that key`,
        );
    }

    // The bootstrap connects to the writer inside the VPC (docs/existing-cluster.md, "The bootstrap's path").
    if (c.replicationSourceIdentifier) {
        problems.push(
            `${where}: the bootstrap has no path to a writer: the cluster is a read replica of ${c.replicationSourceIdentifier}; front the source cluster, or promote this one: aws rds promote-read-replica-db-cluster --db-cluster-identifier ${id}`,
        );
    } else if (c.members.length === 0) {
        // A db.serverless instance needs the cluster's Serverless v2 capacity range first (Aurora User Guide, "Requirements and
        // limitations for Aurora Serverless v2": "Clusters that use Aurora Serverless v2 must have a capacity range specified").
        problems.push(
            `${where}: the bootstrap has no path to the database: the cluster has no instance; add a writer: ${modify("--serverless-v2-scaling-configuration MinCapacity=0.5,MaxCapacity=8")}, ` +
                `then aws rds create-db-instance --db-cluster-identifier ${id} --db-instance-identifier ${id}-1 --engine ${ENGINE} --db-instance-class db.serverless ` +
                "(Serverless v2 needs that capacity range first; 8 ACUs is a ceiling of your choosing), or give create-db-instance a provisioned class such as db.r6g.large alone",
        );
    }

    if (given.securityGroupId !== undefined) {
        if (!c.securityGroupIds.includes(given.securityGroupId)) {
            problems.push(
                `${where}: database.existingCluster.securityGroupId (${given.securityGroupId}) is not one of the cluster's security groups (${c.securityGroupIds.join(", ") || "none"}); name one of them`,
            );
        }
    } else if (c.securityGroupIds.length !== 1) {
        problems.push(
            `${where}: the cluster has ${c.securityGroupIds.length === 0 ? "no VPC security group" : `security groups ${c.securityGroupIds.join(", ")}`}; ` +
                "name the one that should admit the proxy in database.existingCluster.securityGroupId",
        );
    }

    // The settings parser could not know the cluster's master user or its readers.
    if (o.appUser === c.masterUsername) {
        problems.push(
            `${where}: database.user (${o.appUser}) is the cluster's master user; the application never connects as the master user, so declare a user of its own`,
        );
    }
    o.users.forEach((u, i) => {
        if (u.name === c.masterUsername && u.name !== o.appUser) {
            problems.push(
                `${where}: access.users[${i}] (${u.name}) is the cluster's master user; no client connects as the master user, so rename the user`,
            );
        }
        if (u.endpoint === "reader" && c.members.length < 2) {
            problems.push(
                `${where}: access.users[${i}] (${u.name}) is for the reader endpoint, but the cluster has ${c.members.length} instance(s) and so no reader; ` +
                    `set its endpoint to writer, or add a reader: aws rds create-db-instance --db-cluster-identifier ${id} --db-instance-identifier ${id}-2 --engine ${ENGINE} --db-instance-class <the writer's class>`,
            );
        }
    });
    return problems;
}

/** What the component declares from: the checked cluster. */
export interface ExistingClusterFacts {
    identifier: string;
    arn: string;
    resourceId: string;
    endpoint: string;
    readerEndpoint: string;
    port: number;
    engineVersion: string;
    masterUsername: string;
    masterSecretArn: string;
    /** The master secret's key when it is a customer-managed key; undefined for the AWS-managed aws/secretsmanager key. */
    secretKmsKeyArn?: string;
    /** The group that gets the component's one ingress rule. */
    securityGroupId: string;
    securityGroupIds: string[];
    instanceIdentifiers: string[];
}

/**
 * A refusal at preview: a RunError (Pulumi prints its message alone, without a stack trace), whose lines stay as
 * written. The SDK prefixes `error serializing property "x": ` to a failed Output's error each time a resource input
 * carries it (runtime/rpc.js), which would bury the first line under the names of the inputs that waited for it.
 */
function refusalError(lines: string[]): Error {
    const err = new pulumi.RunError(lines.join("\n"));
    const text = err.message;
    Object.defineProperty(err, "message", { get: () => text, set: () => undefined });
    return err;
}

/** The first line of an invoke's error, for a one-line message. */
export function firstLine(err: unknown): string {
    return (
        String(err instanceof Error ? err.message : err)
            .split("\n")
            .map((l) => l.trim())
            .find((l) => l) ?? "unknown error"
    );
}

/**
 * Reads the cluster, its subnet group, its master secret and that secret's key through data sources (they run at
 * preview time), and fails the program with one line per problem before anything that touches the cluster is
 * declared: everything that refers to the cluster is built from the Output this returns.
 */
export function describeExistingCluster(
    stack: string,
    given: ExistingClusterSettings,
    o: { vpcId: pulumi.Input<string>; users: DbUser[]; appUser: string; region: string },
    opts: pulumi.InvokeOptions,
): pulumi.Output<ExistingClusterFacts> {
    return pulumi.output(o.vpcId).apply(async (vpcId) => {
        let cluster: aws.rds.GetClusterResult;
        try {
            cluster = await aws.rds.getCluster({ clusterIdentifier: given.identifier }, opts);
        } catch (err) {
            throw refusalError([
                `${stack}: database.existingCluster.identifier (${given.identifier}) names no cluster this account can describe in ${o.region} (${firstLine(err)}); give the identifier of an existing Aurora PostgreSQL cluster`,
            ]);
        }
        const subnetGroup = cluster.dbSubnetGroupName
            ? await aws.rds.getSubnetGroup({ name: cluster.dbSubnetGroupName }, opts).catch(() => undefined)
            : undefined;
        const managed = cluster.masterUserSecrets?.[0];
        const secret = await describeSecret(given.masterSecretArn, managed, opts);
        const versionRefused = proxyVersionProblem(cluster.engineVersion) !== undefined && cluster.engine === ENGINE;
        const newestMinor = versionRefused
            ? await aws.rds.getEngineVersion({ engine: ENGINE, version: cluster.engineVersion.split(".")[0], latest: true }, opts).then(
                  (v) => v.versionActual,
                  () => undefined,
              )
            : undefined;
        const described: DescribedCluster = {
            identifier: cluster.clusterIdentifier,
            arn: cluster.arn,
            resourceId: cluster.clusterResourceId,
            engine: cluster.engine,
            engineMode: cluster.engineMode,
            engineVersion: cluster.engineVersion,
            iamDatabaseAuthenticationEnabled: cluster.iamDatabaseAuthenticationEnabled,
            endpoint: cluster.endpoint,
            readerEndpoint: cluster.readerEndpoint,
            port: cluster.port,
            masterUsername: cluster.masterUsername,
            members: [...(cluster.clusterMembers ?? [])].sort(),
            replicationSourceIdentifier: cluster.replicationSourceIdentifier ?? "",
            securityGroupIds: [...(cluster.vpcSecurityGroupIds ?? [])].sort(),
            vpcId: subnetGroup?.vpcId ?? "",
            subnetGroupName: cluster.dbSubnetGroupName ?? "",
            managedSecretArn: managed?.secretArn,
            secret,
            newestMinor,
        };
        const problems = existingClusterProblems(stack, given, described, { vpcId, users: o.users, appUser: o.appUser });
        if (problems.length > 0) throw refusalError(problems);
        const kmsKey = secret!.kmsKey as { arn: string; customerManaged: boolean } | undefined;
        return {
            identifier: described.identifier,
            arn: described.arn,
            resourceId: described.resourceId,
            endpoint: described.endpoint,
            readerEndpoint: described.readerEndpoint,
            port: described.port,
            engineVersion: described.engineVersion,
            masterUsername: described.masterUsername,
            masterSecretArn: secret!.arn,
            ...(kmsKey?.customerManaged ? { secretKmsKeyArn: kmsKey.arn } : {}),
            securityGroupId: given.securityGroupId ?? described.securityGroupIds[0],
            securityGroupIds: described.securityGroupIds,
            instanceIdentifiers: described.members,
        };
    });
}

/**
 * The secret the bootstrap reads and the key it is encrypted with. A secret under the AWS-managed
 * aws/secretsmanager key needs no kms:Decrypt grant (its key policy lets Secrets Manager decrypt for any principal
 * of the account allowed to read the secret: Secrets Manager User Guide, "Secret encryption and decryption"); a
 * customer-managed key does, and only through Secrets Manager.
 */
async function describeSecret(
    givenArn: string | undefined,
    managed: { secretArn: string; kmsKeyId: string } | undefined,
    opts: pulumi.InvokeOptions,
): Promise<DescribedCluster["secret"]> {
    let arn: string;
    let keyId: string | undefined;
    if (givenArn !== undefined) {
        const found = await aws.secretsmanager.getSecret({ arn: givenArn }, opts).catch(() => undefined);
        if (!found) return { arn: givenArn, found: false };
        arn = found.arn;
        // Empty for a secret under the default aws/secretsmanager key (DescribeSecret returns no KmsKeyId then).
        keyId = found.kmsKeyId || undefined;
    } else if (managed?.secretArn) {
        arn = managed.secretArn;
        keyId = managed.kmsKeyId || undefined;
    } else {
        return undefined;
    }
    if (keyId === undefined) return { arn, found: true };
    return { arn, found: true, kmsKey: await describeSecretKey(keyId, opts) };
}

/**
 * A master secret's KMS key as the aws_kms_key data source describes it: its ARN and whether it is customer-managed
 * (the bootstrap then needs kms:Decrypt on it, through Secrets Manager only), or the first line of why it can't be read.
 * Fronting and adopting both ask it.
 */
export function describeSecretKey(
    keyId: string,
    opts: pulumi.InvokeOptions,
): Promise<{ arn: string; customerManaged: boolean } | { error: string }> {
    return aws.kms.getKey({ keyId }, opts).then(
        (k) => ({ arn: k.arn, customerManaged: k.keyManager === "CUSTOMER" }),
        (err) => ({ error: firstLine(err) }),
    );
}
