/**
 * Envoy's local rate limit (envoy.filters.http.local_ratelimit) as the snapshot carries it to the
 * data plane: the filters an EnvoyFilter inserts into a proxy's HTTP filter chains, and the
 * per-route (`typed_per_filter_config`) settings its route and virtual host patches merge in.
 * Built by ./envoy-filter-patches.ts, enforced by ./local-rate-limit-filter.ts.
 */

/** An Envoy HeaderValueOption with a literal value. */
export interface HeaderToAdd {
  key: string;
  value: string;
  /** append to an existing value (Envoy's default) or overwrite it */
  append: boolean;
}

export interface TokenBucketConfig {
  maxTokens: number;
  tokensPerFill: number;
  fillIntervalMs: number;
}

/** One LocalRateLimit filter config (listener level or per route). */
export interface LocalRateLimitSettings {
  statPrefix: string;
  /** absent: no bucket at this level (a listener-level config that only enables per-route ones) */
  tokenBucket?: TokenBucketConfig;
  /** `filter_enabled` as a percentage; absent: the filter is off (Envoy's default) */
  enabledPercent?: number;
  /** `filter_enforced` as a percentage; absent: over-limit requests pass (shadow mode) */
  enforcedPercent?: number;
  /** status of the local reply (`status.code`, default 429) */
  status: number;
  responseHeadersToAdd: HeaderToAdd[];
  requestHeadersToAddWhenNotEnforced: HeaderToAdd[];
  /** `local_rate_limit_per_downstream_connection`: a bucket per client connection */
  perConnection: boolean;
  /** where it comes from: `EnvoyFilter istio-system/x spec.configPatches[0] (file:line:col)` */
  source: string;
}

/** The HTTP filter chains of a proxy: a sidecar's inbound and outbound listeners, the gateway's. */
export type FilterChainContext = 'inbound' | 'outbound' | 'gateway';

/** Where an HTTP_FILTER patch puts the filter, relative to the chain Istio generates. */
export type FilterPosition = { op: 'first' } | { op: 'before' | 'after'; filter: string };

export interface LocalRateLimitFilterConfig {
  context: FilterChainContext;
  /** the instance's name in the chain: `envoy.filters.http.local_ratelimit`, `...#2` for a second one */
  name: string;
  settings: LocalRateLimitSettings;
  /** `match.listener.portNumber`: only requests to this service port */
  portNumber?: number;
}

export interface ProxyRateLimitConfig {
  /** filter chain per context, in order (Envoy names; the router is implied last) */
  chains: Partial<Record<FilterChainContext, string[]>>;
  filters: LocalRateLimitFilterConfig[];
  /**
   * per-route settings by route key: `inbound`, `outbound:<vhost>:<route>`, `gateway:<vhost>:<route>`
   * (indexes into the proxy's route configuration); the bucket is the route's (or its virtual host's)
   */
  perRoute: Record<string, { settings: LocalRateLimitSettings; scope: string }>;
}
