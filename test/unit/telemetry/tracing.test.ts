/**
 * Tracing pieces without sockets: header parsing edge cases (W3C and B3, as the specs define
 * them), seeded sampling within a tolerance, the trace store's bounds and the reused-trace-id
 * warning (fake clock), Telemetry precedence, and the command-line checks.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../sandbox/rng.js';
import { decideSpanContext, parseB3Single, parseTraceparent, writeTraceHeaders } from '../../../sandbox/telemetry/tracing/trace-context.js';
import { TraceStore, summarize } from '../../../sandbox/telemetry/tracing/trace-store.js';
import type { Span } from '../../../sandbox/telemetry/tracing/span.js';
import { compileTracing } from '../../../sandbox/telemetry/tracing/telemetry-resource.js';
import type { LoadedResource } from '../../../sandbox/config/resource.js';
import type { ProxyConfig } from '../../../sandbox/control/snapshot.js';
import { tracingFlags } from '../../../cli/commands/up.js';

const TID = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('trace context', () => {
  it('traceparent: valid, future versions with extra fields, and every malformed case', () => {
    expect(parseTraceparent(`00-${TID}-00f067aa0ba902b7-01`)).toEqual({ traceId: TID, spanId: '00f067aa0ba902b7', sampled: true });
    expect(parseTraceparent(`01-${TID}-00f067aa0ba902b7-03-extra`)).toMatchObject({ sampled: true });
    for (const bad of [`00-${TID}-00f067aa0ba902b7-01-x`, `ff-${TID}-00f067aa0ba902b7-01`, `00-${TID.toUpperCase()}-00f067aa0ba902b7-01`, `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, `00-${TID}-${'0'.repeat(16)}-01`, '00-abc', '']) {
      expect(typeof parseTraceparent(bad)).toBe('string');
    }
  });

  it('b3 single: full, without parent, sampling only, debug, and malformed', () => {
    expect(parseB3Single(`${TID}-e457b5a2e4d86bd1-d-05e3ac9a4f6e3b90`)).toMatchObject({ traceId: TID, spanId: 'e457b5a2e4d86bd1', sampled: true });
    expect(parseB3Single(`${TID}-e457b5a2e4d86bd1`)).toMatchObject({ sampled: undefined });
    expect(parseB3Single('0')).toEqual({ sampled: false });
    expect(typeof parseB3Single('2')).toBe('string');
    expect(typeof parseB3Single(`${TID}-e457b5a2e4d86bd1-x`)).toBe('string');
    expect(typeof parseB3Single(`${TID}-e457b5a2e4d86bd1-1-zz`)).toBe('string');
  });

  it('an invalid tracestate is dropped, a valid one kept; b3 sampling-only decides for a new trace', () => {
    const bad = decideSpanContext({ traceparent: `00-${TID}-00f067aa0ba902b7-01`, tracestate: 'no equals sign' }, () => true);
    expect(bad.tracestate).toBeUndefined();
    const good = decideSpanContext({ traceparent: `00-${TID}-00f067aa0ba902b7-01`, tracestate: 'rojo=00f067aa0ba902b7, congo=t61rcWkgMzE' }, () => true);
    expect(good.tracestate).toBe('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
    const onlySampling = decideSpanContext({ b3: '0' }, () => true);
    expect(onlySampling).toMatchObject({ from: 'new', sampled: false });
    expect(onlySampling.replaced).toBeUndefined();
  });

  it('written headers agree with each other and replace what came in', () => {
    const h: Record<string, unknown> = { 'x-b3-flags': '1', tracestate: 'x=1' };
    writeTraceHeaders(h, { traceId: TID, spanId: '1111111111111111', parentSpanId: '2222222222222222', sampled: false, from: 'x-b3' });
    expect(h).toEqual({
      traceparent: `00-${TID}-1111111111111111-00`,
      'x-b3-traceid': TID,
      'x-b3-spanid': '1111111111111111',
      'x-b3-parentspanid': '2222222222222222',
      'x-b3-sampled': '0',
      b3: `${TID}-1111111111111111-0-2222222222222222`,
    });
  });

  it('sampling at 25 % draws from a seeded generator: 25 % ± 3 of 4000 new traces, the same in every run', () => {
    const draw = (): number => {
      const rng = Rng.derive(7, 'trace-sampling');
      let n = 0;
      for (let i = 0; i < 4000; i++) if (decideSpanContext({}, () => rng.percent(25)).sampled) n++;
      return n;
    };
    const n = draw();
    expect(n / 4000).toBeGreaterThan(0.22);
    expect(n / 4000).toBeLessThan(0.28);
    expect(draw()).toBe(n);
  });
});

function span(traceId: string, i: number, parent?: string): Span {
  return { traceId, spanId: i.toString(16).padStart(16, '0'), ...(parent ? { parentSpanId: parent } : {}), name: 'op', kind: 'server', startUs: i, durationUs: 1, proxy: 'p', service: 's.default', tags: {}, events: [], error: false, attempts: 1, requestId: `r${i}` };
}

describe('trace store', () => {
  it('keeps the most recently updated maxTraces, at most maxSpansPerTrace spans each, counted', () => {
    const store = new TraceStore({ maxTraces: 3, maxSpansPerTrace: 2 });
    for (let t = 0; t < 5; t++) store.add(span(String(t).repeat(32), 1));
    expect(store.size).toBe(3);
    expect(store.stats.tracesEvicted).toBe(2);
    expect(store.recent().map((t) => t.traceId[0])).toEqual(['4', '3', '2']);
    const id = '2'.repeat(32);
    store.add(span(id, 2));
    store.add(span(id, 3));
    expect(store.get(id)!.spans).toHaveLength(2);
    expect(store.get(id)!.droppedSpans).toBe(1);
    // touched last: the newest
    expect(store.recent()[0]!.traceId).toBe(id);
  });

  it('a trace id a client reuses after the gap gets a warning and a count; a broken trace has no root', () => {
    let now = 1_000;
    const store = new TraceStore({ reuseGapMs: 60_000, now: () => now });
    const id = 'a'.repeat(32);
    store.add(span(id, 1));
    now += 61_000;
    store.add(span(id, 2, '0000000000000001'));
    expect(store.stats.traceIdsReused).toBe(1);
    expect(store.get(id)!.warnings[0]).toMatch(/reused by a client after 61 s/);
    store.add(span('b'.repeat(32), 5, 'ffffffffffffffff'));
    expect(summarize(store.get('b'.repeat(32))!).complete).toBe(false);
  });
});

describe('Telemetry precedence', () => {
  const proxy = (id: string, ns: string, labels: Record<string, string>): ProxyConfig => ({ id, kind: 'sidecar', meta: { workload: id, namespace: ns, app: labels['app'] ?? id, version: 'v1', service: id, canonicalService: id, canonicalRevision: 'v1', principal: '', labels } });
  const tel = (ns: string, name: string, spec: unknown): LoadedResource => ({ apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name, namespace: ns }, spec, source: { file: 'x', line: 1, col: 1, docIndex: 0 }, locate: () => ({ file: 'x', line: 1, col: 1 }) }) as unknown as LoadedResource;
  it('workload selector over namespace over root namespace over the default', () => {
    const proxies = [proxy('a', 'default', { app: 'a' }), proxy('b', 'default', { app: 'b' }), proxy('c', 'other', { app: 'c' })];
    const cfg = compileTracing({ samplingPercent: 100 }, [
      tel('istio-system', 'mesh', { tracing: [{ randomSamplingPercentage: 1 }] }),
      tel('default', 'ns', { tracing: [{ randomSamplingPercentage: 10 }] }),
      tel('default', 'wl', { selector: { matchLabels: { app: 'a' } }, tracing: [{ disableSpanReporting: true }] }),
    ], proxies)!;
    expect(cfg.byProxy).toEqual({ a: 0, b: 10, c: 1 });
    expect(compileTracing({ samplingPercent: 42 }, [], proxies)).toEqual({ samplingPercent: 42 });
    expect(compileTracing(undefined, [], proxies)).toBeUndefined();
  });
});

describe('command line', () => {
  it('--trace-sampling and collector URLs are checked before anything starts', () => {
    expect(tracingFlags({ traceSampling: '12.5%', otlpEndpoint: 'http://127.0.0.1:4318' })).toEqual({ samplingPercent: 12.5, otlpEndpoint: 'http://127.0.0.1:4318/v1/traces' });
    expect(() => tracingFlags({ traceSampling: '150' })).toThrow(/--trace-sampling "150" is not a percentage between 0 and 100/);
    expect(() => tracingFlags({ zipkin: 'ftp://x' })).toThrow(/--zipkin ftp:\/\/x is not a collector URL/);
    expect(tracingFlags(false)).toBe(false);
  });
});
