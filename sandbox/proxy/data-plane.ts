/**
 * The main thread's handle on the data plane. Production runs the DataPlaneCore in a worker
 * thread; tests may run it in-process (`inProcess: true`) to debug and to avoid a build step.
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

export interface DataPlaneOptions {
  seed: number;
  onEvents(events: MeshEvent[]): void;
  inProcess?: boolean;
  /**
   * The worker exited (or crashed) without being asked to stop: every sidecar and the ingress
   * gateway are gone. Called once, with MESH_ERR_INTERNAL saying how it ended.
   */
  onExit?(error: MeshError): void;
  /** downstream timeouts and size limits (listener.ts); Envoy's defaults where unset */
  limits?: Partial<DownstreamLimits>;
}

export interface DataPlane {
  bind(listeners: ListenerConfig[]): Promise<{ bound: BoundListener[]; errors: ListenError[] }>;
  /** applies a snapshot (its route lists shipped ahead, in slices, each once: see snapshot-shipping.ts) */
  apply(snapshot: MeshSnapshot): Promise<SnapshotAck>;
  clusters(): Promise<unknown>;
  /** SDS push: every proxy's workload certificate */
  setSecrets(secrets: ProxySecret[]): Promise<void>;
  /** the secrets the data plane holds (no keys) and TLS handshake counters */
  secrets(): Promise<unknown>;
  stop(graceMs?: number): Promise<void>;
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

class WorkerDataPlane implements DataPlane {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private exited = false;
  private stopping = false;
  private crash: string | undefined;

  constructor(opts: DataPlaneOptions) {
    const init: WorkerInit = { seed: opts.seed, limits: opts.limits };
    this.worker = new Worker(workerEntry(), { workerData: init });
    this.worker.on('message', (m: FromWorker) => {
      if (m.type === 'events') {
        opts.onEvents(m.events);
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
      const how = this.crash ? `crashed (${this.crash})` : `exited with code ${code}`;
      opts.onExit?.(
        new MeshError('MESH_ERR_INTERNAL', [`the data plane worker ${how}: every sidecar and the ingress gateway are gone`], {
          hint: 'meshbox stops the sandbox; start it again with `meshbox up`. This is a bug in meshbox: please report it with the output above (MESHBOX_DEBUG=1 adds stacks)',
        }),
      );
    });
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

  private readonly shipper = new SnapshotShipper({
    // one slice per message, each acknowledged before the next: the worker serves requests between them
    stage: (slice) => this.call({ type: 'stage', slice }),
    applyShipped: (shipped) => this.call({ type: 'apply-shipped', shipped }),
  });

  apply(snapshot: MeshSnapshot): Promise<SnapshotAck> {
    return this.shipper.ship(snapshot);
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

  async stop(graceMs = 2_000): Promise<void> {
    this.stopping = true;
    if (this.exited) return;
    try {
      await this.call({ type: 'stop', graceMs });
    } finally {
      await this.worker.terminate();
    }
  }
}

class InProcessDataPlane implements DataPlane {
  private readonly core: DataPlaneCore;
  constructor(opts: DataPlaneOptions) {
    this.core = new DataPlaneCore({ seed: opts.seed, limits: opts.limits, emit: opts.onEvents });
  }
  bind(listeners: ListenerConfig[]): Promise<{ bound: BoundListener[]; errors: ListenError[] }> {
    return this.core.bind(listeners);
  }
  private readonly shipper = new SnapshotShipper({
    // as in the worker: the event loop serves requests between two slices
    stage: (slice) => {
      this.core.stageRoutes(slice);
      return new Promise<void>((resolve) => setImmediate(resolve));
    },
    applyShipped: (shipped) => this.core.applyShipped(shipped),
  });

  apply(snapshot: MeshSnapshot): Promise<SnapshotAck> {
    return this.shipper.ship(snapshot);
  }
  clusters(): Promise<unknown> {
    return Promise.resolve(this.core.clustersJson());
  }
  setSecrets(secrets: ProxySecret[]): Promise<void> {
    this.core.setSecrets(secrets);
    return Promise.resolve();
  }
  secrets(): Promise<unknown> {
    return Promise.resolve(this.core.secretsJson());
  }
  stop(graceMs?: number): Promise<void> {
    return this.core.stop(graceMs);
  }
}

export function createDataPlane(opts: DataPlaneOptions): DataPlane {
  return opts.inProcess ? new InProcessDataPlane(opts) : new WorkerDataPlane(opts);
}
