/**
 * The `trace` scenario assertion over request events from real proxies: span-latency of
 * callme's spans, "every trace through caller reaches callme" (and what a caller that stops
 * forwarding the headers does to it), and "retries appear as attempts".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateAssertion } from '../../../sandbox/chaos/assertions/evaluate.js';
import { RunState } from '../../../sandbox/chaos/run-state.js';
import { TrafficRecorder } from '../../../sandbox/chaos/traffic-recorder.js';
import type { AssertionSpec } from '../../../sandbox/chaos/scenario-types.js';
import { parseScenarioText } from '../../../sandbox/chaos/scenario-loader.js';
import { TRACE_HEADERS } from '../../../sandbox/telemetry/tracing/trace-context.js';
import type { RequestEvent } from '../../../sandbox/events.js';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';

let h: Harness;

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

async function chain(id: string, forward: boolean): Promise<void> {
  await h.request({ host: 'front.example.com', path: '/caller/ping', headers: { 'x-request-id': id } });
  const got = h.apps.get('caller-v1-1')!.requestsWithId(id)[0]!.headers as Record<string, string>;
  const fwd: Record<string, string> = { 'x-request-id': id };
  if (forward) for (const k of TRACE_HEADERS) if (got[k]) fwd[k] = got[k]!;
  await h.request({ from: 'caller-v1-1', host: 'callme:8080', path: '/callme/ping', headers: fwd });
}

function check(spec: Record<string, unknown>, events: readonly RequestEvent[]) {
  const traffic = new TrafficRecorder();
  for (const e of events) traffic.record(e);
  const state = new RunState(() => Date.now() + 60_000);
  state.phaseStartedAt = 0;
  return evaluateAssertion(spec as AssertionSpec, { traffic, state, target: { instances: async () => [] } });
}

async function settle(n: number): Promise<void> {
  for (let i = 0; i < 300 && h.events.length < n; i++) await new Promise((r) => setTimeout(r, 10));
}

beforeAll(async () => {
  h = await startHarness([{ name: 'caller', versions: { v1: 1 } }, { name: 'callme', versions: { v1: 1 } }], 9, { tracing: {} });
  await h.rules(RULES);
  await h.faults([{ target: { service: 'callme' }, http: { abort: { httpStatus: 503, percent: 30 } } }]);
  for (let i = 0; i < 20; i++) await chain(`ta-${i}`, true);
  await new Promise((r) => setTimeout(r, 100));
});
afterAll(async () => h?.close());

describe('trace assertions', () => {
  it('every trace through caller reaches callme while the headers are forwarded; not when the app drops them', async () => {
    const ok = await check({ type: 'trace', check: 'reaches', through: 'caller', reaches: 'callme', min: 100 }, h.events);
    expect(ok.passed).toBe(true);
    expect(ok.value).toBe(100);
    const before = h.events.length;
    for (let i = 0; i < 4; i++) await chain(`ta-broken-${i}`, false);
    await settle(before + 16);
    const broken = await check({ type: 'trace', check: 'reaches', through: 'caller', reaches: 'callme', min: 100 }, h.events);
    expect(broken.passed).toBe(false);
    expect(broken.value).toBeCloseTo((20 / 24) * 100, 5);
    expect(broken.message).toMatch(/saw 83.3%/);
    expect(JSON.stringify(broken)).toMatch(/20 of 24 traces/);
  });

  it('retries appear as attempts; span-latency of callme is within a generous bound and fails a tiny one', async () => {
    const retried = h.events.filter((e) => e.listener === 'outbound' && e.attempts > 1);
    expect(retried.length).toBeGreaterThan(0);
    const a = await check({ type: 'trace', check: 'attempts', min: 100 }, h.events);
    expect(a.passed).toBe(true);
    const p99 = await check({ type: 'trace', check: 'span-latency', span: 'callme', percentile: 99, max: '5s' }, h.events);
    expect(p99.passed).toBe(true);
    expect(p99.value).toBeGreaterThan(0);
    const tiny = await check({ type: 'trace', check: 'span-latency', span: 'callme', percentile: 99, max: '0.001ms' }, h.events);
    expect(tiny.passed).toBe(false);
    const none = await check({ type: 'trace', check: 'span-latency', span: 'nobody', max: '1s' }, h.events);
    expect(none.passed).toBe(false);
    expect(JSON.stringify(none)).toMatch(/no server span of nobody/);
  });

  it('the scenario schema knows the type and says what is missing', () => {
    const doc = (a: string): string => `title: x\nmethod:\n  - type: expect\n    assertions:\n      - ${a}\n`;
    const good = parseScenarioText(doc('{ type: trace, check: reaches, through: caller, reaches: callme, min: 100 }'), 'good.yaml');
    expect(good.findings.filter((f) => f.severity === 'error')).toEqual([]);
    const bad = parseScenarioText(doc('{ type: trace, check: span-latency, max: 1s }'), 'bad.yaml');
    expect(bad.findings.filter((f) => f.severity === 'error').map((f) => f.message).join('\n')).toMatch(/span/);
  });

});
