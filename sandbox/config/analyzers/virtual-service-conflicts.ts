/**
 * MB2009 (IST0109): two VirtualServices for the same host on the same gateway (or `mesh`).
 * The first by load order (file name, then document order) wins, as the oldest does in Istio.
 */
import type { AnalysisContext } from './context.js';
import { refName } from './context.js';
import { gatewayKey, resolveHost } from '../hosts.js';
import type { VirtualService } from '../resource.js';

export function checkVirtualServiceConflicts(ctx: AnalysisContext): void {
  const owners = new Map<string, VirtualService>();
  for (const vs of ctx.virtualServices) {
    const ns = vs.metadata.namespace;
    const hosts = vs.spec.hosts ?? [];
    if (hosts.length === 0) continue;
    const gateways = vs.spec.gateways?.length ? vs.spec.gateways : ['mesh'];
    for (const gw of gateways) {
      const gwKey = gw === 'mesh' ? 'mesh' : gatewayKey(gw, ns);
      hosts.forEach((host, i) => {
        const hostKey = gw === 'mesh' ? resolveHost(host, ns) : host.toLowerCase();
        const key = `${gwKey}|${hostKey}`;
        const owner = owners.get(key);
        if (!owner) {
          owners.set(key, vs);
          return;
        }
        if (owner === vs) return;
        const where = gwKey === 'mesh' ? 'the mesh (sidecars)' : `gateway ${gwKey}`;
        ctx.report(
          'CONFLICTING_VIRTUAL_SERVICES',
          vs,
          ['spec', 'hosts', i],
          `${refName(vs)} and ${refName(owner)} both define host \`${host}\` for ${where}: only ${refName(owner)} applies (the first by file name, then document order); this one is ignored for that host`,
          `merge the routes into ${refName(owner)}, or remove one of them`,
        );
      });
    }
  }
}
