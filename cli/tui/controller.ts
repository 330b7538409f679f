/**
 * What the terminal UI needs from a running sandbox, as one small interface. The UI reads and
 * acts through it only; `sandbox-controller.ts` maps it onto the real Sandbox, and tests give the
 * UI a fake one.
 *
 *   Sandbox ── SandboxController ──┬─> ViewStore (events -> counters -> snapshots, <= 10/s)
 *                                  └─> key actions (faults, workload chaos, load, quit)
 */
import type { Finding } from '../../sandbox/config/findings.js';
import type { InstanceState } from '../../sandbox/control/registry.js';
import type { MeshEvent, RequestEvent } from '../../sandbox/events.js';
import type { FaultRecord, FaultSpec } from '../../sandbox/faults/fault-spec.js';
import type { StoredTrace } from '../../sandbox/telemetry/tracing/trace-store.js';
import type { TracingStats } from '../../sandbox/telemetry/tracing/tracer.js';

export interface SandboxInfo {
  /** `sample-6f0f72`; empty until the mesh file is read */
  id: string;
  /** the mesh's name from meshbox.yaml; empty until read */
  name: string;
  /** `process` or `docker`; undefined until selected */
  runtime: string | undefined;
  ingressUrl: string;
  adminUrl: string;
  /** the Toxiproxy API's URL, empty when it is off */
  toxiproxyUrl?: string;
  seed: number;
  rulesDir: string | undefined;
}

export interface InstanceInfo {
  id: string;
  service: string;
  version: string;
  workload: string;
  state: InstanceState;
  healthy: boolean;
  /** taken out of load balancing by hand */
  drained: boolean;
  /** frozen (SIGSTOP) by a pause action */
  paused: boolean;
  pid?: number;
  restarts: number;
}

/** One applied rule resource, where it came from. */
export interface RuleResource {
  kind: string;
  namespace: string;
  name: string;
  file: string;
  line: number;
  col: number;
}

/** Runtime faults, layered on the rule files' (the sandbox's FaultStore has this shape). */
export interface FaultControl {
  add(spec: FaultSpec): FaultRecord;
  remove(name: string): boolean;
  clear(): number;
  list(): FaultRecord[];
}

/** Workload chaos on one instance. */
export interface WorkloadControl {
  kill(id: string): Promise<void>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  restart(id: string): Promise<void>;
}

/** Where the built-in load generator sends its requests. */
export interface LoadTarget {
  /** the ingress gateway, e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  /** the Host header: the first host a Gateway-bound VirtualService serves */
  host: string;
  /** the default path */
  path: string;
}

export interface LoadStatus {
  running: boolean;
  /** target rate, requests per second */
  rate: number;
  host: string;
  path: string;
  sent: number;
  completed: number;
  errors: number;
  /** completed per second over the generator's last progress window */
  achievedRps: number;
  /** end-to-end latency seen by the generator over its last window */
  p50: number | undefined;
  p99: number | undefined;
  /** completed requests by status class: `2xx`, `5xx`, ... */
  statusClasses: Record<string, number>;
}

export interface LoadControl {
  /** undefined when the mesh has no Gateway-bound host to send traffic to (yet) */
  target(): LoadTarget | undefined;
  /** starts (or restarts at a new rate/path) an open-loop load against the ingress */
  start(options: { rate: number; path?: string }): void;
  /** stops sending; requests in flight get `graceMs` to finish (default: a couple of seconds) */
  stop(options?: { graceMs?: number }): Promise<void>;
  status(): LoadStatus | undefined;
}

/** What the Traces view reads (the sandbox's TraceStore has this shape). */
export interface TraceSource {
  /** newest first */
  recent(limit?: number): StoredTrace[];
  get(traceId: string): StoredTrace | undefined;
  byRequestId(requestId: string): StoredTrace | undefined;
}

export interface SandboxController {
  /** every sandbox event, in order; returns an unsubscribe function */
  onEvent(listener: (event: MeshEvent) => void): () => void;
  info(): SandboxInfo;
  instances(): InstanceInfo[];
  /** version of the snapshot the data plane serves (0 before the first push) */
  snapshotVersion(): number;
  resources(): RuleResource[];
  /** the current validation findings of the rule files */
  findings(): readonly Finding[];
  /** undefined when this sandbox has no runtime faults */
  faults: FaultControl | undefined;
  workloads: WorkloadControl;
  load: LoadControl;
  /**
   * The full `why` of a request for its detail view: with a line per route skipped before the
   * one that matched (rendered on demand; events carry only the matched route's line)
   */
  explainRequest?(e: RequestEvent): readonly string[];
  /** the built-in trace store; undefined when tracing is off */
  traces?: TraceSource;
  /** sampling, store and exporter counters (dropped and failed spans), for the Traces view */
  traceStats?(): TracingStats | undefined;
  /** stops everything the sandbox started */
  down(): Promise<void>;
}
