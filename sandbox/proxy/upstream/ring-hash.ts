/**
 * Consistent hashing (DestinationRule `consistentHash`, Envoy's ring hash): each host gets
 * ringSize / hosts points on a 32-bit ring; a request's key hashes to the first point at or after
 * it. Adding or removing a host moves only the keys that belonged to it. A request without a key
 * (the header is absent) gets a random host, as in Envoy.
 */
import type { Endpoint } from './endpoint.js';

/** FNV-1a, 32 bit, then an avalanche mix so nearby keys spread around the ring */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class HashRing {
  private points = new Uint32Array(0);
  private owners: Endpoint[] = [];
  private signature = '';

  constructor(private readonly ringSize: number) {}

  private build(hosts: readonly Endpoint[]): void {
    const sig = hosts.map((h) => h.id).join('|');
    if (sig === this.signature) return;
    this.signature = sig;
    const per = Math.max(1, Math.ceil(this.ringSize / Math.max(1, hosts.length)));
    const entries: Array<[number, Endpoint]> = [];
    for (const h of hosts) for (let i = 0; i < per; i++) entries.push([hash32(`${h.id}_${i}`), h]);
    entries.sort((a, b) => a[0] - b[0]);
    this.points = Uint32Array.from(entries.map((e) => e[0]));
    this.owners = entries.map((e) => e[1]);
  }

  pick(hosts: readonly Endpoint[], key: string): Endpoint | undefined {
    if (hosts.length === 0) return undefined;
    this.build(hosts);
    const h = hash32(key);
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === this.points.length ? 0 : lo];
  }
}
