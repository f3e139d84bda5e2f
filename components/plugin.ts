// The component package's entry (package.json "main"): `pulumi package add` loads this module and exposes every
// component class it exports to the other Pulumi languages. Only AuroraIamProxy: its parts take TypeScript-only
// arguments (resources, typed settings) and are exported for TypeScript programs from components/index.ts.
export { AuroraIamProxy } from "./aurora-iam-proxy";
export * from "./args";
