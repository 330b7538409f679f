/** `meshbox workload <action> <instance>`: workload chaos on a running sandbox. */
import { adminRequest, expectOk, resolveAdmin } from '../admin-client.js';
import type { Io } from '../output.js';
import { table } from './fault.js';

export async function runWorkloadAction(action: string, instance: string, o: { admin?: string; signal?: string }, io: Io): Promise<number> {
  const admin = resolveAdmin(o.admin);
  const body = o.signal ? { signal: o.signal } : undefined;
  expectOk(await adminRequest(`${admin}/workloads/${encodeURIComponent(instance)}/${action}`, 'POST', body));
  io.out(`${action} ${instance}: done`);
  return 0;
}

export async function runWorkloadList(o: { admin?: string; json?: boolean }, io: Io): Promise<number> {
  const admin = resolveAdmin(o.admin);
  const { instances } = expectOk(await adminRequest(`${admin}/workloads`)) as {
    instances: Array<{ id: string; state: string; healthy: boolean; drained: boolean; pid?: number }>;
  };
  if (o.json) {
    io.out(JSON.stringify(instances, null, 2));
    return 0;
  }
  if (instances.length === 0) {
    io.out('no instances');
    return 0;
  }
  const rows = instances.map((i) => [i.id, i.state, i.healthy ? 'healthy' : 'unhealthy', i.drained ? 'drained' : '-', String(i.pid ?? '-')]);
  for (const line of table(['INSTANCE', 'STATE', 'HEALTH', 'DRAINED', 'PID'], rows)) io.out(line);
  return 0;
}
