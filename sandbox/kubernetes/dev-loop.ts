/**
 * `meshbox dev`: the `skaffold dev` loop on a mesh read from Kubernetes manifests.
 *
 *   each image's build context (skaffold artifact `context`, the folder named like the image, or
 *   meshbox.yaml `images.<image>.watch`) is watched; a change restarts only the services whose
 *   image it is, through the rolling restart (new instance healthy before an old one drains:
 *   no failed request). With Docker the restart resolves the image again, and the content hash
 *   of its context decides: an unchanged context reuses the image, a changed one is rebuilt.
 *   the Istio kinds of the manifest files and the rules folder hot-reload: a save is validated
 *   and applied at once; a file with an error keeps its last good rules (and the error is shown
 *   with its location). `meshbox up` on manifests runs this part (and the `watch:` of services
 *   that have one) too; `meshbox dev` adds the watches of the images' build contexts.
 *
 * The manifests' Deployments and Services themselves are read once, at start.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Finding } from '../config/findings.js';
import type { MeshDefinition, ServiceSpec } from '../config/mesh-types.js';
import type { LoadedResource } from '../config/resource.js';
import { validatePaths } from '../config/validate.js';
import { FileWatcher } from '../config/watcher.js';
import { CodeWatcher } from '../control/code-watcher.js';
import { Rollout } from '../control/rollout.js';
import type { Sandbox } from '../sandbox.js';

/** Watch specs for the services whose image has a build context (Docker) or an `images:` watch. */
export function withDevWatches(mesh: MeshDefinition): MeshDefinition {
  const services: ServiceSpec[] = mesh.services.map((s) => {
    if (s.watch) return s;
    const contexts = [...new Set(s.workloads.flatMap((w) => (w.build ? [w.build.context] : [])))];
    if (contexts.length === 0) return s;
    return { ...s, watch: { paths: contexts, ignore: [], action: 'restart', cwd: contexts[0]! } };
  });
  return { ...mesh, services };
}

export class DevLoop {
  private code: CodeWatcher | undefined;
  private rules: FileWatcher | undefined;
  private readonly lastGood = new Map<string, readonly LoadedResource[]>();
  private reloading: Promise<void> = Promise.resolve();
  private closed = false;
  private appliedKey = '';

  constructor(
    private readonly sandbox: Sandbox,
    /** `meshbox dev` (says what it watches, or that nothing is watched) */
    private readonly dev = true,
  ) {}

  private notice(level: 'info' | 'warn' | 'error', message: string, hint?: string): void {
    this.sandbox.bus.emit({ type: 'mesh:notice', time: Date.now(), level, message, hint });
  }

  /** call once the sandbox is up */
  async start(): Promise<void> {
    const sb = this.sandbox;
    const url = new URL(sb.ingressUrl);
    const rollout = new Rollout({ registry: sb.registry, workloads: sb.workloads, dataPlane: sb.dataPlane, controlPlane: sb.controlPlane, ingress: { address: url.hostname, port: Number(url.port) } });
    this.code = new CodeWatcher({ bus: sb.bus, rollout, mesh: () => sb.mesh });
    await this.code.update(sb.mesh);
    const watched = sb.mesh.services.filter((s) => s.watch).map((s) => `${s.name} (${s.watch!.paths.map((p) => path.relative(process.cwd(), p) || '.').join(', ')})`);
    if (this.dev || watched.length) this.notice('info', watched.length ? `dev: watching ${watched.join(', ')}: a change rebuilds and rolls only that service` : 'dev: no image has a build context to watch', watched.length ? undefined : 'add a skaffold.yaml artifact (or a folder named like the image with a Dockerfile), or `images.<image>.watch` in meshbox.yaml');

    const paths = this.rulePaths();
    const initial = await validatePaths(paths, { mesh: sb.mesh });
    for (const r of initial.files) if (r.applied) this.lastGood.set(r.file, r.resources);
    this.appliedKey = JSON.stringify(initial.files.flatMap((f) => this.lastGood.get(f.file) ?? []).map((r) => [r.kind, r.metadata.namespace, r.metadata.name, r.spec]));
    if (paths.length === 0) return;
    const files = new Set((sb.mesh.ruleFiles ?? []).map((f) => path.resolve(f)));
    const dir = sb.rulesDir ? path.resolve(sb.rulesDir) : undefined;
    this.rules = new FileWatcher({
      roots: paths,
      accept: (f) => files.has(path.resolve(f)) || (dir !== undefined && path.dirname(path.resolve(f)) === dir && /\.ya?ml$/i.test(f)),
      depth: 0,
      onChange: (changes) => {
        this.reloading = this.reloading.then(() => this.reloadRules(changes.map((c) => c.path)));
      },
    });
    await this.rules.start();
  }

  /** Validates every manifest file again; applies the good ones, keeps the last good rules of the others. */
  async reloadRules(changed: string[]): Promise<void> {
    if (this.closed) return;
    const sb = this.sandbox;
    const result = await validatePaths(this.rulePaths(), { mesh: sb.mesh });
    const errors: Finding[] = [];
    for (const f of result.files) {
      if (f.applied) this.lastGood.set(f.file, f.resources);
      else errors.push(...f.findings.filter((x) => x.severity === 'error'));
    }
    errors.push(...result.findings.filter((x) => x.severity === 'error' && !x.location));
    if (errors.length) {
      sb.bus.emit({ type: 'mesh:config:rejected', time: Date.now(), findings: errors });
      this.notice('error', `not applied (the last good rules of ${[...new Set(errors.map((e) => e.location?.file ?? ''))].filter(Boolean).map((f) => path.relative(process.cwd(), f)).join(', ')} keep serving): fix the errors above and save again`);
    }
    // a file that is gone takes its rules with it; one that is rejected keeps its last good ones
    const listed = new Set(result.files.map((f) => f.file));
    for (const f of [...this.lastGood.keys()]) if (!listed.has(f)) this.lastGood.delete(f);
    const resources = result.files.flatMap((f) => this.lastGood.get(f.file) ?? []);
    const key = JSON.stringify(resources.map((r) => [r.kind, r.metadata.namespace, r.metadata.name, r.spec]));
    if (key === this.appliedKey) return; // nothing new to apply (a rejected save keeps the last good rules)
    this.appliedKey = key;
    await sb.controlPlane.setResources(resources, result.findings.filter((f) => f.severity === 'warning'));
    if (!errors.length) this.notice('info', `dev: rules of ${changed.map((f) => path.relative(process.cwd(), f)).join(', ')} applied`);
  }

  /** the sandbox's rules folder (when it exists) and the manifest files holding Istio kinds */
  private rulePaths(): string[] {
    const dir = this.sandbox.rulesDir;
    return [...(dir && existsSync(dir) ? [dir] : []), ...(this.sandbox.mesh.ruleFiles ?? [])];
  }

  async idle(): Promise<void> {
    await this.reloading;
    await this.code?.idle();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([this.code?.close(), this.rules?.close()]);
  }
}

/** Starts a DevLoop when `sandbox` is up, and closes it when the sandbox stops. */
export function attachDevLoop(sandbox: Sandbox, opts: { dev: boolean }): { loop: () => DevLoop | undefined } {
  let loop: DevLoop | undefined;
  const offReady = sandbox.bus.on('mesh:sandbox:ready', () => {
    offReady();
    loop = new DevLoop(sandbox, opts.dev);
    void loop.start().catch((e: Error) => sandbox.bus.emit({ type: 'mesh:notice', time: Date.now(), level: 'error', message: `dev: watching failed: ${e.message}` }));
  });
  const offStopping = sandbox.bus.on('mesh:sandbox:stopping', () => {
    offStopping();
    void loop?.close();
  });
  return { loop: () => loop };
}
