/**
 * RouteTable: a route configuration (virtual hosts -> ordered routes) compiled for matching.
 *
 *   request -> virtual host (by authority) -> first route whose match blocks accept it -> Route
 *
 * Virtual host selection follows Envoy: exact domain, then the longest `*.suffix` wildcard, then
 * `*`. Domains are compared case-insensitively. Within a virtual host the first matching route
 * wins (VirtualService `http[]` order); a request matching no route gets 404 NR.
 *
 * Built once per snapshot, so a request costs O(matched), not O(routes):
 * - every route's explanation lines (`VirtualService ns/x http[3] (file:line:col): matched ...`)
 *   are built here; a selection hands out those same strings plus a RouteDecision (indexes),
 *   never one string per skipped route;
 * - a RouteIndex keys each route by what all of its match blocks require (an exact uri, a uri
 *   prefix, an exact header); a request only tests the routes its path and headers can reach,
 *   plus the routes that require none of these, in `http[]` order (first match still wins).
 * `explain()` re-runs the match with the reasons for every skipped route, for whoever asks
 * (the TUI's request detail), on the snapshot the request ran on.
 */
import type { RouteConfig, RouteEntryConfig, VirtualHostConfig, WeightedClusterConfig } from '../../control/snapshot.js';
import type { Rng } from '../../rng.js';
import { headerValue } from './request-view.js';
import { matchInput, RequestMatcher, type MatchInput } from './request-matcher.js';
import type { RequestView } from './request-view.js';

interface Pick {
  destination: WeightedClusterConfig;
  why: string;
}

export class Route {
  readonly matchers: RequestMatcher[];
  private readonly totalWeight: number;
  private readonly description: string;
  /** `<where>: matched match[i] (<conditions>)` per block, or the one line of a route without blocks */
  readonly matchedLines: string[];
  private readonly picks: Pick[];
  private readonly evenPicks: Pick[];

  constructor(readonly config: RouteEntryConfig) {
    this.matchers = config.match.map((m) => new RequestMatcher(m));
    const ds = config.action.type === 'route' ? config.action.destinations : [];
    this.totalWeight = ds.reduce((s, d) => s + d.weight, 0);
    const o = config.origin;
    const idx = o.index >= 0 ? ` http[${o.index}]` : '';
    const loc = o.location ? ` (${o.location})` : '';
    this.description = `${o.resource}${idx}${loc}`;
    this.matchedLines =
      this.matchers.length === 0
        ? [`${this.description}: matched (no match conditions)`]
        : this.matchers.map((m, i) => `${this.description}: matched match[${i}] (${m.explain()})`);
    this.picks = ds.map((d) => ({
      destination: d,
      why: ds.length === 1 ? `single destination ${label(d)}` : `weighted pick: ${label(d)} (weight ${d.weight} of ${this.totalWeight})`,
    }));
    this.evenPicks = ds.map((d) => ({ destination: d, why: `weights are all 0: even pick of ${label(d)}` }));
  }

  get name(): string {
    return this.config.name;
  }

  /** where the route is defined: `VirtualService default/x http[1] (rules/x.yaml:12:5)` */
  describe(): string {
    return this.description;
  }

  /**
   * Weighted destination pick, per request (Envoy weighted clusters). Weights are relative
   * (w / sum); when every weight is 0 the destinations share traffic evenly.
   */
  pickDestination(rng: Rng): Pick | undefined {
    const ds = this.picks;
    if (ds.length === 0) return undefined;
    if (ds.length === 1) return ds[0];
    if (this.totalWeight <= 0) return this.evenPicks[rng.int(ds.length)];
    let roll = rng.next() * this.totalWeight;
    for (const p of ds) {
      if (roll < p.destination.weight) return p;
      roll -= p.destination.weight;
    }
    return ds[ds.length - 1];
  }

  /** the first block that accepts the request: its index, -1 for a route without blocks, undefined when none */
  firstMatch(input: MatchInput): number | undefined {
    if (this.matchers.length === 0) return -1;
    for (let i = 0; i < this.matchers.length; i++) if (this.matchers[i]!.test(input)) return i;
    return undefined;
  }

  /** the line for the block `match` (-1: no blocks) */
  matchedLine(match: number): string {
    return this.matchedLines[match < 0 ? 0 : match]!;
  }
}

function label(d: WeightedClusterConfig): string {
  return d.subset ? `${d.host} subset ${d.subset}` : d.host;
}

/**
 * Which routes of a virtual host a request can reach. A route is indexed when every one of its
 * match blocks has a key (uri exact, uri prefix, or else an exact header); a request collects
 * the routes under its keys and the unindexed routes, and tests them in order. A route left out
 * cannot match: each of its blocks requires a key the request does not have.
 */
class RouteIndex {
  /** routes that must always be tested (a block without a key), ascending */
  readonly always: number[] = [];
  private readonly exact = new Map<string, number[]>();
  private readonly exactFolded = new Map<string, number[]>();
  private readonly prefix = new Map<string, number[]>();
  private readonly prefixFolded = new Map<string, number[]>();
  /** the distinct prefix lengths, ascending */
  private prefixLengths: number[] = [];
  private prefixFoldedLengths: number[] = [];
  private readonly headers = new Map<string, Map<string, number[]>>();
  /** every route must be tested (nothing indexed, or too little to win) */
  readonly scanAll: boolean;

  constructor(routes: readonly Route[]) {
    const lengths = new Set<number>();
    const foldedLengths = new Set<number>();
    routes.forEach((route, i) => {
      const keys = route.matchers.map((m) => m.indexKey);
      if (keys.length === 0 || keys.some((k) => k === undefined)) {
        this.always.push(i);
        return;
      }
      const seen = keys.length > 1 ? new Set<string>() : undefined;
      for (const k of keys) {
        if (seen) {
          // a route is listed once under a key, even when several of its blocks share it
          const id = k!.kind === 'header' ? `h\u0000${k!.name}\u0000${k!.value}` : `${k!.kind}\u0000${k!.ignoreCase}\u0000${k!.value}`;
          if (seen.has(id)) continue;
          seen.add(id);
        }
        if (k!.kind === 'exact') add(k!.ignoreCase ? this.exactFolded : this.exact, k!.value, i);
        else if (k!.kind === 'prefix') {
          add(k!.ignoreCase ? this.prefixFolded : this.prefix, k!.value, i);
          (k!.ignoreCase ? foldedLengths : lengths).add(k!.value.length);
        } else {
          let byValue = this.headers.get(k!.name);
          if (!byValue) this.headers.set(k!.name, (byValue = new Map()));
          add(byValue, k!.value, i);
        }
      }
    });
    this.prefixLengths = [...lengths].sort((a, b) => a - b);
    this.prefixFoldedLengths = [...foldedLengths].sort((a, b) => a - b);
    this.scanAll = this.always.length === routes.length;
  }

  /** the indexed routes `input` can match, ascending (the `always` routes come on top) */
  keyed(input: MatchInput): readonly number[] {
    const lists: number[][] = [];
    const path = input.req.path;
    collect(lists, this.exact, input.pathname);
    if (this.exactFolded.size) collect(lists, this.exactFolded, input.pathname.toLowerCase());
    for (const n of this.prefixLengths) {
      if (n > path.length) break;
      collect(lists, this.prefix, path.slice(0, n));
    }
    if (this.prefixFolded.size) {
      const folded = path.toLowerCase();
      for (const n of this.prefixFoldedLengths) {
        if (n > folded.length) break;
        collect(lists, this.prefixFolded, folded.slice(0, n));
      }
    }
    for (const [name, byValue] of this.headers) {
      const v = headerValue(input.req.headers, name);
      if (v !== undefined) collect(lists, byValue, v);
    }
    if (lists.length === 0) return NONE;
    if (lists.length === 1) return lists[0]!;
    const all = lists.flat().sort((a, b) => a - b);
    return all.filter((v, i) => i === 0 || all[i - 1] !== v);
  }
}

const NONE: readonly number[] = [];

function add(map: Map<string, number[]>, key: string, i: number): void {
  const list = map.get(key);
  if (list) list.push(i);
  else map.set(key, [i]);
}

function collect(lists: number[][], map: Map<string, number[]>, key: string): void {
  const found = map.get(key);
  if (found) lists.push(found);
}

export class VirtualHost {
  readonly routes: Route[];
  readonly index: RouteIndex;
  /** `no route of virtual host <name> matched` */
  readonly missLine: string;

  constructor(
    readonly config: VirtualHostConfig,
    /** position in the route configuration */
    readonly position = 0,
    routes?: Route[],
  ) {
    this.routes = routes ?? config.routes.map((r) => new Route(r));
    this.index = new RouteIndex(this.routes);
    this.missLine = `no route of virtual host ${config.name} matched`;
  }
}

/** What the route table decided, as indexes into its configuration (the "why", by reference). */
export interface RouteDecision {
  /** index of the virtual host in the route configuration, -1 when none serves the authority */
  virtualHost: number;
  /** index of the route in the virtual host, -1 when none matched */
  route: number;
  /** the match block that matched, -1 when the route has none (or none matched) */
  match: number;
  /** routes that did not match before the decision (a miss: every route of the virtual host) */
  skipped: number;
}

export interface RouteSelection {
  virtualHost: VirtualHost;
  route: Route;
  /** the match block that matched, or undefined when the route has none */
  matcher?: RequestMatcher;
  /** the matched route's line, built once per snapshot */
  why: string[];
  decision: RouteDecision;
}

export type RouteMiss = { virtualHost?: VirtualHost; why: string[]; decision: RouteDecision };

export class RouteTable {
  private readonly exact = new Map<string, VirtualHost>();
  private readonly suffixes: Array<{ suffix: string; vh: VirtualHost }> = [];
  private catchAll: VirtualHost | undefined;
  readonly virtualHosts: VirtualHost[];

  /** `virtualHosts`: prebuilt (a snapshot applied in slices, see DataPlaneCore.stageRoutes) */
  constructor(
    readonly config: RouteConfig,
    virtualHosts?: VirtualHost[],
  ) {
    this.virtualHosts = virtualHosts ?? config.virtualHosts.map((v, i) => new VirtualHost(v, i));
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

  /** Selects the route for a request: the route, and why by reference (see RouteDecision). */
  select(req: RequestView, authority = req.authority): RouteSelection | RouteMiss {
    const vh = this.findVirtualHost(authority);
    if (!vh) return { why: [`no virtual host for authority "${authority}"`], decision: { virtualHost: -1, route: -1, match: -1, skipped: 0 } };
    const input = matchInput(req);
    const routes = vh.routes;
    const index = vh.index;
    const always = index.always;
    // the routes the request can reach, in order: the keyed ones merged into the `always` ones
    // (disjoint lists), stopping at the first match
    const keyed = index.scanAll ? NONE : index.keyed(input);
    for (let a = 0, b = 0; a < always.length || b < keyed.length; ) {
      const i = b >= keyed.length || (a < always.length && always[a]! < keyed[b]!) ? always[a++]! : keyed[b++]!;
      const route = routes[i]!;
      const match = route.firstMatch(input);
      if (match === undefined) continue;
      return {
        virtualHost: vh,
        route,
        ...(match >= 0 ? { matcher: route.matchers[match] } : {}),
        why: [route.matchedLine(match)],
        decision: { virtualHost: vh.position, route: i, match, skipped: i },
      };
    }
    return { virtualHost: vh, why: [vh.missLine], decision: { virtualHost: vh.position, route: -1, match: -1, skipped: routes.length } };
  }

  /**
   * The reasons of select(), with one line per skipped route (why each did not match): for
   * explanations on demand, never on the request path (it is O(routes) and builds strings).
   */
  explain(req: RequestView, authority = req.authority): string[] {
    const vh = this.findVirtualHost(authority);
    if (!vh) return [`no virtual host for authority "${authority}"`];
    const input = matchInput(req);
    const why: string[] = [];
    for (const route of vh.routes) {
      const match = route.firstMatch(input);
      if (match !== undefined) {
        why.push(route.matchedLine(match));
        return why;
      }
      const failures = route.matchers.map((m, i) => `match[${i}] ${m.firstFailure(input)} did not hold`);
      why.push(`${route.describe()}: skipped, ${failures.join('; ')}`);
    }
    why.push(vh.missLine);
    return why;
  }
}

export function isSelection(r: RouteSelection | RouteMiss): r is RouteSelection {
  return (r as RouteSelection).route !== undefined;
}
