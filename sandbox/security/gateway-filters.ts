/**
 * envoy.filters.http.jwt_authn and envoy.filters.http.rbac on the gateway's chain
 * (../proxy/filters/outbound-filter-chain.ts: jwt_authn -> rbac -> fault -> cors -> router), as
 * Istio generates them for an ingress gateway selected by a RequestAuthentication or an
 * AuthorizationPolicy (`selector.matchLabels` of the gateway's labels, in `istio-system`).
 *
 * They are the inbound filters themselves (request-authentication-filter.ts, rbac-filter.ts),
 * run on the gateway's request: its header map (jwt_authn removes the token and adds claim
 * headers there, so the route's upstream request carries the change, as in Envoy), the gateway
 * proxy's ProxyConfig.security, and the state jwt_authn leaves for rbac. What differs at the
 * edge lives where it belongs: the client address `remoteIpBlocks` matches comes from
 * X-Forwarded-For with `gatewayTopology.numTrustedProxies` (../proxy/forwarded-for.ts), and the
 * gateway has no mTLS peer, so `principals`/`namespaces` match no request.
 */
import type { HeaderMap } from '../proxy/routing/header-ops.js';
import { registerOutboundHttpFilter, type OutboundFilterContext } from '../proxy/filters/outbound-filter-chain.js';
import { httpFilter, JWT_AUTHN_FILTER, RBAC_FILTER, type InboundFilterContext } from './filter-chain.js';
import './request-authentication-filter.js';
import './rbac-filter.js';

function asInbound(f: OutboundFilterContext): InboundFilterContext {
  const { ctx } = f;
  // Envoy's connection manager fixes x-forwarded-proto before the filters: without trusted hops a
  // client's own value is replaced by how it reached the gateway (plain HTTP), so the realm of a
  // 401 says `http://...` whatever the client claims
  if ((f.proxy.gatewayTopology?.numTrustedProxies ?? 0) <= 0 || ctx.req.headers['x-forwarded-proto'] === undefined) ctx.req.headers['x-forwarded-proto'] = 'http';
  const out: InboundFilterContext = { ctx, snap: f.snap, proxy: f.proxy, headers: ctx.req.headers as HeaderMap, state: f.state };
  if (f.instance !== undefined) out.instance = f.instance;
  return out;
}

for (const name of [JWT_AUTHN_FILTER, RBAC_FILTER]) {
  const filter = httpFilter(name);
  if (!filter) throw new Error(`HTTP filter ${name} is not registered`);
  registerOutboundHttpFilter(name, { decode: (f) => (f.proxy.security ? filter.decode(asInbound(f)) : { type: 'continue' }) });
}
