import { generateKeyPairSync, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import forge from "node-forge";

/** A PEM certificate and its PEM (PKCS#8) private key. */
export interface Issued {
  certificate: string;
  privateKey: string;
}

const DAY_MS = 86_400_000;

function rsaKeyPair() {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  return { privateKey, signer: forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey, publicKey: forge.pki.publicKeyFromPem(publicKey) };
}

/** A throwaway certificate authority for tests: it issues server and client certificates. */
export class CertificateAuthority {
  private constructor(
    private readonly key: ReturnType<typeof rsaKeyPair>,
    private readonly subject: forge.pki.CertificateField[],
    readonly certificate: string,
  ) {}

  static create(name: string): CertificateAuthority {
    const key = rsaKeyPair();
    const subject = [{ name: "commonName", value: name }];
    const certificate = build(key.publicKey, subject, subject, key.signer, [
      { name: "basicConstraints", cA: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true },
    ]);
    return new CertificateAuthority(key, subject, certificate);
  }

  /** A certificate for `commonName`: a server one for 127.0.0.1, or a client one. `expired` makes it end yesterday. */
  issue(commonName: string, use: "server" | "client", options: { expired?: boolean } = {}): Issued {
    const key = rsaKeyPair();
    const extensions =
      use === "server"
        ? [
            { name: "extKeyUsage", serverAuth: true },
            { name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] },
          ]
        : [{ name: "extKeyUsage", clientAuth: true }];
    const certificate = build(key.publicKey, [{ name: "commonName", value: commonName }], this.subject, this.key.signer, extensions, options.expired);
    return { certificate, privateKey: key.privateKey };
  }
}

function build(
  publicKey: forge.pki.PublicKey,
  subject: forge.pki.CertificateField[],
  issuer: forge.pki.CertificateField[],
  signer: forge.pki.rsa.PrivateKey,
  extensions: object[],
  expired = false,
): string {
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = publicKey;
  certificate.serialNumber = `01${randomBytes(8).toString("hex")}`;
  const now = Date.now();
  certificate.validity.notBefore = new Date(now - (expired ? 30 : 1) * DAY_MS);
  certificate.validity.notAfter = new Date(expired ? now - DAY_MS : now + 365 * DAY_MS);
  certificate.setSubject(subject);
  certificate.setIssuer(issuer);
  certificate.setExtensions(extensions);
  certificate.sign(signer, forge.md.sha256.create());
  return forge.pki.certificateToPem(certificate);
}

/**
 * A real HTTPS webhook receiver on 127.0.0.1 that asks for a client
 * certificate and refuses connections without one issued by `clientCa`.
 * It records the common name each request presented.
 */
export class MutualTlsReceiver {
  readonly clientNames: string[] = [];
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(serverCertificate: Issued, clientCa: string): Promise<MutualTlsReceiver> {
    const server = createServer({
      key: serverCertificate.privateKey,
      cert: serverCertificate.certificate,
      ca: [clientCa],
      requestCert: true,
      rejectUnauthorized: true,
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const receiver = new MutualTlsReceiver(server, `https://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`);
    server.on("request", (request, response) => {
      request.resume();
      request.on("end", () => {
        receiver.clientNames.push(String((request.socket as TLSSocket).getPeerCertificate().subject.CN));
        response.writeHead(204).end();
        receiver.waiters = receiver.waiters.filter((waiter) => (receiver.clientNames.length >= waiter.count ? (waiter.resolve(), false) : true));
      });
    });
    return receiver;
  }

  waitFor(count: number, timeoutMs = 20_000): Promise<string[]> {
    if (this.clientNames.length >= count) return Promise.resolve(this.clientNames.slice());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Receiver got ${this.clientNames.length} of ${count} expected webhooks`)), timeoutMs);
      this.waiters.push({ count, resolve: () => (clearTimeout(timer), resolve(this.clientNames.slice())) });
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, "close");
  }
}
