/**
 * Active HTTP health checks, like a kubelet readiness probe: GET the health path on the app's own
 * port (not through the sidecar); or, for a workload read from a Kubernetes tcpSocket / exec probe,
 * a TCP connect to that port / the command's exit code. Until the first success an instance is probed every
 * `startupIntervalMs`; afterwards every `intervalMs`, and `unhealthyThreshold` failures in a row
 * take it out of load balancing. One success brings it back.
 *
 * A probe meshbox itself could not make says nothing about the app: when the process is out of
 * file descriptors (EMFILE, ENFILE) the socket cannot even be opened, and marking every workload
 * unhealthy at once would take the whole mesh down for a problem of meshbox's. Such a probe is
 * not counted; the instance keeps its state, and `onProbeError` reports what happened.
 */
import http from 'node:http';
import net from 'node:net';
import { execFile } from 'node:child_process';
import type { HealthCheckSpec } from '../config/mesh-types.js';
import { MeshError } from '../errors.js';
import type { Registry } from './registry.js';

export interface HealthResult {
  id: string;
  healthy: boolean;
  reason?: string;
}

export interface ProbeResult {
  ok: boolean;
  reason?: string;
  /** the probe could not be made by meshbox (no file descriptor left): no verdict on the app */
  notProbed?: MeshError;
}

/** errors that mean "this process could not open a socket", not "the app did not answer" */
const OUT_OF_DESCRIPTORS = new Set(['EMFILE', 'ENFILE']);

export function probe(port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs, headers: { 'user-agent': 'meshbox-health/1' } }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve(code >= 200 && code < 400 ? { ok: true } : { ok: false, reason: `HTTP ${code}` });
    });
    req.on('timeout', () => {
      req.destroy();
      resolve({ ok: false, reason: `no answer within ${timeoutMs}ms` });
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code && OUT_OF_DESCRIPTORS.has(e.code)) resolve({ ok: false, reason: e.code, notProbed: new MeshError('MESH_ERR_FD_EXHAUSTED', [e.code]) });
      else resolve({ ok: false, reason: e.code ?? e.message });
    });
  });
}

/** A tcpSocket probe: the instance accepts a connection on its port. */
export function probeTcp(port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (r: ProbeResult): void => {
      sock.destroy();
      resolve(r);
    };
    sock.setTimeout(timeoutMs, () => done({ ok: false, reason: `no connection within ${timeoutMs}ms` }));
    sock.once('connect', () => done({ ok: true }));
    sock.once('error', (e: NodeJS.ErrnoException) => done(e.code && OUT_OF_DESCRIPTORS.has(e.code) ? { ok: false, reason: e.code, notProbed: new MeshError('MESH_ERR_FD_EXHAUSTED', [e.code]) } : { ok: false, reason: e.code ?? e.message }));
  });
}

/** An exec probe: the command exits 0 within the timeout (run in `cwd`, with PORT set to the instance's port). */
export function probeExec(command: readonly string[], cwd: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile(command[0]!, command.slice(1), { cwd, timeout: timeoutMs, env: { ...process.env, PORT: String(port) } }, (err) => {
      if (!err) return resolve({ ok: true });
      const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
      resolve({ ok: false, reason: e.killed ? `no exit within ${timeoutMs}ms` : typeof e.code === 'number' ? `exit code ${e.code}` : (e.code ?? e.message) });
    });
  });
}

/** the probe of a health check spec: HTTP (default), TCP or exec */
export function probeFor(h: HealthCheckSpec, port: number, cwd: string): Promise<ProbeResult> {
  if (h.kind === 'tcp') return probeTcp(port, h.timeoutMs);
  if (h.kind === 'exec' && h.command?.length) return probeExec(h.command, cwd, port, h.timeoutMs);
  return probe(port, h.path, h.timeoutMs);
}

interface Watch {
  timer: NodeJS.Timeout | undefined;
  failures: number;
  everHealthy: boolean;
  stopped: boolean;
  /** the last probe could not be made (reported once until a probe runs again) */
  notProbed: boolean;
}

export class HealthChecker {
  private readonly watches = new Map<string, Watch>();

  constructor(
    private readonly registry: Registry,
    private readonly onChange: (r: HealthResult) => void,
    private readonly startupIntervalMs = 100,
    /** a probe meshbox could not make (out of file descriptors); the instance's state is kept */
    private readonly onProbeError: (id: string, error: MeshError) => void = () => undefined,
  ) {}

  watch(id: string): void {
    this.unwatch(id);
    const w: Watch = { timer: undefined, failures: 0, everHealthy: false, stopped: false, notProbed: false };
    this.watches.set(id, w);
    this.schedule(id, w, this.startupIntervalMs);
  }

  unwatch(id: string): void {
    const w = this.watches.get(id);
    if (!w) return;
    w.stopped = true;
    if (w.timer) clearTimeout(w.timer);
    this.watches.delete(id);
  }

  stopAll(): void {
    for (const id of [...this.watches.keys()]) this.unwatch(id);
  }

  private schedule(id: string, w: Watch, delay: number): void {
    w.timer = setTimeout(() => void this.check(id, w), delay);
    w.timer.unref();
  }

  private async check(id: string, w: Watch): Promise<void> {
    const inst = this.registry.get(id);
    if (!inst || w.stopped) return;
    const h = inst.workload.health;
    const result = await probeFor(h, inst.appPort, inst.workload.cwd);
    if (w.stopped) return;
    if (result.notProbed) {
      if (!w.notProbed) this.onProbeError(id, result.notProbed);
      w.notProbed = true;
      this.schedule(id, w, w.everHealthy ? h.intervalMs : this.startupIntervalMs);
      return;
    }
    w.notProbed = false;
    if (result.ok) {
      w.failures = 0;
      if (!inst.healthy) this.onChange({ id, healthy: true });
      w.everHealthy = true;
    } else {
      w.failures++;
      const threshold = w.everHealthy ? h.unhealthyThreshold : 1;
      if (inst.healthy && w.failures >= threshold) this.onChange({ id, healthy: false, reason: result.reason });
    }
    this.schedule(id, w, w.everHealthy ? h.intervalMs : this.startupIntervalMs);
  }
}
