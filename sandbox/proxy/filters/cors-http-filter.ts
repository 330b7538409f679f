/**
 * envoy.filters.http.cors on a sidecar's outbound listener and the gateway, for routes with a
 * VirtualService `corsPolicy` (./cors-policy.ts), as Envoy's cors_filter.cc does it:
 *
 * - a request with a non-empty `Origin` is a CORS request; without one (or on a route without a
 *   policy) the filter does nothing;
 * - a preflight is `OPTIONS` with `Origin` and a non-empty `Access-Control-Request-Method`. The
 *   proxy answers it itself (200, no body, details `cors_response`) with
 *   `access-control-allow-origin` (the request's origin, when allowed),
 *   `access-control-allow-credentials: true` (allowCredentials), `access-control-allow-methods`,
 *   `access-control-allow-headers` (`*` echoes the request's Access-Control-Request-Method /
 *   -Headers) and `access-control-max-age`; `access-control-expose-headers` is added too when
 *   the origin is allowed. A preflight from an origin that is not allowed goes on to the app
 *   (`unmatchedPreflights: FORWARD`, Istio's default) or is answered the same way without
 *   `access-control-allow-origin` (`IGNORE`), so the browser refuses it;
 * - any other CORS request goes on; when its origin is allowed, its answer (the app's, or a
 *   local reply of the router: a timeout, a 503) gets `access-control-allow-origin`,
 *   `access-control-allow-credentials` and `access-control-expose-headers`.
 *
 * The fault filter comes first (Istio's order), so an injected abort carries no CORS headers.
 */
import { CONTINUE, type FilterStatus } from '../../security/filter-chain.js';
import type { HeaderMap } from '../routing/header-ops.js';
import { allowedBy, compileCorsPolicy, type CompiledCorsPolicy } from './cors-policy.js';
import { CORS_FILTER, registerOutboundHttpFilter, type OutboundFilterContext, type OutboundHttpFilter } from './outbound-filter-chain.js';

function single(v: string | string[] | undefined): string {
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
}

/** Envoy's encodeHeaders: the headers an answer to an allowed CORS request gets */
function encodeCors(policy: CompiledCorsPolicy, origin: string) {
  return (headers: HeaderMap): void => {
    headers['access-control-allow-origin'] = origin;
    if (policy.allowCredentials) headers['access-control-allow-credentials'] = 'true';
    if (policy.exposeHeaders) headers['access-control-expose-headers'] = policy.exposeHeaders;
  };
}

export class CorsFilter implements OutboundHttpFilter {
  decode(f: OutboundFilterContext): FilterStatus {
    const { ctx, route } = f;
    if (!route.corsPolicy) return CONTINUE;
    const origin = single(ctx.req.headers['origin']);
    if (origin === '') return CONTINUE;
    const policy = compileCorsPolicy(route.corsPolicy);
    const matcher = allowedBy(policy, origin);
    if (matcher) ctx.addEncoder(encodeCors(policy, origin));
    const requestMethod = single(ctx.req.headers['access-control-request-method']);
    const preflight = ctx.req.method === 'OPTIONS' && requestMethod !== '';
    const matched = matcher ? `origin ${origin} allowed (allowOrigins ${matcher.explain()})` : `origin ${origin} not in allowOrigins`;
    if (!preflight) {
      ctx.why.push(`cors: ${matched}${matcher ? ': CORS headers added to the response' : ': no CORS headers on the response'}`);
      return CONTINUE;
    }
    if (!matcher && policy.forwardNotMatchingPreflights) {
      ctx.why.push(`cors: preflight, ${matched}: forwarded to the app (unmatchedPreflights FORWARD)`);
      return CONTINUE;
    }
    const headers: Record<string, string> = {};
    if (matcher) headers['access-control-allow-origin'] = origin;
    if (policy.allowCredentials) headers['access-control-allow-credentials'] = 'true';
    if (policy.allowMethods) headers['access-control-allow-methods'] = policy.allowMethods === '*' ? requestMethod : policy.allowMethods;
    if (policy.allowHeaders) {
      headers['access-control-allow-headers'] = policy.allowHeaders === '*' ? single(ctx.req.headers['access-control-request-headers']) : policy.allowHeaders;
    }
    if (policy.maxAge) headers['access-control-max-age'] = policy.maxAge;
    ctx.why.push(
      matcher
        ? `cors: preflight, ${matched}: answered by the proxy (cors_response)`
        : `cors: preflight, ${matched}: answered by the proxy without access-control-allow-origin (unmatchedPreflights IGNORE)`,
    );
    return { type: 'localReply', reply: { status: 200, body: '', details: 'cors_response', headers } };
  }
}

registerOutboundHttpFilter(CORS_FILTER, new CorsFilter());
