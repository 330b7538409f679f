/**
 * Where the standalone proxies of the Toxiproxy API (`POST /proxies` with listen/upstream) run:
 * one ToxicProxy each (sandbox/proxy/toxics, the same proxy and toxics the mesh's links use), in
 * a worker thread of their own so their traffic never shares the terminal UI's event loop
 * (in-process for tests, like the data plane).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ToxicSpec } from '../faults/fault-spec.js';
import { MeshError } from '../errors.js';
import { Rng } from '../rng.js';
import { configureToxic, type ConfiguredToxic } from '../proxy/toxics/toxic.js';
import { ToxicProxy } from '../proxy/toxics/toxic-proxy.js';

export interface HostPort {
  host: string;
  port: number;
}

/** one connection of a standalone proxy opened or closed (Istio's TCP metrics) */
export interface TcpConnectionRecord {
  proxy: string;
  phase: 'opened' | 'closed';
  bytesReceived: number;
  bytesSent: number;
  durationMs: number;
}

export type StartResult = { ok: true; port: number } | { ok: false; code: string; message: string };

export interface TcpProxyHost {
  /** listens on `listen` and forwards every connection to `upstream` through the proxy's toxics */
  start(name: string, listen: HostPort, upstream: HostPort, toxics: ToxicSpec[]): Promise<StartResult>;
  /** replaces the proxy's toxics; open connections see the change at once */
  setToxics(name: string, toxics: ToxicSpec[]): Promise<void>;
  /** stops listening and closes the proxy's connections */
  stop(name: string): Promise<void>;
  close(): Promise<void>;
}

/** the proxies, on the calling thread */
export class InProcessTcpProxyHost implements TcpProxyHost {
  private readonly proxies = new Map<string, { proxy: ToxicProxy; upstream: HostPort; toxics: ConfiguredToxic[] }>();
  private readonly rng: Rng;

  constructor(
    seed: number,
    private readonly onConnection?: (c: TcpConnectionRecord) => void,
  ) {
    this.rng = new Rng(seed);
  }

  async start(name: string, listen: HostPort, upstream: HostPort, toxics: ToxicSpec[]): Promise<StartResult> {
    await this.stop(name);
    const report = this.onConnection;
    const observer = report && {
      opened: () => report({ proxy: name, phase: 'opened', bytesReceived: 0, bytesSent: 0, durationMs: 0 }),
      closed: (c: { bytesReceived: number; bytesSent: number; durationMs: number }) => report({ proxy: name, phase: 'closed', ...c }),
    };
    const proxy = new ToxicProxy(`toxiproxy/${name}`, upstream, this.rng, observer);
    const entry = { proxy, upstream, toxics: [] as ConfiguredToxic[] };
    try {
      const port = await proxy.listen(listen.host, listen.port);
      this.proxies.set(name, entry);
      await this.setToxics(name, toxics);
      return { ok: true, port };
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      await proxy.close().catch(() => undefined);
      return { ok: false, code: err.code ?? 'ERROR', message: err.message };
    }
  }

  setToxics(name: string, toxics: ToxicSpec[]): Promise<void> {
    const entry = this.proxies.get(name);
    if (entry) {
      // a toxic left unchanged keeps its configured object, so open links keep their toxicity roll
      entry.toxics = toxics.map((t) => entry.toxics.find((p) => p.name === t.name && JSON.stringify(p.spec) === JSON.stringify(t)) ?? configureToxic(t));
      entry.proxy.setToxics(entry.toxics, entry.upstream);
    }
    return Promise.resolve();
  }

  async stop(name: string): Promise<void> {
    const entry = this.proxies.get(name);
    if (!entry) return;
    this.proxies.delete(name);
    await entry.proxy.close();
  }

  async close(): Promise<void> {
    await Promise.all([...this.proxies.keys()].map((n) => this.stop(n)));
  }
}

export type HostCommand =
  | { type: 'start'; name: string; listen: HostPort; upstream: HostPort; toxics: ToxicSpec[] }
  | { type: 'setToxics'; name: string; toxics: ToxicSpec[] }
  | { type: 'stop'; name: string }
  | { type: 'close' };

/** runs one command on a host (the worker entries: ./tcp-proxy-worker.ts, the data-plane workers) */
export async function runHostCommand(host: TcpProxyHost, c: HostCommand): Promise<unknown> {
  if (c.type === 'start') return host.start(c.name, c.listen, c.upstream, c.toxics);
  if (c.type === 'setToxics') await host.setToxics(c.name, c.toxics);
  else if (c.type === 'stop') await host.stop(c.name);
  else await host.close();
  return true;
}

export type HostReply = { id: number; ok: true; data: unknown } | { id: number; ok: false; error: string };

export type HostMessage = HostReply | { type: 'connection'; record: TcpConnectionRecord };

/** the compiled worker entry; from TypeScript sources (tests) the one built into dist/ */
function workerEntry(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return path.join(path.dirname(here), 'tcp-proxy-worker.js');
  const root = path.resolve(path.dirname(here), '..', '..');
  const built = path.join(root, 'dist', 'sandbox', 'toxiproxy-api', 'tcp-proxy-worker.js');
  if (!existsSync(built)) throw new MeshError('MESH_ERR_INTERNAL', [`Toxiproxy proxy worker not built (${built})`], { hint: 'run `npm run build` first' });
  return built;
}

/** the proxies, in a worker thread */
export class WorkerTcpProxyHost implements TcpProxyHost {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private exited = false;

  constructor(seed: number, onConnection?: (c: TcpConnectionRecord) => void) {
    this.worker = new Worker(workerEntry(), { workerData: { seed } });
    this.worker.unref();
    this.worker.on('message', (msg: HostMessage) => {
      if ('type' in msg) {
        onConnection?.(msg.record);
        return;
      }
      const m = msg;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.data);
      else p.reject(new MeshError('MESH_ERR_INTERNAL', [`Toxiproxy proxy worker: ${m.error}`]));
    });
    const failAll = (reason: string): void => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new MeshError('MESH_ERR_INTERNAL', [`Toxiproxy proxy worker ${reason}`]));
      this.pending.clear();
    };
    this.worker.on('error', (e) => failAll(`crashed: ${e.stack ?? e.message}`));
    this.worker.on('exit', (code) => failAll(`exited with code ${code}`));
  }

  private call<T>(command: HostCommand): Promise<T> {
    if (this.exited) return Promise.reject(new MeshError('MESH_ERR_INTERNAL', ['Toxiproxy proxy worker is not running']));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, command });
    });
  }

  start(name: string, listen: HostPort, upstream: HostPort, toxics: ToxicSpec[]): Promise<StartResult> {
    return this.call({ type: 'start', name, listen, upstream, toxics });
  }

  setToxics(name: string, toxics: ToxicSpec[]): Promise<void> {
    return this.call({ type: 'setToxics', name, toxics });
  }

  stop(name: string): Promise<void> {
    return this.call({ type: 'stop', name });
  }

  async close(): Promise<void> {
    if (this.exited) return;
    try {
      await this.call({ type: 'close' });
    } finally {
      await this.worker.terminate();
    }
  }
}
