/**
 * Assertion types over fake event streams: what each measures, the tolerance, which proxy's
 * events count, windows, baselines, and what a failure says. Random streams use a seeded Rng.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../sandbox/rng.js';
import { evaluateAssertion, type EvaluateContext } from '../../../sandbox/chaos/assertions/evaluate.js';
import { percentile } from '../../../sandbox/chaos/assertions/latency.js';
import { parseClusterName } from '../../../sandbox/chaos/assertions/ejections.js';
import { selectRequests } from '../../../sandbox/chaos/assertions/select.js';
import { RunState } from '../../../sandbox/chaos/run-state.js';
import type { AssertionSpec } from '../../../sandbox/chaos/scenario-types.js';
import { describeBounds, rangeOf, resolveBounds, withinBounds } from '../../../sandbox/chaos/tolerance.js';
import { TrafficRecorder } from '../../../sandbox/chaos/traffic-recorder.js';
import type { MeshEvent } from '../../../sandbox/events.js';
import { callmeEvent, FakeTarget, outlierEvent, requestEvent } from './scenario-fakes.js';

const T0 = 1_000_000;

function context(events: MeshEvent[], target = new FakeTarget()): EvaluateContext & { state: RunState } {
  const traffic = new TrafficRecorder();
  for (const e of events) traffic.record(e);
  const state = new RunState(() => T0 + 10_000);
  state.phaseStartedAt = T0;
  return { traffic, state, target };
}

function check(spec: AssertionSpec, events: MeshEvent[]) {
  return evaluateAssertion(spec, context(events));
}

/** n gateway events at T0 + i */
function gateway(n: number, f: (i: number) => Parameters<typeof requestEvent>[0] = () => ({})) {
  return Array.from({ length: n }, (_, i) => requestEvent({ startTime: T0 + i, ...f(i) }));
}

describe('tolerances', () => {
  it('min, max, equals ± tolerance, inclusive, with readable descriptions', () => {
    expect(withinBounds(95, resolveBounds({ min: 95 }, '%'))).toBe(true);
    expect(withinBounds(94.99, resolveBounds({ min: 95 }, '%'))).toBe(false);
    expect(rangeOf(resolveBounds({ equals: 80, tolerance: 5 }, '%'))).toEqual({ low: 75, high: 85 });
    expect(withinBounds(85, resolveBounds({ equals: 80, tolerance: 5 }, '%'))).toBe(true);
    expect(resolveBounds({ max: '1.5s', min: 250 }, 'ms')).toEqual({ max: 1500, min: 250 });
    expect(describeBounds({ equals: 80, tolerance: 5 }, '%')).toBe('80% ± 5% (75% to 85%)');
    expect(describeBounds({ min: 1, max: 3 }, '')).toBe('between 1 and 3');
    expect(describeBounds({ max: 800 }, 'ms')).toBe('at most 800ms');
    expect(describeBounds({ equals: 2 }, '')).toBe('exactly 2');
  });
});

describe('which events count', () => {
  const events = [
    requestEvent({ startTime: T0 }),
    requestEvent({ startTime: T0, reporter: 'destination', proxy: 'caller-service-v1-1', listener: 'inbound' }),
    callmeEvent('v2', { startTime: T0, requestHeaders: { 'end-user': 'jason' } }),
    callmeEvent('v1', { startTime: T0, reporter: 'destination', proxy: 'callme-service-v1-1', path: '/callme/ping' }),
  ];
  it('default: the ingress gateway own events; service: the callers of the service; destination: its sidecars', () => {
    expect(selectRequests(events, {}).map((e) => e.proxy)).toEqual(['istio-ingressgateway']);
    expect(selectRequests(events, { reporter: 'destination' }).map((e) => e.proxy)).toEqual(['caller-service-v1-1']);
    expect(selectRequests(events, { service: 'callme-service' }).map((e) => e.proxy)).toEqual(['caller-service-v1-1']);
    expect(selectRequests(events, { service: 'callme-service', reporter: 'destination' }).map((e) => e.proxy)).toEqual(['callme-service-v1-1']);
  });
  it('proxy by instance, workload or `ingress`; from, path, headers', () => {
    expect(selectRequests(events, { proxy: 'caller-service-v1' }).length).toBe(1);
    expect(selectRequests(events, { proxy: 'caller-service-v1-1' }).length).toBe(1);
    expect(selectRequests(events, { proxy: 'caller-service' }).length).toBe(0);
    expect(selectRequests(events, { proxy: 'ingress' }).length).toBe(1);
    expect(selectRequests(events, { service: 'callme-service', from: 'caller-service-v1' }).length).toBe(1);
    expect(selectRequests(events, { service: 'callme-service', headers: { 'End-User': 'jason' } }).length).toBe(1);
    expect(selectRequests(events, { service: 'callme-service', headers: { 'end-user': 'bob' } }).length).toBe(0);
    expect(selectRequests(events, { reporter: 'destination', service: 'callme-service', path: '/callme' }).length).toBe(1);
  });
});

describe('assertion types', () => {
  it('success-rate: non-5xx answers, a failure names statuses and counts', async () => {
    const events = gateway(200, (i) => ({ status: i % 20 === 0 ? 503 : 200, responseFlags: i % 20 === 0 ? 'URX' : '-' }));
    const ok = await check({ type: 'success-rate', min: 95 }, events);
    expect(ok).toMatchObject({ passed: true, value: 95, requests: 200, observed: '95%', expected: 'at least 95%', window: 'this phase so far' });
    expect(ok.message).toBe('success rate at the ingress gateway: 95% over 200 requests in this phase so far (expected at least 95%)');
    const bad = await check({ type: 'success-rate', min: 99 }, events);
    expect(bad.passed).toBe(false);
    expect(bad.message).toBe('success rate at the ingress gateway: expected at least 99%, saw 95% over 200 requests in this phase so far');
    expect(bad.detail).toBe('status 200: 190, 503 URX: 10');
    // 4xx is a success (Istio's dashboards); no answer at all is not
    const mixed = [...gateway(5, () => ({ status: 404 })), ...gateway(5, () => ({ status: 0, responseFlags: 'DC' }))];
    expect((await check({ type: 'success-rate', equals: 50, minRequests: 5 }, mixed)).passed).toBe(true);
  });

  it('error-rate: by status, status class, 0 and response flag', async () => {
    const events = [...gateway(70), ...gateway(20, () => ({ status: 503, responseFlags: 'UO' })), ...gateway(10, () => ({ status: 504, responseFlags: 'UT' }))];
    expect((await check({ type: 'error-rate', status: 503, flag: 'UO', equals: 20 }, events)).value).toBe(20);
    expect((await check({ type: 'error-rate', status: '5xx', equals: 30 }, events)).value).toBe(30);
    expect((await check({ type: 'error-rate', status: [503, 504], min: 30 }, events)).passed).toBe(true);
    expect((await check({ type: 'error-rate', flag: ['UT', 'UF'], max: 10 }, events)).value).toBe(10);
    const r = await check({ type: 'error-rate', max: 5 }, events);
    expect(r.message).toBe('error rate (5xx or no answer) at the ingress gateway: expected at most 5%, saw 30% over 100 requests in this phase so far');
    const flags = gateway(10, () => ({ status: 503, responseFlags: 'UF,URX' }));
    expect((await check({ type: 'error-rate', flag: 'URX', equals: 100 }, flags)).passed).toBe(true);
  });

  it('latency: nearest-rank percentiles in ms, bounds as durations', async () => {
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(percentile([5, 1, 4, 2, 3], 100)).toBe(5);
    expect(percentile(Array.from({ length: 1000 }, (_, i) => i + 1), 99.9)).toBe(999);
    expect(percentile([], 50)).toBeUndefined();
    const events = gateway(100, (i) => ({ durationMs: i + 1 }));
    const p99 = await check({ type: 'latency', percentile: 99, max: '100ms' }, events);
    expect(p99).toMatchObject({ passed: true, value: 99, observed: '99ms' });
    const fail = await check({ type: 'latency', percentile: 50, max: '0.02s' }, events);
    expect(fail.message).toBe('p50 latency at the ingress gateway: expected at most 20ms, saw 50ms over 100 requests in this phase so far');
    expect(fail.detail).toBe('p50 50ms, p90 90ms, p99 99ms, max 100ms');
  });

  it('share: by subset, version, workload or instance, counted at the callers of a service', async () => {
    // a seeded 80/20 split over 1000 calls lands within a few points of 80
    const rng = new Rng(42);
    const events = Array.from({ length: 1000 }, (_, i) => callmeEvent(rng.percent(80) ? 'v2' : 'v1', { startTime: T0 + i }));
    const v2 = await check({ type: 'share', service: 'callme-service', subset: 'v2', equals: 80, tolerance: 3 }, events);
    expect(v2.passed).toBe(true);
    expect(v2.message).toMatch(/^share of subset v2 by the callers of callme-service: 8\d(\.\d)?% over 1000 requests/);
    expect(v2.detail).toMatch(/^by subset: v2: \d+, v1: \d+$/);
    expect((await check({ type: 'share', service: 'callme-service', version: 'v1', max: 23 }, events)).passed).toBe(true);
    expect((await check({ type: 'share', service: 'callme-service', workload: 'callme-service-v2', min: 77 }, events)).passed).toBe(true);
    expect((await check({ type: 'share', service: 'callme-service', instance: 'callme-service-v1-1', max: 23 }, events)).passed).toBe(true);
    // the ingress view: everything went to caller-service v1
    expect((await check({ type: 'share', subset: 'v1', equals: 100 }, gateway(20))).passed).toBe(true);
  });

  it('mtls: the share over mutual TLS as the destination sidecars report it; a plaintext hop lowers it', async () => {
    const inbound = (i: number, security: 'mutual_tls' | 'none') =>
      callmeEvent('v1', { startTime: T0 + i, reporter: 'destination', proxy: 'callme-service-v1-1', listener: 'inbound', connectionSecurity: security });
    const all = Array.from({ length: 20 }, (_, i) => inbound(i, 'mutual_tls'));
    const ok = await check({ type: 'mtls', service: 'callme-service', reporter: 'destination', min: 100 }, all);
    expect(ok.passed).toBe(true);
    expect(ok.message).toBe('share over mTLS by the sidecars of callme-service: 100% over 20 requests in this phase so far (expected at least 100%)');
    expect(ok.detail).toBe('connection security mutual_tls: 20');
    const mixed = [...all.slice(0, 15), ...Array.from({ length: 5 }, (_, i) => inbound(15 + i, 'none'))];
    const bad = await check({ type: 'mtls', service: 'callme-service', reporter: 'destination', min: 100 }, mixed);
    expect(bad.passed).toBe(false);
    expect(bad.message).toBe('share over mTLS by the sidecars of callme-service: expected at least 100%, saw 75% over 20 requests in this phase so far');
    expect(bad.detail).toBe('connection security mutual_tls: 15, none: 5');
    // the source side's events: whether the upstream connection was mTLS (absent: unknown)
    const source = await check({ type: 'mtls', service: 'callme-service', max: 0 }, Array.from({ length: 10 }, (_, i) => callmeEvent('v1', { startTime: T0 + i })));
    expect(source.passed).toBe(true);
    expect(source.detail).toBe('connection security unknown: 10');
  });

  it('attempts: mean, max, share retried, total retries', async () => {
    const events = [1, 1, 2, 4, 1, 1, 1, 1, 2, 1, 1, 1].map((a, i) => callmeEvent('v2', { startTime: T0 + i, attempts: a }));
    const svc = { service: 'callme-service' };
    expect((await check({ type: 'attempts', ...svc, min: 1.4 }, events)).value).toBeCloseTo(17 / 12);
    expect((await check({ type: 'attempts', ...svc, stat: 'max', equals: 4 }, events)).passed).toBe(true);
    expect((await check({ type: 'attempts', ...svc, stat: 'retried', equals: 25 }, events)).passed).toBe(true);
    const retries = await check({ type: 'attempts', ...svc, stat: 'retries', max: 3 }, events);
    expect(retries).toMatchObject({ passed: false, value: 5, expected: 'at most 3', observed: '5' });
    expect(retries.detail).toMatch(/^attempts per request: 1: 9, 2: 2, 4: 1$/);
  });

  it('ejections: counts ejected or returned hosts in the window, by service, subset or instance', async () => {
    const events = [
      outlierEvent('mesh:outlier:ejected', 'callme-service-v1-1', 'outbound|8080|v1|callme-service.default.svc.cluster.local', T0 + 10),
      outlierEvent('mesh:outlier:ejected', 'callme-service-v2-1', 'outbound|8080|v2|callme-service.default.svc.cluster.local', T0 + 20),
      outlierEvent('mesh:outlier:returned', 'callme-service-v1-1', 'outbound|8080|v1|callme-service.default.svc.cluster.local', T0 + 30),
    ];
    expect(parseClusterName('outbound|8080|v1|callme-service.default.svc.cluster.local')).toEqual({ service: 'callme-service', subset: 'v1' });
    expect((await check({ type: 'ejections', equals: 2 }, events)).passed).toBe(true);
    expect((await check({ type: 'ejections', instance: 'callme-service-v1-1', equals: 1 }, events)).passed).toBe(true);
    expect((await check({ type: 'ejections', service: 'callme-service', subset: 'v2', equals: 1 }, events)).passed).toBe(true);
    expect((await check({ type: 'ejections', event: 'returned', min: 1 }, events)).passed).toBe(true);
    const none = await check({ type: 'ejections', service: 'caller-service', min: 1 }, events);
    expect(none.message).toBe('ejections of caller-service: expected at least 1, saw 0 in this phase so far');
    expect(none.detail).toBe('other outlier events: 3');
  });

  it('tcp-connections: counts closed TCP connections in the window, by service, subset, reporter and flag', async () => {
    const tcp = (flags: string, subset: string, reporter: 'source' | 'destination' = 'source'): MeshEvent => {
      const peer = { workload: 'caller-service-v1', namespace: 'default', app: 'caller-service', version: 'v1', principal: 'unknown', canonicalService: 'caller-service', canonicalRevision: 'v1' };
      return {
        type: 'mesh:tcp:close',
        connectionId: `c${flags}${subset}`,
        reporter,
        proxy: 'caller-service-v1-1',
        listener: reporter === 'source' ? 'outbound' : 'inbound',
        startTime: T0 + 5,
        durationMs: 3,
        bytesReceived: 1,
        bytesSent: 1,
        responseFlags: flags,
        upstreamCluster: `outbound|5432|${subset}|db.default.svc.cluster.local`,
        downstreamLocalAddress: '127.0.0.1:1',
        downstreamRemoteAddress: '127.0.0.1:2',
        source: peer,
        destination: { ...peer, workload: `db-${subset}`, app: 'db', service: 'db.default.svc.cluster.local', serviceName: 'db', serviceNamespace: 'default' },
        why: [],
        snapshotVersion: 1,
      };
    };
    const events = [tcp('-', 'v1'), tcp('UO', 'v1'), tcp('UO', 'v2'), tcp('-', 'v1', 'destination')];
    expect((await check({ type: 'tcp-connections', equals: 3 }, events)).passed).toBe(true);
    expect((await check({ type: 'tcp-connections', service: 'db', flags: 'UO', equals: 2 }, events)).passed).toBe(true);
    expect((await check({ type: 'tcp-connections', subset: 'v2', flags: 'UO', equals: 1 }, events)).passed).toBe(true);
    expect((await check({ type: 'tcp-connections', flags: '-', reporter: 'destination', equals: 1 }, events)).passed).toBe(true);
    const none = await check({ type: 'tcp-connections', flags: 'UF', min: 1 }, events);
    expect(none.message).toBe('TCP connections (flag UF): expected at least 1, saw 0 in this phase so far');
    expect(none.detail).toBe('flags UO: 2, -: 1');
  });

  it('requests: counts requests without a minimum of its own', async () => {
    expect((await check({ type: 'requests', min: 3 }, gateway(3))).passed).toBe(true);
    expect((await check({ type: 'requests', equals: 0 }, [])).passed).toBe(true);
  });

  it('healthy: running, healthy, not drained instances now', async () => {
    const target = new FakeTarget();
    target.instanceList[2]!.healthy = false;
    target.instanceList[3]!.drained = true;
    const ctx = context([], target);
    expect((await evaluateAssertion({ type: 'healthy', workload: 'callme-service-v2', equals: 0 }, ctx)).passed).toBe(true);
    const r = await evaluateAssertion({ type: 'healthy', service: 'callme-service', equals: 3 }, ctx);
    expect(r.message).toBe('healthy instances of callme-service: expected exactly 3, saw 1');
    expect(r.detail).toBe('callme-service-v1-1 running healthy, callme-service-v2-1 running unhealthy, callme-service-v2-2 running healthy drained');
    expect((await evaluateAssertion({ type: 'healthy', instance: 'callme-service-v1-1', equals: 1 }, ctx)).passed).toBe(true);
  });
});

describe('windows, minimum requests and baselines', () => {
  it('a window with too few requests fails and says so', async () => {
    const r = await check({ type: 'success-rate', min: 50 }, gateway(3));
    expect(r).toMatchObject({ passed: false, observed: 'n/a', requests: 3 });
    expect(r.message).toBe('success rate at the ingress gateway: only 3 requests at the ingress gateway in this phase so far, at least 10 needed');
    expect((await check({ type: 'success-rate', min: 50, minRequests: 3 }, gateway(3))).passed).toBe(true);
  });

  it('load, step, since and last windows pick the events by start time', async () => {
    const events = [...gateway(10, () => ({ status: 200 })).map((e, i) => ({ ...e, startTime: T0 + i })), ...gateway(10, () => ({ status: 503 })).map((e, i) => ({ ...e, startTime: T0 + 5000 + i }))];
    const ctx = context(events);
    ctx.state.loads.set('first', { name: 'first', description: '', startedAt: T0, endedAt: T0 + 100 } as never);
    ctx.state.steps.set('fault', { startedAt: T0 + 4000 });
    ctx.state.lastTraffic = { label: 'load "first"', startedAt: T0, endedAt: T0 + 100 };
    expect((await evaluateAssertion({ type: 'success-rate', equals: 100, window: { load: 'first' } }, ctx)).window).toBe('load "first"');
    expect((await evaluateAssertion({ type: 'success-rate', equals: 100 }, ctx)).passed).toBe(true);
    expect((await evaluateAssertion({ type: 'success-rate', equals: 0, window: { since: 'fault' } }, ctx)).passed).toBe(true);
    expect((await evaluateAssertion({ type: 'requests', equals: 10, window: { last: '5s' } }, ctx)).passed).toBe(true);
    // the step's window applies unless the assertion has its own
    expect((await evaluateAssertion({ type: 'success-rate', equals: 0 }, ctx, { since: 'fault' })).passed).toBe(true);
    await expect(evaluateAssertion({ type: 'requests', min: 1, window: { load: 'ghost' } }, ctx)).rejects.toThrow(/no load named "ghost"/);
  });

  it('baseline: the change from another window', async () => {
    const fast = gateway(50, (i) => ({ durationMs: 10 + (i % 5) }));
    const slow = gateway(50, (i) => ({ startTime: T0 + 5000 + i, durationMs: 210 + (i % 5) }));
    const ctx = context([...fast, ...slow]);
    ctx.state.loads.set('baseline', { name: 'baseline', startedAt: T0, endedAt: T0 + 100 } as never);
    ctx.state.loads.set('toxic', { name: 'toxic', startedAt: T0 + 5000, endedAt: T0 + 5100 } as never);
    const r = await evaluateAssertion({ type: 'latency', percentile: 50, baseline: { load: 'baseline' }, window: { load: 'toxic' }, equals: '200ms', tolerance: 20 }, ctx);
    expect(r).toMatchObject({ passed: true, value: 200, observed: '+200ms (12ms in load "baseline" -> 212ms)' });
    expect(r.message).toBe('change in p50 latency at the ingress gateway: +200ms (12ms in load "baseline" -> 212ms) over 50 requests in load "toxic" (expected 200ms ± 20ms (180ms to 220ms))');
    await expect(evaluateAssertion({ type: 'latency', percentile: 50, baseline: { step: 'none' }, window: { load: 'toxic' }, max: 1 }, ctx)).rejects.toThrow(/no step named "none"/);
    ctx.state.loads.set('empty', { name: 'empty', startedAt: T0 + 9000, endedAt: T0 + 9100 } as never);
    const few = await evaluateAssertion({ type: 'latency', percentile: 50, baseline: { load: 'empty' }, window: { load: 'toxic' }, max: 1 }, ctx);
    expect(few.message).toBe('change in p50 latency at the ingress gateway: baseline has only 0 requests at the ingress gateway in load "empty", at least 10 needed');
  });
});
