/**
 * The view store: events in, at most one snapshot per tick out, and only when something shown
 * changed; counters per instance, version, service and edge; bounded buffers.
 */
import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../../cli/tui/ring-buffer.js';
import { latencyBucket, SlidingWindow } from '../../cli/tui/sliding-window.js';
import { sameData, ViewStore } from '../../cli/tui/view-store.js';
import { matchedRoute, wholePercents, wrap } from '../../cli/tui/format.js';
import type { MeshEvent } from '../../sandbox/events.js';
import { FakeController, hop, sampleTraffic, upEvents } from './helpers.js';

/** publishes now, whatever the pace (as after a key's action) */
function flush(store: ViewStore): void {
  store.touch();
  store.publish();
}

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('ViewStore', () => {
  it('does not publish per event: 4000 events between two ticks make one snapshot', () => {
    const c = new FakeController();
    const t = clock();
    const store = new ViewStore(c, { now: t.now });
    let published = 0;
    store.subscribe(() => published++);
    c.emit(...upEvents());
    c.emit(...sampleTraffic(1000));
    expect(published).toBe(0);
    t.advance(100);
    expect(store.publish()).toBe(true);
    expect(published).toBe(1);
    expect(store.getSnapshot().traffic.total).toBe(2000);
    store.stop();
  });

  it('publishes nothing when nothing shown changed, and again once the window has emptied', () => {
    const c = new FakeController();
    const t = clock();
    const store = new ViewStore(c, { now: t.now });
    c.emit(...upEvents());
    expect(store.publish()).toBe(true);
    t.advance(100);
    // no event, no traffic in the window: nothing to do
    expect(store.publish()).toBe(false);
    c.emit(hop());
    t.advance(100);
    expect(store.publish()).toBe(true);
    // rates decay while the request is in the window, then settle at zero
    let publishes = 0;
    for (let i = 0; i < 100; i++) {
      t.advance(100);
      if (store.publish()) publishes++;
    }
    expect(publishes).toBeGreaterThan(0);
    expect(store.publish()).toBe(false);
    expect(store.getSnapshot().services.find((s) => s.service === 'callme-service')!.rates.rps).toBe(0);
    store.stop();
  });

  it('publishes at most every intervalMs when started', async () => {
    const c = new FakeController();
    const store = new ViewStore(c, { intervalMs: 20 }).start();
    let published = 0;
    store.subscribe(() => published++);
    const until = Date.now() + 200;
    while (Date.now() < until) {
      c.emit(hop());
      await new Promise((r) => setImmediate(r));
    }
    store.stop();
    // 200 ms at one snapshot per 20 ms at most (timers may run a little late, never early)
    expect(published).toBeGreaterThan(2);
    expect(published).toBeLessThanOrEqual(11);
  });

  it('publishes at most every busyIntervalMs under heavy traffic, and an action’s result at once', () => {
    const c = new FakeController();
    const t = clock();
    const store = new ViewStore(c, { now: t.now, busyEventsPerSecond: 2000, busyIntervalMs: 200 });
    const tick = (): boolean => {
      t.advance(100);
      return store.publish();
    };
    // 4000 events a second for two seconds: the rate is known after the first second
    const published: boolean[] = [];
    for (let i = 0; i < 20; i++) {
      c.emit(...sampleTraffic(100).slice(0, 400));
      published.push(tick());
    }
    const late = published.slice(12);
    expect(late.filter(Boolean).length).toBeLessThanOrEqual(Math.ceil(late.length / 2));
    expect(late.filter(Boolean).length).toBeGreaterThan(0);
    // a key's result (touch) does not wait for the slower pace
    c.emit(...sampleTraffic(10));
    tick();
    store.touch();
    expect(tick()).toBe(true);
    store.stop();
  });

  it('computes rates per service, version, instance and edge: the 80/20 split and the retries', () => {
    const c = new FakeController();
    const t = clock();
    const store = new ViewStore(c, { now: t.now });
    c.emit(...upEvents());
    // 10 % of v2 answers fail at the instance and surface to the caller after retries
    for (let i = 0; i < 10; i++) {
      c.emit(...sampleTraffic(100, { failV2: 10 }));
      t.advance(500);
    }
    flush(store);
    const s = store.getSnapshot();
    const callme = s.services.find((x) => x.service === 'callme-service')!;
    expect(callme.rates.rps).toBeCloseTo(200, -1);
    const v1 = callme.versions.find((v) => v.version === 'v1')!;
    const v2 = callme.versions.find((v) => v.version === 'v2')!;
    expect(v1.rates.rps / callme.rates.rps).toBeCloseTo(0.2, 1);
    expect(v1.rates.success).toBe(100);
    expect(v2.rates.success).toBeLessThan(95);
    expect(v2.instances.map((i) => i.id)).toEqual(['callme-service-v2-1', 'callme-service-v2-2']);
    const edge = s.edges.find((e) => e.source === 'caller-service-v1' && e.destination === 'callme-service')!;
    expect(edge.split.map((x) => x.version)).toEqual(['v1', 'v2']);
    expect(edge.split[0]!.share).toBeCloseTo(20, 0);
    expect(edge.split[1]!.errorRate).toBeGreaterThan(5);
    expect(s.edges[0]!.source).toBe('istio-ingressgateway');
    expect(s.traffic.ingressRps).toBeCloseTo(200, -1);
    store.stop();
  });

  it('counts circuit breaker overflows (UO) and outlier ejections', () => {
    const c = new FakeController();
    const t = clock();
    const store = new ViewStore(c, { now: t.now });
    c.emit(hop({ status: 503, flags: 'UO' }), hop({ status: 503, flags: 'UO' }));
    c.emit({ type: 'mesh:outlier:ejected', time: 1, cluster: 'outbound|8080|v2|callme-service.default.svc.cluster.local', endpoint: 'callme-service-v2-2', reason: '5 consecutive 5xx' });
    flush(store);
    const v2 = store.getSnapshot().services.find((x) => x.service === 'callme-service')!.versions.find((v) => v.version === 'v2')!;
    expect(v2.overflowRps).toBeGreaterThan(0);
    expect(v2.instances.find((i) => i.id === 'callme-service-v2-2')!.ejected).toBe('5 consecutive 5xx');
    c.emit({ type: 'mesh:outlier:returned', time: 2, cluster: 'x', endpoint: 'callme-service-v2-2' });
    t.advance(100);
    flush(store);
    expect(store.getSnapshot().services[1]!.versions[1]!.instances[1]!.ejected).toBeUndefined();
    store.stop();
  });

  it('keeps the last reload and reads the current findings from the sandbox (a fix back to what serves emits no applied)', () => {
    const c = new FakeController();
    const store = new ViewStore(c);
    const finding = { severity: 'error' as const, code: 'MB1001', message: 'unknown field "wieght"', location: { file: 'rules/x.yaml', line: 14, col: 9 } };
    c.emit({ type: 'mesh:config:applied', time: 4, version: 3, changed: ['added VirtualService/default/x'], warnings: [] });
    c.findingList = [finding];
    c.emit({ type: 'mesh:config:rejected', time: 5, findings: [finding] });
    flush(store);
    expect(store.getSnapshot().config).toMatchObject({ errors: 1, lastRejected: 5, lastApplied: { time: 4, changed: 1 } });
    expect(store.getSnapshot().rules.findings).toEqual([finding]);
    c.findingList = [];
    c.emit({ type: 'mesh:notice', time: 6, level: 'info', message: 'rules/x.yaml: errors fixed (it is back to the rules already serving)' });
    flush(store);
    expect(store.getSnapshot().config.errors).toBe(0);
    expect(store.getSnapshot().rules.findings).toEqual([]);
    store.stop();
  });

  it('bounds the tap, the logs and the request index', () => {
    const c = new FakeController();
    const store = new ViewStore(c, { tapCapacity: 50, logCapacity: 20, requestCapacity: 30 });
    c.emit(...sampleTraffic(100));
    for (let i = 0; i < 100; i++) c.emit({ type: 'mesh:workload:log', time: i, instance: 'callme-service-v2-1', stream: 'stdout', line: `GET /callme/ping 200 ${i}` });
    flush(store);
    const s = store.getSnapshot();
    expect(s.traffic.events).toHaveLength(50);
    expect(s.traffic.total).toBe(200);
    expect(s.logs).toHaveLength(20);
    expect(s.logs.at(-1)!.text).toBe('GET /callme/ping 200 99');
    expect(store.requestEvents('sample-0')).toEqual([]);
    expect(store.requestEvents('sample-99')).toHaveLength(4);
    store.stop();
  });

  it('finds the upstream sidecar events of a hop (the faults that fired there)', () => {
    const c = new FakeController();
    const store = new ViewStore(c);
    const events = sampleTraffic(10, { failV2: 10 });
    c.emit(...events);
    const failed = events.find((e) => e.reporter === 'source' && e.status === 503 && e.proxy === 'caller-service-v1-1')!;
    const upstream = store.upstreamEvents(failed);
    expect(upstream).toHaveLength(1);
    expect(upstream[0]!.responseFlags).toBe('FI');
    expect(store.getSnapshot().faults.available).toBe(true);
    store.stop();
  });

  it('shows Docker image builds while starting, and events it does not know in the logs', () => {
    const c = new FakeController();
    const store = new ViewStore(c);
    c.emit({ type: 'mesh:sandbox:starting', time: 1, message: 'starting' });
    c.emit({ type: 'mesh:image:build', time: 2, image: 'meshbox/callme-service:3f2a', phase: 'start', message: 'building' });
    flush(store);
    expect(store.getSnapshot().sandbox.message).toBe('building image meshbox/callme-service:3f2a');
    c.emit({ type: 'mesh:image:build', time: 3, image: 'meshbox/callme-service:3f2a', phase: 'done', message: 'built', durationMs: 1500 });
    c.emit({ type: 'mesh:something:new', time: 4, message: 'hello' } as unknown as MeshEvent);
    flush(store);
    expect(store.getSnapshot().sandbox.message).toBeUndefined();
    expect(store.getSnapshot().logs.map((l) => l.text)).toEqual([
      'starting',
      'image meshbox/callme-service:3f2a: building',
      'image meshbox/callme-service:3f2a done (1.5s): built',
      'mesh:something:new: hello',
    ]);
    store.stop();
  });

  it('leaves app logs out with logs: false, keeping meshbox’s own lines', () => {
    const c = new FakeController();
    const store = new ViewStore(c, { logs: false });
    c.emit({ type: 'mesh:workload:log', time: 1, instance: 'a', stream: 'stdout', line: 'hello' }, { type: 'mesh:workload:healthy', time: 2, instance: 'a', workload: 'a', service: 'a', version: 'v1' });
    flush(store);
    expect(store.getSnapshot().logs.map((l) => l.text)).toEqual(['a healthy']);
    store.stop();
  });
});

describe('building blocks', () => {
  it('SlidingWindow: rate over the covered time, success, and percentiles within 5 %', () => {
    const w = new SlidingWindow({ bucketMs: 500, buckets: 10 });
    let now = 10_000;
    for (let i = 0; i < 1000; i++) {
      w.record(now, i % 10 !== 0, latencyBucket(i % 100 === 0 ? 200 : 10));
      now += 5;
    }
    const s = w.summary(now);
    expect(s.rps).toBeGreaterThan(180);
    expect(s.rps).toBeLessThan(220);
    expect(s.successRate).toBeCloseTo(90, 0);
    expect(s.p50).toBeGreaterThan(9.5);
    expect(s.p50).toBeLessThan(10.5);
    expect(s.p99).toBeGreaterThan(9.5);
    expect(w.summary(now + 10_000).count).toBe(0);
  });

  it('wrap keeps the first line’s indent and indents the rest', () => {
    expect(wrap('  ✗ a bb ccc dddd', 10, 6)).toEqual(['  ✗ a bb', '      ccc', '      dddd']);
    expect(wrap('short', 10, 2)).toEqual(['short']);
  });

  it('RingBuffer keeps the newest items in order', () => {
    const r = new RingBuffer<number>(3);
    for (let i = 1; i <= 5; i++) r.push(i);
    expect(r.last()).toEqual([3, 4, 5]);
    expect(r.last(2)).toEqual([4, 5]);
    expect(r.total).toBe(5);
  });

  it('sameData compares plain data deeply', () => {
    expect(sameData({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true);
    expect(sameData({ a: [1, { b: 2 }] }, { a: [1, { b: 3 }] })).toBe(false);
    expect(sameData({ a: undefined }, {})).toBe(false);
  });

  it('wholePercents adds up to 100 and matchedRoute reads the why lines', () => {
    expect(wholePercents([20, 80])).toEqual([20, 80]);
    expect(wholePercents([21.5, 78.5]).reduce((a, b) => a + b)).toBe(100);
    expect(wholePercents([1, 1, 1]).reduce((a, b) => a + b)).toBe(100);
    expect(matchedRoute(['VirtualService default/callme-service-route http[1] (/x/rules/callme.yaml:44:7): matched match[0] (uri prefix /a)'], 'default')).toBe('callme-service-route[1]');
    expect(matchedRoute(['no virtual host for authority "x"'], undefined)).toBe('-');
  });
});
