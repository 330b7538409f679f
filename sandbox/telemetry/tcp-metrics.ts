/**
 * Istio's TCP metrics (reference/istio-semantics.md §3.1), fed by the TCP proxy's connection
 * events (reported by both proxies of a hop, `reporter="source"|"destination"`) and by the
 * Toxiproxy API's standalone proxies (../toxiproxy-api/tcp-metrics.ts), on the same counters:
 *
 *   istio_tcp_connections_opened_total   a connection opened (its upstream connect made or failed)
 *   istio_tcp_connections_closed_total   a connection closed
 *   istio_tcp_received_bytes_total       bytes received from the downstream (client) side
 *   istio_tcp_sent_bytes_total           bytes sent to the downstream side
 *
 * The label set is the request metrics' less the HTTP-only `response_code` and
 * `grpc_response_status`, `request_protocol="tcp"`, plus `namespace` and `pod` of the reporting
 * proxy (as ./metrics.ts attaches them). Bytes are counted when the connection closes.
 */
import { Counter, type Registry } from 'prom-client';
import type { TcpConnectionEvent } from '../events.js';
import { INSTANCE_LABELS, ISTIO_LABELS, peerLabels } from './istio-labels.js';

const HTTP_ONLY_LABELS = new Set<string>(['response_code', 'grpc_response_status']);
export type TcpLabel = Exclude<(typeof ISTIO_LABELS)[number], 'response_code' | 'grpc_response_status'>;
export const TCP_LABELS = ISTIO_LABELS.filter((l): l is TcpLabel => !HTTP_ONLY_LABELS.has(l));
type Label = TcpLabel | (typeof INSTANCE_LABELS)[number];

export interface TcpCounters {
  opened: Counter<Label>;
  closed: Counter<Label>;
  received: Counter<Label>;
  sent: Counter<Label>;
}

function counter(registry: Registry, name: string, help: string): Counter<Label> {
  // registered once per registry: the mesh's metrics and the Toxiproxy API's share them
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<Label>;
  return new Counter({ name, help, labelNames: [...TCP_LABELS, ...INSTANCE_LABELS], registers: [registry] });
}

export function tcpCounters(registry: Registry): TcpCounters {
  return {
    opened: counter(registry, 'istio_tcp_connections_opened_total', 'Total TCP connections opened'),
    closed: counter(registry, 'istio_tcp_connections_closed_total', 'Total TCP connections closed'),
    received: counter(registry, 'istio_tcp_received_bytes_total', 'Size of total bytes received during request in case of a TCP connection'),
    sent: counter(registry, 'istio_tcp_sent_bytes_total', 'Size of total bytes sent during response in case of a TCP connection'),
  };
}

export function tcpLabels(e: TcpConnectionEvent): Record<Label, string> {
  const s = e.source;
  const d = e.destination;
  return {
    ...peerLabels(e),
    request_protocol: 'tcp',
    response_flags: e.responseFlags,
    // as for requests: the destination knows its downstream connection, the source says unknown
    connection_security_policy: e.reporter === 'destination' ? (e.connectionSecurity === 'mutual_tls' ? 'mutual_tls' : 'none') : 'unknown',
    namespace: e.reporter === 'source' ? s.namespace : d.namespace,
    pod: e.proxy,
  };
}

export class IstioTcpMetrics {
  private readonly c: TcpCounters;

  constructor(registry: Registry) {
    this.c = tcpCounters(registry);
  }

  observe(e: TcpConnectionEvent): void {
    const labels = tcpLabels(e);
    if (e.type === 'mesh:tcp:open') {
      this.c.opened.inc(labels);
      return;
    }
    this.c.closed.inc(labels);
    this.c.received.inc(labels, e.bytesReceived);
    this.c.sent.inc(labels, e.bytesSent);
  }
}
