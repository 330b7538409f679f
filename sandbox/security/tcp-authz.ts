/**
 * AuthorizationPolicy on TCP connections (Envoy's network RBAC filter, envoy.filters.network.rbac,
 * as Istio generates it for the TCP filter chains of a workload): a connection is checked once,
 * when it arrives at the inbound sidecar, with what a connection carries (source principal,
 * namespace, IPs, destination port); a denied connection is closed.
 *
 * HTTP-only fields (`requestPrincipals`, `hosts`, `methods`, `paths`, `request.*` conditions)
 * cannot be evaluated on TCP: as Istio does, an ALLOW (or AUDIT) rule that uses one is left out
 * (it never matches TCP traffic, so an ALLOW policy of such rules denies it), and a DENY rule has
 * them removed (what remains decides: the rule denies more, never less).
 */
import { evaluateRbac, type RbacDecision } from './rbac-engine.js';
import type { AuthzCondition, AuthzOperation, AuthzPolicyConfig, AuthzRequest, AuthzRule, AuthzSource } from './authz-types.js';

const HTTP_SOURCE: Array<keyof AuthzSource> = ['requestPrincipals', 'notRequestPrincipals'];
const HTTP_OPERATION: Array<keyof AuthzOperation> = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'];
const httpCondition = (c: AuthzCondition): boolean => c.key.startsWith('request.');

function usesHttp(rule: AuthzRule): boolean {
  return (
    (rule.from ?? []).some((f) => HTTP_SOURCE.some((k) => f.source?.[k] !== undefined)) ||
    (rule.to ?? []).some((t) => HTTP_OPERATION.some((k) => t.operation?.[k] !== undefined)) ||
    (rule.when ?? []).some(httpCondition)
  );
}

function withoutHttp(rule: AuthzRule): AuthzRule {
  const out: AuthzRule = {};
  if (rule.from) out.from = rule.from.map((f) => ({ ...(f.source ? { source: Object.fromEntries(Object.entries(f.source).filter(([k]) => !HTTP_SOURCE.includes(k as keyof AuthzSource))) } : {}) }));
  if (rule.to) out.to = rule.to.map((t) => ({ ...(t.operation ? { operation: Object.fromEntries(Object.entries(t.operation).filter(([k]) => !HTTP_OPERATION.includes(k as keyof AuthzOperation))) } : {}) }));
  if (rule.when) {
    const when = rule.when.filter((c) => !httpCondition(c));
    if (when.length > 0) out.when = when;
  }
  return out;
}

/** the policies as the TCP filter chains enforce them */
export function tcpPolicies(policies: readonly AuthzPolicyConfig[]): AuthzPolicyConfig[] {
  return policies.map((p) => ({
    ...p,
    rules: p.rules.flatMap((rule) => {
      if (!usesHttp(rule)) return [rule];
      return p.action === 'DENY' ? [withoutHttp(rule)] : [];
    }),
  }));
}

const cache = new WeakMap<readonly AuthzPolicyConfig[], AuthzPolicyConfig[]>();

/** evaluates a TCP connection against a proxy's policies (the transformed policies are cached per snapshot) */
export function evaluateTcpRbac(policies: readonly AuthzPolicyConfig[], req: Omit<AuthzRequest, 'method' | 'path' | 'host' | 'headers'>): RbacDecision {
  let tcp = cache.get(policies);
  if (!tcp) cache.set(policies, (tcp = tcpPolicies(policies)));
  return evaluateRbac(tcp, { ...req, method: '', path: '', host: '', headers: {} });
}
