/**
 * The inbound HTTP filter chain: a registry of HTTP filters keyed by Envoy's filter name, each
 * with one method, `decode`, that lets the request continue, answers it with a local reply, or
 * has already ended it (a reset, a client that left). The inbound sidecar runs them in Envoy's
 * order, then the router:
 *
 *   envoy.filters.http.jwt_authn -> envoy.filters.http.rbac -> envoy.filters.http.fault -> router
 *
 * New capabilities register a filter here instead of adding branches to the connection manager.
 */
import type { ProxyConfig } from '../control/snapshot.js';
import type { CompiledSnapshot } from '../proxy/compiled-snapshot.js';
import type { LocalReply } from '../proxy/local-reply.js';
import type { RequestContext } from '../proxy/request-context.js';
import type { HeaderMap } from '../proxy/routing/header-ops.js';
import type { ResponseFault } from '../proxy/filters/mesh-fault-filter.js';
import type { JwtIdentity } from './authz-types.js';

export interface FilterState {
  /** set by jwt_authn when a token verified */
  jwt?: JwtIdentity;
  /** set by the fault filter: what to do to the response */
  responseFault?: ResponseFault;
}

export interface InboundFilterContext {
  ctx: RequestContext;
  snap: CompiledSnapshot;
  proxy: ProxyConfig;
  /** the request headers as they will reach the app; filters may change them */
  headers: HeaderMap;
  state: FilterState;
  /** the name of the filter instance running (`envoy.filters.http.local_ratelimit#2` for a second one of its kind) */
  instance?: string;
}

export type FilterStatus = { type: 'continue' } | { type: 'localReply'; reply: LocalReply } | { type: 'stopped' };

export const CONTINUE: FilterStatus = { type: 'continue' };

export interface HttpFilter {
  decode(f: InboundFilterContext): FilterStatus | Promise<FilterStatus>;
}

export const JWT_AUTHN_FILTER = 'envoy.filters.http.jwt_authn';
export const RBAC_FILTER = 'envoy.filters.http.rbac';
export const FAULT_FILTER = 'envoy.filters.http.fault';

/** Envoy's order on an inbound sidecar (the router comes after) */
export const INBOUND_HTTP_FILTERS: readonly string[] = [JWT_AUTHN_FILTER, RBAC_FILTER, FAULT_FILTER];

const registry = new Map<string, HttpFilter>();

export function registerHttpFilter(name: string, filter: HttpFilter): void {
  registry.set(name, filter);
}

export function httpFilter(name: string): HttpFilter | undefined {
  return registry.get(name);
}

/**
 * Runs `names` in order. `continue` when every filter let the request through; `stopped` when
 * one answered it (its local reply is sent here) or ended it itself.
 */
export async function runHttpFilters(names: readonly string[], f: InboundFilterContext): Promise<'continue' | 'stopped'> {
  for (const name of names) {
    // `<filter>#<n>`: another instance of a registered filter (an EnvoyFilter inserted it)
    const filter = registry.get(name) ?? registry.get(name.split('#')[0]!);
    if (!filter) throw new Error(`HTTP filter ${name} is not registered`);
    f.instance = name;
    const status = await filter.decode(f);
    if (status.type === 'continue') continue;
    if (status.type === 'localReply') f.ctx.sendLocalReply(status.reply);
    return 'stopped';
  }
  return 'continue';
}
