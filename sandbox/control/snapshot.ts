/**
 * The data plane's whole configuration at one instant: an immutable, versioned value compiled by
 * the control plane (./compiler.ts) from the mesh definition, the Istio rules and the endpoint
 * registry, and pushed to the data plane worker as plain data (structured clone).
 *
 *   files -> parse/validate -> MeshConfig --+
 *   runtime + health checks -> registry ----+-> compile() -> MeshSnapshot (version N) -> worker
 *
 * Names follow Envoy: listeners own a route configuration (virtual hosts -> routes); routes point
 * at clusters; clusters hold endpoints. A request keeps the snapshot it started with until it ends.
 */
import type { SelectedProtocol } from '../config/protocol-selection.js';
import type { InboundSecurityConfig } from '../security/authz-types.js';
import type { FaultMatch, HttpFaultSpec, ToxicSpec } from '../faults/fault-spec.js';
import type {
  HTTPMatchRequest,
  Headers,
  HTTPRedirect,
  HTTPRewrite,
  HTTPFaultInjection,
  CorsPolicy,
  TrafficPolicy,
} from '../config/istio-types.js';
import type { EffectiveMtlsMode } from '../security/peer-authentication.js';
import type { InboundMtlsConfig, UpstreamTlsConfig } from '../security/tls-settings.js';
import type { ProxyRateLimitConfig } from '../rate-limit/rate-limit-types.js';

/** Workload identity as Istio's metadata exchange carries it (metric labels). */
export interface WorkloadMeta {
  workload: string;
  namespace: string;
  app: string;
  version: string;
  /** the Kubernetes Service this workload backs (short name) or '' for the gateway */
  service: string;
  canonicalService: string;
  canonicalRevision: string;
  principal: string;
  labels: Record<string, string>;
  /** the workload's SPIFFE id (`spiffe://cluster.local/ns/<ns>/sa/<sa>`), the URI SAN of its certificate */
  identity?: string;
}

export interface EndpointConfig {
  /** instance id, e.g. `callme-service-v2-1` */
  id: string;
  /** where mesh traffic for this instance goes: its sidecar's inbound listener */
  address: string;
  port: number;
  healthy: boolean;
  meta: WorkloadMeta;
  /** the PeerAuthentication mode of the endpoint's sidecar on this port (auto mTLS reads it); absent: no sidecar */
  serverMtls?: EffectiveMtlsMode;
}

export type LbPolicy = 'ROUND_ROBIN' | 'RANDOM' | 'LEAST_REQUEST' | 'RING_HASH';

/** DestinationRule `loadBalancer.consistentHash`: where the hash key comes from */
export interface HashPolicy {
  header?: string;
  cookie?: { name: string; path?: string; ttlMs?: number };
  sourceIp?: boolean;
  queryParameter?: string;
  ringSize: number;
}

export interface ServiceRef {
  name: string;
  namespace: string;
  fqdn: string;
  /** the first Service port (on a cluster's `service`: the cluster's own port) */
  port: number;
  /** every Service port, the first one `port` (absent: `port` only, detected per connection) */
  ports?: ServicePortRef[];
}

export interface ServicePortRef {
  port: number;
  name?: string;
  protocol: SelectedProtocol;
}

/** every way a rule or a Host header may name a service: `svc`, `svc.ns`, `svc.ns.svc`, the FQDN */
export function hostAliases(s: ServiceRef): string[] {
  return [s.name, `${s.name}.${s.namespace}`, `${s.name}.${s.namespace}.svc`, s.fqdn];
}

export interface ClusterConfig {
  /** unique key in the snapshot (inbound clusters are per proxy) */
  key: string;
  /** Envoy/Istio cluster name: `outbound|8080|v2|callme-service.default.svc.cluster.local`, `inbound|8080||` */
  name: string;
  kind: 'outbound' | 'inbound' | 'passthrough';
  service?: ServiceRef;
  subset?: string;
  endpoints: EndpointConfig[];
  lb: LbPolicy;
  /** set when lb is RING_HASH */
  hashPolicy?: HashPolicy;
  connectTimeoutMs: number;
  /** the merged DestinationRule policy (top level overridden by the subset's), if any */
  trafficPolicy?: TrafficPolicy;
  /** where the policy came from, for explanations: `DestinationRule default/callme-service-destination` */
  policySource?: string;
  /**
   * Set while meshbox restarts instances of this cluster on purpose (hot reload): a request that
   * finds no healthy endpoint waits up to this long for one to come back (the wait is not counted
   * in its route timeout), instead of answering 503 UH at once.
   */
  awaitEndpointsMs?: number;
  /** outbound clusters: DestinationRule `tls` (per port and subset) or auto mTLS */
  tls?: UpstreamTlsConfig;
  /** the Service port's protocol (../config/protocol-selection.ts): picks HTTP/1.1, HTTP/2 or TCP upstream; absent: http */
  protocol?: SelectedProtocol;
  /** a ServiceEntry's cluster: its hosts are outside the mesh (`external`) or in it without meshbox sidecars (`internal`) */
  external?: 'external' | 'internal';
  /** ServiceEntry resolution NONE: requests go to the address the caller asked for (Envoy ORIGINAL_DST) */
  originalDestination?: boolean;
}

export interface RetryPolicyConfig {
  /** number of retries (max requests = 1 + attempts) */
  attempts: number;
  perTryTimeoutMs: number | null;
  /** Envoy retry_on policies: 5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, ... */
  retryOn: string[];
  retriableStatusCodes: number[];
  retryIgnorePreviousHosts: boolean;
  backoffBaseMs: number;
  /** true when this is Istio's default policy (no `retries` in the VirtualService) */
  isDefault: boolean;
}

export interface WeightedClusterConfig {
  clusterKey: string;
  clusterName: string;
  host: string;
  subset?: string;
  port: number;
  weight: number;
  headers?: Headers;
}

/** VirtualService `mirror`/`mirrors[]`: where a copy of the route's traffic goes (Envoy request_mirror_policies) */
export interface MirrorPolicyConfig {
  clusterKey: string;
  clusterName: string;
  host: string;
  subset?: string;
  port: number;
  /** share of requests copied, 0-100 (absent in the rule: 100) */
  percent: number;
  /** file:line:col of the mirror, when known */
  location?: string;
}

export interface RouteOrigin {
  /** `VirtualService default/callme-service-route`, or `default route` for a service without one */
  resource: string;
  /** index in `http[]`, -1 for generated routes */
  index: number;
  /** file:line:col of the http route, when known */
  location?: string;
}

export type RouteAction =
  | { type: 'route'; destinations: WeightedClusterConfig[] }
  | { type: 'redirect'; redirect: HTTPRedirect }
  | { type: 'directResponse'; status: number; body?: string; bodyBase64?: string };

export interface RouteEntryConfig {
  /** `%ROUTE_NAME%`: the route's name or `default` */
  name: string;
  origin: RouteOrigin;
  /** OR of AND blocks; empty = matches everything. `sourceLabels`/`gateways` already applied. */
  match: HTTPMatchRequest[];
  action: RouteAction;
  rewrite?: HTTPRewrite;
  headers?: Headers;
  /** whole-request deadline; null = disabled (Istio's default) */
  timeoutMs: number | null;
  retry: RetryPolicyConfig;
  fault?: HTTPFaultInjection;
  /** `istio`: before the router (never retried); `upstream`: per attempt (meshbox annotation) */
  faultMode?: 'istio' | 'upstream';
  corsPolicy?: CorsPolicy;
  /** copies of the traffic (route actions only), fire and forget */
  mirrors?: MirrorPolicyConfig[];
  /** a direct response reported as going to this cluster (REGISTRY_ONLY: BlackHoleCluster) */
  statsDestination?: string;
}

export interface VirtualHostConfig {
  name: string;
  /** exact hosts (`callme-service`, `callme-service:8080`), wildcard prefixes (`*.example.com`) or `*` */
  domains: string[];
  routes: RouteEntryConfig[];
}

export interface RouteConfig {
  name: string;
  virtualHosts: VirtualHostConfig[];
}

/**
 * One match block of a VirtualService `tcp[]` or `tls[]` route, as it applies to one proxy:
 * `sourceLabels`, `sourceNamespace` and `gateways` were decided by the compiler (the block exists
 * for this proxy or not); what is left is matched per connection.
 */
export interface L4MatchConfig {
  /** the service port (sidecars) or Gateway server port the connection is addressed to */
  port?: number;
  /** IPs or CIDRs the connection's destination address must fall in */
  destinationSubnets?: string[];
  /** IP or CIDR the connection's source address must fall in */
  sourceSubnet?: string;
  /** tls[] routes: SNI names of the ClientHello (`*.example.com` wildcards) */
  sniHosts?: string[];
}

/** A TCP or TLS route of one listener: the first whose match blocks accept a connection wins. */
export interface TcpRouteEntryConfig {
  origin: RouteOrigin;
  /** `tcp` or `tls`: which list of the VirtualService it comes from (explanations) */
  list: 'tcp' | 'tls';
  /** OR of blocks; empty = every connection */
  match: L4MatchConfig[];
  /** weighted destinations (Envoy tcp_proxy weighted_clusters), picked per connection */
  destinations: WeightedClusterConfig[];
}

export type ListenerKind = 'inbound' | 'outbound' | 'gateway';

export interface ListenerConfig {
  /**
   * unique, stable across snapshots: `<proxyId>/inbound[/<port>]`, `<proxyId>/outbound`,
   * `<proxyId>/outbound/<service>[/<port>]` (../control/sidecar-ports.ts), gateway servers
   * `istio-ingressgateway/<protocol>.<port>`
   */
  name: string;
  proxyId: string;
  kind: ListenerKind;
  address: string;
  /** 0 = let the OS pick (the worker reports the port it got) */
  port: number;
  /** when `port` is taken, bind one the OS picks instead of failing (Gateway server ports) */
  fallbackToFreePort?: boolean;
  /** route configuration name (outbound/gateway); inbound listeners use `inboundCluster` */
  routeConfig?: string;
  /** for per-service outbound listeners: the destination host, whatever the Host header says */
  boundHost?: string;
  /** inbound listeners: the cluster holding the local app */
  inboundCluster?: string;
  /** the Service port the listener stands for (inbound: the app's service port) */
  servicePort?: number;
  /** inbound listeners: PeerAuthentication for the workload port */
  mtls?: InboundMtlsConfig;
  /** the Service port's protocol (../config/protocol-selection.ts); absent: http */
  protocol?: SelectedProtocol;
  /** outbound and gateway listeners of TCP and detected ports: `tcp[]` routes in order (sidecars end with the service's default route) */
  tcpRoutes?: TcpRouteEntryConfig[];
  /** outbound and gateway listeners of TLS ports: `tls[]` routes by SNI (sidecars end with the service's default route) */
  tlsRoutes?: TcpRouteEntryConfig[];
}

export interface ProxyConfig {
  id: string;
  kind: 'sidecar' | 'gateway';
  meta: WorkloadMeta;
  /**
   * the RequestAuthentication and AuthorizationPolicy this proxy's jwt_authn and rbac filters
   * enforce: a sidecar's inbound listener, the gateway's listeners
   */
  security?: InboundSecurityConfig;
  /** the gateway: Istio's gatewayTopology (meshbox.yaml `ingress.gatewayTopology`) */
  gatewayTopology?: { numTrustedProxies: number };
  /** EnvoyFilter local rate limits: the filters inserted into this proxy's chains, per-route settings */
  rateLimit?: ProxyRateLimitConfig;
}

/** A meshbox fault resolved to the instances it hits. */
export interface CompiledFault {
  name: string;
  summary: string;
  /** only requests from this source workload */
  source?: string;
  /** instance ids of the targeted endpoints */
  endpoints: string[];
  match?: FaultMatch;
  http?: HttpFaultSpec;
  toxics?: ToxicSpec[];
}

export interface MeshSnapshot {
  version: number;
  createdAt: string;
  namespace: string;
  /** the mesh's services (destination metadata, host aliases) */
  services: ServiceRef[];
  /** ServiceEntry hosts, one per port (destination metadata; named exactly as declared) */
  external?: ServiceRef[];
  proxies: ProxyConfig[];
  listeners: ListenerConfig[];
  routeConfigs: Record<string, RouteConfig>;
  clusters: Record<string, ClusterConfig>;
  faults: CompiledFault[];
  /** tracing: sampling per proxy and custom tags (absent: tracing off) */
  tracing?: TracingConfig;
}

/** What the Telemetry resources and `--trace-sampling` decide (sandbox/telemetry/tracing/sampling.ts). */
export interface TracingConfig {
  /** mesh-wide random sampling percentage (0-100) for requests that start a trace */
  samplingPercent: number;
  /** proxy id -> percentage, from Telemetry resources that select a workload or a namespace */
  byProxy?: Record<string, number>;
  /** proxy id ('*' for all) -> tag name -> how to fill it */
  customTags?: Record<string, Record<string, CustomTagConfig>>;
}

export type CustomTagConfig = { literal: string } | { header: string; defaultValue?: string } | { environment: string; defaultValue?: string };
