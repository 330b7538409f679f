/**
 * VirtualService `corsPolicy` as Istio translates it for Envoy's CORS filter
 * (TranslateCORSPolicy): origins become string matchers (`allowOrigins`, else the deprecated
 * `allowOrigin` as exact matches), the lists are joined with `,`, `maxAge` becomes whole seconds,
 * and `unmatchedPreflights: IGNORE` is `forward_not_matching_preflights: false` (anything else:
 * true). Compiled once per route configuration object.
 */
import type { CorsPolicy } from '../../config/istio-types.js';
import { parseDuration } from '../../config/duration.js';
import { compileStringMatch, type CompiledStringMatch } from '../routing/string-match.js';

export interface CompiledCorsPolicy {
  origins: CompiledStringMatch[];
  allowMethods: string;
  allowHeaders: string;
  exposeHeaders: string;
  /** seconds, as a string; '' when unset */
  maxAge: string;
  allowCredentials: boolean;
  /** Envoy forward_not_matching_preflights */
  forwardNotMatchingPreflights: boolean;
}

const compiled = new WeakMap<CorsPolicy, CompiledCorsPolicy>();

export function compileCorsPolicy(p: CorsPolicy): CompiledCorsPolicy {
  let c = compiled.get(p);
  if (c) return c;
  const origins = p.allowOrigins ? p.allowOrigins.map((m) => compileStringMatch(m)) : (p.allowOrigin ?? []).map((o) => compileStringMatch({ exact: o }));
  c = {
    origins,
    allowMethods: (p.allowMethods ?? []).join(','),
    allowHeaders: (p.allowHeaders ?? []).join(','),
    exposeHeaders: (p.exposeHeaders ?? []).join(','),
    maxAge: p.maxAge !== undefined ? String(Math.floor(parseDuration(p.maxAge) / 1000)) : '',
    allowCredentials: p.allowCredentials === true,
    forwardNotMatchingPreflights: p.unmatchedPreflights !== 'IGNORE',
  };
  compiled.set(p, c);
  return c;
}

/**
 * Envoy's isOriginAllowed: an allowed-origin matcher that matches the literal `*` (an `exact: "*"`,
 * a `regex: ".*"`) allows every origin; otherwise one must match the Origin.
 */
export function allowedBy(policy: CompiledCorsPolicy, origin: string): CompiledStringMatch | undefined {
  return policy.origins.find((m) => m.test('*') || m.test(origin));
}
