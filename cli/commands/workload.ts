/** `meshbox workload <action> <instance>`: workload chaos on a running sandbox. */
import { adminRequest, expectOk, resolveAdmin } from '../admin-client.js';
import type { Io } from '../output.js';

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
  if (o.json) io.out(JSON.stringify(instances, null, 2));
  else for (const i of instances) io.out(`${i.id.padEnd(28)} ${i.state.padEnd(9)} ${i.healthy ? 'healthy  ' : 'unhealthy'} ${i.drained ? 'drained ' : ''}pid ${i.pid ?? '-'}`);
  return 0;
}
