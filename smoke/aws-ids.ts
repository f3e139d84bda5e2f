// AWS resource ids as AWS issues them: a prefix and 8 or 17 lower-case hex digits. One home, no imports, so the
// settings parser, the adoption check and the smoke's warning rows can read it without loading an AWS client.

/** A security group id: sg- and 8 or 17 hex digits. */
export const SECURITY_GROUP_ID = /^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
