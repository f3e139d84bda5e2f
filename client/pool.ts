// The connection helper the application uses: a pg.Pool that authenticates to
// RDS Proxy with IAM and verifies TLS fully.

import { Pool, PoolConfig } from "pg";
import { Credentials, tokenFactory } from "./token";
import { verifyFullSsl } from "./tls";

export interface IamPoolOptions {
  /** Where to connect: the proxy endpoint, or 127.0.0.1 through a tunnel (then set proxyHost). */
  host: string;
  port: number;
  /**
   * Through a tunnel: the proxy's DNS name, which TLS verifies and tokens are signed for (default host),
   * and its port, 5432 (default port). Tokens signed for 127.0.0.1 are refused ("PAM authentication failed").
   */
  proxyHost?: string;
  proxyPort?: number;
  database: string;
  user: string;
  region: string;
  /** Extra trusted CA bundle (PEM), added to Node's roots. */
  caPem?: string;
  /** Explicit credentials; default: the AWS SDK chain (the ECS task role). */
  credentials?: Credentials;
  max?: number;
  idleTimeoutMillis?: number;
  connectionTimeoutMillis?: number;
  /** Client-side bound on each query, in ms. */
  queryTimeoutMillis?: number;
  /** Other pg.Pool settings; cannot override host, user, password or ssl. */
  extra?: Omit<PoolConfig, "host" | "port" | "database" | "user" | "password" | "ssl" | "connectionString">;
}

/**
 * The password is a FUNCTION, which pg calls each time the pool opens a new
 * connection, so every connection is authenticated with a freshly signed token.
 *
 * Why: an RDS IAM token is valid for 15 minutes, and only at authentication.
 * A token fetched once at start-up keeps already-open connections working but
 * makes every connection the pool opens after those 15 minutes (scale-up,
 * replacement after idle timeout or a proxy failover) fail with
 * "PAM authentication failed", typically hours into a deployment.
 */
export function createIamPool(options: IamPoolOptions): Pool {
  const name = options.proxyHost ?? options.host;
  const nextToken = tokenFactory({ ...options, host: name, port: options.proxyPort ?? options.port });
  return new Pool({
    ...options.extra,
    host: options.host,
    port: options.port,
    database: options.database,
    user: options.user,
    password: () => nextToken(),
    ssl: verifyFullSsl(name, options.caPem),
    max: options.max ?? 10,
    idleTimeoutMillis: options.idleTimeoutMillis ?? 30_000,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5_000,
    ...(options.queryTimeoutMillis !== undefined ? { query_timeout: options.queryTimeoutMillis } : {}),
  });
}
