/**
 * Retries and faults in a trace, on real sockets: with a 50 % abort on callme and retries at the
 * caller, the caller's client span carries one event per attempt (the failed ones with their 503)
 * and every attempt's server span at callme is its child, the aborted ones tagged with the fault
 * (FI, error). The admin API returns the trace in Jaeger's `/api/traces` shape.
 */
import http from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AdminServer } from '../../../sandbox/admin/admin-server.js';
import { installTraceRoutes } from '../../../sandbox/admin/trace-routes.js';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';

let h: Harness;
let admin: AdminServer;
const caller = 'caller-v1-1';

const RETRY_VS = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: callme }
spec:
  hosts: [callme]
  http: [{ route: [{ destination: { host: callme } }], retries: { attempts: 5, retryOn: 5xx } }]
`;

function get(path: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: Number(new URL(admin.url).port), path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    }).on('error', reject);
  });
}

async function outboundEvent(rid: string) {
  for (let i = 0; i < 300; i++) {
    const ev = h.events.find((e) => e.requestId === rid && e.listener === 'outbound');
    if (ev) return ev;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no outbound event for ${rid}`);
}

beforeAll(async () => {
  h = await startHarness([{ name: 'caller', versions: { v1: 1 } }, { name: 'callme', versions: { v1: 1 } }], 11, { tracing: {} });
  admin = new AdminServer();
  installTraceRoutes(admin, { tracing: () => h.tracing });
  await admin.listen('127.0.0.1', 0, { token: 'x'.repeat(40), tokenFile: '/dev/null' });
});
afterAll(async () => {
  await admin?.close();
  await h?.close();
});
beforeEach(async () => {
  await h.faults([]);
  await h.rules('');
});

describe('retries and faults in traces', () => {
  it('a 50 % abort on callme with retries: failed attempts are events of the client span, each attempt a server span with the fault', async () => {
    await h.rules(RETRY_VS);
    await h.faults([{ target: { service: 'callme' }, http: { abort: { httpStatus: 503, percent: 50 } } }]);
    let id = '';
    for (let i = 0; i < 40 && !id; i++) {
      const rid = `retry-${i}`;
      const r = await h.request({ from: caller, host: 'callme:8080', path: '/callme/ping', headers: { 'x-request-id': rid } });
      const ev = await outboundEvent(rid);
      if (r.status === 200 && ev.attempts >= 2) id = rid;
    }
    expect(id).not.toBe('');
    const out = h.events.find((e) => e.requestId === id && e.listener === 'outbound')!;
    await h.eventsFor(id, 1 + out.attempts);
    const trace = h.tracing!.store.byRequestId(id)!;
    const client = trace.spans.find((s) => s.kind === 'client')!;
    const servers = trace.spans.filter((s) => s.kind === 'server');
    expect(servers).toHaveLength(out.attempts);
    for (const s of servers) expect(s.parentSpanId).toBe(client.spanId);
    const attempts = client.events.filter((e) => e.name.startsWith('attempt '));
    expect(attempts.map((e) => e.attributes['meshbox.attempt'])).toEqual(Array.from({ length: out.attempts }, (_, i) => i + 1));
    expect(attempts.slice(0, -1).every((e) => e.attributes['http.status_code'] === 503)).toBe(true);
    expect(attempts.at(-1)!.attributes['http.status_code']).toBe(200);
    const aborted = servers.filter((s) => s.tags['fault']);
    expect(aborted).toHaveLength(out.attempts - 1);
    for (const s of aborted) {
      expect(s.tags).toMatchObject({ fault: 'abort 503', response_flags: 'FI', error: 'true', 'http.status_code': '503' });
      expect(s.events.map((e) => e.name)).toContain('fault injected: abort 503');
    }
    expect(client.tags['error']).toBeUndefined();
    expect(client.attempts).toBe(out.attempts);

    // the admin API: Jaeger's shape
    const one = await get(`/traces/${trace.traceId}`);
    expect(one.status).toBe(200);
    const jt = one.body.data[0];
    expect(jt.traceID).toBe(trace.traceId);
    expect(jt.spans).toHaveLength(trace.spans.length);
    const jClient = jt.spans.find((s: any) => s.spanID === client.spanId);
    expect(jClient.operationName).toBe('callme.default.svc.cluster.local:8080/*');
    expect(jClient.logs.filter((l: any) => l.fields.some((f: any) => f.key === 'event' && String(f.value).startsWith('attempt ')))).toHaveLength(out.attempts);
    const jServer = jt.spans.find((s: any) => s.spanID === servers[0]!.spanId);
    expect(jServer.references).toEqual([{ refType: 'CHILD_OF', traceID: trace.traceId, spanID: client.spanId }]);
    expect(jt.processes[jServer.processID].serviceName).toBe('callme.default');
    expect(jServer.tags).toContainEqual({ key: 'span.kind', type: 'string', value: 'server' });
    const byReq = await get(`/traces/by-request/${id}`);
    expect(byReq.body.data[0].traceID).toBe(trace.traceId);
    const list = await get('/api/traces?limit=5');
    expect(list.status).toBe(200);
    expect(list.body.data.length).toBeGreaterThan(0);
    expect(list.body.data.length).toBeLessThanOrEqual(5);
    const summary = await get('/traces/summary');
    expect(summary.body.find((t: any) => t.traceId === trace.traceId)).toMatchObject({ retries: out.attempts - 1, complete: true, services: ['caller.default', 'callme.default'] });
  });

  it('a client-side VirtualService abort: the client span shows the fault, FI and error, and no attempt', async () => {
    await h.rules(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: callme }
spec:
  hosts: [callme]
  http: [{ fault: { abort: { httpStatus: 500, percentage: { value: 100 } } }, route: [{ destination: { host: callme } }] }]
`);
    const r = await h.request({ from: caller, host: 'callme:8080', path: '/x', headers: { 'x-request-id': 'vs-abort-1' } });
    expect(r.status).toBe(500);
    await h.eventsFor('vs-abort-1', 1);
    const [s] = h.tracing!.store.byRequestId('vs-abort-1')!.spans;
    expect(s!.tags).toMatchObject({ fault: 'abort 500', response_flags: 'FI', error: 'true' });
    expect(s!.events.filter((e) => e.name.startsWith('attempt'))).toHaveLength(0);
  });

  it('bad admin queries: unknown trace 404, malformed id 400, bad limit 400 with a message', async () => {
    expect((await get('/traces/0123456789abcdef0123456789abcdef')).status).toBe(404);
    const bad = await get('/traces/not-hex!');
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].msg).toMatch(/not a trace id/);
    const lim = await get('/traces?limit=0');
    expect(lim.status).toBeGreaterThanOrEqual(400);
    expect(lim.status).toBeLessThan(500);
    expect(JSON.stringify(lim.body)).toMatch(/limit=0 is not a whole number/);
    const stats = await get('/traces/stats');
    expect(stats.body).toMatchObject({ samplingPercent: 100, exporters: [] });
    expect(stats.body.spans).toBeGreaterThan(0);
  });
});
