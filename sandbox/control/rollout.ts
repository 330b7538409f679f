/**
 * Rollout: changing the instances of a running mesh without dropping a request (hot reload of
 * meshbox.yaml and of the services' code).
 *
 *   add       allocate the app port, bind the sidecar listeners (dataPlane.bind) so the ports are
 *             known before the app starts, register (pending) -> start -> healthy -> joins the LB
 *   retire    drain (out of load balancing) -> snapshot applied -> wait until no request is in
 *             flight to it (sidecar counters) -> stop (SIGTERM, app finishes what it has) ->
 *             unregister -> snapshot applied (its listeners close) -> release the port
 *   rolling   (2+ replicas) one at a time: add a new instance, wait until it is healthy, then
 *             retire an old one; a new instance that never gets healthy stops the rollout and
 *             the old instances keep serving
 *   in place  (1 replica) mark `restarting` (requests for its clusters now wait for it instead
 *             of 503 UH) and drained -> wait idle -> stop -> start with the new spec -> healthy ->
 *             clear `restarting`
 *
 * Operations on instances never interleave: `exclusive()` runs one change of the mesh at a time.
 */
import type { WorkloadSpec } from '../config/mesh-types.js';
import { portsOf } from '../config/service-ports.js';
import { MeshError } from '../errors.js';
import type { DataPlane } from '../proxy/data-plane.js';
import { allocateAppPorts, recordListenerPorts, releaseAppPorts } from './sidecar-ports.js';
import { allocatePort } from '../runtime/ports.js';
import { GATEWAY_ID, listenersFor } from './compiler.js';
import type { ControlPlane } from './control-plane.js';
import { instanceId, type Instance, type Registry } from './registry.js';
import type { WorkloadManager } from './workload-manager.js';

export interface RolloutHost {
  registry: Registry;
  workloads: WorkloadManager;
  dataPlane: DataPlane;
  controlPlane: ControlPlane;
  /** the ingress gateway's listener address (already bound) */
  ingress: { address: string; port: number };
}

export interface RolloutResult {
  ok: boolean;
  /** what happened, one line per instance operation */
  steps: string[];
  /** why it stopped, when !ok */
  error?: string;
}

/** how long a retiring instance may keep requests in flight before it is stopped anyway */
const IDLE_WAIT_MS = 10_000;
const IDLE_POLL_MS = 10;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface ClustersJson {
  clusters?: Array<{ hosts?: Array<{ id?: string; rq_active?: number }> }>;
}

export class Rollout {
  private lock: Promise<unknown> = Promise.resolve();

  constructor(private readonly h: RolloutHost) {}

  /** runs `fn` once every change started before it has finished */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** the instances of a workload, by ordinal */
  instancesOf(workload: string): Instance[] {
    return this.h.registry
      .all()
      .filter((i) => i.workload.workload === workload)
      .sort((a, b) => a.ordinal - b.ordinal);
  }

  /**
   * Binds the sidecar listeners every given instance needs that are not bound yet (a new
   * instance's, or a new service's per-service listener on existing instances) and records the
   * ports on the instances (only when every listener bound: a failure records nothing).
   * `mesh`: the mesh the listeners are for (default: the control plane's; a reload binds the new
   * mesh's listeners before anything switches to it).
   */
  async bind(instances: readonly Instance[], mesh = this.h.controlPlane.mesh): Promise<void> {
    const { bound, errors } = await this.h.dataPlane.bind(listenersFor(mesh, instances, this.h.ingress));
    const e = errors.find((x) => !x.listener.startsWith(`${GATEWAY_ID}/`));
    if (e) throw new MeshError('MESH_ERR_LISTEN', [`sidecar listener ${e.listener}`, `${e.address}:${e.port}`, e.message]);
    const byId = new Map(instances.map((i) => [i.id, i]));
    recordListenerPorts(bound, (id) => (id === GATEWAY_ID ? undefined : byId.get(id)));
  }

  /** registers `count` new instances of `spec` (lowest free ordinals), listeners bound, not started */
  async add(spec: WorkloadSpec, count: number): Promise<Instance[]> {
    const used = new Set(this.instancesOf(spec.workload).map((i) => i.ordinal));
    const fresh: Instance[] = [];
    for (let k = 0; k < count; k++) {
      let n = 1;
      while (used.has(n)) n++;
      used.add(n);
      fresh.push({
        id: instanceId(spec, n),
        workload: spec,
        ordinal: n,
        ...(await allocateAppPorts(this.h.controlPlane.mesh.services.find((s) => s.name === spec.service))),
        sidecar: { inbound: 0, outbound: 0, services: {} },
        state: 'pending',
        healthy: false,
        drained: false,
        restarts: 0,
      });
    }
    try {
      await this.bind(fresh);
    } catch (e) {
      for (const i of fresh) releaseAppPorts(i);
      throw e;
    }
    for (const i of fresh) this.h.registry.add(i);
    await this.h.controlPlane.publish();
    return fresh;
  }

  /**
   * Resolves true once the instance is running and healthy; false after `timeoutMs`, if it is
   * gone, or if it exits (crashes at start: the supervisor restarts it, but the rollout stops).
   */
  waitHealthy(id: string, timeoutMs: number): Promise<boolean> {
    const ok = (): boolean | undefined => {
      const i = this.h.registry.get(id);
      if (!i || i.state === 'exited') return false;
      return i.healthy && i.state === 'running' ? true : undefined;
    };
    if (ok() !== undefined) return Promise.resolve(ok()!);
    return new Promise((resolve) => {
      const onChange = (): void => {
        const v = ok();
        if (v === undefined) return;
        cleanup();
        resolve(v);
      };
      const timer = setTimeout(() => {
        cleanup();
        resolve(false);
      }, timeoutMs);
      timer.unref();
      const cleanup = (): void => {
        clearTimeout(timer);
        this.h.registry.off('change', onChange);
      };
      this.h.registry.on('change', onChange);
    });
  }

  /** what is wrong with an instance that did not become healthy, in words (crash-looping, HTTP 500, ...) */
  private async why(id: string): Promise<string> {
    const { what } = await this.h.workloads.diagnose(id);
    return what.startsWith(`${id} (`) ? what.slice(id.length + 2, -1) : 'its log lines say why';
  }

  /** starts a registered instance and waits until it is healthy (its spec's startTimeout) */
  async start(inst: Instance): Promise<boolean> {
    await this.h.workloads.start(inst.id);
    return this.waitHealthy(inst.id, inst.workload.startTimeoutMs);
  }

  /** waits until no request is in flight to the instance (as seen by every sidecar), bounded */
  async waitIdle(id: string, timeoutMs = IDLE_WAIT_MS): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const app = `${id}/app`;
    for (;;) {
      const data = (await this.h.dataPlane.clusters().catch(() => ({}))) as ClustersJson;
      const busy = (data.clusters ?? []).some((c) => (c.hosts ?? []).some((h) => (h.id === id || h.id === app) && (h.rq_active ?? 0) > 0));
      if (!busy) return true;
      if (Date.now() >= deadline) return false;
      await sleep(IDLE_POLL_MS);
    }
  }

  /** drains, waits for its requests, stops and unregisters an instance */
  async retire(inst: Instance): Promise<void> {
    const id = inst.id;
    if (!this.h.registry.get(id)) return;
    this.h.registry.update(id, { drained: true });
    await this.h.controlPlane.publish();
    await this.waitIdle(id);
    await this.h.workloads.stop(id);
    this.h.workloads.forget(id);
    this.h.registry.remove(id);
    await this.h.controlPlane.publish();
    releaseAppPorts(inst);
  }

  /** one replica: stop and start again with `spec`; requests for it wait meanwhile (bounded) */
  async restartInPlace(inst: Instance, spec: WorkloadSpec): Promise<boolean> {
    const id = inst.id;
    const wasDrained = inst.drained;
    this.h.registry.update(id, { restarting: true, drained: true });
    try {
      await this.h.controlPlane.publish();
      await this.waitIdle(id);
      await this.h.workloads.stop(id);
      // a service port added while it was running: the app gets a port for it too
      const svc = this.h.controlPlane.mesh.services.find((s) => s.name === spec.service);
      const wanted = svc ? portsOf(svc).length : 1;
      const patch: Partial<Instance> = {};
      if (wanted > 1 && (inst.appPorts?.length ?? 1) < wanted) {
        const appPorts = [inst.appPort];
        for (let i = 1; i < wanted; i++) appPorts.push(inst.appPorts?.[i] ?? (await allocatePort()));
        patch.appPorts = appPorts;
      }
      this.h.registry.update(id, { workload: spec, drained: wasDrained, ...patch });
      await this.h.workloads.start(id);
      return await this.waitHealthy(id, spec.startTimeoutMs);
    } finally {
      this.h.registry.update(id, { restarting: false });
      await this.h.controlPlane.publish();
    }
  }

  /**
   * Replaces the instances `olds` by `replicas` instances of `spec`, one at a time, each new one
   * healthy before an old one is retired. A single instance staying single is restarted in place.
   */
  async replace(olds: readonly Instance[], spec: WorkloadSpec, replicas: number): Promise<RolloutResult> {
    const steps: string[] = [];
    if (olds.length === 1 && replicas === 1) {
      const t0 = Date.now();
      const ok = await this.restartInPlace(olds[0]!, spec);
      steps.push(`${olds[0]!.id} restarted in place (${Date.now() - t0}ms)`);
      if (!ok) return { ok, steps, error: `${olds[0]!.id} did not become healthy (${await this.why(olds[0]!.id)}; ${this.h.workloads.failureOf(olds[0]!.id) ? 'not restarted' : 'it is restarted with back-off'})` };
      return { ok, steps };
    }
    let fresh = 0;
    for (const old of olds) {
      if (fresh < replicas) {
        const r = await this.surge(spec, steps);
        if (!r.ok) return r;
        fresh++;
      }
      await this.retire(old);
      steps.push(`${old.id} drained and stopped`);
    }
    while (fresh < replicas) {
      const r = await this.surge(spec, steps);
      if (!r.ok) return r;
      fresh++;
    }
    return { ok: true, steps };
  }

  private async surge(spec: WorkloadSpec, steps: string[]): Promise<RolloutResult> {
    const t0 = Date.now();
    const [inst] = await this.add(spec, 1);
    const ok = await this.start(inst!);
    if (ok) {
      steps.push(`${inst!.id} started, healthy in ${Date.now() - t0}ms`);
      return { ok, steps };
    }
    const error = `${inst!.id} did not become healthy (${await this.why(inst!.id)}): the rollout stopped, the old instances keep serving`;
    await this.retire(inst!);
    steps.push(`${inst!.id} never became healthy: removed`);
    return { ok: false, steps, error };
  }

  /** scales a workload whose spec is unchanged (new instances get `spec`) */
  async scale(spec: WorkloadSpec, replicas: number): Promise<RolloutResult> {
    const current = this.instancesOf(spec.workload);
    const steps: string[] = [];
    for (const i of current) if (i.workload !== spec) this.h.registry.update(i.id, { workload: spec });
    if (replicas > current.length) {
      const added = await this.add(spec, replicas - current.length);
      const healthy = await Promise.all(added.map((i) => this.start(i)));
      added.forEach((i, k) => steps.push(`${i.id} ${healthy[k] ? 'started, healthy' : `started, not healthy within ${spec.startTimeoutMs / 1000}s`}`));
      const sick = added.filter((_, k) => !healthy[k]).map((i) => i.id);
      return sick.length ? { ok: false, steps, error: `${sick.join(', ')} did not become healthy (they keep being restarted)` } : { ok: true, steps };
    }
    const victims = [...current].sort((a, b) => b.ordinal - a.ordinal).slice(0, current.length - replicas);
    await Promise.all(victims.map((v) => this.retire(v)));
    for (const v of victims) steps.push(`${v.id} drained and stopped`);
    return { ok: true, steps };
  }

  /** restarts every instance of a workload with its current spec (its code changed) */
  async restartWorkload(workload: string): Promise<RolloutResult> {
    const olds = this.instancesOf(workload);
    if (olds.length === 0) return { ok: true, steps: [] };
    const spec = olds[0]!.workload;
    return this.replace(olds, spec, olds.length);
  }
}
