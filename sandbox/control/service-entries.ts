/**
 * ServiceEntry -> the services, clusters and endpoints Istio builds from it, for the snapshot
 * compiler:
 *
 * - every host of an entry (the first entry declaring a host wins; a mesh service's name cannot
 *   be taken over) is a service of the registry: `destination_service` = the host,
 *   `destination_service_namespace` = the entry's namespace; its HTTP ports (HTTP, HTTP2, GRPC,
 *   GRPC-WEB, or no protocol) get a virtual host `<host>:<port>` on every sidecar (domains
 *   `<host>`, `<host>:<port>`) and a cluster `outbound|<port>||<host>`;
 * - endpoints by `resolution`: STATIC the `endpoints` (IPs); DNS / DNS_ROUND_ROBIN the
 *   `endpoints` (names or IPs) or, without any, the host itself, resolved when a connection is
 *   made; NONE none: requests go to the address the caller asked for (Envoy's ORIGINAL_DST);
 *   an endpoint's port is its `ports[<port name>]`, else the port's `targetPort`, else `number`;
 * - endpoints have no sidecar (no workload identity): auto mTLS sends plaintext, a
 *   DestinationRule `tls` (SIMPLE, MUTUAL) originates TLS, with the host as SNI when the rule
 *   gives no `sni` (Istio's auto SNI from the Host the caller used).
 */
import type { ServiceEntrySpec } from '../config/istio-types.js';
import type { LoadedResource } from '../config/resource.js';
import { ROUTED_PROTOCOLS } from '../config/checks/service-entry-checks.js';
import type { EndpointConfig, ServiceRef, WorkloadMeta } from './snapshot.js';

export type Resolution = 'NONE' | 'STATIC' | 'DNS';

export interface ExternalPort {
  number: number;
  name?: string;
  targetPort?: number;
}

export interface ExternalService {
  host: string;
  namespace: string;
  ports: ExternalPort[];
  resolution: Resolution;
  location: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
  endpoints: Array<{ address: string; ports?: Record<string, number>; labels: Record<string, string> }>;
  /** `ServiceEntry default/httpbin-ext (rules/egress.yaml:3:1)` */
  source: string;
}

/** the metadata of an endpoint outside the mesh: no peer, so Istio's labels are `unknown` */
export function externalMeta(labels: Record<string, string>): WorkloadMeta {
  return {
    workload: 'unknown',
    namespace: 'unknown',
    app: 'unknown',
    version: 'unknown',
    service: '',
    canonicalService: 'unknown',
    canonicalRevision: 'latest',
    principal: 'unknown',
    labels,
  };
}

/** The hosts the ServiceEntries declare (their HTTP ports), in file order; `taken`: mesh service FQDNs and aliases. */
export function externalServices(resources: readonly LoadedResource[], taken: ReadonlySet<string>): ExternalService[] {
  const out: ExternalService[] = [];
  const seen = new Set<string>();
  for (const r of resources) {
    if (r.kind !== 'ServiceEntry') continue;
    const spec = r.spec as ServiceEntrySpec;
    const ports = (spec.ports ?? []).filter((p) => p.protocol === undefined || ROUTED_PROTOCOLS.includes(p.protocol.toUpperCase()));
    if (ports.length === 0) continue;
    const raw = spec.resolution ?? 'NONE';
    const resolution: Resolution = raw === 'STATIC' ? 'STATIC' : raw === 'NONE' ? 'NONE' : 'DNS';
    const l = r.source;
    for (const h of spec.hosts ?? []) {
      const host = h.toLowerCase();
      if (seen.has(host) || taken.has(host)) continue;
      // a wildcard host can only be reached at the address the caller asked for
      if (host.startsWith('*') && resolution !== 'NONE' && (spec.endpoints ?? []).length === 0) continue;
      seen.add(host);
      out.push({
        host,
        namespace: r.metadata.namespace,
        ports: ports.map((p) => ({ number: p.number, ...(p.name ? { name: p.name } : {}), ...(p.targetPort ? { targetPort: p.targetPort } : {}) })),
        resolution,
        location: spec.location ?? 'MESH_EXTERNAL',
        endpoints: (spec.endpoints ?? []).filter((e) => e.address).map((e) => ({ address: e.address!, ...(e.ports ? { ports: e.ports } : {}), labels: e.labels ?? {} })),
        source: `ServiceEntry ${r.metadata.namespace}/${r.metadata.name} (${l.file}:${l.line}:${l.col})`,
      });
    }
  }
  return out;
}

export function externalRef(s: ExternalService, port: ExternalPort): ServiceRef {
  return { name: s.host, namespace: s.namespace, fqdn: s.host, port: port.number };
}

/** the endpoints of `s` on `port` (none for NONE: the original destination) */
export function externalEndpoints(s: ExternalService, port: ExternalPort): EndpointConfig[] {
  if (s.resolution === 'NONE') return [];
  const portOf = (e?: { ports?: Record<string, number> }): number => (port.name && e?.ports?.[port.name]) || port.targetPort || port.number;
  const list = s.endpoints.length > 0 ? s.endpoints : [{ address: s.host, labels: {} as Record<string, string> }];
  return list.map((e) => {
    const p = portOf(e);
    return { id: `${e.address}:${p}`, address: e.address, port: p, healthy: true, meta: externalMeta(e.labels) };
  });
}
