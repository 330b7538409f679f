/**
 * Hot reload while coding: the rules folder, meshbox.yaml and the services' own code, watched
 * while a sandbox runs (Sandbox.up starts it, Sandbox.down closes it).
 *
 *   rules/*.yaml  ─> RulesReloader  ─> controlPlane.setResources   (one atomic snapshot per burst)
 *   meshbox.yaml  ─> MeshReloader   ─> controlPlane.setMesh + Rollout (only changed workloads)
 *   service code  ─> CodeWatcher    ─> build ─> Rollout (rolling, or in place with waiting requests)
 *
 * Findings (rules and meshbox.yaml) are merged for the sandbox's `ruleFindings` (status,
 * /config_dump); an error stays there until a good save clears it.
 */
import type { Finding } from '../config/findings.js';
import type { MeshDefinition } from '../config/mesh-types.js';
import type { RulesLoadResult } from '../config/rules-loader.js';
import type { EventBus } from '../events.js';
import type { DataPlane } from '../proxy/data-plane.js';
import { CodeWatcher } from './code-watcher.js';
import type { ControlPlane } from './control-plane.js';
import { MeshReloader } from './mesh-reloader.js';
import type { Registry } from './registry.js';
import { Rollout } from './rollout.js';
import { RulesReloader } from './rules-reloader.js';
import type { WorkloadManager } from './workload-manager.js';

export interface HotReloadHost {
  bus: EventBus;
  registry: Registry;
  workloads: WorkloadManager;
  dataPlane: DataPlane;
  controlPlane: ControlPlane;
  ingress: { address: string; port: number };
  /** absolute path of meshbox.yaml */
  configFile: string;
  /** the rules folder came from --rules: meshbox.yaml's `rules:` does not move it */
  rulesExplicit: boolean;
  /** the running mesh definition */
  mesh(): MeshDefinition;
  /** a reloaded meshbox.yaml is now running */
  onMesh(mesh: MeshDefinition): void;
  /** all current findings: rules and meshbox.yaml */
  onFindings(findings: Finding[]): void;
}

export interface HotReloadOptions {
  /** debounce of rule saves (default 20 ms) */
  rulesDebounceMs?: number;
  /** debounce of code saves (default 100 ms) */
  codeDebounceMs?: number;
}

export class HotReload {
  readonly rollout: Rollout;
  readonly rules: RulesReloader;
  readonly meshFile: MeshReloader;
  readonly code: CodeWatcher;
  private rulesFindings: Finding[] = [];
  private meshFindings: Finding[] = [];

  constructor(
    private readonly h: HotReloadHost,
    initial: { rulesDir: string | undefined; rules: RulesLoadResult | undefined },
    opts: HotReloadOptions = {},
  ) {
    this.rulesFindings = initial.rules?.findings ?? [];
    this.rollout = new Rollout(h);
    this.rules = new RulesReloader({
      bus: h.bus,
      controlPlane: h.controlPlane,
      mesh: () => h.mesh(),
      onFindings: (f) => {
        this.rulesFindings = f;
        this.publishFindings();
      },
      debounceMs: opts.rulesDebounceMs,
    });
    this.rules.adopt(initial.rulesDir, initial.rules);
    this.code = new CodeWatcher({ bus: h.bus, rollout: this.rollout, mesh: () => h.mesh(), debounceMs: opts.codeDebounceMs });
    this.meshFile = new MeshReloader({
      file: h.configFile,
      bus: h.bus,
      registry: h.registry,
      workloads: h.workloads,
      controlPlane: h.controlPlane,
      rollout: this.rollout,
      rulesExplicit: h.rulesExplicit,
      mesh: () => h.mesh(),
      onFindings: (f) => {
        this.meshFindings = f;
        this.publishFindings();
      },
      onMesh: async (mesh) => {
        h.onMesh(mesh);
        if (!h.rulesExplicit && mesh.rulesDir !== this.rules.folder) await this.rules.setDir(mesh.rulesDir);
        else await this.rules.reload(['meshbox.yaml']);
        await this.code.update(mesh);
      },
    });
  }

  private publishFindings(): void {
    this.h.onFindings([...this.meshFindings, ...this.rulesFindings]);
  }

  async start(): Promise<void> {
    await Promise.all([this.rules.start(), this.meshFile.start(), this.code.update(this.h.mesh())]);
  }

  /** resolves once no reload, build or restart is running */
  async idle(): Promise<void> {
    await this.meshFile.idle();
    await this.rules.idle();
    await this.code.idle();
  }

  status(): Record<string, unknown> {
    return { rules: this.rules.status(), meshFile: this.meshFile.status(), code: this.code.status() };
  }

  async close(): Promise<void> {
    await Promise.all([this.rules.close(), this.meshFile.close(), this.code.close()]);
  }
}
