/**
 * MB2001 (IST0101): destination hosts that are not services of the mesh;
 * MB2002 (IST0101): destination subsets that no DestinationRule for the host defines;
 * MB2011: routes whose destinations all have weight 0.
 */
import type { AnalysisContext } from './context.js';
import { refName } from './context.js';
import { destinationsOf } from './destinations.js';
import { meshServiceForHost, resolveHost } from '../hosts.js';
import { closestMatch, listWords } from '../did-you-mean.js';
import type { DestinationRule } from '../resource.js';
import { declaredByServiceEntry } from './service-entries.js';

/** DestinationRules (without workloadSelector) whose host covers the fully qualified `fqdn`. */
export function rulesForHost(ctx: AnalysisContext, fqdn: string): DestinationRule[] {
  return ctx.destinationRules.filter((dr) => {
    if (dr.spec.workloadSelector) return false;
    const h = resolveHost(dr.spec.host, dr.metadata.namespace);
    return h === fqdn || (h.startsWith('*') && (h === '*' || fqdn.endsWith(h.slice(1))));
  });
}

export function checkDestinationHosts(ctx: AnalysisContext): void {
  for (const vs of ctx.virtualServices) {
    const ns = vs.metadata.namespace;
    for (const { destination, path, mirror } of destinationsOf(vs)) {
      if (ctx.mesh && !meshServiceForHost(ctx.mesh, destination.host, ns) && !declaredByServiceEntry(ctx, destination.host)) {
        const names = ctx.mesh.services.map((s) => s.name);
        const guess = closestMatch(destination.host.split('.')[0]!, names);
        ctx.report(
          'HOST_NOT_FOUND',
          vs,
          [...path, 'host'],
          mirror
            ? `mirror host \`${destination.host}\` is not a service of this mesh: the rule is applied, and no copy of the traffic is sent`
            : `destination host \`${destination.host}\` is not a service of this mesh: the rule is applied, and requests routed there get 503`,
          guess
            ? `did you mean \`${guess}\`?`
            : names.length
              ? `the mesh has ${listWords(names, 'and')}; add the service to meshbox.yaml, declare the host in a ServiceEntry, or fix the host`
              : 'add the service to meshbox.yaml, or declare the host in a ServiceEntry',
        );
        continue;
      }
      if (destination.subset === undefined) continue;
      const external = declaredByServiceEntry(ctx, destination.host) && !(ctx.mesh && meshServiceForHost(ctx.mesh, destination.host, ns));
      const rules = external
        ? ctx.destinationRules.filter((dr) => !dr.spec.workloadSelector && dr.spec.host.toLowerCase() === destination.host.toLowerCase())
        : rulesForHost(ctx, resolveHost(destination.host, ns));
      const subsets = rules.flatMap((dr) => (dr.spec.subsets ?? []).map((s) => s.name));
      if (subsets.includes(destination.subset)) continue;
      const guess = closestMatch(destination.subset, subsets);
      const defined = rules.length
        ? `${rules.map(refName).join(', ')} define${rules.length === 1 ? 's' : ''} ${subsets.length ? listWords(subsets, 'and') : 'no subsets'}`
        : `no DestinationRule exists for ${destination.host}`;
      ctx.report(
        'SUBSET_NOT_FOUND',
        vs,
        [...path, 'subset'],
        mirror
          ? `subset \`${destination.subset}\` of mirror host \`${destination.host}\` is not defined in any DestinationRule: no copy of the traffic is sent`
          : `subset \`${destination.subset}\` of host \`${destination.host}\` is not defined in any DestinationRule: requests routed there get 503 NC (cluster_not_found)`,
        guess ? `did you mean \`${guess}\`? (${defined})` : `add a subset \`${destination.subset}\` with its labels to a DestinationRule for ${destination.host} (${defined})`,
      );
    }
    (vs.spec.http ?? []).forEach((route, i) => {
      const dests = route.route ?? [];
      if (dests.length < 2) return;
      const total = dests.reduce((sum, d) => sum + (d.weight ?? 0), 0);
      if (total === 0) {
        ctx.report(
          'ZERO_TOTAL_WEIGHT',
          vs,
          ['spec', 'http', i, 'route'],
          `spec.http[${i}].route: every destination has weight 0 (a missing weight counts as 0), so none of them receives traffic`,
          'give the destinations weights that add up to 100, e.g. 80 and 20',
        );
      }
    });
  }
}
