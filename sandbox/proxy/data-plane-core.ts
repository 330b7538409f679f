/**
 * The data plane: every listener, route table and cluster of the sandbox, in one event loop
 * (a worker thread in production, see ./data-plane-worker.ts; in-process in tests).
 *
 * Applying a snapshot is atomic: the new CompiledSnapshot replaces the old one in a single
 * assignment; requests already running keep the one they started with.
 *
 * Applying is cheap, too (issue #10.12): a shipped snapshot (./snapshot-shipping.ts) brings its
 * route lists ahead, in slices that are built one task each, between requests; route lists the
 * data plane already holds are reused by fingerprint. The apply itself only assembles tables.
 */
import type { MeshEvent } from '../events.js';
import type { MeshSnapshot, VirtualHostConfig } from '../control/snapshot.js';
import { Rng } from '../rng.js';
import { MeshError } from '../errors.js';
import { compileSnapshot, type CompiledSnapshot } from './compiled-snapshot.js';
import { Route, RouteTable, VirtualHost } from './routing/route-table.js';
import type { RouteSlice, ShippedSnapshot } from './snapshot-shipping.js';
import { ConnectionManager } from './connection-manager.js';
import { downstreamLimits, ListenerManager, type BoundListener, type DownstreamLimits, type ListenError } from './listener.js';
import { ClusterManager } from './upstream/cluster.js';
import { ToxicManager } from './toxics/toxic-manager.js';
import { TlsSecretStore, type ProxySecret } from '../security/tls-secrets.js';
import { InboundMtls } from '../security/tls-inbound.js';
import { TcpProxy } from './tcp/tcp-proxy.js';

export interface SnapshotAck {
  version: number;
  listeners: BoundListener[];
  errors: ListenError[];
}

export interface DataPlaneCoreOptions {
  seed: number;
  /** receives request events in batches */
  emit(events: MeshEvent[]): void;
  /** how often buffered events are flushed (ms) */
  flushIntervalMs?: number;
  /** downstream timeouts and size limits; Envoy's defaults where unset */
  limits?: Partial<DownstreamLimits>;
}

interface StagedHost {
  config: VirtualHostConfig;
  routes: Route[];
  received: number;
}

interface StagedList {
  hosts: StagedHost[];
}

const EMPTY_SNAPSHOT: MeshSnapshot = {
  version: 0,
  createdAt: new Date(0).toISOString(),
  namespace: 'default',
  services: [],
  proxies: [],
  listeners: [],
  routeConfigs: {},
  clusters: {},
  faults: [],
};

export class DataPlaneCore {
  private current: CompiledSnapshot = compileSnapshot(EMPTY_SNAPSHOT);
  readonly clusters: ClusterManager;
  private readonly listeners: ListenerManager;
  private readonly cm: ConnectionManager;
  private readonly toxics: ToxicManager;
  /** the TCP proxy filter of every listener's TCP connections (./tcp/tcp-proxy.ts) */
  private readonly tcp: TcpProxy;
  private buffer: MeshEvent[] = [];
  /** route tables of the current snapshot, by route list fingerprint */
  private tables = new Map<string, RouteTable>();
  /** route lists being staged for the next shipped snapshot */
  private staging = new Map<string, StagedList>();
  private flushTimer: NodeJS.Timeout | undefined;
  /** workload certificates pushed by the control side (SDS) */
  readonly secrets = new TlsSecretStore();
  readonly inboundMtls: InboundMtls;

  constructor(private readonly opts: DataPlaneCoreOptions) {
    this.clusters = new ClusterManager((e) => this.buffered(e), this.secrets);
    const rng = new Rng(opts.seed);
    const limits = downstreamLimits(opts.limits);
    this.inboundMtls = new InboundMtls({
      secrets: this.secrets,
      mtls: (name) => this.current.listeners.get(name)?.mtls,
      firstByteTimeoutMs: limits.requestHeadersTimeoutMs > 0 ? limits.requestHeadersTimeoutMs : limits.idleTimeoutMs,
    });
    this.toxics = new ToxicManager(rng.fork(1));
    this.cm = new ConnectionManager({
      current: () => this.current,
      clusters: this.clusters,
      rng,
      emit: (e) => this.buffered(e),
      limits,
    });
    this.tcp = new TcpProxy({
      current: () => this.current,
      clusters: this.clusters,
      seed: rng.fork(2).int(0x7fffffff),
      emit: (e) => this.buffered(e),
      idleTimeoutMs: limits.idleTimeoutMs,
    });
    this.listeners = new ListenerManager(this.cm, limits, this.inboundMtls, this.tcp, (name) => {
      const l = this.current.listeners.get(name);
      return l ? (l.protocol ?? 'http') : undefined;
    });
  }

  /** SDS: the whole set of workload secrets; new connections use them at once */
  setSecrets(secrets: readonly ProxySecret[]): void {
    this.secrets.update(secrets);
    this.clusters.secretsChanged();
  }

  /** the secrets held, without keys (`meshbox certs`, the admin API) */
  secretsJson(): unknown {
    return {
      secrets: this.secrets.all().map(({ keyPem: _k, ...rest }) => rest),
      inbound: { ...this.inboundMtls.stats },
      upstream: this.clusters.all().reduce(
        (acc, c) => ({ handshakes: acc.handshakes + c.agent.handshakes, resumed: acc.resumed + c.agent.resumed }),
        { handshakes: 0, resumed: 0 },
      ),
    };
  }

  get version(): number {
    return this.current.snapshot.version;
  }

  /** binds listeners ahead of a snapshot, so the control plane learns their ports */
  bind(listeners: MeshSnapshot['listeners']): Promise<{ bound: BoundListener[]; errors: ListenError[] }> {
    return this.listeners.ensure(listeners);
  }

  private async swap(snapshot: MeshSnapshot, build: (effective: MeshSnapshot) => CompiledSnapshot, owned?: readonly string[]): Promise<SnapshotAck> {
    // endpoints with network toxics are reached through their ToxicProxy
    const effective = await this.toxics.apply(snapshot);
    const compiled = build(effective);
    // clusters for the proxies this data plane runs (one worker of several runs some of them)
    this.clusters.update(effective.clusters, owned ?? effective.proxies.map((p) => p.id));
    this.current = compiled;
    const { bound, errors } = await this.listeners.reconcile(snapshot.listeners);
    return { version: snapshot.version, listeners: bound, errors };
  }

  /** Applies a whole snapshot, route configurations included (the warm-up's: ./warm-up-site.ts). */
  apply(snapshot: MeshSnapshot): Promise<SnapshotAck> {
    return this.swap(snapshot, (effective) => compileSnapshot(effective));
  }

  /** Builds one slice of a route list for a shipped snapshot (see ./snapshot-shipping.ts). */
  stageRoutes(slice: RouteSlice): void {
    if (this.tables.has(slice.fingerprint)) return;
    let list = this.staging.get(slice.fingerprint);
    if (!list) this.staging.set(slice.fingerprint, (list = { hosts: new Array<StagedHost>(slice.virtualHosts) }));
    if (slice.virtualHost < 0) return; // a list without virtual hosts
    let host = list.hosts[slice.virtualHost];
    if (!host) list.hosts[slice.virtualHost] = host = { config: { name: slice.name, domains: slice.domains, routes: new Array(slice.total) }, routes: new Array(slice.total), received: 0 };
    slice.routes.forEach((r, i) => {
      // a slice sent again (the control plane re-ships after a failed apply) replaces, not adds
      if (host.routes[slice.offset + i] === undefined) host.received++;
      host.config.routes[slice.offset + i] = r;
      host.routes[slice.offset + i] = new Route(r);
    });
  }

  /** Applies a snapshot whose route lists were staged (or are held already). */
  async applyShipped(shipped: ShippedSnapshot): Promise<SnapshotAck> {
    const byName = new Map<string, RouteTable>();
    const next = new Map<string, RouteTable>();
    for (const [name, fp] of Object.entries(shipped.routeRefs)) {
      const table = next.get(fp) ?? this.tables.get(fp) ?? this.assemble(name, fp);
      next.set(fp, table);
      byName.set(name, table);
    }
    const ack = await this.swap(shipped.snapshot, (effective) => compileSnapshot(effective, byName), shipped.owned);
    this.tables = next;
    this.staging.clear();
    return ack;
  }

  private assemble(name: string, fp: string): RouteTable {
    const list = this.staging.get(fp);
    // (spread: holes of the sparse array count as missing hosts)
    if (!list || ![...list.hosts].every((h) => h !== undefined && h.received === h.routes.length)) {
      throw new MeshError('MESH_ERR_INTERNAL', [`data plane: route configuration ${name} was not staged completely (route list ${fp})`], {
        hint: 'the control plane ships every route list again with the next snapshot',
      });
    }
    const hosts = list.hosts.map((h, i) => new VirtualHost(h.config, i, h.routes));
    return new RouteTable({ name, virtualHosts: hosts.map((h) => h.config) }, hosts);
  }

  clustersJson(): unknown {
    return {
      version: this.version,
      clusters: this.clusters.all().map((c) => c.toJSON()),
      toxicProxies: this.toxics.describe(),
      // downstream codecs of every listener (HTTP/1.1 vs HTTP/2 connections, protocol errors)
      downstream: { ...this.listeners.codecStats },
    };
  }

  private buffered(e: MeshEvent): void {
    this.buffer.push(e);
    if (this.buffer.length >= 512) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), this.opts.flushIntervalMs ?? 20);
  }

  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.opts.emit(batch);
  }

  async stop(graceMs = 2_000): Promise<void> {
    await this.listeners.closeAll(graceMs);
    await this.toxics.closeAll();
    this.flush();
    this.clusters.destroy();
  }
}
