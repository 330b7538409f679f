/**
 * Picks the workload runtime for `--runtime auto|process|docker`.
 *
 *   docker   Docker containers; no daemon (or no permission on its socket) is an error
 *   process  child processes
 *   auto     Docker whenever a daemon answers, else processes, saying why
 *
 * The daemon is probed with one bare HTTP request, so `auto` without Docker costs milliseconds
 * and dockerode is only loaded when containers will run.
 */
import type { MeshEvent } from '../events.js';
import { daemonError, dockerEndpoint, probeDaemon } from './docker/daemon.js';
import { DockerRuntime, type DockerNetworkChoice } from './docker-runtime.js';
import { ProcessRuntime } from './process-runtime.js';
import type { Runtime } from './runtime.js';

export type RuntimeChoice = 'auto' | 'process' | 'docker';
export type { DockerNetworkChoice } from './docker-runtime.js';

export interface RuntimeSelection {
  runtime: Runtime;
  /** said to the user, e.g. why auto fell back to processes */
  notice?: string;
}

export interface RuntimeSelectOptions {
  /** Docker: pull images that are not present locally */
  pull?: boolean;
  /** Docker: host networking (Linux default) or bridge with published ports (Docker Desktop) */
  dockerNetwork?: DockerNetworkChoice;
  /** image build progress and notices (leftover containers removed, ...) */
  onEvent?: (e: MeshEvent) => void;
}

export async function selectRuntime(choice: RuntimeChoice, opts: RuntimeSelectOptions = {}): Promise<RuntimeSelection> {
  if (choice === 'process') return { runtime: new ProcessRuntime() };
  const endpoint = dockerEndpoint();
  const probe = await probeDaemon(endpoint, choice === 'auto' ? 1_500 : 5_000);
  if (!probe.ok) {
    if (choice === 'docker') throw daemonError(probe);
    const err = daemonError(probe);
    return {
      runtime: new ProcessRuntime(),
      notice: `${err.message}: running workloads as processes (--runtime auto)${probe.kind === 'permission' ? `; to use Docker: ${err.hint}` : ''}`,
    };
  }
  const runtime = await DockerRuntime.connect({ endpoint, pull: opts.pull, network: opts.dockerNetwork, onEvent: opts.onEvent });
  return {
    runtime,
    notice: `workloads run as Docker containers (daemon at ${endpoint.description}, ${runtime.network} networking${opts.pull ? ', pulls allowed' : ', no pulls'})${choice === 'auto' ? '; --runtime process runs them as processes' : ''}`,
  };
}
