/**
 * Every buffer of the view store is bounded, whatever the traffic: one x-request-id reused by a
 * client forever, subsets that come and go, endpoints ejected and removed, endless log lines.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ViewStore } from '../../cli/tui/view-store.js';
import { FakeController, hop, upEvents } from './helpers.js';

/** a full garbage collection, so heapUsed is what is really kept */
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('ViewStore bounds', () => {
  it('one x-request-id reused 100k times (300 req/s for 333 s) keeps a bounded number of events', () => {
    const c = new FakeController();
    const t = clock();
    const store = new ViewStore(c, { now: t.now });
    c.emit(...upEvents());
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100_000; i++) {
      t.advance(3.3);
      c.emit(hop({ requestId: 'same-id', startTime: t.now() }), hop({ requestId: 'same-id', reporter: 'destination', startTime: t.now() }));
      if (i % 30 === 0) store.publish();
    }
    // the default budget of one request id: 64 events (a hop's attempts, both reporters)
    expect(store.requestEvents('same-id').length).toBeLessThanOrEqual(64);
    expect(store.requestEvents('same-id').length).toBeGreaterThan(0);
    const limits = store.bufferLimits();
    const sizes = store.bufferSizes();
    // the newest events are the ones kept
    expect(store.requestEvents('same-id').at(-1)!.startTime).toBe(t.now());
    expect(sizes.indexedEvents).toBeLessThanOrEqual(limits.indexedEvents);
    for (const [name, size] of Object.entries(sizes)) expect(size, name).toBeLessThanOrEqual(limits[name as keyof typeof limits]);
    // the 200k events would keep ~320 MB (measured before the bound); what stays is the bounded buffers
    gc();
    const grown = process.memoryUsage().heapUsed - heapBefore;
    expect(grown).toBeLessThan(20 * 1024 * 1024);
    store.stop();
  });

  it('many request ids with many events each: the index holds at most its event budget', () => {
    const c = new FakeController();
    const t = clock();
    const store = new ViewStore(c, { now: t.now, requestCapacity: 100 });
    for (let id = 0; id < 300; id++) for (let k = 0; k < 50; k++) c.emit(hop({ requestId: `r-${id}` }));
    const sizes = store.bufferSizes();
    const limits = store.bufferLimits();
    expect(sizes.requestIds).toBeLessThanOrEqual(100);
    expect(sizes.indexedEvents).toBeLessThanOrEqual(limits.indexedEvents);
    // the latest request is whole
    expect(store.requestEvents('r-299').length).toBe(Math.min(50, limits.eventsPerRequest));
    store.stop();
  });

  it('subsets that come and go: counters of idle ones are dropped, and a removed subset leaves the graph', () => {
    const c = new FakeController();
    const t = clock();
    const store = new ViewStore(c, { now: t.now });
    c.emit(...upEvents());
    for (let round = 0; round < 500; round++) {
      for (let k = 0; k < 3; k++) c.emit(hop({ version: `canary-${round}`, subset: `canary-${round}` }));
      t.advance(1000);
      store.publish();
    }
    c.emit(hop({ version: 'v1', subset: 'v1' }));
    t.advance(100);
    store.touch();
    store.publish();
    const edge = store.getSnapshot().edges.find((e) => e.destination === 'callme-service')!;
    // only subsets with traffic in the window (5 s): the last few canaries and v1
    expect(edge.split.map((s) => s.version)).not.toContain('canary-0');
    expect(edge.split.length).toBeLessThanOrEqual(7);
    expect(store.bufferSizes().series).toBeLessThan(60);
    // versions seen in the last two windows at most (idle ones are swept once per window)
    expect(store.bufferSizes().edgeVersions).toBeLessThanOrEqual(12);
    store.stop();
  });

  it('ejections of endpoints that no longer exist are forgotten; log lines are capped in length', () => {
    const c = new FakeController();
    const t = clock();
    const store = new ViewStore(c, { now: t.now });
    for (let i = 0; i < 5000; i++) c.emit({ type: 'mesh:outlier:ejected', time: i, cluster: 'c', endpoint: `gone-${i}`, reason: 'x' });
    c.emit({ type: 'mesh:workload:log', time: 1, instance: 'callme-service-v2-1', stream: 'stdout', line: 'x'.repeat(1_000_000) });
    store.touch();
    store.publish();
    expect(store.bufferSizes().ejected).toBeLessThanOrEqual(store.bufferLimits().ejected);
    const last = store.getSnapshot().logs.at(-1)!;
    expect(last.text.length).toBeLessThan(5000);
    expect(last.text).toMatch(/more characters/);
    store.stop();
  });

  it('callers and services without end (a series per key): the number of counters is capped', () => {
    const c = new FakeController();
    const t = clock();
    const store = new ViewStore(c, { now: t.now });
    for (let i = 0; i < 5000; i++) c.emit(hop({ service: `svc-${i}`, source: `src-${i}-v1` }));
    t.advance(10);
    store.touch();
    store.publish();
    const sizes = store.bufferSizes();
    const limits = store.bufferLimits();
    expect(sizes.series).toBeLessThanOrEqual(limits.series);
    expect(sizes.edges).toBeLessThanOrEqual(limits.edges);
    store.stop();
  });
});
