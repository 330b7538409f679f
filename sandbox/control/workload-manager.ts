/**
 * WorkloadManager: the lifecycle of workload instances, whatever runtime runs them.
 *
 *   start -> runtime.start -> health checks -> healthy (joins load balancing)
 *   crash -> exited event -> restart with back-off (0.5 s, 1 s, 2 s ... 30 s; reset once an
 *            instance stayed healthy for 10 s); an instance that keeps exiting before it was ever
 *            healthy is crash-looping, said with its exit code and last log line
 *   fail  -> a start failure no retry can heal (no command, a program that does not exist, a
 *            missing image: isPermanentFailure) stops that instance with one error, not restarted
 *   stop / restart / kill / pause / resume on request (CLI, admin API, scenarios)
 */
import type { MeshDefinition } from '../config/mesh-types.js';
import type { EventBus, WorkloadEvent } from '../events.js';
import { MeshError } from '../errors.js';
import { instanceEnv } from '../runtime/contract.js';
import { commandNotRunnable, isPermanentFailure, permanentFailure, type Runtime, type RuntimeExit } from '../runtime/runtime.js';
import type { SandboxState } from '../runtime/sandbox-state.js';
import { HealthChecker, probe } from './health-checker.js';
import type { Instance, Registry } from './registry.js';

export const STOP_GRACE_MS = 5_000;
const MAX_RESTART_DELAY_MS = 30_000;
const FIRST_RESTART_DELAY_MS = 500;
const STABLE_AFTER_MS = 10_000;
const STARTUP_PROBE_MS = 25;
/** exits in a row, without ever being healthy in between, after which an instance is crash-looping */
export const CRASH_LOOP_AFTER = 3;

interface Supervision {
  crashes: number;
  healthySince?: number;
  timer?: NodeJS.Timeout;
  /** healthy at least once since its last start */
  everHealthy?: boolean;
  /** exits in a row without being healthy in between */
  exitsUnhealthy: number;
  lastExit?: { code: number | null; signal: string | null };
  lastLog?: string;
  /** the error that stopped it for good */
  failure?: MeshError;
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
  /** starts in flight: stopAll waits for them, so nothing starts after it */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly failureListeners = new Set<(id: string, error: MeshError) => void>();

  constructor(private readonly o: WorkloadManagerOptions) {
    // probe a starting instance every 25 ms: a restart (hot reload) is back in the mesh as soon as it answers
    this.health = new HealthChecker(o.registry, (r) => this.onHealth(r.id, r.healthy, r.reason), STARTUP_PROBE_MS, (id, err) =>
      o.bus.emit({ type: 'mesh:notice', time: Date.now(), level: 'error', message: `health check of ${id} not run: ${err.message}`, hint: err.hint }),
    );
    o.runtime.on('exit', (e: RuntimeExit) => this.onExit(e));
    o.runtime.on('log', (l: { id: string; stream: 'stdout' | 'stderr'; line: string }) => {
      if (l.line.trim() !== '') this.supervisionOf(l.id).lastLog = l.line.trim();
      o.bus.emit({ type: 'mesh:workload:log', time: Date.now(), instance: l.id, stream: l.stream, line: l.line });
    });
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

  /**
   * Starts every registered instance. An instance that cannot even be launched is an error, thrown
   * once every other start in flight has finished (so the caller's stop finds them all).
   */
  async startAll(): Promise<void> {
    const results = await Promise.allSettled(this.o.registry.all().map((inst) => this.start(inst.id, { initial: true })));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  start(id: string, opts: { initial?: boolean } = {}): Promise<void> {
    const run = this.doStart(id, opts);
    const tracked = run.catch(() => undefined);
    this.inFlight.add(tracked);
    void tracked.then(() => this.inFlight.delete(tracked));
    return run;
  }

  private async doStart(id: string, opts: { initial?: boolean }): Promise<void> {
    if (this.stopping) return;
    const inst = this.instance(id);
    const sup = this.supervisionOf(id);
    sup.failure = undefined;
    sup.everHealthy = false;
    this.o.registry.update(id, { state: 'starting', healthy: false, failure: undefined });
    this.event('mesh:workload:starting', inst, { port: inst.appPort });
    try {
      const { pid } = await this.o.runtime.start({
        id,
        workload: inst.workload,
        env: instanceEnv(this.o.mesh, inst, this.o.sandboxId, this.o.seed),
        port: inst.appPort,
        ...(inst.appPorts ? { ports: [...new Set([inst.appPort, ...inst.appPorts])] } : {}),
      });
      if (pid !== undefined) this.o.state?.addProcess(id, pid);
      // it may have exited already (a container that dies at once): its exit was handled
      if (!this.o.runtime.isRunning(id)) return;
      this.o.registry.update(id, { state: 'running', pid });
      this.event('mesh:workload:started', inst, { pid, port: inst.appPort });
      if (!this.stopping) this.health.watch(id);
    } catch (e) {
      if (opts.initial) {
        this.o.registry.update(id, { state: 'exited' });
        throw e;
      }
      if (isPermanentFailure(e) && e instanceof MeshError) return this.fail(inst, e);
      this.o.registry.update(id, { state: 'exited' });
      this.scheduleRestart(inst, (e as Error).message);
    }
  }

  /** stops supervising an instance that cannot start: one error, no restart */
  private fail(inst: Instance, error: MeshError): void {
    const sup = this.supervisionOf(inst.id);
    this.cancelRestart(inst.id);
    this.health.unwatch(inst.id);
    sup.failure = error;
    this.o.registry.update(inst.id, { state: 'exited', healthy: false, pid: undefined, failure: error.message });
    // said once: by whoever waits for it (`up()` fails with it), else as an error notice
    if (this.failureListeners.size === 0) {
      this.o.bus.emit({ type: 'mesh:notice', time: Date.now(), level: 'error', message: `${error.code}: ${error.message}; not restarted`, hint: error.hint });
    }
    for (const l of this.failureListeners) l(inst.id, error);
  }

  /** an instance stopped for good (it is not restarted); `up()` fails on it. A listener reports it: no notice then */
  onFailure(listener: (id: string, error: MeshError) => void): () => void {
    this.failureListeners.add(listener);
    return () => this.failureListeners.delete(listener);
  }

  /** the error that stopped an instance for good, if one did */
  failureOf(id: string): MeshError | undefined {
    return this.supervision.get(id)?.failure;
  }

  /**
   * Why an instance is not healthy, in words: crash-looping (exit code, last log line), or what
   * its health check sees now (HTTP 500, ECONNREFUSED, no answer).
   */
  async diagnose(id: string): Promise<{ what: string; hint?: string }> {
    const inst = this.o.registry.get(id);
    const sup = this.supervision.get(id);
    if (!inst) return { what: id };
    if (sup?.failure) return { what: `${id} (${sup.failure.message})`, hint: sup.failure.hint };
    const last = sup?.lastLog ? `; last log line: ${JSON.stringify(sup.lastLog)}` : '';
    if (sup && sup.exitsUnhealthy > 0 && (sup.exitsUnhealthy >= CRASH_LOOP_AFTER || inst.state !== 'running')) {
      const how = sup.lastExit?.signal ? `killed by ${sup.lastExit.signal}` : `exit code ${sup.lastExit?.code}`;
      return {
        what: `${id} (${sup.exitsUnhealthy >= CRASH_LOOP_AFTER ? 'crash-looping: ' : ''}exited ${sup.exitsUnhealthy} time${sup.exitsUnhealthy === 1 ? '' : 's'} without becoming healthy, last with ${how}${last})`,
        hint: "the app exits on its own: run its command by hand in the service's cwd to see why (its log lines are above)",
      };
    }
    if (inst.state !== 'running') return { what: `${id} (${inst.state})` };
    const h = inst.workload.health;
    const seen = await probe(inst.appPort, h.path, h.timeoutMs);
    if (seen.ok) return { what: `${id} (its health check GET ${h.path} passes only now)` };
    const reason = seen.reason === 'ECONNREFUSED' ? `connection refused on 127.0.0.1:${inst.appPort}` : seen.reason;
    return {
      what: `${id} (health check GET ${h.path} on 127.0.0.1:${inst.appPort} never passed: ${reason})`,
      hint:
        seen.reason === 'ECONNREFUSED'
          ? `the app does not listen on its port: it must listen on PORT (${inst.appPort}) on HOST (127.0.0.1)${last}`
          : `the app answers, but not with 2xx/3xx on ${h.path}: fix the health path in meshbox.yaml or the app's health endpoint${last}`,
    };
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
    if (healthy) {
      sup.everHealthy = true;
      sup.exitsUnhealthy = 0;
    }
    this.event(healthy ? 'mesh:workload:healthy' : 'mesh:workload:unhealthy', inst, { reason });
  }

  private supervisionOf(id: string): Supervision {
    let s = this.supervision.get(id);
    if (!s) this.supervision.set(id, (s = { crashes: 0, exitsUnhealthy: 0 }));
    return s;
  }

  private onExit(e: RuntimeExit): void {
    const inst = this.o.registry.get(e.id);
    this.o.state?.removeProcess(e.id);
    this.health.unwatch(e.id);
    if (!inst) return;
    this.o.registry.update(e.id, { state: e.expected ? 'stopped' : 'exited', healthy: false, pid: undefined });
    this.event(e.expected ? 'mesh:workload:stopped' : 'mesh:workload:exited', inst, { exitCode: e.code, signal: e.signal });
    if (e.expected || this.stopping) return;
    const sup = this.supervisionOf(e.id);
    sup.lastExit = { code: e.code, signal: e.signal };
    if (!sup.everHealthy) sup.exitsUnhealthy++;
    const notRunnable = sup.everHealthy ? undefined : commandNotRunnable(e.code);
    if (notRunnable) {
      const command = inst.workload.command?.join(' ') ?? '(the image CMD)';
      const error = permanentFailure(
        new MeshError('MESH_ERR_WORKLOAD_START', [inst.id, `${command}: ${notRunnable}${sup.lastLog ? `: ${sup.lastLog}` : ''}`], {
          hint:
            this.o.runtime.name === 'docker'
              ? 'the program must exist inside the image: give the service an `image` or a `build` that has it, or change `command` in meshbox.yaml'
              : "install the program or fix `command` in meshbox.yaml (it runs in the service's cwd with meshbox's PATH)",
        }),
      );
      this.fail(inst, error);
      return;
    }
    const why = e.signal ? `killed by ${e.signal}` : `exited with code ${e.code}`;
    const looping =
      sup.exitsUnhealthy >= CRASH_LOOP_AFTER
        ? `crash-looping: exited ${sup.exitsUnhealthy} times in a row before becoming healthy, last ${e.signal ? `killed by ${e.signal}` : `with code ${e.code}`}${sup.lastLog ? `; last log line: ${sup.lastLog}` : ''}`
        : why;
    this.scheduleRestart(inst, looping);
  }

  private scheduleRestart(inst: Instance, reason: string): void {
    // a start that failed while everything stops (stopAll waits for it) is not restarted
    if (this.stopping) return;
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

  /**
   * Stops every instance, the ones whose start is in flight included (so none runs afterwards).
   * The runtime is told at once (Docker then launches no container for a start still building
   * its image), and once more when those starts are done, for what they launched meanwhile.
   */
  async stopAll(graceMs = STOP_GRACE_MS): Promise<void> {
    this.stopping = true;
    for (const s of this.supervision.values()) if (s.timer) clearTimeout(s.timer);
    this.health.stopAll();
    await Promise.all([this.o.runtime.stopAll(graceMs), ...this.inFlight]);
    this.health.stopAll();
    if (this.o.registry.all().some((i) => this.o.runtime.isRunning(i.id))) await this.o.runtime.stopAll(graceMs);
  }
}
