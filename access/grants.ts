// The access spec, the bootstrap SQL, executing it, the observed grants and their diff live in their own files;
// this module gathers them for callers that want the whole access room at once.
export * from "./spec";
export * from "./bootstrap-sql";
export * from "./bootstrap";
export * from "./observe";
export * from "./diff";
