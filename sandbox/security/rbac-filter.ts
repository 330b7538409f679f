/**
 * envoy.filters.http.rbac as Istio configures it from AuthorizationPolicy (see rbac-engine.ts):
 * a denial is Envoy's 403 `RBAC: access denied` with details
 * `rbac_access_denied_matched_policy[<policy id>|none]`; every step is in the request's `why`.
 */
import type { AuthzRequest } from './authz-types.js';
import { evaluateRbac } from './rbac-engine.js';
import { rbacDeniedReply } from './jwt-messages.js';
import { CONTINUE, RBAC_FILTER, registerHttpFilter, type FilterStatus, type HttpFilter, type InboundFilterContext } from './filter-chain.js';
import { plainAddress, trustedClientAddress } from '../proxy/forwarded-for.js';

/**
 * source.ip (`ipBlocks`) is the connection's peer; remote.ip (`remoteIpBlocks`) the trusted
 * client address: on a sidecar the last X-Forwarded-For address (else the peer), at the gateway
 * (use_remote_address) the peer, or with `gatewayTopology.numTrustedProxies: N` the Nth
 * address from the right of the X-Forwarded-For the client sent.
 */
export function authzRequestOf(f: InboundFilterContext): AuthzRequest {
  const { ctx } = f;
  const q = ctx.path.indexOf('?');
  const sourceIp = plainAddress(ctx.req.socket.remoteAddress ?? '');
  const gateway = f.proxy.kind === 'gateway';
  const req: AuthzRequest = {
    method: ctx.req.method ?? 'GET',
    path: q >= 0 ? ctx.path.slice(0, q) : ctx.path,
    host: ctx.authority,
    port: ctx.listener.servicePort ?? ctx.listener.port,
    headers: ctx.req.headers,
    sourceIp,
    remoteIp: trustedClientAddress(ctx.req.headers['x-forwarded-for'], sourceIp, { useRemoteAddress: gateway, numTrustedHops: gateway ? (f.proxy.gatewayTopology?.numTrustedProxies ?? 0) : 0 }),
    destinationIp: plainAddress(ctx.req.socket.localAddress ?? ''),
  };
  if (ctx.peerPrincipal) req.peerPrincipal = ctx.peerPrincipal;
  if (f.state.jwt) req.jwt = f.state.jwt;
  if (f.proxy.security?.trustDomains) req.trustDomains = f.proxy.security.trustDomains;
  return req;
}

export class RbacFilter implements HttpFilter {
  decode(f: InboundFilterContext): FilterStatus {
    const policies = f.proxy.security?.policies ?? [];
    if (policies.length === 0) return CONTINUE;
    const decision = evaluateRbac(policies, authzRequestOf(f));
    f.ctx.why.push(...decision.why);
    if (decision.allowed) return CONTINUE;
    return { type: 'localReply', reply: rbacDeniedReply(decision.details!) };
  }
}

registerHttpFilter(RBAC_FILTER, new RbacFilter());
