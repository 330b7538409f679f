/**
 * Istio's resilience features on real sockets: circuit breaking, outlier detection, fault
 * injection statistics, and meshbox's own HTTP faults, through a client sidecar to fake apps.
 */
import http from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';

let h: Harness;
const client = 'client-v1-1';

beforeAll(async () => {
  h = await startHarness([
    { name: 'client', versions: { v1: 1 } },
    { name: 'backend', versions: { v1: 1, v2: 2 } },
  ], 99);
});
afterAll(async () => h?.close());
beforeEach(async () => {
  for (const a of h.apps.values()) a.fail = undefined;
  await h.faults([]);
  await h.rules('');
});

const dr = (policy: string): string => `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: backend }
spec:
  host: backend
${policy ? `  trafficPolicy:\n${policy}` : ''}
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
`;

const vs = (route: string): string => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http:
    - route: [{ destination: { host: backend, subset: v2 } }]
${route}`;

describe('circuit breaking (DestinationRule connectionPool)', () => {
  it("Istio's task: maxConnections 1 + http1MaxPendingRequests 1 turns the third concurrent request into an immediate 503 UO", async () => {
    await h.rules(dr('    connectionPool:\n      tcp: { maxConnections: 1 }\n      http: { http1MaxPendingRequests: 1, maxRequestsPerConnection: 1 }'));
    const started = Date.now();
    const replies = await Promise.all(
      [0, 1, 2].map((i) => h.request({ from: client, host: 'backend', path: '/delay/300', headers: { 'x-request-id': `cb-${i}` } }).then((r) => ({ ...r, at: Date.now() - started }))),
    );
    const overflowed = replies.filter((r) => r.status === 503);
    expect(overflowed).toHaveLength(1);
    const uo = overflowed[0]!;
    expect(uo.body).toBe('upstream connect error or disconnect/reset before headers. reset reason: overflow');
    expect(uo.headers['x-envoy-overloaded']).toBe('true');
    // the overflow is answered at once, not after waiting: before any upstream answer (300 ms)
    const served = replies.filter((r) => r.status === 200).map((r) => r.at).sort((a, b) => a - b);
    expect(uo.at).toBeLessThan(served[0]!);
    // the queued one waited for the first: one connection at a time
    expect(served[1]).toBeGreaterThanOrEqual(550);
    const events = await Promise.all([0, 1, 2].map((i) => h.eventsFor(`cb-${i}`, 1)));
    expect(events.flat().filter((e) => e.reporter === 'source' && e.responseFlags === 'UO')).toHaveLength(1);
  });

  it('0 means unset (Istio): no limit at all', async () => {
    await h.rules(dr('    connectionPool:\n      tcp: { maxConnections: 0 }\n      http: { http1MaxPendingRequests: 0, maxRetries: 0 }'));
    const replies = await Promise.all([0, 1, 2, 3, 4].map(() => h.request({ from: client, host: 'backend', path: '/delay/100' })));
    expect(replies.every((r) => r.status === 200)).toBe(true);
  });

  it('maxRequestsPerConnection: 1 opens a new upstream connection per request', async () => {
    await h.rules(dr('    connectionPool:\n      http: { maxRequestsPerConnection: 1 }') + vs(''));
    type Stats = { clusters: Array<{ proxy: string; name: string; hosts: Array<{ id: string; cx_total: number; rq_total: number }> }> };
    const v2 = async (): Promise<Array<{ cx_total: number; rq_total: number }>> =>
      ((await h.dataPlane.clusters()) as Stats).clusters.find((c) => c.proxy === client && c.name === 'outbound|8080|v2|backend.default.svc.cluster.local')!.hosts;
    const before = await v2();
    for (let i = 0; i < 12; i++) await h.request({ from: client, host: 'backend', path: '/x' });
    const after = await v2();
    const newConnections = after.reduce((s, x) => s + x.cx_total, 0) - before.reduce((s, x) => s + x.cx_total, 0);
    const requests = after.reduce((s, x) => s + x.rq_total, 0) - before.reduce((s, x) => s + x.rq_total, 0);
    expect(requests).toBe(12);
    expect(newConnections).toBe(12);
  });
});

describe('outlier detection', () => {
  it('ejects a host after consecutive 5xx, shows it in /clusters, and lets it back after the ejection time', async () => {
    await h.rules(dr('    loadBalancer: { simple: ROUND_ROBIN }\n    outlierDetection: { consecutive5xxErrors: 3, interval: 0.2s, baseEjectionTime: 0.6s, maxEjectionPercent: 100 }') + vs(''));
    h.apps.get('backend-v2-1')!.fail = 500;
    const served: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await h.request({ from: client, host: 'backend', path: '/x' });
      served.push(r.status === 500 ? 'error' : String(r.json()['instance']));
    }
    // round robin alternates until three 500s from v2-1 eject it; everything after goes to v2-2
    const third = served.map((x, i) => (x === 'error' ? i : -1)).filter((i) => i >= 0);
    expect(third).toHaveLength(3);
    expect(served.slice(third[2]! + 1)).toEqual(Array(19 - third[2]!).fill('backend-v2-2'));
    expect(served.slice(0, third[2]!).filter((x) => x !== 'error')).toEqual(Array(third[2]! - 2).fill('backend-v2-2'));
    const clusters = (await h.dataPlane.clusters()) as { clusters: Array<{ proxy: string; name: string; hosts: Array<{ id: string; ejected: boolean; health_flags: string }> }> };
    const v2 = clusters.clusters.find((c) => c.proxy === client && c.name === 'outbound|8080|v2|backend.default.svc.cluster.local')!;
    expect(v2.hosts.find((x) => x.id === 'backend-v2-1')).toMatchObject({ ejected: true, health_flags: '/failed_outlier_check' });
    h.apps.get('backend-v2-1')!.fail = undefined;
    await new Promise((r) => setTimeout(r, 1000));
    const instances = new Set<string>();
    for (let i = 0; i < 10; i++) instances.add(String((await h.request({ from: client, host: 'backend', path: '/x' })).json()['instance']));
    expect(instances.has('backend-v2-1')).toBe(true);
  });

  it('with every host ejected the answer is 503 no healthy upstream (UH)', async () => {
    await h.rules(dr('    outlierDetection: { consecutive5xxErrors: 1, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 100 }') + vs(''));
    h.apps.get('backend-v2-1')!.fail = 503;
    h.apps.get('backend-v2-2')!.fail = 503;
    await h.request({ from: client, host: 'backend', path: '/x' });
    await h.request({ from: client, host: 'backend', path: '/x' });
    const r = await h.request({ from: client, host: 'backend', path: '/x', headers: { 'x-request-id': 'all-ejected' } });
    expect(r.status).toBe(503);
    expect(r.body).toBe('no healthy upstream');
    const [e] = (await h.eventsFor('all-ejected', 1)).filter((x) => x.reporter === 'source');
    expect(e!.responseFlags).toBe('UH');
    expect(e!.why.join(' ')).toContain('outlier detection ejected');
  });
});

describe('fault injection (VirtualService fault) statistics', () => {
  it('abort 10% is observed 10% ± 1.5 over 4000 requests', async () => {
    await h.rules(dr('    loadBalancer: { simple: RANDOM }') + vs('      fault: { abort: { httpStatus: 500, percentage: { value: 10 } } }\n'));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const port = h.instance(client).sidecar.outbound;
    let aborted = 0;
    const one = (): Promise<number> =>
      new Promise((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: '/x', agent, headers: { host: 'backend' } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          })
          .on('error', reject);
      });
    for (let batch = 0; batch < 250; batch++) {
      const statuses = await Promise.all(Array.from({ length: 16 }, one));
      aborted += statuses.filter((s) => s === 500).length;
    }
    agent.destroy();
    expect(aborted / 4000).toBeGreaterThan(0.085);
    expect(aborted / 4000).toBeLessThan(0.115);
  });

  it('a 100 ms delay adds 100 ms to every request (never less), flagged DI', async () => {
    const timed = async (tag: string): Promise<number[]> => {
      const times: number[] = [];
      for (let i = 0; i < 40; i++) {
        const t = performance.now();
        await h.request({ from: client, host: 'backend', path: '/x', headers: { 'x-request-id': `${tag}-${times.length}` } });
        times.push(performance.now() - t);
      }
      return times.sort((a, b) => a - b);
    };
    await h.rules(dr('') + vs(''));
    const base = await timed('undelayed');
    await h.rules(dr('') + vs('      fault: { delay: { fixedDelay: 100ms, percentage: { value: 100 } } }\n'));
    const delayed = await timed('delayed');
    // a timer never fires (much) early: no delayed request is faster than the delay
    expect(delayed[0]).toBeGreaterThanOrEqual(98);
    // and the delay is added once: the fastest request moves by the delay, the median by about
    // as much (two noisy medians: a wide band), far from 200
    expect(delayed[0]! - base[0]!).toBeGreaterThan(95);
    expect(delayed[20]! - base[20]!).toBeGreaterThan(50);
    expect(delayed[20]! - base[20]!).toBeLessThan(170);
    const flags = (await Promise.all(delayed.map((_, i) => h.eventsFor(`delayed-${i}`, 2)))).flat().filter((e) => e.reporter === 'source').map((e) => e.responseFlags);
    expect(flags).toHaveLength(40);
    expect(new Set(flags)).toEqual(new Set(['DI']));
  });
});

describe("meshbox HTTP faults (at the destination's inbound sidecar)", () => {
  it('retries turn a 50% 504 fault into >= 90% success, because the caller sees the upstream fail', async () => {
    await h.rules(dr('') + vs('      retries: { attempts: 3, retryOn: gateway-error }\n'));
    await h.faults([{ target: { service: 'backend', subset: 'v2' }, http: { abort: { httpStatus: 504, percent: 50 } } }]);
    let ok = 0;
    for (let i = 0; i < 200; i++) if ((await h.request({ from: client, host: 'backend', path: '/x' })).status === 200) ok++;
    // four attempts at 50%: 93.75% expected
    expect(ok / 200).toBeGreaterThanOrEqual(0.9);
  });

  it('abort with a custom body and headers, matched by path, header and method; FI on the destination', async () => {
    await h.rules(dr('') + vs(''));
    await h.faults([
      {
        target: { service: 'backend' },
        match: { pathPrefix: '/pay', method: 'POST', headers: { 'x-user': 'bob' } },
        http: { abort: { httpStatus: 429, body: '{"error":"slow down"}', headers: { 'retry-after': '3', 'content-type': 'application/json' } } },
      },
    ]);
    const hit = await h.request({ from: client, host: 'backend', path: '/pay/now', method: 'POST', headers: { 'x-user': 'bob', 'x-request-id': 'fi-custom' }, body: '{}' });
    expect(hit.status).toBe(429);
    expect(hit.body).toBe('{"error":"slow down"}');
    expect(hit.headers['retry-after']).toBe('3');
    expect((await h.request({ from: client, host: 'backend', path: '/pay/now', method: 'GET', headers: { 'x-user': 'bob' } })).status).toBe(200);
    expect((await h.request({ from: client, host: 'backend', path: '/pay/now', method: 'POST', headers: { 'x-user': 'al' } })).status).toBe(200);
    expect((await h.request({ from: client, host: 'backend', path: '/other', method: 'POST', headers: { 'x-user': 'bob' } })).status).toBe(200);
    const dst = (await h.eventsFor('fi-custom', 2)).find((e) => e.reporter === 'destination')!;
    expect(dst.responseFlags).toBe('FI');
    expect(dst.why.join(' ')).toMatch(/fault fault-0: abort 429/);
  });

  it('a reset before the response is a connection termination for the caller (503 UC)', async () => {
    await h.rules(dr('') + vs(''));
    await h.faults([{ target: { service: 'backend', subset: 'v2' }, http: { reset: { phase: 'request' } } }]);
    const r = await h.request({ from: client, host: 'backend', path: '/x', headers: { 'x-request-id': 'reset-1' } });
    expect(r.status).toBe(503);
    expect(r.body).toBe('upstream connect error or disconnect/reset before headers. reset reason: connection termination');
    const src = (await h.eventsFor('reset-1', 2)).find((e) => e.reporter === 'source')!;
    expect(src.responseFlags).toBe('UC');
    expect(src.attempts).toBe(1);
  });

  it('retryOn reset retries such a reset on the other endpoints until the attempts run out (UC,URX)', async () => {
    await h.rules(dr('') + vs('      retries: { attempts: 2, retryOn: reset }\n'));
    await h.faults([{ target: { service: 'backend', subset: 'v2' }, http: { reset: { phase: 'request' } } }]);
    const r = await h.request({ from: client, host: 'backend', path: '/x', headers: { 'x-request-id': 'reset-2' } });
    expect(r.status).toBe(503);
    const evs = await h.eventsFor('reset-2', 4);
    const src = evs.find((e) => e.reporter === 'source')!;
    expect(src.attempts).toBe(3);
    expect(src.responseFlags).toBe('UC,URX');
    // each attempt reached a v2 inbound sidecar and was reset there; the retry went to the other host
    const dst = evs.filter((e) => e.reporter === 'destination');
    expect(dst).toHaveLength(3);
    expect(new Set(dst.map((e) => e.destination.workload))).toEqual(new Set(['backend-v2']));
    // once the fault is gone the same policy answers at once
    await h.faults([]);
    expect((await h.request({ from: client, host: 'backend', path: '/x' })).status).toBe(200);
  });

  it('a reset in the middle of the response reaches the client as a cut connection', async () => {
    await h.rules(dr('') + vs(''));
    await h.faults([{ target: { service: 'backend' }, http: { reset: { phase: 'response' } } }]);
    await expect(h.request({ from: client, host: 'backend', path: '/x' })).rejects.toThrow(/aborted|ECONNRESET|socket hang up|terminated/);
  });

  it('a slow body trickles at the given rate', async () => {
    await h.rules(dr('') + vs(''));
    await h.faults([{ target: { service: 'backend' }, http: { slowBody: { bytesPerSecond: 2000 } } }]);
    const t = performance.now();
    const r = await h.request({ from: client, host: 'backend', path: '/x', headers: { 'x-pad': 'x'.repeat(2000) } });
    const elapsed = performance.now() - t;
    const size = Buffer.byteLength(r.body);
    expect(r.status).toBe(200);
    expect(size).toBeGreaterThan(2000);
    // 2000 B/s in 100 ms slices of 200 B: the last slice goes out without waiting
    const expected = (Math.ceil(size / 200) - 1) * 100;
    expect(elapsed).toBeGreaterThan(expected * 0.9);
    expect(elapsed).toBeLessThan(expected + 1000);
  });

  it('a fault for one source workload leaves other callers alone', async () => {
    await h.rules(dr('') + vs(''));
    await h.faults([{ target: { service: 'backend', source: 'someone-else-v1' }, http: { abort: { httpStatus: 500 } } }]);
    expect((await h.request({ from: client, host: 'backend', path: '/x' })).status).toBe(200);
    await h.faults([{ target: { service: 'backend', source: 'client-v1' }, http: { abort: { httpStatus: 500 } } }]);
    expect((await h.request({ from: client, host: 'backend', path: '/x' })).status).toBe(500);
  });
});

describe('consistent hashing (DestinationRule consistentHash)', () => {
  it('the same header value always reaches the same endpoint; different values spread', async () => {
    await h.rules(dr('    loadBalancer: { consistentHash: { httpHeaderName: x-user } }') + vs(''));
    const byUser = new Map<string, Set<string>>();
    for (let round = 0; round < 5; round++) {
      for (let u = 0; u < 20; u++) {
        const r = await h.request({ from: client, host: 'backend', path: '/x', headers: { 'x-user': `user-${u}` } });
        const set = byUser.get(`user-${u}`) ?? new Set<string>();
        set.add(String(r.json()['instance']));
        byUser.set(`user-${u}`, set);
      }
    }
    expect([...byUser.values()].every((s) => s.size === 1)).toBe(true);
    const used = new Set([...byUser.values()].flatMap((s) => [...s]));
    expect(used).toEqual(new Set(['backend-v2-1', 'backend-v2-2']));
  });

  it('a cookie policy with a ttl sets the cookie and then sticks to it', async () => {
    await h.rules(dr('    loadBalancer: { consistentHash: { httpCookie: { name: affinity, ttl: 60s } } }') + vs(''));
    const first = await h.request({ from: client, host: 'backend', path: '/x' });
    const cookie = String(first.headers['set-cookie']);
    expect(cookie).toMatch(/^affinity=[0-9a-f-]{36}; Path=\/; Max-Age=60; HttpOnly$/);
    const value = cookie.split(';')[0]!;
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) seen.add(String((await h.request({ from: client, host: 'backend', path: '/x', headers: { cookie: value } })).json()['instance']));
    expect(seen.size).toBe(1);
  });
  it('a cookie policy with a zero ttl sets a session cookie (no Max-Age), as Envoy does', async () => {
    await h.rules(dr('    loadBalancer: { consistentHash: { httpCookie: { name: affinity, ttl: 0s } } }') + vs(''));
    const first = await h.request({ from: client, host: 'backend', path: '/x' });
    expect(String(first.headers['set-cookie'])).toMatch(/^affinity=[0-9a-f-]{36}; Path=\/; HttpOnly$/);
  });
});

describe('fault-as-upstream (meshbox annotation on a VirtualService)', () => {
  const annotated = (fault: string, extra: string): string => `${dr('')}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: backend
  annotations: { meshbox.dev/fault-as-upstream: "true" }
spec:
  hosts: [backend]
  http:
    - route: [{ destination: { host: backend, subset: v2 } }]
      fault: ${fault}
${extra}`;

  it('keeps retries on: a 50% abort is retried like an upstream 503', async () => {
    await h.rules(annotated('{ abort: { httpStatus: 503, percentage: { value: 50 } } }', '      retries: { attempts: 3, retryOn: gateway-error }\n'));
    let ok = 0;
    for (let i = 0; i < 200; i++) if ((await h.request({ from: client, host: 'backend', path: '/x' })).status === 200) ok++;
    expect(ok / 200).toBeGreaterThanOrEqual(0.9);
  });

  it('keeps the timeout on: an injected delay longer than the timeout gives 504 UT', async () => {
    await h.rules(annotated('{ delay: { fixedDelay: 1s, percentage: { value: 100 } } }', '      timeout: 0.2s\n'));
    const r = await h.request({ from: client, host: 'backend', path: '/x', headers: { 'x-request-id': 'fau-1' } });
    expect(r.status).toBe(504);
    const [src] = (await h.eventsFor('fau-1', 1)).filter((e) => e.reporter === 'source');
    expect(src!.responseFlags).toBe('UT,DI');
  });
});

describe('per-proxy clusters (as in Envoy)', () => {
  it("one caller's circuit breaker and ejections do not limit another caller", async () => {
    await h.rules(dr('    outlierDetection: { consecutive5xxErrors: 1, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 100 }') + vs(''));
    h.apps.get('backend-v2-1')!.fail = 500;
    h.apps.get('backend-v2-2')!.fail = 500;
    await h.request({ from: client, host: 'backend', path: '/x' });
    await h.request({ from: client, host: 'backend', path: '/x' });
    h.apps.get('backend-v2-1')!.fail = undefined;
    h.apps.get('backend-v2-2')!.fail = undefined;
    // the client's sidecar ejected both hosts; the backend v1 sidecar, another caller, did not
    expect((await h.request({ from: client, host: 'backend', path: '/x' })).status).toBe(503);
    expect((await h.request({ from: 'backend-v1-1', host: 'backend', path: '/x' })).status).toBe(200);
  });
});

describe('retry budget and ejection events', () => {
  it('maxRetries limits concurrent retries across the cluster', async () => {
    await h.rules(dr('    connectionPool:\n      http: { maxRetries: 1 }') + vs('      retries: { attempts: 5, retryOn: 5xx }\n'));
    h.apps.get('backend-v2-1')!.fail = 500;
    h.apps.get('backend-v2-2')!.fail = 500;
    const replies = await Promise.all([0, 1, 2, 3].map((i) => h.request({ from: client, host: 'backend', path: '/x', headers: { 'x-request-id': `budget-${i}` } })));
    expect(replies.every((r) => r.status === 500)).toBe(true);
    const events = (await Promise.all([0, 1, 2, 3].map((i) => h.eventsFor(`budget-${i}`, 1)))).flat().filter((e) => e.reporter === 'source');
    expect(events.some((e) => e.why.some((w) => w.includes('retry overflow')))).toBe(true);
  });

  it('ejections and returns are events', async () => {
    await h.rules(dr('    outlierDetection: { consecutive5xxErrors: 2, interval: 0.1s, baseEjectionTime: 0.2s, maxEjectionPercent: 100 }') + vs(''));
    const seen: string[] = [];
    const off = h.bus.onAny((e) => {
      if (e.type === 'mesh:outlier:ejected' || e.type === 'mesh:outlier:returned') seen.push(`${e.type} ${e.endpoint}`);
    });
    h.apps.get('backend-v2-1')!.fail = 500;
    h.apps.get('backend-v2-2')!.fail = 500;
    for (let i = 0; i < 6; i++) await h.request({ from: client, host: 'backend', path: '/x' });
    h.apps.get('backend-v2-1')!.fail = undefined;
    h.apps.get('backend-v2-2')!.fail = undefined;
    await new Promise((r) => setTimeout(r, 600));
    off();
    expect(seen).toContain('mesh:outlier:ejected backend-v2-1');
    expect(seen).toContain('mesh:outlier:returned backend-v2-1');
  });
});
