// The package's resource type tokens, in one place. `pulumi package add` derives the component's token from
// package.json's name and the class name (test/schema.test.ts checks it), and every existing stack's URNs hold
// these strings (test/urn-compat.test.ts spells them out, on purpose, so a change here fails there).

/** The package name, as in package.json and PulumiPlugin.yaml's schema. */
export const PACKAGE = "aurora-iam-proxy";

/** `aurora-iam-proxy:index:<Name>` for the component and each of its parts (and the example's Ecs). */
export const TYPE = {
    AuroraIamProxy: `${PACKAGE}:index:AuroraIamProxy`,
    Secrets: `${PACKAGE}:index:Secrets`,
    Network: `${PACKAGE}:index:Network`,
    Database: `${PACKAGE}:index:Database`,
    Proxy: `${PACKAGE}:index:Proxy`,
    Smoke: `${PACKAGE}:index:Smoke`,
    Monitoring: `${PACKAGE}:index:Monitoring`,
    Operator: `${PACKAGE}:index:Operator`,
    Ecs: `${PACKAGE}:index:Ecs`,
} as const;
