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
    const ranges: Array<[string, number]> = [["10.0.0.0", 8], ["172.16.0.0", 12], ["192.168.0.0", 16]];
    return ranges.some(([addr, p]) => {
        const r = parseIpv4Cidr(`${addr}/${p}`) as { base: number; prefix: number };
        return prefix >= p && Math.floor(base / 2 ** (32 - p)) === Math.floor(r.base / 2 ** (32 - p));
    });
}
