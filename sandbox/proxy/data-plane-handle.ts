/**
 * One data-plane core as the main thread drives it: a worker thread (production), or a
 * DataPlaneCore on this thread (tests: `inProcess`). The data plane (./data-plane.ts) runs one
 * or several, each owning whole proxies.
 *
 * Each handle has its own SnapshotShipper: which route lists a core holds is per core.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { MeshEvent } from '../events.js';
import type { ListenerConfig, MeshSnapshot } from '../control/snapshot.js';
import { MeshError } from '../errors.js';
import { DataPlaneCore, type SnapshotAck } from './data-plane-core.js';
import type { BoundListener, DownstreamLimits, ListenError } from './listener.js';
import type { DataPlaneCommand, FromWorker, WorkerInit } from './protocol.js';
import { SnapshotShipper } from './snapshot-shipping.js';
import type { ProxySecret } from '../security/tls-secrets.js';
import { InProcessTcpProxyHost, type HostCommand, type TcpConnectionRecord } from '../toxiproxy-api/tcp-proxy-host.js';
import { runHostCommand } from '../toxiproxy-api/tcp-proxy-host.js';
import { WarmUpSite, type WarmUpStep } from './warm-up-site.js';
import { threadMemory, type ThreadMemory } from './thread-memory.js';

export interface CoreHandleOptions {
  seed: number;
  limits?: Partial<DownstreamLimits>;
  /** this core's position among the data plane's (0-based) */
  index: number;
  onEvents(events: MeshEvent[]): void;
  onTcpConnection(record: TcpConnectionRecord): void;
  /** the core went away without being asked (a worker that exited or crashed): how it ended */
  onExit(how: string): void;
}

export interface CoreHandle {
  readonly index: number;
  /** the worker thread's id, undefined in-process */
  readonly threadId: number | undefined;
  bind(listeners: ListenerConfig[]): Promise<{ bound: BoundListener[]; errors: ListenError[] }>;
  apply(snapshot: MeshSnapshot, owned: string[]): Promise<SnapshotAck>;
  clusters(): Promise<unknown>;
  setSecrets(secrets: ProxySecret[]): Promise<void>;
  secrets(): Promise<unknown>;
  /** a command for the Toxiproxy API's standalone proxies this core runs */
  tcpProxy(command: HostCommand): Promise<unknown>;
  /** a step of the warm-up (./warm-up-site.ts) */
  warm(step: WarmUpStep): Promise<unknown>;
  /** the core's heap (in-process: the calling thread's) */
  memory(): Promise<ThreadMemory>;
  stop(graceMs: number): Promise<void>;
  /** ends the core at once, as a crash would (tests) */
  terminate(): Promise<void>;
}

/** The compiled worker entry; from TypeScript sources (tests) it is the one built into dist/. */
function workerEntry(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return path.join(path.dirname(here), 'data-plane-worker.js');
  const root = path.resolve(path.dirname(here), '..', '..');
  const built = path.join(root, 'dist', 'sandbox', 'proxy', 'data-plane-worker.js');
  if (!existsSync(built)) {
    throw new MeshError('MESH_ERR_INTERNAL', [`data plane worker not built (${built})`], { hint: 'run `npm run build` first' });
  }
  return built;
}

export class WorkerCoreHandle implements CoreHandle {
  readonly index: number;
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private exited = false;
  private stopping = false;
  private crash: string | undefined;
  private readonly shipper: SnapshotShipper;

  constructor(opts: CoreHandleOptions) {
    this.index = opts.index;
    const init: WorkerInit = { seed: opts.seed, limits: opts.limits, index: opts.index };
    this.worker = new Worker(workerEntry(), { workerData: init, name: `meshbox data plane ${opts.index + 1}` });
    this.worker.on('message', (m: FromWorker) => {
      if (m.type === 'events') {
        opts.onEvents(m.events);
        return;
      }
      if (m.type === 'tcp-connection') {
        opts.onTcpConnection(m.record);
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.data);
      else p.reject(new MeshError('MESH_ERR_INTERNAL', [`data plane: ${m.error}`]));
    });
    const failAll = (reason: string): void => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new MeshError('MESH_ERR_INTERNAL', [`data plane ${reason}`]));
      this.pending.clear();
    };
    this.worker.on('error', (e) => {
      this.crash = e.message;
      failAll(`crashed: ${e.stack ?? e.message}`);
    });
    this.worker.on('exit', (code) => {
      failAll(`exited with code ${code}`);
      if (this.stopping) return;
      opts.onExit(this.crash ? `crashed (${this.crash})` : `exited with code ${code}`);
    });
    this.shipper = new SnapshotShipper({
      // one slice per message, each acknowledged before the next: the worker serves requests between them
      stage: (slice) => this.call({ type: 'stage', slice }),
      applyShipped: (shipped) => this.call({ type: 'apply-shipped', shipped }),
    });
  }

  get threadId(): number | undefined {
    return this.worker.threadId;
  }

  private call<T>(command: DataPlaneCommand): Promise<T> {
    if (this.exited) return Promise.reject(new MeshError('MESH_ERR_INTERNAL', ['data plane is not running']));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, command });
    });
  }

  bind(listeners: ListenerConfig[]): Promise<{ bound: BoundListener[]; errors: ListenError[] }> {
    return this.call({ type: 'bind', listeners });
  }

  apply(snapshot: MeshSnapshot, owned: string[]): Promise<SnapshotAck> {
    return this.shipper.ship(snapshot, owned);
  }

  clusters(): Promise<unknown> {
    return this.call({ type: 'clusters' });
  }

  setSecrets(secrets: ProxySecret[]): Promise<void> {
    return this.call({ type: 'secrets', secrets });
  }

  secrets(): Promise<unknown> {
    return this.call({ type: 'secrets-dump' });
  }

  tcpProxy(command: HostCommand): Promise<unknown> {
    return this.call({ type: 'tcp-proxy', command });
  }

  warm(step: WarmUpStep): Promise<unknown> {
    return this.call({ type: 'warm', step });
  }

  memory(): Promise<ThreadMemory> {
    return this.call({ type: 'memory' });
  }

  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.exited) return;
    try {
      await this.call({ type: 'stop', graceMs });
    } finally {
      await this.worker.terminate();
    }
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}

export class InProcessCoreHandle implements CoreHandle {
  readonly index: number;
  readonly threadId = undefined;
  private readonly core: DataPlaneCore;
  private readonly tcp: InProcessTcpProxyHost;
  private readonly shipper: SnapshotShipper;
  private stopped = false;

  constructor(private readonly opts: CoreHandleOptions) {
    this.index = opts.index;
    this.core = new DataPlaneCore({ seed: opts.seed, limits: opts.limits, emit: opts.onEvents });
    this.tcp = new InProcessTcpProxyHost(opts.seed, opts.onTcpConnection);
    this.shipper = new SnapshotShipper({
      // as in the worker: the event loop serves requests between two slices
      stage: (slice) => {
        this.core.stageRoutes(slice);
        return new Promise<void>((resolve) => setImmediate(resolve));
      },
      applyShipped: (shipped) => this.core.applyShipped(shipped),
    });
  }

  private running(): void {
    if (this.stopped) throw new MeshError('MESH_ERR_INTERNAL', ['data plane is not running']);
  }

  async bind(listeners: ListenerConfig[]): Promise<{ bound: BoundListener[]; errors: ListenError[] }> {
    this.running();
    return this.core.bind(listeners);
  }

  async apply(snapshot: MeshSnapshot, owned: string[]): Promise<SnapshotAck> {
    this.running();
    return this.shipper.ship(snapshot, owned);
  }

  async clusters(): Promise<unknown> {
    this.running();
    return this.core.clustersJson();
  }

  async setSecrets(secrets: ProxySecret[]): Promise<void> {
    this.running();
    this.core.setSecrets(secrets);
  }

  async secrets(): Promise<unknown> {
    this.running();
    return this.core.secretsJson();
  }

  async tcpProxy(command: HostCommand): Promise<unknown> {
    this.running();
    return runHostCommand(this.tcp, command);
  }

  private warmSite: WarmUpSite | undefined;

  async memory(): Promise<ThreadMemory> {
    return threadMemory();
  }

  async warm(step: WarmUpStep): Promise<unknown> {
    this.running();
    this.warmSite ??= new WarmUpSite(this.opts.seed, this.opts.limits);
    const data = await this.warmSite.step(step);
    if (step.step === 'close') this.warmSite = undefined;
    return data;
  }

  async stop(graceMs: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.tcp.close();
    await this.warmSite?.close();
    await this.core.stop(graceMs);
  }

  async terminate(): Promise<void> {
    if (this.stopped) return;
    await this.stop(0);
    this.opts.onExit('was terminated');
  }
}
