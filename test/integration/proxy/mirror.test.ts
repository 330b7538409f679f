/**
 * VirtualService mirror / mirrorPercentage / mirrors[] on real sockets: a fire-and-forget copy
 * to the mirror destination with the authority suffixed `-shadow`, whose answer is discarded and
 * whose failure never touches the original; reported by the mirror's inbound sidecar (metrics,
 * the event's shadowOf), not by the caller's sidecar (as in Istio); the original's `why` says so.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';
import { parseExposition } from '../../helpers/promql.js';
import { parseRulesText } from '../../../sandbox/config/rules-loader.js';
import { analyze } from '../../../sandbox/config/analyze.js';

let h: Harness;
const client = 'client-v1-1';

const DR = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: backend }
spec:
  host: backend
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
    - { name: v3, labels: { version: v3 } }
`;

const vs = (http: string): string => `${DR}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http:
    - route: [{ destination: { host: backend, subset: v1 } }]
${http}`;

const app = (id: string) => h.apps.get(id)!;

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  h = await startHarness([
    { name: 'client', versions: { v1: 1 } },
    { name: 'backend', versions: { v1: 1, v2: 1, v3: 1 } },
  ], 7);
});
afterAll(async () => h?.close());
beforeEach(async () => {
  for (const a of h.apps.values()) {
    a.fail = undefined;
    a.requests.length = 0;
  }
  for (const i of h.registry.all()) h.registry.update(i.id, { healthy: true, state: 'running' });
  await h.rules('');
});

describe('mirror (Envoy request mirror policies)', () => {
  it('sends a copy with the authority suffixed -shadow, same method, path, body and request id; the answer comes from the route', async () => {
    await h.rules(vs('      mirror: { host: backend, subset: v2 }'));
    const r = await h.request({ from: client, host: 'backend:8080', method: 'POST', path: '/orders?x=1', body: 'payload-123', headers: { 'x-request-id': 'mir-1', 'content-type': 'text/plain' } });
    expect(r.status).toBe(200);
    expect(r.json()['instance']).toBe('backend-v1-1');
    await until(() => app('backend-v2-1').requestsWithId('mir-1').some((q) => q.complete), 'the copy');
    const [copy] = app('backend-v2-1').requestsWithId('mir-1');
    const [orig] = app('backend-v1-1').requestsWithId('mir-1');
    expect(copy!.method).toBe('POST');
    expect(copy!.url).toBe('/orders?x=1');
    expect(copy!.body.toString()).toBe('payload-123');
    expect(copy!.headers.host).toBe('backend-shadow:8080');
    expect(orig!.headers.host).toBe('backend:8080');
    expect(copy!.headers['content-type']).toBe('text/plain');
    // meshbox's internal headers never reach the app
    expect(Object.keys(copy!.headers).filter((k) => k.startsWith('x-meshbox') || k === 'x-envoy-peer-metadata-id')).toEqual([]);
    expect(app('backend-v3-1').requests).toHaveLength(0);

    const events = await h.eventsFor('mir-1', 3);
    const source = events.filter((e) => e.reporter === 'source');
    expect(source).toHaveLength(1);
    expect(source[0]!.why.join('\n')).toMatch(/mirror: copy sent to outbound\|8080\|v2\|backend\.default\.svc\.cluster\.local as backend-shadow:8080, endpoint backend-v2-1; its answer is discarded/);
    const shadow = events.find((e) => e.reporter === 'destination' && e.proxy === 'backend-v2-1')!;
    expect(shadow).toMatchObject({ shadowOf: client, authority: 'backend-shadow:8080', status: 200, method: 'POST' });
    expect(shadow.source.workload).toBe('client-v1');
    expect(shadow.destination.version).toBe('v2');
    expect(shadow.why.join('\n')).toMatch(/a mirrored copy \(VirtualService mirror\) sent by client-v1-1/);
    expect(events.find((e) => e.proxy === 'backend-v1-1')!.shadowOf).toBeUndefined();

    const samples = parseExposition(await h.metrics.text()).filter(
      (s) => s.name === 'istio_requests_total' && s.labels['destination_version'] === 'v2' && s.labels['source_workload'] === 'client-v1',
    );
    expect(samples.map((s) => s.labels['reporter'])).toEqual(['destination']);
    expect(samples[0]!.labels['destination_service']).toBe('backend.default.svc.cluster.local');
  });

  it('never lets the copy affect the original: a failing mirror, a mirror that hangs, a mirror with no endpoint', async () => {
    await h.rules(vs('      mirror: { host: backend, subset: v2 }'));
    app('backend-v2-1').fail = 500;
    const failing = await h.request({ from: client, host: 'backend:8080', headers: { 'x-request-id': 'mir-fail' } });
    expect(failing.status).toBe(200);
    expect(failing.json()['instance']).toBe('backend-v1-1');
    const [shadow] = (await h.eventsFor('mir-fail', 3)).filter((e) => e.shadowOf);
    expect(shadow!.status).toBe(500);
    app('backend-v2-1').fail = undefined;

    // a mirror that never answers: the original is answered while the copy still hangs
    const server = app('backend-v2-1').server;
    const listeners = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
    const held: ServerResponse[] = [];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      held.push(res);
    });
    try {
      const r = await h.request({ from: client, host: 'backend:8080', headers: { 'x-request-id': 'mir-hang' } });
      expect(r.status).toBe(200);
      expect(r.json()['instance']).toBe('backend-v1-1');
      await until(() => held.length === 1, 'the copy to arrive');
      expect(held[0]!.writableEnded).toBe(false);
      const src = (await h.eventsFor('mir-hang', 1)).find((e) => e.reporter === 'source')!;
      expect(src.status).toBe(200);
      expect(src.responseFlags).toBe('-');
    } finally {
      for (const res of held) res.destroy();
      server.removeAllListeners('request');
      for (const l of listeners) server.on('request', l);
    }

    h.registry.update('backend-v2-1', { healthy: false });
    await h.rules(vs('      mirror: { host: backend, subset: v2 }\n#down'));
    const down = await h.request({ from: client, host: 'backend:8080', headers: { 'x-request-id': 'mir-down' } });
    expect(down.status).toBe(200);
    const src = (await h.eventsFor('mir-down', 2)).find((e) => e.reporter === 'source')!;
    expect(src.why.join('\n')).toMatch(/mirror: no copy to outbound\|8080\|v2\|backend\.default\.svc\.cluster\.local: no healthy endpoint/);
  });

  it('mirrorPercentage samples the copies per request (seeded: 50% of 300 within ±8%)', async () => {
    await h.rules(vs('      mirror: { host: backend, subset: v2 }\n      mirrorPercentage: { value: 50 }'));
    for (let i = 0; i < 300; i++) expect((await h.request({ from: client, host: 'backend:8080', path: `/p/${i}` })).status).toBe(200);
    await until(() => app('backend-v2-1').requests.every((q) => q.complete), 'the copies');
    const copies = app('backend-v2-1').requests.length;
    expect(app('backend-v1-1').requests).toHaveLength(300);
    expect(copies / 300).toBeGreaterThan(0.42);
    expect(copies / 300).toBeLessThan(0.58);
  });

  it('mirrors[] sends one copy per policy, each with its own percentage; a 0% mirror sends none', async () => {
    await h.rules(
      vs(`      mirrors:
        - destination: { host: backend, subset: v2 }
        - destination: { host: backend, subset: v3 }
          percentage: { value: 25 }`),
    );
    for (let i = 0; i < 200; i++) await h.request({ from: client, host: 'backend:8080' });
    await until(() => app('backend-v2-1').requests.length === 200, 'every v2 copy');
    const v3 = app('backend-v3-1').requests.length;
    expect(v3 / 200).toBeGreaterThan(0.17);
    expect(v3 / 200).toBeLessThan(0.33);
    expect(app('backend-v2-1').requests.every((q) => q.headers.host === 'backend-shadow:8080')).toBe(true);

    for (const a of h.apps.values()) a.requests.length = 0;
    await h.rules(vs('      mirror: { host: backend, subset: v2 }\n      mirrorPercentage: { value: 0 }'));
    for (let i = 0; i < 20; i++) await h.request({ from: client, host: 'backend:8080' });
    expect(app('backend-v2-1').requests).toHaveLength(0);
  });

  it('a mirror to an undefined subset sends no copy: a finding at validation, a line in why at runtime', async () => {
    const text = vs('      mirror: { host: backend, subset: v9 }');
    const parsed = parseRulesText(text, 'inline.yaml');
    const findings = analyze(parsed.resources, h.mesh);
    const f = findings.find((x) => x.message.includes('mirror host'))!;
    expect(f.message).toBe('subset `v9` of mirror host `backend` is not defined in any DestinationRule: no copy of the traffic is sent');
    expect(f.location).toMatchObject({ file: 'inline.yaml' });
    await h.rules(text);
    const r = await h.request({ from: client, host: 'backend:8080', headers: { 'x-request-id': 'mir-nc' } });
    expect(r.status).toBe(200);
    const src = (await h.eventsFor('mir-nc', 2)).find((e) => e.reporter === 'source')!;
    expect(src.why.join('\n')).toMatch(/mirror: no copy to outbound\|8080\|v9\|backend\.default\.svc\.cluster\.local: the cluster does not exist/);
  });

  it('at the gateway, the copy carries the gateway authority with -shadow', async () => {
    await h.rules(`${DR}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: [shop.example.com] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop }
spec:
  hosts: [shop.example.com]
  gateways: [gw]
  http:
    - route: [{ destination: { host: backend, subset: v1 } }]
      mirror: { host: backend, subset: v3 }
`);
    const r = await h.request({ host: 'shop.example.com', headers: { 'x-request-id': 'mir-gw' } });
    expect(r.json()['instance']).toBe('backend-v1-1');
    await until(() => app('backend-v3-1').requestsWithId('mir-gw').length === 1, 'the copy');
    expect(app('backend-v3-1').requestsWithId('mir-gw')[0]!.headers.host).toBe('shop.example.com-shadow');
    const shadow = (await h.eventsFor('mir-gw', 3)).find((e) => e.shadowOf)!;
    expect(shadow.shadowOf).toBe('istio-ingressgateway');
  });
});
