/**
 * Picks the workload runtime for `--runtime auto|process|docker`.
 */
import { MeshError } from '../errors.js';
import { ProcessRuntime } from './process-runtime.js';
import type { Runtime } from './runtime.js';

export type RuntimeChoice = 'auto' | 'process' | 'docker';

export interface RuntimeSelection {
  runtime: Runtime;
  /** said to the user, e.g. why auto fell back to processes */
  notice?: string;
}

export async function selectRuntime(choice: RuntimeChoice): Promise<RuntimeSelection> {
  if (choice === 'docker') {
    throw new MeshError('MESH_ERR_RUNTIME_UNAVAILABLE', ['docker', 'this meshbox build runs workloads as processes only']);
  }
  return { runtime: new ProcessRuntime() };
}
