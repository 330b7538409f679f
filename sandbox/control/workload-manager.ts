/**
 * WorkloadManager: the lifecycle of workload instances, whatever runtime runs them.
 *
 *   start -> runtime.start -> health checks -> healthy (joins load balancing)
 *   crash -> exited event -> restart with back-off (0.5 s, 1 s, 2 s ... 30 s; reset once an
 *            instance stayed healthy for 10 s)
 *   stop / restart / kill / pause / resume on request (CLI, admin API, scenarios)
 */
import type { MeshDefinition } from '../config/mesh-types.js';
import type { EventBus, WorkloadEvent } from '../events.js';
import { MeshError } from '../errors.js';
import { instanceEnv } from '../runtime/contract.js';
import type { Runtime, RuntimeExit } from '../runtime/runtime.js';
import type { SandboxState } from '../runtime/sandbox-state.js';
import { HealthChecker } from './health-checker.js';
import type { Instance, Registry } from './registry.js';

export const STOP_GRACE_MS = 5_000;
const MAX_RESTART_DELAY_MS = 30_000;
const FIRST_RESTART_DELAY_MS = 500;
const STABLE_AFTER_MS = 10_000;
const STARTUP_PROBE_MS = 25;

interface Supervision {
  crashes: number;
  healthySince?: number;
  timer?: NodeJS.Timeout;
}

export interface WorkloadManagerOptions {
  registry: Registry;
  runtime: Runtime;
  bus: EventBus;
  mesh: MeshDefinition;
  sandboxId: string;
  seed: number;
  state?: SandboxState;
}

export class WorkloadManager {
  private readonly supervision = new Map<string, Supervision>();
  private readonly health: HealthChecker;
  private stopping = false;

  constructor(private readonly o: WorkloadManagerOptions) {
    // probe a starting instance every 25 ms: a restart (hot reload) is back in the mesh as soon as it answers
    this.health = new HealthChecker(o.registry, (r) => this.onHealth(r.id, r.healthy, r.reason), STARTUP_PROBE_MS, (id, err) =>
      o.bus.emit({ type: 'mesh:notice', time: Date.now(), level: 'error', message: `health check of ${id} not run: ${err.message}`, hint: err.hint }),
    );
    o.runtime.on('exit', (e: RuntimeExit) => this.onExit(e));
    o.runtime.on('log', (l: { id: string; stream: 'stdout' | 'stderr'; line: string }) =>
      o.bus.emit({ type: 'mesh:workload:log', time: Date.now(), instance: l.id, stream: l.stream, line: l.line }),
    );
  }

  get runtime(): Runtime {
    return this.o.runtime;
  }

  /** the mesh definition instances are started with (their environment); hot reload replaces it */
  setMesh(mesh: MeshDefinition): void {
    this.o.mesh = mesh;
  }

  /** forgets an instance that was stopped and removed from the registry (hot reload) */
  forget(id: string): void {
    this.cancelRestart(id);
    this.health.unwatch(id);
    this.supervision.delete(id);
  }

  private event(type: WorkloadEvent['type'], inst: Instance, extra: Partial<WorkloadEvent> = {}): void {
    this.o.bus.emit({
      type,
      time: Date.now(),
      instance: inst.id,
      workload: inst.workload.workload,
      service: inst.workload.service,
      version: inst.workload.version,
      ...extra,
    });
  }

  private instance(id: string): Instance {
    const inst = this.o.registry.get(id);
    if (!inst) {
      const known = this.o.registry.all().map((i) => i.id).join(', ');
      throw new MeshError('MESH_ERR_USAGE', [`no workload instance ${id}`], { hint: `instances: ${known}` });
    }
    return inst;
  }

  /** starts every registered instance; an instance that cannot even be launched is an error */
  async startAll(): Promise<void> {
    await Promise.all(this.o.registry.all().map((inst) => this.start(inst.id, { initial: true })));
  }

  async start(id: string, opts: { initial?: boolean } = {}): Promise<void> {
    if (this.stopping) return;
    const inst = this.instance(id);
    this.o.registry.update(id, { state: 'starting', healthy: false });
    this.event('mesh:workload:starting', inst, { port: inst.appPort });
    try {
      const { pid } = await this.o.runtime.start({
        id,
        workload: inst.workload,
        env: instanceEnv(this.o.mesh, inst, this.o.sandboxId, this.o.seed),
        port: inst.appPort,
      });
      if (pid !== undefined) this.o.state?.addProcess(id, pid);
      this.o.registry.update(id, { state: 'running', pid });
      this.event('mesh:workload:started', inst, { pid, port: inst.appPort });
      this.health.watch(id);
    } catch (e) {
      if (opts.initial) throw e;
      this.o.registry.update(id, { state: 'exited' });
      this.scheduleRestart(inst, (e as Error).message);
    }
  }

  /** graceful stop; the instance stays stopped until started again */
  async stop(id: string, graceMs = STOP_GRACE_MS): Promise<void> {
    const inst = this.instance(id);
    this.cancelRestart(id);
    this.health.unwatch(id);
    this.o.registry.update(id, { healthy: false });
    await this.o.runtime.stop(inst.id, graceMs);
  }

  async restart(id: string): Promise<void> {
    await this.stop(id);
    await this.start(id);
  }

  /** sends a signal (default SIGKILL); a crash, so the instance is restarted with back-off */
  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.instance(id);
    await this.o.runtime.signal(id, signal);
  }

  async pause(id: string): Promise<void> {
    this.instance(id);
    await this.o.runtime.pause(id);
  }

  async resume(id: string): Promise<void> {
    this.instance(id);
    await this.o.runtime.resume(id);
  }

  /** takes the instance out of load balancing (it keeps running), or puts it back */
  drain(id: string, drained = true): void {
    const inst = this.instance(id);
    this.o.registry.update(id, { drained });
    this.o.bus.emit({
      type: 'mesh:notice',
      time: Date.now(),
      level: 'info',
      message: `${inst.id} ${drained ? 'taken out of' : 'put back into'} the registry`,
    });
  }

  private onHealth(id: string, healthy: boolean, reason?: string): void {
    const inst = this.o.registry.get(id);
    if (!inst) return;
    this.o.registry.update(id, { healthy });
    const sup = this.supervisionOf(id);
    sup.healthySince = healthy ? Date.now() : undefined;
    this.event(healthy ? 'mesh:workload:healthy' : 'mesh:workload:unhealthy', inst, { reason });
  }

  private supervisionOf(id: string): Supervision {
    let s = this.supervision.get(id);
    if (!s) this.supervision.set(id, (s = { crashes: 0 }));
    return s;
  }

  private onExit(e: RuntimeExit): void {
    const inst = this.o.registry.get(e.id);
    this.o.state?.removeProcess(e.id);
    this.health.unwatch(e.id);
    if (!inst) return;
    this.o.registry.update(e.id, { state: e.expected ? 'stopped' : 'exited', healthy: false, pid: undefined });
    this.event(e.expected ? 'mesh:workload:stopped' : 'mesh:workload:exited', inst, { exitCode: e.code, signal: e.signal });
    if (!e.expected && !this.stopping) this.scheduleRestart(inst, e.signal ? `killed by ${e.signal}` : `exited with code ${e.code}`);
  }

  private scheduleRestart(inst: Instance, reason: string): void {
    const sup = this.supervisionOf(inst.id);
    if (sup.healthySince !== undefined && Date.now() - sup.healthySince > STABLE_AFTER_MS) sup.crashes = 0;
    sup.healthySince = undefined;
    const delayMs = Math.min(MAX_RESTART_DELAY_MS, FIRST_RESTART_DELAY_MS * 2 ** sup.crashes);
    sup.crashes++;
    this.event('mesh:workload:restarting', inst, { delayMs, reason });
    this.cancelRestart(inst.id);
    sup.timer = setTimeout(() => {
      sup.timer = undefined;
      this.o.registry.update(inst.id, { restarts: inst.restarts + 1 });
      void this.start(inst.id);
    }, delayMs);
  }

  private cancelRestart(id: string): void {
    const sup = this.supervision.get(id);
    if (sup?.timer) clearTimeout(sup.timer);
    if (sup) sup.timer = undefined;
  }

  async stopAll(graceMs = STOP_GRACE_MS): Promise<void> {
    this.stopping = true;
    for (const s of this.supervision.values()) if (s.timer) clearTimeout(s.timer);
    this.health.stopAll();
    await this.o.runtime.stopAll(graceMs);
  }
}
