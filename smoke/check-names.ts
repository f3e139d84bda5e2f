// The smoke's check names, with no imports: the metrics (and through them the alarms, the policies and the
// cost tool) count the deliberate refusals from the same list the runner makes them from.

export const CHECK = {
    connect: "connect with IAM token",
    tls: "TLS verify-full",
    grants: "grants match spec",
    noTls: "refuses no TLS",
    tampered: "refuses tampered token",
    tokenForOtherUser: "refuses other user's token as ours",
    otherUser: "refuses other user",
    plainPassword: "refuses plain password",
} as const;

/**
 * The attempts the smoke makes on purpose that the server must refuse: one source for negativeSpecs
 * (smoke/checks.ts) and for the count of refusals the smoke publishes, which the auth-failure alarm subtracts.
 */
export const NEGATIVE_CHECKS = [CHECK.noTls, CHECK.tampered, CHECK.tokenForOtherUser, CHECK.otherUser, CHECK.plainPassword] as const;
export type NegativeCheckName = (typeof NEGATIVE_CHECKS)[number];

/**
 * The warning rows (smoke/warnings.ts), run when the stack fronts a database it does not own: each names what
 * should hold; when it does not, the row is a warning (not a failure unless warnings are made to fail).
 */
export const WARNING = {
    forceSsl: "rds.force_ssl on",
    audit: "audit logging on",
    cidr: "no CIDR ingress on the database port",
    publicSchema: "no PUBLIC grant on schema app",
} as const;
