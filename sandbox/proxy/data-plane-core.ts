/**
 * The data plane: every listener, route table and cluster of the sandbox, in one event loop
 * (a worker thread in production, see ./data-plane-worker.ts; in-process in tests).
 *
 * Applying a snapshot is atomic: the new CompiledSnapshot replaces the old one in a single
 * assignment; requests already running keep the one they started with.
 */
import type { MeshEvent } from '../events.js';
import type { MeshSnapshot } from '../control/snapshot.js';
import { Rng } from '../rng.js';
import { compileSnapshot, type CompiledSnapshot } from './compiled-snapshot.js';
import { ConnectionManager } from './connection-manager.js';
import { downstreamLimits, ListenerManager, type BoundListener, type DownstreamLimits, type ListenError } from './listener.js';
import { ClusterManager } from './upstream/cluster.js';
import { ToxicManager } from './toxics/toxic-manager.js';

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
  private buffer: MeshEvent[] = [];
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: DataPlaneCoreOptions) {
    this.clusters = new ClusterManager((e) => this.buffered(e));
    const rng = new Rng(opts.seed);
    const limits = downstreamLimits(opts.limits);
    this.toxics = new ToxicManager(rng.fork(1));
    this.cm = new ConnectionManager({
      current: () => this.current,
      clusters: this.clusters,
      rng,
      emit: (e) => this.buffered(e),
      limits,
    });
    this.listeners = new ListenerManager(this.cm, limits);
  }

  get version(): number {
    return this.current.snapshot.version;
  }

  /** binds listeners ahead of a snapshot, so the control plane learns their ports */
  bind(listeners: MeshSnapshot['listeners']): Promise<{ bound: BoundListener[]; errors: ListenError[] }> {
    return this.listeners.ensure(listeners);
  }

  async apply(snapshot: MeshSnapshot): Promise<SnapshotAck> {
    // endpoints with network toxics are reached through their ToxicProxy
    const effective = await this.toxics.apply(snapshot);
    const compiled = compileSnapshot(effective);
    this.clusters.update(effective.clusters, effective.proxies.map((p) => p.id));
    this.current = compiled;
    const { bound, errors } = await this.listeners.reconcile(snapshot.listeners);
    return { version: snapshot.version, listeners: bound, errors };
  }

  clustersJson(): unknown {
    return { version: this.version, clusters: this.clusters.all().map((c) => c.toJSON()), toxicProxies: this.toxics.describe() };
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
