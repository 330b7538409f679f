/**
 * envoy.filters.http.rbac as Istio configures it from AuthorizationPolicy (see rbac-engine.ts):
 * a denial is Envoy's 403 `RBAC: access denied` with details
 * `rbac_access_denied_matched_policy[<policy id>|none]`; every step is in the request's `why`.
 */
import { isIP } from 'node:net';
import type { AuthzRequest } from './authz-types.js';
import { evaluateRbac } from './rbac-engine.js';
import { rbacDeniedReply } from './jwt-messages.js';
import { CONTINUE, RBAC_FILTER, registerHttpFilter, type FilterStatus, type HttpFilter, type InboundFilterContext } from './filter-chain.js';

function normalizeIp(ip: string | undefined): string {
  const a = ip ?? '';
  return a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a;
}

/** remote.ip: on a sidecar Envoy takes the client address from X-Forwarded-For (its last entry), else the peer */
function remoteIp(xff: string | string[] | undefined, peer: string): string {
  const text = Array.isArray(xff) ? xff.join(',') : (xff ?? '');
  const last = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0).pop();
  return last && isIP(last) ? last : peer;
}

export function authzRequestOf(f: InboundFilterContext): AuthzRequest {
  const { ctx } = f;
  const q = ctx.path.indexOf('?');
  const sourceIp = normalizeIp(ctx.req.socket.remoteAddress);
  const req: AuthzRequest = {
    method: ctx.req.method ?? 'GET',
    path: q >= 0 ? ctx.path.slice(0, q) : ctx.path,
    host: ctx.authority,
    port: ctx.listener.servicePort ?? ctx.listener.port,
    headers: ctx.req.headers,
    sourceIp,
    remoteIp: remoteIp(ctx.req.headers['x-forwarded-for'], sourceIp),
    destinationIp: normalizeIp(ctx.req.socket.localAddress),
  };
  if (ctx.peerPrincipal) req.peerPrincipal = ctx.peerPrincipal;
  if (f.state.jwt) req.jwt = f.state.jwt;
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
