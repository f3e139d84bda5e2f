// A throwaway certificate authority for one local data plane: it lives in the plane's temp folder
// and dies with it. Clients verify the stand-in and the stand-in verifies PostgreSQL against it,
// exactly as an ECS task verifies RDS Proxy against the Amazon RDS CA bundle.
// Keys are generated and certificates signed by Node's native crypto (fast; generateKeyPairs runs off
// the main thread); node-forge only assembles the X.509 certificates.

import { generateKeyPair, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { promisify } from "node:util";
import forge from "node-forge";

/** An RSA key pair as PEM (SPKI public key, PKCS#8 private key). */
export interface KeyPairPem {
    publicKey: string;
    privateKey: string;
}

const RSA_OPTIONS = {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
} as const;

/** `count` key pairs generated concurrently on libuv's thread pool, leaving the event loop free. */
export async function generateKeyPairs(count: number): Promise<KeyPairPem[]> {
    const generate = promisify(generateKeyPair) as unknown as (type: "rsa", options: typeof RSA_OPTIONS) => Promise<KeyPairPem>;
    return Promise.all(Array.from({ length: count }, () => generate("rsa", RSA_OPTIONS)));
}

export interface IssuedCertificate {
    certPem: string;
    keyPem: string;
}

export interface ThrowawayCa {
    caPem: string;
    /** For the servers (stand-in and PostgreSQL): DNS localhost and IP 127.0.0.1. */
    server: IssuedCertificate;
    /** Issues a client certificate whose CN is a PostgreSQL role (for hostssl ... cert). */
    issueClient(commonName: string): IssuedCertificate;
}

const ONE_DAY_MS = 24 * 60 * 60 * 1000;

function rsaKeyPair(pool: KeyPairPem[]): { publicKey: forge.pki.PublicKey; keyPem: string } {
    const { publicKey, privateKey } = pool.shift() ?? generateKeyPairSync("rsa", RSA_OPTIONS);
    return { publicKey: forge.pki.publicKeyFromPem(publicKey), keyPem: privateKey };
}

/**
 * forge's sign() with the RSA operation done natively (forge's own is pure JavaScript and slow): forge
 * hands the "key" a digest it fed with the to-be-signed DER, which we record and sign with Node.
 */
function signNatively(cert: forge.pki.Certificate, privateKeyPem: string): void {
    const md = forge.md.sha256.create();
    let tbs = "";
    const update = md.update.bind(md);
    md.update = (bytes: string, encoding?: forge.Encoding) => {
        tbs += bytes;
        return update(bytes, encoding);
    };
    const nativeKey = { sign: () => sign("sha256", Buffer.from(tbs, "binary"), privateKeyPem).toString("binary") };
    cert.sign(nativeKey as unknown as forge.pki.rsa.PrivateKey, md);
}

function newCertificate(publicKey: forge.pki.PublicKey, commonName: string, issuer: forge.pki.CertificateField[] | null): forge.pki.Certificate {
    const cert = forge.pki.createCertificate();
    cert.publicKey = publicKey;
    // Positive 16-byte serial (high bit cleared), unique per certificate.
    const serial = randomBytes(16);
    serial[0] &= 0x7f;
    cert.serialNumber = serial.toString("hex");
    // Backdated a little so a client whose clock is slightly behind still accepts it.
    cert.validity.notBefore = new Date(Date.now() - 60 * 60 * 1000);
    cert.validity.notAfter = new Date(Date.now() + 2 * ONE_DAY_MS);
    const subject = [
        { name: "commonName", value: commonName },
        { name: "organizationName", value: "aurora-iam-proxy local rehearsal" },
    ];
    cert.setSubject(subject);
    cert.setIssuer(issuer ?? subject);
    return cert;
}

/** `keys`: pre-generated key pairs (generateKeyPairs) used first; more are generated as needed. */
export function createThrowawayCa(o: { keys?: KeyPairPem[] } = {}): ThrowawayCa {
    const pool = [...(o.keys ?? [])];
    const caKeys = rsaKeyPair(pool);
    const caCert = newCertificate(caKeys.publicKey, "aurora-iam-proxy local throwaway CA", null);
    caCert.setExtensions([
        { name: "basicConstraints", cA: true, critical: true, pathLenConstraint: 0 },
        { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
        { name: "subjectKeyIdentifier" },
    ]);
    signNatively(caCert, caKeys.keyPem);

    const issue = (commonName: string, extensions: object[]): IssuedCertificate => {
        const keys = rsaKeyPair(pool);
        const cert = newCertificate(keys.publicKey, commonName, caCert.subject.attributes);
        cert.setExtensions([
            { name: "basicConstraints", cA: false, critical: true },
            { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
            { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
            ...extensions,
        ]);
        signNatively(cert, caKeys.keyPem);
        return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem };
    };

    return {
        caPem: forge.pki.certificateToPem(caCert),
        server: issue("localhost", [
            { name: "extKeyUsage", serverAuth: true },
            {
                name: "subjectAltName",
                altNames: [
                    { type: 2, value: "localhost" },
                    { type: 7, ip: "127.0.0.1" },
                ],
            },
        ]),
        issueClient: (commonName) => issue(commonName, [{ name: "extKeyUsage", clientAuth: true }]),
    };
}
