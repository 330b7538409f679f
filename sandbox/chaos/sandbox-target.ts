/**
 * A sandbox started for one scenario run: on free loopback ports (ingress and admin on port 0),
 * without file watching (the scenario owns the rules) and without access logs, with the
 * scenario's seed. `close()` always stops it.
 *
 * Workload ports are picked free just before the workloads bind them; when another process takes
 * one in between (MESH_ERR_PORT_IN_USE), the sandbox is stopped and started again on new ports,
 * up to twice.
 */
import { analyze } from '../config/analyze.js';
import type { LoadedResource } from '../config/resource.js';
import { runWorkloadAction, type WorkloadAction } from '../admin/chaos-routes.js';
import type { MeshEvent } from '../events.js';
import type { FaultSpec } from '../faults/fault-spec.js';
import { MeshError } from '../errors.js';
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
  /** worker threads of the data plane */
  dataPlaneWorkers?: number;
  /** called for every event from the first one on (start-up included) */
  onEvent?: (e: MeshEvent) => void;
  /** told when the start is tried again */
  onRetry?: (reason: string) => void;
}

const START_ATTEMPTS = 3;

export class SandboxTarget implements ScenarioTarget {
  readonly kind = 'sandbox';
  readonly rules: RulesControl;
  private current: Sandbox;

  constructor(private readonly options: SandboxTargetOptions) {
    this.current = this.create();
    this.rules = {
      applied: () => this.sandbox.controlPlane.appliedResources,
      mesh: () => this.sandbox.mesh,
      set: async (resources: readonly LoadedResource[]) => {
        const warnings = analyze([...resources], this.sandbox.mesh).filter((f) => f.severity === 'warning');
        const version = await this.sandbox.controlPlane.setResources(resources, warnings);
        return { version, warnings };
      },
    };
  }

  get sandbox(): Sandbox {
    return this.current;
  }

  private create(): Sandbox {
    const o = this.options;
    const sandbox = new Sandbox({
      config: o.config,
      rules: o.rules,
      runtime: o.runtime ?? 'auto',
      seed: o.seed,
      ingressPort: 0,
      adminPort: 0,
      accessLogDir: false,
      watch: false,
      readyTimeoutMs: o.readyTimeoutMs ?? 60_000,
      ...(o.dataPlaneWorkers !== undefined ? { dataPlaneWorkers: o.dataPlaneWorkers } : {}),
    });
    if (o.onEvent) sandbox.onEvent(o.onEvent);
    return sandbox;
  }

  /** starts the sandbox; on failure it is stopped again before the error is thrown */
  async start(): Promise<this> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.current.up();
        return this;
      } catch (e) {
        await this.current.down();
        if (!(e instanceof MeshError && e.code === 'MESH_ERR_PORT_IN_USE') || attempt >= START_ATTEMPTS) throw e;
        this.options.onRetry?.(`${e.message}: starting again on other ports`);
        this.current = this.create();
      }
    }
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
      ...(i.sidecar.inbound ? { inboundPort: i.sidecar.inbound } : {}),
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
