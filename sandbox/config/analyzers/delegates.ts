/**
 * MB2014 (IST0101): `delegate` naming a VirtualService that does not exist or is not a
 * delegate (it has hosts); MB2013: delegate VirtualServices (no hosts) nobody delegates to.
 */
import type { AnalysisContext } from './context.js';
import { refName } from './context.js';

export function checkDelegates(ctx: AnalysisContext): void {
  const byKey = new Map(ctx.virtualServices.map((vs) => [`${vs.metadata.namespace}/${vs.metadata.name}`, vs]));
  const used = new Set<string>();
  for (const vs of ctx.virtualServices) {
    (vs.spec.http ?? []).forEach((route, i) => {
      if (!route.delegate?.name) return;
      const key = `${route.delegate.namespace ?? vs.metadata.namespace}/${route.delegate.name}`;
      used.add(key);
      const target = byKey.get(key);
      if (!target) {
        ctx.report('DELEGATE_NOT_FOUND', vs, ['spec', 'http', i, 'delegate', 'name'], `delegate VirtualService ${key} not found: requests matching spec.http[${i}] get 404 NR`, 'define it (a VirtualService without hosts), or fix the name');
      } else if ((target.spec.hosts ?? []).length > 0) {
        ctx.report('DELEGATE_NOT_FOUND', vs, ['spec', 'http', i, 'delegate', 'name'], `${refName(target)} has hosts, so it cannot be a delegate: requests matching spec.http[${i}] get 404 NR`, `remove \`hosts\` from ${refName(target)}, or route here directly`);
      }
    });
  }
  for (const vs of ctx.virtualServices) {
    if ((vs.spec.hosts ?? []).length > 0 || used.has(`${vs.metadata.namespace}/${vs.metadata.name}`)) continue;
    ctx.report('DELEGATE_UNUSED', vs, ['spec'], `${refName(vs)} has no hosts, so it is a delegate, but no VirtualService delegates to it: it never applies`, 'add `hosts:` to apply it on its own, or reference it with `delegate: {name: ...}` from a root VirtualService');
  }
}
