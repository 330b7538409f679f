/**
 * Cluster: a set of upstream endpoints (a service, or one subset of it) with its load balancer,
 * its circuit breaker, its outlier detector, its keep-alive connection pool and its counters.
 * Envoy's `outbound|8080|v2|<fqdn>`.
 *
 * As in Envoy, every proxy has its own instance of a cluster: circuit-breaker limits, outlier
 * detection and load-balancer state are per calling proxy (Istio's connectionPool limits apply
 * per client sidecar), shared by the cluster's endpoints.
 *
 * Clusters live in the ClusterManager across snapshots: a new snapshot updates a cluster's
 * config and endpoint list in place, so counters, LB state, breaker and ejection state and
 * pooled connections survive rule reloads, and requests in flight keep their Endpoint objects.
 */
import type { ClusterConfig, EndpointConfig } from '../../control/snapshot.js';
import { decideUpstreamTls, MeshUpstreamAgent, type UpstreamTlsDecision } from '../../security/tls-upstream.js';
import type { TlsSecretStore } from '../../security/tls-secrets.js';
import type { OutlierEvent } from '../../events.js';
import type { Rng } from '../../rng.js';
import { CircuitBreaker, limitsFromPool } from './circuit-breaker.js';
import { H2Pool } from './h2-pool.js';
import { Endpoint } from './endpoint.js';
import { loadBalancers, pickHost, type LoadBalancer } from './load-balancer.js';
import { OutlierDetector, outlierConfig, type AttemptResult, type EjectionNotice } from './outlier-detector.js';

export type ClusterEventSink = (e: OutlierEvent) => void;

/** Envoy's default upstream idle_timeout (common_http_protocol_options) */
export const IDLE_TIMEOUT_MS = 3_600_000;

export class Cluster {
  /** keep-alive pool; plain TCP or TLS per endpoint (auto mTLS, DestinationRule tls) */
  readonly agent: MeshUpstreamAgent;
  /** HTTP/2 sessions per endpoint, for http2/grpc ports and upgraded requests (./h2-pool.ts) */
  readonly h2: H2Pool;
  readonly breaker = new CircuitBreaker();
  private lb: LoadBalancer;
  private endpoints = new Map<string, Endpoint>();
  private outlier: OutlierDetector | undefined;
  /** requests that found no healthy host */
  noHealthyUpstream = 0;
  /** explain()'s line; dropped whenever the config, the hosts or an ejection changes */
  private explanation: string | undefined;
  /** requests waiting for an endpoint while meshbox restarts this cluster's instances (hot reload) */
  private readonly endpointWaiters = new Set<() => void>();

  constructor(
    public config: ClusterConfig,
    private readonly emit: ClusterEventSink = () => undefined,
    /** the proxy this instance of the cluster belongs to */
    readonly proxyId = '',
    private readonly secrets?: TlsSecretStore,
  ) {
    // Idle pooled connections close after Envoy's default idle_timeout (1 h), or earlier when the
    // upstream announces a shorter keep-alive (`Keep-Alive: timeout=5` from a Node app: Node's
    // agent then closes them a second before the upstream would, which it only does when an agent
    // timeout is set). A request is never re-sent once written, so reusing a connection the
    // upstream is closing would fail it. Connections are plain TCP or TLS per endpoint (auto mTLS,
    // DestinationRule tls: ../../security/tls-upstream.ts).
    this.agent = new MeshUpstreamAgent((host, port) => this.tlsFor(host, port), IDLE_TIMEOUT_MS);
    this.h2 = new H2Pool(this.agent, (host, port) => this.tlsFor(host, port), IDLE_TIMEOUT_MS);
    this.lb = loadBalancers[config.lb](config.hashPolicy?.ringSize);
    this.update(config);
  }

  get name(): string {
    return this.config.name;
  }

  update(config: ClusterConfig): void {
    this.explanation = undefined;
    if (config.lb !== this.lb.policy || config.hashPolicy?.ringSize !== this.config.hashPolicy?.ringSize) {
      this.lb = loadBalancers[config.lb](config.hashPolicy?.ringSize);
    }
    this.config = config;
    const next = new Map<string, Endpoint>();
    for (const ec of config.endpoints) {
      const existing = this.endpoints.get(ec.id);
      if (existing) {
        existing.config = ec;
        next.set(ec.id, existing);
      } else {
        next.set(ec.id, new Endpoint(ec));
      }
    }
    this.endpoints = next;
    this.byAddress = undefined;
    this.tlsMemo = new WeakMap();
    if (this.agent) this.agent.dropStale();
    if (this.h2) this.h2.dropStale();
    this.breaker.update(limitsFromPool(config.trafficPolicy?.connectionPool));
    const od = outlierConfig(config.trafficPolicy?.outlierDetection);
    if (!od) {
      this.outlier?.stop();
      this.outlier = undefined;
    } else if (this.outlier) {
      this.outlier.update(od);
    } else {
      this.outlier = new OutlierDetector(od, () => this.hosts(), (n) => this.onEjection(n));
    }
    this.wakeEndpointWaiters();
  }

  /** resolves at the next update of this cluster (endpoints, health, config) or after `ms` */
  endpointsChanged(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.endpointWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.endpointWaiters.add(done);
    });
  }

  private wakeEndpointWaiters(): void {
    for (const wake of [...this.endpointWaiters]) wake();
  }

  private onEjection(n: EjectionNotice): void {
    this.explanation = undefined;
    this.emit({
      type: n.ejected ? 'mesh:outlier:ejected' : 'mesh:outlier:returned',
      time: Date.now(),
      proxy: this.proxyId,
      cluster: this.config.name,
      endpoint: n.endpoint,
      reason: n.reason,
      ejectionMs: n.ejectionMs,
      ejections: n.ejections,
    });
  }

  private byAddress: Map<string, EndpointConfig> | undefined;

  /**
   * decisions by endpoint, valid for this config (dropped by update) and this generation of the
   * secrets: asked twice per request (the pool's key, the event's security), decided once
   */
  private tlsMemo = new WeakMap<EndpointConfig, { generation: number; decision: UpstreamTlsDecision }>();

  /** the transport toward one endpoint of this cluster (../../security/tls-upstream.ts) */
  tlsDecision(ec: EndpointConfig): UpstreamTlsDecision {
    const generation = this.secrets?.generation ?? 0;
    const memo = this.tlsMemo.get(ec);
    if (memo && memo.generation === generation) return memo.decision;
    const decision = decideUpstreamTls(this.proxyId, this.config, ec, this.secrets);
    this.tlsMemo.set(ec, { generation, decision });
    return decision;
  }

  private tlsFor(host: string, port: number): UpstreamTlsDecision {
    this.byAddress ??= new Map(this.config.endpoints.map((e) => [`${e.address}:${e.port}`, e]));
    const ec = this.byAddress.get(`${host}:${port}`);
    return ec ? this.tlsDecision(ec) : { kind: 'plaintext', why: `${host}:${port} is not an endpoint of ${this.config.name}` };
  }

  hosts(): Endpoint[] {
    return [...this.endpoints.values()];
  }

  isEjected(e: Endpoint): boolean {
    return this.outlier?.isEjected(e) ?? false;
  }

  /**
   * A host for one attempt: healthy (ready: running and passing its health check) and not
   * ejected (outlier detection), preferring hosts this request has not tried. In panic mode
   * (minHealthPercent) any ready host, ejected or not: Istio sends Envoy only ready endpoints,
   * so the threshold counts, and panic picks among, those. Undefined when none: 503 UH.
   */
  pick(rng: Rng, exclude?: ReadonlySet<string>, hashKey?: string): Endpoint | undefined {
    const ready = this.hosts().filter((e) => e.healthy);
    const available = ready.filter((e) => !this.isEjected(e));
    const pool = this.outlier?.panic(available.length, ready.length) ? ready : available;
    return pickHost(this.lb, pool, rng, exclude, hashKey);
  }

  /** feeds outlier detection with one attempt's result */
  record(e: Endpoint, result: AttemptResult): void {
    this.outlier?.record(e, result);
  }

  /** one line for "why did my request go there?": policy, hosts, limits (cached: every request asks) */
  explain(): string {
    this.explanation ??= this.describe();
    return this.explanation;
  }

  private describe(): string {
    const all = this.hosts();
    const available = all.filter((e) => e.healthy && !this.isEjected(e)).length;
    const lim = this.breaker.limits;
    const limits = [
      Number.isFinite(lim.maxConnections) ? `maxConnections ${lim.maxConnections}` : '',
      Number.isFinite(lim.maxPendingRequests) ? `maxPending ${lim.maxPendingRequests}` : '',
      Number.isFinite(lim.maxRequests) ? `maxRequests ${lim.maxRequests}` : '',
      Number.isFinite(lim.maxRetries) ? `maxRetries ${lim.maxRetries}` : '',
    ].filter(Boolean);
    const policy = this.config.policySource ? ` (${this.config.policySource})` : '';
    return (
      `cluster ${this.config.name}${policy}: ${this.config.lb} over ${available} of ${all.length} hosts available` +
      (limits.length ? `, circuit breaker ${limits.join(', ')}` : '') +
      (this.outlier ? `, outlier detection on` : '') +
      (this.config.kind === 'outbound' ? `, ${this.config.tls && this.config.tls.mode !== 'AUTO' ? `tls ${this.config.tls.mode}` : 'auto mTLS'}` : '')
    );
  }

  /** closes idle pooled connections; requests in flight keep theirs until they end */
  retire(): void {
    this.outlier?.stop();
    this.wakeEndpointWaiters();
    for (const sockets of Object.values(this.agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
    this.h2.retire();
  }

  destroy(): void {
    this.outlier?.stop();
    this.agent.destroy();
    this.h2.destroy();
  }

  toJSON(): Record<string, unknown> {
    return {
      proxy: this.proxyId,
      name: this.config.name,
      kind: this.config.kind,
      lb: this.config.lb,
      policy: this.config.policySource,
      no_healthy_upstream: this.noHealthyUpstream,
      circuit_breakers: this.breaker.toJSON(),
      ...(this.config.protocol ? { protocol: this.config.protocol } : {}),
      http2: this.h2.toJSON(),
      outlier_detection: this.outlier ? { ...this.outlier.config } : undefined,
      tls: this.config.kind === 'outbound' ? { mode: this.config.tls?.mode ?? 'AUTO', source: this.config.tls?.source, handshakes: this.agent.handshakes, resumed: this.agent.resumed } : undefined,
      hosts: this.hosts().map((h) => ({
        ...h.toJSON(),
        ejected: this.isEjected(h),
        health_flags: [!h.healthy ? '/failed_active_hc' : '', this.isEjected(h) ? '/failed_outlier_check' : ''].filter(Boolean).join('') || 'healthy',
        times_ejected: this.outlier?.ejectionsOf(h) ?? 0,
      })),
    };
  }
}

/**
 * Every proxy's instances of the snapshot's clusters (as Istio pushes every outbound cluster to
 * every proxy, plus a sidecar's own inbound cluster), updated in place by each snapshot.
 */
export class ClusterManager {
  private configs: Record<string, ClusterConfig> = {};
  /** `<proxy id>\u0000<cluster key>` -> instance */
  private readonly clusters = new Map<string, Cluster>();

  constructor(
    private readonly emit: ClusterEventSink = () => undefined,
    private readonly secrets?: TlsSecretStore,
  ) {}

  /** idle connections made with a TLS setting that is no longer current close (a secret came or went) */
  secretsChanged(): void {
    for (const c of this.clusters.values()) {
      c.agent.dropStale();
      c.h2.dropStale();
    }
  }

  update(configs: Record<string, ClusterConfig>, proxyIds: readonly string[] = []): void {
    this.configs = configs;
    for (const proxyId of proxyIds) {
      for (const [key, config] of Object.entries(configs)) {
        const own = config.kind !== 'inbound' || key.startsWith(`${proxyId}|`);
        if (own) this.get(proxyId, key);
      }
    }
    for (const [id, cluster] of this.clusters) {
      const config = configs[id.slice(id.indexOf('\u0000') + 1)];
      if (config) {
        cluster.update(config);
      } else {
        cluster.retire();
        this.clusters.delete(id);
      }
    }
  }

  /** `proxyId`'s instance of the cluster `key`, or undefined when the snapshot has no such cluster */
  get(proxyId: string, key: string): Cluster | undefined {
    const id = `${proxyId}\u0000${key}`;
    const existing = this.clusters.get(id);
    if (existing) return existing;
    const config = this.configs[key];
    if (!config) return undefined;
    const created = new Cluster(config, this.emit, proxyId, this.secrets);
    this.clusters.set(id, created);
    return created;
  }

  all(): Cluster[] {
    return [...this.clusters.values()];
  }

  destroy(): void {
    for (const c of this.clusters.values()) c.destroy();
    this.clusters.clear();
  }
}
