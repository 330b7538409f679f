/**
 * The `typed_config` of envoy.filters.http.local_ratelimit as an EnvoyFilter writes it (a
 * `udpa.type.v1.TypedStruct` / `xds.type.v3.TypedStruct` with `type_url` and `value`, or the
 * message itself with `@type`), read the way Envoy reads it (field names in snake_case or
 * lowerCamelCase, as protobuf JSON allows):
 *
 * - `token_bucket` {max_tokens > 0, tokens_per_fill (default 1) > 0, fill_interval >= 50ms};
 *   required on a per-route config (Envoy: "local rate limit token bucket must be set for per
 *   filter configs");
 * - `filter_enabled` / `filter_enforced` (RuntimeFractionalPercent: their `default_value`);
 *   absent means off (not enabled; enabled but not enforced = shadow mode);
 * - `status` (a code below 400 becomes 429), `response_headers_to_add`,
 *   `request_headers_to_add_when_not_enforced`, `local_rate_limit_per_downstream_connection`,
 *   `stat_prefix`.
 *
 * Fields meshbox does not apply (descriptors, rate_limits, ...) are returned as such, with their
 * path; what Envoy would reject (NACK) is a problem, and the config is not used.
 */
import { parseDuration } from '../config/duration.js';
import type { HeaderToAdd, LocalRateLimitSettings, TokenBucketConfig } from './rate-limit-types.js';

export const LOCAL_RATE_LIMIT_FILTER = 'envoy.filters.http.local_ratelimit';
export const LOCAL_RATE_LIMIT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const TYPED_STRUCTS = ['type.googleapis.com/udpa.type.v1.TypedStruct', 'type.googleapis.com/xds.type.v3.TypedStruct'];

export type Path = Array<string | number>;

export interface ConfigIssue {
  /** path relative to the object given */
  path: Path;
  message: string;
}

export interface ParsedLocalRateLimit {
  settings?: LocalRateLimitSettings;
  /** fields meshbox accepts but does not apply */
  notApplied: ConfigIssue[];
  /** what Envoy would reject: the config is not applied at all */
  problems: ConfigIssue[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const camel = (snake: string): string => snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** a field by its proto name, in snake_case or lowerCamelCase */
function get(o: Obj, name: string): { key: string; value: unknown } | undefined {
  if (name in o) return { key: name, value: o[name] };
  const c = camel(name);
  if (c in o) return { key: c, value: o[c] };
  return undefined;
}

const KNOWN = new Set([
  'stat_prefix', 'status', 'token_bucket', 'filter_enabled', 'filter_enforced', 'request_headers_to_add_when_not_enforced',
  'response_headers_to_add', 'local_rate_limit_per_downstream_connection', 'descriptors', 'stage', 'enable_x_ratelimit_headers',
  'vh_rate_limits', 'always_consume_default_token_bucket', 'rate_limited_as_resource_exhausted', 'local_cluster_rate_limit',
  'rate_limits', 'max_dynamic_descriptors',
]);
const NOT_APPLIED: Record<string, string> = {
  descriptors: 'descriptor buckets are not applied: every request takes from the default token bucket',
  rate_limits: 'rate limit actions are not applied: every request takes from the default token bucket',
  vh_rate_limits: 'virtual host rate limit actions are not applied',
  local_cluster_rate_limit: 'the bucket is not shared out over the local cluster: each proxy has its whole bucket',
  enable_x_ratelimit_headers: 'no x-ratelimit-* headers are added',
  always_consume_default_token_bucket: 'every request takes from the default token bucket',
  max_dynamic_descriptors: 'descriptor buckets are not applied',
  rate_limited_as_resource_exhausted: 'a gRPC request gets the 429 mapped to UNAVAILABLE, not RESOURCE_EXHAUSTED',
  stage: 'the stage only selects rate limit actions, which are not applied',
};

/** The LocalRateLimit message inside a typed_config (TypedStruct or direct), or why not. */
export function localRateLimitMessage(typed: unknown): { message?: Obj; path: Path; problem?: string } {
  if (!isObj(typed)) return { path: [], problem: 'typed_config is not a mapping' };
  const type = typed['@type'];
  if (typeof type === 'string' && TYPED_STRUCTS.includes(type)) {
    const url = get(typed, 'type_url')?.value;
    if (url !== LOCAL_RATE_LIMIT_TYPE) return { path: ['type_url'], problem: `type_url is ${JSON.stringify(url)}, not ${LOCAL_RATE_LIMIT_TYPE}` };
    const value = typed['value'];
    return isObj(value) ? { message: value, path: ['value'] } : { message: {}, path: ['value'] };
  }
  if (type === LOCAL_RATE_LIMIT_TYPE) {
    const { '@type': _t, ...rest } = typed;
    return { message: rest, path: [] };
  }
  return { path: ['@type'], problem: `@type ${JSON.stringify(type)} is not a LocalRateLimit (${LOCAL_RATE_LIMIT_TYPE}, or a TypedStruct of it)` };
}

function percentOf(v: unknown): number | undefined {
  if (!isObj(v)) return undefined;
  const d = get(v, 'default_value')?.value;
  if (!isObj(d)) return 0;
  const n = Number(get(d, 'numerator')?.value ?? 0);
  const den = String(get(d, 'denominator')?.value ?? 'HUNDRED');
  const scale = den === 'MILLION' ? 1_000_000 : den === 'TEN_THOUSAND' ? 10_000 : 100;
  return Math.min(100, (n / scale) * 100);
}

function durationMs(v: unknown): number | undefined {
  if (typeof v === 'string') {
    try {
      return parseDuration(v);
    } catch {
      return undefined;
    }
  }
  if (isObj(v)) return Number(v['seconds'] ?? 0) * 1000 + Number(v['nanos'] ?? 0) / 1e6;
  return undefined;
}

function headersToAdd(v: unknown, path: Path, problems: ConfigIssue[]): HeaderToAdd[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    problems.push({ path, message: 'must be a list of {header: {key, value}}' });
    return [];
  }
  const out: HeaderToAdd[] = [];
  v.forEach((h, i) => {
    const header = isObj(h) ? h['header'] : undefined;
    const key = isObj(header) ? header['key'] : undefined;
    if (typeof key !== 'string' || key === '') {
      problems.push({ path: [...path, i, 'header', 'key'], message: 'a header to add needs a non-empty `key`' });
      return;
    }
    const value = isObj(header) ? header['value'] : undefined;
    const action = isObj(h) ? get(h, 'append_action')?.value : undefined;
    const append = isObj(h) ? get(h, 'append')?.value : undefined;
    const appends = action !== undefined ? action === 'APPEND_IF_EXISTS_OR_ADD' : append !== false;
    out.push({ key: key.toLowerCase(), value: typeof value === 'string' ? value : String(value ?? ''), append: appends });
  });
  return out;
}

function tokenBucket(v: unknown, path: Path, problems: ConfigIssue[]): TokenBucketConfig | undefined {
  if (!isObj(v)) {
    problems.push({ path, message: 'token_bucket must be a mapping' });
    return undefined;
  }
  const max = Number(get(v, 'max_tokens')?.value ?? 0);
  const perFillRaw = get(v, 'tokens_per_fill')?.value;
  const perFill = perFillRaw === undefined ? 1 : Number(isObj(perFillRaw) ? perFillRaw['value'] : perFillRaw);
  const interval = get(v, 'fill_interval');
  const ms = durationMs(interval?.value);
  const before = problems.length;
  if (!Number.isInteger(max) || max <= 0) problems.push({ path: [...path, get(v, 'max_tokens')?.key ?? 'max_tokens'], message: `max_tokens must be a whole number above 0 (got ${JSON.stringify(get(v, 'max_tokens')?.value ?? null)}): a zero bucket` });
  if (!Number.isInteger(perFill) || perFill <= 0) problems.push({ path: [...path, get(v, 'tokens_per_fill')?.key ?? 'tokens_per_fill'], message: `tokens_per_fill must be a whole number above 0 (got ${JSON.stringify(perFillRaw)})` });
  if (ms === undefined || ms <= 0) problems.push({ path: [...path, interval?.key ?? 'fill_interval'], message: `fill_interval is required and must be a duration above 0 (got ${JSON.stringify(interval?.value ?? null)})` });
  else if (ms < 50) problems.push({ path: [...path, interval!.key], message: `fill_interval must be at least 50ms (got ${JSON.stringify(interval!.value)}): Envoy's "local rate limit token bucket fill timer must be >= 50ms"` });
  if (problems.length > before) return undefined;
  return { maxTokens: max, tokensPerFill: perFill, fillIntervalMs: ms! };
}

/** Reads one LocalRateLimit message; `perRoute`: it is a typed_per_filter_config (needs a bucket). */
export function parseLocalRateLimit(message: Obj, source: string, perRoute: boolean): ParsedLocalRateLimit {
  const notApplied: ConfigIssue[] = [];
  const problems: ConfigIssue[] = [];
  for (const key of Object.keys(message)) {
    const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (!KNOWN.has(snake)) problems.push({ path: [key], message: `unknown LocalRateLimit field \`${key}\` (Envoy rejects the config)` });
    else if (NOT_APPLIED[snake] !== undefined) {
      const v = message[key];
      const trivial = (snake === 'enable_x_ratelimit_headers' && (v === 'OFF' || v === 0)) || (snake === 'stage' && (v === 0 || v === undefined));
      if (!trivial) notApplied.push({ path: [key], message: NOT_APPLIED[snake]! });
    }
  }
  const tb = get(message, 'token_bucket');
  const bucket = tb ? tokenBucket(tb.value, [tb.key], problems) : undefined;
  if (!tb && perRoute) problems.push({ path: [], message: 'a per-route local rate limit needs a token_bucket (Envoy: "local rate limit token bucket must be set for per filter configs")' });
  const prefix = get(message, 'stat_prefix');
  if (typeof prefix?.value !== 'string' || prefix.value === '') problems.push({ path: [prefix?.key ?? 'stat_prefix'], message: 'stat_prefix is required (a non-empty string)' });
  const statusRaw = get(message, 'status')?.value;
  const code = isObj(statusRaw) ? Number(statusRaw['code'] ?? 0) : 0;
  const rh = get(message, 'response_headers_to_add');
  const qh = get(message, 'request_headers_to_add_when_not_enforced');
  const settings: LocalRateLimitSettings = {
    statPrefix: String(prefix?.value ?? ''),
    ...(bucket ? { tokenBucket: bucket } : {}),
    ...(get(message, 'filter_enabled') ? { enabledPercent: percentOf(get(message, 'filter_enabled')!.value) } : {}),
    ...(get(message, 'filter_enforced') ? { enforcedPercent: percentOf(get(message, 'filter_enforced')!.value) } : {}),
    status: code >= 400 ? code : 429,
    responseHeadersToAdd: headersToAdd(rh?.value, [rh?.key ?? 'response_headers_to_add'], problems),
    requestHeadersToAddWhenNotEnforced: headersToAdd(qh?.value, [qh?.key ?? 'request_headers_to_add_when_not_enforced'], problems),
    perConnection: get(message, 'local_rate_limit_per_downstream_connection')?.value === true,
    source,
  };
  if (problems.length > 0) return { notApplied, problems };
  return { settings, notApplied, problems };
}
