/**
 * RequestAuthentication `jwtRules` (istio/api security/v1 request_authentication.proto) as YAML
 * gives them, and as a proxy's snapshot carries them (defaults filled in).
 */
export interface JwtHeaderSpec {
  name: string;
  prefix?: string;
}

export interface JwtRuleSpec {
  issuer: string;
  audiences?: string[];
  jwksUri?: string;
  jwks?: string;
  fromHeaders?: JwtHeaderSpec[];
  fromParams?: string[];
  fromCookies?: string[];
  outputPayloadToHeader?: string;
  outputClaimToHeaders?: Array<{ header: string; claim: string }>;
  forwardOriginalToken?: boolean;
  timeout?: string;
  spaceDelimitedClaims?: string[];
}

export interface RequestAuthenticationSpec {
  selector?: { matchLabels?: Record<string, string> };
  targetRef?: Record<string, unknown>;
  targetRefs?: Array<Record<string, unknown>>;
  jwtRules?: JwtRuleSpec[];
}

/** One jwtRule as the inbound sidecar's jwt_authn filter applies it. */
export interface JwtRuleConfig {
  issuer: string;
  audiences: string[];
  jwks?: string;
  jwksUri?: string;
  /** JWKS fetch timeout (Istio default 5 s) */
  timeoutMs: number;
  fromHeaders: JwtHeaderSpec[];
  fromParams: string[];
  fromCookies: string[];
  forwardOriginalToken: boolean;
  outputPayloadToHeader?: string;
  outputClaimToHeaders: Array<{ header: string; claim: string }>;
  spaceDelimitedClaims: string[];
  /** `RequestAuthentication <ns>/<name> jwtRules[<i>] (file:line:col)` */
  source: string;
}

export const DEFAULT_JWKS_TIMEOUT_MS = 5000;

/** Envoy's default token locations when a rule names none: `Authorization: Bearer`, then `?access_token=` */
export function tokenLocations(rule: Pick<JwtRuleConfig, 'fromHeaders' | 'fromParams' | 'fromCookies'>): Pick<JwtRuleConfig, 'fromHeaders' | 'fromParams' | 'fromCookies'> {
  if (rule.fromHeaders.length > 0 || rule.fromParams.length > 0 || rule.fromCookies.length > 0) return rule;
  return { fromHeaders: [{ name: 'authorization', prefix: 'Bearer ' }], fromParams: ['access_token'], fromCookies: [] };
}
