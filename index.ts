// The Pulumi program: read this stack's settings once, validate all of them, then declare the architecture.
// Invalid settings stop here, before any resource is declared, with one line per problem.
import * as pulumi from "@pulumi/pulumi";
import { parseSettings, SettingsError } from "./components/config";
import { createStack } from "./components/stack";

function loadSettings() {
    try {
        return parseSettings(pulumi.getStack(), pulumi.runtime.allConfig());
    } catch (err) {
        // RunError prints just the message: the problems, not a stack trace through our parser.
        if (err instanceof SettingsError) throw new pulumi.RunError(err.message);
        throw err;
    }
}

export = createStack(loadSettings());
