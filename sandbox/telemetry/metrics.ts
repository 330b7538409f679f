/**
 * Istio's standard metrics (reference/istio-semantics.md §3), fed by request events, so existing
 * dashboards and PromQL queries work unchanged: `istio_requests_total`,
 * `istio_request_duration_milliseconds`, `istio_request_bytes`, `istio_response_bytes`, with the
 * istio_stats label set, reported by both proxies of a hop (`reporter="source"|"destination"`).
 *
 * The registry is injected (tests use a fresh one).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RequestEvent } from '../events.js';

/** Istio's default histogram buckets (ms for durations, bytes for sizes) */
export const ISTIO_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

export const ISTIO_LABELS = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_canonical_service',
  'source_canonical_revision',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_cluster',
  'request_protocol',
  'response_flags',
  'connection_security_policy',
  'response_code',
  'grpc_response_status',
] as const;

type IstioLabel = (typeof ISTIO_LABELS)[number];
type Labels = Record<IstioLabel, string>;

/** Istio's default cluster id, as a single-cluster mesh reports it */
export const CLUSTER_ID = 'Kubernetes';

export function istioLabels(e: RequestEvent): Labels {
  const s = e.source;
  const d = e.destination;
  return {
    reporter: e.reporter,
    source_workload: s.workload,
    source_workload_namespace: s.namespace,
    source_principal: s.principal,
    source_app: s.app,
    source_version: s.version,
    source_canonical_service: s.canonicalService,
    source_canonical_revision: s.canonicalRevision,
    source_cluster: s.workload === 'unknown' ? 'unknown' : CLUSTER_ID,
    destination_workload: d.workload,
    destination_workload_namespace: d.namespace,
    destination_principal: d.principal,
    destination_app: d.app,
    destination_version: d.version,
    destination_service: d.service,
    destination_service_name: d.serviceName,
    destination_service_namespace: d.serviceNamespace,
    destination_canonical_service: d.canonicalService,
    destination_canonical_revision: d.canonicalRevision,
    destination_cluster: d.workload === 'unknown' ? 'unknown' : CLUSTER_ID,
    request_protocol: 'http',
    response_flags: e.responseFlags,
    // Istio: the destination reporter knows its downstream connection (mutual_tls | none); the source says unknown
    connection_security_policy: e.reporter === 'destination' ? (e.connectionSecurity === 'mutual_tls' ? 'mutual_tls' : 'none') : 'unknown',
    response_code: String(e.status),
    grpc_response_status: '',
  };
}

interface Children {
  requests: { inc(): void };
  duration: { observe(v: number): void };
  requestBytes: { observe(v: number): void };
  responseBytes: { observe(v: number): void };
}

export class IstioMetrics {
  readonly registry: Registry;
  private readonly requests: Counter<IstioLabel>;
  private readonly duration: Histogram<IstioLabel>;
  private readonly requestBytes: Histogram<IstioLabel>;
  private readonly responseBytes: Histogram<IstioLabel>;

  constructor(registry = new Registry(), version = '0.0.0') {
    this.registry = registry;
    const labelNames = [...ISTIO_LABELS];
    this.requests = new Counter({ name: 'istio_requests_total', help: 'Total number of requests handled by an Istio proxy', labelNames, registers: [registry] });
    this.duration = new Histogram({
      name: 'istio_request_duration_milliseconds',
      help: 'Duration of requests in milliseconds',
      labelNames,
      buckets: ISTIO_BUCKETS,
      registers: [registry],
    });
    this.requestBytes = new Histogram({ name: 'istio_request_bytes', help: 'HTTP request body sizes', labelNames, buckets: ISTIO_BUCKETS, registers: [registry] });
    this.responseBytes = new Histogram({ name: 'istio_response_bytes', help: 'HTTP response body sizes', labelNames, buckets: ISTIO_BUCKETS, registers: [registry] });
    const build = new Gauge({ name: 'istio_build', help: 'Istio component build info', labelNames: ['component', 'tag'], registers: [registry] });
    build.set({ component: 'proxy', tag: `meshbox-${version}` }, 1);
  }

  /**
   * prom-client hashes a label object on every call (25 labels here); a mesh has few distinct
   * label sets, so the bound children are cached by a cheap key instead.
   */
  private readonly children = new Map<string, Children>();

  observe(e: RequestEvent): void {
    const key = `${e.reporter}|${e.source.workload}|${e.source.version}|${e.destination.workload}|${e.destination.version}|${e.destination.service}|${e.status}|${e.responseFlags}|${e.source.namespace}|${e.destination.namespace}|${e.source.app}|${e.destination.app}|${e.source.principal}|${e.destination.principal}|${e.connectionSecurity ?? ''}`;
    let c = this.children.get(key);
    if (!c) {
      const labels = istioLabels(e);
      c = {
        requests: this.requests.labels(labels),
        duration: this.duration.labels(labels),
        requestBytes: this.requestBytes.labels(labels),
        responseBytes: this.responseBytes.labels(labels),
      };
      this.children.set(key, c);
    }
    c.requests.inc();
    c.duration.observe(e.durationMs);
    c.requestBytes.observe(e.bytesReceived);
    c.responseBytes.observe(e.bytesSent);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
