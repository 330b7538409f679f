/**
 * Control plane: which RequestAuthentication and AuthorizationPolicy resources apply to a
 * workload (pilot's per-proxy view): a policy in the workload's namespace, or in the root
 * namespace (`istio-system`, mesh-wide), whose `selector.matchLabels` the workload's labels carry
 * (no selector: every workload of that scope). The ingress gateway is such a workload: its
 * labels (`istio: ingressgateway`) in `istio-system`, so a root-namespace policy without a
 * selector applies at the gateway too, as in Istio. CUSTOM policies are not applied.
 */
import type { LoadedResource } from '../config/resource.js';
import { parseDuration } from '../config/duration.js';
import type { AuthorizationPolicySpec, AuthzPolicyConfig, InboundSecurityConfig } from './authz-types.js';
import { LOCAL_ISSUER, TokenIssuer } from './token-issuer.js';
import { TRUST_DOMAIN } from './identity.js';
import { DEFAULT_JWKS_TIMEOUT_MS, type JwtRuleConfig, type RequestAuthenticationSpec } from './jwt-rule.js';

export const ROOT_NAMESPACE = 'istio-system';

type AP = LoadedResource<'AuthorizationPolicy', AuthorizationPolicySpec>;
type RA = LoadedResource<'RequestAuthentication', RequestAuthenticationSpec>;

export function selects(r: LoadedResource<string, { selector?: { matchLabels?: Record<string, string> } }>, labels: Record<string, string>, namespace: string): boolean {
  if (r.metadata.namespace !== namespace && r.metadata.namespace !== ROOT_NAMESPACE) return false;
  return Object.entries(r.spec.selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

const where = (r: LoadedResource): string => `${r.source.file}:${r.source.line}:${r.source.col}`;

function jwtRules(ra: RA): JwtRuleConfig[] {
  return (ra.spec.jwtRules ?? []).map((j, i) => {
    const timeout = j.timeout !== undefined ? parseDuration(j.timeout) : undefined;
    const rule: JwtRuleConfig = {
      issuer: j.issuer,
      audiences: j.audiences ?? [],
      timeoutMs: typeof timeout === 'number' && timeout > 0 ? timeout : DEFAULT_JWKS_TIMEOUT_MS,
      fromHeaders: j.fromHeaders ?? [],
      fromParams: j.fromParams ?? [],
      fromCookies: j.fromCookies ?? [],
      forwardOriginalToken: j.forwardOriginalToken ?? false,
      outputClaimToHeaders: j.outputClaimToHeaders ?? [],
      spaceDelimitedClaims: j.spaceDelimitedClaims ?? [],
      source: `RequestAuthentication ${ra.metadata.namespace}/${ra.metadata.name} jwtRules[${i}] (${where(ra)})`,
    };
    if (j.jwks !== undefined) rule.jwks = j.jwks;
    if (j.jwksUri !== undefined) rule.jwksUri = j.jwksUri;
    // the local issuer's keys, as istiod discovers an issuer's JWKS for the proxies
    if (j.jwks === undefined && j.jwksUri === undefined && j.issuer === LOCAL_ISSUER) {
      try {
        rule.jwks = JSON.stringify(TokenIssuer.local().jwks());
      } catch {
        // an unusable state folder: the rule has no keys, its tokens get `Jwks remote fetch is failed`
      }
    }
    if (j.outputPayloadToHeader !== undefined) rule.outputPayloadToHeader = j.outputPayloadToHeader;
    return rule;
  });
}

/**
 * Istio's trust domain bundle (MeshConfig trustDomain + trustDomainAliases): undefined for the
 * default `cluster.local` without aliases, where policy principals are matched as written.
 */
export function trustDomainBundle(mesh: { trustDomain?: string; trustDomainAliases?: string[] }): string[] | undefined {
  const td = mesh.trustDomain ?? TRUST_DOMAIN;
  const aliases = (mesh.trustDomainAliases ?? []).filter((a) => a !== td);
  if (td === TRUST_DOMAIN && aliases.length === 0) return undefined;
  return [td, ...new Set(aliases)];
}

/** The security filters' config of one workload (a sidecar or the gateway), or undefined when no policy selects it. */
export function inboundSecurityFor(resources: readonly LoadedResource[], labels: Record<string, string>, namespace: string, trustDomains?: string[]): InboundSecurityConfig | undefined {
  const byName = (a: LoadedResource, b: LoadedResource): number => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`);
  const ras = resources.filter((r): r is RA => r.kind === 'RequestAuthentication' && selects(r as RA, labels, namespace)).sort(byName);
  const aps = resources.filter((r): r is AP => r.kind === 'AuthorizationPolicy' && selects(r as AP, labels, namespace)).sort(byName);
  const policies: AuthzPolicyConfig[] = [];
  for (const ap of aps) {
    const action = ap.spec.action ?? 'ALLOW';
    if (action === 'CUSTOM') continue;
    policies.push({ name: ap.metadata.name, namespace: ap.metadata.namespace, action, rules: ap.spec.rules ?? [], source: where(ap) });
  }
  const rules = ras.flatMap(jwtRules);
  if (rules.length === 0 && policies.length === 0) return undefined;
  return { jwtRules: rules, policies, ...(trustDomains && policies.length > 0 ? { trustDomains } : {}) };
}
