// The cluster security groups' rules, read at run time for the smoke's CIDR warning: one EC2 Query API call,
// DescribeSecurityGroupRules filtered by group-id, signed with SigV4 (@smithy/signature-v4, already in the
// bundle). @aws-sdk/client-ec2 would do the same for ~1 MiB more bundle (measured: 520 -> 1589 KiB).
// Sources: EC2 API Reference, DescribeSecurityGroupRules (Filter.N group-id, MaxResults 5-1000, NextToken) and
// SecurityGroupRule; the response's element names as @aws-sdk/client-ec2 3.1169.0 deserialises them
// (securityGroupRuleSet/item: securityGroupRuleId, groupId, isEgress, ipProtocol, fromPort, toPort, cidrIpv4,
// cidrIpv6, prefixListId, referencedGroupInfo). API version 2016-11-15.

import { request } from "node:https";
import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { Credentials } from "../client/token";
import { SECURITY_GROUP_ID } from "./aws-ids";

/** One rule as DescribeSecurityGroupRules returns it (the fields the CIDR warning reads). */
export interface SecurityGroupRule {
    securityGroupRuleId: string;
    groupId: string;
    isEgress: boolean;
    /** "tcp", "udp", "icmp", a protocol number, or "-1" for all. */
    ipProtocol: string;
    /** -1 with ipProtocol "-1" (all ports). */
    fromPort: number;
    toPort: number;
    cidrIpv4?: string;
    cidrIpv6?: string;
    prefixListId?: string;
    /** The source security group, for a rule that admits a group instead of addresses. */
    referencedGroupId?: string;
}

/** Reads the rules of these security groups; throws with a one-line reason. */
export type SecurityGroupRulesReader = (groupIds: string[]) => Promise<SecurityGroupRule[]>;

const EC2_API_VERSION = "2016-11-15";
const MAX_PAGES = 20;

/** The regional EC2 endpoint (China regions use amazonaws.com.cn). */
export function ec2Host(region: string): string {
    return region.startsWith("cn-") ? `ec2.${region}.amazonaws.com.cn` : `ec2.${region}.amazonaws.com`;
}

/** The query string of one page of DescribeSecurityGroupRules for these groups. */
export function describeRulesBody(groupIds: string[], nextToken?: string): string {
    const params = new URLSearchParams({ Action: "DescribeSecurityGroupRules", Version: EC2_API_VERSION, "Filter.1.Name": "group-id" });
    groupIds.forEach((id, i) => params.set(`Filter.1.Value.${i + 1}`, id));
    params.set("MaxResults", "1000");
    if (nextToken) params.set("NextToken", nextToken);
    return params.toString();
}

interface XmlNode {
    name: string;
    children: XmlNode[];
    text: string;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decode(text: string): string {
    return text.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) =>
        e.startsWith("#x")
            ? String.fromCodePoint(parseInt(e.slice(2), 16))
            : e.startsWith("#")
              ? String.fromCodePoint(Number(e.slice(1)))
              : ENTITIES[e],
    );
}

/** A small XML reader for EC2's responses: elements, text and nesting (no attributes, comments or CDATA are needed). */
export function parseXml(xml: string): XmlNode {
    const root: XmlNode = { name: "#document", children: [], text: "" };
    const stack: XmlNode[] = [root];
    const token = /<\?[^>]*\?>|<!--[\s\S]*?-->|<(\/?)([A-Za-z_][\w:.-]*)[^>]*?(\/?)>|([^<]+)/g;
    for (let m = token.exec(xml); m !== null; m = token.exec(xml)) {
        const [, closing, name, selfClosing, text] = m;
        const top = stack[stack.length - 1];
        if (text !== undefined) {
            top.text += decode(text);
        } else if (name === undefined) {
            continue;
        } else if (closing) {
            if (top.name !== name) throw new Error(`malformed XML: </${name}> closes <${top.name}>`);
            stack.pop();
        } else {
            const node: XmlNode = { name, children: [], text: "" };
            top.children.push(node);
            if (!selfClosing) stack.push(node);
        }
    }
    if (stack.length !== 1) throw new Error(`malformed XML: <${stack[stack.length - 1].name}> is not closed`);
    return root;
}

function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
    return node?.children.find((c) => c.name === name);
}

function textOf(node: XmlNode | undefined, name: string): string | undefined {
    const value = child(node, name)?.text.trim();
    return value === undefined || value === "" ? undefined : value;
}

/** The rules and the next page's token from one DescribeSecurityGroupRules response body. */
export function parseDescribeRules(xml: string): { rules: SecurityGroupRule[]; nextToken?: string } {
    const response = parseXml(xml).children.find((c) => c.name === "DescribeSecurityGroupRulesResponse");
    if (!response) throw new Error("DescribeSecurityGroupRules returned no DescribeSecurityGroupRulesResponse element");
    const items = child(response, "securityGroupRuleSet")?.children.filter((c) => c.name === "item") ?? [];
    const rules = items.map((item): SecurityGroupRule => {
        const port = (name: string) => {
            const value = Number(textOf(item, name) ?? "-1");
            return Number.isInteger(value) ? value : -1;
        };
        const optional = (name: string) => textOf(item, name);
        const referenced = textOf(child(item, "referencedGroupInfo"), "groupId");
        return {
            securityGroupRuleId: optional("securityGroupRuleId") ?? "",
            groupId: optional("groupId") ?? "",
            isEgress: optional("isEgress") === "true",
            ipProtocol: optional("ipProtocol") ?? "-1",
            fromPort: port("fromPort"),
            toPort: port("toPort"),
            ...(optional("cidrIpv4") ? { cidrIpv4: optional("cidrIpv4") } : {}),
            ...(optional("cidrIpv6") ? { cidrIpv6: optional("cidrIpv6") } : {}),
            ...(optional("prefixListId") ? { prefixListId: optional("prefixListId") } : {}),
            ...(referenced ? { referencedGroupId: referenced } : {}),
        };
    });
    const nextToken = textOf(response, "nextToken");
    return { rules, ...(nextToken ? { nextToken } : {}) };
}

/** EC2's error document (<Response><Errors><Error><Code/><Message/>) as one line. */
export function ec2ErrorLine(status: number, xml: string): string {
    try {
        const error = child(
            child(
                parseXml(xml).children.find((c) => c.name === "Response"),
                "Errors",
            ),
            "Error",
        );
        const code = textOf(error, "Code");
        if (code) return `${code}: ${(textOf(error, "Message") ?? "").replace(/\s+/g, " ")} (HTTP ${status})`;
    } catch {
        // not XML: fall through
    }
    return `HTTP ${status}`;
}

export interface Ec2ReaderOptions {
    region: string;
    credentials: Credentials;
    /** Bound on each page's request, connection to last byte. Default 5000 ms. */
    timeoutMs?: number;
    /** Sends one signed request; default HTTPS to the regional endpoint (tests inject a stand-in). */
    send?: (
        req: { host: string; path: string; headers: Record<string, string>; body: string },
        timeoutMs: number,
    ) => Promise<{ status: number; body: string }>;
}

function httpsSend(
    req: { host: string; path: string; headers: Record<string, string>; body: string },
    timeoutMs: number,
): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const r = request({ host: req.host, path: req.path, method: "POST", headers: req.headers, timeout: timeoutMs }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
            res.on("error", reject);
        });
        // A hard bound on the whole exchange, not only on idle sockets.
        const timer = setTimeout(() => r.destroy(new Error(`no answer from ${req.host} within ${timeoutMs} ms`)), timeoutMs);
        r.on("close", () => clearTimeout(timer));
        r.on("timeout", () => r.destroy(new Error(`no answer from ${req.host} within ${timeoutMs} ms`)));
        r.on("error", reject);
        r.end(req.body);
    });
}

/** DescribeSecurityGroupRules over SigV4 (service "ec2"), every page. */
export function ec2RulesReader(o: Ec2ReaderOptions): SecurityGroupRulesReader {
    const signer = new SignatureV4({ service: "ec2", region: o.region, credentials: o.credentials, sha256: Sha256 });
    const send = o.send ?? httpsSend;
    const timeoutMs = o.timeoutMs ?? 5_000;
    const host = ec2Host(o.region);
    return async (groupIds) => {
        for (const id of groupIds) {
            if (!SECURITY_GROUP_ID.test(id))
                throw new Error(`security group id ${JSON.stringify(id)} is not one; expected sg- and 8 or 17 hex digits`);
        }
        const rules: SecurityGroupRule[] = [];
        let nextToken: string | undefined;
        for (let page = 0; page < MAX_PAGES; page++) {
            const body = describeRulesBody(groupIds, nextToken);
            const signed = await signer.sign(
                new HttpRequest({
                    method: "POST",
                    protocol: "https:",
                    hostname: host,
                    path: "/",
                    headers: { host, "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
                    body,
                }),
            );
            const response = await send({ host, path: "/", headers: signed.headers as Record<string, string>, body }, timeoutMs);
            if (response.status !== 200) throw new Error(`EC2 DescribeSecurityGroupRules: ${ec2ErrorLine(response.status, response.body)}`);
            const parsed = parseDescribeRules(response.body);
            rules.push(...parsed.rules);
            nextToken = parsed.nextToken;
            if (!nextToken) return rules;
        }
        throw new Error(`EC2 DescribeSecurityGroupRules: more than ${MAX_PAGES} pages of rules for ${groupIds.join(", ")}`);
    };
}
