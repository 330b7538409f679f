/**
 * Admin routes for workload identity, like `istioctl proxy-config secret` and Envoy's `/certs`:
 *   GET /certs              every proxy's workload certificate chain and the root: identity,
 *                           serial, validity, next rotation (?proxy=ID for one)
 *   GET /certs/ca           the sandbox root CA certificate (PEM), to trust or inspect
 * Private keys never leave the sandbox.
 */
import { X509Certificate } from 'node:crypto';
import type { IdentityProvider } from '../security/identity-provider.js';
import type { ProxySecret } from '../security/tls-secrets.js';
import { MeshError } from '../errors.js';
import type { AdminServer } from './admin-server.js';

export interface SecretView {
  proxy: string;
  identity: string;
  /** istioctl's columns: RESOURCE NAME, TYPE, STATUS, VALID CERT, SERIAL NUMBER, NOT AFTER, NOT BEFORE */
  resources: Array<{ name: 'default' | 'ROOTCA'; type: 'Cert Chain' | 'CA'; status: 'ACTIVE'; validCert: boolean; serialNumber: string; notAfter: string; notBefore: string; subject: string; uriSans: string[] }>;
  nextRotation?: string;
  rotations: number;
  /** PEM: the workload certificate, then the root */
  certChain: string[];
}

function pemBlocks(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

function describeCert(pem: string, name: 'default' | 'ROOTCA', now: number): SecretView['resources'][number] {
  const x = new X509Certificate(pem);
  const notAfter = new Date(x.validTo);
  const notBefore = new Date(x.validFrom);
  return {
    name,
    type: name === 'default' ? 'Cert Chain' : 'CA',
    status: 'ACTIVE',
    validCert: notBefore.getTime() <= now && now < notAfter.getTime(),
    serialNumber: x.serialNumber.toLowerCase(),
    notAfter: notAfter.toISOString(),
    notBefore: notBefore.toISOString(),
    subject: x.subject ?? '',
    uriSans: (x.subjectAltName ?? '').split(/,\s*/).filter((s) => s.startsWith('URI:')).map((s) => s.slice(4)),
  };
}

export function secretView(s: ProxySecret, identity: IdentityProvider, now = Date.now()): SecretView {
  const chain = pemBlocks(s.certChainPem);
  const next = identity.certs.nextRotation(s.proxyId);
  return {
    proxy: s.proxyId,
    identity: s.identity,
    resources: [describeCert(chain[0]!, 'default', now), describeCert(s.rootCertPem, 'ROOTCA', now)],
    ...(next !== undefined ? { nextRotation: new Date(next).toISOString() } : {}),
    rotations: identity.certs.rotations(s.proxyId),
    certChain: chain,
  };
}

export function installSecurityRoutes(admin: AdminServer, deps: { identity: () => IdentityProvider | undefined }): void {
  admin
    .route('GET', '/certs', "every proxy's workload certificate: identity, serial, validity, rotation (?proxy=ID)", (req) => {
      const identity = deps.identity();
      if (!identity) return { status: 503, body: { error: 'the sandbox CA is not started yet' } };
      const proxy = req.query.get('proxy');
      const all = identity.certs.secrets().sort((a, b) => a.proxyId.localeCompare(b.proxyId));
      const picked = proxy ? all.filter((s) => s.proxyId === proxy || s.proxyId.startsWith(`${proxy}-`)) : all;
      if (proxy && picked.length === 0) {
        throw new MeshError('MESH_ERR_USAGE', [`no proxy ${proxy}`], { hint: `proxies: ${all.map((s) => s.proxyId).join(', ')}` });
      }
      return {
        body: {
          ca: { file: identity.ca.certFile, serialNumber: identity.ca.serial.toLowerCase(), notAfter: identity.ca.notAfter.toISOString() },
          secrets: picked.map((s) => secretView(s, identity)),
        },
      };
    })
    .route('GET', '/certs/ca', 'the sandbox root CA certificate (PEM)', () => {
      const identity = deps.identity();
      if (!identity) return { status: 503, body: { error: 'the sandbox CA is not started yet' } };
      return { body: identity.ca.rootCertPem, contentType: 'application/x-pem-file' };
    });
}
