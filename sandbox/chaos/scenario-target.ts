/**
 * What a scenario acts on: a sandbox it started itself (./sandbox-target.ts) or a running one it
 * attached to through the admin API (./attached-target.ts). Steps and assertions see only this
 * interface, so tests can give them a fake.
 */
import type { Finding } from '../config/findings.js';
import type { LoadedResource } from '../config/resource.js';
import type { MeshDefinition } from '../config/mesh-types.js';
import type { MeshEvent } from '../events.js';
import type { FaultRecord, FaultSpec } from '../faults/fault-spec.js';
import type { WorkloadAction } from '../admin/chaos-routes.js';

export type { WorkloadAction } from '../admin/chaos-routes.js';

export interface InstanceView {
  id: string;
  service: string;
  version: string;
  /** `<service>-<version>` */
  workload: string;
  state: string;
  healthy: boolean;
  drained: boolean;
  /** the instance's sidecar listeners bound to one service each: service name -> loopback port */
  serviceListeners: Record<string, number>;
  /** the loopback port of the instance's sidecar inbound listener (undefined when not known) */
  inboundPort?: number;
}

/** Rules of a sandbox the scenario started: read what is applied, replace it. */
export interface RulesControl {
  applied(): readonly LoadedResource[];
  /** replaces the applied rules; resolves once the data plane has them */
  set(resources: readonly LoadedResource[]): Promise<{ version: number; warnings: Finding[] }>;
  /** the mesh the rules are checked against */
  mesh(): MeshDefinition;
}

export interface ScenarioTarget {
  readonly kind: 'sandbox' | 'attached';
  /** sandbox id */
  readonly id: string;
  readonly ingressUrl: string;
  readonly adminUrl: string;
  /** the sandbox's seed (for an attached sandbox: the one it was started with) */
  readonly seed: number | undefined;
  /** `process`, `docker` */
  readonly runtime: string | undefined;
  /** every event of the sandbox: requests, outliers, workloads, faults */
  onEvent(listener: (e: MeshEvent) => void): () => void;
  /** the Host header for traffic through the ingress gateway when a step does not say */
  defaultHost(): string | undefined;
  addFault(spec: FaultSpec): Promise<FaultRecord>;
  removeFault(name: string): Promise<boolean>;
  instances(): Promise<InstanceView[]>;
  workloadAction(id: string, action: WorkloadAction, opts?: { signal?: string }): Promise<void>;
  /** undefined when the rules cannot be changed (an attached sandbox) */
  readonly rules: RulesControl | undefined;
  /** resolves once every event up to now has been delivered to `onEvent` listeners */
  settle(): Promise<void>;
  /**
   * A time to bound a window with: events delivered after this call are timed after it, events
   * delivered before it at or before it (an attached sandbox takes a metrics reading for it).
   */
  mark(): Promise<number>;
  /** stops the sandbox if the scenario started it; detaches otherwise. Safe to call twice. */
  close(): Promise<void>;
}
