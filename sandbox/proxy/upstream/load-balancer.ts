/**
 * Load balancers (DestinationRule `trafficPolicy.loadBalancer.simple`). Istio's default since
 * 1.14 is LEAST_REQUEST, which Envoy implements with equal weights as "power of two choices":
 * draw two hosts at random (independently, so possibly the same one twice), take the one with
 * fewer active requests.
 *
 * `exclude` carries the hosts already tried by this request (Envoy's previous-hosts retry
 * predicate); it is honoured when another host is available, as Envoy retries host selection.
 */
import type { LbPolicy } from '../../control/snapshot.js';
import type { Rng } from '../../rng.js';
import type { Endpoint } from './endpoint.js';
import { HashRing } from './ring-hash.js';

export interface LoadBalancer {
  readonly policy: LbPolicy;
  /** `hashKey`: the request's consistent-hash key (RING_HASH only) */
  pick(hosts: readonly Endpoint[], rng: Rng, hashKey?: string): Endpoint | undefined;
}

class RoundRobin implements LoadBalancer {
  readonly policy = 'ROUND_ROBIN' as const;
  private cursor = 0;
  pick(hosts: readonly Endpoint[]): Endpoint | undefined {
    if (hosts.length === 0) return undefined;
    const h = hosts[this.cursor % hosts.length];
    this.cursor = (this.cursor + 1) % 1_000_000_007;
    return h;
  }
}

class RandomLb implements LoadBalancer {
  readonly policy = 'RANDOM' as const;
  pick(hosts: readonly Endpoint[], rng: Rng): Endpoint | undefined {
    return hosts.length === 0 ? undefined : hosts[rng.int(hosts.length)];
  }
}

class LeastRequest implements LoadBalancer {
  readonly policy = 'LEAST_REQUEST' as const;
  pick(hosts: readonly Endpoint[], rng: Rng): Endpoint | undefined {
    if (hosts.length <= 1) return hosts[0];
    // Envoy's choice_count 2: two independent draws (the same host may come twice), the first
    // kept unless the second has fewer active requests
    const a = hosts[rng.int(hosts.length)]!;
    const b = hosts[rng.int(hosts.length)]!;
    return b.active < a.active ? b : a;
  }
}

class RingHash implements LoadBalancer {
  readonly policy = 'RING_HASH' as const;
  private readonly ring: HashRing;
  constructor(ringSize: number) {
    this.ring = new HashRing(ringSize);
  }
  pick(hosts: readonly Endpoint[], rng: Rng, hashKey?: string): Endpoint | undefined {
    if (hashKey === undefined) return hosts.length === 0 ? undefined : hosts[rng.int(hosts.length)];
    return this.ring.pick(hosts, hashKey);
  }
}

export const loadBalancers: Record<LbPolicy, (ringSize?: number) => LoadBalancer> = {
  ROUND_ROBIN: () => new RoundRobin(),
  RANDOM: () => new RandomLb(),
  LEAST_REQUEST: () => new LeastRequest(),
  RING_HASH: (ringSize = 1024) => new RingHash(ringSize),
};

export function pickHost(
  lb: LoadBalancer,
  hosts: readonly Endpoint[],
  rng: Rng,
  exclude: ReadonlySet<string> | undefined,
  hashKey?: string,
): Endpoint | undefined {
  // a consistent-hash pick sticks to its host; retries may still move on (Envoy rehashes)
  if (exclude && exclude.size > 0) {
    const fresh = hosts.filter((h) => !exclude.has(h.id));
    if (fresh.length > 0) return lb.pick(fresh, rng, hashKey);
  }
  return lb.pick(hosts, rng, hashKey);
}
