/**
 * Upstream TLS (the client side of a hop), as Envoy's `transport_socket` on an outbound cluster:
 *
 * - auto mTLS (no DestinationRule `tls`): ISTIO_MUTUAL toward an endpoint whose sidecar accepts
 *   mTLS (its PeerAuthentication is not DISABLE), plaintext otherwise; the client presents its
 *   workload certificate, verifies the server's chain against the sandbox root and its URI SAN
 *   against the endpoint's SPIFFE id, offers ALPN `istio-http/1.1`, `istio` (the TCP proxy:
 *   `istio-peer-exchange`, `istio`), and sends
 *   Istio's SNI `outbound_.<port>_.<subset>_.<fqdn>`;
 * - `DISABLE`: plaintext (toward a STRICT server the connection is reset: 503);
 * - `ISTIO_MUTUAL`: as auto, whatever the server's policy;
 * - `SIMPLE`: TLS without a client certificate (`caCertificates` or the system roots verify the
 *   server unless `insecureSkipVerify`);
 * - `MUTUAL`: TLS with the DestinationRule's certificate files.
 *
 * The pool keeps connections per endpoint and TLS setting (a rule change that flips the mode
 * opens new connections; idle ones of the old setting close), so one handshake serves many
 * requests; TLS sessions are cached per endpoint for resumption when a new connection is needed.
 */
import http from 'node:http';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { ClusterConfig, EndpointConfig } from '../control/snapshot.js';
import { uriSans } from './identity.js';
import { MESH_CLIENT_ALPN, type TlsSecretStore } from './tls-secrets.js';

export type UpstreamTlsDecision =
  | { kind: 'plaintext'; why: string }
  | {
      kind: 'tls';
      mtls: boolean;
      why: string;
      /** pool key: connections are kept per TLS setting */
      key: string;
      options: tls.ConnectionOptions;
      peerIdentity?: string;
      /** the client certificate's serial: a rotated certificate never resumes an old session */
      sessionTag?: string;
    };

/** Istio's SNI for an outbound cluster */
export function istioSni(cluster: ClusterConfig): string {
  const s = cluster.service;
  return s ? `outbound_.${s.port}_.${cluster.subset ?? ''}_.${s.fqdn}` : cluster.name;
}

const fileCache = new Map<string, Buffer>();
function readPem(file: string): Buffer {
  let b = fileCache.get(file);
  if (!b) {
    b = readFileSync(file);
    fileCache.set(file, b);
  }
  return b;
}

function verifySan(expected: readonly string[]): (host: string, cert: tls.PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const sans = uriSans(cert.subjectaltname);
    const dns = (cert.subjectaltname ?? '').split(/,\s*/).filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4));
    if ([...sans, ...dns].some((s) => expected.includes(s))) return undefined;
    const err = new Error(`peer certificate SAN ${cert.subjectaltname ?? '(none)'} is not ${expected.join(' or ')}`) as NodeJS.ErrnoException;
    err.code = 'ERR_TLS_CERT_ALTNAME_INVALID';
    return err;
  };
}

/** what a connection from `proxyId` to `endpoint` of `cluster` uses */
export function decideUpstreamTls(proxyId: string, cluster: ClusterConfig, endpoint: EndpointConfig, secrets: TlsSecretStore | undefined): UpstreamTlsDecision {
  if (cluster.kind !== 'outbound') return { kind: 'plaintext', why: `${cluster.kind} cluster: plaintext` };
  const tlsConfig = cluster.tls ?? { mode: 'AUTO' as const, source: 'auto mTLS' };
  // a ServiceEntry host: Istio's auto SNI (the Host the caller used, i.e. the host); a mesh service: Istio's cluster SNI
  const sni = tlsConfig.sni ?? (cluster.external && cluster.service ? cluster.service.fqdn : istioSni(cluster));
  const identity = endpoint.meta.identity;
  const istioMutual = (why: string): UpstreamTlsDecision => {
    const ctx = secrets?.clientContext(proxyId);
    const expected = tlsConfig.subjectAltNames ?? (identity ? [identity] : []);
    return {
      kind: 'tls',
      mtls: ctx !== undefined,
      why,
      key: `istio|${sni}|${expected.join(',')}|${ctx ? 'cert' : 'nocert'}`,
      peerIdentity: identity,
      sessionTag: secrets?.get(proxyId)?.serial,
      options: {
        ...(ctx ? { secureContext: ctx } : {}),
        servername: sni,
        ALPNProtocols: MESH_CLIENT_ALPN,
        rejectUnauthorized: true,
        checkServerIdentity: verifySan(expected),
      },
    };
  };
  switch (tlsConfig.mode) {
    case 'AUTO': {
      if (endpoint.serverMtls === 'DISABLE') return { kind: 'plaintext', why: `auto mTLS: ${endpoint.id} has PeerAuthentication DISABLE, plaintext` };
      if (!identity || !endpoint.serverMtls) return { kind: 'plaintext', why: `auto mTLS: ${endpoint.id} has no sidecar identity, plaintext` };
      if (!secrets?.clientContext(proxyId)) return { kind: 'plaintext', why: `auto mTLS: ${proxyId} has no workload certificate yet, plaintext` };
      return istioMutual(`auto mTLS: ISTIO_MUTUAL to ${identity}`);
    }
    case 'DISABLE':
      return { kind: 'plaintext', why: `${tlsConfig.source}: plaintext` };
    case 'ISTIO_MUTUAL':
      return istioMutual(`${tlsConfig.source}: mTLS to ${identity ?? endpoint.id}`);
    case 'SIMPLE':
    case 'MUTUAL': {
      const mutual = tlsConfig.mode === 'MUTUAL';
      const options: tls.ConnectionOptions = {
        servername: sni,
        rejectUnauthorized: !tlsConfig.insecureSkipVerify,
        ...(tlsConfig.caCertificates ? { ca: readPem(tlsConfig.caCertificates) } : {}),
        ...(mutual && tlsConfig.clientCertificate ? { cert: readPem(tlsConfig.clientCertificate) } : {}),
        ...(mutual && tlsConfig.privateKey ? { key: readPem(tlsConfig.privateKey) } : {}),
        ...(tlsConfig.subjectAltNames?.length ? { checkServerIdentity: verifySan(tlsConfig.subjectAltNames) } : {}),
      };
      return {
        kind: 'tls',
        mtls: mutual,
        why: `${tlsConfig.source}: TLS${mutual ? ' with the DestinationRule client certificate' : ''}`,
        key: `${tlsConfig.mode}|${sni}|${tlsConfig.caCertificates ?? ''}|${tlsConfig.clientCertificate ?? ''}|${tlsConfig.insecureSkipVerify ? 'insecure' : ''}`,
        options,
      };
    }
  }
}

type Decide = (host: string, port: number) => UpstreamTlsDecision;

/**
 * The cluster's connection pool: an http.Agent (keep-alive, LIFO) whose connections are plain
 * TCP or TLS per the decision for the endpoint they go to.
 */
export class MeshUpstreamAgent extends http.Agent {
  private readonly sessions = new Map<string, Buffer>();
  /** TLS handshakes this pool made (full or resumed) */
  handshakes = 0;
  resumed = 0;

  constructor(
    private readonly decide: Decide,
    /** idle pooled connections close after this (the cluster's idle_timeout) */
    idleTimeoutMs?: number,
  ) {
    super({ keepAlive: true, keepAliveMsecs: 1000, maxFreeSockets: 256, scheduling: 'lifo', ...(idleTimeoutMs ? { timeout: idleTimeoutMs } : {}) });
  }

  override getName(options: http.ClientRequestArgs = {}): string {
    const base = super.getName(options);
    const d = this.decide(String(options.host ?? options.hostname ?? 'localhost'), Number(options.port ?? 80));
    return d.kind === 'tls' ? `${base}|tls|${d.key}` : base;
  }

  override createConnection(options: http.ClientRequestArgs, cb?: (err: Error | null, stream: Duplex) => void): Duplex {
    const host = String(options.host ?? 'localhost');
    const port = Number(options.port ?? 80);
    const d = this.decide(host, port);
    if (d.kind === 'plaintext') return net.createConnection(options as net.NetConnectOpts, cb as never);
    return this.connectTls(host, port, d, undefined, options as tls.ConnectionOptions);
  }

  /**
   * A TLS connection to `host:port` per decision `d`, resuming the endpoint's last session when
   * there is one (also used by the cluster's HTTP/2 sessions, which offer their own ALPN).
   */
  connectTls(host: string, port: number, d: Extract<UpstreamTlsDecision, { kind: 'tls' }>, alpn?: string[], base: tls.ConnectionOptions = {}): tls.TLSSocket {
    const sessionKey = `${host}:${port}|${d.key}|${d.sessionTag ?? ''}|${alpn?.join(',') ?? ''}`;
    const session = this.sessions.get(sessionKey);
    const socket = tls.connect({ ...base, host, port, ...d.options, ...(alpn ? { ALPNProtocols: alpn } : {}), ...(session ? { session } : {}) });
    socket.once('secureConnect', () => {
      this.handshakes++;
      if (socket.isSessionReused()) this.resumed++;
    });
    socket.on('session', (s: Buffer) => this.sessions.set(sessionKey, s));
    // a failed handshake must not leave a session that cannot resume
    socket.once('error', () => this.sessions.delete(sessionKey));
    return socket;
  }

  /** closes idle connections made with a TLS setting no longer current */
  dropStale(): void {
    for (const [name, sockets] of Object.entries(this.freeSockets)) {
      const [host, port] = name.split(':');
      const d = this.decide(host ?? '', Number(port));
      const current = d.kind === 'tls' ? `|tls|${d.key}` : '';
      const isTls = name.includes('|tls|');
      if ((current === '' && !isTls) || (current !== '' && name.endsWith(current))) continue;
      for (const s of sockets ?? []) s.destroy();
    }
  }
}
