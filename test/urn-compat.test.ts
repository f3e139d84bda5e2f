// A refactor must never replace a resource of an existing stack. Pulumi matches a registration with the state
// by URN, or by an alias to an old URN; a resource found by neither is created, and the old one deleted.
// Here every resource both stacks declared at release 2 (test/fixtures/urns-release-2.json) must be found again.
import * as assert from "assert";
import { bothStacksAsDeclared, Evaluation, MockResource } from "./harness";
import release2 from "./fixtures/urns-release-2.json";

/**
 * Resources retired on purpose since release 2, each with the reason a reviewer can check. Nothing stateful
 * (a database, a key, a log group, a VPC) may ever be listed here.
 */
const RETIRED: Record<string, string> = Object.fromEntries(
    (["dev", "prod"] as const).flatMap((stack) => [
        [
            `urn:pulumi:${stack}::aurora-iam-proxy::aurora-iam-proxy:index:Monitoring$aws:sns/topicSubscription:TopicSubscription::monitoring-alarms-1`,
            "the placeholder e-mail subscription both stack files shipped (issue 15): SNS deletes it unconfirmed, so every up recreated it",
        ],
        [
            `urn:pulumi:${stack}::aurora-iam-proxy::aurora-iam-proxy:index:Operator$aws:iam/rolePolicyAttachment:RolePolicyAttachment::operator-relay-ssm`,
            "AmazonSSMManagedInstanceCore on the relay's role (issue 15): it could read every parameter; an inline policy holds the agent's actions",
        ],
    ]),
);

/** The URN a resource of `type` named `name` has under `parentUrn` (the root stack: no parent type). */
export function urnUnder(parentUrn: string, type: string, name: string): string {
    const [, stack, project, rest] = /^urn:pulumi:([^:]+)::([^:]+)::(.*)$/.exec(parentUrn)!;
    const parentType = rest.slice(0, rest.lastIndexOf("::"));
    const qualified = parentType === "pulumi:pulumi:Stack" ? type : `${parentType}$${type}`;
    return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
}

/**
 * The URN the engine gives a resource: its type qualified by every ancestor's type. (The mock monitor
 * qualifies by the direct parent's type only, so it is recomputed here from the parent chain.)
 */
export function engineUrn(ev: Evaluation, r: MockResource): string {
    const parent = r.parent ? ev.resources.find((p) => p.urn === r.parent) : undefined;
    return parent ? urnUnder(engineUrn(ev, parent), r.type, r.name) : `urn:pulumi:${ev.stack}::aurora-iam-proxy::${r.type}::${r.name}`;
}

/**
 * Every URN the engine would match a resource's registration with: its own, each alias, and (as the engine
 * does for children) the URN under each of its parent's candidates.
 */
export function candidateUrns(ev: Evaluation): Map<string, MockResource> {
    const memo = new Map<string, string[]>();
    const candidates = (r: MockResource): string[] => {
        const known = memo.get(r.urn);
        if (known) return known;
        const out = new Set([engineUrn(ev, r)]);
        for (const alias of r.aliases) {
            if (alias.urn) out.add(alias.urn);
            else if (alias.spec) {
                const parentUrn = alias.spec.noparent ? undefined : alias.spec.parenturn || r.parent;
                const stackRoot = `urn:pulumi:${ev.stack}::aurora-iam-proxy::pulumi:pulumi:Stack::aurora-iam-proxy-${ev.stack}`;
                out.add(urnUnder(parentUrn ?? stackRoot, alias.spec.type || r.type, alias.spec.name || r.name));
            }
        }
        const parent = r.parent ? ev.resources.find((p) => p.urn === r.parent) : undefined;
        if (parent) for (const p of candidates(parent)) out.add(urnUnder(p, r.type, r.name));
        const list = [...out];
        memo.set(r.urn, list);
        return list;
    };
    const byCandidate = new Map<string, MockResource>();
    for (const r of ev.resources) {
        for (const c of candidates(r)) {
            // The engine refuses two registrations that claim one URN; so does this check.
            const prior = byCandidate.get(c);
            if (prior && prior !== r) throw new Error(`${c} is claimed by ${prior.urn} and ${r.urn}`);
            byCandidate.set(c, r);
        }
    }
    return byCandidate;
}

describe("upgrading a stack of release 2", () => {
    const stacks = bothStacksAsDeclared();

    for (const stack of ["dev", "prod"] as const) {
        it(`finds every resource ${stack} had at release 2 under its old URN or an alias`, () => {
            const ev = stacks[stack]();
            const found = candidateUrns(ev);
            const old: string[] = (release2 as Record<string, string[]>)[stack];
            const lost = old.filter((urn) => !found.has(urn) && !RETIRED[urn]);
            assert.deepStrictEqual(lost, [], `${lost.length} resource(s) would be deleted and created anew`);
            // Each old resource is matched by one resource (candidateUrns refuses two) of the same type.
            for (const urn of old.filter((u) => found.has(u))) {
                assert.strictEqual(found.get(urn)!.type, urn.split("::")[2].split("$").pop(), urn);
            }
        });
    }

    it("moves the parts under the AuroraIamProxy component (the aliases are what keeps them)", () => {
        const ev = stacks.dev();
        const aurora = ev.one("aurora-iam-proxy:index:AuroraIamProxy");
        const cluster = ev.one("aws:rds/cluster:Cluster");
        const urn = engineUrn(ev, cluster);
        assert.notStrictEqual(
            urn,
            release2.dev.find((u) => u.endsWith("::database-cluster")),
        );
        assert.strictEqual(
            urn,
            "urn:pulumi:dev::aurora-iam-proxy::aurora-iam-proxy:index:AuroraIamProxy$aurora-iam-proxy:index:Database$aws:rds/cluster:Cluster::database-cluster",
        );
        assert.strictEqual(ev.byUrn(cluster.parent!).parent, aurora.urn);
    });

    it("would lose a part whose alias is missing (the check can fail)", () => {
        const ev = stacks.dev();
        const withoutAliases: Evaluation = { ...ev, resources: ev.resources.map((r) => ({ ...r, aliases: [] })) };
        const found = candidateUrns(withoutAliases);
        assert.ok(!found.has(release2.dev.find((u) => u.endsWith("::database-cluster"))!));
    });
});
