/**
 * explain() of the security kinds, for `meshbox describe`: which proxies (sidecars, the ingress
 * gateway) enforce a policy (from
 * the snapshot the proxies run), its rules with the ids Envoy reports
 * (`ns[<ns>]-policy[<name>]-rule[<i>]`), and how Istio evaluates them; for a
 * RequestAuthentication, where each rule's keys and tokens come from.
 */
import type { MeshSnapshot } from '../control/snapshot.js';
import type { AuthorizationPolicySpec } from './authz-types.js';
import type { RequestAuthenticationSpec } from './jwt-rule.js';
import { tokenLocations } from './jwt-rule.js';
import { policyRuleId } from './rbac-engine.js';
import { LOCAL_ISSUER } from './token-issuer.js';

function enforcedBy(snapshot: MeshSnapshot | undefined, pred: (p: NonNullable<MeshSnapshot['proxies'][number]['security']>) => boolean): string {
  const ids = (snapshot?.proxies ?? []).filter((p) => p.security && pred(p.security)).map((p) => `${p.id} (${p.kind === 'gateway' ? 'gateway' : 'inbound'})`);
  return ids.length > 0 ? ids.join(', ') : 'no proxy (the selector matches no workload, or the namespace has none)';
}

export function explainAuthorizationPolicy(snapshot: MeshSnapshot | undefined, meta: { name: string; namespace: string }, spec: AuthorizationPolicySpec): string[] {
  const action = spec.action ?? 'ALLOW';
  const lines = [`Action: ${action}${spec.action ? '' : ' (default)'}`, `Selector: ${spec.selector?.matchLabels ? JSON.stringify(spec.selector.matchLabels) : 'none: every workload of the namespace'}`];
  if (action === 'CUSTOM') {
    lines.push('Enforced by: no sidecar: CUSTOM (external authorization) is recognised but not applied by meshbox');
    return lines;
  }
  lines.push(`Enforced by: ${enforcedBy(snapshot, (s) => s.policies.some((p) => p.name === meta.name && p.namespace === meta.namespace))}`);
  const rules = spec.rules ?? [];
  if (rules.length === 0) lines.push(action === 'ALLOW' ? 'Rules: none: denies every request (rbac_access_denied_matched_policy[none])' : 'Rules: none: matches no request');
  else {
    lines.push('Rules (a request matches a rule when any from, any to and every when match):');
    rules.forEach((r, i) => lines.push(`  ${policyRuleId(meta, i)}: ${Object.keys(r).length === 0 ? '{} (every request)' : JSON.stringify(r)}`));
  }
  lines.push(
    action === 'DENY'
      ? 'Evaluation: a matching DENY rule answers 403 `RBAC: access denied` before any ALLOW policy is looked at'
      : action === 'AUDIT'
        ? 'Evaluation: AUDIT never changes the decision; a match is noted in the request detail'
        : 'Evaluation: after DENY policies; with an ALLOW policy on a workload, a request no ALLOW rule matches gets 403 `RBAC: access denied`',
  );
  return lines;
}

export function explainRequestAuthentication(snapshot: MeshSnapshot | undefined, meta: { name: string; namespace: string }, spec: RequestAuthenticationSpec): string[] {
  const ref = `RequestAuthentication ${meta.namespace}/${meta.name} `;
  const lines = [
    `Selector: ${spec.selector?.matchLabels ? JSON.stringify(spec.selector.matchLabels) : 'none: every workload of the namespace'}`,
    `Enforced by: ${enforcedBy(snapshot, (s) => s.jwtRules.some((r) => r.source.startsWith(ref)))}`,
    'jwtRules (a token that fails gets 401; a request without a token passes without identity):',
  ];
  (spec.jwtRules ?? []).forEach((r, i) => {
    const keys = r.jwks !== undefined ? 'inline jwks' : r.jwksUri ? `jwksUri ${r.jwksUri} (timeout ${r.timeout ?? '5s'}, cached 10 min)` : r.issuer === LOCAL_ISSUER ? "the local issuer's keys (meshbox token)" : 'none (no jwks, no jwksUri): its tokens get 401 `Jwks remote fetch is failed`';
    const loc = tokenLocations({ fromHeaders: r.fromHeaders ?? [], fromParams: r.fromParams ?? [], fromCookies: r.fromCookies ?? [] });
    const where = [...loc.fromHeaders.map((h) => `header ${h.name}${h.prefix ? ` "${h.prefix}"` : ''}`), ...loc.fromParams.map((p) => `?${p}=`), ...loc.fromCookies.map((c) => `cookie ${c}`)].join(', ');
    lines.push(`  [${i}] issuer ${r.issuer}, principal ${r.issuer}/<sub>; audiences ${r.audiences?.length ? r.audiences.join(', ') : 'any'}; keys: ${keys}`);
    lines.push(`      token from ${where}; ${r.forwardOriginalToken ? 'forwarded to the app' : 'removed before the app'}${r.outputPayloadToHeader ? `; payload in ${r.outputPayloadToHeader}` : ''}${r.outputClaimToHeaders?.length ? `; claims to ${r.outputClaimToHeaders.map((c) => `${c.claim}->${c.header}`).join(', ')}` : ''}`);
  });
  return lines;
}
