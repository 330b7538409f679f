/**
 * Istio's TCP metrics for the Toxiproxy API's standalone proxies, so their traffic shows on the
 * same /metrics as the mesh's, on the mesh's TCP counters (../telemetry/tcp-metrics.ts):
 *
 *   istio_tcp_connections_opened_total, istio_tcp_connections_closed_total,
 *   istio_tcp_received_bytes_total (bytes from the client), istio_tcp_sent_bytes_total (to it)
 *
 * reported by the proxy as a client-side sidecar would (`reporter="source"`), the client an
 * unknown workload outside the mesh and the destination service the proxy's name.
 */
import type { Registry } from 'prom-client';
import { CLUSTER_ID } from '../telemetry/istio-labels.js';
import { tcpCounters, type TcpCounters, type TcpLabel } from '../telemetry/tcp-metrics.js';
import type { TcpConnectionRecord } from './tcp-proxy-host.js';

export class TcpMetrics {
  private readonly c: TcpCounters;

  constructor(
    registry: Registry,
    private readonly namespace = 'default',
  ) {
    // the mesh's TCP counters (../telemetry/tcp-metrics.ts): the same series names and labels
    this.c = tcpCounters(registry);
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
      this.c.opened.inc(l);
      return;
    }
    this.c.closed.inc(l);
    this.c.received.inc(l, c.bytesReceived);
    this.c.sent.inc(l, c.bytesSent);
  }
}
