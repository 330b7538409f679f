/**
 * How a snapshot reaches the data plane without stalling it (issue #10.12): the route lists
 * (the big part: a 5,000-route VirtualService is ~16 MB of route configuration per sidecar)
 * travel apart from the rest, by fingerprint.
 *
 *   main thread                                   data plane
 *   for each route list the data plane lacks:
 *     stage(slice of <= SLICE_ROUTES routes) ──>  builds those Routes (matchers, index keys, lines)
 *     <── ack                                      and returns to its requests in between
 *   apply(snapshot without route lists,
 *         config name -> fingerprint)       ──>  assembles the RouteTables, swaps in one assignment
 *
 * A list the data plane already holds (unchanged since the last snapshot, or shared by several
 * sidecars) is sent once, or not at all: an endpoint or health change costs no route work.
 */
import { routeListFingerprint } from '../control/route-fingerprint.js';
import type { MeshSnapshot, RouteEntryConfig, VirtualHostConfig } from '../control/snapshot.js';
import type { SnapshotAck } from './data-plane-core.js';

/** routes per staged message: small enough that building them is a short task */
export const SLICE_ROUTES = 200;

/** A slice of one virtual host of one route list. */
export interface RouteSlice {
  fingerprint: string;
  /** virtual hosts in the list */
  virtualHosts: number;
  /** this slice's virtual host: position (-1: the list has none), name, domains, route count */
  virtualHost: number;
  name: string;
  domains: string[];
  total: number;
  /** index of the slice's first route in the virtual host */
  offset: number;
  routes: RouteEntryConfig[];
}

/** A snapshot whose route configurations are references to staged route lists. */
export interface ShippedSnapshot {
  /** `routeConfigs` is empty */
  snapshot: MeshSnapshot;
  /** route configuration name -> fingerprint of its route list */
  routeRefs: Record<string, string>;
  /**
   * the proxies this data plane runs (a worker of several: ./data-plane.ts); it keeps clusters
   * for them only. Absent: every proxy of the snapshot.
   */
  owned?: string[];
}

export function* routeSlices(fingerprint: string, vhs: readonly VirtualHostConfig[], size = SLICE_ROUTES): Generator<RouteSlice> {
  if (vhs.length === 0) yield { fingerprint, virtualHosts: 0, virtualHost: -1, name: '', domains: [], total: 0, offset: 0, routes: [] };
  for (let v = 0; v < vhs.length; v++) {
    const vh = vhs[v]!;
    for (let offset = 0; offset === 0 || offset < vh.routes.length; offset += size) {
      yield { fingerprint, virtualHosts: vhs.length, virtualHost: v, name: vh.name, domains: vh.domains, total: vh.routes.length, offset, routes: vh.routes.slice(offset, offset + size) };
    }
  }
}

export interface ShipTarget {
  stage(slice: RouteSlice): Promise<void>;
  applyShipped(shipped: ShippedSnapshot): Promise<SnapshotAck>;
}

/** Main-thread side: remembers which route lists the data plane holds. */
export class SnapshotShipper {
  private held = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly target: ShipTarget) {}

  /** ships snapshots one after the other, in the order given; `owned`: see ShippedSnapshot */
  ship(snapshot: MeshSnapshot, owned?: string[]): Promise<SnapshotAck> {
    const run = this.queue.then(() => this.shipNow(snapshot, owned));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async shipNow(snapshot: MeshSnapshot, owned: string[] | undefined): Promise<SnapshotAck> {
    const routeRefs: Record<string, string> = {};
    const missing = new Map<string, readonly VirtualHostConfig[]>();
    for (const [name, rc] of Object.entries(snapshot.routeConfigs)) {
      const fp = routeListFingerprint(rc.virtualHosts);
      routeRefs[name] = fp;
      if (!this.held.has(fp)) missing.set(fp, rc.virtualHosts);
    }
    try {
      for (const [fp, vhs] of missing) for (const slice of routeSlices(fp, vhs)) await this.target.stage(slice);
      const ack = await this.target.applyShipped({ snapshot: { ...snapshot, routeConfigs: {} }, routeRefs, ...(owned ? { owned } : {}) });
      this.held = new Set(Object.values(routeRefs));
      return ack;
    } catch (e) {
      // what the data plane holds is unknown now: the next snapshot ships every list
      this.held = new Set();
      throw e;
    }
  }
}
