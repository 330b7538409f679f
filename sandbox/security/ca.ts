/**
 * The sandbox's certificate authority, as istiod's self-signed CA: an ECDSA P-256 root kept under
 * the user's state directory (`<state>/ca/root-cert.pem`, `root-key.pem`) so it survives restarts
 * and can be inspected or trusted (`openssl x509 -in ... -text`). It signs short-lived workload
 * certificates whose only name is the URI SAN `spiffe://cluster.local/ns/<ns>/sa/<sa>` (Istio's
 * workload certificates have an empty subject).
 *
 * X.509 and ASN.1 are @peculiar/x509's, on Node's WebCrypto; nothing is hand-encoded here.
 * A missing, unreadable, corrupt, expired or mismatched CA file is replaced by a new root, with a
 * notice saying so (workload certificates signed by the old root are then re-issued).
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
import { TRUST_DOMAIN } from './identity.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const crypto = webcrypto;
x509.cryptoProvider.set(crypto as never);

const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const;
/** istiod's self-signed root lives 10 years */
export const ROOT_TTL_MS = 10 * 365 * 24 * 3600 * 1000;

export interface IssuedCertificate {
  /** PEM of the workload certificate followed by the root (the chain Envoy presents) */
  certChainPem: string;
  /** PKCS#8 PEM */
  keyPem: string;
  /** hex */
  serial: string;
  notBefore: Date;
  notAfter: Date;
  uri: string;
}

export interface CaLoadResult {
  ca: MeshCA;
  /** set when the files were not usable and a new root was made: says why */
  regenerated?: string;
  created: boolean;
}

function randomSerial(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  b[0] = b[0]! & 0x7f; // positive INTEGER
  return Buffer.from(b).toString('hex');
}

export class MeshCA {
  private constructor(
    readonly cert: x509.X509Certificate,
    private readonly keys: CryptoKeyPair,
    readonly certFile: string,
    readonly keyFile: string,
  ) {}

  get rootCertPem(): string {
    return this.cert.toString('pem') + '\n';
  }

  get serial(): string {
    return this.cert.serialNumber;
  }

  get notAfter(): Date {
    return this.cert.notAfter;
  }

  /** the folder a sandbox keeps its CA in */
  static dirUnder(stateDir: string): string {
    return path.join(stateDir, 'ca');
  }

  /** Loads the root from `dir`, or makes (and saves) a new one when none is usable. */
  static async loadOrCreate(dir: string, now = new Date()): Promise<CaLoadResult> {
    const certFile = path.join(dir, 'root-cert.pem');
    const keyFile = path.join(dir, 'root-key.pem');
    const hadFiles = existsSync(certFile) || existsSync(keyFile);
    let problem: string | undefined;
    if (hadFiles) {
      try {
        const ca = await MeshCA.load(certFile, keyFile, now);
        return { ca, created: false };
      } catch (e) {
        problem = (e as Error).message;
      }
    }
    const ca = await MeshCA.create(certFile, keyFile, now);
    return { ca, created: true, ...(problem ? { regenerated: problem } : {}) };
  }

  private static async load(certFile: string, keyFile: string, now: Date): Promise<MeshCA> {
    if (!existsSync(certFile)) throw new Error(`${certFile} is missing`);
    if (!existsSync(keyFile)) throw new Error(`${keyFile} is missing`);
    let cert: x509.X509Certificate;
    try {
      cert = new x509.X509Certificate(readFileSync(certFile, 'utf8'));
    } catch {
      throw new Error(`${certFile} is not a PEM certificate`);
    }
    let privateKey: CryptoKey;
    try {
      const der = x509.PemConverter.decode(readFileSync(keyFile, 'utf8'))[0];
      if (!der) throw new Error('empty');
      privateKey = await crypto.subtle.importKey('pkcs8', der, EC_ALG, true, ['sign']);
    } catch {
      throw new Error(`${keyFile} is not a PKCS#8 ECDSA P-256 private key`);
    }
    if (cert.notAfter.getTime() <= now.getTime()) throw new Error(`${certFile} expired on ${cert.notAfter.toISOString()}`);
    const publicKey = (await cert.publicKey.export(EC_ALG, ['verify'], crypto as never)) as unknown as CryptoKey;
    // the key must be the certificate's: sign and verify a probe
    const probe = new Uint8Array([1, 2, 3]);
    const sig = await crypto.subtle.sign(SIGN_ALG, privateKey, probe);
    if (!(await crypto.subtle.verify(SIGN_ALG, publicKey, sig, probe))) throw new Error(`${keyFile} does not belong to ${certFile}`);
    if (!(await cert.verify({ publicKey, signatureOnly: true }, crypto as never))) throw new Error(`${certFile} is not self-signed`);
    return new MeshCA(cert, { privateKey, publicKey }, certFile, keyFile);
  }

  private static async create(certFile: string, keyFile: string, now: Date): Promise<MeshCA> {
    const keys = (await crypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: randomSerial(),
        name: `O=${TRUST_DOMAIN}, CN=meshbox root CA`,
        notBefore: new Date(now.getTime() - 60_000),
        notAfter: new Date(now.getTime() + ROOT_TTL_MS),
        signingAlgorithm: SIGN_ALG,
        keys,
        extensions: [
          new x509.BasicConstraintsExtension(true, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto as never),
        ],
      },
      crypto as never,
    );
    const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
    const dir = path.dirname(certFile);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeAtomic(keyFile, x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') + '\n', 0o600);
    writeAtomic(certFile, cert.toString('pem') + '\n', 0o644);
    return new MeshCA(cert, keys, certFile, keyFile);
  }

  /** Signs a workload certificate for `uri` (a SPIFFE id), valid `ttlMs` from `now`. */
  async issue(uri: string, ttlMs: number, now = new Date()): Promise<IssuedCertificate> {
    const keys = (await crypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
    const notBefore = new Date(now.getTime() - 1_000);
    const notAfter = new Date(now.getTime() + ttlMs);
    const serial = randomSerial();
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serial,
        subject: '',
        issuer: this.cert.subject,
        notBefore,
        notAfter,
        signingAlgorithm: SIGN_ALG,
        publicKey: keys.publicKey,
        signingKey: this.keys.privateKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
          // Istio marks the SAN critical: the subject is empty
          new x509.SubjectAlternativeNameExtension([{ type: 'url', value: uri }], true),
          await x509.AuthorityKeyIdentifierExtension.create(this.keys.publicKey, false, crypto as never),
        ],
      },
      crypto as never,
    );
    const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
    return {
      certChainPem: `${cert.toString('pem')}\n${this.rootCertPem}`,
      keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') + '\n',
      serial: cert.serialNumber,
      notBefore,
      notAfter,
      uri,
    };
  }
}

function writeAtomic(file: string, text: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}
