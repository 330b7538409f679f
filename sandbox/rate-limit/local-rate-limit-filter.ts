/**
 * envoy.filters.http.local_ratelimit, where an EnvoyFilter put it (an inbound sidecar, an
 * outbound sidecar, the gateway), as Envoy's local_ratelimit.cc decides:
 *
 *   settings = the route's typed_per_filter_config (its own, else its virtual host's), else the
 *              filter's own config
 *   not enabled (filter_enabled absent or not sampled)      -> continue
 *   a token taken from the bucket                           -> continue
 *   over the limit, not enforced (filter_enforced)          -> continue, with
 *                                                              request_headers_to_add_when_not_enforced
 *   over the limit, enforced                                -> local reply: 429 (status.code),
 *        body `local_rate_limited`, details `local_rate_limited`, flag RL, response_headers_to_add
 *
 * Buckets are per proxy and per config place (./bucket-store.ts), or per client connection with
 * `local_rate_limit_per_downstream_connection`. Each step is in the request's `why`.
 */
import type { Socket } from 'node:net';
import type { MeshSnapshot, ProxyConfig } from '../control/snapshot.js';
import type { LocalReply } from '../proxy/local-reply.js';
import type { RequestContext } from '../proxy/request-context.js';
import type { HeaderMap } from '../proxy/routing/header-ops.js';
import { registerOutboundHttpFilter, type OutboundFilterContext } from '../proxy/filters/outbound-filter-chain.js';
import { CONTINUE, registerHttpFilter, type FilterStatus, type InboundFilterContext } from '../security/filter-chain.js';
import { bucketFor } from './bucket-store.js';
import { LOCAL_RATE_LIMIT_FILTER } from './local-rate-limit-config.js';
import type { FilterChainContext, HeaderToAdd, LocalRateLimitSettings, TokenBucketConfig } from './rate-limit-types.js';

export const LOCAL_RATE_LIMITED_BODY = 'local_rate_limited';

const filterScope = (context: FilterChainContext, instance: string): string => `filter:${context}:${instance}`;

/** every bucket the snapshot's configs use (for retainBuckets) */
export function liveBuckets(snapshot: MeshSnapshot): Array<{ key: string; config: TokenBucketConfig }> {
  const out: Array<{ key: string; config: TokenBucketConfig }> = [];
  for (const p of snapshot.proxies) {
    for (const f of p.rateLimit?.filters ?? []) if (f.settings.tokenBucket) out.push({ key: `${p.id}|${filterScope(f.context, f.name)}`, config: f.settings.tokenBucket });
    for (const r of Object.values(p.rateLimit?.perRoute ?? {})) if (r.settings.tokenBucket) out.push({ key: `${p.id}|${r.scope}`, config: r.settings.tokenBucket });
  }
  return out;
}

function addHeaders(headers: HeaderMap, adds: readonly HeaderToAdd[]): void {
  for (const h of adds) {
    const existing = headers[h.key];
    headers[h.key] = h.append && existing !== undefined ? `${Array.isArray(existing) ? existing.join(',') : existing},${h.value}` : h.value;
  }
}

function sampled(ctx: RequestContext, percent: number | undefined): boolean {
  if (percent === undefined || percent <= 0) return false;
  return percent >= 100 || ctx.rng.percent(percent);
}

interface Decision {
  context: FilterChainContext;
  instance: string;
  /** `inbound` or `<context>:<vhost>:<route>` */
  routeKey: string | undefined;
  servicePort: number | undefined;
  /** where upstream request headers go when the limit is not enforced */
  requestHeaders: HeaderMap;
}

function decide(ctx: RequestContext, proxy: ProxyConfig, d: Decision): FilterStatus {
  const rl = proxy.rateLimit;
  const filter = rl?.filters.find((x) => x.context === d.context && x.name === d.instance);
  if (!rl || !filter) return CONTINUE;
  if (filter.portNumber !== undefined && filter.portNumber !== d.servicePort) return CONTINUE;
  const perRoute = d.routeKey !== undefined ? rl.perRoute[d.routeKey] : undefined;
  const settings: LocalRateLimitSettings = perRoute?.settings ?? filter.settings;
  const scope = perRoute ? perRoute.scope : filterScope(d.context, d.instance);
  const from = perRoute ? `per-route config of ${settings.source}` : settings.source;
  if (!sampled(ctx, settings.enabledPercent)) {
    if (perRoute || settings.tokenBucket) ctx.why.push(`local rate limit: not enabled for this request (filter_enabled ${settings.enabledPercent ?? 'unset'}; ${from})`);
    return CONTINUE;
  }
  const bucket = settings.tokenBucket
    ? bucketFor(`${proxy.id}|${scope}`, settings.tokenBucket, settings.perConnection ? (ctx.req.socket as Socket) : undefined)
    : undefined;
  const tb = settings.tokenBucket;
  const what = tb ? `${tb.maxTokens} tokens, ${tb.tokensPerFill} per ${tb.fillIntervalMs}ms${settings.perConnection ? ', per connection' : ''}` : 'no token bucket';
  if (bucket?.consume()) {
    ctx.why.push(`local rate limit: token taken (${bucket.remaining()} left of ${what}; ${from})`);
    return CONTINUE;
  }
  if (!sampled(ctx, settings.enforcedPercent)) {
    addHeaders(d.requestHeaders, settings.requestHeadersToAddWhenNotEnforced);
    ctx.why.push(`local rate limit: over the limit (${what}) but not enforced (filter_enforced ${settings.enforcedPercent ?? 'unset'}): forwarded; ${from}`);
    return CONTINUE;
  }
  const headers: HeaderMap = {};
  addHeaders(headers, settings.responseHeadersToAdd);
  ctx.why.push(`local rate limit: no token left (${what}${bucket ? `; next fill in ${bucket.nextFillInMs()}ms` : ''}): ${settings.status} local_rate_limited; ${from}`);
  const reply: LocalReply = {
    status: settings.status,
    body: LOCAL_RATE_LIMITED_BODY,
    flag: 'RL',
    details: 'local_rate_limited',
    headers: headers as Record<string, string>,
  };
  return { type: 'localReply', reply };
}

registerHttpFilter(LOCAL_RATE_LIMIT_FILTER, {
  decode: (f: InboundFilterContext) =>
    decide(f.ctx, f.proxy, { context: 'inbound', instance: f.instance ?? LOCAL_RATE_LIMIT_FILTER, routeKey: 'inbound', servicePort: f.ctx.listener.servicePort, requestHeaders: f.headers }),
});

registerOutboundHttpFilter(LOCAL_RATE_LIMIT_FILTER, {
  decode: (f: OutboundFilterContext) => {
    const context: FilterChainContext = f.isGateway ? 'gateway' : 'outbound';
    const r = f.ctx.route;
    const routeKey = r && r.virtualHost >= 0 && r.route >= 0 ? `${context}:${r.virtualHost}:${r.route}` : undefined;
    const requestHeaders: HeaderMap = {};
    const status = decide(f.ctx, f.proxy, { context, instance: f.instance ?? LOCAL_RATE_LIMIT_FILTER, routeKey, servicePort: r?.port, requestHeaders });
    if (Object.keys(requestHeaders).length > 0) f.ctx.upstreamRequestHeaders = { ...f.ctx.upstreamRequestHeaders, ...requestHeaders };
    return status;
  },
});
