/**
 * The data plane on real sockets: Istio routing semantics through a client sidecar, an inbound
 * sidecar and the ingress gateway, against fake apps.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';

const DR = `
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: { name: backend }
spec:
  host: backend
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
`;

let h: Harness;
const client = 'client-v1-1';

beforeAll(async () => {
  h = await startHarness([
    { name: 'client', versions: { v1: 1 } },
    { name: 'backend', versions: { v1: 1, v2: 2 } },
  ], 1234);
});
afterAll(async () => h?.close());
beforeEach(async () => {
  for (const a of h.apps.values()) a.fail = undefined;
  for (const i of h.registry.all()) h.registry.update(i.id, { healthy: true, state: 'running' });
  await h.rules('');
});

const instanceOf = (r: { json(): Record<string, unknown> }): string => String(r.json()['instance']);

describe('routing through a client sidecar', () => {
  it('without a VirtualService, a service gets all of its endpoints (Istio default route)', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) seen.add(instanceOf(await h.request({ from: client, host: 'backend:8080', path: '/x' })));
    expect([...seen].sort()).toEqual(['backend-v1-1', 'backend-v2-1', 'backend-v2-2']);
  });

  it('splits 80/20 over subsets within ±4% over 1000 requests', async () => {
    await h.rules(`${DR}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http:
    - route:
        - { destination: { host: backend, subset: v2 }, weight: 80 }
        - { destination: { host: backend, subset: v1 }, weight: 20 }
`);
    let v2 = 0;
    for (let i = 0; i < 1000; i++) if (instanceOf(await h.request({ from: client, host: 'backend:8080' })).includes('-v2-')) v2++;
    expect(v2 / 1000).toBeGreaterThan(0.76);
    expect(v2 / 1000).toBeLessThan(0.84);
  });

  it('header match picks a subset; first matching route wins; the event says why', async () => {
    await h.rules(`${DR}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend.default.svc.cluster.local]
  http:
    - name: jason
      match: [{ headers: { end-user: { exact: jason } } }]
      route: [{ destination: { host: backend, subset: v1 } }]
    - route: [{ destination: { host: backend, subset: v2 } }]
`);
    const r1 = await h.request({ from: client, host: 'backend:8080', headers: { 'end-user': 'jason', 'x-request-id': 'why-1' } });
    expect(instanceOf(r1)).toBe('backend-v1-1');
    for (let i = 0; i < 10; i++) expect(instanceOf(await h.request({ from: client, host: 'backend' }))).toMatch(/backend-v2-/);
    const [src] = (await h.eventsFor('why-1', 2)).filter((e) => e.reporter === 'source');
    expect(src!.routeName).toBe('jason');
    expect(src!.why.join('\n')).toMatch(/VirtualService default\/backend http\[0\] \(inline\.yaml:\d+:\d+\): matched match\[0\]/);
    expect(src!.upstreamCluster).toBe('outbound|8080|v1|backend.default.svc.cluster.local');
  });

  it('a subset no DestinationRule defines answers 503 NC', async () => {
    await h.rules(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http: [{ route: [{ destination: { host: backend, subset: v9 } }] }]
`);
    const r = await h.request({ from: client, host: 'backend', headers: { 'x-request-id': 'nc-1' } });
    expect(r.status).toBe(503);
    const [src] = (await h.eventsFor('nc-1', 1)).filter((e) => e.reporter === 'source');
    expect(src!.responseFlags).toBe('NC');
    expect(src!.responseCodeDetails).toBe('cluster_not_found');
  });

  it('no healthy endpoint answers 503 "no healthy upstream" (UH)', async () => {
    for (const id of ['backend-v1-1', 'backend-v2-1', 'backend-v2-2']) h.registry.update(id, { healthy: false });
    await h.controlPlane.publish();
    const r = await h.request({ from: client, host: 'backend', headers: { 'x-request-id': 'uh-1' } });
    expect(r.status).toBe(503);
    expect(r.body).toBe('no healthy upstream');
    expect((await h.eventsFor('uh-1', 1))[0]!.responseFlags).toBe('UH');
  });

  it('an app that refuses connections gives 503 UF at its inbound sidecar', async () => {
    const app = h.apps.get('backend-v1-1')!;
    await app.close();
    try {
      await h.rules(`${DR}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http: [{ route: [{ destination: { host: backend, subset: v1 } }] }]
`);
      const r = await h.request({ from: client, host: 'backend', headers: { 'x-request-id': 'uf-1' } });
      expect(r.status).toBe(503);
      expect(r.body).toBe('upstream connect error or disconnect/reset before headers. reset reason: connection failure');
      const evs = await h.eventsFor('uf-1', 2);
      const dst = evs.find((e) => e.reporter === 'destination')!;
      expect(dst.responseFlags).toBe('UF');
    } finally {
      const { startFakeApp } = await import('../../helpers/fake-app.js');
      const again = await startFakeApp('backend-v1-1');
      h.apps.set('backend-v1-1', again);
      h.registry.update('backend-v1-1', { appPort: again.port });
    }
  });

  it('redirect and directResponse answer locally', async () => {
    await h.rules(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http:
    - match: [{ uri: { prefix: /old } }]
      redirect: { uri: /new, redirectCode: 302 }
    - match: [{ uri: { exact: /teapot } }]
      directResponse: { status: 418, body: { string: "short and stout" } }
    - route: [{ destination: { host: backend } }]
`);
    const r = await h.request({ from: client, host: 'backend:8080', path: '/old/x?a=1' });
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe('http://backend:8080/new?a=1');
    const t = await h.request({ from: client, host: 'backend', path: '/teapot' });
    expect(t.status).toBe(418);
    expect(t.body).toBe('short and stout');
  });

  it('rewrite and header operations reach the app; the original path is kept', async () => {
    await h.rules(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http:
    - match: [{ uri: { prefix: /api/ } }]
      rewrite: { uri: /v2/ }
      headers:
        request: { set: { x-set: "1" }, add: { x-added: "a" }, remove: [x-drop] }
        response: { set: { x-resp: yes } }
      route: [{ destination: { host: backend } }]
`);
    const r = await h.request({ from: client, host: 'backend', path: '/api/items?q=1', headers: { 'x-drop': 'me', 'x-added': 'z' } });
    const body = r.json() as { url: string; headers: Record<string, string> };
    expect(body.url).toBe('/v2/items?q=1');
    expect(body.headers['x-envoy-original-path']).toBe('/api/items?q=1');
    expect(body.headers['x-set']).toBe('1');
    expect(body.headers['x-added']).toBe('z,a');
    expect(body.headers['x-drop']).toBeUndefined();
    expect(r.headers['x-resp']).toBe('yes');
  });

  it('sets x-request-id, x-envoy-attempt-count and x-envoy-upstream-service-time; strips the peer header before the app', async () => {
    const r = await h.request({ from: client, host: 'backend' });
    const headers = (r.json() as { headers: Record<string, string> }).headers;
    expect(headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(headers['x-envoy-attempt-count']).toBe('1');
    expect(headers['x-envoy-peer-metadata-id']).toBeUndefined();
    expect(r.headers['x-envoy-upstream-service-time']).toMatch(/^\d+$/);
    expect(r.headers.server).toBe('envoy');
  });
});

describe('timeouts and retries', () => {
  const vs = (extra: string): string => `${DR}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http:
    - route: [{ destination: { host: backend, subset: v2 } }]
${extra}`;

  it('retries gateway errors on another endpoint and counts attempts', async () => {
    await h.rules(vs('      retries: { attempts: 3, retryOn: gateway-error }\n'));
    const failing = h.apps.get('backend-v2-1')!;
    const healthy = h.apps.get('backend-v2-2')!;
    failing.fail = 503;
    let retried = 0;
    for (let i = 0; i < 12; i++) {
      const id = `retry-${i}`;
      const r = await h.request({ from: client, host: 'backend', path: '/x', headers: { 'x-request-id': id } });
      expect(r.status).toBe(200);
      expect(instanceOf(r)).toBe('backend-v2-2');
      const first = failing.requests.some((q) => q.headers['x-request-id'] === id);
      const src = (await h.eventsFor(id, first ? 3 : 2)).find((e) => e.reporter === 'source')!;
      expect(src.responseFlags).toBe('-');
      expect(healthy.requests.filter((q) => q.headers['x-request-id'] === id)).toHaveLength(1);
      if (first) {
        // 503 from v2-1, then the retry on the other endpoint, never v2-1 again
        retried++;
        expect(src.attempts).toBe(2);
        expect(failing.requests.filter((q) => q.headers['x-request-id'] === id)).toHaveLength(1);
      } else {
        expect(src.attempts).toBe(1);
      }
    }
    // LEAST_REQUEST over two idle hosts picks either: some requests went to v2-1 first
    expect(retried).toBeGreaterThan(0);
  });

  it('when retries run out the upstream status passes through with URX', async () => {
    await h.rules(vs('      retries: { attempts: 2, retryOn: 5xx }\n'));
    h.apps.get('backend-v2-1')!.fail = 500;
    h.apps.get('backend-v2-2')!.fail = 500;
    const r = await h.request({ from: client, host: 'backend', headers: { 'x-request-id': 'urx-1' } });
    expect(r.status).toBe(500);
    const src = (await h.eventsFor('urx-1', 4)).find((e) => e.reporter === 'source')!;
    expect(src.attempts).toBe(3);
    expect(src.responseFlags).toBe('URX');
  });

  it('the route timeout answers 504 "upstream request timeout" (UT) and is not retried', async () => {
    await h.rules(vs('      timeout: 0.2s\n      retries: { attempts: 3, retryOn: "5xx,reset" }\n'));
    const started = Date.now();
    const r = await h.request({ from: client, host: 'backend', path: '/delay/3000', headers: { 'x-request-id': 'ut-1' } });
    const took = Date.now() - started;
    expect(r.status).toBe(504);
    expect(r.body).toBe('upstream request timeout');
    // at the 200 ms deadline, long before the upstream's answer at 3 s
    expect(took).toBeGreaterThanOrEqual(195);
    expect(took).toBeLessThan(1500);
    const src = (await h.eventsFor('ut-1', 1)).find((e) => e.reporter === 'source')!;
    expect(src.responseFlags).toBe('UT');
    expect(src.attempts).toBe(1);
    expect(src.responseCodeDetails).toBe('upstream_response_timeout');
  });

  it('a per-try timeout is retried like a reset', async () => {
    await h.rules(vs('      retries: { attempts: 2, perTryTimeout: 0.1s, retryOn: reset }\n'));
    const r = await h.request({ from: client, host: 'backend', path: '/delay/400', headers: { 'x-request-id': 'ptt-1' } });
    expect(r.status).toBe(504);
    const src = (await h.eventsFor('ptt-1', 4)).find((e) => e.reporter === 'source')!;
    expect(src.attempts).toBe(3);
    expect(src.responseFlags).toBe('UT,URX');
    expect(src.responseCodeDetails).toBe('upstream_per_try_timeout');
  });

  it('a route with a fault has retries off (Istio): an abort is never retried', async () => {
    await h.rules(vs('      retries: { attempts: 3, retryOn: 5xx }\n      fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }\n'));
    const r = await h.request({ from: client, host: 'backend', headers: { 'x-request-id': 'fi-1' } });
    expect(r.status).toBe(503);
    expect(r.body).toBe('fault filter abort');
    const [src] = await h.eventsFor('fi-1', 1);
    expect(src!.responseFlags).toBe('FI');
    expect(src!.attempts).toBe(0);
  });
});

describe('ingress gateway', () => {
  const gw = `
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: { name: gw }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: [front.example.com] }]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: front }
spec:
  hosts: [front.example.com]
  gateways: [gw]
  http: [{ route: [{ destination: { host: client } }] }]
`;

  it('routes by Host to the gateway-bound VirtualService; unknown hosts get 404 NR', async () => {
    await h.rules(gw);
    const ok = await h.request({ host: 'front.example.com', path: '/hello' });
    expect(ok.status).toBe(200);
    expect(instanceOf(ok)).toBe('client-v1-1');
    expect(ok.headers.server).toBe('istio-envoy');
    const nr = await h.request({ host: 'other.example.com', headers: { 'x-request-id': 'nr-1' } });
    expect(nr.status).toBe(404);
    expect((await h.eventsFor('nr-1', 1))[0]!.responseFlags).toBe('NR');
  });

  const appHeaders = (r: { json(): Record<string, unknown> }): Record<string, string> => (r.json() as { headers: Record<string, string> }).headers;

  it('appends the downstream address to x-forwarded-for; a loopback request without XFF is internal (use_remote_address)', async () => {
    await h.rules(gw);
    const r = await h.request({ host: 'front.example.com', path: '/xff' });
    expect(r.status).toBe(200);
    const headers = appHeaders(r);
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-envoy-internal']).toBe('true');
    expect(headers['x-forwarded-proto']).toBe('http');
  });

  it('a request that arrives with an XFF is external: the address is appended, a client-sent x-envoy-internal removed', async () => {
    await h.rules(gw);
    const r = await h.request({ host: 'front.example.com', path: '/xff', headers: { 'x-forwarded-for': '203.0.113.7', 'x-envoy-internal': 'true' } });
    const headers = appHeaders(r);
    expect(headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(headers['x-envoy-internal']).toBeUndefined();
  });

  it("x-forwarded-proto says how the client reached the gateway (plain HTTP), whatever the client claims", async () => {
    await h.rules(gw);
    const r = await h.request({ host: 'front.example.com', path: '/xfp', headers: { 'x-forwarded-proto': 'https' } });
    expect(appHeaders(r)['x-forwarded-proto']).toBe('http');
  });

  it('a sidecar hop leaves x-forwarded-for alone (sidecars do not use the remote address)', async () => {
    const plain = appHeaders(await h.request({ from: client, host: 'backend', path: '/xff' }));
    expect(plain['x-forwarded-for']).toBeUndefined();
    expect(plain['x-envoy-internal']).toBeUndefined();
    const passed = appHeaders(await h.request({ from: client, host: 'backend', path: '/xff', headers: { 'x-forwarded-for': '203.0.113.7' } }));
    expect(passed['x-forwarded-for']).toBe('203.0.113.7');
  });

  it('reports both sides of each hop with Istio metric labels', async () => {
    await h.rules(gw);
    await h.request({ host: 'front.example.com', headers: { 'x-request-id': 'm-1' } });
    const evs = await h.eventsFor('m-1', 2);
    const src = evs.find((e) => e.reporter === 'source')!;
    const dst = evs.find((e) => e.reporter === 'destination')!;
    expect(src.source.workload).toBe('istio-ingressgateway');
    expect(src.destination.workload).toBe('client-v1');
    expect(dst.source.workload).toBe('istio-ingressgateway');
    expect(dst.destination.service).toBe('client.default.svc.cluster.local');
    const text = await h.metrics.text();
    expect(text).toMatch(/istio_requests_total\{reporter="destination",source_workload="istio-ingressgateway",[^}]*destination_workload="client-v1"[^}]*destination_version="v1"[^}]*response_code="200"[^}]*\} \d+/);
    expect(text).toContain('istio_request_duration_milliseconds_bucket{le="0.5",reporter="source"');
  });
});
