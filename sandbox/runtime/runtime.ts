/**
 * The workload runtime interface. The control plane, sidecars, health checks and events do not
 * know which runtime runs an instance: processes (./process-runtime.ts) or Docker containers.
 */
import type { EventEmitter } from 'node:events';
import type { WorkloadSpec } from '../config/mesh-types.js';

export interface LaunchSpec {
  /** instance id, e.g. `callme-service-v2-1` */
  id: string;
  workload: WorkloadSpec;
  /** the complete environment of the instance (meshbox's contract merged with the user's) */
  env: Record<string, string>;
  /** the port the app must listen on */
  port: number;
}

export type ChaosAction = 'kill' | 'stop' | 'pause' | 'resume' | 'restart';

export interface RuntimeExit {
  id: string;
  code: number | null;
  signal: string | null;
  /** true when meshbox asked for it (stop, down); false for a crash or an outside kill */
  expected: boolean;
}

/**
 * Events: `log` ({id, stream, line}), `exit` (RuntimeExit).
 */
export interface Runtime extends EventEmitter {
  readonly name: 'process' | 'docker';
  /** starts one instance; resolves once it was launched (not when it is healthy) */
  start(spec: LaunchSpec): Promise<{ pid?: number }>;
  /** graceful stop: SIGTERM, then SIGKILL after graceMs */
  stop(id: string, graceMs: number): Promise<void>;
  /** sends a signal (kill), or freezes/thaws the instance */
  signal(id: string, signal: NodeJS.Signals): Promise<void>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  isRunning(id: string): boolean;
  stopAll(graceMs: number): Promise<void>;
}
