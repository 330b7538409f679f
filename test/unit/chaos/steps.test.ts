/**
 * Each step type against a fake target (an HTTP server standing in for the ingress gateway that
 * reports one request event per answer).
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRulesText } from '../../../sandbox/config/rules-loader.js';
import { RunState } from '../../../sandbox/chaos/run-state.js';
import type { StepSpec } from '../../../sandbox/chaos/scenario-types.js';
import { stepType, stepTypes } from '../../../sandbox/chaos/steps/index.js';
import { statusAccepted } from '../../../sandbox/chaos/steps/probe.js';
import { plaintextRequest } from '../../../sandbox/chaos/steps/connect.js';
import { TrafficRecorder } from '../../../sandbox/chaos/traffic-recorder.js';
import { FakeTarget, stepContext } from './scenario-fakes.js';

const targets: FakeTarget[] = [];
afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.close()));
});

async function fake(answer?: ConstructorParameters<typeof FakeTarget>[0]): Promise<FakeTarget> {
  const t = await new FakeTarget(answer).start();
  targets.push(t);
  return t;
}

function run(spec: StepSpec, target: FakeTarget, state = new RunState(), traffic = new TrafficRecorder(), signal?: AbortSignal) {
  const ctx = stepContext(target, spec, { state, traffic, signal });
  target.onEvent(traffic.record);
  return { ctx, outcome: stepType(spec.type)!.run(spec, ctx) };
}

describe('step registry', () => {
  it('has one small entry per type, each with a run method and a schema', () => {
    expect(stepTypes().map((t) => t.type)).toEqual(['rules', 'fault', 'remove-fault', 'workload', 'load', 'stop-load', 'wait', 'probe', 'connect', 'expect']);
    for (const t of stepTypes()) {
      expect(typeof t.run).toBe('function');
      expect(t.summary.length).toBeGreaterThan(10);
    }
  });
});

describe('wait', () => {
  it('waits, and ends early when the run is aborted', async () => {
    const t = await fake();
    const started = Date.now();
    expect((await run({ type: 'wait', duration: '50ms' }, t).outcome).summary).toMatch(/^waited \d+ms$/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    const ac = new AbortController();
    const r = run({ type: 'wait', duration: '10s' }, t, undefined, undefined, ac.signal);
    setTimeout(() => ac.abort(), 20);
    const t0 = Date.now();
    await r.outcome;
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});

describe('load and stop-load', () => {
  it('sends load through the ingress with the mesh host, names its window, reports the result', async () => {
    const t = await fake((n) => ({ status: n % 4 === 0 ? 503 : 200 }));
    const state = new RunState();
    const traffic = new TrafficRecorder();
    const { outcome } = run({ type: 'load', name: 'l', maxRequests: 20, concurrency: 2, path: '/caller/ping', headers: { 'end-user': 'jason' } }, t, state, traffic);
    const o = await outcome;
    expect(o.summary).toMatch(/^load "l" 2 concurrent max 20 requests -> ingress caller\.example\.com\/caller\/ping: 20 sent, 20 answered \(200: 15, 503: 5\)/);
    expect(o.data).toMatchObject({ load: 'l', result: { sent: 20, completed: 20, statusCounts: { '200': 15, '503': 5 } } });
    expect(t.requests[0]).toMatchObject({ path: '/caller/ping', headers: { host: 'caller.example.com', 'end-user': 'jason' } });
    const run0 = state.loads.get('l')!;
    expect(run0.endedAt).toBeGreaterThanOrEqual(run0.startedAt);
    expect(state.lastTraffic?.label).toBe('load "l"');
    expect(traffic.requestsIn(state.window({ load: 'l' })).length).toBe(20);
  });

  it('a warm-up is left out of the load result and of its window', async () => {
    const t = await fake();
    const state = new RunState();
    const traffic = new TrafficRecorder();
    const o = await run({ type: 'load', name: 'w', rate: 100, warmup: '200ms', duration: '300ms' }, t, state, traffic).outcome;
    const sent = (o.data!['result'] as { sent: number }).sent;
    expect(sent).toBeGreaterThanOrEqual(25);
    expect(traffic.requests.length).toBeGreaterThanOrEqual(sent + 15);
    const inWindow = traffic.requestsIn(state.window({ load: 'w' })).length;
    expect(Math.abs(inWindow - sent)).toBeLessThanOrEqual(3);
  });

  it('to a service through a sidecar listener; unnamed loads get names', async () => {
    const t = await fake();
    const state = new RunState();
    const o = await run({ type: 'load', service: 'callme-service', maxRequests: 3, rate: 100, path: '/callme/ping' }, t, state).outcome;
    expect(o.summary).toMatch(/^load "load-1" .* -> callme-service \/callme\/ping via caller-service-v1-1: 3 sent/);
    expect(t.requests[0]!.headers.host).toBe('callme-service');
    await expect(run({ type: 'load', service: 'nope', maxRequests: 1, rate: 1 }, t).outcome).rejects.toThrow(/no sidecar has a listener for nope/);
  });

  it('in the background until stop-load stops it, or until it ends by itself (wait: true)', async () => {
    const t = await fake();
    const state = new RunState();
    const traffic = new TrafficRecorder();
    const bg = await run({ type: 'load', name: 'bg', rate: 200, duration: '30s', background: true, path: '/' }, t, state, traffic).outcome;
    expect(bg.summary).toMatch(/^load "bg" started in the background: 200 req\/s for 30s -> ingress/);
    expect(state.running().map((l) => l.name)).toEqual(['bg']);
    await new Promise((r) => setTimeout(r, 150));
    const stopped = await run({ type: 'stop-load', load: 'bg' }, t, state, traffic).outcome;
    expect(stopped.summary).toMatch(/^load "bg" stopped: \d+ sent/);
    expect(state.running()).toEqual([]);
    await run({ type: 'load', name: 'short', rate: 100, maxRequests: 5, background: true }, t, state, traffic).outcome;
    const waited = await run({ type: 'stop-load', wait: true }, t, state, traffic).outcome;
    expect(waited.summary).toMatch(/^load "short" ended: 5 sent, 5 answered/);
    expect((await run({ type: 'stop-load' }, t, state, traffic).outcome).summary).toBe('no background load was running');
  });
});

describe('probe', () => {
  it('passes when every answer has the expected status, body and latency', async () => {
    const t = await fake(() => ({ status: 200, subset: 'v2' }));
    const o = await run({ type: 'probe', path: '/caller/ping', count: 3, expect: { status: 200, body: 'from v2$', latency: '1s' } }, t).outcome;
    expect(o.failed).toBeUndefined();
    expect(o.summary).toMatch(/^ingress caller\.example\.com\/caller\/ping: 3 of 3 answered as expected \(status 200, body \/from v2\$\/, within 1s\)/);
  });

  it('fails and says which answers did not match', async () => {
    const t = await fake((n) => ({ status: n === 1 ? 503 : 200, delayMs: n === 2 ? 120 : 0 }));
    const o = await run({ type: 'probe', count: 3, expect: { status: '2xx', latency: '100ms' } }, t).outcome;
    expect(o.failed).toBe(true);
    expect(o.summary).toMatch(/expected status 2xx, within 100ms, but 2 of 3 did not: #2: status 503 \("answer 1 from v1"\); #3: took 1\d\d(\.\d)?ms/);
  });

  it('status tolerances: exact, class, inclusive range', () => {
    expect(statusAccepted(200, 200)).toBe(true);
    expect(statusAccepted(204, '2xx')).toBe(true);
    expect(statusAccepted(302, [200, 399])).toBe(true);
    expect(statusAccepted(400, [200, 399])).toBe(false);
  });
});

/** a TCP listener on port 0 that, once the first bytes of a connection arrive, resets it (a STRICT inbound), closes it (FIN) or answers HTTP */
async function listener(mode: 'reset' | 'close' | 'answer'): Promise<number> {
  const server = net.createServer((socket) => {
    socket.once('data', () => {
      if (mode === 'reset') socket.resetAndDestroy();
      else if (mode === 'close') socket.end();
      else socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}
const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function unusedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

describe('connect', () => {
  it('tells a reset (RST) from a close (FIN), an answer and a refused port', async () => {
    const opts = { path: '/callme/ping', host: 'callme-service', timeoutMs: 5000 };
    expect(await plaintextRequest(await listener('reset'), opts)).toMatchObject({ outcome: 'reset', code: 'ECONNRESET' });
    expect(await plaintextRequest(await listener('close'), opts)).toMatchObject({ outcome: 'closed' });
    expect(await plaintextRequest(await listener('answer'), opts)).toMatchObject({ outcome: 'answered', status: 200 });
    expect(await plaintextRequest(await unusedPort(), opts)).toMatchObject({ outcome: 'refused', code: 'ECONNREFUSED' });
  });

  it('sends plaintext HTTP/1.1 to the inbound port of every running instance of a service, workload or instance', async () => {
    const t = await fake();
    const seen: string[] = [];
    const server = net.createServer((socket) => {
      socket.once('data', (d: Buffer) => {
        seen.push(d.toString('latin1').split('\r\n').slice(0, 2).join(' | '));
        socket.resetAndDestroy();
      });
      socket.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    const port = (server.address() as AddressInfo).port;
    for (const i of t.instanceList) i.inboundPort = port;
    t.instanceList[3]!.state = 'stopped';
    const o = await run({ type: 'connect', inbound: 'callme-service', path: '/callme/ping', count: 2, expect: { connection: 'reset' } }, t).outcome;
    expect(o.failed).toBeUndefined();
    expect(o.summary).toBe(`plaintext to the inbound of callme-service-v1-1 :${port}, callme-service-v2-1 :${port}: 4 of 4 connections reset, slowest ${o.summary.split('slowest ')[1]}`);
    expect(seen).toEqual(Array(4).fill('GET /callme/ping HTTP/1.1 | Host: callme-service'));
    expect((o.data!['connections'] as unknown[]).length).toBe(4);
    const one = await run({ type: 'connect', inbound: 'callme-service-v2-1', expect: { connection: 'reset' } }, t).outcome;
    expect(one.summary).toMatch(/^plaintext to the inbound of callme-service-v2-1 :\d+: 1 of 1 connections reset/);
    const byWorkload = await run({ type: 'connect', inbound: 'callme-service-v2', expect: { connection: 'reset' } }, t).outcome;
    expect(byWorkload.summary).toMatch(/^plaintext to the inbound of callme-service-v2-1 :\d+: 1 of 1/);
  });

  it('fails when a connection does not end as expected, and says how each ended', async () => {
    const t = await fake();
    t.instanceList[1]!.inboundPort = await listener('answer');
    t.instanceList[2]!.inboundPort = await listener('reset');
    t.instanceList[3]!.inboundPort = await listener('close');
    const reset = await run({ type: 'connect', inbound: 'callme-service', expect: { connection: 'reset' } }, t).outcome;
    expect(reset.failed).toBe(true);
    expect(reset.summary).toMatch(/expected every connection reset, but 2 of 3 were not: callme-service-v1-1 :\d+ #1: answered 200; callme-service-v2-2 :\d+ #1: closed$/);
    const answered = await run({ type: 'connect', inbound: 'callme-service', expect: { connection: 'answered', status: 200 } }, t).outcome;
    expect(answered.failed).toBe(true);
    expect(answered.summary).toMatch(/expected every connection answered 200, but 2 of 3 were not: callme-service-v2-1 :\d+ #1: reset \(ECONNRESET\); callme-service-v2-2 :\d+ #1: closed$/);
    const status = await run({ type: 'connect', inbound: 'callme-service-v1', expect: { status: 503 } }, t).outcome;
    expect(status.summary).toMatch(/expected every connection answered 503, but 1 of 1 were not: callme-service-v1-1 :\d+ #1: answered 200$/);
  });

  it('an unknown target or an unknown inbound port is an error of the scenario', async () => {
    const t = await fake();
    await expect(run({ type: 'connect', inbound: 'nobody' }, t).outcome).rejects.toThrow(/^no running instance of nobody \(instances: caller-service-v1-1 running, /);
    await expect(run({ type: 'connect', inbound: 'caller-service' }, t).outcome).rejects.toThrow('the inbound port of caller-service-v1-1 is not known');
  });
});

describe('expect', () => {
  it('evaluates the assertions over the last traffic and fails when one does not hold', async () => {
    const t = await fake((n) => ({ status: n < 18 ? 200 : 503 }));
    const state = new RunState();
    const traffic = new TrafficRecorder();
    await run({ type: 'load', maxRequests: 20, concurrency: 1 }, t, state, traffic).outcome;
    const o = await run({ type: 'expect', assertions: [{ type: 'success-rate', min: 90 }, { type: 'error-rate', status: 503, max: 5 }] }, t, state, traffic).outcome;
    expect(o.failed).toBe(true);
    expect(o.summary).toBe('1 of 2 assertions failed');
    expect(o.assertions!.map((a) => a.message)).toEqual([
      'success rate at the ingress gateway: 90% over 20 requests in load "load-1" (expected at least 90%)',
      'share of 503 answers at the ingress gateway: expected at most 5%, saw 10% over 20 requests in load "load-1"',
    ]);
  });

  it('with `within`, evaluates again until the assertions hold', async () => {
    const t = await fake();
    t.instanceList[2]!.healthy = false;
    setTimeout(() => (t.instanceList[2]!.healthy = true), 150);
    const o = await run({ type: 'expect', within: '3s', interval: '20ms', assertions: [{ type: 'healthy', workload: 'callme-service-v2', equals: 2 }] }, t).outcome;
    expect(o.failed).toBe(false);
    expect(o.summary).toMatch(/^1 of 1 assertions held \(after \d+ evaluations\)$/);
    t.instanceList[2]!.healthy = false;
    const started = Date.now();
    const late = await run({ type: 'expect', within: '200ms', interval: '50ms', assertions: [{ type: 'healthy', workload: 'callme-service-v2', equals: 2 }] }, t).outcome;
    expect(late.failed).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('fault and remove-fault', () => {
  it('adds the fault spec (ttl as ttlMs) and removes it after the rollbacks unless removed before', async () => {
    const t = await fake();
    const state = new RunState();
    const o = await run({ type: 'fault', name: 'flaky', target: { service: 'callme-service', subset: 'v2' }, http: { abort: { httpStatus: 503, percent: 50 } }, ttl: '30s' }, t, state).outcome;
    expect(o.summary).toBe('added fault flaky: callme-service subset v2: abort 503 50% (ttl 30s)');
    expect(t.faults.get('flaky')!.spec).toEqual({ name: 'flaky', target: { service: 'callme-service', subset: 'v2' }, http: { abort: { httpStatus: 503, percent: 50 } }, ttlMs: 30_000 });
    expect(state.restores.map((r) => r.description)).toEqual(['remove fault flaky']);
    expect(await state.restores[0]!.undo()).toBeUndefined();
    expect(t.faults.size).toBe(0);
    expect(await state.restores[0]!.undo()).toBe('already removed');
  });

  it('remove-fault by name or all of this run; an unknown name is an error', async () => {
    const t = await fake();
    const state = new RunState();
    await run({ type: 'fault', name: 'a', target: { service: 'callme-service' }, toxics: [{ type: 'latency', attributes: { latency: 100 } }] }, t, state).outcome;
    await run({ type: 'fault', target: { service: 'callme-service' }, http: { delay: { fixedDelayMs: 10 } } }, t, state).outcome;
    await t.addFault({ name: 'not-mine', target: { service: 'callme-service' }, http: { delay: { fixedDelayMs: 1 } } });
    expect((await run({ type: 'remove-fault', fault: 'a' }, t, state).outcome).summary).toBe('removed a');
    await expect(run({ type: 'remove-fault', fault: 'a' }, t, state).outcome).rejects.toThrow('no runtime fault named a is active');
    expect((await run({ type: 'remove-fault', all: true }, t, state).outcome).summary).toBe('removed fault-2');
    expect([...t.faults.keys()]).toEqual(['not-mine']);
    expect(await Promise.all(state.restores.map((r) => r.undo()))).toEqual(['already removed', 'already removed']);
  });
});

describe('workload', () => {
  it('acts on an instance, the first, a random (seeded) or every instance of a workload or service', async () => {
    const t = await fake();
    await run({ type: 'workload', action: 'kill', instance: 'callme-service-v2-2', signal: 'SIGTERM' }, t).outcome;
    await run({ type: 'workload', action: 'restart', workload: 'callme-service-v2' }, t).outcome;
    const random = await run({ type: 'workload', action: 'kill', service: 'callme-service', pick: 'random' }, t).outcome;
    const all = await run({ type: 'workload', action: 'drain', service: 'callme-service', pick: 'all', restore: false }, t).outcome;
    expect(t.actions.slice(0, 2)).toEqual(['kill callme-service-v2-2 SIGTERM', 'restart callme-service-v2-1']);
    expect(random.summary).toMatch(/^killed callme-service-v[12]-\d \(SIGKILL\)$/);
    expect(all.summary).toBe('drained callme-service-v1-1, callme-service-v2-1, callme-service-v2-2');
    await expect(run({ type: 'workload', action: 'stop', instance: 'ghost-1' }, t).outcome).rejects.toThrow(/no instance ghost-1/);
    await expect(run({ type: 'workload', action: 'stop', workload: 'ghost' }, t).outcome).rejects.toThrow(/no instance of ghost/);
  });

  it('stop, pause and drain are undone after the rollbacks, unless a step already did it', async () => {
    const t = await fake();
    const state = new RunState();
    await run({ type: 'workload', action: 'pause', instance: 'callme-service-v1-1' }, t, state).outcome;
    await run({ type: 'workload', action: 'stop', instance: 'callme-service-v2-1' }, t, state).outcome;
    await run({ type: 'workload', action: 'start', instance: 'callme-service-v2-1' }, t, state).outcome;
    expect(state.restores.map((r) => r.description)).toEqual(['resume callme-service-v1-1', 'start callme-service-v2-1']);
    expect(await Promise.all(state.restores.map((r) => r.undo()))).toEqual([undefined, 'already done by a step']);
    expect(t.actions).toEqual(['pause callme-service-v1-1', 'stop callme-service-v2-1', 'start callme-service-v2-1', 'resume callme-service-v1-1']);
  });
});

describe('rules', () => {
  const sample = parseRulesText(
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: callme-service-route }
spec:
  hosts: [callme-service]
  http: [{ route: [{ destination: { host: callme-service, subset: v2 } }] }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: callme-service-destination }
spec: { host: callme-service }
`,
    'rules.yaml',
  ).resources;

  it('applies inline resources over the applied ones (same kind and name replaces), removes, and restores', async () => {
    const t = await fake();
    t.applied = [...sample];
    const state = new RunState();
    const o = await run(
      {
        type: 'rules',
        name: 'r',
        apply: [
          { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'callme-service-route' }, spec: { hosts: ['callme-service'], http: [{ route: [{ destination: { host: 'callme-service', subset: 'v1' } }] }] } },
          { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw' }, spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['a.example.com'] }] } },
        ],
        remove: [{ kind: 'DestinationRule', name: 'callme-service-destination' }],
      },
      t,
      state,
    ).outcome;
    expect(o.summary).toBe('removed DestinationRule default/callme-service-destination, replaced VirtualService default/callme-service-route, added Gateway default/gw (snapshot v11)');
    expect(t.applied.map((r) => `${r.kind}/${r.metadata.name}`)).toEqual(['VirtualService/callme-service-route', 'Gateway/gw']);
    expect((t.applied[0]!.spec as { http: Array<{ route: Array<{ destination: { subset: string } }> }> }).http[0]!.route[0]!.destination.subset).toBe('v1');
    expect(state.restores.map((r) => r.description)).toEqual(['restore the rules as they were before step "r"']);
    await state.restores[0]!.undo();
    expect(t.applied).toEqual(sample);
  });

  it('refuses to remove what is not applied, and cannot change an attached sandbox', async () => {
    const t = await fake();
    await expect(run({ type: 'rules', remove: [{ kind: 'VirtualService', name: 'ghost' }] }, t).outcome).rejects.toThrow(/cannot remove VirtualService default\/ghost: it is not applied/);
    Object.defineProperty(t, 'rules', { value: undefined });
    await expect(run({ type: 'rules', remove: [{ kind: 'VirtualService', name: 'x' }] }, t).outcome).rejects.toThrow(/attached to/);
  });
});
