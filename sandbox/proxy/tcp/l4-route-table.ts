/**
 * A listener's `tcp[]` / `tls[]` routes, matched per connection (Envoy: one filter chain per
 * route, matched on destination address, source address and SNI; then tcp_proxy's weighted
 * clusters). The first route with a block that accepts the connection wins; `tls[]` routes are
 * tried before `tcp[]` ones, as Istio orders their filter chains.
 */
import type { L4MatchConfig, ListenerConfig, TcpRouteEntryConfig, WeightedClusterConfig } from '../../control/snapshot.js';
import type { Rng } from '../../rng.js';
import { ipMatches } from '../../security/authz-matcher.js';

export interface L4Connection {
  /** the address the client connected to */
  localAddress: string;
  remoteAddress: string;
  /** the ClientHello's server name (TLS listeners) */
  sni?: string;
}

export interface L4Selection {
  route: TcpRouteEntryConfig;
  destination: WeightedClusterConfig;
  /** why, in words: the route and block that matched, the weighted pick */
  why: string[];
}

/** Envoy's server_names: exact, or `*.suffix` matching any name ending in `.suffix` */
export function sniMatches(pattern: string, sni: string | undefined): boolean {
  if (sni === undefined) return false;
  const p = pattern.toLowerCase();
  if (p === '*') return true;
  if (p.startsWith('*.')) return sni.endsWith(p.slice(1)) && sni.length > p.length - 1;
  return p === sni;
}

function blockMatches(m: L4MatchConfig, c: L4Connection): boolean {
  if (m.destinationSubnets && !m.destinationSubnets.some((s) => ipMatches(s, c.localAddress))) return false;
  if (m.sourceSubnet && !ipMatches(m.sourceSubnet, c.remoteAddress)) return false;
  if (m.sniHosts && !m.sniHosts.some((h) => sniMatches(h, c.sni))) return false;
  return true;
}

function describe(m: L4MatchConfig): string {
  const parts: string[] = [];
  if (m.port !== undefined) parts.push(`port ${m.port}`);
  if (m.sniHosts) parts.push(`sniHosts ${m.sniHosts.join(',')}`);
  if (m.destinationSubnets) parts.push(`destinationSubnets ${m.destinationSubnets.join(',')}`);
  if (m.sourceSubnet) parts.push(`sourceSubnet ${m.sourceSubnet}`);
  return parts.join(', ') || 'any connection';
}

function where(r: TcpRouteEntryConfig): string {
  const o = r.origin;
  return `${o.resource}${o.index >= 0 ? ` ${r.list}[${o.index}]` : ''}${o.location ? ` (${o.location})` : ''}`;
}

function label(d: WeightedClusterConfig): string {
  return d.subset ? `${d.host} subset ${d.subset}` : d.host;
}

/** Envoy weighted clusters: share w / sum; all weights 0 share evenly */
export function pickWeighted(ds: readonly WeightedClusterConfig[], rng: Rng): { destination: WeightedClusterConfig; why: string } | undefined {
  if (ds.length === 0) return undefined;
  if (ds.length === 1) return { destination: ds[0]!, why: `single destination ${label(ds[0]!)}` };
  const total = ds.reduce((s, d) => s + d.weight, 0);
  if (total <= 0) {
    const d = ds[rng.int(ds.length)]!;
    return { destination: d, why: `weights are all 0: even pick of ${label(d)}` };
  }
  let roll = rng.next() * total;
  for (const d of ds) {
    if (roll < d.weight) return { destination: d, why: `weighted pick: ${label(d)} (weight ${d.weight} of ${total})` };
    roll -= d.weight;
  }
  const last = ds[ds.length - 1]!;
  return { destination: last, why: `weighted pick: ${label(last)} (weight ${last.weight} of ${total})` };
}

export class L4RouteTable {
  readonly routes: readonly TcpRouteEntryConfig[];

  constructor(listener: Pick<ListenerConfig, 'tcpRoutes' | 'tlsRoutes'>) {
    this.routes = [...(listener.tlsRoutes ?? []), ...(listener.tcpRoutes ?? [])];
  }

  select(c: L4Connection, rng: Rng): L4Selection | { why: string[] } {
    for (const route of this.routes) {
      // a tls[] route needs an SNI; a tcp[] route on a TLS listener takes any connection its blocks accept
      const i = route.match.length === 0 ? (route.list === 'tls' ? -2 : -1) : route.match.findIndex((m) => blockMatches(m, c));
      if (i === -2 || (i < 0 && route.match.length > 0)) continue;
      const picked = pickWeighted(route.destinations, rng);
      const matched = i < 0 ? `${where(route)}: matched (no match conditions)` : `${where(route)}: matched match[${i}] (${describe(route.match[i]!)})`;
      if (!picked) return { why: [matched, 'the route has no destination'] };
      return { route, destination: picked.destination, why: [matched, picked.why] };
    }
    const sni = c.sni !== undefined ? ` (SNI ${c.sni})` : '';
    return { why: [`no tcp/tls route matches the connection to ${c.localAddress}${sni}`] };
  }
}

const tables = new WeakMap<ListenerConfig, L4RouteTable>();

/** the route table of a listener config (built once per snapshot's config object) */
export function l4RouteTableOf(listener: ListenerConfig): L4RouteTable {
  let t = tables.get(listener);
  if (!t) tables.set(listener, (t = new L4RouteTable(listener)));
  return t;
}
