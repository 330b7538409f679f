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
import { Gauge, Registry } from 'prom-client';
import type { MeshDefinition } from '../config/mesh-types.js';
import { gatewayMeta } from '../control/compiler.js';
import type { Instance } from '../control/registry.js';
import type { RequestEvent, TcpConnectionEvent } from '../events.js';
import { INSTANCE_LABELS, ISTIO_BUCKETS, ISTIO_LABELS, peerLabels } from './istio-labels.js';
import { IstioTcpMetrics } from './tcp-metrics.js';
import { SeriesCounter, SeriesHistogram } from './metric-series.js';

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
  return {
    ...peerLabels(e),
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

export class IstioMetrics {
  readonly registry: Registry;
  private readonly requests: SeriesCounter;
  private readonly duration: SeriesHistogram;
  private readonly requestBytes: SeriesHistogram;
  private readonly responseBytes: SeriesHistogram;
  /** gRPC only: a series appears once it counts a message, as Istio's */
  private readonly requestMessages: SeriesCounter;
  private readonly responseMessages: SeriesCounter;
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
    // counted per series as plain numbers, exported on scrape (./metric-series.ts)
    this.requests = new SeriesCounter('istio_requests_total', 'Total number of requests handled by an Istio proxy', registry);
    this.duration = new SeriesHistogram('istio_request_duration_milliseconds', 'Duration of requests in milliseconds', registry, ISTIO_BUCKETS);
    this.requestBytes = new SeriesHistogram('istio_request_bytes', 'HTTP request body sizes', registry, ISTIO_BUCKETS);
    this.responseBytes = new SeriesHistogram('istio_response_bytes', 'HTTP response body sizes', registry, ISTIO_BUCKETS);
    this.requestMessages = new SeriesCounter('istio_request_messages_total', 'Total number of gRPC messages sent from a client', registry);
    this.responseMessages = new SeriesCounter('istio_response_messages_total', 'Total number of gRPC messages sent from a server', registry);
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

  observe(e: RequestEvent): void {
    // every label of the series is a function of these fields (istioLabels, instanceLabels)
    const s = e.source;
    const d = e.destination;
    const key = `${e.proxy}|${e.reporter}|${e.status}|${e.responseFlags}|${e.connectionSecurity ?? ''}|${s.workload}|${s.namespace}|${s.principal}|${s.app}|${s.version}|${s.canonicalService}|${s.canonicalRevision}|${d.workload}|${d.namespace}|${d.principal}|${d.app}|${d.version}|${d.service}|${d.serviceName}|${d.serviceNamespace}|${d.canonicalService}|${d.canonicalRevision}|${e.grpc ? (e.grpc.status ?? '') : 'http'}`;
    const labels = (): Record<string, string> => ({ ...istioLabels(e), ...instanceLabels(e) });
    this.requests.inc(key, labels);
    this.duration.observe(key, labels, e.durationMs);
    this.requestBytes.observe(key, labels, e.bytesReceived);
    this.responseBytes.observe(key, labels, e.bytesSent);
    if (e.grpc && e.grpc.requestMessages > 0) this.requestMessages.inc(key, labels, e.grpc.requestMessages);
    if (e.grpc && e.grpc.responseMessages > 0) this.responseMessages.inc(key, labels, e.grpc.responseMessages);
  }

  text(): Promise<string> {
    if (this.proxies) this.setProxies(this.proxies());
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
