/**
 * envoy.filters.http.jwt_authn as Istio configures it for RequestAuthentication: every token
 * found at a rule's locations (default `Authorization: Bearer <token>`, then `?access_token=`)
 * must verify, else Envoy's 401 (403 for audiences) with the verifier's message; no token means
 * no identity, not an error (an AuthorizationPolicy decides whether one is needed). A verified
 * token gives the request principal `iss/sub` to the RBAC filter; unless `forwardOriginalToken`
 * its header is removed before the app sees it; `outputPayloadToHeader` and
 * `outputClaimToHeaders` pass its payload and claims on.
 */
import { JwksCache } from './jwt-jwks.js';
import { jwtDeniedReply } from './jwt-messages.js';
import { tokenLocations, type JwtRuleConfig } from './jwt-rule.js';
import { verifyJwt } from './jwt-verifier.js';
import { CONTINUE, JWT_AUTHN_FILTER, registerHttpFilter, type FilterStatus, type HttpFilter, type InboundFilterContext } from './filter-chain.js';
import type { HeaderMap } from '../proxy/routing/header-ops.js';

const JWT_CHARS = /^[A-Za-z0-9\-_.=+/]+/;

interface FoundToken {
  token: string;
  /** `header authorization`, `param access_token`, `cookie session` */
  where: string;
  /** the request header it came from (removed unless forwardOriginalToken) */
  header?: string;
  rules: JwtRuleConfig[];
}

function headerText(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return v === undefined ? undefined : Array.isArray(v) ? v.join(',') : v;
}

function cookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

/** every token at the rules' locations, in rule order (one entry per distinct token) */
export function extractTokens(rules: readonly JwtRuleConfig[], headers: HeaderMap, path: string): FoundToken[] {
  const found: FoundToken[] = [];
  const add = (token: string, where: string, rule: JwtRuleConfig, header?: string): void => {
    if (token.length === 0) return;
    const same = found.find((f) => f.token === token);
    if (same) {
      if (!same.rules.includes(rule)) same.rules.push(rule);
      return;
    }
    found.push({ token, where, rules: [rule], ...(header ? { header } : {}) });
  };
  const q = path.indexOf('?');
  const params = new URLSearchParams(q >= 0 ? path.slice(q + 1) : '');
  const jar = cookies(headerText(headers, 'cookie'));
  for (const rule of rules) {
    const loc = tokenLocations(rule);
    for (const h of loc.fromHeaders) {
      const value = headerText(headers, h.name);
      if (value === undefined) continue;
      let rest = value.trim();
      if (h.prefix) {
        const i = value.indexOf(h.prefix);
        if (i < 0) continue;
        rest = value.slice(i + h.prefix.length);
      }
      const m = JWT_CHARS.exec(rest);
      if (m) add(m[0], `header ${h.name.toLowerCase()}`, rule, h.name.toLowerCase());
    }
    for (const p of loc.fromParams) {
      const v = params.get(p);
      if (v) add(v, `query parameter ${p}`, rule);
    }
    for (const c of loc.fromCookies) {
      const v = jar.get(c);
      if (v) add(v, `cookie ${c}`, rule);
    }
  }
  return found;
}

function claimText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean')) return v.join(',');
  return undefined;
}

export class RequestAuthenticationFilter implements HttpFilter {
  constructor(
    readonly jwks: JwksCache = new JwksCache(),
    private readonly now: () => number = Date.now,
  ) {}

  async decode(f: InboundFilterContext): Promise<FilterStatus> {
    const rules = f.proxy.security?.jwtRules ?? [];
    if (rules.length === 0) return CONTINUE;
    const { ctx, headers } = f;
    const tokens = extractTokens(rules, headers, ctx.path);
    if (tokens.length === 0) {
      ctx.why.push(`jwt_authn: no token (looked at ${describeLocations(rules)}): no request principal; RequestAuthentication accepts it, an AuthorizationPolicy may not`);
      return CONTINUE;
    }
    const proto = headerText(headers, 'x-forwarded-proto') ?? 'http';
    const realm = `${proto}://${ctx.authority}${ctx.path}`;
    for (const t of tokens) {
      const r = await verifyJwt(t.token, t.rules, this.jwks, this.now());
      if (ctx.res.destroyed) {
        ctx.downstreamClosed = true;
        return { type: 'stopped' };
      }
      if (!r.ok) {
        ctx.why.push(`jwt_authn: the token in ${t.where} is rejected: ${r.message} (${r.why})${r.rule ? `; ${r.rule.source}` : ''}`);
        return { type: 'localReply', reply: jwtDeniedReply(r.message, realm) };
      }
      if (!f.state.jwt) {
        f.state.jwt = r.identity;
        ctx.why.push(`jwt_authn: request principal ${r.identity.principal} (token in ${t.where}, issuer ${r.rule.issuer}, ${r.rule.source})`);
      }
      if (!r.rule.forwardOriginalToken && t.header) delete headers[t.header];
      if (r.rule.outputPayloadToHeader) headers[r.rule.outputPayloadToHeader.toLowerCase()] = t.token.split('.')[1]!;
      for (const o of r.rule.outputClaimToHeaders) {
        const v = claimText(r.payload[o.claim]);
        if (v !== undefined) headers[o.header.toLowerCase()] = v;
      }
    }
    return CONTINUE;
  }
}

function describeLocations(rules: readonly JwtRuleConfig[]): string {
  const all = new Set<string>();
  for (const r of rules) {
    const l = tokenLocations(r);
    for (const h of l.fromHeaders) all.add(`${h.name}${h.prefix ? `: ${h.prefix.trim()}` : ''}`);
    for (const p of l.fromParams) all.add(`?${p}=`);
    for (const c of l.fromCookies) all.add(`cookie ${c}`);
  }
  return [...all].join(', ');
}

export const requestAuthenticationFilter = new RequestAuthenticationFilter();
registerHttpFilter(JWT_AUTHN_FILTER, requestAuthenticationFilter);
