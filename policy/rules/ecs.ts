// ECS on Fargate: task definitions and services.
import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy, StackValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { label, ofType, peek, reportAdvisory, resolveRefs, show, Unknown } from "../util";
import { T } from "./types";

/** The fields of a container definition the rules read (ECS's own JSON keys). */
export interface ContainerDefinition {
    name?: string;
    privileged?: boolean;
    readonlyRootFilesystem?: boolean;
    environment?: { name?: string; value?: string }[];
    logConfiguration?: { logDriver?: string; options?: Record<string, string> };
    linuxParameters?: { capabilities?: { add?: string[] } };
}

/** `containerDefinitions` is a JSON string; undefined if it does not parse. */
export function parseContainers(value: unknown): ContainerDefinition[] | undefined {
    if (typeof value !== "string") {
        return Array.isArray(value) ? (value as ContainerDefinition[]) : undefined;
    }
    try {
        const parsed = JSON.parse(value);
        return Array.isArray(parsed) ? parsed : undefined;
    } catch {
        return undefined;
    }
}

function containerLabel(type: string, name: string, c: ContainerDefinition, i: number): string {
    return `${type} "${name}" container ${JSON.stringify(c.name ?? `#${i}`)}`;
}

export const ecsAwsvpcNetworkMode: ResourceValidationPolicy = {
    name: "ecs-awsvpc-network-mode",
    description: "Task definitions use the awsvpc network mode, so each task gets its own ENI and security group.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: validateResourceOfType(aws.ecs.TaskDefinition, (td, args, report) => {
        if (td.networkMode !== "awsvpc") {
            report(`${label(args)}: networkMode is ${show(td.networkMode)}; set networkMode: "awsvpc"`);
        }
    }),
};

export const ecsNoPublicIp: ResourceValidationPolicy = {
    name: "ecs-no-public-ip",
    description: "ECS services do not assign public IPs to tasks.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: validateResourceOfType(aws.ecs.Service, (service, args, report) => {
        if (service.networkConfiguration?.assignPublicIp === true) {
            report(
                `${label(args)}: networkConfiguration.assignPublicIp is true; set assignPublicIp: false and run tasks in private subnets`,
            );
        }
    }),
};

// Reading `containerDefinitions` through the engine's proxy: at preview it is often unknown (it
// embeds the proxy endpoint), and the engine then reports these rules as "can't run during
// preview"; they run on the resolved string at update time and under the test harness.

export const ecsNoPrivilegedContainers: ResourceValidationPolicy = {
    name: "ecs-no-privileged-containers",
    description: "No container runs privileged (ECS's `privileged` key) or adds ALL/SYS_ADMIN capabilities.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: validateResourceOfType(aws.ecs.TaskDefinition, (td, args, report) => {
        (parseContainers(td.containerDefinitions) ?? []).forEach((c, i) => {
            if (c.privileged === true) {
                report(
                    `${containerLabel(args.type, args.name, c, i)}: privileged is true; remove privileged (Fargate refuses it, and it gives root on the host)`,
                );
            }
            const added = (c.linuxParameters?.capabilities?.add ?? []).filter((cap) => /^(ALL|SYS_ADMIN)$/i.test(cap));
            if (added.length > 0) {
                report(
                    `${containerLabel(args.type, args.name, c, i)}: linuxParameters.capabilities.add includes ${added.join(", ")}; drop them`,
                );
            }
        });
    }),
};

export const ecsNoHostNamespaces: ResourceValidationPolicy = {
    name: "ecs-no-host-namespaces",
    description: 'Task definitions do not share the host\'s process or IPC namespace (pidMode/ipcMode "host").',
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: validateResourceOfType(aws.ecs.TaskDefinition, (td, args, report) => {
        for (const [field, value] of [
            ["pidMode", td.pidMode],
            ["ipcMode", td.ipcMode],
        ] as const) {
            if (value === "host") {
                report(
                    `${label(args)}: ${field} is "host", so containers see the host's ${field === "pidMode" ? "processes" : "shared memory"}; remove ${field} or set "task"`,
                );
            }
        }
    }),
};

export const ecsClusterContainerInsights: ResourceValidationPolicy = {
    name: "ecs-cluster-container-insights",
    description: "ECS clusters have Container Insights on (task-level metrics and events).",
    enforcementLevel: "mandatory",
    severity: "low",
    validateResource: validateResourceOfType(aws.ecs.Cluster, (cluster, args, report) => {
        const setting = (cluster.settings ?? []).find((s) => s.name === "containerInsights");
        if (!setting || !["enabled", "enhanced"].includes(setting.value)) {
            report(
                `${label(args)}: containerInsights is ${show(setting?.value)}; add settings: [{ name: "containerInsights", value: "enabled" }]`,
            );
        }
    }),
};

export const ecsReadOnlyRootFilesystem: ResourceValidationPolicy = {
    name: "ecs-read-only-root-filesystem",
    description: "Every container has a read-only root filesystem.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: validateResourceOfType(aws.ecs.TaskDefinition, (td, args, report) => {
        (parseContainers(td.containerDefinitions) ?? []).forEach((c, i) => {
            if (c.readonlyRootFilesystem !== true) {
                report(
                    `${containerLabel(args.type, args.name, c, i)}: readonlyRootFilesystem is ${show(c.readonlyRootFilesystem)}; ` +
                        "set readonlyRootFilesystem: true (mount a volume for scratch space)",
                );
            }
        });
    }),
};

/** Names of variables that hold credentials, and values that look like one whatever the name. */
const SECRET_NAME = /(PASSWORD|PASSWD|PWD$|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL)/i;
const SECRET_VALUE = [
    /AKIA[0-9A-Z]{16}/, // AWS access key id
    /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
    /:\/\/[^/\s:@]+:[^/\s@]+@/, // user:password@ in a connection URL
];

export function secretLooking(name: string, value: string): string | undefined {
    if (value === "") {
        return undefined;
    }
    // An ARN or a name of a secret is a reference, not the secret.
    if (/^arn:/.test(value)) {
        return undefined;
    }
    if (SECRET_VALUE.some((re) => re.test(value))) {
        return "its value looks like a credential";
    }
    if (SECRET_NAME.test(name) && !/(_ARN|_NAME|_ID|_FILE|_PATH|_REGION)$/i.test(name)) {
        return "its name says it holds a credential";
    }
    return undefined;
}

export const ecsNoPlaintextSecrets: ResourceValidationPolicy = {
    name: "ecs-no-plaintext-secrets",
    description: "No container carries a password, key or token in its plain `environment`; use `secrets` (Secrets Manager/SSM) or IAM.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: validateResourceOfType(aws.ecs.TaskDefinition, (td, args, report) => {
        (parseContainers(td.containerDefinitions) ?? []).forEach((c, i) => {
            for (const variable of c.environment ?? []) {
                const name = String(variable.name ?? "");
                const why = secretLooking(name, String(variable.value ?? ""));
                if (why) {
                    report(
                        `${containerLabel(args.type, args.name, c, i)}: environment ${name} is set in plaintext (${why}); ` +
                            "move it to the container's secrets (valueFrom a Secrets Manager ARN) or use IAM auth",
                    );
                }
            }
        });
    }),
};

export const lambdaNoPlaintextSecrets: ResourceValidationPolicy = {
    name: "lambda-no-plaintext-secrets",
    description: "No Lambda function (such as the smoke runner) carries a password, key or token in its environment variables.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: validateResourceOfType(aws.lambda.Function, (fn, args, report) => {
        for (const [name, value] of Object.entries(fn.environment?.variables ?? {})) {
            const why = secretLooking(name, String(value ?? ""));
            if (why) {
                report(
                    `${label(args)}: environment variable ${name} is set in plaintext (${why}); pass a Secrets Manager ARN and read it at run time, or use IAM auth`,
                );
            }
        }
    }),
};

export const ecsLoggingWithRetention: StackValidationPolicy = {
    name: "ecs-logging-with-retention",
    description: "Every container logs with awslogs to a log group of this stack that has a retention period.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateStack: (args, report) => {
        const logGroups = ofType(args.resources, T.logGroup);
        for (const td of ofType(args.resources, T.ecsTaskDefinition)) {
            const raw = peek(td.props, "containerDefinitions");
            if (raw === Unknown) {
                reportAdvisory(
                    report,
                    `${label(td)}: containerDefinitions is unknown until apply, so its logging can't be checked at this preview; it is checked at update`,
                    td.urn,
                );
                continue;
            }
            (parseContainers(raw) ?? []).forEach((c, i) => {
                const where = containerLabel(td.type, td.name, c, i);
                const driver = c.logConfiguration?.logDriver;
                if (driver !== "awslogs") {
                    report(
                        `${where}: logConfiguration.logDriver is ${show(driver)}; set logDriver "awslogs" with awslogs-group naming a log group with retention`,
                        td.urn,
                    );
                    return;
                }
                const groupName = c.logConfiguration?.options?.["awslogs-group"];
                const group = logGroups.find((g) => peek(g.props, "name") === groupName);
                if (!group) {
                    report(
                        `${where}: awslogs-group ${show(groupName)} is not a log group of this stack; create it with aws.cloudwatch.LogGroup and retentionInDays`,
                        td.urn,
                    );
                    return;
                }
                const retention = peek(group.props, "retentionInDays");
                if (!(typeof retention === "number" && retention > 0)) {
                    report(
                        `${where}: its log group ${label(group)} has retentionInDays ${show(retention)} (kept forever); set retentionInDays`,
                        td.urn,
                    );
                }
            });
        }
    },
};

/** Task definitions with the role each one's `prop` (taskRoleArn / executionRoleArn) resolves to. */
export function taskRoles(resources: Parameters<typeof ofType>[0], prop: "taskRoleArn" | "executionRoleArn") {
    const roles = ofType(resources, T.role);
    return ofType(resources, T.ecsTaskDefinition).map((td) => ({ td, ...resolveRefs(td, prop, roles, ["arn", "name", "id"]) }));
}
