/**
 * `-l app=callme-service,version=v2` for the commands that act on workloads and faults, as
 * `kubectl -l` selects pods: the selector is resolved by the sandbox (`/objects/pods`) to the
 * instances it matches; a selector matching nothing is an error (exit 1).
 *
 *   meshbox workload kill -l app=callme-service,version=v2     every selected instance
 *   meshbox fault add -l app=callme-service,version=v2 --abort 503
 *       one fault per service the selection covers: the whole service, or each version (subset)
 *       whose instances are all selected; a selection that splits a version is refused, since a
 *       fault targets a service or a subset, never single instances
 */
import type { MeshObject } from '../../sandbox/admin/describe.js';
import { MeshError } from '../../sandbox/errors.js';
import { resolveAdmin } from '../admin-client.js';
import type { Io } from '../output.js';
import { runFaultAdd, type FaultAddOptions } from './fault.js';
import { fetchObjects } from './get.js';
import { runWorkloadAction } from './workload.js';
import { resolveKind } from '../resource-kinds.js';

const PODS = resolveKind('pods');

export async function selectInstances(admin: string, selector: string): Promise<MeshObject[]> {
  const pods = await fetchObjects(admin, PODS, selector);
  if (pods.length === 0) throw new MeshError('MESH_ERR_NO_MATCH', [`instances for the selector ${selector}`], { hint: '`meshbox get pods -o wide` shows the instances and their labels' });
  return pods;
}

/** the fault targets covering exactly the selected instances */
export async function faultTargets(admin: string, selector: string): Promise<Array<{ service: string; subset?: string }>> {
  const selected = await selectInstances(admin, selector);
  const all = await fetchObjects(admin, PODS);
  const spec = (p: MeshObject): { service: string; version: string } => ({ service: String((p.spec as { service?: string }).service), version: p.metadata.labels?.['version'] ?? '' });
  const ids = new Set(selected.map((p) => p.metadata.name));
  const out: Array<{ service: string; subset?: string }> = [];
  for (const service of [...new Set(selected.map((p) => spec(p).service))].sort()) {
    const members = all.filter((p) => spec(p).service === service);
    if (members.every((p) => ids.has(p.metadata.name))) {
      out.push({ service });
      continue;
    }
    for (const version of [...new Set(members.filter((p) => ids.has(p.metadata.name)).map((p) => spec(p).version))].sort()) {
      const ofVersion = members.filter((p) => spec(p).version === version);
      if (!ofVersion.every((p) => ids.has(p.metadata.name))) {
        throw new MeshError('MESH_ERR_USAGE', [`the selector ${selector} selects only some instances of ${service} ${version}`], {
          hint: 'a fault targets a service or a version (subset); select whole versions, e.g. -l app=callme-service,version=v2',
        });
      }
      out.push({ service, subset: version });
    }
  }
  return out;
}

export async function runWorkloadActionSelected(action: string, instance: string | undefined, o: { admin?: string; signal?: string; selector?: string }, io: Io): Promise<number> {
  if (instance && o.selector) throw new MeshError('MESH_ERR_USAGE', ['give an instance or -l, not both']);
  if (!o.selector) {
    if (!instance) throw new MeshError('MESH_ERR_USAGE', ['name the instance, or select instances with -l'], { hint: '`meshbox workload ls` lists the instances; e.g. -l app=callme-service,version=v2' });
    return runWorkloadAction(action, instance, o, io);
  }
  const admin = resolveAdmin(o.admin);
  for (const p of await selectInstances(admin, o.selector)) await runWorkloadAction(action, p.metadata.name, { ...o, admin }, io);
  return 0;
}

export async function runFaultAddSelected(service: string | undefined, o: FaultAddOptions & { selector?: string }, io: Io): Promise<number> {
  if (service && o.selector) throw new MeshError('MESH_ERR_USAGE', ['give a service or -l, not both']);
  if (!o.selector) {
    if (!service) throw new MeshError('MESH_ERR_USAGE', ['name the service, or select instances with -l'], { hint: 'e.g. `meshbox fault add callme-service --abort 503` or -l app=callme-service,version=v2' });
    return runFaultAdd(service, o, io);
  }
  if (o.subset) throw new MeshError('MESH_ERR_USAGE', ['-l selects the versions; --subset cannot be given with it']);
  const admin = resolveAdmin(o.admin);
  const targets = await faultTargets(admin, o.selector);
  for (const t of targets) {
    const name = o.name && targets.length > 1 ? `${o.name}-${t.service}${t.subset ? `-${t.subset}` : ''}` : o.name;
    await runFaultAdd(t.service, { ...o, admin, subset: t.subset, name }, io);
  }
  return 0;
}
