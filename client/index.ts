// The package's entry point: what an application imports.
export { createIamPool, IamPool, IamConnectError } from "./pool";
export type { IamPoolOptions } from "./pool";
export { DEFAULT_RETRY, retryReason, backoffMs } from "./retry";
export type { RetryPolicy, RetryReason } from "./retry";
export { ENV, poolOptionsFromEnv } from "./env";
export type { EnvPoolOptions } from "./env";
export { tokenFactory } from "./token";
export type { Credentials, TokenFactory, TokenSource } from "./token";
export { verifyFullSsl, tlsFacts, tlsShortfall, socketOf } from "./tls";
export type { TlsFacts } from "./tls";
export { classifyError, redact } from "./errors";
export type { ClassifiedError, FailureKind } from "./errors";
export { endpointOf, signedFor } from "./endpoint";
export type { Endpoint } from "./endpoint";
