/**
 * Shapes of Istio's AuthorizationPolicy (istio/api security/v1 authorization_policy.proto), as
 * they appear in YAML and, unchanged, in a proxy's snapshot: the data plane evaluates them as
 * written, so `explain()` can quote the user's own values.
 */
export type AuthzAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

export interface AuthzSource {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  serviceAccounts?: string[];
  notServiceAccounts?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
}

export interface AuthzOperation {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

export interface AuthzCondition {
  key: string;
  values?: string[];
  notValues?: string[];
}

export interface AuthzRule {
  from?: Array<{ source?: AuthzSource }>;
  to?: Array<{ operation?: AuthzOperation }>;
  when?: AuthzCondition[];
}

export interface AuthorizationPolicySpec {
  selector?: { matchLabels?: Record<string, string> };
  targetRef?: Record<string, unknown>;
  targetRefs?: Array<Record<string, unknown>>;
  action?: AuthzAction;
  provider?: { name: string };
  rules?: AuthzRule[];
}

/** One AuthorizationPolicy as a proxy enforces it (CUSTOM never gets here: not applied). */
export interface AuthzPolicyConfig {
  name: string;
  namespace: string;
  action: 'ALLOW' | 'DENY' | 'AUDIT';
  rules: AuthzRule[];
  /** `file:line:col` of the document */
  source: string;
}

/** What the RBAC filter knows about one request. */
export interface AuthzRequest {
  method: string;
  /** the path without the query string */
  path: string;
  /** the Host / :authority header */
  host: string;
  /** the destination (service) port */
  port: number;
  headers: Record<string, string | string[] | undefined>;
  sourceIp: string;
  remoteIp: string;
  destinationIp: string;
  /** the mTLS peer's principal, `cluster.local/ns/<ns>/sa/<sa>`; absent on plaintext */
  peerPrincipal?: string;
  /** the verified JWT, when RequestAuthentication accepted one */
  jwt?: JwtIdentity;
  /** the mesh's trust domain bundle (InboundSecurityConfig.trustDomains) */
  trustDomains?: string[];
}

/** What a verified JWT gives later filters (Envoy's jwt_authn dynamic metadata). */
export interface JwtIdentity {
  /** `iss/sub` */
  principal: string;
  claims: Record<string, unknown>;
  audiences: string[];
  presenter?: string;
  /** claims whose string value is a space-separated list (Istio: `scope`, `permission` and the rule's spaceDelimitedClaims) */
  spaceDelimitedClaims?: string[];
}

/** What an inbound sidecar enforces (ProxyConfig.security): the jwt_authn and rbac filters' config. */
export interface InboundSecurityConfig {
  /** the jwtRules of every RequestAuthentication selecting the workload, merged as Istio does */
  jwtRules: import('./jwt-rule.js').JwtRuleConfig[];
  /** the ALLOW, DENY and AUDIT AuthorizationPolicies selecting the workload, in name order */
  policies: AuthzPolicyConfig[];
  /**
   * the mesh's trust domain and its aliases (Istio's trust domain bundle), when not the default
   * `cluster.local` alone: policy principals are matched in each of them
   */
  trustDomains?: string[];
}
