// Lets Node require our TypeScript: npm's scripts run `node -r ./scripts/ts-register.js file.ts`, and
// mocha (.mocharc.json) and the tests' child processes load it the same way. esbuild only strips the
// types, file by file, as `tsc` would emit them for this tsconfig (CommonJS, ES2022, import() as
// require()); type checking is `tsc --noEmit`, the first half of `npm test`. It replaced
// `ts-node --transpile-only`, which loads the whole TypeScript compiler (~0.6 s) into every process
// and transpiles several times slower. `pulumi up` still loads index.ts with its own ts-node.
"use strict";
const fs = require("fs");
const path = require("path");
const Module = require("module");
const esbuild = require("esbuild");

const { compilerOptions } = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "tsconfig.json"), "utf8"));
const options = {
    loader: "ts",
    format: "cjs",
    target: "node20",
    // tsc with module commonjs turns import() into require(); so do we, so that a dynamically imported
    // module is the same instance as a required one (the Pulumi mocks depend on it).
    supported: { "dynamic-import": false },
    tsconfigRaw: { compilerOptions },
    sourcemap: "inline",
    sourcesContent: false,
};

// Stack traces name the .ts file and line.
process.setSourceMapsEnabled(true);

Module._extensions[".ts"] = function compileTypeScript(module, filename) {
    const source = fs.readFileSync(filename, "utf8");
    const { code } = esbuild.transformSync(source, { ...options, sourcefile: filename });
    module._compile(code, filename);
    module.exports = assignableExports(module.exports);
};

/**
 * esbuild exports a module's names as getters without setters; tsc's CommonJS output assigns them as
 * plain properties, which a test may replace (`require("../smoke/lambda/bundle").bundle = ...`) so
 * that every importer, which reads `module.name` at each call, sees the replacement. Same object
 * shape, still live, and assignable again.
 */
function assignableExports(exports) {
    if (exports === null || typeof exports !== "object" || !Object.prototype.hasOwnProperty.call(exports, "__esModule")) return exports;
    const out = {};
    for (const key of Object.getOwnPropertyNames(exports)) {
        const own = Object.getOwnPropertyDescriptor(exports, key);
        if (!own.get || own.set) {
            Object.defineProperty(out, key, own);
            continue;
        }
        Object.defineProperty(out, key, {
            enumerable: own.enumerable,
            configurable: true,
            get: own.get,
            set(value) {
                Object.defineProperty(out, key, { value, writable: true, enumerable: own.enumerable, configurable: true });
            },
        });
    }
    return out;
}
