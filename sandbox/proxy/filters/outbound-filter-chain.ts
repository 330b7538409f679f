/**
 * The HTTP filter chain of a sidecar's outbound listener and of the gateway: a registry of HTTP
 * filters keyed by Envoy's filter name, like the inbound one (sandbox/security/filter-chain.ts),
 * run after route selection and before the router, in Istio's order:
 *
 *   sidecar outbound: envoy.filters.http.fault -> envoy.filters.http.cors -> router
 *   gateway:          envoy.filters.http.jwt_authn -> envoy.filters.http.rbac -> fault -> cors -> router
 *
 * (Istio's listener builder, buildHTTPConnectionManager: metadata exchange, then the authn
 * filters (jwt_authn, istio_authn) and the authz filter (rbac), which it builds for inbound
 * sidecars and gateways only, then `Fault, Cors`, the stats filter and the router.) At the
 * gateway jwt_authn and rbac are the inbound filters themselves (sandbox/security/gateway-filters.ts).
 * The filters run whether or not a route matched (`route` is then undefined): as in Envoy, a
 * request without a route gets the router's 404 NR only after them.
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
import { FAULT_FILTER, JWT_AUTHN_FILTER, RBAC_FILTER, type FilterState, type FilterStatus } from '../../security/filter-chain.js';

export const CORS_FILTER = 'envoy.filters.http.cors';

/** Istio's order on a sidecar's outbound listener (the router comes after) */
export const OUTBOUND_HTTP_FILTERS: readonly string[] = [FAULT_FILTER, CORS_FILTER];

/** Istio's order on a gateway (the router comes after) */
export const GATEWAY_HTTP_FILTERS: readonly string[] = [JWT_AUTHN_FILTER, RBAC_FILTER, FAULT_FILTER, CORS_FILTER];

export interface OutboundFilterContext {
  ctx: RequestContext;
  snap: CompiledSnapshot;
  proxy: ProxyConfig;
  /** the route the request matched; undefined when none did (the router answers 404 NR after the filters) */
  route: RouteEntryConfig | undefined;
  isGateway: boolean;
  /** what one filter leaves for the next (jwt_authn's verified token for rbac) */
  state: FilterState;
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
