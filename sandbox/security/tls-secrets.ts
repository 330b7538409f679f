/**
 * The data plane's secrets, as Envoy's SDS delivers them: per proxy the workload certificate
 * chain and key (`default`) and the root to verify peers with (`ROOTCA`). The control side
 * (./cert-manager.ts) pushes the whole set whenever a certificate is issued or rotated; the
 * store turns each into Node TLS secure contexts once, and listeners and upstream connections
 * take the current one for every new connection. Connections already open keep the context they
 * were made with, so a rotation never drops a request.
 */
import tls from 'node:tls';

/** One proxy's workload secret (plain data: it crosses the worker boundary). */
export interface ProxySecret {
  proxyId: string;
  /** SPIFFE id, the certificate's URI SAN */
  identity: string;
  certChainPem: string;
  keyPem: string;
  rootCertPem: string;
  serial: string;
  /** ISO times */
  notBefore: string;
  notAfter: string;
}

/**
 * ALPN a sidecar's HTTP connections offer toward another sidecar (Istio's istio_alpn filter:
 * `istio-http/1.1`, then `istio`); its TCP proxy offers `istio-peer-exchange`, `istio` instead
 * (metadata exchange: sandbox/proxy/tcp/peer-exchange.ts)
 */
export const MESH_CLIENT_ALPN = ['istio-http/1.1', 'istio'];
/**
 * ALPN a sidecar offers toward another sidecar for HTTP/2 (Istio's alpn filter override for an
 * HTTP/2 upstream: `istio-h2`, `istio`, `h2`)
 */
export const MESH_CLIENT_ALPN_H2 = ['istio-h2', 'istio', 'h2'];
/**
 * ALPN the inbound mTLS listener accepts (Istio's inbound filter chains match these). The HTTP/2
 * ones come first: Node picks the first of the server's list the client offers, and `h2` /
 * `istio-h2` select the HTTP/2 codec (../proxy/codec-sniffer.ts); HTTP/1.1 clients offer none of
 * them. `istio-peer-exchange` (the TCP proxy's metadata exchange) comes before the HTTP/1 ones.
 */
export const MESH_SERVER_ALPN = ['istio-h2', 'h2', 'istio-peer-exchange', 'istio-http/1.1', 'istio-http/1.0', 'istio', 'http/1.1'];

interface Entry {
  secret: ProxySecret;
  server: tls.SecureContext;
  client: tls.SecureContext;
}

export class TlsSecretStore {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<(proxyId: string) => void>();
  /** bumped on every change: connection pools key TLS connections by it */
  generation = 0;

  /** replaces the whole set (SDS state of the world); unchanged secrets keep their contexts */
  update(secrets: readonly ProxySecret[]): void {
    const seen = new Set<string>();
    for (const s of secrets) {
      seen.add(s.proxyId);
      const old = this.entries.get(s.proxyId);
      if (old && old.secret.serial === s.serial && old.secret.rootCertPem === s.rootCertPem) continue;
      const opts = { key: s.keyPem, cert: s.certChainPem, ca: s.rootCertPem, minVersion: 'TLSv1.2' as const };
      this.entries.set(s.proxyId, { secret: s, server: tls.createSecureContext(opts), client: tls.createSecureContext(opts) });
      this.generation++;
      for (const l of this.listeners) l(s.proxyId);
    }
    for (const id of [...this.entries.keys()]) {
      if (seen.has(id)) continue;
      this.entries.delete(id);
      this.generation++;
      for (const l of this.listeners) l(id);
    }
  }

  get(proxyId: string): ProxySecret | undefined {
    return this.entries.get(proxyId)?.secret;
  }

  serverContext(proxyId: string): tls.SecureContext | undefined {
    return this.entries.get(proxyId)?.server;
  }

  clientContext(proxyId: string): tls.SecureContext | undefined {
    return this.entries.get(proxyId)?.client;
  }

  onChange(fn: (proxyId: string) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  all(): ProxySecret[] {
    return [...this.entries.values()].map((e) => e.secret);
  }
}
