/**
 * Istio's authorization order on an inbound sidecar (CUSTOM is not applied by meshbox):
 *   1. any DENY policy rule matches  -> deny  (details rbac_access_denied_matched_policy[<id>])
 *   2. no ALLOW policy on the workload -> allow
 *   3. any ALLOW policy rule matches -> allow
 *   4. otherwise                     -> deny  (details rbac_access_denied_matched_policy[none])
 * AUDIT policies never change the decision; a match is reported. The policy id is what Istio
 * names each Envoy RBAC policy: `ns[<namespace>]-policy[<name>]-rule[<index>]`.
 */
import type { AuthzPolicyConfig, AuthzRequest } from './authz-types.js';
import { ruleMatches } from './authz-matcher.js';

export function policyRuleId(p: { namespace: string; name: string }, rule: number): string {
  return `ns[${p.namespace}]-policy[${p.name}]-rule[${rule}]`;
}

export interface RbacDecision {
  allowed: boolean;
  /** Envoy's response code details of a denial */
  details?: string;
  /** the policy rule that decided, when one did */
  matchedPolicy?: string;
  /** AUDIT policy rules that matched */
  audited: string[];
  /** one line per step of the evaluation, for the request detail */
  why: string[];
}

function firstMatch(policies: AuthzPolicyConfig[], req: AuthzRequest, why: string[]): { policy: AuthzPolicyConfig; id: string; because: string } | undefined {
  for (const p of policies) {
    for (let i = 0; i < p.rules.length; i++) {
      const r = ruleMatches(p.rules[i]!, req);
      if (r.matched) return { policy: p, id: policyRuleId(p, i), because: r.why };
      why.push(`rbac: ${p.action} ${policyRuleId(p, i)} (${p.source}) does not match: ${r.why}`);
    }
    if (p.rules.length === 0) why.push(`rbac: ${p.action} ns[${p.namespace}]-policy[${p.name}] (${p.source}) has no rules: it matches no request`);
  }
  return undefined;
}

export function evaluateRbac(policies: readonly AuthzPolicyConfig[], req: AuthzRequest): RbacDecision {
  const why: string[] = [];
  const audited: string[] = [];
  const audits = policies.filter((p) => p.action === 'AUDIT');
  const auditWhy: string[] = [];
  for (const p of audits) {
    p.rules.forEach((rule, i) => {
      if (ruleMatches(rule, req).matched) audited.push(policyRuleId(p, i));
    });
  }
  if (audited.length > 0) auditWhy.push(`rbac: AUDIT ${audited.join(', ')} matched (logged; the decision is unchanged)`);
  const deny = firstMatch(
    policies.filter((p) => p.action === 'DENY'),
    req,
    why,
  );
  if (deny) {
    why.push(`rbac: denied by DENY ${deny.id} (${deny.policy.source}): ${deny.because}`);
    return { allowed: false, details: `rbac_access_denied_matched_policy[${deny.id}]`, matchedPolicy: deny.id, audited, why: [...why, ...auditWhy] };
  }
  const allows = policies.filter((p) => p.action === 'ALLOW');
  if (allows.length === 0) {
    const denies = policies.length - audits.length;
    why.push(denies > 0 ? 'rbac: allowed: no DENY rule matches and no ALLOW policy selects this workload' : 'rbac: allowed: no ALLOW policy selects this workload');
    return { allowed: true, audited, why: [...why, ...auditWhy] };
  }
  const allow = firstMatch(allows, req, why);
  if (allow) {
    why.push(`rbac: allowed by ALLOW ${allow.id} (${allow.policy.source}): ${allow.because}`);
    return { allowed: true, matchedPolicy: allow.id, audited, why: [...why, ...auditWhy] };
  }
  why.push(`rbac: denied: ALLOW ${allows.map((p) => `${p.namespace}/${p.name}`).join(', ')} select this workload and none of their rules matches`);
  return { allowed: false, details: 'rbac_access_denied_matched_policy[none]', audited, why: [...why, ...auditWhy] };
}
