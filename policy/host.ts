// Runs the pack through @pulumi/policy's own analyzer handlers (the code `pulumi preview
// --policy-pack` talks to over gRPC), in-process and without a server: requests are built as the
// engine builds them (protobuf Structs carrying the engine's unknown sentinels, property
// dependencies as URN lists) and the diagnostics are read back. The tests use it to show that
// policy/run.ts judges exactly as the engine's host does.
import { EnforcementLevel, Policies } from "@pulumi/policy";
import { PACK_NAME, PACK_VERSION, policies as packPolicies } from "./policies";
import { PolicyResourceLike, Violation } from "./run";
import { UNKNOWN } from "./util";
import * as pulumi from "@pulumi/pulumi";

/* eslint-disable @typescript-eslint/no-var-requires */
const analyzerproto = require("@pulumi/pulumi/proto/analyzer_pb");
const { Struct } = require("google-protobuf/google/protobuf/struct_pb");
const server = require("@pulumi/policy/server");
const protoutil = require("@pulumi/policy/protoutil");
/* eslint-enable @typescript-eslint/no-var-requires */

/** The engine sends unknowns as a sentinel string and never sends undefined. */
function wire(value: unknown): unknown {
    if (pulumi.isUnknown(value)) {
        return UNKNOWN;
    }
    if (Array.isArray(value)) {
        return value.map((v) => (v === undefined ? null : wire(v)));
    }
    if (value !== null && typeof value === "object") {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) {
            if (v !== undefined) {
                out[k] = wire(v);
            }
        }
        return out;
    }
    return value;
}

function options(r: PolicyResourceLike) {
    const o = new analyzerproto.AnalyzerResourceOptions();
    o.setProtect(false);
    if (r.parent) {
        o.setParent(r.parent);
    }
    return o;
}

function providerOf(r: PolicyResourceLike, byUrn: Map<string, PolicyResourceLike>) {
    const ref = r.provider;
    const urn = ref && ref.split("::").length > 4 ? ref.slice(0, ref.lastIndexOf("::")) : ref;
    const p = urn ? byUrn.get(urn) : undefined;
    if (!p) {
        return undefined;
    }
    const provider = new analyzerproto.AnalyzerProviderResource();
    provider.setType(p.type);
    provider.setName(p.name);
    provider.setUrn(p.urn);
    provider.setProperties(Struct.fromJavaScript(wire(p.inputs)));
    return provider;
}

function call(handler: (call: unknown, cb: (err: unknown, res: any) => void) => unknown, request: unknown): Promise<any> {
    return new Promise((resolve, reject) => {
        handler({ request }, (err, res) => (err ? reject(err) : resolve(res)));
    });
}

function violationsOf(response: any, policies: Policies): Violation[] {
    return response.getDiagnosticsList().map((d: any) => {
        const description = policies.find((p) => p.name === d.getPolicyname())?.description ?? "";
        const message: string = d.getMessage();
        return {
            policyName: d.getPolicyname(),
            enforcementLevel: protoutil.convertEnforcementLevel(d.getEnforcementlevel()) as EnforcementLevel,
            // String reports arrive as "<description>\n<message>"; keep the message.
            message: message.startsWith(description + "\n") ? message.slice(description.length + 1) : message,
            urn: d.getUrn() || undefined,
        };
    });
}

/** Analyze (each resource's inputs) then AnalyzeStack (all outputs), as the engine does at preview. */
export async function analyzeViaHost(resources: PolicyResourceLike[], policies: Policies = packPolicies): Promise<Violation[]> {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const analyze = server.makeAnalyzeRpcFun(PACK_NAME, PACK_VERSION, "mandatory", policies);
    const analyzeStack = server.makeAnalyzeStackRpcFun(PACK_NAME, PACK_VERSION, "mandatory", policies);
    const violations: Violation[] = [];

    for (const r of resources) {
        const req = new analyzerproto.AnalyzeRequest();
        req.setType(r.type);
        req.setName(r.name);
        req.setUrn(r.urn);
        req.setProperties(Struct.fromJavaScript(wire(r.inputs)));
        req.setOptions(options(r));
        const provider = providerOf(r, byUrn);
        if (provider) {
            req.setProvider(provider);
        }
        violations.push(...violationsOf(await call(analyze, req), policies).map((v) => ({ ...v, urn: v.urn ?? r.urn })));
    }

    const stackReq = new analyzerproto.AnalyzeStackRequest();
    stackReq.setResourcesList(
        resources.map((r) => {
            const res = new analyzerproto.AnalyzerResource();
            res.setType(r.type);
            res.setName(r.name);
            res.setUrn(r.urn);
            const state = { ...(r.state ?? r.inputs) };
            if (state.id === undefined && r.id) {
                state.id = r.id;
            }
            res.setProperties(Struct.fromJavaScript(wire(state)));
            res.setOptions(options(r));
            if (r.parent) {
                res.setParent(r.parent);
            }
            res.setDependenciesList(r.dependencies ?? []);
            const deps = res.getPropertydependenciesMap();
            for (const [k, urns] of Object.entries(r.propertyDependencies ?? {})) {
                const d = new analyzerproto.AnalyzerPropertyDependencies();
                d.setUrnsList(urns);
                deps.set(k, d);
            }
            const provider = providerOf(r, byUrn);
            if (provider) {
                res.setProvider(provider);
            }
            return res;
        }),
    );
    violations.push(...violationsOf(await call(analyzeStack, stackReq), policies));
    return violations;
}
