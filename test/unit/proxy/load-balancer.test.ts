/**
 * The load balancers of a cluster (DestinationRule `trafficPolicy.loadBalancer`), with a seeded
 * RNG and statistical tolerances: Envoy's ROUND_ROBIN, RANDOM, LEAST_REQUEST (power of two
 * choices) and ring hash (consistentHash).
 */
import { describe, expect, it } from 'vitest';
import { Endpoint } from '../../../sandbox/proxy/upstream/endpoint.js';
import { loadBalancers, pickHost } from '../../../sandbox/proxy/upstream/load-balancer.js';
import { Rng } from '../../../sandbox/rng.js';

const host = (id: string, active = 0): Endpoint => {
  const e = new Endpoint({
    id,
    address: '127.0.0.1',
    port: 1,
    healthy: true,
    meta: { workload: id, namespace: 'default', app: 'a', version: 'v1', service: 'a', canonicalService: 'a', canonicalRevision: 'v1', principal: 'unknown', labels: {} },
  });
  e.active = active;
  return e;
};

const hosts = (n: number): Endpoint[] => Array.from({ length: n }, (_, i) => host(`h${i}`));

function counts(picks: Array<Endpoint | undefined>): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of picks) m.set(p!.id, (m.get(p!.id) ?? 0) + 1);
  return m;
}

/** Pearson's chi-square statistic of observed counts against equal expected counts */
function chiSquareUniform(observed: number[]): number {
  const total = observed.reduce((a, b) => a + b, 0);
  const expected = total / observed.length;
  return observed.reduce((s, o) => s + (o - expected) ** 2 / expected, 0);
}

// chi-square critical values at p = 0.001 (a seeded run either passes or fails every time)
const CHI2_P001 = { 3: 16.27, 4: 18.47 } as const;

describe('ROUND_ROBIN', () => {
  it('cycles through the hosts in order', () => {
    const lb = loadBalancers.ROUND_ROBIN();
    const hs = hosts(3);
    const rng = new Rng(1);
    expect(Array.from({ length: 7 }, () => lb.pick(hs, rng)!.id)).toEqual(['h0', 'h1', 'h2', 'h0', 'h1', 'h2', 'h0']);
    expect(lb.pick([], rng)).toBeUndefined();
  });
});

describe('RANDOM', () => {
  it('spreads uniformly: chi-square over 8000 picks on 4 hosts below the p=0.001 critical value', () => {
    const lb = loadBalancers.RANDOM();
    const hs = hosts(4);
    const rng = new Rng(42);
    const c = counts(Array.from({ length: 8000 }, () => lb.pick(hs, rng)));
    expect([...c.keys()].sort()).toEqual(['h0', 'h1', 'h2', 'h3']);
    expect(chiSquareUniform(hs.map((h) => c.get(h.id) ?? 0))).toBeLessThan(CHI2_P001[3]);
  });

  it('picks independently of the previous pick (not a rotation): a repeat ~1/N of the time', () => {
    const lb = loadBalancers.RANDOM();
    const hs = hosts(4);
    const rng = new Rng(7);
    const seq = Array.from({ length: 4000 }, () => lb.pick(hs, rng)!.id);
    let repeats = 0;
    for (let i = 1; i < seq.length; i++) if (seq[i] === seq[i - 1]) repeats++;
    expect(repeats / (seq.length - 1)).toBeGreaterThan(0.22);
    expect(repeats / (seq.length - 1)).toBeLessThan(0.28);
  });

  it('the same seed replays the same picks', () => {
    const hs = hosts(5);
    const run = (seed: number): string[] => {
      const lb = loadBalancers.RANDOM();
      const rng = new Rng(seed);
      return Array.from({ length: 50 }, () => lb.pick(hs, rng)!.id);
    };
    expect(run(3)).toEqual(run(3));
    expect(run(3)).not.toEqual(run(4));
  });
});

describe('LEAST_REQUEST (power of two choices)', () => {
  // Envoy's unweighted least request (choice_count 2): two independent random draws, the same
  // host may come twice, and the one with fewer active requests wins
  it('of two random draws it takes the less loaded host: with 4 hosts the idle one wins 1 - (3/4)^2 = 7/16', () => {
    const lb = loadBalancers.LEAST_REQUEST();
    const hs = [host('idle', 0), host('b', 5), host('c', 5), host('d', 5)];
    const rng = new Rng(11);
    const c = counts(Array.from({ length: 8000 }, () => lb.pick(hs, rng)));
    // a full scan for the least loaded would give 1, a random pick 1/4, two distinct draws 1/2
    expect(c.get('idle')! / 8000).toBeGreaterThan(0.4375 - 0.025);
    expect(c.get('idle')! / 8000).toBeLessThan(0.4375 + 0.025);
  });

  it('the share of each host follows its rank: 7/16, 5/16, 3/16, and 1/16 for the busiest (drawn twice)', () => {
    const lb = loadBalancers.LEAST_REQUEST();
    const hs = [host('a', 1), host('b', 2), host('c', 3), host('d', 9)];
    const rng = new Rng(12);
    const n = 8000;
    const c = counts(Array.from({ length: n }, () => lb.pick(hs, rng)));
    // P(the less loaded of two draws is the k-th least loaded) = ((N-k+1)^2 - (N-k)^2) / N^2
    for (const [id, p] of [
      ['a', 7 / 16],
      ['b', 5 / 16],
      ['c', 3 / 16],
      ['d', 1 / 16],
    ] as const) {
      expect(c.get(id)! / n).toBeGreaterThan(p - 0.025);
      expect(c.get(id)! / n).toBeLessThan(p + 0.025);
    }
  });

  it('two hosts: the less loaded 3/4 of the time; equal loads: uniform over all hosts', () => {
    const lb = loadBalancers.LEAST_REQUEST();
    const rng = new Rng(13);
    const pair = [host('busy', 3), host('free', 1)];
    const two = counts(Array.from({ length: 4000 }, () => lb.pick(pair, rng)));
    expect(two.get('free')! / 4000).toBeGreaterThan(0.72);
    expect(two.get('free')! / 4000).toBeLessThan(0.78);
    const hs = hosts(4);
    const c = counts(Array.from({ length: 8000 }, () => lb.pick(hs, rng)));
    expect(chiSquareUniform(hs.map((h) => c.get(h.id) ?? 0))).toBeLessThan(CHI2_P001[3]);
    expect(lb.pick([host('only', 7)], rng)!.id).toBe('only');
    expect(lb.pick([], rng)).toBeUndefined();
  });
});

describe('ring hash (consistentHash)', () => {
  const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

  it('one key always reaches one host, across picks and across rebuilt rings, whatever the host order', () => {
    const hs = hosts(4);
    const a = loadBalancers.RING_HASH(1024);
    const b = loadBalancers.RING_HASH(1024);
    const rng = new Rng(1);
    const reversed = [...hs].reverse();
    for (const k of keys.slice(0, 500)) {
      const first = a.pick(hs, rng, k)!.id;
      expect(a.pick(hs, rng, k)!.id).toBe(first);
      expect(b.pick(reversed, rng, k)!.id).toBe(first);
    }
  });

  it('keys spread over the hosts (each within 25% ± 6% of 10000 keys)', () => {
    const hs = hosts(4);
    const lb = loadBalancers.RING_HASH(1024);
    const rng = new Rng(1);
    const c = counts(keys.map((k) => lb.pick(hs, rng, k)));
    for (const h of hs) {
      expect(c.get(h.id)! / keys.length).toBeGreaterThan(0.19);
      expect(c.get(h.id)! / keys.length).toBeLessThan(0.31);
    }
  });

  // Envoy's ring has minimumRingSize points split evenly over the hosts (hashes `<host>_0` ..
  // `<host>_<n-1>`), so a host added or removed also shifts a few of the other hosts' points:
  // most keys stay, not all. Modulo hashing would move 80% of the keys from 4 hosts to 5.
  it('adding a fifth host moves about 1/5 of the keys to it; the others mostly stay where they were', () => {
    const four = hosts(4);
    const five = [...four, host('h4')];
    const lb = loadBalancers.RING_HASH(1024);
    const rng = new Rng(1);
    const before = keys.map((k) => lb.pick(four, rng, k)!.id);
    const after = keys.map((k) => lb.pick(five, rng, k)!.id);
    const toNew = keys.filter((_, i) => after[i] === 'h4').length / keys.length;
    const moved = keys.filter((_, i) => before[i] !== after[i]).length / keys.length;
    expect(toNew).toBeGreaterThan(0.15);
    expect(toNew).toBeLessThan(0.25);
    expect(moved).toBeLessThan(0.35);
  });

  it('removing a host moves every key it had and few others', () => {
    const four = hosts(4);
    const three = four.filter((h) => h.id !== 'h2');
    const lb = loadBalancers.RING_HASH(1024);
    const rng = new Rng(1);
    const before = keys.map((k) => lb.pick(four, rng, k)!.id);
    const after = keys.map((k) => lb.pick(three, rng, k)!.id);
    expect(after).not.toContain('h2');
    const others = keys.map((_, i) => i).filter((i) => before[i] !== 'h2');
    const stayed = others.filter((i) => after[i] === before[i]).length / others.length;
    expect(stayed).toBeGreaterThan(0.85);
  });

  it('a request without a key gets a random host, as in Envoy', () => {
    const hs = hosts(4);
    const lb = loadBalancers.RING_HASH(1024);
    const rng = new Rng(5);
    const c = counts(Array.from({ length: 8000 }, () => lb.pick(hs, rng, undefined)));
    expect(chiSquareUniform(hs.map((h) => c.get(h.id) ?? 0))).toBeLessThan(CHI2_P001[3]);
  });
});

describe('pickHost: hosts this request already tried', () => {
  it('avoids them while another host is left (previous-hosts predicate), then falls back to all', () => {
    const hs = hosts(3);
    const rng = new Rng(9);
    const lb = loadBalancers.RANDOM();
    for (let i = 0; i < 300; i++) expect(pickHost(lb, hs, rng, new Set(['h0', 'h1']))!.id).toBe('h2');
    const all = counts(Array.from({ length: 300 }, () => pickHost(lb, hs, rng, new Set(['h0', 'h1', 'h2']))));
    expect(all.size).toBe(3);
  });

  it('a retry of a consistent-hash request moves off the hashed host', () => {
    const hs = hosts(4);
    const rng = new Rng(9);
    const lb = loadBalancers.RING_HASH(1024);
    const first = lb.pick(hs, rng, 'user-1')!.id;
    const retry = pickHost(lb, hs, rng, new Set([first]), 'user-1')!.id;
    expect(retry).not.toBe(first);
    // and it is still a hash pick: the same for every retry of that key
    expect(pickHost(lb, hs, rng, new Set([first]), 'user-1')!.id).toBe(retry);
  });
});
