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
 *   labels, for hosts its port-80 HTTP servers cover, and no catch-all (unknown host: 404); and a
 *   listener for every other Gateway server port: HTTP servers with their own route
 *   configuration, TCP servers with the bound `tcp[]` routes, TLS PASSTHROUGH servers with `tls[]`;
 * - every service port (./sidecar-ports.ts, ../config/service-ports.ts) gets per instance an
 *   inbound listener and cluster (`inbound|<port>||`), and on every sidecar an outbound listener
 *   bound to it; HTTP-family and detected ports a virtual host each, TCP-family and detected ports
 *   their `tcp[]`/`tls[]` routes (./l4-routes.ts) ending with the service's default route;
 * - clusters: `outbound|<port>||<fqdn>` per service port, `outbound|<port>|<subset>|<fqdn>` per
 *   DestinationRule subset (top-level trafficPolicy overridden by the subset's), with the port's
 *   `protocol`; `inbound|<port>||` per sidecar and port, and PassthroughCluster;
 * - sidecars and the gateway get the RequestAuthentication and AuthorizationPolicy resources
 *   that select them (ProxyConfig.security, enforced by the jwt_authn and rbac filters of a
 *   sidecar's inbound listener and of the gateway's listeners); the gateway is selected by its
 *   labels (meshbox.yaml `ingress.labels`) in its namespace, `istio-system`;
 * - a service's port protocol (`http`, `grpc`, ...) goes into its clusters (outbound and the
 *   sidecars' inbound ones: HTTP/2 upstream for http2/grpc/grpc-web) and its listeners.
 */
import type {
  Destination,
  DestinationRuleSpec,
  GatewayServer,
  GatewaySpec,
  HTTPMatchRequest,
  HTTPRoute,
  TrafficPolicy,
  VirtualServiceSpec,
} from '../config/istio-types.js';
import { parseDuration } from '../config/duration.js';
import type { MeshDefinition, ServiceSpec } from '../config/mesh-types.js';
import type { LoadedResource } from '../config/resource.js';
import type { FaultRecord, FaultSpec } from '../faults/fault-spec.js';
import { describeFault } from '../faults/describe-fault.js';
import { compileRetryPolicy } from '../proxy/upstream/retry-policy.js';
import { inboundSecurityFor, trustDomainBundle } from '../security/authz-compile.js';
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
  TcpRouteEntryConfig,
  VirtualHostConfig,
  WeightedClusterConfig,
  WorkloadMeta,
} from './snapshot.js';
import { hostAliases } from './snapshot.js';
import type { SelectedProtocol } from '../config/protocol-selection.js';
import { portsOf } from '../config/service-ports.js';
import { codecOf } from '../config/protocol-selection.js';
import { defaultL4Route, destinationPort, l4Routes } from './l4-routes.js';
import { blockApplies, labelsMatch, type MatchScope } from './match-scope.js';
import { appPortOf, inboundListenerName, inboundPortOf, serviceListenerName, serviceListenerPortOf } from './sidecar-ports.js';
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
  /**
   * the gateway listener's bound address; `gatewayPorts`: Gateway server port -> the local port
   * it is served on (`meshbox up --gateway-port 31400=41400`), else the same number when free
   */
  ingress: { address: string; port: number; gatewayPorts?: Record<number, number> };
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

/** a service as the data plane knows it: its names and its ports with their protocols */
export function serviceRef(s: ServiceSpec, namespace: string): ServiceRef {
  return {
    name: s.name,
    namespace,
    fqdn: fqdn(s.name, namespace),
    port: s.port,
    ports: portsOf(s).map((p) => ({ port: p.port, ...(p.name ? { name: p.name } : {}), protocol: p.protocol })),
  };
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
    identity: spiffeId('istio-system', GATEWAY_SERVICE_ACCOUNT, mesh.trustDomain),
  };
}

/** a workload's SPIFFE id: its service account (default: the service name) in the mesh namespace and trust domain */
export function workloadIdentity(w: { service: string; serviceAccount?: string }, namespace: string, trustDomain?: string): string {
  return spiffeId(namespace, w.serviceAccount ?? w.service, trustDomain);
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
  const services = new Map(mesh.services.map((s) => [s.name, s]));
  for (const inst of instances) {
    const own = services.get(inst.workload.service);
    (own ? portsOf(own) : [{ port: 80, protocol: 'http' as const }]).forEach((p, i) => {
      out.push({
        name: inboundListenerName(inst.id, p.port, i === 0),
        proxyId: inst.id,
        kind: 'inbound',
        address: '127.0.0.1',
        port: inboundPortOf(inst, p.port, i === 0),
        inboundCluster: inboundClusterKey(inst, p.port, i === 0),
        servicePort: p.port,
        ...protocolField(p.protocol),
      });
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
      portsOf(svc).forEach((p, i) => {
        out.push({
          name: serviceListenerName(inst.id, svc.name, p.port, i === 0),
          proxyId: inst.id,
          kind: 'outbound',
          address: '127.0.0.1',
          port: serviceListenerPortOf(inst, svc.name, p.port, i === 0),
          routeConfig: outboundRouteConfigName(inst),
          boundHost: svc.name,
          servicePort: p.port,
          ...protocolField(p.protocol),
        });
      });
    }
  }
  return out;
}

/** `protocol` on a listener or cluster: absent for http (what it meant before ports had protocols) */
function protocolField(protocol: SelectedProtocol): { protocol?: SelectedProtocol } {
  return protocol === 'http' ? {} : { protocol };
}

function inboundClusterKey(inst: Instance, port: number, first: boolean): string {
  return first ? `${inst.id}|inbound` : `${inst.id}|inbound|${port}`;
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
  const services: ServiceRef[] = mesh.services.map((s) => serviceRef(s, ns));
  // ServiceEntry hosts: services of the registry too (egress), named as declared
  const external = externalServices(input.resources, new Set(services.flatMap((s) => hostAliases(s))));
  const externalRefs = external.map((e) => externalRef(e, e.ports[0]!));
  const resolver = new HostResolver(services, externalRefs);
  const vss = input.resources.filter((r): r is VS => r.kind === 'VirtualService');
  const drs = input.resources.filter((r): r is DR => r.kind === 'DestinationRule');
  const gws = input.resources.filter((r): r is GW => r.kind === 'Gateway');

  const peerAuthn = new PeerAuthenticationResolver(peerAuthentications(input.resources));
  const specOf = new Map(mesh.services.map((s) => [s.name, s]));
  const servicePortOf = (inst: Instance): number => specOf.get(inst.workload.service)?.port ?? 80;
  // PeerAuthentication portLevelMtls names the workload's port: the Service port's targetPort when it has one
  const workloadPortOf = (inst: Instance, port: number): number => {
    const svc = specOf.get(inst.workload.service);
    return (svc ? portsOf(svc).find((p) => p.port === port)?.targetPort : undefined) ?? port;
  };
  const mtlsOf = (inst: Instance, port = servicePortOf(inst)) => peerAuthn.resolve({ namespace: ns, labels: inst.workload.labels, port: workloadPortOf(inst, port) });
  const metaOf = (inst: Instance): WorkloadMeta => ({
    ...workloadMeta(inst.workload.labels, inst.workload.workload, ns, inst.workload.service),
    identity: workloadIdentity(inst.workload, ns, mesh.trustDomain),
  });

  // ---- proxies
  const trustDomains = trustDomainBundle(mesh);
  const gateway: ProxyConfig = { id: GATEWAY_ID, kind: 'gateway', meta: gatewayMeta(mesh) };
  // the gateway enforces the policies selecting its labels in its namespace (istio-system, the root namespace)
  const gatewaySecurity = inboundSecurityFor(input.resources, gateway.meta.labels, gateway.meta.namespace, trustDomains);
  if (gatewaySecurity) gateway.security = gatewaySecurity;
  if (mesh.ingress.gatewayTopology) gateway.gatewayTopology = { numTrustedProxies: mesh.ingress.gatewayTopology.numTrustedProxies };
  const proxies: ProxyConfig[] = [gateway];
  for (const inst of instances) {
    const proxy: ProxyConfig = { id: inst.id, kind: 'sidecar', meta: metaOf(inst) };
    const security = inboundSecurityFor(input.resources, inst.workload.labels, ns, trustDomains);
    if (security) proxy.security = security;
    proxies.push(proxy);
  }

  // ---- clusters: per service port (`outbound|<port>|<subset>|<fqdn>`), endpoints its inbound listeners
  const clusters: Record<string, ClusterConfig> = {};
  const endpointOf = (inst: Instance, port: number, first: boolean): EndpointConfig => ({
    id: inst.id,
    address: '127.0.0.1',
    port: inboundPortOf(inst, port, first),
    healthy: Registry.serving(inst),
    meta: metaOf(inst),
    serverMtls: mtlsOf(inst, port).mode,
  });
  // Several DestinationRules for one host: Istio merges their subsets and keeps the first
  // one's top-level trafficPolicy (the analyzer warns about it).
  const drByService = new Map<string, DR[]>();
  for (const dr of drs) {
    const svc = resolver.resolve(dr.spec.host);
    if (svc) drByService.set(svc.name, [...(drByService.get(svc.name) ?? []), dr]);
  }
  for (const svc of services) {
    const members = instances.filter((i) => i.workload.service === svc.name);
    const rules = drByService.get(svc.name) ?? [];
    const dr = rules[0];
    (svc.ports ?? [{ port: svc.port, protocol: 'unknown' as const }]).forEach((sp, i) => {
      const first = i === 0;
      const ref: ServiceRef = { ...svc, port: sp.port };
      const top = forPort(dr?.spec.trafficPolicy, sp.port);
      const name = `outbound|${sp.port}||${svc.fqdn}`;
      clusters[name] = {
        key: name,
        name,
        kind: 'outbound',
        service: ref,
        endpoints: members.map((m) => endpointOf(m, sp.port, first)),
        ...awaitWhileRestarting(members),
        lb: lbPolicy(top),
        hashPolicy: hashPolicy(top),
        connectTimeoutMs: connectTimeout(top),
        trafficPolicy: top,
        policySource: dr ? `DestinationRule ${dr.metadata.namespace}/${dr.metadata.name}` : undefined,
        tls: upstreamTls(top?.tls, dr ? `DestinationRule ${dr.metadata.namespace}/${dr.metadata.name}` : undefined),
        ...protocolField(sp.protocol),
      };
      const seenSubsets = new Set<string>();
      for (const owner of rules) {
        for (const subset of owner.spec.subsets ?? []) {
          if (seenSubsets.has(subset.name)) continue;
          seenSubsets.add(subset.name);
          const policy = mergePolicy(top, subset.trafficPolicy, sp.port);
          const sname = `outbound|${sp.port}|${subset.name}|${svc.fqdn}`;
          const selected = members.filter((m) => labelsMatch(subset.labels, m.workload.labels));
          clusters[sname] = {
            key: sname,
            name: sname,
            kind: 'outbound',
            service: ref,
            subset: subset.name,
            endpoints: selected.map((m) => endpointOf(m, sp.port, first)),
            ...awaitWhileRestarting(selected),
            lb: lbPolicy(policy),
            hashPolicy: hashPolicy(policy),
            connectTimeoutMs: connectTimeout(policy),
            trafficPolicy: policy,
            policySource: `DestinationRule ${owner.metadata.namespace}/${owner.metadata.name} subset ${subset.name}`,
            tls: upstreamTls(policy?.tls, `DestinationRule ${owner.metadata.namespace}/${owner.metadata.name} subset ${subset.name}`),
            ...protocolField(sp.protocol),
          };
        }
      }
    });
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
    const own = specOf.get(inst.workload.service);
    (own ? portsOf(own) : [{ port: 80, protocol: 'http' as const }]).forEach((p, i) => {
      const key = inboundClusterKey(inst, p.port, i === 0);
      clusters[key] = {
        key,
        name: `inbound|${p.port}||`,
        kind: 'inbound',
        endpoints: [
          {
            id: `${inst.id}/app`,
            address: '127.0.0.1',
            port: appPortOf(inst, i),
            healthy: true,
            meta: workloadMeta(inst.workload.labels, inst.workload.workload, ns, inst.workload.service),
          },
        ],
        lb: 'ROUND_ROBIN',
        connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
        ...protocolField(p.protocol),
      };
    });
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

  // ---- gateway route configs: port 80 (the ingress address) and every other HTTP server port
  routeConfigs[GATEWAY_ROUTE_CONFIG] = {
    name: GATEWAY_ROUTE_CONFIG,
    virtualHosts: gatewayVirtualHosts(gws, vss, mesh, routeCompiler),
  };
  for (const [port, protocol] of gatewayPorts(gws, mesh)) {
    if (protocol !== 'http' || port === 80) continue;
    routeConfigs[gatewayRouteConfigName(port)] = { name: gatewayRouteConfigName(port), virtualHosts: gatewayVirtualHosts(gws, vss, mesh, routeCompiler, port) };
  }

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
  // ---- TCP and TLS routes of the sidecars' per-service listeners (per proxy: sourceLabels)
  const l4Vss = virtualServiceByService(meshVss, resolver, 'l4');
  const l4Cache = new Map<string, Pick<ListenerConfig, 'tcpRoutes' | 'tlsRoutes'>>();
  const l4For = (scope: MatchScope, svc: ServiceRef, port: number, protocol: SelectedProtocol): Pick<ListenerConfig, 'tcpRoutes' | 'tlsRoutes'> => {
    const codec = codecOf(protocol);
    if (codec !== 'tcp' && codec !== 'sniff') return {};
    const vs = l4Vss.get(svc.name);
    const key = `${svc.name}|${port}|${protocol}|${vs ? JSON.stringify(sourceLabelKeysL4.map((k) => scope.labels[k] ?? null)) : ''}`;
    let cached = l4Cache.get(key);
    if (!cached) {
      const tcp = [...(vs ? l4Routes(vs, 'tcp', scope, resolver, port) : []), defaultL4Route(svc, port)];
      cached = protocol === 'tls' || protocol === 'https' ? { tlsRoutes: vs ? l4Routes(vs, 'tls', scope, resolver, port) : [], tcpRoutes: tcp } : { tcpRoutes: tcp };
      l4Cache.set(key, cached);
    }
    return cached;
  };
  const l4Of = (inst: Instance, svc: ServiceRef, port: number, protocol: SelectedProtocol): Pick<ListenerConfig, 'tcpRoutes' | 'tlsRoutes'> =>
    l4For({ gateway: 'mesh', labels: inst.workload.labels, namespace: ns }, svc, port, protocol);
  const sourceLabelKeysL4 = [
    ...new Set(meshVss.flatMap((vs) => [...(vs.spec.tcp ?? []), ...(vs.spec.tls ?? [])].flatMap((r) => (r.match ?? []).flatMap((m) => Object.keys(m.sourceLabels ?? {}))))),
  ].sort();
  const serviceByName = new Map(services.map((sv) => [sv.name, sv]));
  const listeners = [...listenersFor(mesh, instances, input.ingress), ...gatewayServerListeners(gws, vss, mesh, input.ingress, resolver), ...(input.extraListeners ?? [])].map((l) => {
    const inst = byId.get(l.proxyId);
    if (!inst) {
      // a port-forward to a TCP or detected port: the mesh's tcp[] routes, from the gateway's workload
      const svc = l.routeConfig === PORT_FORWARD_ROUTE_CONFIG && l.boundHost ? serviceByName.get(l.boundHost) : undefined;
      return svc && l.servicePort !== undefined ? { ...l, ...l4For({ gateway: 'mesh', labels: mesh.ingress.labels, namespace: ns }, svc, l.servicePort, l.protocol ?? 'http') } : l;
    }
    if (l.kind === 'inbound') return { ...l, mtls: mtlsOf(inst, l.servicePort) };
    const svc = l.boundHost ? serviceByName.get(l.boundHost) : undefined;
    if (svc && l.servicePort !== undefined) return { ...l, ...l4Of(inst, svc, l.servicePort, l.protocol ?? 'http') };
    return l;
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

/** the Host values of one service port: with the port, and bare for the first port */
function serviceDomains(s: ServiceRef, port: number = s.port): string[] {
  return hostAliases(s).flatMap((n) => (port === s.port ? [n, `${n}:${port}`] : [`${n}:${port}`]));
}

/** the ports of a service that HTTP requests reach: HTTP-family ports and detected (unnamed) ones */
function httpPorts(s: ServiceRef): number[] {
  return (s.ports ?? [{ port: s.port, protocol: 'unknown' as const }]).filter((p) => codecOf(p.protocol) === 'http' || codecOf(p.protocol) === 'sniff').map((p) => p.port);
}

/** the first VirtualService bound here for each service, among those with routes of `kind` */
function virtualServiceByService(vss: readonly VS[], resolver: HostResolver, kind: 'http' | 'l4'): Map<string, VS> {
  const out = new Map<string, VS>();
  for (const vs of vss) {
    const has = kind === 'http' ? (vs.spec.http?.length ?? 0) > 0 || (!vs.spec.tcp?.length && !vs.spec.tls?.length) : (vs.spec.tcp?.length ?? 0) > 0 || (vs.spec.tls?.length ?? 0) > 0;
    if (!has) continue;
    for (const host of vs.spec.hosts ?? []) {
      const svc = resolver.resolve(host);
      if (svc && !out.has(svc.name)) out.set(svc.name, vs);
    }
  }
  return out;
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
  const vsForService = virtualServiceByService(vss, resolver, 'http');
  const vsForHost = new Map<string, VS>();
  const extraHosts: Array<{ host: string; vs: VS }> = [];
  const externalHosts = new Set(external.map((e) => e.host));
  for (const vs of vss) {
    for (const host of vs.spec.hosts ?? []) {
      const h = host.toLowerCase();
      if (externalHosts.has(h)) {
        if (!vsForHost.has(h)) vsForHost.set(h, vs);
      } else if (!resolver.resolve(host) && host !== '*') {
        extraHosts.push({ host, vs });
      }
    }
  }
  for (const svc of services) {
    const vs = vsForService.get(svc.name);
    // one virtual host per port HTTP can reach (Istio: a route configuration per port)
    for (const port of httpPorts(svc)) {
      const domains = serviceDomains(svc, port);
      domains.forEach((d) => claimed.add(d));
      out.push({
        name: `${svc.fqdn}:${port}`,
        domains,
        routes: vs ? rc.routes(vs, scope, port) : [rc.defaultRoute(svc, port)],
      });
    }
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

/** what the ingress gateway serves on a Gateway server port */
export type GatewayServerProtocol = 'http' | 'tcp' | 'tls';

/**
 * A Gateway server's protocol as the ingress serves it: HTTP, HTTP2, GRPC and GRPC-WEB through
 * the HTTP connection manager; TCP and MONGO through the TCP proxy; TLS (and HTTPS) with
 * `tls.mode: PASSTHROUGH` routed by SNI without terminating. Other TLS modes need termination,
 * which meshbox does not do: such a server is not served (undefined).
 */
export function gatewayServerProtocol(server: GatewayServer): GatewayServerProtocol | undefined {
  const p = server.port.protocol.toUpperCase();
  if (p === 'HTTP' || p === 'HTTP2' || p === 'GRPC' || p === 'GRPC-WEB') return 'http';
  if (p === 'TCP' || p === 'MONGO') return 'tcp';
  if ((p === 'TLS' || p === 'HTTPS') && server.tls?.mode === 'PASSTHROUGH') return 'tls';
  return undefined;
}

/** the Gateway servers of the ingress (Gateways whose selector matches its labels), by port: the first protocol declared on a port wins */
export function gatewayPorts(gws: readonly GW[], mesh: MeshDefinition): Map<number, GatewayServerProtocol> {
  const out = new Map<number, GatewayServerProtocol>();
  for (const gw of gws.filter((g) => labelsMatch(g.spec.selector, mesh.ingress.labels))) {
    for (const server of gw.spec.servers ?? []) {
      const protocol = gatewayServerProtocol(server);
      if (protocol && !out.has(server.port.number)) out.set(server.port.number, protocol);
    }
  }
  return out;
}

/** the route configuration of the ingress gateway's HTTP servers on `port` */
export function gatewayRouteConfigName(port: number): string {
  return port === 80 ? GATEWAY_ROUTE_CONFIG : `gateway/http.${port}`;
}

function gatewayScope(gw: GW, mesh: MeshDefinition): { names: string[]; scope: MatchScope } {
  const names = [gw.metadata.name, `${gw.metadata.namespace}/${gw.metadata.name}`];
  // the gateway proxy's own namespace, as for a sidecar its workload's
  return { names, scope: { gateway: names[1]!, gatewayNames: names, labels: mesh.ingress.labels, namespace: gatewayMeta(mesh).namespace } };
}

function boundTo(vs: VS, names: string[]): boolean {
  return (vs.spec.gateways ?? []).some((g) => names.includes(g) || names.includes(`${vs.metadata.namespace}/${g}`));
}

function gatewayVirtualHosts(gws: GW[], vss: VS[], mesh: MeshDefinition, rc: RouteCompiler, port = 80): VirtualHostConfig[] {
  const ours = gws.filter((g) => labelsMatch(g.spec.selector, mesh.ingress.labels));
  const out: VirtualHostConfig[] = [];
  const seen = new Set<string>();
  for (const gw of ours) {
    const servers = (gw.spec.servers ?? []).filter((s) => s.port.number === port && gatewayServerProtocol(s) === 'http');
    if (servers.length === 0) continue;
    const { names, scope } = gatewayScope(gw, mesh);
    for (const vs of vss) {
      if (!boundTo(vs, names)) continue;
      for (const host of vs.spec.hosts ?? []) {
        for (const server of servers) {
          let domain: string | undefined;
          if (server.hosts.some((sh) => hostCovered(host, sh))) domain = host;
          else if (host === '*' || host.startsWith('*.')) domain = server.hosts.map((sh) => (sh.includes('/') ? sh.split('/')[1]! : sh)).find((sh) => hostCovered(sh, host));
          if (!domain || seen.has(domain)) continue;
          seen.add(domain);
          out.push({ name: `${domain}:${port}`, domains: [domain], routes: rc.routes(vs, scope, port) });
        }
      }
    }
  }
  return out;
}

/** `tcp[]` (or `tls[]`) routes of the VirtualServices bound to the Gateways serving `port` */
function gatewayL4Routes(gws: GW[], vss: VS[], mesh: MeshDefinition, resolver: HostResolver, port: number, list: 'tcp' | 'tls'): TcpRouteEntryConfig[] {
  const out: TcpRouteEntryConfig[] = [];
  for (const gw of gws.filter((g) => labelsMatch(g.spec.selector, mesh.ingress.labels))) {
    const servers = (gw.spec.servers ?? []).filter((s) => s.port.number === port && gatewayServerProtocol(s) !== 'http');
    if (servers.length === 0) continue;
    const { names, scope } = gatewayScope(gw, mesh);
    for (const vs of vss) {
      if (!boundTo(vs, names)) continue;
      const covered = (vs.spec.hosts ?? []).some((h) => servers.some((sv) => sv.hosts.some((sh) => hostCovered(h, sh) || hostCovered(sh.includes('/') ? sh.split('/')[1]! : sh, h))));
      if (!covered) continue;
      out.push(...l4Routes(vs, list, scope, resolver, port));
    }
  }
  return out;
}

/**
 * The ingress gateway's listeners for its Gateway servers other than HTTP on port 80 (served on
 * the ingress address and port): each on the ingress host, on the same port number (or the one
 * `--gateway-port` maps it to), on a free one when that is taken.
 */
function gatewayServerListeners(gws: GW[], vss: VS[], mesh: MeshDefinition, ingress: CompileInput['ingress'], resolver: HostResolver): ListenerConfig[] {
  const out: ListenerConfig[] = [];
  for (const [port, protocol] of gatewayPorts(gws, mesh)) {
    if (port === 80 && protocol === 'http') continue;
    const mapped = ingress.gatewayPorts?.[port];
    const base: ListenerConfig = {
      name: `${GATEWAY_ID}/${protocol}.${port}`,
      proxyId: GATEWAY_ID,
      kind: 'gateway',
      address: ingress.address,
      port: mapped ?? port,
      servicePort: port,
      ...(mapped === undefined ? { fallbackToFreePort: true } : {}),
    };
    if (protocol === 'http') out.push({ ...base, routeConfig: gatewayRouteConfigName(port) });
    else if (protocol === 'tcp') out.push({ ...base, protocol: 'tcp', tcpRoutes: gatewayL4Routes(gws, vss, mesh, resolver, port, 'tcp') });
    else out.push({ ...base, protocol: 'tls', tlsRoutes: gatewayL4Routes(gws, vss, mesh, resolver, port, 'tls'), tcpRoutes: gatewayL4Routes(gws, vss, mesh, resolver, port, 'tcp') });
  }
  return out;
}

class RouteCompiler {
  constructor(private readonly resolver: HostResolver) {}

  defaultRoute(svc: ServiceRef, port: number = svc.port): RouteEntryConfig {
    const name = `outbound|${port}||${svc.fqdn}`;
    return {
      name: 'default',
      origin: { resource: `default route of ${svc.name}`, index: -1 },
      match: [],
      action: { type: 'route', destinations: [{ clusterKey: name, clusterName: name, host: svc.name, port, weight: 100 }] },
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

  /** `port`: the port the routes serve (a destination without a port goes there when its service has it) */
  routes(vs: VS, scope: MatchScope, port = 80): RouteEntryConfig[] {
    const out: RouteEntryConfig[] = [];
    (vs.spec.http ?? []).forEach((http, index) => {
      const entry = this.route(vs, http, index, scope, port);
      if (entry) out.push(entry);
    });
    return out;
  }

  private scopedMatches(blocks: HTTPMatchRequest[] | undefined, scope: MatchScope): HTTPMatchRequest[] | undefined {
    if (!blocks || blocks.length === 0) return [];
    // Istio's sourceMatchHTTP: a block's own gateways decide alone; otherwise its sourceLabels
    // and sourceNamespace must fit the proxy (a sidecar's workload, or the gateway itself)
    const kept = blocks.filter((b) => blockApplies(b, scope));
    // every block was for other proxies: this route does not exist for this one
    if (kept.length === 0) return undefined;
    return kept.map(({ sourceLabels: _s, sourceNamespace: _n, gateways: _g, ...rest }) => rest);
  }

  private route(vs: VS, http: HTTPRoute, index: number, scope: MatchScope, listenerPort: number): RouteEntryConfig | undefined {
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
      const { clusterName, port } = this.clusterOf(d.destination, listenerPort);
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

  /** a destination's cluster; without `port.number`, the port of the listener the route serves when the service has it (l4-routes.ts destinationPort) */
  private clusterOf(d: Destination, listenerPort?: number): { clusterName: string; port: number } {
    const svc = this.resolver.resolve(d.host);
    const port = d.port?.number ?? (svc ? (listenerPort !== undefined ? destinationPort(svc, listenerPort) : svc.port) : 80);
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
