/**
 * Snapshot compiler: mesh definition + applied Istio resources + registry -> MeshSnapshot.
 * Pure: the same inputs always give the same snapshot (except `createdAt`).
 *
 * What Istio's pilot does for each proxy, in small:
 * - sidecars get one virtual host per mesh service (domains: every way to write the host, with
 *   and without port) routed by the first VirtualService bound to `mesh` for that host, or a
 *   default route to all of the service's endpoints; VirtualService hosts that are not services
 *   get their own virtual host; `*` goes to PassthroughCluster (outboundTrafficPolicy ALLOW_ANY);
 * - `sourceLabels` and match-level `gateways` decide which proxies get a match block;
 * - the ingress gateway gets the VirtualServices bound to a Gateway whose selector matches its
 *   labels, for hosts its port-80 HTTP servers cover, and no catch-all (unknown host: 404);
 * - clusters: `outbound|<port>||<fqdn>` per service, `outbound|<port>|<subset>|<fqdn>` per
 *   DestinationRule subset (top-level trafficPolicy overridden by the subset's), `inbound|<port>||`
 *   per sidecar, and PassthroughCluster;
 * - sidecars get the RequestAuthentication and AuthorizationPolicy resources that select them
 *   (ProxyConfig.security, enforced by their inbound jwt_authn and rbac filters);
 * - a service's port protocol (`http`, `grpc`, ...) goes into its clusters (outbound and the
 *   sidecars' inbound ones: HTTP/2 upstream for http2/grpc/grpc-web) and its listeners.
 */
import type {
  Destination,
  DestinationRuleSpec,
  GatewaySpec,
  HTTPMatchRequest,
  HTTPRoute,
  TrafficPolicy,
  VirtualServiceSpec,
} from '../config/istio-types.js';
import { parseDuration } from '../config/duration.js';
import type { MeshDefinition } from '../config/mesh-types.js';
import type { SelectedProtocol } from '../config/protocol-selection.js';
import type { LoadedResource } from '../config/resource.js';
import type { FaultRecord, FaultSpec } from '../faults/fault-spec.js';
import { describeFault } from '../faults/describe-fault.js';
import { compileRetryPolicy } from '../proxy/upstream/retry-policy.js';
import { inboundSecurityFor } from '../security/authz-compile.js';
import { Registry, type Instance } from './registry.js';
import type {
  ClusterConfig,
  CompiledFault,
  HashPolicy,
  EndpointConfig,
  LbPolicy,
  ListenerConfig,
  MeshSnapshot,
  MirrorPolicyConfig,
  ProxyConfig,
  RouteConfig,
  RouteEntryConfig,
  ServiceRef,
  VirtualHostConfig,
  WeightedClusterConfig,
  WorkloadMeta,
} from './snapshot.js';
import { hostAliases } from './snapshot.js';
import { spiffeId } from '../security/identity.js';
import { PeerAuthenticationResolver, type PeerAuthenticationPolicy, type PeerAuthenticationSpec } from '../security/peer-authentication.js';
import { upstreamTls } from '../security/tls-settings.js';
import { compileTracing, type TracingDefaults } from '../telemetry/tracing/telemetry-resource.js';
import { compileRateLimits } from '../rate-limit/rate-limit-compile.js';
import { externalEndpoints, externalRef, externalServices, type ExternalService } from './service-entries.js';

export const GATEWAY_ID = 'istio-ingressgateway';
/**
 * VirtualService annotation: `"true"` makes the route's `fault` act per upstream attempt, like
 * the upstream misbehaving: the route's timeout and retries stay on, a delay counts against them
 * and an abort is retried per `retryOn` (Istio turns them off and never retries an abort).
 */
export const FAULT_AS_UPSTREAM_ANNOTATION = 'meshbox.dev/fault-as-upstream';
export const GATEWAY_ROUTE_CONFIG = 'gateway/http.80';
/** the mesh routes (`gateways: [mesh]` VirtualServices) as the ingress gateway's workload sees them: port-forward listeners use it */
export const PORT_FORWARD_ROUTE_CONFIG = `outbound/${GATEWAY_ID}`;
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
/** REGISTRY_ONLY: what requests to unknown hosts are reported as going to */
export const BLACK_HOLE_CLUSTER = 'BlackHoleCluster';
const BLACK_HOLE_VHOST = 'block_all';
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** how long a request waits for an endpoint of a cluster whose instances meshbox is restarting */
export const RESTART_WAIT_MS = 10_000;

export interface CompileInput {
  version: number;
  mesh: MeshDefinition;
  resources: readonly LoadedResource[];
  instances: readonly Instance[];
  /** the gateway listener's bound address */
  ingress: { address: string; port: number };
  /** runtime faults (faults from rule files come with `resources`) */
  runtimeFaults?: readonly FaultRecord[];
  /** listeners added at runtime (`meshbox port-forward`), kept across snapshots */
  extraListeners?: readonly ListenerConfig[];
  /** tracing defaults (`--trace-sampling`); absent: tracing off; Telemetry resources refine it */
  tracing?: TracingDefaults;
}

/** Fault resources of the rule files as records (with their location). */
export function fileFaults(resources: readonly LoadedResource[]): FaultRecord[] {
  return resources
    .filter((r): r is LoadedResource<'Fault', FaultSpec> => r.kind === 'Fault')
    .map((r) => ({
      name: r.metadata.name,
      spec: { ...r.spec, name: r.metadata.name },
      origin: 'file' as const,
      source: `${r.source.file}:${r.source.line}:${r.source.col}`,
      createdAt: 0,
    }));
}

type VS = LoadedResource<'VirtualService', VirtualServiceSpec>;
type DR = LoadedResource<'DestinationRule', DestinationRuleSpec>;
type GW = LoadedResource<'Gateway', GatewaySpec>;

export function fqdn(name: string, namespace: string): string {
  return `${name}.${namespace}.svc.cluster.local`;
}

export function workloadMeta(labels: Record<string, string>, workload: string, namespace: string, service: string): WorkloadMeta {
  return {
    workload,
    namespace,
    app: labels['app'] ?? 'unknown',
    version: labels['version'] ?? 'unknown',
    service,
    canonicalService: labels['service.istio.io/canonical-name'] ?? labels['app.kubernetes.io/name'] ?? labels['app'] ?? workload,
    canonicalRevision: labels['service.istio.io/canonical-revision'] ?? labels['app.kubernetes.io/version'] ?? labels['version'] ?? 'latest',
    principal: 'unknown',
    labels,
  };
}

/** the ingress gateway's service account, as Istio installs it */
export const GATEWAY_SERVICE_ACCOUNT = 'istio-ingressgateway-service-account';

export function gatewayMeta(mesh: MeshDefinition): WorkloadMeta {
  return {
    ...workloadMeta(mesh.ingress.labels, GATEWAY_ID, 'istio-system', ''),
    app: GATEWAY_ID,
    version: 'unknown',
    identity: spiffeId('istio-system', GATEWAY_SERVICE_ACCOUNT),
  };
}

/** a workload's SPIFFE id: its service account (default: the service name) in the mesh namespace */
export function workloadIdentity(w: { service: string; serviceAccount?: string }, namespace: string): string {
  return spiffeId(namespace, w.serviceAccount ?? w.service);
}

/** the PeerAuthentication resources, for the resolver (file order decides between equals) */
export function peerAuthentications(resources: readonly LoadedResource[]): PeerAuthenticationPolicy[] {
  return resources
    .filter((r) => r.kind === 'PeerAuthentication')
    .map((r) => ({
      name: r.metadata.name,
      namespace: r.metadata.namespace,
      spec: (r.spec ?? {}) as PeerAuthenticationSpec,
      location: `${r.source.file}:${r.source.line}:${r.source.col}`,
    }));
}

function labelsMatch(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

/** Resolves a host as written in a rule (`callme-service`, `callme-service.default`, FQDN). */
export class HostResolver {
  private readonly byAlias = new Map<string, ServiceRef>();
  constructor(
    readonly services: ServiceRef[],
    /** ServiceEntry hosts: named exactly as declared (no short forms) */
    external: readonly ServiceRef[] = [],
  ) {
    for (const s of services) for (const a of hostAliases(s)) this.byAlias.set(a, s);
    for (const s of external) if (!this.byAlias.has(s.fqdn)) this.byAlias.set(s.fqdn, s);
  }
  resolve(host: string): ServiceRef | undefined {
    return this.byAlias.get(host);
  }
}

/** Listeners of the sandbox; ports come from the registry (0 until bound). */
export function listenersFor(mesh: MeshDefinition, instances: readonly Instance[], ingress: { address: string; port: number }): ListenerConfig[] {
  const out: ListenerConfig[] = [
    {
      name: `${GATEWAY_ID}/http.80`,
      proxyId: GATEWAY_ID,
      kind: 'gateway',
      address: ingress.address,
      port: ingress.port,
      routeConfig: GATEWAY_ROUTE_CONFIG,
      servicePort: 80,
    },
  ];
  const servicePorts = new Map(mesh.services.map((s) => [s.name, s.port]));
  const protocols = new Map(mesh.services.map((s) => [s.name, s.protocol]));
  for (const inst of instances) {
    out.push({
      name: `${inst.id}/inbound`,
      proxyId: inst.id,
      kind: 'inbound',
      address: '127.0.0.1',
      port: inst.sidecar.inbound,
      inboundCluster: inboundClusterKey(inst),
      servicePort: servicePorts.get(inst.workload.service) ?? 80,
      ...protocolField(protocols.get(inst.workload.service)),
    });
    out.push({
      name: `${inst.id}/outbound`,
      proxyId: inst.id,
      kind: 'outbound',
      address: '127.0.0.1',
      port: inst.sidecar.outbound,
      routeConfig: outboundRouteConfigName(inst),
    });
    for (const svc of mesh.services) {
      out.push({
        name: `${inst.id}/outbound/${svc.name}`,
        proxyId: inst.id,
        kind: 'outbound',
        address: '127.0.0.1',
        port: inst.sidecar.services[svc.name] ?? 0,
        routeConfig: outboundRouteConfigName(inst),
        boundHost: svc.name,
        servicePort: svc.port,
        ...protocolField(svc.protocol),
      });
    }
  }
  return out;
}

/** a listener's or cluster's `protocol`, left out for plain `http` (the default) */
function protocolField(protocol: SelectedProtocol | undefined): { protocol?: SelectedProtocol } {
  return protocol && protocol !== 'http' ? { protocol } : {};
}

function inboundClusterKey(inst: Instance): string {
  return `${inst.id}|inbound`;
}

function outboundRouteConfigName(inst: Instance): string {
  return `outbound/${inst.id}`;
}

function hashPolicy(tp: TrafficPolicy | undefined): HashPolicy | undefined {
  const ch = tp?.loadBalancer?.consistentHash;
  if (!ch) return undefined;
  return {
    header: ch.httpHeaderName?.toLowerCase(),
    cookie: ch.httpCookie ? { name: ch.httpCookie.name, path: ch.httpCookie.path, ttlMs: ch.httpCookie.ttl ? parseDuration(ch.httpCookie.ttl) : undefined } : undefined,
    sourceIp: ch.useSourceIp,
    queryParameter: ch.httpQueryParameterName,
    ringSize: ch.ringHash?.minimumRingSize ?? ch.minimumRingSize ?? 1024,
  };
}

function lbPolicy(tp: TrafficPolicy | undefined): LbPolicy {
  if (tp?.loadBalancer?.consistentHash) return 'RING_HASH';
  const simple = tp?.loadBalancer?.simple;
  if (simple === 'ROUND_ROBIN' || simple === 'RANDOM') return simple;
  return 'LEAST_REQUEST';
}

/** the policy fields a subset or a portLevelSettings entry replaces, each as a whole */
const POLICY_FIELDS = ['loadBalancer', 'connectionPool', 'outlierDetection', 'tls', 'tunnel', 'proxyProtocol', 'retryBudget'] as const;

/** `policy` with its portLevelSettings for `port` applied (they replace the fields they set) */
function forPort(policy: TrafficPolicy | undefined, port: number): TrafficPolicy | undefined {
  if (!policy?.portLevelSettings?.length) return policy;
  const { portLevelSettings, ...out } = policy;
  const own = portLevelSettings.find((p) => p.port?.number === port);
  for (const f of POLICY_FIELDS) if (own?.[f] !== undefined) (out as Record<string, unknown>)[f] = own[f];
  return out;
}

/**
 * Istio's MergeTrafficPolicy for a subset on a port: the top-level policy (its port-level
 * settings for the port applied), then each field the subset sets replaces the top-level one as a
 * whole, then the subset's own port-level settings for the port.
 */
function mergePolicy(top: TrafficPolicy | undefined, subset: TrafficPolicy | undefined, port: number): TrafficPolicy | undefined {
  const base = forPort(top, port);
  if (!subset) return base;
  const merged: TrafficPolicy = { ...base };
  for (const f of POLICY_FIELDS) if (subset[f] !== undefined) (merged as Record<string, unknown>)[f] = subset[f];
  if (subset.portLevelSettings) merged.portLevelSettings = subset.portLevelSettings;
  return forPort(merged, port);
}

function connectTimeout(tp: TrafficPolicy | undefined): number {
  const d = tp?.connectionPool?.tcp?.connectTimeout;
  return d ? parseDuration(d) : DEFAULT_CONNECT_TIMEOUT_MS;
}

/** hot reload: while meshbox restarts a cluster's instances, requests wait for one instead of 503 UH */
function awaitWhileRestarting(members: readonly Instance[]): Pick<ClusterConfig, 'awaitEndpointsMs'> {
  return members.some((m) => m.restarting) ? { awaitEndpointsMs: RESTART_WAIT_MS } : {};
}

function loc(r: LoadedResource, path: Array<string | number>): string {
  const l = r.locate(path);
  return `${l.file}:${l.line}:${l.col}`;
}

export function compile(input: CompileInput): MeshSnapshot {
  const { mesh, instances } = input;
  const ns = mesh.namespace;
  const services: ServiceRef[] = mesh.services.map((s) => ({ name: s.name, namespace: ns, fqdn: fqdn(s.name, ns), port: s.port }));
  // ServiceEntry hosts: services of the registry too (egress), named as declared
  const external = externalServices(input.resources, new Set(services.flatMap((s) => hostAliases(s))));
  const externalRefs = external.map((e) => externalRef(e, e.ports[0]!));
  const resolver = new HostResolver(services, externalRefs);
  const vss = input.resources.filter((r): r is VS => r.kind === 'VirtualService');
  const drs = input.resources.filter((r): r is DR => r.kind === 'DestinationRule');
  const gws = input.resources.filter((r): r is GW => r.kind === 'Gateway');

  const peerAuthn = new PeerAuthenticationResolver(peerAuthentications(input.resources));
  const servicePortOf = (inst: Instance): number => mesh.services.find((s) => s.name === inst.workload.service)?.port ?? 80;
  const mtlsOf = (inst: Instance) => peerAuthn.resolve({ namespace: ns, labels: inst.workload.labels, port: servicePortOf(inst) });
  const metaOf = (inst: Instance): WorkloadMeta => ({
    ...workloadMeta(inst.workload.labels, inst.workload.workload, ns, inst.workload.service),
    identity: workloadIdentity(inst.workload, ns),
  });

  // ---- proxies
  const proxies: ProxyConfig[] = [{ id: GATEWAY_ID, kind: 'gateway', meta: gatewayMeta(mesh) }];
  for (const inst of instances) {
    const proxy: ProxyConfig = { id: inst.id, kind: 'sidecar', meta: metaOf(inst) };
    const security = inboundSecurityFor(input.resources, inst.workload.labels, ns);
    if (security) proxy.security = security;
    proxies.push(proxy);
  }

  // ---- clusters
  const clusters: Record<string, ClusterConfig> = {};
  const endpointOf = (inst: Instance): EndpointConfig => ({
    id: inst.id,
    address: '127.0.0.1',
    port: inst.sidecar.inbound,
    healthy: Registry.serving(inst),
    meta: metaOf(inst),
    serverMtls: mtlsOf(inst).mode,
  });
  // Several DestinationRules for one host: Istio merges their subsets and keeps the first
  // one's top-level trafficPolicy (the analyzer warns about it).
  const drByService = new Map<string, DR[]>();
  for (const dr of drs) {
    const svc = resolver.resolve(dr.spec.host);
    if (svc) drByService.set(svc.name, [...(drByService.get(svc.name) ?? []), dr]);
  }
  const protocolOfService = new Map(mesh.services.map((s) => [s.name, s.protocol]));
  for (const svc of services) {
    const protocol = protocolField(protocolOfService.get(svc.name));
    const members = instances.filter((i) => i.workload.service === svc.name);
    const rules = drByService.get(svc.name) ?? [];
    const dr = rules[0];
    const top = forPort(dr?.spec.trafficPolicy, svc.port);
    const name = `outbound|${svc.port}||${svc.fqdn}`;
    clusters[name] = {
      key: name,
      name,
      kind: 'outbound',
      service: svc,
      endpoints: members.map(endpointOf),
      ...awaitWhileRestarting(members),
      lb: lbPolicy(top),
      hashPolicy: hashPolicy(top),
      connectTimeoutMs: connectTimeout(top),
      trafficPolicy: top,
      policySource: dr ? `DestinationRule ${dr.metadata.namespace}/${dr.metadata.name}` : undefined,
      tls: upstreamTls(top?.tls, dr ? `DestinationRule ${dr.metadata.namespace}/${dr.metadata.name}` : undefined),
      ...protocol,
    };
    const seenSubsets = new Set<string>();
    for (const owner of rules) {
      for (const subset of owner.spec.subsets ?? []) {
        if (seenSubsets.has(subset.name)) continue;
        seenSubsets.add(subset.name);
        const policy = mergePolicy(top, subset.trafficPolicy, svc.port);
        const sname = `outbound|${svc.port}|${subset.name}|${svc.fqdn}`;
        clusters[sname] = {
          key: sname,
          name: sname,
          kind: 'outbound',
          service: svc,
          subset: subset.name,
          endpoints: members.filter((m) => labelsMatch(subset.labels, m.workload.labels)).map(endpointOf),
          ...awaitWhileRestarting(members.filter((m) => labelsMatch(subset.labels, m.workload.labels))),
          lb: lbPolicy(policy),
          hashPolicy: hashPolicy(policy),
          connectTimeoutMs: connectTimeout(policy),
          trafficPolicy: policy,
          policySource: `DestinationRule ${owner.metadata.namespace}/${owner.metadata.name} subset ${subset.name}`,
          tls: upstreamTls(policy?.tls, `DestinationRule ${owner.metadata.namespace}/${owner.metadata.name} subset ${subset.name}`),
          ...protocol,
        };
      }
    }
  }
  for (const ext of external) {
    const rules = drs.filter((d) => d.spec.host.toLowerCase() === ext.host);
    const dr = rules[0];
    for (const port of ext.ports) {
      const ref = externalRef(ext, port);
      const endpoints = externalEndpoints(ext, port);
      const top = forPort(dr?.spec.trafficPolicy, port.number);
      const source = dr ? `DestinationRule ${dr.metadata.namespace}/${dr.metadata.name}` : undefined;
      const base = { kind: 'outbound' as const, service: ref, ...(ext.resolution === 'NONE' ? { originalDestination: true } : {}), external: ext.location === 'MESH_EXTERNAL' ? 'external' as const : 'internal' as const };
      const name = `outbound|${port.number}||${ext.host}`;
      clusters[name] = {
        key: name,
        name,
        ...base,
        endpoints,
        lb: lbPolicy(top),
        hashPolicy: hashPolicy(top),
        connectTimeoutMs: connectTimeout(top),
        trafficPolicy: top,
        policySource: source ?? ext.source,
        tls: upstreamTls(top?.tls, source),
      };
      const seenSubsets = new Set<string>();
      for (const owner of rules) {
        for (const subset of owner.spec.subsets ?? []) {
          if (seenSubsets.has(subset.name)) continue;
          seenSubsets.add(subset.name);
          const policy = mergePolicy(dr?.spec.trafficPolicy, subset.trafficPolicy, port.number);
          const sname = `outbound|${port.number}|${subset.name}|${ext.host}`;
          const subsetSource = `DestinationRule ${owner.metadata.namespace}/${owner.metadata.name} subset ${subset.name}`;
          clusters[sname] = {
            key: sname,
            name: sname,
            ...base,
            subset: subset.name,
            endpoints: endpoints.filter((e) => labelsMatch(subset.labels, e.meta.labels)),
            lb: lbPolicy(policy),
            hashPolicy: hashPolicy(policy),
            connectTimeoutMs: connectTimeout(policy),
            trafficPolicy: policy,
            policySource: subsetSource,
            tls: upstreamTls(policy?.tls, subsetSource),
          };
        }
      }
    }
  }
  for (const inst of instances) {
    const key = inboundClusterKey(inst);
    const port = mesh.services.find((s) => s.name === inst.workload.service)?.port ?? 80;
    clusters[key] = {
      key,
      name: `inbound|${port}||`,
      kind: 'inbound',
      endpoints: [
        {
          id: `${inst.id}/app`,
          address: '127.0.0.1',
          port: inst.appPort,
          healthy: true,
          meta: workloadMeta(inst.workload.labels, inst.workload.workload, ns, inst.workload.service),
        },
      ],
      lb: 'ROUND_ROBIN',
      connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
      ...protocolField(protocolOfService.get(inst.workload.service)),
    };
  }
  clusters[PASSTHROUGH_CLUSTER] = {
    key: PASSTHROUGH_CLUSTER,
    name: PASSTHROUGH_CLUSTER,
    kind: 'passthrough',
    endpoints: [],
    lb: 'ROUND_ROBIN',
    connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
  };

  const routeCompiler = new RouteCompiler(resolver);
  const outboundPolicy = mesh.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY';

  // ---- sidecar route configs (per proxy: sourceLabels make them differ)
  const routeConfigs: Record<string, RouteConfig> = {};
  const meshVss = vss.filter((vs) => !vs.spec.gateways || vs.spec.gateways.length === 0 || vs.spec.gateways.includes('mesh'));
  // Sidecars whose routes cannot differ (the same values of every label a `sourceLabels` names)
  // share one route list: it is compiled, shipped to the data plane and built there once.
  const sourceLabelKeys = [
    ...new Set(meshVss.flatMap((vs) => (vs.spec.http ?? []).flatMap((h) => (h.match ?? []).flatMap((m) => Object.keys(m.sourceLabels ?? {}))))),
  ].sort();
  const sharedRoutes = new Map<string, VirtualHostConfig[]>();
  for (const inst of instances) {
    const key = JSON.stringify(sourceLabelKeys.map((k) => inst.workload.labels[k] ?? null));
    let virtualHosts = sharedRoutes.get(key);
    if (!virtualHosts) {
      const scope: MatchScope = { gateway: 'mesh', labels: inst.workload.labels, namespace: ns };
      virtualHosts = sidecarVirtualHosts(meshVss, services, external, resolver, routeCompiler, scope, outboundPolicy);
      sharedRoutes.set(key, virtualHosts);
    }
    routeConfigs[outboundRouteConfigName(inst)] = { name: outboundRouteConfigName(inst), virtualHosts };
  }

  // ---- port-forward listeners: mesh routing from the gateway's workload (no Gateway resource)
  if ((input.extraListeners ?? []).some((l) => l.routeConfig === PORT_FORWARD_ROUTE_CONFIG)) {
    const scope: MatchScope = { gateway: 'mesh', labels: mesh.ingress.labels, namespace: ns };
    routeConfigs[PORT_FORWARD_ROUTE_CONFIG] = {
      name: PORT_FORWARD_ROUTE_CONFIG,
      virtualHosts: sidecarVirtualHosts(meshVss, services, external, resolver, routeCompiler, scope, outboundPolicy),
    };
  }

  // ---- gateway route config
  routeConfigs[GATEWAY_ROUTE_CONFIG] = {
    name: GATEWAY_ROUTE_CONFIG,
    virtualHosts: gatewayVirtualHosts(gws, vss, mesh, routeCompiler),
  };

  // ---- EnvoyFilter local rate limits: filters in the proxies' chains, per-route settings
  compileRateLimits({
    envoyFilters: input.resources.filter((r) => r.kind === 'EnvoyFilter'),
    proxies,
    servicePortOf: (id) => {
      const inst = instances.find((i) => i.id === id);
      return inst ? servicePortOf(inst) : undefined;
    },
    routeConfigOf: (id, context) => routeConfigs[context === 'gateway' ? GATEWAY_ROUTE_CONFIG : `outbound/${id}`],
  });

  // ---- faults: each resolved to the instances it hits
  const faults: CompiledFault[] = [];
  for (const f of [...fileFaults(input.resources), ...(input.runtimeFaults ?? [])]) {
    if ((f.spec as { disabled?: boolean }).disabled) continue;
    const { service, subset, source } = f.spec.target;
    const subsetLabels = subset
      ? ((drByService.get(service) ?? []).flatMap((d) => d.spec.subsets ?? []).find((s) => s.name === subset)?.labels ?? { version: subset })
      : {};
    const endpoints = instances.filter((i) => i.workload.service === service && labelsMatch(subsetLabels, i.workload.labels)).map((i) => i.id);
    faults.push({ name: f.name, summary: describeFault(f.spec), source, endpoints, match: f.spec.match, http: f.spec.http, toxics: f.spec.toxics });
  }

  const byId = new Map(instances.map((i) => [i.id, i]));
  const listeners = [...listenersFor(mesh, instances, input.ingress), ...(input.extraListeners ?? [])].map((l) => {
    const inst = l.kind === 'inbound' ? byId.get(l.proxyId) : undefined;
    return inst ? { ...l, mtls: mtlsOf(inst) } : l;
  });
  return {
    version: input.version,
    createdAt: new Date().toISOString(),
    namespace: ns,
    services,
    ...(externalRefs.length ? { external: external.flatMap((e) => e.ports.map((p) => externalRef(e, p))) } : {}),
    proxies,
    listeners,
    routeConfigs,
    clusters,
    faults,
    ...(input.tracing ? { tracing: compileTracing(input.tracing, input.resources, proxies) } : {}),
  };
}

interface MatchScope {
  /** `mesh` for sidecars, `<ns>/<name>` and `<name>` of the gateway otherwise */
  gateway: string;
  gatewayNames?: string[];
  labels: Record<string, string>;
  namespace: string;
}

function serviceDomains(s: ServiceRef): string[] {
  return hostAliases(s).flatMap((n) => [n, `${n}:${s.port}`]);
}

function sidecarVirtualHosts(
  vss: VS[],
  services: ServiceRef[],
  external: readonly ExternalService[],
  resolver: HostResolver,
  rc: RouteCompiler,
  scope: MatchScope,
  outboundPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY',
): VirtualHostConfig[] {
  const out: VirtualHostConfig[] = [];
  const claimed = new Set<string>();
  const vsForService = new Map<string, VS>();
  const vsForHost = new Map<string, VS>();
  const extraHosts: Array<{ host: string; vs: VS }> = [];
  const externalHosts = new Set(external.map((e) => e.host));
  for (const vs of vss) {
    for (const host of vs.spec.hosts ?? []) {
      const h = host.toLowerCase();
      const svc = externalHosts.has(h) ? undefined : resolver.resolve(host);
      if (svc) {
        if (!vsForService.has(svc.name)) vsForService.set(svc.name, vs);
      } else if (externalHosts.has(h)) {
        if (!vsForHost.has(h)) vsForHost.set(h, vs);
      } else if (host !== '*') {
        extraHosts.push({ host, vs });
      }
    }
  }
  for (const svc of services) {
    const vs = vsForService.get(svc.name);
    const domains = serviceDomains(svc);
    domains.forEach((d) => claimed.add(d));
    out.push({
      name: `${svc.fqdn}:${svc.port}`,
      domains,
      routes: vs ? rc.routes(vs, scope) : [rc.defaultRoute(svc)],
    });
  }
  // ServiceEntry hosts, per HTTP port: the host alone goes to its first port
  for (const ext of external) {
    const vs = vsForHost.get(ext.host);
    for (const port of ext.ports) {
      const domains = [ext.host, `${ext.host}:${port.number}`].filter((d) => !claimed.has(d));
      if (domains.length === 0) continue;
      domains.forEach((d) => claimed.add(d));
      out.push({
        name: `${ext.host}:${port.number}`,
        domains,
        routes: vs ? rc.routes(vs, scope) : [rc.defaultRoute(externalRef(ext, port))],
      });
    }
  }
  for (const { host, vs } of extraHosts) {
    if (claimed.has(host)) continue;
    claimed.add(host);
    out.push({ name: host, domains: [host], routes: rc.routes(vs, scope) });
  }
  // outboundTrafficPolicy: unknown hosts pass through (ALLOW_ANY) or get 502 (REGISTRY_ONLY)
  out.push(
    outboundPolicy === 'REGISTRY_ONLY'
      ? { name: BLACK_HOLE_VHOST, domains: ['*'], routes: [rc.blackholeRoute()] }
      : { name: 'allow_any', domains: ['*'], routes: [rc.passthroughRoute()] },
  );
  return out;
}

/** `*.example.com` covers `a.example.com`; `*` covers everything */
export function hostCovered(host: string, serverHost: string): boolean {
  const sh = serverHost.includes('/') ? serverHost.split('/')[1]! : serverHost;
  if (sh === '*' || sh === host) return true;
  if (sh.startsWith('*.')) {
    const suffix = sh.slice(1);
    if (host.startsWith('*.')) return host.slice(1).endsWith(suffix);
    return host.endsWith(suffix) && host.length > suffix.length;
  }
  return false;
}

function gatewayVirtualHosts(gws: GW[], vss: VS[], mesh: MeshDefinition, rc: RouteCompiler): VirtualHostConfig[] {
  const ours = gws.filter((g) => labelsMatch(g.spec.selector, mesh.ingress.labels));
  const out: VirtualHostConfig[] = [];
  const seen = new Set<string>();
  for (const gw of ours) {
    const servers = (gw.spec.servers ?? []).filter((s) => s.port.number === 80 && ['HTTP', 'HTTP2', 'GRPC'].includes(s.port.protocol.toUpperCase()));
    if (servers.length === 0) continue;
    const names = [gw.metadata.name, `${gw.metadata.namespace}/${gw.metadata.name}`];
    // the gateway proxy's own namespace, as for a sidecar its workload's
    const scope: MatchScope = { gateway: names[1]!, gatewayNames: names, labels: mesh.ingress.labels, namespace: gatewayMeta(mesh).namespace };
    for (const vs of vss) {
      if (!(vs.spec.gateways ?? []).some((g) => names.includes(g) || names.includes(`${vs.metadata.namespace}/${g}`))) continue;
      for (const host of vs.spec.hosts ?? []) {
        for (const server of servers) {
          let domain: string | undefined;
          if (server.hosts.some((sh) => hostCovered(host, sh))) domain = host;
          else if (host === '*' || host.startsWith('*.')) domain = server.hosts.map((sh) => (sh.includes('/') ? sh.split('/')[1]! : sh)).find((sh) => hostCovered(sh, host));
          if (!domain || seen.has(domain)) continue;
          seen.add(domain);
          out.push({ name: `${domain}:80`, domains: [domain], routes: rc.routes(vs, scope) });
        }
      }
    }
  }
  return out;
}

class RouteCompiler {
  constructor(private readonly resolver: HostResolver) {}

  defaultRoute(svc: ServiceRef): RouteEntryConfig {
    const name = `outbound|${svc.port}||${svc.fqdn}`;
    return {
      name: 'default',
      origin: { resource: `default route of ${svc.name}`, index: -1 },
      match: [],
      action: { type: 'route', destinations: [{ clusterKey: name, clusterName: name, host: svc.name, port: svc.port, weight: 100 }] },
      timeoutMs: null,
      retry: compileRetryPolicy(undefined, parseDuration),
    };
  }

  /** Istio's REGISTRY_ONLY catch-all: virtual host and route `block_all`, a direct 502 (reported as BlackHoleCluster) */
  blackholeRoute(): RouteEntryConfig {
    return {
      name: BLACK_HOLE_VHOST,
      origin: { resource: 'outboundTrafficPolicy REGISTRY_ONLY', index: -1 },
      match: [],
      action: { type: 'directResponse', status: 502 },
      statsDestination: BLACK_HOLE_CLUSTER,
      timeoutMs: null,
      retry: compileRetryPolicy(undefined, parseDuration),
    };
  }

  passthroughRoute(): RouteEntryConfig {
    return {
      name: 'allow_any',
      origin: { resource: 'outboundTrafficPolicy ALLOW_ANY', index: -1 },
      match: [],
      action: {
        type: 'route',
        destinations: [{ clusterKey: PASSTHROUGH_CLUSTER, clusterName: PASSTHROUGH_CLUSTER, host: PASSTHROUGH_CLUSTER, port: 80, weight: 100 }],
      },
      timeoutMs: null,
      retry: compileRetryPolicy(undefined, parseDuration),
    };
  }

  routes(vs: VS, scope: MatchScope): RouteEntryConfig[] {
    const out: RouteEntryConfig[] = [];
    (vs.spec.http ?? []).forEach((http, index) => {
      const entry = this.route(vs, http, index, scope);
      if (entry) out.push(entry);
    });
    return out;
  }

  private scopedMatches(blocks: HTTPMatchRequest[] | undefined, scope: MatchScope): HTTPMatchRequest[] | undefined {
    if (!blocks || blocks.length === 0) return [];
    // Istio's sourceMatchHTTP: a block's own gateways decide alone; otherwise its sourceLabels
    // and sourceNamespace must fit the proxy (a sidecar's workload, or the gateway itself)
    const kept = blocks.filter((b) => {
      if (b.gateways && b.gateways.length > 0) {
        const names = scope.gateway === 'mesh' ? ['mesh'] : (scope.gatewayNames ?? []);
        return b.gateways.some((g) => names.includes(g));
      }
      return labelsMatch(b.sourceLabels, scope.labels) && (!b.sourceNamespace || b.sourceNamespace === scope.namespace);
    });
    // every block was for other proxies: this route does not exist for this one
    if (kept.length === 0) return undefined;
    return kept.map(({ sourceLabels: _s, sourceNamespace: _n, gateways: _g, ...rest }) => rest);
  }

  private route(vs: VS, http: HTTPRoute, index: number, scope: MatchScope): RouteEntryConfig | undefined {
    const match = this.scopedMatches(http.match, scope);
    if (match === undefined) return undefined;
    const origin = {
      resource: `VirtualService ${vs.metadata.namespace}/${vs.metadata.name}`,
      index,
      location: loc(vs, ['spec', 'http', index]),
    };
    const hasFault = http.fault !== undefined && (http.fault.abort !== undefined || http.fault.delay !== undefined);
    // meshbox extension (an annotation, so the file still applies to a cluster): the fault acts
    // like the upstream misbehaving, so timeouts and retries stay on and see it
    const asUpstream = hasFault && vs.metadata.annotations?.[FAULT_AS_UPSTREAM_ANNOTATION] === 'true';
    const faultOff = hasFault && !asUpstream;
    const base = {
      name: http.name ?? 'default',
      origin,
      match,
      rewrite: http.rewrite,
      headers: http.headers,
      // Istio: timeouts and retries are off on a route with a client-side fault.
      // Istio: a route with a client-side fault has its timeout and retries off
      timeoutMs: !faultOff && http.timeout ? parseDuration(http.timeout) || null : null,
      retry: faultOff ? { ...compileRetryPolicy(http.retries, parseDuration), attempts: 0 } : compileRetryPolicy(http.retries, parseDuration),
      fault: hasFault ? http.fault : undefined,
      faultMode: asUpstream ? 'upstream' : 'istio',
      corsPolicy: http.corsPolicy,
    } satisfies Omit<RouteEntryConfig, 'action'>;
    if (http.redirect) return { ...base, action: { type: 'redirect', redirect: http.redirect } };
    if (http.directResponse) {
      return {
        ...base,
        action: {
          type: 'directResponse',
          status: http.directResponse.status,
          body: http.directResponse.body?.string,
          bodyBase64: http.directResponse.body?.bytes,
        },
      };
    }
    const ds = http.route ?? [];
    const destinations: WeightedClusterConfig[] = ds.map((d) => {
      const { clusterName, port } = this.clusterOf(d.destination);
      return {
        clusterKey: clusterName,
        clusterName,
        host: d.destination.host,
        subset: d.destination.subset,
        port,
        weight: d.weight ?? (ds.length === 1 ? 100 : 0),
        headers: d.headers,
      };
    });
    const mirrors = this.mirrors(vs, http, index);
    return { ...base, ...(mirrors.length ? { mirrors } : {}), action: { type: 'route', destinations } };
  }

  private clusterOf(d: Destination): { clusterName: string; port: number } {
    const svc = this.resolver.resolve(d.host);
    const port = d.port?.number ?? svc?.port ?? 80;
    return { clusterName: `outbound|${port}|${d.subset ?? ''}|${svc?.fqdn ?? d.host}`, port };
  }

  /**
   * Istio's mirror policies: `mirror` with `mirrorPercentage` (absent: 100%), or each of
   * `mirrors[]` with its own `percentage`; a 0% mirror gets no policy at all.
   */
  private mirrors(vs: VS, http: HTTPRoute, index: number): MirrorPolicyConfig[] {
    const list: Array<{ destination: Destination; percent: number; path: Array<string | number> }> = [];
    if (http.mirror) list.push({ destination: http.mirror, percent: http.mirrorPercentage?.value ?? 100, path: ['spec', 'http', index, 'mirror'] });
    (http.mirrors ?? []).forEach((m, j) => list.push({ destination: m.destination, percent: m.percentage?.value ?? 100, path: ['spec', 'http', index, 'mirrors', j] }));
    return list
      .filter((m) => m.percent > 0)
      .map((m) => {
        const { clusterName, port } = this.clusterOf(m.destination);
        return {
          clusterKey: clusterName,
          clusterName,
          host: m.destination.host,
          subset: m.destination.subset,
          port,
          percent: Math.min(100, m.percent),
          location: loc(vs, m.path),
        };
      });
  }
}
