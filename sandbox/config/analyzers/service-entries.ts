/**
 * ServiceEntry hosts for the analyzers: a destination or DestinationRule host a ServiceEntry
 * declares is known (egress), not MB2001/MB2004; and MB2017: a host that an earlier
 * ServiceEntry (in file order) or a mesh service already declares: that one is used.
 */
import type { AnalysisContext } from './context.js';
import { refName } from './context.js';
import type { ServiceEntrySpec } from '../istio-types.js';
import { hostCovers, serviceFqdn } from '../hosts.js';

/** every name of a mesh service a ServiceEntry host could collide with (the snapshot compiler's aliases) */
function meshAliases(ctx: AnalysisContext): Set<string> {
  const ns = ctx.mesh?.namespace ?? 'default';
  return new Set((ctx.mesh?.services ?? []).flatMap((s) => [s.name, `${s.name}.${ns}`, `${s.name}.${ns}.svc`, serviceFqdn(s.name, ns)]));
}

/** the hosts the ServiceEntries declare (lowercased, wildcards included) */
export function serviceEntryHosts(ctx: AnalysisContext): string[] {
  return ctx.resources.filter((r) => r.kind === 'ServiceEntry').flatMap((r) => ((r.spec as ServiceEntrySpec).hosts ?? []).map((h) => h.toLowerCase()));
}

/** true when a ServiceEntry declares `host` (exactly, or by a wildcard) */
export function declaredByServiceEntry(ctx: AnalysisContext, host: string): boolean {
  const h = host.toLowerCase();
  return serviceEntryHosts(ctx).some((p) => p === h || (p.startsWith('*') && hostCovers(p, h)));
}

export function checkServiceEntries(ctx: AnalysisContext): void {
  const first = new Map<string, string>();
  for (const se of ctx.resources.filter((r) => r.kind === 'ServiceEntry')) {
    ((se.spec as ServiceEntrySpec).hosts ?? []).forEach((raw, i) => {
      const host = raw.toLowerCase();
      const earlier = first.get(host);
      if (earlier) {
        ctx.report('CONFLICTING_SERVICE_ENTRIES', se, ['spec', 'hosts', i], `host \`${raw}\` is also declared by ${earlier}: that one is used, this declaration is not`, 'declare each host in one ServiceEntry, with all of its ports and endpoints');
        return;
      }
      first.set(host, refName(se));
      // a ServiceEntry cannot take over a mesh service's name (only its exact form counts)
      if (ctx.mesh && meshAliases(ctx).has(host)) {
        ctx.report('CONFLICTING_SERVICE_ENTRIES', se, ['spec', 'hosts', i], `host \`${raw}\` is a service of this mesh: the mesh service is used, this declaration is not`, 'give the external service its own host name');
      }
    });
  }
}
