/**
 * envoy.filters.http.fault on a sidecar's outbound listener and the gateway: the route's
 * VirtualService `fault` (./fault-filter.ts), before the router, so an injected abort is a local
 * reply that is never retried. A route in meshbox's fault-as-upstream mode leaves the fault to
 * the router (applied per attempt).
 */
import { parseDuration } from '../../config/duration.js';
import { CONTINUE, FAULT_FILTER, type FilterStatus } from '../../security/filter-chain.js';
import { decideFault } from './fault-filter.js';
import { registerOutboundHttpFilter, type OutboundFilterContext, type OutboundHttpFilter } from './outbound-filter-chain.js';

export class OutboundFaultFilter implements OutboundHttpFilter {
  decode(f: OutboundFilterContext): FilterStatus | Promise<FilterStatus> {
    const { route } = f;
    if (!route.fault || route.faultMode === 'upstream') return CONTINUE;
    return this.inject(f, route.fault);
  }

  private async inject(f: OutboundFilterContext, fault: NonNullable<OutboundFilterContext['route']['fault']>): Promise<FilterStatus> {
    const { ctx } = f;
    const decision = decideFault(fault, ctx.rng, parseDuration);
    ctx.why.push(...decision.why);
    const fired = [decision.delayMs > 0 ? `delay ${decision.delayMs}ms` : '', decision.abort ? `abort ${decision.abort.status}` : ''].filter(Boolean).join(', ');
    if (fired) ctx.fault = fired;
    if (decision.delayMs > 0) {
      ctx.flags.add('DI');
      await new Promise((r) => setTimeout(r, decision.delayMs));
      if (ctx.res.destroyed) {
        ctx.downstreamClosed = true;
        return { type: 'stopped' };
      }
    }
    if (decision.abort) return { type: 'localReply', reply: decision.abort };
    return CONTINUE;
  }
}

registerOutboundHttpFilter(FAULT_FILTER, new OutboundFaultFilter());
