/**
 * A sandbox started for one scenario run: on free loopback ports (ingress and admin on port 0),
 * without file watching (the scenario owns the rules) and without access logs, with the
 * scenario's seed. `close()` always stops it.
 */
import { analyze } from '../config/analyze.js';
import type { LoadedResource } from '../config/resource.js';
import { runWorkloadAction, type WorkloadAction } from '../admin/chaos-routes.js';
import type { MeshEvent } from '../events.js';
import type { FaultSpec } from '../faults/fault-spec.js';
import { Sandbox, type RuntimeChoice } from '../sandbox.js';
import type { InstanceView, RulesControl, ScenarioTarget } from './scenario-target.js';
import { gatewayHost } from './gateway-host.js';
import { SETTLE_MS } from './traffic-recorder.js';

export interface SandboxTargetOptions {
  config?: string;
  rules?: string;
  runtime?: RuntimeChoice;
  seed?: number;
  host?: string;
  readyTimeoutMs?: number;
  /** called for every event from the first one on (start-up included) */
  onEvent?: (e: MeshEvent) => void;
}

export class SandboxTarget implements ScenarioTarget {
  readonly kind = 'sandbox';
  readonly sandbox: Sandbox;
  readonly rules: RulesControl;

  constructor(private readonly options: SandboxTargetOptions) {
    this.sandbox = new Sandbox({
      config: options.config,
      rules: options.rules,
      runtime: options.runtime ?? 'auto',
      seed: options.seed,
      ingressPort: 0,
      adminPort: 0,
      accessLogDir: false,
      watch: false,
      readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
    });
    if (options.onEvent) this.sandbox.onEvent(options.onEvent);
    const sandbox = this.sandbox;
    this.rules = {
      applied: () => sandbox.controlPlane.appliedResources,
      mesh: () => sandbox.mesh,
      async set(resources: readonly LoadedResource[]) {
        const warnings = analyze([...resources], sandbox.mesh).filter((f) => f.severity === 'warning');
        const version = await sandbox.controlPlane.setResources(resources, warnings);
        return { version, warnings };
      },
    };
  }

  /** starts the sandbox; on failure it is stopped again before the error is thrown */
  async start(): Promise<this> {
    try {
      await this.sandbox.up();
    } catch (e) {
      await this.sandbox.down();
      throw e;
    }
    return this;
  }

  get id(): string {
    return this.sandbox.id;
  }
  get ingressUrl(): string {
    return this.sandbox.ingressUrl;
  }
  get adminUrl(): string {
    return this.sandbox.adminUrl;
  }
  get seed(): number {
    return this.sandbox.seed;
  }
  get runtime(): string | undefined {
    return (this.sandbox.runtime as typeof this.sandbox.runtime | undefined)?.name;
  }

  onEvent(listener: (e: MeshEvent) => void): () => void {
    return this.sandbox.onEvent(listener);
  }

  defaultHost(): string | undefined {
    return this.options.host ?? gatewayHost(this.sandbox.controlPlane.appliedResources);
  }

  async addFault(spec: FaultSpec) {
    return this.sandbox.faults.add(spec);
  }

  async removeFault(name: string): Promise<boolean> {
    return this.sandbox.faults.remove(name);
  }

  async instances(): Promise<InstanceView[]> {
    return this.sandbox.registry.all().map((i) => ({
      id: i.id,
      service: i.workload.service,
      version: i.workload.version,
      workload: i.workload.workload,
      state: i.state,
      healthy: i.healthy,
      drained: i.drained,
      serviceListeners: { ...i.sidecar.services },
    }));
  }

  async workloadAction(id: string, action: WorkloadAction, opts: { signal?: string } = {}): Promise<void> {
    await runWorkloadAction(this.sandbox.workloads, id, action, opts.signal ? { signal: opts.signal } : undefined);
  }

  async settle(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  }

  async mark(): Promise<number> {
    return Date.now();
  }

  close(): Promise<void> {
    return this.sandbox.down();
  }
}
