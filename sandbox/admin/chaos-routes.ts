/**
 * Admin routes for runtime chaos: faults layered on the rule files, and workload actions.
 *   GET    /faults                    every active fault (rule files and runtime)
 *   POST   /faults                    add a runtime fault (JSON FaultSpec); 201 with the record
 *   DELETE /faults                    remove every runtime fault
 *   DELETE /faults/<name>             remove one
 *   GET    /workloads                 the instances
 *   POST   /workloads/<id>/<action>   kill | stop | start | restart | pause | resume | drain | undrain
 *                                     (kill takes {"signal": "SIGTERM"}, default SIGKILL)
 */
import type { WorkloadManager } from '../control/workload-manager.js';
import type { Registry } from '../control/registry.js';
import { MeshError } from '../errors.js';
import type { FaultStore } from '../faults/fault-store.js';
import type { AdminServer } from './admin-server.js';

export const WORKLOAD_ACTIONS = ['kill', 'stop', 'start', 'restart', 'pause', 'resume', 'drain', 'undrain'] as const;
export type WorkloadAction = (typeof WORKLOAD_ACTIONS)[number];

const SIGNALS = new Set(['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2']);

export async function runWorkloadAction(workloads: WorkloadManager, id: string, action: string, body: unknown): Promise<void> {
  switch (action as WorkloadAction) {
    case 'kill': {
      const signal = (body as { signal?: string } | undefined)?.signal ?? 'SIGKILL';
      if (!SIGNALS.has(signal)) throw new MeshError('MESH_ERR_USAGE', [`unknown signal ${signal}`], { hint: `use one of ${[...SIGNALS].join(', ')}` });
      return workloads.kill(id, signal as NodeJS.Signals);
    }
    case 'stop':
      return workloads.stop(id);
    case 'start':
      return workloads.start(id);
    case 'restart':
      return workloads.restart(id);
    case 'pause':
      return workloads.pause(id);
    case 'resume':
      return workloads.resume(id);
    case 'drain':
      return workloads.drain(id, true);
    case 'undrain':
      return workloads.drain(id, false);
    default:
      throw new MeshError('MESH_ERR_USAGE', [`unknown workload action ${action}`], { hint: `use one of ${WORKLOAD_ACTIONS.join(', ')}` });
  }
}

export function installChaosRoutes(admin: AdminServer, deps: { faults: FaultStore; workloads: () => WorkloadManager; registry: Registry }): void {
  admin
    .route('GET', '/faults', 'active faults (rule files and runtime)', () => ({ body: { faults: deps.faults.list() } }))
    .route('POST', '/faults', 'add a runtime fault (JSON FaultSpec, optional ttlMs)', (req) => ({ status: 201, body: deps.faults.add(req.body) }))
    .route('DELETE', '/faults', 'remove every runtime fault', () => ({ body: { removed: deps.faults.clear() } }))
    .route('DELETE', /^\/faults\/([^/]+)$/, 'remove one runtime fault', (req) => {
      const name = decodeURIComponent(req.params[0]!);
      return deps.faults.remove(name) ? { body: { removed: name } } : { status: 404, body: { error: `no runtime fault named ${name}`, status: 404 } };
    })
    .route('GET', '/workloads', 'workload instances', () => ({
      body: {
        instances: deps.registry.all().map((i) => ({ id: i.id, service: i.workload.service, version: i.workload.version, state: i.state, healthy: i.healthy, drained: i.drained, pid: i.pid })),
      },
    }))
    .route('POST', /^\/workloads\/([^/]+)\/([a-z]+)$/, `act on an instance: ${WORKLOAD_ACTIONS.join(' | ')}`, async (req) => {
      const [id, action] = [decodeURIComponent(req.params[0]!), req.params[1]!];
      await runWorkloadAction(deps.workloads(), id, action, req.body);
      return { body: { instance: id, action, done: true } };
    });
}
