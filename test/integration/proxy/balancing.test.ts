/**
 * Where requests go, on real sockets: LEAST_REQUEST against hosts with requests in flight, panic
 * mode over ejected hosts, sourceLabels per calling workload, and the passthrough of hosts that
 * are not mesh services (outboundTrafficPolicy ALLOW_ANY).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeApp, type FakeApp } from '../../helpers/fake-app.js';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';

let h: Harness;
const client = 'client-v1-1';

beforeAll(async () => {
  h = await startHarness([
    { name: 'client', versions: { v1: 1 } },
    { name: 'backend', versions: { v1: 1, v2: 2 } },
  ], 4321);
});
afterAll(async () => h?.close());
beforeEach(async () => {
  for (const a of h.apps.values()) a.fail = undefined;
  await h.rules('');
});

const instanceOf = (r: { json(): Record<string, unknown> }): string => String(r.json()['instance']);

const DR = (policy: string): string => `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: backend }
spec:
  host: backend
${policy ? `  trafficPolicy:\n${policy}\n` : ''}  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
`;

const toV2 = `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http: [{ route: [{ destination: { host: backend, subset: v2 } }] }]
`;

describe('LEAST_REQUEST (Istio default)', () => {
  /** share of `n` quick requests that reach the host without the slow request in flight */
  async function idleShare(n: number): Promise<number> {
    // hold one request open on one of the two v2 hosts
    const slow = h.request({ from: client, host: 'backend', path: '/delay/2000' });
    const busy = await (async () => {
      for (let i = 0; i < 200; i++) {
        const app = [...h.apps.values()].find((a) => a.requests.some((r) => r.url === '/delay/2000'));
        if (app) return app.instance;
        await new Promise((r) => setTimeout(r, 5));
      }
      throw new Error('the slow request reached no host');
    })();
    let idle = 0;
    for (let i = 0; i < n; i++) if (instanceOf(await h.request({ from: client, host: 'backend', path: '/fast' })) !== busy) idle++;
    expect((await slow).status).toBe(200);
    for (const a of h.apps.values()) a.requests.length = 0;
    return idle / n;
  }

  it('while one host has a request in flight, the idle one gets 3/4 of the others (two independent draws)', async () => {
    await h.rules(DR('') + toV2);
    // Envoy draws two hosts independently: both draws land on the busy host 1/4 of the time
    const share = await idleShare(80);
    expect(share).toBeGreaterThan(0.63);
    expect(share).toBeLessThan(0.87);
  });

  it('ROUND_ROBIN, for contrast, keeps alternating whatever is in flight: half each', async () => {
    await h.rules(DR('    loadBalancer: { simple: ROUND_ROBIN }') + toV2);
    const share = await idleShare(40);
    expect(share).toBeGreaterThanOrEqual(0.45);
    expect(share).toBeLessThanOrEqual(0.55);
  });
});

describe('DestinationRule subset policy', () => {
  const rules = (subsetPolicy: string, subset: string): string => `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: backend }
spec:
  host: backend
  trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: x-user } } }
  subsets:
    - { name: v1, labels: { version: v1 } }
    - name: v2
      labels: { version: v2 }
${subsetPolicy}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http: [{ route: [{ destination: { host: backend${subset ? `, subset: ${subset}` : ''} } }] }]
`;
  const spread = async (): Promise<Set<string>> => {
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) seen.add(instanceOf(await h.request({ from: client, host: 'backend', path: '/x', headers: { 'x-user': 'alice' } })));
    return seen;
  };

  it("a subset's loadBalancer replaces the top-level one for routes to that subset only", async () => {
    await h.rules(rules('      trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } }', 'v2'));
    expect(await spread()).toEqual(new Set(['backend-v2-1', 'backend-v2-2']));
    // the service-wide cluster keeps the top-level ring hash: one user, one host
    await h.rules(rules('      trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } }', ''));
    expect((await spread()).size).toBe(1);
  });

  it('a subset without a policy inherits the top-level one', async () => {
    await h.rules(rules('', 'v2'));
    expect((await spread()).size).toBe(1);
  });
});

describe('panic mode (outlierDetection.minHealthPercent)', () => {
  const ejectBoth = async (): Promise<void> => {
    h.apps.get('backend-v2-1')!.fail = 500;
    h.apps.get('backend-v2-2')!.fail = 500;
    for (let i = 0; i < 2; i++) await h.request({ from: client, host: 'backend', path: '/x' });
    h.apps.get('backend-v2-1')!.fail = undefined;
    h.apps.get('backend-v2-2')!.fail = undefined;
    type Stats = { clusters: Array<{ proxy: string; name: string; hosts: Array<{ id: string; ejected: boolean }> }> };
    const v2 = ((await h.dataPlane.clusters()) as Stats).clusters.find((c) => c.proxy === client && c.name === 'outbound|8080|v2|backend.default.svc.cluster.local')!;
    expect(v2.hosts.map((x) => x.ejected)).toEqual([true, true]);
  };
  const od = (extra: string): string => `    outlierDetection: { consecutive5xxErrors: 1, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 100${extra} }`;

  it('below the threshold the ejected hosts still get the traffic (no 503 UH), spread over both', async () => {
    await h.rules(DR(od(', minHealthPercent: 50')) + toV2);
    await ejectBoth();
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await h.request({ from: client, host: 'backend', path: '/x' });
      expect(r.status).toBe(200);
      seen.add(instanceOf(r));
    }
    expect(seen).toEqual(new Set(['backend-v2-1', 'backend-v2-2']));
  });

  it('without a threshold the same ejections leave no host: 503 no healthy upstream', async () => {
    await h.rules(DR(od('')) + toV2);
    await ejectBoth();
    const r = await h.request({ from: client, host: 'backend', path: '/x' });
    expect(r.status).toBe(503);
    expect(r.body).toBe('no healthy upstream');
  });
});

describe('sourceLabels (which callers get a route)', () => {
  it("a route for the client's labels applies to the client's calls only; another caller falls through", async () => {
    await h.rules(`${DR('')}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http:
    - name: from-client
      match: [{ sourceLabels: { app: client, version: v1 } }]
      route: [{ destination: { host: backend, subset: v1 } }]
    - name: others
      route: [{ destination: { host: backend, subset: v2 } }]
`);
    for (let i = 0; i < 10; i++) expect(instanceOf(await h.request({ from: client, host: 'backend', path: '/x' }))).toBe('backend-v1-1');
    for (let i = 0; i < 10; i++) expect(instanceOf(await h.request({ from: 'backend-v2-1', host: 'backend', path: '/x' }))).toMatch(/^backend-v2-/);
    // the labels are the caller's, not the request's: a header claiming to be the client changes nothing
    const r = await h.request({ from: 'backend-v1-1', host: 'backend', path: '/x', headers: { 'x-request-id': 'sl-1', app: 'client', version: 'v1' } });
    expect(instanceOf(r)).toMatch(/^backend-v2-/);
    const src = (await h.eventsFor('sl-1', 2)).find((e) => e.reporter === 'source')!;
    expect(src.routeName).toBe('others');
  });
});

describe('passthrough (outboundTrafficPolicy ALLOW_ANY)', () => {
  let outside: FakeApp;
  beforeAll(async () => {
    outside = await startFakeApp('outside');
  });
  afterAll(async () => outside?.close());

  it('a host that is no mesh service goes to the original destination through PassthroughCluster', async () => {
    const r = await h.request({ from: client, host: `127.0.0.1:${outside.port}`, path: '/ext?q=1', headers: { 'x-request-id': 'pt-1' } });
    expect(r.status).toBe(200);
    expect(instanceOf(r)).toBe('outside');
    expect(outside.requests.at(-1)!.url).toBe('/ext?q=1');
    expect(outside.requests.at(-1)!.headers.host).toBe(`127.0.0.1:${outside.port}`);
    const [src] = await h.eventsFor('pt-1', 1);
    expect(src!.reporter).toBe('source');
    expect(src!.upstreamCluster).toBe('PassthroughCluster');
    expect(src!.destination.service).toBe('PassthroughCluster');
    expect(src!.upstreamHost).toBe(`127.0.0.1:${outside.port}`);
  });

  it('a passthrough destination that refuses connections answers 503 UF', async () => {
    const gone = await startFakeApp('gone');
    const port = gone.port;
    await gone.close();
    const r = await h.request({ from: client, host: `127.0.0.1:${port}`, path: '/', headers: { 'x-request-id': 'pt-2' } });
    expect(r.status).toBe(503);
    expect(r.body).toBe('upstream connect error or disconnect/reset before headers. reset reason: connection failure');
    expect((await h.eventsFor('pt-2', 1))[0]!.responseFlags).toContain('UF');
  });
});
