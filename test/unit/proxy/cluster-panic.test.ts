/**
 * Where a cluster sends a request when hosts are ejected: Envoy skips ejected hosts, unless the
 * share of available hosts falls below the panic threshold (Istio's `minHealthPercent`, Envoy's
 * healthy_panic_threshold), where it balances over all hosts, ejected ones included.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { OutlierDetection } from '../../../sandbox/config/istio-types.js';
import type { ClusterConfig, EndpointConfig } from '../../../sandbox/control/snapshot.js';
import { Cluster } from '../../../sandbox/proxy/upstream/cluster.js';
import { Rng } from '../../../sandbox/rng.js';

const endpoint = (id: string, healthy = true): EndpointConfig => ({
  id,
  address: '127.0.0.1',
  port: 1,
  healthy,
  meta: { workload: id, namespace: 'default', app: 'b', version: 'v1', service: 'b', canonicalService: 'b', canonicalRevision: 'v1', principal: 'unknown', labels: {} },
});

const clusters: Cluster[] = [];
afterEach(() => clusters.splice(0).forEach((c) => c.destroy()));

function cluster(outlierDetection: OutlierDetection | undefined, endpoints: EndpointConfig[]): Cluster {
  const config: ClusterConfig = {
    key: 'outbound|8080||b.default.svc.cluster.local',
    name: 'outbound|8080||b.default.svc.cluster.local',
    kind: 'outbound',
    endpoints,
    lb: 'RANDOM',
    connectTimeoutMs: 1000,
    trafficPolicy: outlierDetection ? { outlierDetection } : undefined,
  };
  const c = new Cluster(config);
  clusters.push(c);
  return c;
}

/** ejects the named hosts with one 5xx each (consecutive5xxErrors: 1) */
function eject(c: Cluster, ids: string[]): void {
  for (const h of c.hosts()) if (ids.includes(h.id)) c.record(h, '5xx');
  for (const h of c.hosts()) expect(c.isEjected(h)).toBe(ids.includes(h.id));
}

function picked(c: Cluster, n = 400): Set<string> {
  const rng = new Rng(3);
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add(c.pick(rng)?.id ?? 'none');
  return seen;
}

const four = (): EndpointConfig[] => ['a', 'b', 'c', 'd'].map((id) => endpoint(id));
const od = (minHealthPercent?: number): OutlierDetection => ({ consecutive5xxErrors: 1, interval: '10s', baseEjectionTime: '30s', maxEjectionPercent: 100, minHealthPercent });

describe('panic mode (minHealthPercent)', () => {
  it('without a panic threshold ejected hosts are skipped, down to 503 UH when all are ejected', () => {
    const c = cluster(od(), four());
    eject(c, ['a', 'b', 'c']);
    expect(picked(c)).toEqual(new Set(['d']));
    eject(c, ['a', 'b', 'c', 'd']);
    expect(picked(c)).toEqual(new Set(['none']));
  });

  it('at or above the threshold ejected hosts are skipped (2 of 4 available = 50%, not below 50%)', () => {
    const c = cluster(od(50), four());
    eject(c, ['a', 'b']);
    expect(picked(c)).toEqual(new Set(['c', 'd']));
  });

  it('below the threshold the cluster balances over every host, ejected ones included', () => {
    const c = cluster(od(50), four());
    eject(c, ['a', 'b', 'c']);
    expect(picked(c)).toEqual(new Set(['a', 'b', 'c', 'd']));
    // every host ejected: 0% available, still panic, so still a host rather than 503 UH
    eject(c, ['a', 'b', 'c', 'd']);
    expect(picked(c)).toEqual(new Set(['a', 'b', 'c', 'd']));
  });

  it('panic spreads the load evenly over the hosts (RANDOM: each of 4 gets 25% ± 5%)', () => {
    const c = cluster(od(75), four());
    eject(c, ['a', 'b']);
    const rng = new Rng(21);
    const n = 4000;
    const count = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const id = c.pick(rng)!.id;
      count.set(id, (count.get(id) ?? 0) + 1);
    }
    for (const id of ['a', 'b', 'c', 'd']) {
      expect(count.get(id)! / n).toBeGreaterThan(0.2);
      expect(count.get(id)! / n).toBeLessThan(0.3);
    }
  });

  it('an instance that is not ready (stopped, draining, failing its health check) gets no traffic, panic or not', () => {
    // Istio sends only ready endpoints to Envoy, so the panic threshold counts and picks among
    // those: 1 of the 2 ready hosts ejected is 50% available, not below the 50% threshold
    const c = cluster(od(50), [endpoint('a'), endpoint('b'), endpoint('down-1', false), endpoint('down-2', false)]);
    eject(c, ['a']);
    expect(picked(c)).toEqual(new Set(['b']));
    // both ready hosts ejected: panic among the ready ones, never the instances that are down
    eject(c, ['a', 'b']);
    expect(picked(c)).toEqual(new Set(['a', 'b']));
  });
});
