/**
 * The main thread's handle on the data plane: N cores (worker threads in production, default
 * one per CPU core, at most 4; DataPlaneCores on this thread for tests with `inProcess`), each
 * owning whole proxies (./proxy-placement.ts), so the data plane scales with cores while each
 * proxy's circuit breakers, load balancers and outlier detection stay in one event loop.
 *
 *   bind(listeners)     each listener to the worker of its proxy
 *   apply(snapshot)     to every worker: its own listeners, the route lists they use, the rest
 *                       (clusters, faults and toxics, services, proxies) whole; acked by all
 *   setSecrets          SDS to every worker
 *   clusters, secrets   every worker's, merged (./data-plane-merge.ts)
 *   standalone proxies  the Toxiproxy API's, each placed on one worker
 *
 * A worker that exits or crashes without being asked takes its proxies with it: the data plane
 * reports it once (`onExit`), and the sandbox stops as for a dead data plane.
 */
import os from 'node:os';
import type { MeshEvent } from '../events.js';
import type { ListenerConfig, MeshSnapshot } from '../control/snapshot.js';
import { MeshError } from '../errors.js';
import type { SnapshotAck } from './data-plane-core.js';
import type { BoundListener, DownstreamLimits, ListenError } from './listener.js';
import type { ProxySecret } from '../security/tls-secrets.js';
import { InProcessCoreHandle, WorkerCoreHandle, type CoreHandle } from './data-plane-handle.js';
import { mergeClusters, mergeSecrets, type ClustersJson, type SecretsJson } from './data-plane-merge.js';
import { ProxyPlacement } from './proxy-placement.js';
import type { HostPort, StartResult, TcpConnectionRecord, TcpProxyHost } from '../toxiproxy-api/tcp-proxy-host.js';
import type { ToxicSpec } from '../faults/fault-spec.js';
import type { WarmUpStep } from './warm-up-site.js';
import type { ThreadMemory } from './thread-memory.js';

/** most workers the data plane starts by default (and the most `--data-plane-workers` takes) */
export const MAX_DATA_PLANE_WORKERS = 4;

/** one worker per CPU core, at most MAX_DATA_PLANE_WORKERS */
export function defaultDataPlaneWorkers(cores = os.availableParallelism()): number {
  return Math.max(1, Math.min(MAX_DATA_PLANE_WORKERS, cores));
}

/** a worker count from the command line or meshbox.yaml, checked: 1..MAX_DATA_PLANE_WORKERS */
export function checkDataPlaneWorkers(n: number, source: string): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_DATA_PLANE_WORKERS) {
    throw new MeshError('MESH_ERR_USAGE', [`${source} must be a whole number from 1 to ${MAX_DATA_PLANE_WORKERS}, got ${String(n)}`]);
  }
  return n;
}

export interface DataPlaneOptions {
  seed: number;
  onEvents(events: MeshEvent[]): void;
  inProcess?: boolean;
  /** how many cores (worker threads) run the proxies; default defaultDataPlaneWorkers() */
  workers?: number;
  /**
   * A worker exited (or crashed) without being asked to stop: its sidecars (or the ingress
   * gateway) are gone. Called once, with MESH_ERR_INTERNAL saying how it ended.
   */
  onExit?(error: MeshError): void;
  /** downstream timeouts and size limits (listener.ts); Envoy's defaults where unset */
  limits?: Partial<DownstreamLimits>;
}

export interface DataPlane {
  /** how many workers run the proxies */
  readonly workers: number;
  bind(listeners: ListenerConfig[]): Promise<{ bound: BoundListener[]; errors: ListenError[] }>;
  /** applies a snapshot (its route lists shipped ahead, in slices, each once: see snapshot-shipping.ts) */
  apply(snapshot: MeshSnapshot): Promise<SnapshotAck>;
  clusters(): Promise<unknown>;
  /** SDS push: every proxy's workload certificate */
  setSecrets(secrets: ProxySecret[]): Promise<void>;
  /** the secrets the data plane holds (no keys) and TLS handshake counters */
  secrets(): Promise<unknown>;
  /** which worker runs which proxy (0-based), and each worker's thread id (undefined in-process) */
  placement(): { proxies: Record<string, number>; threads: Array<number | undefined> };
  /**
   * The Toxiproxy API's standalone proxies, run by the data plane's workers (one each, placed
   * like a proxy); `onConnection` hears their connections open and close.
   */
  standaloneProxies(onConnection?: (c: TcpConnectionRecord) => void): TcpProxyHost;
  /** each worker's V8 heap */
  memory(): Promise<ThreadMemory[]>;
  /** a step of worker `index`'s warm-up before ready (../control/warm-up.ts drives it) */
  warmUpStep(index: number, step: WarmUpStep): Promise<unknown>;
  stop(graceMs?: number): Promise<void>;
  /** ends worker `index` at once, as a crash would (tests) */
  terminateWorker(index: number): Promise<void>;
}

class DataPlanePool implements DataPlane {
  private readonly cores: CoreHandle[];
  private readonly place: ProxyPlacement;
  private failed = false;
  private stopping = false;
  private onTcp: ((c: TcpConnectionRecord) => void) | undefined;

  constructor(private readonly opts: DataPlaneOptions) {
    const n = opts.workers ?? defaultDataPlaneWorkers();
    this.place = new ProxyPlacement(n);
    this.cores = [];
    for (let index = 0; index < n; index++) {
      const o = {
        seed: opts.seed,
        limits: opts.limits,
        index,
        onEvents: opts.onEvents,
        onTcpConnection: (c: TcpConnectionRecord) => this.onTcp?.(c),
        onExit: (how: string) => this.coreExited(index, how),
      };
      this.cores.push(opts.inProcess ? new InProcessCoreHandle(o) : new WorkerCoreHandle(o));
    }
  }

  get workers(): number {
    return this.cores.length;
  }

  private coreExited(index: number, how: string): void {
    if (this.failed || this.stopping) return;
    this.failed = true;
    const n = this.cores.length;
    const proxies = this.place.ownedBy(index);
    const what =
      n === 1
        ? `the data plane worker ${how}: every sidecar and the ingress gateway are gone`
        : `data plane worker ${index + 1} of ${n} ${how}: the proxies it ran are gone (${proxies.join(', ') || 'none yet'})`;
    this.opts.onExit?.(
      new MeshError('MESH_ERR_INTERNAL', [what], {
        hint: 'meshbox stops the sandbox; start it again with `meshbox up`. This is a bug in meshbox: please report it with the output above (MESHBOX_DEBUG=1 adds stacks)',
      }),
    );
  }

  async bind(listeners: ListenerConfig[]): Promise<{ bound: BoundListener[]; errors: ListenError[] }> {
    const parts = this.place.split(listeners, (l) => l.proxyId);
    const results = await Promise.all(parts.map((part, i) => (part.length ? this.cores[i]!.bind(part) : { bound: [], errors: [] })));
    return { bound: results.flatMap((r) => r.bound), errors: results.flatMap((r) => r.errors) };
  }

  async apply(snapshot: MeshSnapshot): Promise<SnapshotAck> {
    const parts = this.place.split(snapshot.listeners, (l) => l.proxyId);
    const acks = await Promise.all(
      this.cores.map((core, i) => {
        const listeners = parts[i]!;
        // only the route configurations this worker's listeners use are shipped to it
        const used = new Set(listeners.map((l) => l.routeConfig).filter((n): n is string => n !== undefined));
        const routeConfigs = this.cores.length === 1 ? snapshot.routeConfigs : Object.fromEntries(Object.entries(snapshot.routeConfigs).filter(([name]) => used.has(name)));
        return core.apply({ ...snapshot, listeners, routeConfigs }, this.place.ownedBy(i));
      }),
    );
    return { version: snapshot.version, listeners: acks.flatMap((a) => a.listeners), errors: acks.flatMap((a) => a.errors) };
  }

  async clusters(): Promise<unknown> {
    return mergeClusters((await Promise.all(this.cores.map((c) => c.clusters()))) as ClustersJson[]);
  }

  async setSecrets(secrets: ProxySecret[]): Promise<void> {
    await Promise.all(this.cores.map((c) => c.setSecrets(secrets)));
  }

  async secrets(): Promise<unknown> {
    return mergeSecrets((await Promise.all(this.cores.map((c) => c.secrets()))) as SecretsJson[]);
  }

  placement(): { proxies: Record<string, number>; threads: Array<number | undefined> } {
    return { proxies: Object.fromEntries(this.place.entries()), threads: this.cores.map((c) => c.threadId) };
  }

  standaloneProxies(onConnection?: (c: TcpConnectionRecord) => void): TcpProxyHost {
    this.onTcp = onConnection;
    const cores = this.cores;
    const place = this.place;
    return {
      async start(name: string, listen: HostPort, upstream: HostPort, toxics: ToxicSpec[]): Promise<StartResult> {
        const known = place.standaloneOf(name);
        if (known !== undefined) await cores[known]!.tcpProxy({ type: 'stop', name });
        place.releaseStandalone(name);
        const w = place.placeStandalone(name);
        const result = (await cores[w]!.tcpProxy({ type: 'start', name, listen, upstream, toxics })) as StartResult;
        if (!result.ok) place.releaseStandalone(name);
        return result;
      },
      async setToxics(name: string, toxics: ToxicSpec[]): Promise<void> {
        const w = place.standaloneOf(name);
        if (w !== undefined) await cores[w]!.tcpProxy({ type: 'setToxics', name, toxics });
      },
      async stop(name: string): Promise<void> {
        const w = place.standaloneOf(name);
        if (w === undefined) return;
        place.releaseStandalone(name);
        await cores[w]!.tcpProxy({ type: 'stop', name });
      },
      async close(): Promise<void> {
        // the workers stay: they run the mesh; only the standalone proxies close
        place.releaseAllStandalone();
        await Promise.all(cores.map((c) => c.tcpProxy({ type: 'close' }).catch(() => undefined)));
      },
    };
  }

  memory(): Promise<ThreadMemory[]> {
    return Promise.all(this.cores.map((c) => c.memory()));
  }

  warmUpStep(index: number, step: WarmUpStep): Promise<unknown> {
    const core = this.cores[index];
    if (!core) return Promise.reject(new MeshError('MESH_ERR_INTERNAL', [`no data plane worker ${index} (there are ${this.cores.length})`]));
    return core.warm(step);
  }

  async stop(graceMs = 2_000): Promise<void> {
    this.stopping = true;
    await Promise.all(this.cores.map((c) => c.stop(graceMs)));
  }

  async terminateWorker(index: number): Promise<void> {
    const core = this.cores[index];
    if (!core) throw new MeshError('MESH_ERR_INTERNAL', [`no data plane worker ${index} (there are ${this.cores.length})`]);
    await core.terminate();
  }
}

export function createDataPlane(opts: DataPlaneOptions): DataPlane {
  return new DataPlanePool(opts);
}
