/**
 * VirtualService `tcp[]` and `tls[]` routes as one listener applies them (Istio builds a filter
 * chain per route for each TCP/TLS listener; Envoy's tcp_proxy, with weighted clusters):
 *
 * - a match block whose `sourceLabels`/`sourceNamespace`/`gateways` do not fit the proxy, or whose
 *   `port` is not the listener's, does not exist for it; a route left without blocks is dropped;
 * - what remains (`destinationSubnets`, `sourceSubnet`, `sniHosts`) is matched per connection;
 * - a destination without `port` goes to the destination service's only port, else to the
 *   listener's port when the service has it, else to its first port;
 * - a sidecar's listener ends with the service's default route (`outbound|<port>||<fqdn>`): a
 *   connection no route takes goes to the service, as Istio's default TCP filter chain does.
 */
import type { RouteDestination, TCPRoute, TLSRoute, VirtualServiceSpec } from '../config/istio-types.js';
import type { LoadedResource } from '../config/resource.js';
import { blockApplies, type MatchScope } from './match-scope.js';
import type { L4MatchConfig, ServiceRef, TcpRouteEntryConfig, WeightedClusterConfig } from './snapshot.js';

type VS = LoadedResource<'VirtualService', VirtualServiceSpec>;

export interface HostLookup {
  resolve(host: string): ServiceRef | undefined;
}

/** the port a destination without `port.number` is sent to */
export function destinationPort(svc: ServiceRef | undefined, listenerPort: number): number {
  const ports = svc?.ports?.map((p) => p.port) ?? (svc ? [svc.port] : []);
  if (ports.length === 1) return ports[0]!;
  if (ports.includes(listenerPort)) return listenerPort;
  return svc?.port ?? listenerPort;
}

export function weightedDestinations(route: readonly RouteDestination[], hosts: HostLookup, listenerPort: number): WeightedClusterConfig[] {
  return route.map((d) => {
    const svc = hosts.resolve(d.destination.host);
    const port = d.destination.port?.number ?? destinationPort(svc, listenerPort);
    const host = svc?.fqdn ?? d.destination.host;
    const clusterName = `outbound|${port}|${d.destination.subset ?? ''}|${host}`;
    return {
      clusterKey: clusterName,
      clusterName,
      host: d.destination.host,
      ...(d.destination.subset ? { subset: d.destination.subset } : {}),
      port,
      weight: d.weight ?? (route.length === 1 ? 100 : 0),
    };
  });
}

function location(vs: VS, path: Array<string | number>): string {
  const l = vs.locate(path);
  return `${l.file}:${l.line}:${l.col}`;
}

/** the routes of `vs.spec[list]` that exist for this proxy and listener port */
export function l4Routes(vs: VS, list: 'tcp' | 'tls', scope: MatchScope, hosts: HostLookup, listenerPort: number): TcpRouteEntryConfig[] {
  const routes: Array<TCPRoute | TLSRoute> = (list === 'tcp' ? vs.spec.tcp : vs.spec.tls) ?? [];
  const out: TcpRouteEntryConfig[] = [];
  routes.forEach((r, index) => {
    const blocks = r.match ?? [];
    let match: L4MatchConfig[] = [];
    if (blocks.length > 0) {
      const kept = blocks.filter((b) => blockApplies(b, scope) && (b.port === undefined || b.port === listenerPort));
      if (kept.length === 0) return;
      match = kept.map((b) => {
        const m: L4MatchConfig = {};
        if (b.port !== undefined) m.port = b.port;
        if (b.destinationSubnets?.length) m.destinationSubnets = [...b.destinationSubnets];
        const source = (b as { sourceSubnet?: string }).sourceSubnet;
        if (source) m.sourceSubnet = source;
        const sni = (b as { sniHosts?: string[] }).sniHosts;
        if (sni?.length) m.sniHosts = [...sni];
        return m;
      });
    }
    out.push({
      origin: { resource: `VirtualService ${vs.metadata.namespace}/${vs.metadata.name}`, index, location: location(vs, ['spec', list, index]) },
      list,
      match,
      destinations: weightedDestinations(r.route ?? [], hosts, listenerPort),
    });
  });
  return out;
}

/** a sidecar listener's last route: the service's own cluster on that port */
export function defaultL4Route(svc: ServiceRef, port: number): TcpRouteEntryConfig {
  const name = `outbound|${port}||${svc.fqdn}`;
  return {
    origin: { resource: `default route of ${svc.name}`, index: -1 },
    list: 'tcp',
    match: [],
    destinations: [{ clusterKey: name, clusterName: name, host: svc.name, port, weight: 100 }],
  };
}
