/**
 * Protocol selection, as Istio does it ("Protocol Selection" in Istio's traffic-management docs):
 * a Service port's `appProtocol` wins, else its name's prefix `<protocol>[-<suffix>]` (`grpc-api`,
 * `http2`, `tcp-db`), else the protocol is detected on the connection (HTTP/1.x, the HTTP/2
 * preface, otherwise TCP). Istio proxies `mongo`, `mysql` and `redis` as TCP unless their Envoy
 * filters are turned on (they are off by default), and does not proxy UDP.
 *
 * The codec a listener or a cluster uses follows from the selected protocol:
 *   http, http2, grpc, grpc-web -> the HTTP connection manager (HTTP/1.1 and h2c both accepted
 *                                  downstream, Envoy's codec AUTO); upstream HTTP/2 for http2,
 *                                  grpc and grpc-web, HTTP/1.1 for http (h2UpgradePolicy aside)
 *   tcp, tls, https, mongo, mysql, redis -> the TCP proxy (tls/https: routed by SNI on gateways)
 *   unknown                     -> sniffed per connection
 */

/** the protocols Istio recognises in a port name or appProtocol */
export const PORT_PROTOCOLS = ['http', 'http2', 'https', 'grpc', 'grpc-web', 'tcp', 'tls', 'mongo', 'mysql', 'redis', 'udp'] as const;
export type PortProtocol = (typeof PORT_PROTOCOLS)[number];

/** what a port is served as: a recognised protocol, or `unknown` (detected per connection) */
export type SelectedProtocol = PortProtocol | 'unknown';

/** the codec family of a selected protocol */
export type Codec = 'http' | 'tcp' | 'sniff' | 'none';

export interface ProtocolSelection {
  protocol: SelectedProtocol;
  /** what decided it, for explain(): `appProtocol grpc`, `port name grpc-api`, `no name: detected per connection` */
  source: string;
}

/** Kubernetes' standard appProtocol values (KEP-3726) Istio maps onto its own */
const K8S_APP_PROTOCOLS: Record<string, PortProtocol> = {
  'kubernetes.io/h2c': 'http2',
  'kubernetes.io/ws': 'http',
  'kubernetes.io/wss': 'https',
};

function known(value: string): PortProtocol | undefined {
  const v = value.toLowerCase();
  if (K8S_APP_PROTOCOLS[v]) return K8S_APP_PROTOCOLS[v];
  return (PORT_PROTOCOLS as readonly string[]).includes(v) ? (v as PortProtocol) : undefined;
}

/** the protocol of a Service port: appProtocol, else the name's prefix, else detected */
export function selectProtocol(port: { name?: string; appProtocol?: string }): ProtocolSelection {
  if (port.appProtocol) {
    const p = known(port.appProtocol);
    if (p) return { protocol: p, source: `appProtocol ${port.appProtocol}` };
  }
  if (port.name) {
    const i = port.name.indexOf('-');
    const prefix = i < 0 ? port.name : port.name.slice(0, i);
    // `grpc-web` is itself hyphenated: `grpc-web` and `grpc-web-foo` are grpc-web, `grpc-foo` is grpc
    if (port.name === 'grpc-web' || port.name.startsWith('grpc-web-')) return { protocol: 'grpc-web', source: `port name ${port.name}` };
    const p = known(prefix);
    if (p) return { protocol: p, source: `port name ${port.name}` };
  }
  const why = port.appProtocol ? `appProtocol ${port.appProtocol} is not a protocol Istio knows` : port.name ? `port name ${port.name} has no protocol prefix` : 'unnamed port';
  return { protocol: 'unknown', source: `${why}: detected per connection (HTTP/1.x, HTTP/2, else TCP)` };
}

export function codecOf(protocol: SelectedProtocol): Codec {
  switch (protocol) {
    case 'http':
    case 'http2':
    case 'grpc':
    case 'grpc-web':
      return 'http';
    case 'tcp':
    case 'tls':
    case 'https':
    case 'mongo':
    case 'mysql':
    case 'redis':
      return 'tcp';
    case 'udp':
      return 'none';
    case 'unknown':
      return 'sniff';
  }
}

/** does the upstream connection speak HTTP/2 (Istio: http2, grpc, grpc-web ports)? */
export function upstreamIsHttp2(protocol: SelectedProtocol | undefined): boolean {
  return protocol === 'http2' || protocol === 'grpc' || protocol === 'grpc-web';
}
