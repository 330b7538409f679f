/**
 * Hot reload of meshbox.yaml: a save that validates is diffed against the running mesh and only
 * what changed is touched; a save with errors changes nothing and is reported like a rules file.
 *
 *   workload added        its instances are added (listeners bound first) and started
 *   workload removed      its instances are drained, stopped and removed
 *   replicas changed      instances are added, or the highest ordinals are retired
 *   spec changed          (command, env, cwd, labels, health, image, ...) rolling replacement,
 *                         one at a time, each new instance healthy before an old one goes; a
 *                         single replica is restarted in place while its requests wait for it
 *   service port, namespace, rules folder, ingress labels, watch settings: a new snapshot only
 *   ingress address/port, mesh name, dataPlane.workers: reported, applied at the next `meshbox up`
 *
 * Instances of workloads that did not change keep running (same processes, same ports).
 *
 * All or nothing: the new mesh's listeners are bound before the control plane or the workloads
 * switch to it, so a save that cannot be applied (a listener that does not bind) leaves every part
 * on the old mesh and is reported (`<file> not applied: ...`), never swallowed.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Finding } from '../config/findings.js';
import { hasErrors } from '../config/findings.js';
import { loadMeshFile, parseMeshText } from '../config/mesh-file.js';
import type { MeshDefinition, ServiceSpec, WorkloadSpec } from '../config/mesh-types.js';
import { portsOf } from '../config/service-ports.js';
import { FileWatcher, displayPath } from '../config/watcher.js';
import { MeshError } from '../errors.js';
import type { EventBus } from '../events.js';
import type { ControlPlane } from './control-plane.js';
import type { Registry } from './registry.js';
import { ReloadQueue } from './reload-queue.js';
import type { Rollout, RolloutResult } from './rollout.js';
import type { WorkloadManager } from './workload-manager.js';

export interface WorkloadPlan {
  workload: string;
  service: string;
  change: 'added' | 'removed' | 'scaled' | 'changed';
  before?: WorkloadSpec;
  after?: WorkloadSpec;
  /** `changed`: the fields that differ (`env`, `command`, ...) */
  fields: string[];
}

export interface MeshPlan {
  /** the mesh to run: the new definition, with the settings that cannot change live kept */
  mesh: MeshDefinition;
  workloads: WorkloadPlan[];
  /** one line per change, as `mesh:config:applied` lists them */
  changed: string[];
  /** changes that need a new `meshbox up` (ingress address, name) */
  notApplied: string[];
  empty: boolean;
}

/** JSON with sorted keys: key order in YAML is not a change */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as Record<string, unknown>)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function specFields(a: WorkloadSpec, b: WorkloadSpec): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  keys.delete('replicas');
  return [...keys].filter((k) => canonical((a as unknown as Record<string, unknown>)[k]) !== canonical((b as unknown as Record<string, unknown>)[k])).sort();
}

/**
 * a service's ports as its app sees them: how many it listens on and their names (PORT_<NAME>);
 * a port's number or protocol is the sidecars' business (a new snapshot), not the app's
 */
function portsKey(svc: ServiceSpec): string {
  return portsOf(svc)
    .map((p) => p.name ?? '(unnamed)')
    .join(',');
}

function workloadsOf(mesh: MeshDefinition): Map<string, WorkloadSpec> {
  return new Map(mesh.services.flatMap((s) => s.workloads.map((w) => [w.workload, w] as const)));
}

/** What changes from `before` to `after`, and the mesh to run. Pure. */
export function planMeshChange(before: MeshDefinition, after: MeshDefinition, opts: { rulesExplicit?: boolean } = {}): MeshPlan {
  const ns = after.namespace;
  const changed: string[] = [];
  const notApplied: string[] = [];
  const workloads: WorkloadPlan[] = [];
  const mesh: MeshDefinition = { ...after, ingress: { ...after.ingress } };

  if (after.ingress.host !== before.ingress.host || after.ingress.port !== before.ingress.port) {
    notApplied.push(`ingress ${before.ingress.host}:${before.ingress.port} -> ${after.ingress.host}:${after.ingress.port}`);
    mesh.ingress.host = before.ingress.host;
    mesh.ingress.port = before.ingress.port;
  }
  if (after.name !== before.name) {
    notApplied.push(`name ${before.name} -> ${after.name}`);
    mesh.name = before.name;
  }
  if (after.dataPlane?.workers !== before.dataPlane?.workers) {
    const w = (m: MeshDefinition): string => String(m.dataPlane?.workers ?? 'default');
    notApplied.push(`dataPlane.workers ${w(before)} -> ${w(after)}`);
    mesh.dataPlane = before.dataPlane;
  }
  if (canonical(after.ingress.labels) !== canonical(before.ingress.labels)) changed.push('changed ingress gateway labels');
  if (after.namespace !== before.namespace) changed.push(`changed namespace ${before.namespace} -> ${after.namespace}`);
  const mode = (m: MeshDefinition): string => m.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY';
  if (mode(after) !== mode(before)) changed.push(`changed outboundTrafficPolicy ${mode(before)} -> ${mode(after)}`);
  if (after.rulesDir !== before.rulesDir) {
    if (opts.rulesExplicit) notApplied.push(`rules ${after.rulesDir ?? '-'} (--rules was given)`);
    else changed.push(`changed rules folder ${before.rulesDir ?? '-'} -> ${after.rulesDir ?? '-'}`);
  }
  if (opts.rulesExplicit) mesh.rulesDir = before.rulesDir;

  const oldSvcs = new Map(before.services.map((s) => [s.name, s]));
  const newSvcs = new Map(after.services.map((s) => [s.name, s]));
  for (const [name, s] of newSvcs) {
    const o = oldSvcs.get(name);
    if (!o) changed.push(`added Service ${ns}/${name}`);
    else {
      if (o.port !== s.port) changed.push(`changed Service ${ns}/${name} (port ${o.port} -> ${s.port})`);
      else if (JSON.stringify(portsOf(o)) !== JSON.stringify(portsOf(s))) changed.push(`changed Service ${ns}/${name} (ports)`);
      if (canonical(o.watch) !== canonical(s.watch)) changed.push(`changed Service ${ns}/${name} (watch)`);
    }
  }
  for (const name of oldSvcs.keys()) if (!newSvcs.has(name)) changed.push(`removed Service ${ns}/${name}`);

  const oldW = workloadsOf(before);
  const newW = workloadsOf(after);
  for (const [name, w] of newW) {
    const o = oldW.get(name);
    if (!o) {
      workloads.push({ workload: name, service: w.service, change: 'added', after: w, fields: [] });
      changed.push(`added Workload ${ns}/${name} (${w.replicas} replica${w.replicas === 1 ? '' : 's'})`);
      continue;
    }
    const fields = specFields(o, w);
    // the app listens on one port per service port: new ports mean new PORT_<NAME> variables
    const so = before.services.find((x) => x.name === o.service);
    const sn = after.services.find((x) => x.name === w.service);
    if (so && sn && portsKey(so) !== portsKey(sn)) fields.push('ports');
    if (fields.length > 0) {
      workloads.push({ workload: name, service: w.service, change: 'changed', before: o, after: w, fields });
      changed.push(`changed Workload ${ns}/${name} (${fields.join(', ')}${o.replicas !== w.replicas ? `; replicas ${o.replicas} -> ${w.replicas}` : ''})`);
    } else if (o.replicas !== w.replicas) {
      workloads.push({ workload: name, service: w.service, change: 'scaled', before: o, after: w, fields: [] });
      changed.push(`scaled Workload ${ns}/${name} (${o.replicas} -> ${w.replicas})`);
    }
  }
  for (const [name, o] of oldW) {
    if (newW.has(name)) continue;
    workloads.push({ workload: name, service: o.service, change: 'removed', before: o, fields: [] });
    changed.push(`removed Workload ${ns}/${name}`);
  }
  return { mesh, workloads, changed, notApplied, empty: changed.length === 0 && notApplied.length === 0 };
}

export interface MeshReloaderOptions {
  /** absolute path of meshbox.yaml */
  file: string;
  bus: EventBus;
  registry: Registry;
  workloads: WorkloadManager;
  controlPlane: ControlPlane;
  rollout: Rollout;
  rulesExplicit: boolean;
  /** the mesh running now */
  mesh(): MeshDefinition;
  /** called once the new mesh is in the control plane, before workloads change */
  onMesh(mesh: MeshDefinition, plan: MeshPlan): Promise<void>;
  onFindings(findings: Finding[]): void;
  debounceMs?: number;
}

export interface MeshReloadOutcome {
  applied: boolean;
  changed: string[];
  /** per changed workload: what the rollout did */
  results: Array<{ workload: string; result: RolloutResult }>;
  findings: Finding[];
  /** why a valid save could not be applied (a listener that did not bind, ...): nothing of it was */
  error?: string;
  at: number;
  durationMs: number;
}

const rel = displayPath;
/** a save that removes workloads is applied once the file stayed the same this long */
const SETTLE_BEFORE_REMOVAL_MS = 100;

export class MeshReloader {
  generation = 0;
  lastOutcome: MeshReloadOutcome | undefined;
  private findings: Finding[] = [];
  private watcher: FileWatcher | undefined;
  private readonly queue = new ReloadQueue<MeshReloadOutcome>((t) => this.doReload(t));
  private closed = false;

  constructor(private readonly o: MeshReloaderOptions) {}

  async start(): Promise<void> {
    const file = this.o.file;
    this.watcher = new FileWatcher({
      roots: [path.dirname(file)],
      depth: 0,
      debounceMs: this.o.debounceMs ?? 50,
      accept: (f) => f === file,
      onChange: (changes) => {
        if (changes.some((c) => c.path === file)) {
          void this.reload([file]).catch((e: Error) =>
            this.notice('error', `${rel(file)} reload failed: ${e.message}`, 'the services keep running as they are; save meshbox.yaml again'),
          );
        }
      },
      onError: (e) =>
        this.o.bus.emit({ type: 'mesh:notice', time: Date.now(), level: 'error', message: `cannot watch ${rel(file)}: ${e.message}`, hint: 'changes to it are not picked up until meshbox is restarted' }),
    });
    await this.watcher.start();
  }

  reload(trigger: string[] = []): Promise<MeshReloadOutcome> {
    return this.queue.push(trigger);
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  private notice(level: 'info' | 'warn' | 'error', message: string, hint?: string): void {
    this.o.bus.emit({ type: 'mesh:notice', time: Date.now(), level, message, hint });
  }

  private async doReload(trigger: string[]): Promise<MeshReloadOutcome> {
    const t0 = performance.now();
    const file = this.o.file;
    const done = (o: Omit<MeshReloadOutcome, 'at' | 'durationMs' | 'findings'>): MeshReloadOutcome => {
      const outcome = { ...o, findings: this.findings, at: Date.now(), durationMs: performance.now() - t0 };
      this.lastOutcome = outcome;
      this.generation++;
      return outcome;
    };
    if (this.closed) return done({ applied: false, changed: [], results: [] });
    const text = await readFile(file, 'utf8').catch(() => undefined);
    const loaded = text === undefined ? await loadMeshFile(file) : parseMeshText(text, file);
    const wasRejected = hasErrors(this.findings);
    if (!loaded.mesh || hasErrors(loaded.findings)) {
      const errors = loaded.findings.filter((f) => f.severity === 'error');
      const same = JSON.stringify(errors) === JSON.stringify(this.findings.filter((f) => f.severity === 'error'));
      this.findings = loaded.findings;
      this.o.onFindings(this.findings);
      if (!same || trigger.length > 0) {
        this.o.bus.emit({ type: 'mesh:config:rejected', time: Date.now(), findings: errors });
        this.notice('error', `${rel(file)} not applied: the services keep running as they are`, 'fix the errors above and save again (`meshbox validate` shows them too)');
      }
      return done({ applied: false, changed: [], results: [] });
    }
    this.findings = loaded.findings;
    this.o.onFindings(this.findings);
    const plan = planMeshChange(this.o.mesh(), loaded.mesh, { rulesExplicit: this.o.rulesExplicit });
    // Stopping workloads is drastic: make sure the file was not read halfway through a save.
    if (plan.workloads.some((w) => w.change === 'removed')) {
      await new Promise((r) => setTimeout(r, SETTLE_BEFORE_REMOVAL_MS));
      if ((await readFile(file, 'utf8').catch(() => undefined)) !== text) return this.doReload(trigger);
    }
    if (wasRejected) this.notice('info', `${rel(file)}: errors fixed${plan.empty ? ' (nothing else changed)' : ''}`);
    for (const what of plan.notApplied) this.notice('warn', `${rel(file)}: ${what} takes effect at the next \`meshbox up\``);
    if (plan.changed.length === 0) return done({ applied: false, changed: [], results: [] });
    let results: Array<{ workload: string; result: RolloutResult }>;
    try {
      results = await this.o.rollout.exclusive(() => this.apply(plan));
    } catch (e) {
      const reason = (e as Error).message;
      this.notice(
        'error',
        `${rel(file)} not applied: ${reason}; the services keep running as they are`,
        e instanceof MeshError ? `${e.hint}; then save meshbox.yaml again` : 'save meshbox.yaml again',
      );
      return done({ applied: false, changed: [], results: [], error: reason });
    }
    if (this.closed) return done({ applied: true, changed: plan.changed, results });
    const failed = results.filter((r) => !r.result.ok);
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    if (failed.length === 0) this.notice('info', `${rel(file)} applied in ${secs}s: ${plan.changed.join('; ')}`);
    else this.notice('error', `${rel(file)} applied in ${secs}s, but: ${failed.map((f) => `${f.workload}: ${f.result.error}`).join('; ')}`, 'fix the workload (its log lines are above) and save meshbox.yaml again');
    return done({ applied: true, changed: plan.changed, results });
  }

  private async apply(plan: MeshPlan): Promise<Array<{ workload: string; result: RolloutResult }>> {
    const { controlPlane, registry, rollout, workloads, bus } = this.o;
    // 1. the new mesh, all or nothing: every sidecar's listeners for new services are bound
    //    first (a failure throws before anything uses the new mesh), then the control plane
    //    switches (back to the old mesh if the data plane refuses), then the workloads
    const before = controlPlane.mesh;
    await rollout.bind(registry.all(), plan.mesh);
    let snapshot;
    try {
      snapshot = await controlPlane.setMesh(plan.mesh);
    } catch (e) {
      await controlPlane.setMesh(before).catch(() => undefined);
      throw e;
    }
    workloads.setMesh(plan.mesh);
    bus.emit({ type: 'mesh:config:applied', time: Date.now(), version: snapshot.version, changed: plan.changed, warnings: [] });
    await this.o.onMesh(plan.mesh, plan);
    // 2. the workloads that changed, each on its own; the others are not touched
    return Promise.all(
      plan.workloads.map(async (w) => {
        let result: RolloutResult;
        try {
          if (w.change === 'removed') {
            const victims = rollout.instancesOf(w.workload);
            await Promise.all(victims.map((v) => rollout.retire(v)));
            result = { ok: true, steps: victims.map((v) => `${v.id} drained and stopped`) };
          } else if (w.change === 'changed') {
            result = await rollout.replace(rollout.instancesOf(w.workload), w.after!, w.after!.replicas);
          } else {
            result = await rollout.scale(w.after!, w.after!.replicas);
          }
        } catch (e) {
          result = { ok: false, steps: [], error: (e as Error).message };
        }
        return { workload: w.workload, result };
      }),
    );
  }

  status(): Record<string, unknown> {
    return { file: this.o.file, generation: this.generation, last: this.lastOutcome, errors: this.findings.filter((f) => f.severity === 'error') };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.watcher?.close();
    this.watcher = undefined;
  }
}
