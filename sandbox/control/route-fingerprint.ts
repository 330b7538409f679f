/**
 * Fingerprints of route lists (a route configuration's virtual hosts), so that a route list is
 * compiled, shipped to the data plane and built there once, however many sidecars and snapshot
 * versions share it. Computed once per list object (snapshots are immutable), on the main thread.
 */
import { createHash } from 'node:crypto';
import type { VirtualHostConfig } from './snapshot.js';

const cache = new WeakMap<readonly VirtualHostConfig[], string>();

export function routeListFingerprint(virtualHosts: readonly VirtualHostConfig[]): string {
  let fp = cache.get(virtualHosts);
  if (fp === undefined) {
    fp = createHash('sha1').update(JSON.stringify(virtualHosts)).digest('base64url');
    cache.set(virtualHosts, fp);
  }
  return fp;
}

/**
 * Keeps one object per distinct route list across snapshots: a new snapshot's list equal to one
 * of the previous snapshot's is replaced by that one (so history and the data plane reuse it).
 */
export class RouteListInterner {
  private known = new Map<string, VirtualHostConfig[]>();

  /** rewrites `routeConfigs` in place (a snapshot being built) and remembers its lists */
  intern(routeConfigs: Record<string, { virtualHosts: VirtualHostConfig[] }>): void {
    const next = new Map<string, VirtualHostConfig[]>();
    for (const rc of Object.values(routeConfigs)) {
      const fp = routeListFingerprint(rc.virtualHosts);
      const same = next.get(fp) ?? this.known.get(fp);
      if (same) rc.virtualHosts = same;
      next.set(fp, rc.virtualHosts);
    }
    this.known = next;
  }
}
