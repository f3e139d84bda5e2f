// Small pure checks shared by the settings parser and the components. Each throws nothing: it returns
// the reason a value is not allowed, or undefined, so callers can name the stack and key in their error.

/** AWS's allowed characters for security-group and rule descriptions (EC2 API, GroupDescription). */
const AWS_DESCRIPTION = /^[a-zA-Z0-9. _\-:/()#,@[\]+=&;{}!$*]*$/;

/** Why `text` cannot be a security-group or rule description, or undefined if AWS will accept it. */
export function descriptionProblem(text: string): string | undefined {
    if (text.length === 0) return "is empty";
    if (text.length >= 256) return `is ${text.length} characters; AWS allows at most 255`;
    const bad = [...new Set([...text].filter((ch) => !AWS_DESCRIPTION.test(ch)))];
    if (bad.length > 0) {
        const shown = bad.map((ch) => JSON.stringify(ch)).join(", ");
        return `contains ${shown}, which AWS rejects; allowed: a-z A-Z 0-9 space and . _ - : / ( ) # , @ [ ] + = & ; { } ! $ *`;
    }
    return undefined;
}

/** Throws a one-line error if AWS would reject `text` as a security-group or rule description. */
export function assertDescription(owner: string, text: string): string {
    const problem = descriptionProblem(text);
    if (problem) throw new Error(`${owner}: description ${JSON.stringify(text)} ${problem}`);
    return text;
}

/** Why `name` cannot be a PostgreSQL user or database name, or undefined (defined with the users, in access/). */
export { pgIdentifierProblem } from "../access/users";

/** Parses an IPv4 CIDR. Returns the base address as a 32-bit number and the prefix, or a reason. */
export function parseIpv4Cidr(cidr: string): { base: number; prefix: number } | string {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
    if (!m) return "is not an IPv4 CIDR like 10.20.0.0/16";
    const octets = m.slice(1, 5).map(Number);
    if (octets.some((o) => o > 255)) return "has an octet above 255";
    const prefix = Number(m[5]);
    if (prefix > 32) return "has a prefix above 32";
    const base = octets.reduce((acc, o) => acc * 256 + o, 0);
    const size = 2 ** (32 - prefix);
    if (base % size !== 0) {
        return `has host bits set; the network address for /${prefix} is ${formatIpv4(base - (base % size))}`;
    }
    return { base, prefix };
}

export function formatIpv4(n: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

/** True when the address block lies inside the RFC 1918 private ranges. */
export function isPrivateIpv4(base: number, prefix: number): boolean {
    const ranges: Array<[string, number]> = [
        ["10.0.0.0", 8],
        ["172.16.0.0", 12],
        ["192.168.0.0", 16],
    ];
    return ranges.some(([addr, p]) => {
        const r = parseIpv4Cidr(`${addr}/${p}`) as { base: number; prefix: number };
        return prefix >= p && Math.floor(base / 2 ** (32 - p)) === Math.floor(r.base / 2 ** (32 - p));
    });
}

/** The candidate closest to `word` by edit distance, if it is close enough to be a likely typo; else undefined. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const c of candidates) {
        const d = editDistance(word.toLowerCase(), c.toLowerCase());
        if (d < bestDistance) {
            best = c;
            bestDistance = d;
        }
    }
    return bestDistance <= Math.max(2, Math.floor(word.length / 4)) ? best : undefined;
}

/** Levenshtein distance: insertions, deletions and substitutions of one character each cost 1. */
export function editDistance(a: string, b: string): number {
    let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const current = [i];
        for (let j = 1; j <= b.length; j++) {
            current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
        previous = current;
    }
    return previous[b.length];
}

/** A container image reference split into its parts. */
export interface ImageReference {
    /** Registry host[:port], or undefined for Docker Hub. */
    registry?: string;
    /** The repository path, lower case, e.g. "docker/library/node". */
    repository: string;
    tag?: string;
    /** "sha256:<64 hex>". */
    digest?: string;
}

// The reference grammar of github.com/distribution/reference (reference.go and regexp.go), which Docker,
// containerd and the ECS agent parse image names with:
//   reference := name [":" tag] ["@" digest];  name := [domain "/"] path-component ["/" path-component]*
//   path-component := [a-z0-9]+ (separator [a-z0-9]+)*;  separator := [._] | "__" | "-"+
//   domain := host [":" port];  host := domain-name | "[" IPv6 "]";  tag := [\w][\w.-]{0,127}
// One deliberate tightening, after Docker's normalisation (splitDockerDomain): the first component is read
// as a registry only if it has a "." or a ":" port or is "localhost"; otherwise it is part of the path on
// Docker Hub and must be lower case like the rest. A digest must be sha256 with 64 lower-case hex digits
// (opencontainers/go-digest), the only algorithm registries and ECS use.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const REGISTRY = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Parses an image reference, or returns why it is not one (a phrase to follow the value in an error). */
export function parseImageReference(ref: string): ImageReference | string {
    const allowed =
        "expected [registry[:port]/]repository[:tag][@sha256:<64 hex>], e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:1.4.2";
    if (ref.length === 0) return `is empty; ${allowed}`;
    let rest = ref;
    let digest: string | undefined;
    const at = rest.indexOf("@");
    if (at >= 0) {
        digest = rest.slice(at + 1);
        rest = rest.slice(0, at);
        if (!DIGEST.test(digest)) return `has digest ${JSON.stringify(digest)}; a digest is sha256: and 64 lower-case hex digits`;
    }
    let tag: string | undefined;
    const slash = rest.lastIndexOf("/");
    const colon = rest.lastIndexOf(":");
    if (colon > slash) {
        tag = rest.slice(colon + 1);
        rest = rest.slice(0, colon);
        if (!TAG.test(tag))
            return `has tag ${JSON.stringify(tag)}; a tag is 1-128 of A-Z a-z 0-9 _ . - and starts with a letter, digit or _`;
    }
    const parts = rest.split("/");
    let registry: string | undefined;
    if (parts.length > 1 && (/[.:]/.test(parts[0]) || parts[0] === "localhost")) {
        registry = parts.shift();
        if (!REGISTRY.test(registry!))
            return `has registry ${JSON.stringify(registry)}, which is not a host name or IP with an optional :port; ${allowed}`;
    }
    const repository = parts.join("/");
    const bad = parts.find((p) => !PATH_COMPONENT.test(p));
    if (bad !== undefined) {
        const hint =
            bad !== bad.toLowerCase() && PATH_COMPONENT.test(bad.toLowerCase())
                ? "repository names must be lower case"
                : "each path component is a-z 0-9 joined by . _ __ or -";
        return `has repository component ${JSON.stringify(bad)}: ${hint}; ${allowed}`;
    }
    if (repository.length > 255) return `has a ${repository.length}-character repository; at most 255`;
    return { ...(registry ? { registry } : {}), repository, ...(tag !== undefined ? { tag } : {}), ...(digest ? { digest } : {}) };
}
