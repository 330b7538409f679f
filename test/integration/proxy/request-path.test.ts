/**
 * The request path on real sockets, end to end through the proxies to a fake app that records
 * what it receives: request bodies (plain, chunked, retried) and what the app sees of retries
 * (x-envoy-attempt-count).
 */
import http from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Rng } from '../../../sandbox/rng.js';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';

let h: Harness;
const client = 'client-v1-1';

beforeAll(async () => {
  h = await startHarness([
    { name: 'client', versions: { v1: 1 } },
    { name: 'backend', versions: { v1: 1, v2: 1 } },
  ], 4242);
});
afterAll(async () => h?.close());
beforeEach(async () => {
  for (const a of h.apps.values()) a.fail = undefined;
  await h.rules('');
});

const DR = (tcp = ''): string => `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: backend }
spec:
  host: backend
${tcp ? `  trafficPolicy:\n${tcp}` : ''}
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
`;

/** backend's VirtualService: `http` is the YAML of its http[] entries */
const VS = (http: string): string => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http:
${http}`;

const toV1 = (extra = ''): string => `    - route: [{ destination: { host: backend, subset: v1 } }]\n${extra}`;

const GATEWAY = `---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: [front.example.com] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: front }
spec:
  hosts: [front.example.com]
  gateways: [gw]
  http: [{ route: [{ destination: { host: backend, subset: v1 } }] }]
`;

const v1 = () => h.apps.get('backend-v1-1')!;

/** deterministic bytes (a seeded generator), so a corrupted or truncated body is noticed */
function bytes(n: number, seed: number): Buffer {
  const rng = new Rng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

interface RawReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** the connection was cut before the response body ended */
  cut: boolean;
}

/** one request on its own connection; `chunks` are written one by one (chunked unless a content-length is given) */
function send(o: { port: number; host: string; path: string; method?: string; headers?: Record<string, string>; chunks?: Buffer[] }): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: o.port, path: o.path, method: o.method ?? 'GET', agent: false, headers: { host: o.host, ...o.headers } }, (res) => {
      const chunks: Buffer[] = [];
      let cut = false;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('aborted', () => (cut = true));
      res.on('error', () => (cut = true));
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), cut: cut || !res.complete }));
    });
    req.on('error', reject);
    for (const c of o.chunks ?? []) req.write(c);
    req.end();
  });
}

const outbound = (): number => h.instance(client).sidecar.outbound;

describe('request bodies reach the app', () => {
  it('a POST body reaches the app byte for byte, with its content-length', async () => {
    await h.rules(DR() + VS(toV1()));
    const body = bytes(200_000, 1);
    const r = await send({ port: outbound(), host: 'backend', path: '/echo', method: 'POST', headers: { 'x-request-id': 'body-1', 'content-length': String(body.length) }, chunks: [body] });
    expect(r.status).toBe(200);
    const [got] = v1().requestsWithId('body-1');
    expect(got!.complete).toBe(true);
    expect(got!.body.equals(body)).toBe(true);
    expect(got!.headers['content-length']).toBe(String(body.length));
    const [src] = (await h.eventsFor('body-1', 2)).filter((e) => e.reporter === 'source');
    expect(src!.bytesReceived).toBe(body.length);
  });

  it('a chunked body (no content-length) reaches the app whole, in order', async () => {
    await h.rules(DR() + VS(toV1()));
    const parts = [bytes(10, 2), bytes(70_000, 3), bytes(1, 4), bytes(5000, 5)];
    const r = await send({ port: outbound(), host: 'backend', path: '/echo', method: 'PUT', headers: { 'x-request-id': 'chunked-1' }, chunks: parts });
    expect(r.status).toBe(200);
    const [got] = v1().requestsWithId('chunked-1');
    expect(got!.method).toBe('PUT');
    expect(got!.body.equals(Buffer.concat(parts))).toBe(true);
    expect(JSON.parse(r.body.toString()).bodyLength).toBe(75_011);
  });

  it('a retried POST sends the same body on every attempt', async () => {
    await h.rules(DR() + VS(toV1('      retries: { attempts: 2, retryOn: "503" }\n')));
    const body = bytes(30_000, 6);
    const r = await send({ port: outbound(), host: 'backend', path: '/flaky/2?k=post-body', method: 'POST', headers: { 'x-request-id': 'retry-body-1', 'content-length': String(body.length) }, chunks: [body] });
    expect(r.status).toBe(200);
    const seen = v1().requestsWithId('retry-body-1');
    expect(seen).toHaveLength(3);
    for (const s of seen) {
      expect(s.method).toBe('POST');
      expect(s.body.equals(body)).toBe(true);
    }
  });
});

describe('what the app sees of retries (x-envoy-attempt-count)', () => {
  it("the app behind the inbound sidecar sees its caller's attempt number: 1, then 2 on the retry", async () => {
    await h.rules(DR() + VS(toV1('      retries: { attempts: 2, retryOn: "503" }\n')));
    const r = await h.request({ from: client, host: 'backend', path: '/flaky/1?k=attempt-count', headers: { 'x-request-id': 'count-1' } });
    expect(r.status).toBe(200);
    expect(v1().requestsWithId('count-1').map((s) => s.headers['x-envoy-attempt-count'])).toEqual(['1', '2']);
  });

  it('the ingress gateway counts its own attempts, and the app sees them', async () => {
    await h.rules(DR() + GATEWAY.replace('http: [{ route: [{ destination: { host: backend, subset: v1 } }] }]', 'http: [{ route: [{ destination: { host: backend, subset: v1 } }], retries: { attempts: 3, retryOn: "503" } }]'));
    const r = await h.request({ host: 'front.example.com', path: '/flaky/2?k=gw-count', headers: { 'x-request-id': 'count-gw' } });
    expect(r.status).toBe(200);
    expect(v1().requestsWithId('count-gw').map((s) => s.headers['x-envoy-attempt-count'])).toEqual(['1', '2', '3']);
  });
});
