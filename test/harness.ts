// The tests' view of the mock cloud; `npm start` uses the same module to print the plan.
export * from "../smoke/local/mock-cloud";
