import { describe, expect, it } from 'vitest';
import { Endpoint } from '../../../sandbox/proxy/upstream/endpoint.js';
import { OutlierDetector, outlierConfig, type EjectionNotice } from '../../../sandbox/proxy/upstream/outlier-detector.js';

const host = (id: string): Endpoint =>
  new Endpoint({
    id,
    address: '127.0.0.1',
    port: 1,
    healthy: true,
    meta: { workload: id, namespace: 'default', app: 'a', version: 'v1', service: 'a', canonicalService: 'a', canonicalRevision: 'v1', principal: 'unknown', labels: {} },
  });

function detector(spec: Parameters<typeof outlierConfig>[0], hosts: Endpoint[]) {
  let now = 0;
  const notices: EjectionNotice[] = [];
  const d = new OutlierDetector(outlierConfig(spec)!, () => hosts, (n) => notices.push(n), () => now);
  d.stop();
  return { d, notices, advance: (ms: number) => (now += ms) };
}

describe('OutlierDetector', () => {
  it('Istio defaults when outlierDetection is present', () => {
    expect(outlierConfig({})).toMatchObject({ consecutive5xx: 5, consecutiveGateway: 0, intervalMs: 10_000, baseEjectionMs: 30_000, maxEjectionPercent: 10 });
  });

  it('ejects after N consecutive errors; a success resets the count', () => {
    const hosts = [host('a'), host('b')];
    const { d } = detector({ consecutive5xxErrors: 3, maxEjectionPercent: 100 }, hosts);
    d.record(hosts[0]!, '5xx');
    d.record(hosts[0]!, '5xx');
    d.record(hosts[0]!, 'success');
    d.record(hosts[0]!, '5xx');
    expect(d.isEjected(hosts[0]!)).toBe(false);
    d.record(hosts[0]!, 'gateway-error');
    d.record(hosts[0]!, 'local-failure');
    expect(d.isEjected(hosts[0]!)).toBe(true);
  });

  it('consecutive5xxErrors: 0 disables; consecutiveGatewayErrors counts only gateway errors and local failures', () => {
    const hosts = [host('a'), host('b')];
    const { d } = detector({ consecutive5xxErrors: 0, consecutiveGatewayErrors: 2, maxEjectionPercent: 100 }, hosts);
    d.record(hosts[0]!, '5xx');
    d.record(hosts[0]!, '5xx');
    expect(d.isEjected(hosts[0]!)).toBe(false);
    d.record(hosts[0]!, 'gateway-error');
    d.record(hosts[0]!, 'local-failure');
    expect(d.isEjected(hosts[0]!)).toBe(true);
  });

  it('ejection lasts baseEjectionTime x times ejected, ending at an interval sweep', () => {
    const hosts = [host('a'), host('b')];
    const { d, advance, notices } = detector({ consecutive5xxErrors: 1, baseEjectionTime: '30s', interval: '10s', maxEjectionPercent: 100 }, hosts);
    d.record(hosts[0]!, '5xx');
    expect(notices.at(-1)).toMatchObject({ endpoint: 'a', ejected: true, ejectionMs: 30_000, ejections: 1 });
    advance(20_000);
    d.sweep();
    expect(d.isEjected(hosts[0]!)).toBe(true);
    advance(10_000);
    d.sweep();
    expect(d.isEjected(hosts[0]!)).toBe(false);
    d.record(hosts[0]!, '5xx');
    expect(notices.at(-1)).toMatchObject({ ejected: true, ejectionMs: 60_000, ejections: 2 });
  });

  it('maxEjectionPercent caps ejections, but one host can always be ejected', () => {
    const hosts = [host('a'), host('b'), host('c'), host('d')];
    const { d } = detector({ consecutive5xxErrors: 1, maxEjectionPercent: 10 }, hosts);
    d.record(hosts[0]!, '5xx');
    d.record(hosts[1]!, '5xx');
    expect(hosts.filter((h) => d.isEjected(h)).map((h) => h.id)).toEqual(['a']);
  });

  it('minHealthPercent turns on panic mode below the threshold', () => {
    const { d } = detector({ minHealthPercent: 50 }, [host('a')]);
    expect(d.panic(1, 4)).toBe(true);
    expect(d.panic(2, 4)).toBe(false);
  });
});
