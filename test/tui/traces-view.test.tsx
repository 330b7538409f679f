/**
 * The Traces view against real spans: a request through the gateway, caller and callme on real
 * sockets (callme aborts half its requests, the caller retries), its events fed to the UI, and
 * the trace store the sandbox would give it. From the request in Traffic, `t` opens the trace's
 * waterfall: every span parented under the one before, the failed attempts and the fault.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/mesh-harness.js';
import { TRACE_HEADERS } from '../../sandbox/telemetry/tracing/trace-context.js';
import { FakeController, KEYS, mount, upEvents } from './helpers.js';
import { Tracing } from '../../sandbox/telemetry/tracing/tracer.js';
import { freePort } from '../helpers/free-port.js';

let h: Harness;
let requestId = '';

const RULES = `
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
  http: [{ route: [{ destination: { host: caller, port: { number: 8080 } } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: callme }
spec:
  hosts: [callme]
  http: [{ route: [{ destination: { host: callme } }], retries: { attempts: 5, retryOn: 5xx } }]
`;

async function waitFor<T>(f: () => T | undefined): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('timed out');
}

beforeAll(async () => {
  h = await startHarness([{ name: 'caller', versions: { v1: 1 } }, { name: 'callme', versions: { v1: 1 } }], 5, { tracing: {} });
  await h.rules(RULES);
  await h.faults([{ target: { service: 'callme' }, http: { abort: { httpStatus: 503, percent: 50 } } }]);
  // the caller app's part, done by the test: call callme, forwarding the trace headers
  for (let i = 0; i < 40 && !requestId; i++) {
    const id = `tui-${i}`;
    await h.request({ host: 'front.example.com', path: '/caller/ping', headers: { 'x-request-id': id } });
    const got = h.apps.get('caller-v1-1')!.requestsWithId(id)[0]!.headers as Record<string, string>;
    const fwd: Record<string, string> = { 'x-request-id': id };
    for (const k of TRACE_HEADERS) if (got[k]) fwd[k] = got[k]!;
    const r = await h.request({ from: 'caller-v1-1', host: 'callme:8080', path: '/callme/ping', headers: fwd });
    const out = await waitFor(() => h.events.find((e) => e.requestId === id && e.listener === 'outbound'));
    if (r.status === 200 && out.attempts >= 2) {
      await waitFor(() => (h.events.filter((e) => e.requestId === id).length >= 3 + out.attempts ? true : undefined));
      requestId = id;
    }
  }
});
afterAll(async () => h?.close());

describe('Traces view', () => {
  it('t on a request in Traffic opens its waterfall: gateway, caller server and client, callme per attempt, failed attempts and the fault', async () => {
    expect(requestId).not.toBe('');
    const controller = new FakeController();
    controller.traces = h.tracing!.store;
    const ui = await mount({ controller, view: 'traffic', columns: 150, rows: 40 });
    controller.emit(...upEvents(), ...h.events.filter((e) => e.requestId === requestId));
    await ui.publish();
    await ui.press(KEYS.up, 't');
    const frame = ui.frame();
    const trace = h.tracing!.store.byRequestId(requestId)!;
    expect(frame).toContain(`trace ${trace.traceId}`);
    const lines = frame.split('\n');
    const row = (text: string): number => lines.findIndex((l) => l.includes(text));
    const gw = row('istio-ingressgateway.istio-system server');
    const callerServer = row('caller.default server');
    const callerClient = row('caller.default client callme.default');
    const callmeServer = row('callme.default server');
    expect(gw).toBeGreaterThanOrEqual(0);
    // the waterfall's order and indentation follow the parents
    expect(callerServer).toBeGreaterThan(gw);
    expect(callerClient).toBeGreaterThan(callerServer);
    expect(callmeServer).toBeGreaterThan(callerClient);
    const indent = (i: number): number => /^\s*/.exec(lines[i]!.replace(/^│?/, ''))![0].length;
    expect(indent(callerServer)).toBeGreaterThan(indent(gw));
    expect(indent(callerClient)).toBeGreaterThan(indent(callerServer));
    expect(frame).toMatch(/↳ attempt 1 → callme-v1-1: 503/);
    expect(frame).toMatch(/✗ fault injected: abort 503/);
    expect(frame).toMatch(/503 FI/);
    expect(frame).toContain('retries');
    // esc: back to the list, where the trace is a row with its services and retries
    await ui.press(KEYS.escape);
    const list = ui.frame();
    expect(list).toContain('recent traces, newest first');
    expect(list).toContain(trace.traceId.slice(0, 8));
    expect(list).toContain('istio-ingressgateway → caller → callme');
    // enter on the row opens the waterfall again
    await ui.press(KEYS.enter);
    expect(ui.frame()).toContain(`trace ${trace.traceId}`);
    ui.unmount();
  });

  it('the list shows the exporters: a dead collector’s failed spans in its line, with the reason', async () => {
    const port = await freePort();
    const tracing = new Tracing({ zipkinEndpoint: `http://127.0.0.1:${port}/api/v2/spans`, exporter: { intervalMs: 5 } }, () => undefined);
    for (const e of h.events) tracing.observe(e);
    await waitFor(() => (tracing.stats().exporters[0]!.failed > 0 && tracing.stats().exporters[0]!.queued === 0 ? true : undefined));
    const controller = new FakeController();
    controller.traces = tracing.store;
    controller.traceStats = () => tracing.stats();
    const ui = await mount({ controller, view: 'traces', columns: 160, rows: 30 });
    const failed = tracing.stats().exporters[0]!.failed;
    expect(ui.frame()).toContain(`Zipkin http://127.0.0.1:${port}/api/v2/spans: 0 exported, 0 dropped, ${failed} failed (connection refused)`);
    expect(ui.frame()).toContain('sampling 100%');
    ui.unmount();
    await tracing.close();
  });

  it('7 shows the list; without tracing it says so; t on an untraced request explains', async () => {
    const controller = new FakeController();
    const ui = await mount({ controller, columns: 120, rows: 30 });
    await ui.press('7');
    expect(ui.frame()).toContain('tracing is off in this sandbox');
    ui.unmount();
    const c2 = new FakeController();
    c2.traces = h.tracing!.store;
    const ui2 = await mount({ controller: c2, view: 'traffic', columns: 120, rows: 30 });
    const e = { ...h.events.find((x) => x.listener === 'outbound')!, requestId: 'no-such-request' };
    c2.emit(...upEvents(), e);
    await ui2.publish();
    await ui2.press(KEYS.up, 't');
    expect(ui2.frame()).toContain('no trace for request no-such-request');
    ui2.unmount();
  });
});
