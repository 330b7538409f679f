/**
 * The HTTP filter chain of a sidecar's outbound listener and of the gateway: a registry of HTTP
 * filters keyed by Envoy's filter name, like the inbound one (sandbox/security/filter-chain.ts),
 * run after route selection and before the router, in Istio's order:
 *
 *   envoy.filters.http.fault -> envoy.filters.http.cors -> router
 *
 * (Istio's listener builder appends `Fault, Cors`, then the stats filter, then the router.)
 * A filter lets the request continue, answers it with a local reply, or has already ended it.
 * Filters that change the response (Envoy's encoder half) register a response-header encoder on
 * the RequestContext (`ctx.addEncoder`): it runs on the upstream's answer and on every local reply
 * sent after the filter decoded the request, as Envoy's encoder filters do.
 *
 * The chain of one proxy may carry more filters (EnvoyFilter patches, see sandbox/rate-limit/):
 * then its ProxyConfig.rateLimit.chains names them.
 */
import type { ProxyConfig, RouteEntryConfig } from '../../control/snapshot.js';
import type { CompiledSnapshot } from '../compiled-snapshot.js';
import type { RequestContext } from '../request-context.js';
import { FAULT_FILTER, type FilterStatus } from '../../security/filter-chain.js';

export const CORS_FILTER = 'envoy.filters.http.cors';

/** Istio's order on a sidecar's outbound listener and on a gateway (the router comes after) */
export const OUTBOUND_HTTP_FILTERS: readonly string[] = [FAULT_FILTER, CORS_FILTER];

export interface OutboundFilterContext {
  ctx: RequestContext;
  snap: CompiledSnapshot;
  proxy: ProxyConfig;
  /** the route the request matched */
  route: RouteEntryConfig;
  isGateway: boolean;
  /** the name of the filter instance running (`envoy.filters.http.local_ratelimit#2` for a second one of its kind) */
  instance?: string;
}

export interface OutboundHttpFilter {
  decode(f: OutboundFilterContext): FilterStatus | Promise<FilterStatus>;
}

const registry = new Map<string, OutboundHttpFilter>();

export function registerOutboundHttpFilter(name: string, filter: OutboundHttpFilter): void {
  registry.set(name, filter);
}

/**
 * Runs `names` in order. `continue` when every filter let the request through; `stopped` when
 * one answered it (its local reply is sent here) or ended it itself.
 */
export async function runOutboundHttpFilters(names: readonly string[], f: OutboundFilterContext): Promise<'continue' | 'stopped'> {
  for (const name of names) {
    // `<filter>#<n>`: another instance of a registered filter (an EnvoyFilter inserted it)
    const filter = registry.get(name) ?? registry.get(name.split('#')[0]!);
    if (!filter) throw new Error(`outbound HTTP filter ${name} is not registered`);
    f.instance = name;
    const decided = filter.decode(f);
    // most filters decide at once: no extra turn of the event loop for them
    const status = decided instanceof Promise ? await decided : decided;
    if (status.type === 'continue') continue;
    if (status.type === 'localReply') f.ctx.sendLocalReply(status.reply);
    return 'stopped';
  }
  return 'continue';
}
