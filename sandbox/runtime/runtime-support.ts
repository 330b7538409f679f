/**
 * Which services a runtime can run, checked before anything starts (`meshbox up`) and by
 * `meshbox validate --runtime process|docker`:
 *
 *   process  needs a `command`: a service with only `image:` or `build:` cannot run as a process
 *   docker   `image:` and `build:` run as given; a `command` alone runs in a generated image, which
 *            holds node, /bin/sh and the service folder (docker/app-image.ts decides what fits)
 *
 * Each problem is a finding (MB3006) at the service's place in meshbox.yaml; `up` turns them into
 * one MESH_ERR_RUNTIME_UNAVAILABLE before it starts a single process.
 */
import { makeFinding } from '../config/codes.js';
import type { Finding } from '../config/findings.js';
import type { MeshDefinition, WorkloadSpec } from '../config/mesh-types.js';
import { MeshError } from '../errors.js';
import { planCommand } from './docker/app-image.js';
import { daemonError, dockerEndpoint, probeDaemon } from './docker/daemon.js';

export type RuntimeName = 'process' | 'docker';

function label(w: WorkloadSpec): string {
  return `${w.service} ${w.version}`;
}

/** why `runtime` cannot run this workload, or undefined when it can */
export function cannotRun(w: WorkloadSpec, runtime: RuntimeName): { reason: string; hint: string } | undefined {
  if (runtime === 'process') {
    if (w.command && w.command.length > 0) return undefined;
    const has = w.build ? 'only `build:`' : w.image ? `only \`image: ${w.image}\`` : 'nothing to run';
    return {
      reason: `${label(w)} has ${has} and no \`command\`, which the process runtime needs`,
      hint: 'run it with --runtime docker (a Docker daemon must answer), or give the service a `command` in meshbox.yaml',
    };
  }
  if (w.image || w.build) return undefined;
  try {
    planCommand(w);
    return undefined;
  } catch (e) {
    if (!(e instanceof MeshError)) throw e;
    return { reason: `${label(w)}: ${e.message.replace(/^workload .*? could not start: /, '')}`, hint: e.hint };
  }
}

/** one finding per workload the runtime cannot run */
export function runtimeFindings(mesh: MeshDefinition, runtime: RuntimeName): Finding[] {
  const out: Finding[] = [];
  for (const svc of mesh.services) {
    for (const w of svc.workloads) {
      const problem = cannotRun(w, runtime);
      if (problem) out.push(makeFinding('MESH_RUNTIME_CANNOT_RUN', `the ${runtime} runtime cannot run it: ${problem.reason}`, { hint: problem.hint, ...(svc.location ? { location: svc.location } : {}) }));
    }
  }
  return out;
}

/**
 * Throws MESH_ERR_RUNTIME_UNAVAILABLE when the runtime cannot run some service: said before any
 * instance starts, so a failed start never leaves the others running. `why` says how the
 * runtime was chosen (e.g. no Docker daemon answered for --runtime auto).
 */
export function assertRuntimeCanRun(mesh: MeshDefinition, runtime: RuntimeName, why?: string): void {
  const problems = mesh.services.flatMap((s) => s.workloads.map((w) => cannotRun(w, runtime)).filter((p) => p !== undefined));
  if (problems.length === 0) return;
  throw new MeshError('MESH_ERR_RUNTIME_UNAVAILABLE', [runtime, `${problems.map((p) => p.reason).join('; ')}${why ? ` (${why})` : ''}`], {
    hint: why && runtime === 'process' ? 'start the Docker daemon so --runtime auto picks it, or give the service a `command` in meshbox.yaml' : problems[0]!.hint,
  });
}

/** the runtime `meshbox up --runtime auto` would pick now: docker when a daemon answers */
export async function autoRuntime(): Promise<{ runtime: RuntimeName; why: string }> {
  const endpoint = dockerEndpoint();
  const probe = await probeDaemon(endpoint, 1_500);
  if (probe.ok) return { runtime: 'docker', why: `a Docker daemon answers at ${endpoint.description}` };
  return { runtime: 'process', why: daemonError(probe).message };
}
