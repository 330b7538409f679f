/**
 * HTTP/2 on every listener (Envoy's codec AUTO: h2c prior knowledge and HTTP/1.1 on one port)
 * and toward upstreams whose port is http2 (or upgraded by a DestinationRule), plaintext between
 * the sidecars. Clients are Node's http2.connect (what `curl --http2-prior-knowledge` does) and
 * raw sockets for malformed bytes.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';
import { startFakeApp } from '../../helpers/fake-app.js';
import { h2Request, startH2App, type H2App } from '../../helpers/h2-app.js';
import { HTTP2_PREFACE } from '../../../sandbox/proxy/codec-sniffer.js';

let h: Harness;
const sessions: http2.ClientHttp2Session[] = [];

const GATEWAY = `
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.example.com"]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: web-ingress}
spec:
  hosts: [web.example.com]
  gateways: [gw]
  http:
  - route:
    - destination: {host: web}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: h2-ingress}
spec:
  hosts: [h2.example.com]
  gateways: [gw]
  http:
  - route:
    - destination: {host: h2svc}
`;

beforeAll(async () => {
  h = await startHarness(
    [
      { name: 'caller', versions: { v1: 1 } },
      { name: 'web', versions: { v1: 1 } },
      { name: 'h2svc', protocol: 'http2', versions: { v1: 1 } },
    ],
    3,
    { startApp: (id, svc) => (svc.protocol === 'http2' ? startH2App(id) : startFakeApp(id)) },
  );
});
afterEach(async () => {
  for (const s of sessions.splice(0)) s.destroy();
  await h.rules('');
});
afterAll(async () => {
  await h?.close();
});

function connect(port: number): http2.ClientHttp2Session {
  const s = http2.connect(`http://127.0.0.1:${port}`);
  s.on('error', () => undefined);
  sessions.push(s);
  return s;
}

type Stats = { downstream: Record<string, number>; clusters: Array<{ proxy: string; name: string; http2: { sessions: number }; hosts: Array<{ cx_total: number }>; circuit_breakers: Record<string, unknown> }> };
const stats = async (): Promise<Stats> => (await h.dataPlane.clusters()) as Stats;

describe('HTTP/2 downstream (h2c prior knowledge) on the gateway', () => {
  it('serves an h2 client and forwards to an HTTP/1.1 upstream: :authority is the Host, no pseudo-headers upstream', async () => {
    await h.rules(GATEWAY);
    const before = (await stats()).downstream;
    const s = connect(h.ingressPort);
    const r = await h2Request(s, { ':method': 'GET', ':path': '/hello?x=1', ':authority': 'web.example.com', 'x-request-id': 'h2-gw-1' });
    expect(r.status).toBe(200);
    expect(r.headers['server']).toBe('istio-envoy');
    const body = JSON.parse(r.body) as { instance: string; url: string; headers: Record<string, string> };
    expect(body.instance).toBe('web-v1-1');
    expect(body.url).toBe('/hello?x=1');
    expect(body.headers['host']).toBe('web.example.com');
    expect(Object.keys(body.headers).some((k) => k.startsWith(':'))).toBe(false);
    const events = await h.eventsFor('h2-gw-1', 2);
    const gw = events.find((e) => e.proxy === 'istio-ingressgateway')!;
    expect(gw.protocol).toBe('HTTP/2');
    expect(gw.authority).toBe('web.example.com');
    // an http port: HTTP/1.1 upstream even for an HTTP/2 client (Istio)
    expect(events.find((e) => e.reporter === 'destination')!.protocol).toBe('HTTP/1.1');
    expect((await stats()).downstream['downstream_cx_http2_total']).toBe(before['downstream_cx_http2_total']! + 1);
  });

  it('multiplexes: concurrent streams on one connection, each routed on its own', async () => {
    await h.rules(GATEWAY);
    const s = connect(h.ingressPort);
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) => h2Request(s, { ':method': 'GET', ':path': i % 2 ? `/delay/100?i=${i}` : `/i/${i}`, ':authority': i % 3 === 0 ? 'h2.example.com' : 'web.example.com' })),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(12).fill(200));
    replies.forEach((r, i) => expect((JSON.parse(r.body) as { instance: string }).instance).toBe(i % 3 === 0 ? 'h2svc-v1-1' : 'web-v1-1'));
  });

  it('HTTP/1.1 still works on the same port', async () => {
    await h.rules(GATEWAY);
    const r = await h.request({ host: 'web.example.com', path: '/one' });
    expect(r.status).toBe(200);
  });

  it('an unknown authority is 404 NR, for that stream only', async () => {
    await h.rules(GATEWAY);
    const s = connect(h.ingressPort);
    const [nr, ok] = await Promise.all([
      h2Request(s, { ':method': 'GET', ':path': '/', ':authority': 'nobody.example.org', 'x-request-id': 'h2-nr' }),
      h2Request(s, { ':method': 'GET', ':path': '/', ':authority': 'web.example.com' }),
    ]);
    expect(nr.status).toBe(404);
    expect(ok.status).toBe(200);
    const [e] = await h.eventsFor('h2-nr', 1);
    expect(e!.responseFlags).toBe('NR');
    expect(e!.protocol).toBe('HTTP/2');
  });
});

describe('HTTP/2 upstream (an http2 port)', () => {
  it('an HTTP/1.1 client reaches an HTTP/2 app: the Host becomes :authority, both sidecar hops are HTTP/2', async () => {
    const r = await h.request({ from: 'caller-v1-1', host: 'h2svc', path: '/p?q=1', method: 'POST', body: 'hello', headers: { 'x-request-id': 'h1-to-h2' } });
    expect(r.status).toBe(200);
    const body = r.json() as { httpVersion: string; authority: string; path: string; method: string; bodyLength: number; headers: Record<string, string> };
    expect(body).toMatchObject({ httpVersion: '2.0', authority: 'h2svc', path: '/p?q=1', method: 'POST', bodyLength: 5 });
    expect(body.headers['connection']).toBeUndefined();
    expect(body.headers['host']).toBeUndefined();
    const events = await h.eventsFor('h1-to-h2', 2);
    expect(events.find((e) => e.reporter === 'source')!.protocol).toBe('HTTP/1.1');
    expect(events.find((e) => e.reporter === 'source')!.why).toContain('http2 port: upstream HTTP/2');
    expect(events.find((e) => e.reporter === 'destination')!.protocol).toBe('HTTP/2');
  });

  it('passes trailers to an HTTP/2 client; an HTTP/1.1 client gets the body without them (Envoy: HTTP/1 trailers off)', async () => {
    await h.rules(GATEWAY);
    const s = connect(h.ingressPort);
    const r = await h2Request(s, { ':method': 'GET', ':path': '/trailers', ':authority': 'h2.example.com' });
    expect(r.status).toBe(200);
    expect(r.body).toBe('with trailers');
    expect(r.trailers?.['x-checksum']).toBe('abc');
    const plain = await h.request({ host: 'h2.example.com', path: '/trailers' });
    expect(plain.status).toBe(200);
    expect(plain.body).toBe('with trailers');
  });

  it("an upstream RST_STREAM is Envoy's reset local reply (503 UR, remote reset); the other streams of the connection carry on", async () => {
    await h.rules(GATEWAY);
    const s = connect(h.ingressPort);
    const [reset, slow] = await Promise.all([
      h2Request(s, { ':method': 'GET', ':path': '/reset', ':authority': 'h2.example.com', 'x-request-id': 'h2-rst' }),
      h2Request(s, { ':method': 'GET', ':path': '/delay/150', ':authority': 'h2.example.com' }),
    ]);
    expect(reset.status).toBe(503);
    expect(reset.body).toBe('upstream connect error or disconnect/reset before headers. reset reason: remote reset');
    expect(slow.status).toBe(200);
    const events = await h.eventsFor('h2-rst', 2);
    const inbound = events.find((e) => e.reporter === 'destination')!;
    expect(inbound.responseFlags).toBe('UR');
    expect(inbound.responseCodeDetails).toBe('upstream_reset_before_response_started{remote_reset}');
    expect(inbound.upstreamTransportFailureReason).toBe('RST_STREAM INTERNAL_ERROR');
    // and the client's connection still serves new streams
    expect((await h2Request(s, { ':method': 'GET', ':path': '/after', ':authority': 'h2.example.com' })).status).toBe(200);
  });

  it('http2MaxRequests limits requests in flight (circuit breaking counts requests, not connections)', async () => {
    await h.rules(`
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: h2svc}
spec:
  host: h2svc
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 1}, http: {http2MaxRequests: 2}}
`);
    const replies = await Promise.all(Array.from({ length: 4 }, () => h.request({ from: 'caller-v1-1', host: 'h2svc', path: '/delay/300' })));
    const statuses = replies.map((r) => r.status).sort();
    // two streams run at once on one connection (maxConnections 1 does not queue them); the rest overflow
    expect(statuses).toEqual([200, 200, 503, 503]);
    const over = replies.find((r) => r.status === 503)!;
    expect(over.body).toBe('upstream connect error or disconnect/reset before headers. reset reason: overflow');
    expect(over.headers['x-envoy-overloaded']).toBe('true');
  });

  it('maxRequestsPerConnection counts streams: a connection carries that many, then another opens', async () => {
    await h.rules(`
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: h2svc}
spec:
  host: h2svc
  trafficPolicy:
    connectionPool: {http: {maxRequestsPerConnection: 2}}
`);
    const cx = async (): Promise<number> => (await stats()).clusters.find((c) => c.proxy === 'caller-v1-1' && c.name.startsWith('outbound|8080||h2svc'))!.hosts[0]!.cx_total;
    const start = await cx();
    for (let i = 0; i < 4; i++) expect((await h.request({ from: 'caller-v1-1', host: 'h2svc', path: `/seq/${i}` })).status).toBe(200);
    expect((await cx()) - start).toBe(2);
  });

  it('maxConcurrentStreams caps the streams on one connection: beyond it another connection opens', async () => {
    await h.rules(`
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: h2svc}
spec:
  host: h2svc
  trafficPolicy:
    connectionPool: {http: {maxConcurrentStreams: 1}}
`);
    const cluster = async () => (await stats()).clusters.find((c) => c.proxy === 'caller-v1-1' && c.name.startsWith('outbound|8080||h2svc'))!;
    const start = (await cluster()).hosts[0]!.cx_total;
    const replies = await Promise.all(Array.from({ length: 3 }, () => h.request({ from: 'caller-v1-1', host: 'h2svc', path: '/delay/150' })));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    expect((await cluster()).hosts[0]!.cx_total - start).toBeGreaterThanOrEqual(2);
    expect((h.apps.get('h2svc-v1-1') as H2App).maxActive).toBeGreaterThanOrEqual(2);
  });
});

describe('HTTP/2 toward an http port, by DestinationRule', () => {
  it('h2UpgradePolicy UPGRADE: an HTTP/1.1 request goes to the inbound sidecar as HTTP/2, and on to the app as HTTP/1.1', async () => {
    await h.rules(`
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web
  trafficPolicy:
    connectionPool: {http: {h2UpgradePolicy: UPGRADE}}
`);
    const r = await h.request({ from: 'caller-v1-1', host: 'web', path: '/up', headers: { 'x-request-id': 'h2-upgrade' } });
    expect(r.status).toBe(200);
    const events = await h.eventsFor('h2-upgrade', 2);
    const src = events.find((e) => e.reporter === 'source')!;
    expect(src.why).toContain('DestinationRule default/web h2UpgradePolicy UPGRADE: upstream HTTP/2');
    expect(events.find((e) => e.reporter === 'destination')!.protocol).toBe('HTTP/2');
    const app = h.apps.get('web-v1-1')!;
    expect(app.requestsWithId('h2-upgrade')[0]!.headers['host']).toBe('web');
  });

  it('useClientProtocol: an HTTP/2 client goes upstream as HTTP/2, an HTTP/1.1 client as HTTP/1.1', async () => {
    await h.rules(`${GATEWAY}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web
  trafficPolicy:
    connectionPool: {http: {useClientProtocol: true}}
`);
    const s = connect(h.ingressPort);
    expect((await h2Request(s, { ':method': 'GET', ':path': '/uc', ':authority': 'web.example.com', 'x-request-id': 'uc-h2' })).status).toBe(200);
    expect((await h.request({ host: 'web.example.com', path: '/uc', headers: { 'x-request-id': 'uc-h1' } })).status).toBe(200);
    const h2 = await h.eventsFor('uc-h2', 2);
    const h1 = await h.eventsFor('uc-h1', 2);
    expect(h2.find((e) => e.reporter === 'destination')!.protocol).toBe('HTTP/2');
    expect(h1.find((e) => e.reporter === 'destination')!.protocol).toBe('HTTP/1.1');
  });
});

/** HTTP/2 frames a server sent, as far as they arrived */
function frames(buf: Buffer): Array<{ type: number; flags: number; stream: number; payload: Buffer }> {
  const out = [];
  let i = 0;
  while (i + 9 <= buf.length) {
    const len = buf.readUIntBE(i, 3);
    if (i + 9 + len > buf.length) break;
    out.push({ type: buf[i + 3]!, flags: buf[i + 4]!, stream: buf.readUInt32BE(i + 5) & 0x7fffffff, payload: buf.subarray(i + 9, i + 9 + len) });
    i += 9 + len;
  }
  return out;
}

/** writes `bytes` to a fresh connection and collects what comes back until the server closes */
function raw(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const sock = net.connect(port, '127.0.0.1', () => sock.write(bytes));
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', () => undefined);
    const timer = setTimeout(() => sock.destroy(), 8_000);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

const GOAWAY = 0x7;
const PROTOCOL_ERROR = 0x1;

describe('bad HTTP/2 input', () => {
  it('a malformed frame: GOAWAY PROTOCOL_ERROR, the connection closes, counted; the worker serves on', async () => {
    await h.rules(GATEWAY);
    const before = (await stats()).downstream['downstream_cx_protocol_error']!;
    // preface, an empty SETTINGS, then a DATA frame on stream 0 (a connection error, RFC 9113 §6.1)
    const settings = Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
    const dataOnZero = Buffer.from([0, 0, 1, 0x0, 0, 0, 0, 0, 0, 0x41]);
    const got = frames(await raw(h.ingressPort, Buffer.concat([HTTP2_PREFACE, settings, dataOnZero])));
    const goaway = got.find((f) => f.type === GOAWAY);
    expect(goaway).toBeDefined();
    expect(goaway!.payload.readUInt32BE(4)).toBe(PROTOCOL_ERROR);
    expect((await stats()).downstream['downstream_cx_protocol_error']).toBeGreaterThan(before);
    const s = connect(h.ingressPort);
    expect((await h2Request(s, { ':method': 'GET', ':path': '/after-bad', ':authority': 'web.example.com' })).status).toBe(200);
  });

  it('garbage after the preface (no SETTINGS first): GOAWAY PROTOCOL_ERROR, counted', async () => {
    const before = (await stats()).downstream['downstream_cx_protocol_error']!;
    const garbage = Buffer.from('this is not an HTTP/2 frame at all, just bytes.....', 'latin1');
    const got = frames(await raw(h.instance('caller-v1-1').sidecar.outbound, Buffer.concat([HTTP2_PREFACE, garbage])));
    const goaway = got.find((f) => f.type === GOAWAY);
    expect(goaway).toBeDefined();
    expect(goaway!.payload.readUInt32BE(4)).toBe(PROTOCOL_ERROR);
    expect((await stats()).downstream['downstream_cx_protocol_error']).toBe(before + 1);
  });

  it('a frame Node rejects (HEADERS on an even stream id) closes the connection with GOAWAY, counted', async () => {
    const before = (await stats()).downstream['downstream_cx_protocol_error']!;
    const settings = Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
    const headersOnTwo = Buffer.from([0, 0, 3, 0x1, 0x5, 0, 0, 0, 2, 0x82, 0x86, 0x84]);
    const got = frames(await raw(h.instance('caller-v1-1').sidecar.outbound, Buffer.concat([HTTP2_PREFACE, settings, headersOnTwo])));
    expect(got.some((f) => f.type === GOAWAY)).toBe(true);
    expect((await stats()).downstream['downstream_cx_protocol_error']).toBeGreaterThan(before);
  });

  it('a broken preface is not HTTP/2: the HTTP/1.1 codec answers 400', async () => {
    const reply = (await raw(h.instance('caller-v1-1').sidecar.outbound, Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n', 'latin1'))).toString('latin1');
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request/);
  });

  it('a healthy idle connection stays open (its pings are answered) and serves again', async () => {
    await h.rules(GATEWAY);
    const s = connect(h.ingressPort);
    expect((await h2Request(s, { ':method': 'GET', ':path': '/first', ':authority': 'web.example.com' })).status).toBe(200);
    const before = (await stats()).downstream['downstream_cx_protocol_error'];
    let closed = false;
    s.once('close', () => (closed = true));
    await new Promise((r) => setTimeout(r, 3_000));
    expect(closed).toBe(false);
    expect((await h2Request(s, { ':method': 'GET', ':path': '/again', ':authority': 'web.example.com' })).status).toBe(200);
    expect((await stats()).downstream['downstream_cx_protocol_error']).toBe(before);
  });

  it('a client resetting its stream cancels only that request (DC)', async () => {
    await h.rules(GATEWAY);
    const s = connect(h.ingressPort);
    const st = s.request({ ':method': 'GET', ':path': '/delay/2000', ':authority': 'h2.example.com', 'x-request-id': 'h2-dc' });
    st.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 100));
    st.close(http2.constants.NGHTTP2_CANCEL);
    const [e] = await h.eventsFor('h2-dc', 1).then((es) => es.filter((x) => x.proxy === 'istio-ingressgateway'));
    expect(e!.responseFlags).toContain('DC');
    expect((await h2Request(s, { ':method': 'GET', ':path': '/still', ':authority': 'web.example.com' })).status).toBe(200);
  });
});

describe('HTTP/1.1 clients are unchanged', () => {
  it('a plain HTTP/1.1 request through the outbound listener', async () => {
    const r = await new Promise<number>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: h.instance('caller-v1-1').sidecar.outbound, path: '/x', headers: { host: 'web' }, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    expect(r).toBe(200);
  });
});
