// For TypeScript programs: AuroraIamProxy with its Args, and its parts for those who compose their own.
export { AuroraIamProxy } from "./aurora-iam-proxy";
export * from "./args";
export { Secrets } from "./secrets";
export { Network, existingSubnetProblems } from "./network";
export { Database } from "./database";
export { Proxy } from "./proxy";
export { Smoke } from "./smoke";
export { Monitoring } from "./monitoring";
export { Operator } from "./operator";
export { Ecs } from "./ecs";
export { resolveArgs, parseSettings, SettingsError } from "./config";
