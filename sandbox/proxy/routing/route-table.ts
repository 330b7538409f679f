/**
 * RouteTable: a route configuration (virtual hosts -> ordered routes) compiled for matching.
 *
 *   request -> virtual host (by authority) -> first route whose match blocks accept it -> Route
 *
 * Virtual host selection follows Envoy: exact domain, then the longest `*.suffix` wildcard, then
 * `*`. Domains are compared case-insensitively. Within a virtual host the first matching route
 * wins (VirtualService `http[]` order); a request matching no route gets 404 NR.
 */
import type { RouteConfig, RouteEntryConfig, VirtualHostConfig, WeightedClusterConfig } from '../../control/snapshot.js';
import type { Rng } from '../../rng.js';
import { RequestMatcher } from './request-matcher.js';
import type { RequestView } from './request-view.js';

export class Route {
  readonly matchers: RequestMatcher[];
  private readonly totalWeight: number;

  constructor(readonly config: RouteEntryConfig) {
    this.matchers = config.match.map((m) => new RequestMatcher(m));
    this.totalWeight =
      config.action.type === 'route' ? config.action.destinations.reduce((s, d) => s + d.weight, 0) : 0;
  }

  get name(): string {
    return this.config.name;
  }

  /** where the route is defined: `VirtualService default/x http[1] (rules/x.yaml:12:5)` */
  describe(): string {
    const o = this.config.origin;
    const idx = o.index >= 0 ? ` http[${o.index}]` : '';
    const loc = o.location ? ` (${o.location})` : '';
    return `${o.resource}${idx}${loc}`;
  }

  /**
   * Weighted destination pick, per request (Envoy weighted clusters). Weights are relative
   * (w / sum); when every weight is 0 the destinations share traffic evenly.
   */
  pickDestination(rng: Rng): { destination: WeightedClusterConfig; why: string } | undefined {
    if (this.config.action.type !== 'route') return undefined;
    const ds = this.config.action.destinations;
    if (ds.length === 0) return undefined;
    if (ds.length === 1) return { destination: ds[0]!, why: `single destination ${label(ds[0]!)}` };
    if (this.totalWeight <= 0) {
      const d = ds[rng.int(ds.length)]!;
      return { destination: d, why: `weights are all 0: even pick of ${label(d)}` };
    }
    let roll = rng.next() * this.totalWeight;
    for (const d of ds) {
      if (roll < d.weight) {
        return { destination: d, why: `weighted pick: ${label(d)} (weight ${d.weight} of ${this.totalWeight})` };
      }
      roll -= d.weight;
    }
    const last = ds[ds.length - 1]!;
    return { destination: last, why: `weighted pick: ${label(last)}` };
  }
}

function label(d: WeightedClusterConfig): string {
  return d.subset ? `${d.host} subset ${d.subset}` : d.host;
}

export class VirtualHost {
  readonly routes: Route[];
  constructor(readonly config: VirtualHostConfig) {
    this.routes = config.routes.map((r) => new Route(r));
  }
}

export interface RouteSelection {
  virtualHost: VirtualHost;
  route: Route;
  /** the match block that matched, or undefined when the route has none */
  matcher?: RequestMatcher;
  why: string[];
}

export type RouteMiss = { virtualHost?: VirtualHost; why: string[] };

export class RouteTable {
  private readonly exact = new Map<string, VirtualHost>();
  private readonly suffixes: Array<{ suffix: string; vh: VirtualHost }> = [];
  private catchAll: VirtualHost | undefined;
  readonly virtualHosts: VirtualHost[];

  constructor(readonly config: RouteConfig) {
    this.virtualHosts = config.virtualHosts.map((v) => new VirtualHost(v));
    for (const vh of this.virtualHosts) {
      for (const domain of vh.config.domains) {
        const d = domain.toLowerCase();
        if (d === '*') this.catchAll ??= vh;
        else if (d.startsWith('*')) this.suffixes.push({ suffix: d.slice(1), vh });
        else if (!this.exact.has(d)) this.exact.set(d, vh);
      }
    }
    this.suffixes.sort((a, b) => b.suffix.length - a.suffix.length);
  }

  findVirtualHost(authority: string): VirtualHost | undefined {
    const host = authority.toLowerCase();
    const bare = host.replace(/:\d+$/, '');
    const exact = this.exact.get(host) ?? this.exact.get(bare);
    if (exact) return exact;
    for (const { suffix, vh } of this.suffixes) if (bare.endsWith(suffix) && bare.length > suffix.length) return vh;
    return this.catchAll;
  }

  /** Selects the route for a request, with the reasons (for the TUI's "why did it go there?"). */
  select(req: RequestView, authority = req.authority): RouteSelection | RouteMiss {
    const vh = this.findVirtualHost(authority);
    if (!vh) return { why: [`no virtual host for authority "${authority}"`] };
    const why: string[] = [];
    for (const route of vh.routes) {
      if (route.matchers.length === 0) {
        why.push(`${route.describe()}: matched (no match conditions)`);
        return { virtualHost: vh, route, why };
      }
      const failures: string[] = [];
      for (let i = 0; i < route.matchers.length; i++) {
        const m = route.matchers[i]!;
        const outcome = m.matches(req);
        if (outcome.matched) {
          why.push(`${route.describe()}: matched match[${i}] (${m.explain()})`);
          return { virtualHost: vh, route, matcher: m, why };
        }
        failures.push(`match[${i}] ${outcome.failed} did not hold`);
      }
      why.push(`${route.describe()}: skipped, ${failures.join('; ')}`);
    }
    why.push(`no route of virtual host ${vh.config.name} matched`);
    return { virtualHost: vh, why };
  }
}

export function isSelection(r: RouteSelection | RouteMiss): r is RouteSelection {
  return (r as RouteSelection).route !== undefined;
}
