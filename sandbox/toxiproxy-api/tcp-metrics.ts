/**
 * Istio's TCP metrics for the Toxiproxy API's standalone proxies, so their traffic shows on the
 * same /metrics as the mesh's, under Istio's names and label set:
 *
 *   istio_tcp_connections_opened_total, istio_tcp_connections_closed_total,
 *   istio_tcp_received_bytes_total (bytes from the client), istio_tcp_sent_bytes_total (to it)
 *
 * reported by the proxy as a client-side sidecar would (`reporter="source"`), the client an
 * unknown workload outside the mesh and the destination service the proxy's name.
 */
import { Counter, type Registry } from 'prom-client';
import { CLUSTER_ID, ISTIO_LABELS } from '../telemetry/metrics.js';
import type { TcpConnectionRecord } from './tcp-proxy-host.js';

/** Istio's TCP metrics carry the request metrics' labels less the HTTP ones */
const HTTP_ONLY_LABELS = new Set<string>(['response_code', 'grpc_response_status']);
const TCP_LABELS = ISTIO_LABELS.filter((l): l is TcpLabel => !HTTP_ONLY_LABELS.has(l));

type TcpLabel = Exclude<(typeof ISTIO_LABELS)[number], 'response_code' | 'grpc_response_status'>;

function counter(registry: Registry, name: string, help: string): Counter<TcpLabel> {
  // registered once per registry (a second API on the same registry shares the counters)
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<TcpLabel>;
  return new Counter({ name, help, labelNames: [...TCP_LABELS], registers: [registry] });
}

export class TcpMetrics {
  private readonly opened: Counter<TcpLabel>;
  private readonly closed: Counter<TcpLabel>;
  private readonly received: Counter<TcpLabel>;
  private readonly sent: Counter<TcpLabel>;

  constructor(
    registry: Registry,
    private readonly namespace = 'default',
  ) {
    this.opened = counter(registry, 'istio_tcp_connections_opened_total', 'Total TCP connections opened');
    this.closed = counter(registry, 'istio_tcp_connections_closed_total', 'Total TCP connections closed');
    this.received = counter(registry, 'istio_tcp_received_bytes_total', 'Size of total bytes received during request in case of a TCP connection');
    this.sent = counter(registry, 'istio_tcp_sent_bytes_total', 'Size of total bytes sent during response in case of a TCP connection');
  }

  private labels(proxy: string): Record<TcpLabel, string> {
    return {
      reporter: 'source',
      source_workload: 'unknown',
      source_workload_namespace: 'unknown',
      source_principal: 'unknown',
      source_app: 'unknown',
      source_version: 'unknown',
      source_canonical_service: 'unknown',
      source_canonical_revision: 'unknown',
      source_cluster: 'unknown',
      destination_workload: 'unknown',
      destination_workload_namespace: 'unknown',
      destination_principal: 'unknown',
      destination_app: 'unknown',
      destination_version: 'unknown',
      destination_service: proxy,
      destination_service_name: proxy,
      destination_service_namespace: this.namespace,
      destination_canonical_service: proxy,
      destination_canonical_revision: 'latest',
      destination_cluster: CLUSTER_ID,
      request_protocol: 'tcp',
      response_flags: '-',
      connection_security_policy: 'unknown',
    };
  }

  observe(c: TcpConnectionRecord): void {
    const l = this.labels(c.proxy);
    if (c.phase === 'opened') {
      this.opened.inc(l);
      return;
    }
    this.closed.inc(l);
    this.received.inc(l, c.bytesReceived);
    this.sent.inc(l, c.bytesSent);
  }
}
