/**
 * The workload runtime interface. The control plane, sidecars, health checks and events do not
 * know which runtime runs an instance: processes (./process-runtime.ts) or Docker containers.
 */
import type { EventEmitter } from 'node:events';
import type { WorkloadSpec } from '../config/mesh-types.js';
import { MeshError, type MeshErrorCode } from '../errors.js';

export interface LaunchSpec {
  /** instance id, e.g. `callme-service-v2-1` */
  id: string;
  workload: WorkloadSpec;
  /** the complete environment of the instance (meshbox's contract merged with the user's) */
  env: Record<string, string>;
  /** the port the app must listen on (the service's first port: `PORT`) */
  port: number;
  /** every port the app listens on (`PORT` and each `PORT_<NAME>`); absent: `port` only */
  ports?: number[];
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

const kPermanent = Symbol.for('meshbox.permanent-start-failure');

/** codes of start failures that no restart can heal: the image or the runtime has to change first */
const PERMANENT_CODES: ReadonlySet<MeshErrorCode> = new Set(['MESH_ERR_IMAGE_MISSING', 'MESH_ERR_IMAGE_BUILD', 'MESH_ERR_RUNTIME_UNAVAILABLE']);

/** marks a start error that retrying cannot heal (no command, a program that does not exist) */
export function permanentFailure<E extends Error>(e: E): E {
  Object.defineProperty(e, kPermanent, { value: true });
  return e;
}

/**
 * Whether a failed start can heal by retrying. A crash can (a dependency comes up, a port frees);
 * a missing image, a missing program or a missing command cannot: meshbox.yaml or the machine
 * has to change first.
 */
export function isPermanentFailure(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  if ((e as Record<symbol, unknown>)[kPermanent] === true) return true;
  return e instanceof MeshError && PERMANENT_CODES.has(e.code);
}

/**
 * Exit statuses of a shell (and of Docker's init) that mean the command itself cannot run:
 * 126 found but not executable, 127 not found. Restarting runs the same command again.
 */
export function commandNotRunnable(code: number | null): string | undefined {
  if (code === 127) return 'command not found (exit code 127)';
  if (code === 126) return 'command found but not executable (exit code 126)';
  return undefined;
}
