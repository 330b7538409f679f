/**
 * Istio's standard metrics (reference/istio-semantics.md §3), fed by request events, so existing
 * dashboards and PromQL queries work unchanged: `istio_requests_total`,
 * `istio_request_duration_milliseconds`, `istio_request_bytes`, `istio_response_bytes`, with the
 * istio_stats label set, reported by both proxies of a hop (`reporter="source"|"destination"`).
 * gRPC requests have `request_protocol="grpc"` and `grpc_response_status` (the response's
 * grpc-status, as the event carries it; empty for other requests), and their length-prefixed
 * messages are counted in `istio_request_messages_total` / `istio_response_messages_total`.
 *
 * Every series also carries `namespace` and `pod`: the labels Istio's Prometheus scrape job
 * (`kubernetes-pods`) attaches to each sidecar's metrics from the pod it scraped. meshbox serves all
 * of its proxies from one admin endpoint, so it attaches them itself: `pod` is the reporting proxy
 * (instance id, e.g. `callme-service-v2-1`, or `istio-ingressgateway`), `namespace` its namespace.
 * Two replicas of a workload are therefore two series, as in Istio, and `istio_build` has one
 * series per proxy (see `setProxies`).
 *
 * The registry is injected (tests use a fresh one).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MeshDefinition } from '../config/mesh-types.js';
import { gatewayMeta } from '../control/compiler.js';
import type { Instance } from '../control/registry.js';
import type { RequestEvent, TcpConnectionEvent } from '../events.js';
import { CLUSTER_ID, INSTANCE_LABELS, ISTIO_BUCKETS, ISTIO_LABELS } from './istio-labels.js';
import { IstioTcpMetrics } from './tcp-metrics.js';

export { CLUSTER_ID, INSTANCE_LABELS, ISTIO_BUCKETS, ISTIO_LABELS } from './istio-labels.js';

type IstioLabel = (typeof ISTIO_LABELS)[number];
type InstanceLabel = (typeof INSTANCE_LABELS)[number];
type Labels = Record<IstioLabel, string>;

/** one proxy as Prometheus would see it: the pod it runs in */
export interface ProxyInstance {
  pod: string;
  namespace: string;
}

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
    request_protocol: e.grpc ? 'grpc' : 'http',
    response_flags: e.responseFlags,
    // Istio: the destination reporter knows its downstream connection (mutual_tls | none); the source says unknown
    connection_security_policy: e.reporter === 'destination' ? (e.connectionSecurity === 'mutual_tls' ? 'mutual_tls' : 'none') : 'unknown',
    response_code: String(e.status),
    grpc_response_status: e.grpc?.status !== undefined ? String(e.grpc.status) : '',
  };
}

/** the reporting proxy of an event: the source sidecar for `reporter="source"`, else the destination's */
export function instanceLabels(e: RequestEvent): Record<InstanceLabel, string> {
  return { namespace: e.reporter === 'source' ? e.source.namespace : e.destination.namespace, pod: e.proxy };
}

/** every proxy of a mesh as a pod: one sidecar per instance (in the mesh's namespace) and the gateway */
export function proxyInstances(mesh: MeshDefinition, instances: readonly Instance[]): ProxyInstance[] {
  const gateway = gatewayMeta(mesh);
  return [{ pod: gateway.workload, namespace: gateway.namespace }, ...instances.map((i) => ({ pod: i.id, namespace: mesh.namespace }))];
}

interface Children {
  requests: { inc(): void };
  duration: { observe(v: number): void };
  requestBytes: { observe(v: number): void };
  responseBytes: { observe(v: number): void };
  /** gRPC only, bound at the first message (a series appears once it counts something, as Istio's) */
  requestMessages?: { inc(v: number): void };
  responseMessages?: { inc(v: number): void };
  labels: Record<IstioLabel | InstanceLabel, string>;
}

export class IstioMetrics {
  readonly registry: Registry;
  private readonly requests: Counter<IstioLabel | InstanceLabel>;
  private readonly duration: Histogram<IstioLabel | InstanceLabel>;
  private readonly requestBytes: Histogram<IstioLabel | InstanceLabel>;
  private readonly responseBytes: Histogram<IstioLabel | InstanceLabel>;
  private readonly requestMessages: Counter<IstioLabel | InstanceLabel>;
  private readonly responseMessages: Counter<IstioLabel | InstanceLabel>;
  private readonly build: Gauge<'component' | 'tag' | InstanceLabel>;
  private readonly tag: string;
  private proxiesKey = '';
  private readonly tcp: IstioTcpMetrics;

  /** `proxies`: the running proxies, asked before each scrape (see `setProxies`) */
  constructor(
    registry = new Registry(),
    version = '0.0.0',
    private readonly proxies?: () => readonly ProxyInstance[],
  ) {
    this.registry = registry;
    const labelNames = [...ISTIO_LABELS, ...INSTANCE_LABELS];
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
    this.requestMessages = new Counter({ name: 'istio_request_messages_total', help: 'Total number of gRPC messages sent from a client', labelNames, registers: [registry] });
    this.responseMessages = new Counter({ name: 'istio_response_messages_total', help: 'Total number of gRPC messages sent from a server', labelNames, registers: [registry] });
    this.tag = `meshbox-${version}`;
    this.build = new Gauge({ name: 'istio_build', help: 'Istio component build info', labelNames: ['component', 'tag', ...INSTANCE_LABELS], registers: [registry] });
    this.build.set({ component: 'proxy', tag: this.tag }, 1);
    this.tcp = new IstioTcpMetrics(registry);
  }

  /** Istio's TCP metrics, from the TCP proxy's connection events (./tcp-metrics.ts) */
  observeTcp(e: TcpConnectionEvent): void {
    this.tcp.observe(e);
  }

  /**
   * The proxies that run now (sidecars and the gateway): each gets its `istio_build` series, as
   * every Envoy of a cluster exposes one from its start, so `sum(istio_build) by (component, tag)`
   * counts proxies. Cheap to call before every scrape.
   */
  setProxies(proxies: readonly ProxyInstance[]): void {
    const key = proxies.map((p) => `${p.namespace}/${p.pod}`).join(',');
    if (key === this.proxiesKey) return;
    this.proxiesKey = key;
    this.build.reset();
    for (const p of proxies) this.build.set({ component: 'proxy', tag: this.tag, namespace: p.namespace, pod: p.pod }, 1);
  }

  /**
   * prom-client hashes a label object on every call (25 labels here); a mesh has few distinct
   * label sets, so the bound children are cached by a cheap key instead.
   */
  private readonly children = new Map<string, Children>();

  observe(e: RequestEvent): void {
    const key = `${e.proxy}|${e.reporter}|${e.source.workload}|${e.source.version}|${e.destination.workload}|${e.destination.version}|${e.destination.service}|${e.status}|${e.responseFlags}|${e.source.namespace}|${e.destination.namespace}|${e.source.app}|${e.destination.app}|${e.source.principal}|${e.destination.principal}|${e.connectionSecurity ?? ''}|${e.grpc ? (e.grpc.status ?? '') : 'http'}`;
    let c = this.children.get(key);
    if (!c) {
      const labels = { ...istioLabels(e), ...instanceLabels(e) };
      c = {
        requests: this.requests.labels(labels),
        duration: this.duration.labels(labels),
        requestBytes: this.requestBytes.labels(labels),
        responseBytes: this.responseBytes.labels(labels),
        labels,
      };
      this.children.set(key, c);
    }
    c.requests.inc();
    c.duration.observe(e.durationMs);
    c.requestBytes.observe(e.bytesReceived);
    c.responseBytes.observe(e.bytesSent);
    if (e.grpc && e.grpc.requestMessages > 0) (c.requestMessages ??= this.requestMessages.labels(c.labels)).inc(e.grpc.requestMessages);
    if (e.grpc && e.grpc.responseMessages > 0) (c.responseMessages ??= this.responseMessages.labels(c.labels)).inc(e.grpc.responseMessages);
  }

  text(): Promise<string> {
    if (this.proxies) this.setProxies(this.proxies());
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
