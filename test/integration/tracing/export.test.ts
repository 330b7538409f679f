/**
 * Export to real collectors on loopback: OTLP/HTTP JSON and Zipkin v2 JSON receive the spans of
 * a request with their parents and Envoy's tags; a dead, erroring or hanging collector costs the
 * traffic nothing: spans wait in a bounded queue, the overflow is dropped and counted, failures
 * are counted and reported once with the collector's answer.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';
import { startTraceCollector, type TraceCollector } from '../../helpers/trace-collector.js';
import { SpanExporter, collectorUrl } from '../../../sandbox/telemetry/tracing/exporter.js';
import type { Span } from '../../../sandbox/telemetry/tracing/span.js';
import { freePort } from '../../helpers/free-port.js';

const until = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

function span(i: number): Span {
  return {
    traceId: 'a'.repeat(32),
    spanId: (i + 1).toString(16).padStart(16, '0'),
    name: 'callme.default.svc.cluster.local:8080/*',
    kind: 'server',
    startUs: Date.now() * 1000,
    durationUs: 1000,
    proxy: 'callme-v1-1',
    service: 'callme.default',
    tags: { 'http.status_code': '200', response_flags: '-' },
    events: [],
    error: false,
    attempts: 1,
    requestId: `r${i}`,
  };
}

describe('exporters against a loopback collector', () => {
  let h: Harness;
  let otlp: TraceCollector;
  let zipkin: TraceCollector;
  beforeAll(async () => {
    otlp = await startTraceCollector();
    zipkin = await startTraceCollector();
    h = await startHarness([{ name: 'caller', versions: { v1: 1 } }, { name: 'callme', versions: { v1: 1 } }], 3, {
      tracing: { otlpEndpoint: `${otlp.url}/v1/traces`, zipkinEndpoint: `${zipkin.url}/api/v2/spans`, exporter: { intervalMs: 20 } },
    });
  });
  afterAll(async () => {
    await h?.close();
    await otlp?.close();
    await zipkin?.close();
  });

  it('OTLP and Zipkin receive the client and server spans of a hop, parented, with Envoy tags', async () => {
    const r = await h.request({ from: 'caller-v1-1', host: 'callme:8080', path: '/callme/ping', headers: { 'x-request-id': 'export-1' } });
    expect(r.status).toBe(200);
    for (const c of [otlp, zipkin]) {
      await until(() => c.spans.filter((s) => s.tags['guid:x-request-id'] === 'export-1').length === 2);
      const spans = c.spans.filter((s) => s.tags['guid:x-request-id'] === 'export-1');
      const client = spans.find((s) => s.kind === 'CLIENT')!;
      const server = spans.find((s) => s.kind === 'SERVER')!;
      expect(server.parentSpanId).toBe(client.spanId);
      expect(server.traceId).toBe(client.traceId);
      expect(client.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(client.service).toBe('caller.default');
      expect(server.service).toBe('callme.default');
      expect(client.name).toBe('callme.default.svc.cluster.local:8080/*');
      expect(client.tags).toMatchObject({ 'http.method': 'GET', 'http.status_code': '200', component: 'proxy', 'upstream_cluster': 'outbound|8080||callme.default.svc.cluster.local' });
    }
    expect(otlp.requests[0]!.path).toBe('/v1/traces');
    expect(otlp.requests[0]!.contentType).toBe('application/json');
    expect(zipkin.requests[0]!.path).toBe('/api/v2/spans');
    await until(() => h.tracing!.stats().exporters.every((e) => e.exported >= 2));
    expect(h.tracing!.stats().exporters.map((e) => [e.name, e.dropped, e.failed])).toEqual([['OTLP', 0, 0], ['Zipkin', 0, 0]]);
  });
});

describe('bounded queues and failing collectors', () => {
  const exporters: SpanExporter[] = [];
  const collectors: TraceCollector[] = [];
  afterEach(async () => {
    await Promise.all(exporters.splice(0).map((e) => e.close()));
    await Promise.all(collectors.splice(0).map((c) => c.close()));
  });

  it('a collector that never answers: enqueue stays O(1), the queue is bounded, the overflow is dropped and counted', async () => {
    const c = await startTraceCollector();
    c.mode = 'hang';
    collectors.push(c);
    const x = new SpanExporter({ format: 'otlp', url: `${c.url}/v1/traces`, maxQueue: 50, maxBatch: 10, intervalMs: 5, timeoutMs: 300 });
    exporters.push(x);
    for (let i = 0; i < 1000; i++) x.enqueue(span(i));
    // one batch of 10 is in flight, 50 wait, the rest was dropped at once
    expect(x.stats.queued).toBe(50);
    expect(x.stats.dropped).toBe(1000 - 50 - 10);
    await until(() => x.stats.failed >= 10, 3000);
    expect(x.stats.lastError).toMatch(/no answer within 300 ms/);
  });

  it('an unreachable collector: failures counted, reported once with what to do', async () => {
    const port = await freePort();
    const messages: string[] = [];
    const x = new SpanExporter({ format: 'zipkin', url: `http://127.0.0.1:${port}/api/v2/spans`, maxBatch: 5, intervalMs: 5, onStatus: (s) => messages.push(s.message) });
    exporters.push(x);
    for (let i = 0; i < 20; i++) x.enqueue(span(i));
    await until(() => x.stats.failed === 20, 3000);
    expect(x.stats.exported).toBe(0);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/trace export to Zipkin \(http:\/\/127\.0\.0\.1:\d+\/api\/v2\/spans\) failed: connection refused/);
    expect(messages[0]).toMatch(/is the collector running/);
  });

  it('an erroring collector (500): counted with its answer; when it recovers, export resumes and says so', async () => {
    const c = await startTraceCollector();
    c.mode = 'error';
    collectors.push(c);
    const messages: Array<{ ok: boolean; message: string }> = [];
    const x = new SpanExporter({ format: 'otlp', url: `${c.url}/v1/traces`, maxBatch: 5, intervalMs: 5, onStatus: (s) => messages.push(s) });
    exporters.push(x);
    for (let i = 0; i < 5; i++) x.enqueue(span(i));
    await until(() => x.stats.failed === 5);
    expect(x.stats.lastError).toBe('the collector answered 500: collector is broken');
    c.mode = 'ok';
    for (let i = 5; i < 10; i++) x.enqueue(span(i));
    await until(() => x.stats.exported === 5);
    expect(c.spans.map((s) => s.spanId)).toEqual([6, 7, 8, 9, 10].map((n) => n.toString(16).padStart(16, '0')));
    expect(messages.map((m) => m.ok)).toEqual([false, true]);
  });

  it('collector URLs: the spec path is added when none is given; a bad URL is a clear error', () => {
    expect(collectorUrl('--otlp-endpoint', 'http://127.0.0.1:4318')).toBe('http://127.0.0.1:4318/v1/traces');
    expect(collectorUrl('--zipkin', 'http://127.0.0.1:9411/')).toBe('http://127.0.0.1:9411/api/v2/spans');
    expect(() => collectorUrl('--zipkin', 'localhost:9411')).toThrow(/--zipkin localhost:9411 is not a collector URL/);
    expect(() => collectorUrl('--otlp-endpoint', 'nope')).toThrow(/not a URL/);
  });
});

describe('a hanging collector behind real proxies', () => {
  it('traffic is not held up: every request answers, the queue stays bounded, the overflow is counted', async () => {
    const c = await startTraceCollector();
    c.mode = 'hang';
    // the export timeout is far beyond what any request may take here: a request that waited for
    // the collector would show as a request that did not answer
    const h = await startHarness([{ name: 'caller', versions: { v1: 1 } }, { name: 'callme', versions: { v1: 1 } }], 4, {
      tracing: { otlpEndpoint: `${c.url}/v1/traces`, exporter: { maxQueue: 20, maxBatch: 5, intervalMs: 5, timeoutMs: 60_000 } },
    });
    try {
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          Promise.race([
            h.request({ from: 'caller-v1-1', host: 'callme:8080', path: `/callme/${i}`, headers: { 'x-request-id': `hang-${i}` } }).then((r) => r.status),
            new Promise<number>((r) => setTimeout(() => r(-1), 20_000)),
          ]),
        ),
      );
      expect(answers.every((s) => s === 200)).toBe(true);
      await until(() => h.events.length >= 60);
      const x = h.tracing!.stats().exporters[0]!;
      // 60 spans: one batch of 5 stuck at the collector, 20 queued, the rest dropped
      expect(x.queued).toBe(20);
      expect(x.dropped).toBe(60 - 20 - 5);
      expect(x.exported).toBe(0);
      // the built-in store is not affected by the exporter
      expect(h.tracing!.stats().spans).toBe(60);
    } finally {
      c.mode = 'ok';
      await c.close();
      await h.close();
    }
  });
});
