/**
 * Trace context through real proxies: the gateway starts a trace, each sidecar makes its span a
 * child of the incoming one and sends its own id on (W3C and B3), an app that forwards the
 * headers joins its next call into the trace, one that does not starts a new (broken) trace, and
 * malformed incoming context is replaced, never propagated.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';
import { parseTraceparent, TRACE_HEADERS } from '../../../sandbox/telemetry/tracing/trace-context.js';
import type { StoredTrace } from '../../../sandbox/telemetry/tracing/trace-store.js';

let h: Harness;
const caller = 'caller-v1-1';

const GW = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ['*'] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: front }
spec:
  hosts: ['*']
  gateways: [gw]
  http: [{ match: [{ uri: { prefix: /caller } }], route: [{ destination: { host: caller, port: { number: 8080 } } }] }]
`;

beforeAll(async () => {
  h = await startHarness([
    { name: 'caller', versions: { v1: 1 } },
    { name: 'callme', versions: { v1: 1 } },
  ], 7, { tracing: { samplingPercent: 100 } });
});
afterAll(async () => h?.close());
beforeEach(async () => {
  await h.rules(GW);
  h.tracing!.store.clear();
});

/** what the app behind `instance` received for request `id` */
function received(instance: string, id: string): Record<string, string> {
  const r = h.apps.get(instance)!.requestsWithId(id);
  expect(r.length).toBeGreaterThan(0);
  return r[r.length - 1]!.headers as Record<string, string>;
}

/** the caller app's outgoing call, forwarding (or not) the trace headers it received */
async function callerCalls(id: string, forward: boolean): Promise<void> {
  const inHeaders = received(caller, id);
  const headers: Record<string, string> = { 'x-request-id': id };
  if (forward) for (const k of TRACE_HEADERS) if (inHeaders[k] !== undefined) headers[k] = inHeaders[k]!;
  const r = await h.request({ from: caller, host: 'callme:8080', path: '/callme/ping', headers });
  expect(r.status).toBe(200);
}

async function traceOf(id: string, spans: number): Promise<StoredTrace[]> {
  await h.eventsFor(id, spans);
  const traces = h.tracing!.store.recent(100).filter((t) => t.spans.some((s) => s.requestId === id));
  return traces;
}

describe('propagation', () => {
  it('a request without context gets one at the gateway; forwarding apps join every hop into one trace, correctly parented', async () => {
    const id = 'trace-chain-1';
    const r = await h.request({ host: 'front.example.com', path: '/caller/ping', headers: { 'x-request-id': id } });
    expect(r.status).toBe(200);
    await callerCalls(id, true);
    const traces = await traceOf(id, 4);
    expect(traces).toHaveLength(1);
    const spans = traces[0]!.spans;
    expect(spans).toHaveLength(4);
    const gw = spans.find((s) => s.proxy === 'istio-ingressgateway')!;
    const callerServer = spans.find((s) => s.proxy === caller && s.kind === 'server')!;
    const callerClient = spans.find((s) => s.proxy === caller && s.kind === 'client')!;
    const callmeServer = spans.find((s) => s.proxy === 'callme-v1-1' && s.kind === 'server')!;
    expect(gw.kind).toBe('server');
    expect(gw.parentSpanId).toBeUndefined();
    expect(callerServer.parentSpanId).toBe(gw.spanId);
    expect(callerClient.parentSpanId).toBe(callerServer.spanId);
    expect(callmeServer.parentSpanId).toBe(callerClient.spanId);
    // the app behind a sidecar sees the sidecar's span as its parent, in both formats
    const app = received('callme-v1-1', id);
    expect(app['traceparent']).toBe(`00-${gw.traceId}-${callmeServer.spanId}-01`);
    expect(app['x-b3-traceid']).toBe(gw.traceId);
    expect(app['x-b3-spanid']).toBe(callmeServer.spanId);
    expect(app['x-b3-parentspanid']).toBe(callerClient.spanId);
    expect(app['x-b3-sampled']).toBe('1');
    expect(app['b3']).toBe(`${gw.traceId}-${callmeServer.spanId}-1-${callerClient.spanId}`);
    // Envoy's operation names and Istio's tags
    expect(callerClient.name).toBe('callme.default.svc.cluster.local:8080/*');
    expect(callmeServer.name).toBe('callme.default.svc.cluster.local:8080/*');
    expect(callerClient.tags).toMatchObject({
      component: 'proxy',
      'http.method': 'GET',
      'http.url': 'http://callme:8080/callme/ping',
      'http.status_code': '200',
      response_flags: '-',
      upstream_cluster: 'outbound|8080||callme.default.svc.cluster.local',
      'upstream_cluster.name': 'outbound|8080||callme.default.svc.cluster.local',
      'istio.canonical_service': 'caller',
      'istio.canonical_revision': 'v1',
      'istio.mesh_id': 'cluster.local',
      'istio.namespace': 'default',
    });
    expect(callerClient.tags['node_id']).toMatch(/^sidecar~127\.0\.0\.1~caller-v1-1\.default~default\.svc\.cluster\.local$/);
    expect(callerClient.tags['peer.address']).toBe('127.0.0.1');
    expect(callerClient.tags['error']).toBeUndefined();
  });

  it('an app that does not forward the headers shows up as a broken trace (two traces), as in Istio', async () => {
    const id = 'trace-broken-1';
    await h.request({ host: 'front.example.com', path: '/caller/ping', headers: { 'x-request-id': id } });
    await callerCalls(id, false);
    const traces = await traceOf(id, 4);
    expect(traces).toHaveLength(2);
    const [a, b] = traces.map((t) => t.spans.map((s) => s.proxy).sort().join(','));
    expect([a, b].sort()).toEqual(['caller-v1-1,callme-v1-1', 'caller-v1-1,istio-ingressgateway']);
  });

  it('joins an incoming W3C context (keeping tracestate) and an incoming single b3 header', async () => {
    const tid = '4bf92f3577b34da6a3ce929d0e0e4736';
    await h.request({ host: 'front.example.com', path: '/caller/w3c', headers: { 'x-request-id': 'w3c-1', traceparent: `00-${tid}-00f067aa0ba902b7-01`, tracestate: 'vendor=abc,other=1' } });
    const app = received(caller, 'w3c-1');
    expect(app['traceparent']).toMatch(new RegExp(`^00-${tid}-[0-9a-f]{16}-01$`));
    expect(app['tracestate']).toBe('vendor=abc,other=1');
    const [t] = await traceOf('w3c-1', 2);
    expect(t!.spans.find((s) => s.proxy === 'istio-ingressgateway')!.parentSpanId).toBe('00f067aa0ba902b7');

    await h.request({ host: 'front.example.com', path: '/caller/b3', headers: { 'x-request-id': 'b3-1', b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90' } });
    expect(received(caller, 'b3-1')['x-b3-traceid']).toBe('80f198ee56343ba864fe8b2a57d3eff7');
    // 64-bit B3 trace ids are left-padded to 128 bits
    await h.request({ host: 'front.example.com', path: '/caller/b3', headers: { 'x-request-id': 'b3-2', 'x-b3-traceid': 'a3ce929d0e0e4736', 'x-b3-spanid': 'e457b5a2e4d86bd1', 'x-b3-sampled': '1' } });
    expect(received(caller, 'b3-2')['x-b3-traceid']).toBe('0000000000000000a3ce929d0e0e4736');
  });

  it('an unsampled incoming decision is kept: no spans, headers say sampled 0', async () => {
    await h.request({ host: 'front.example.com', path: '/caller/u', headers: { 'x-request-id': 'unsampled-1', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' } });
    await h.eventsFor('unsampled-1', 2);
    expect(received(caller, 'unsampled-1')['traceparent']).toMatch(/-00$/);
    expect(received(caller, 'unsampled-1')['x-b3-sampled']).toBe('0');
    expect(h.tracing!.store.byRequestId('unsampled-1')).toBeUndefined();
    expect(h.tracing!.stats().unsampled).toBeGreaterThanOrEqual(2);
  });

  it.each([
    ['traceparent', { traceparent: '00-zzzz-00f067aa0ba902b7-01' }],
    ['traceparent', { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' }],
    ['traceparent', { traceparent: 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'garbage=1' }],
    ['b3', { b3: 'not-a-b3-header-at-all' }],
    ['x-b3-traceid', { 'x-b3-traceid': 'xyz', 'x-b3-spanid': 'e457b5a2e4d86bd1' }],
  ])('malformed %s is replaced by a new trace, counted and explained, never propagated (%#)', async (_name, bad) => {
    const id = `bad-${Math.random().toString(36).slice(2)}`;
    const before = h.tracing!.stats().malformedContext;
    const r = await h.request({ host: 'front.example.com', path: '/caller/bad', headers: { 'x-request-id': id, ...(bad as Record<string, string>) } });
    expect(r.status).toBe(200);
    const app = received(caller, id);
    const parsed = parseTraceparent(app['traceparent']!);
    expect(typeof parsed).toBe('object');
    for (const v of Object.values(bad as Record<string, string>)) expect(Object.values(app)).not.toContain(v);
    expect(app['tracestate']).toBeUndefined();
    const events = await h.eventsFor(id, 2);
    const gw = events.find((e) => e.proxy === 'istio-ingressgateway')!;
    expect(gw.trace!.from).toBe('new');
    expect(gw.why.join('\n')).toMatch(/trace context: .* replaced by a new trace/);
    expect(h.tracing!.stats().malformedContext).toBe(before + 1);
  });
});

describe('Telemetry resources (hot-reloaded with the rules)', () => {
  const telemetry = (spec: string, ns = 'istio-system', name = 'mesh-default'): string => `
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: ${name}, namespace: ${ns} }
spec:
${spec}`;

  it('randomSamplingPercentage 0 in the root namespace: no new trace is sampled; a workload selector overrides it; customTags are added', async () => {
    await h.rules(GW + telemetry('  tracing: [{ randomSamplingPercentage: 0 }]'));
    await h.request({ host: 'front.example.com', path: '/caller/t0', headers: { 'x-request-id': 'tel-0' } });
    await h.eventsFor('tel-0', 2);
    expect(received(caller, 'tel-0')['x-b3-sampled']).toBe('0');
    expect(h.tracing!.store.byRequestId('tel-0')).toBeUndefined();

    await h.rules(
      GW +
        telemetry('  tracing: [{ randomSamplingPercentage: 0 }]') +
        telemetry(
          `  selector: { matchLabels: { istio: ingressgateway } }\n  tracing:\n    - randomSamplingPercentage: 100\n      customTags:\n        team: { literal: { value: payments } }\n        user: { header: { name: end-user, defaultValue: anonymous } }`,
          'istio-system',
          'gateway',
        ),
    );
    await h.request({ host: 'front.example.com', path: '/caller/t1', headers: { 'x-request-id': 'tel-1', 'end-user': 'jason' } });
    await h.eventsFor('tel-1', 2);
    const t = h.tracing!.store.byRequestId('tel-1')!;
    // the gateway decided (sampled), the caller's sidecar kept its decision
    expect(t.spans.map((s) => s.proxy).sort()).toEqual([caller, 'istio-ingressgateway']);
    const gw = t.spans.find((s) => s.proxy === 'istio-ingressgateway')!;
    expect(gw.tags['team']).toBe('payments');
    expect(gw.tags['user']).toBe('jason');
    expect(t.spans.find((s) => s.proxy === caller)!.tags['team']).toBeUndefined();
  });

  it('a bad Telemetry is refused with its location; the last good rules keep serving', async () => {
    await expect(h.rules(GW + telemetry('  tracing: [{ randomSamplingPercentage: 150 }]'))).rejects.toThrow(/randomSamplingPercentage/);
    const r = await h.request({ host: 'front.example.com', path: '/caller/still', headers: { 'x-request-id': 'tel-2' } });
    expect(r.status).toBe(200);
  });
});
