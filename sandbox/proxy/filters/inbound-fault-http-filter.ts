/**
 * envoy.filters.http.fault on the inbound sidecar: meshbox's HTTP faults (Fault kind) aimed at
 * this instance, as a filter of the inbound chain (sandbox/security/filter-chain.ts): a delay,
 * then an abort (local reply), a request reset, or a response fault handed to the router.
 */
import { CONTINUE, FAULT_FILTER, registerHttpFilter, type FilterStatus, type HttpFilter, type InboundFilterContext } from '../../security/filter-chain.js';
import { decideInboundFaults } from './mesh-fault-filter.js';

export class InboundFaultFilter implements HttpFilter {
  async decode(f: InboundFilterContext): Promise<FilterStatus> {
    const { ctx } = f;
    const faults = decideInboundFaults(f.snap.httpFaults.get(f.proxy.id), { method: ctx.req.method ?? 'GET', path: ctx.path, headers: ctx.req.headers }, ctx.source.workload, ctx.rng);
    if (!faults) return CONTINUE;
    ctx.why.push(...faults.why);
    if (faults.delayMs > 0) {
      ctx.flags.add('DI');
      await new Promise((r) => setTimeout(r, faults.delayMs));
      if (ctx.res.destroyed) {
        ctx.downstreamClosed = true;
        return { type: 'stopped' };
      }
    }
    // the fault that fired, for this hop's span (sandbox/telemetry/tracing)
    const fired = [faults.delayMs > 0 ? `delay ${faults.delayMs}ms` : '', faults.abort ? `abort ${faults.abort.status}` : '', faults.resetRequest ? 'reset' : ''].filter(Boolean).join(', ');
    if (fired) ctx.fault = fired;
    if (faults.abort) return { type: 'localReply', reply: faults.abort };
    if (faults.resetRequest) {
      ctx.flags.add('FI');
      ctx.details = 'fault_filter_reset';
      ctx.resetDownstream('rst');
      return { type: 'stopped' };
    }
    if (faults.response.reset || faults.response.slowBodyBps) ctx.flags.add('FI');
    f.state.responseFault = faults.response;
    return CONTINUE;
  }
}

registerHttpFilter(FAULT_FILTER, new InboundFaultFilter());
