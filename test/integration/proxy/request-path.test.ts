/**
 * The request path on real sockets, end to end through the proxies to a fake app that records
 * what it receives: request bodies (plain, chunked, retried), what the app
 * sees of retries (x-envoy-attempt-count), that no request is ever replayed to the app except as a
 * counted retry, a client that goes away (Envoy's DC), and every place the route timeout can fire
 * (during back-off, in the circuit-breaker queue, while the response body streams), plus the
 * connect timeout against a host that never completes the TCP handshake.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Rng } from '../../../sandbox/rng.js';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';

let h: Harness;
const client = 'client-v1-1';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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

async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

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

describe('no request is replayed to the app', () => {
  it('a client that abandons a POST through gateway -> sidecar -> app: the app gets it once; both proxies log 0 DC downstream_remote_disconnect', async () => {
    await h.rules(DR() + GATEWAY);
    // keep-alive connections in every pool (gateway -> sidecar, sidecar -> app), as in steady traffic
    for (let i = 0; i < 3; i++) expect((await h.request({ host: 'front.example.com', path: '/warm' })).status).toBe(200);
    const sock = net.connect(h.ingressPort, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const body = 'order=42';
    sock.write(`POST /delay/700 HTTP/1.1\r\nhost: front.example.com\r\nx-request-id: abandon-1\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    await until('the app to receive the request', () => v1().requestsWithId('abandon-1').length > 0);
    sock.destroy();
    const events = await h.eventsFor('abandon-1', 2);
    // longer than the app's delay: a replay would have arrived by now
    await sleep(900);
    expect(v1().requestsWithId('abandon-1')).toHaveLength(1);
    expect(v1().requestsWithId('abandon-1')[0]!.body.toString()).toBe(body);
    expect(h.events.filter((e) => e.requestId === 'abandon-1')).toHaveLength(2);
    for (const e of events) {
      expect({ reporter: e.reporter, status: e.status, flags: e.responseFlags, details: e.responseCodeDetails }).toEqual({
        reporter: e.reporter,
        status: 0,
        flags: 'DC',
        details: 'downstream_remote_disconnect',
      });
    }
    expect(events.map((e) => e.proxy).sort()).toEqual(['backend-v1-1', 'istio-ingressgateway'].sort());
    for (const e of events) expect(e.why.join('\n')).toContain('the client went away during attempt 1 to');
    const metrics = await h.metrics.text();
    const dc = metrics.split('\n').filter((l) => l.startsWith('istio_requests_total{') && l.includes('response_code="0"') && l.includes('response_flags="DC"'));
    expect(dc.some((l) => l.includes('reporter="source"'))).toBe(true);
    expect(dc.some((l) => l.includes('reporter="destination"'))).toBe(true);
  });

  it('perTryTimeout 200ms with 2 retries against a slow backend: the backend sees exactly 3 requests', async () => {
    await h.rules(DR() + VS(toV1('      retries: { attempts: 2, perTryTimeout: 0.2s, retryOn: "5xx,reset" }\n')));
    for (let i = 0; i < 3; i++) expect((await h.request({ from: client, host: 'backend', path: '/warm' })).status).toBe(200);
    const r = await h.request({ from: client, host: 'backend', path: '/delay/1500', method: 'POST', body: 'x=1', headers: { 'x-request-id': 'ptt-3' } });
    expect(r.status).toBe(504);
    expect(r.body).toBe('upstream request timeout');
    await sleep(600);
    const seen = v1().requestsWithId('ptt-3');
    expect(seen.map((s) => s.headers['x-envoy-attempt-count'])).toEqual(['1', '2', '3']);
    expect(seen.every((s) => s.body.toString() === 'x=1')).toBe(true);
    const evs = await h.eventsFor('ptt-3', 4);
    const src = evs.find((e) => e.reporter === 'source')!;
    expect(src.attempts).toBe(3);
    expect(src.responseFlags).toBe('UT,URX');
    // each abandoned attempt is a downstream disconnect for the inbound sidecar, never a resend
    const dst = evs.filter((e) => e.reporter === 'destination');
    expect(dst).toHaveLength(3);
    for (const d of dst) expect([d.status, d.responseFlags, d.responseCodeDetails, d.attempts]).toEqual([0, 'DC', 'downstream_remote_disconnect', 1]);
  });

  it('a client that goes away while the response body streams: the cancel reaches the app\'s side at once (200 DC at both proxies)', async () => {
    await h.rules(DR() + VS(toV1()));
    const sock = net.connect(outbound(), '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    let received = '';
    sock.on('data', (d: Buffer) => (received += d.toString('latin1')));
    sock.write('GET /slow-body/3000 HTTP/1.1\r\nhost: backend\r\nx-request-id: dc-body\r\n\r\n');
    await until('the first half of the body', () => received.includes('\r\n\r\n' + 'x'.repeat(32)));
    const cutAt = Date.now();
    sock.destroy();
    const events = await h.eventsFor('dc-body', 2);
    // the inbound sidecar saw its downstream (the outbound sidecar) go away, long before the app's 3 s
    expect(Date.now() - cutAt).toBeLessThan(2000);
    for (const e of events) expect([e.reporter, e.status, e.responseFlags, e.responseCodeDetails]).toEqual([e.reporter, 200, 'DC', 'downstream_remote_disconnect']);
    expect(events.map((e) => e.reporter).sort()).toEqual(['destination', 'source']);
    expect(v1().requestsWithId('dc-body')).toHaveLength(1);
  });

  it('a client that goes away while its request waits in the circuit-breaker queue: nothing reaches the app', async () => {
    // (the route timeout only bounds the test if the connection leaked)
    await h.rules(DR('    connectionPool:\n      tcp: { maxConnections: 1 }\n      http: { http1MaxPendingRequests: 5 }\n') + VS(toV1('      timeout: 3s\n')));
    const holder = h.request({ from: client, host: 'backend', path: '/delay/600', headers: { 'x-request-id': 'q-hold' } });
    await until('the first request to reach the app', () => v1().requestsWithId('q-hold').length > 0);
    const sock = net.connect(outbound(), '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write('GET /x HTTP/1.1\r\nhost: backend\r\nx-request-id: q-gone\r\n\r\n');
    const [queued] = await Promise.all([h.eventsFor('q-gone', 1), sleep(100).then(() => sock.destroy())]);
    expect((await holder).status).toBe(200);
    await sleep(100);
    expect(v1().requestsWithId('q-gone')).toHaveLength(0);
    expect([queued[0]!.status, queued[0]!.responseFlags, queued[0]!.responseCodeDetails]).toEqual([0, 'DC', 'downstream_remote_disconnect']);
    expect(queued[0]!.why.join('\n')).toContain('the client went away waiting for a connection to outbound|8080|v1|backend.default.svc.cluster.local (circuit breaker queue)');
    // the connection it left the queue for was not kept: the next request gets it at once
    const next = await h.request({ from: client, host: 'backend', path: '/x', headers: { 'x-request-id': 'q-next' } });
    expect(next.status).toBe(200);
  });
});

describe('idle pooled connections', () => {
  it("are closed by the proxy before an app's announced keep-alive timeout runs out, so a request never meets a connection the app is closing", async () => {
    await h.rules(DR() + VS(toV1()));
    const app = v1();
    const saved = app.server.keepAliveTimeout;
    app.server.keepAliveTimeout = 2500; // Node then announces `Keep-Alive: timeout=2`
    const closedByProxy: boolean[] = [];
    const onConnection = (sock: net.Socket): void => {
      let peerEnded = false;
      sock.on('end', () => (peerEnded = true));
      sock.on('close', () => closedByProxy.push(peerEnded));
    };
    app.server.on('connection', onConnection);
    try {
      // a fresh connection for this request: close the ones already pooled
      app.server.closeIdleConnections();
      await sleep(50);
      closedByProxy.length = 0;
      expect((await h.request({ from: client, host: 'backend', path: '/x', headers: { 'x-request-id': 'idle-1' } })).status).toBe(200);
      await until('the idle connection to close', () => closedByProxy.length > 0, 6000);
      // the inbound sidecar's side ended it (a FIN from the proxy), not the app's timeout
      expect(closedByProxy).toEqual([true]);
    } finally {
      app.server.off('connection', onConnection);
      app.server.keepAliveTimeout = saved;
    }
  });
});

describe('where the route timeout fires', () => {
  it('during the back-off between retries: 504 UT, and no further attempt', async () => {
    // a 1s back-off base: the first back-off is U[0, 1s), the next U[0, 3s); the 150 ms timeout
    // runs out while the router waits (attempts against a failing app take ~1 ms each)
    await h.rules(DR() + VS(toV1('      timeout: 0.15s\n      retries: { attempts: 5, retryOn: "503", backoff: 1s }\n')));
    v1().fail = 503;
    const started = Date.now();
    const r = await h.request({ from: client, host: 'backend', path: '/x', headers: { 'x-request-id': 'ut-backoff' } });
    const took = Date.now() - started;
    expect(r.status).toBe(504);
    expect(r.body).toBe('upstream request timeout');
    const src = (await h.eventsFor('ut-backoff', 2)).find((e) => e.reporter === 'source')!;
    expect(src.responseFlags).toBe('UT');
    expect(src.responseCodeDetails).toBe('upstream_response_timeout');
    expect(src.why.join('\n')).toContain('route timeout 150ms expired during back-off');
    const attempts = v1().requestsWithId('ut-backoff').length;
    expect(attempts).toBe(src.attempts);
    expect(attempts).toBeLessThan(6);
    await sleep(300);
    expect(v1().requestsWithId('ut-backoff')).toHaveLength(attempts);
    expect(took).toBeGreaterThanOrEqual(140);
  });

  it('in the circuit-breaker queue: 504 UT, and the queued request never reaches the app', async () => {
    await h.rules(
      DR('    connectionPool:\n      tcp: { maxConnections: 1 }\n      http: { http1MaxPendingRequests: 5 }\n') +
        VS(
          `    - match: [{ headers: { x-hold: { exact: "1" } } }]\n      route: [{ destination: { host: backend, subset: v1 } }]\n      timeout: 5s\n` +
            toV1('      timeout: 0.2s\n'),
        ),
    );
    const holder = h.request({ from: client, host: 'backend', path: '/delay/700', headers: { 'x-hold': '1', 'x-request-id': 'cbq-hold' } });
    await until('the first request to reach the app', () => v1().requestsWithId('cbq-hold').length > 0);
    const queued = await h.request({ from: client, host: 'backend', path: '/x', headers: { 'x-request-id': 'cbq-wait' } });
    expect(queued.status).toBe(504);
    expect(queued.body).toBe('upstream request timeout');
    expect((await holder).status).toBe(200);
    expect(v1().requestsWithId('cbq-wait')).toHaveLength(0);
    const [src] = await h.eventsFor('cbq-wait', 1);
    expect(src!.responseFlags).toBe('UT');
    expect(src!.why.join('\n')).toContain('expired waiting for a connection (circuit breaker queue)');
  });

  it('while the response body streams: the client gets the head, then a cut connection; the event says 200 UT', async () => {
    await h.rules(DR() + VS(toV1('      timeout: 0.3s\n')));
    const r = await send({ port: outbound(), host: 'backend', path: '/slow-body/2000', headers: { 'x-request-id': 'ut-body' } });
    expect(r.status).toBe(200);
    expect(r.cut).toBe(true);
    expect(r.body.length).toBe(32);
    const [src] = (await h.eventsFor('ut-body', 1)).filter((e) => e.reporter === 'source');
    expect([src!.status, src!.responseFlags, src!.responseCodeDetails]).toEqual([200, 'UT', 'upstream_response_timeout']);
  });
});

describe('connect timeout (DestinationRule connectionPool.tcp.connectTimeout)', () => {
  let blackhole: ChildProcess | undefined;
  const fillers: net.Socket[] = [];
  afterAll(() => {
    for (const s of fillers) s.destroy();
    if (blackhole?.pid) process.kill(blackhole.pid, 'SIGKILL');
  });

  /** a listening port whose TCP handshakes never complete: a stopped process with a full accept queue */
  async function unansweredPort(): Promise<number> {
    const code = `const s=require('net').createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>{process.stdout.write(s.address().port+'\\n');process.kill(process.pid,'SIGSTOP')})`;
    blackhole = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((resolve) => blackhole!.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
    // fill the accept queue until a handshake stays pending
    for (let i = 0; i < 8; i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      fillers.push(s);
      const connected = await Promise.race([new Promise((r) => s.once('connect', () => r(true))), sleep(200).then(() => false)]);
      if (!connected) return port;
    }
    throw new Error('could not fill the accept queue');
  }

  it('an endpoint that never completes the handshake fails after connectTimeout with 503 UF, retried as a connect failure', async () => {
    const port = await unansweredPort();
    const inst = h.instance('backend-v2-1');
    const saved = inst.sidecar;
    h.registry.update(inst.id, { sidecar: { ...saved, inbound: port } });
    try {
      await h.rules(DR('    connectionPool:\n      tcp: { connectTimeout: 0.2s }\n') + VS(`    - route: [{ destination: { host: backend, subset: v2 } }]\n      retries: { attempts: 1, retryOn: connect-failure }\n`));
      const started = Date.now();
      const r = await h.request({ from: client, host: 'backend', path: '/x', headers: { 'x-request-id': 'cto-1' } });
      const took = Date.now() - started;
      expect(r.status).toBe(503);
      expect(r.body).toBe('upstream connect error or disconnect/reset before headers. reset reason: connection failure');
      const [src] = await h.eventsFor('cto-1', 1);
      expect(src!.responseFlags).toBe('UF,URX');
      expect(src!.attempts).toBe(2);
      expect(src!.upstreamTransportFailureReason).toBe('connect timeout');
      // two attempts of 200 ms each, far from the 10 s default
      expect(took).toBeGreaterThanOrEqual(390);
      expect(took).toBeLessThan(5000);
    } finally {
      h.registry.update(inst.id, { sidecar: saved });
      await h.controlPlane.publish();
    }
  });
});
