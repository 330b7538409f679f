/**
 * EnvoyFilter local rate limits -> each proxy's ProxyRateLimitConfig (snapshot compiler step):
 *
 * - which EnvoyFilters apply to a proxy: those in the root namespace (`istio-system`) or the
 *   proxy's own, whose `workloadSelector.labels` the proxy carries (none: every proxy there);
 *   in order of `priority`, then of the files (Istio: creation time);
 * - each HTTP_FILTER patch inserts a local_ratelimit filter into the chain Istio generates for
 *   the context (below), relative to the filter it names; the chain meshbox runs keeps the
 *   filters it has (jwt_authn, rbac, fault, cors) and the inserted ones, in that order;
 * - each HTTP_ROUTE / VIRTUAL_HOST patch gives the routes it matches their own settings (and
 *   bucket): on an inbound sidecar the route of virtual host `inbound|http|<port>`; outbound
 *   and at the gateway the routes of the proxy's route configuration (virtual hosts
 *   `<fqdn>:<port>`, `<host>:80`). A route's own settings win over its virtual host's; a later
 *   patch for the same route wins over an earlier one (they merge in order).
 */
import type { LoadedResource } from '../config/resource.js';
import type { ProxyConfig, RouteConfig } from '../control/snapshot.js';
import { INBOUND_HTTP_FILTERS } from '../security/filter-chain.js';
import { OUTBOUND_HTTP_FILTERS } from '../proxy/filters/outbound-filter-chain.js';
import { LOCAL_RATE_LIMIT_FILTER } from './local-rate-limit-config.js';
import { interpretEnvoyFilter, type FilterPatch, type InterpretedEnvoyFilter, type RoutePatch } from './envoy-filter-patches.js';
import type { FilterChainContext, LocalRateLimitFilterConfig, ProxyRateLimitConfig } from './rate-limit-types.js';

export const ROOT_NAMESPACE = 'istio-system';

/** the HTTP filters Istio generates per context, in order (meshbox runs some of them) */
const ISTIO_CHAINS: Record<FilterChainContext, readonly string[]> = {
  inbound: ['istio.metadata_exchange', 'envoy.filters.http.jwt_authn', 'istio_authn', 'envoy.filters.http.rbac', 'envoy.filters.http.grpc_stats', 'envoy.filters.http.fault', 'envoy.filters.http.cors', 'istio.stats', 'envoy.filters.http.router'],
  outbound: ['istio.metadata_exchange', 'istio.alpn', 'envoy.filters.http.grpc_stats', 'envoy.filters.http.fault', 'envoy.filters.http.cors', 'istio.stats', 'envoy.filters.http.router'],
  gateway: ['istio.metadata_exchange', 'envoy.filters.http.grpc_stats', 'envoy.filters.http.fault', 'envoy.filters.http.cors', 'istio.stats', 'envoy.filters.http.router'],
};

const RUN: Record<FilterChainContext, readonly string[]> = {
  inbound: INBOUND_HTTP_FILTERS,
  outbound: OUTBOUND_HTTP_FILTERS,
  gateway: OUTBOUND_HTTP_FILTERS,
};

/** the names of a filter Istio generates in every chain (so a patch relative to it is placed) */
export function knownFilterNames(): Set<string> {
  return new Set(Object.values(ISTIO_CHAINS).flat());
}

type EF = LoadedResource;

function sourceOf(ef: EF) {
  return (path: Array<string | number>): string => {
    const l = ef.locate(path);
    const at = path.slice(2).map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');
    return `EnvoyFilter ${ef.metadata.namespace}/${ef.metadata.name} spec.configPatches${at} (${l.file}:${l.line}:${l.col})`;
  };
}

function selects(ef: EF, proxy: ProxyConfig): boolean {
  const ns = ef.metadata.namespace;
  if (ns !== ROOT_NAMESPACE && ns !== proxy.meta.namespace) return false;
  const spec = ef.spec as { workloadSelector?: { labels?: Record<string, string> } } | undefined;
  return Object.entries(spec?.workloadSelector?.labels ?? {}).every(([k, v]) => proxy.meta.labels[k] === v);
}

export interface RateLimitCompileInput {
  envoyFilters: readonly EF[];
  proxies: ProxyConfig[];
  /** the service port of a sidecar's workload */
  servicePortOf(proxyId: string): number | undefined;
  /** the route configuration of a proxy's outbound listener or of the gateway */
  routeConfigOf(proxyId: string, context: 'outbound' | 'gateway'): RouteConfig | undefined;
}

/** Sets `rateLimit` on the proxies the EnvoyFilters give a local rate limit. */
export function compileRateLimits(input: RateLimitCompileInput): void {
  if (input.envoyFilters.length === 0) return;
  const interpreted = new Map<EF, InterpretedEnvoyFilter>();
  const ordered = input.envoyFilters
    .map((ef, order) => ({ ef, order, priority: Number((ef.spec as { priority?: number } | undefined)?.priority ?? 0) }))
    .sort((a, b) => a.priority - b.priority || a.order - b.order)
    .map((x) => x.ef);
  for (const ef of ordered) interpreted.set(ef, interpretEnvoyFilter(ef.spec, sourceOf(ef)));
  for (const proxy of input.proxies) {
    const mine = ordered.filter((ef) => selects(ef, proxy));
    if (mine.length === 0) continue;
    const contexts: FilterChainContext[] = proxy.kind === 'gateway' ? ['gateway'] : ['inbound', 'outbound'];
    const filterPatches = mine.flatMap((ef) => interpreted.get(ef)!.filterPatches);
    const routePatches = mine.flatMap((ef) => interpreted.get(ef)!.routePatches);
    const config: ProxyRateLimitConfig = { chains: {}, filters: [], perRoute: {} };
    for (const context of contexts) {
      const patches = filterPatches.filter((p) => p.contexts.includes(context));
      if (patches.length > 0) placeFilters(config, context, patches);
      applyRoutePatches(config, context, routePatches.filter((p) => p.contexts.includes(context)), proxy, input);
    }
    if (config.filters.length > 0 || Object.keys(config.perRoute).length > 0) proxy.rateLimit = config;
  }
}

function placeFilters(config: ProxyRateLimitConfig, context: FilterChainContext, patches: FilterPatch[]): void {
  const chain = [...ISTIO_CHAINS[context]];
  const added: string[] = [];
  for (const p of patches) {
    const name = added.length === 0 ? LOCAL_RATE_LIMIT_FILTER : `${LOCAL_RATE_LIMIT_FILTER}#${added.length + 1}`;
    let at: number;
    if (p.position.op === 'first') at = 0;
    else {
      const target = p.position.filter;
      // a subFilter the chain does not have: Istio inserts nothing
      const i = chain.findIndex((n) => n === target || n.split('#')[0] === target);
      if (i < 0) continue;
      at = p.position.op === 'before' ? i : i + 1;
      if (at >= chain.length) continue;
    }
    chain.splice(at, 0, name);
    added.push(name);
    const filter: LocalRateLimitFilterConfig = { context, name, settings: p.settings, ...(p.portNumber ? { portNumber: p.portNumber } : {}) };
    config.filters.push(filter);
  }
  if (added.length === 0) return;
  config.chains[context] = chain.filter((n) => RUN[context].includes(n) || added.includes(n));
}

function actionOf(type: string): RoutePatch['action'] {
  return type === 'redirect' ? 'REDIRECT' : type === 'directResponse' ? 'DIRECT_RESPONSE' : 'ROUTE';
}

function vhostPort(name: string): number | undefined {
  const m = /:(\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

function applyRoutePatches(config: ProxyRateLimitConfig, context: FilterChainContext, patches: RoutePatch[], proxy: ProxyConfig, input: RateLimitCompileInput): void {
  if (patches.length === 0) return;
  // virtual host level first, so a route's own settings win whatever the patch order
  const ordered = [...patches.filter((p) => p.level === 'vhost'), ...patches.filter((p) => p.level === 'route')];
  if (context === 'inbound') {
    const port = input.servicePortOf(proxy.id);
    const vhost = `inbound|http|${port ?? 80}`;
    for (const p of ordered) {
      if (p.vhostName !== undefined && p.vhostName !== vhost) continue;
      if (p.portNumber !== undefined && p.portNumber !== port) continue;
      if (p.routeName !== undefined && p.routeName !== 'default') continue;
      if (p.action !== undefined && p.action !== 'ANY' && p.action !== 'ROUTE') continue;
      config.perRoute['inbound'] = { settings: p.settings, scope: p.level === 'route' ? `route:${vhost}:0` : `vhost:${vhost}` };
    }
    return;
  }
  const rc = input.routeConfigOf(proxy.id, context);
  if (!rc) return;
  rc.virtualHosts.forEach((vh, i) => {
    vh.routes.forEach((route, j) => {
      for (const p of ordered) {
        if (p.vhostName !== undefined && p.vhostName !== vh.name) continue;
        if (p.portNumber !== undefined && p.portNumber !== (context === 'gateway' ? 80 : vhostPort(vh.name))) continue;
        if (p.routeName !== undefined && p.routeName !== route.name) continue;
        if (p.action !== undefined && p.action !== 'ANY' && p.action !== actionOf(route.action.type)) continue;
        config.perRoute[`${context}:${i}:${j}`] = { settings: p.settings, scope: p.level === 'route' ? `route:${vh.name}:${j}` : `vhost:${vh.name}` };
      }
    });
  });
}
