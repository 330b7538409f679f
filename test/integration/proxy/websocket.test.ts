/**
 * WebSocket (HTTP/1.1 upgrade) through the mesh on real sockets, with the `ws` package as client
 * and server: the caller's outbound sidecar -> (auto mTLS) -> the callee's inbound sidecar -> the
 * app, and the ingress gateway -> sidecar -> app. Routing, filters, faults, toxics and telemetry
 * apply to the upgrade request as to any request; the upgraded stream is one request event with
 * status 101, emitted when it closes.
 */
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MeshEvent, RequestEvent, UpgradeEvent } from '../../../sandbox/events.js';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';
import { acceptWebSockets, closed, connectWs, echo, opened, type WsApp } from '../../helpers/ws-app.js';

const ROUTES = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: callme }
spec:
  host: callme
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: callme }
spec:
  hosts: [callme]
  http:
    - name: to-v2
      match: [{ uri: { prefix: /v2 } }]
      rewrite: { uri: /chat }
      headers:
        request: { set: { x-routed: v2 } }
        response: { set: { x-route: to-v2 } }
      route: [{ destination: { host: callme, subset: v2 } }]
    - name: abort
      match: [{ uri: { prefix: /abort } }]
      fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }
      route: [{ destination: { host: callme, subset: v1 } }]
    - name: delay
      match: [{ uri: { prefix: /delay } }]
      fault: { delay: { fixedDelay: 200ms, percentage: { value: 100 } } }
      route: [{ destination: { host: callme, subset: v1 } }]
    - name: to-v1
      route: [{ destination: { host: callme, subset: v1 } }]
---
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
  http: [{ route: [{ destination: { host: callme, subset: v2 } }] }]
`;

let h: Harness;
let caDir: string;
const ws = new Map<string, WsApp>();
const upgraded: UpgradeEvent[] = [];
const caller = 'caller-v1-1';

beforeAll(async () => {
  caDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-ws-'));
  h = await startHarness(
    [
      { name: 'caller', versions: { v1: 1 } },
      { name: 'callme', versions: { v1: 1, v2: 1 } },
      { name: 'gone', versions: { v1: 1 } },
    ],
    1,
    { mtls: { caDir } },
  );
  for (const [id, app] of h.apps) ws.set(id, acceptWebSockets(app));
  await h.apps.get('gone-v1-1')!.close();
  h.bus.onAny((e: MeshEvent) => {
    if (e.type === 'mesh:request:upgraded') upgraded.push(e);
  });
});
afterAll(async () => {
  await h?.close();
  rmSync(caDir, { recursive: true, force: true });
});
beforeEach(async () => {
  await h.rules(ROUTES);
  await h.faults([]);
});

const outbound = (): number => h.instance(caller).sidecar.outbound;
const eventsOf = (id: string): RequestEvent[] => h.events.filter((e) => e.requestId === id);
const side = (events: RequestEvent[], reporter: 'source' | 'destination'): RequestEvent => events.find((e) => e.reporter === reporter)!;

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** a raw HTTP/1.1 exchange on one connection: what came back before the proxy closed it, or once `done` says so */
function raw(port: number, request: string, done: (text: string) => boolean = () => false): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(request));
    let text = '';
    const t = setTimeout(() => {
      s.destroy();
      resolve({ text, closed: false });
    }, 5000);
    s.on('data', (d) => {
      text += d.toString('latin1');
      if (!done(text)) return;
      clearTimeout(t);
      s.destroy();
      resolve({ text, closed: false });
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(t);
      resolve({ text, closed: true });
    });
  });
}

describe('WebSocket through the sidecars', () => {
  it('echoes through outbound -> inbound over mTLS -> app; each side emits one 101 event when the stream closes, with its bytes; istio_requests_total counts 101', async () => {
    const client = connectWs(outbound(), 'callme:8080', '/chat', { 'x-request-id': 'ws-echo' });
    const o = await opened(client);
    if (!o.ok) throw new Error(JSON.stringify(o));
    const openedAt = performance.now();
    expect(o.headers['server']).toBe('envoy');
    expect(o.headers['x-envoy-upstream-service-time']).toMatch(/^\d+$/);
    expect(o.headers['sec-websocket-accept']).toBeTruthy();
    const messages = ['one', 'two', 'three'];
    for (const m of messages) expect(await echo(client, m)).toBe(`callme-v1-1:${m}`);

    // the app got the upgrade over the inbound sidecar's mTLS: XFCC names the caller
    const seen = ws.get('callme-v1-1')!.upgrades.find((u) => u.headers['x-request-id'] === 'ws-echo')!;
    expect(seen.url).toBe('/chat');
    expect(seen.headers['upgrade']).toBe('websocket');
    expect(seen.headers['sec-websocket-key']).toBeTruthy();
    expect(String(seen.headers['x-forwarded-client-cert'])).toMatch(/URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/caller$/);

    // open: announced by both sides, no end event yet
    await until(() => upgraded.filter((e) => e.requestId === 'ws-echo').length === 2, 'both upgraded events');
    expect(upgraded.find((e) => e.requestId === 'ws-echo' && e.reporter === 'source')!.endpoint).toBe('callme-v1-1');
    expect(eventsOf('ws-echo')).toHaveLength(0);

    client.close();
    await closed(client);
    const openMs = performance.now() - openedAt;
    const events = await h.eventsFor('ws-echo', 2);
    const src = side(events, 'source');
    const dst = side(events, 'destination');
    for (const e of [src, dst]) {
      expect(e.status).toBe(101);
      expect(e.responseFlags).toBe('-');
      expect(e.upgrade).toBe('websocket');
      expect(e.responseCodeDetails).toBe('via_upstream');
      // client frames are masked: 2 + 4 + payload each; server frames 2 + payload
      expect(e.bytesReceived).toBeGreaterThanOrEqual(messages.reduce((n, m) => n + 6 + m.length, 0));
      expect(e.bytesSent).toBeGreaterThanOrEqual(messages.reduce((n, m) => n + 2 + `callme-v1-1:${m}`.length, 0));
    }
    expect(src.durationMs).toBeGreaterThanOrEqual(openMs - 5);
    expect(src.connectionSecurity).toBe('mutual_tls');
    expect(dst.connectionSecurity).toBe('mutual_tls');
    expect(dst.source.principal).toBe('spiffe://cluster.local/ns/default/sa/caller');
    expect(src.endpoint).toBe('callme-v1-1');
    const counted = (await h.metrics.text()).split('\n').filter((l) => l.startsWith('istio_requests_total{') && l.includes('response_code="101"'));
    expect(counted.some((l) => l.includes('reporter="source"') && l.includes('destination_workload="callme-v1"'))).toBe(true);
    expect(counted.some((l) => l.includes('reporter="destination"') && l.includes('connection_security_policy="mutual_tls"'))).toBe(true);
  });

  it('routes the upgrade request as any request: by path to another version, with its rewrite and header operations', async () => {
    const v1 = connectWs(outbound(), 'callme:8080', '/chat');
    const v2 = connectWs(outbound(), 'callme:8080', '/v2/room', { 'x-request-id': 'ws-v2' });
    const [o1, o2] = await Promise.all([opened(v1), opened(v2)]);
    if (!o1.ok || !o2.ok) throw new Error('not opened');
    expect(await echo(v1, 'a')).toBe('callme-v1-1:a');
    expect(await echo(v2, 'b')).toBe('callme-v2-1:b');
    expect(o2.headers['x-route']).toBe('to-v2');
    const seen = ws.get('callme-v2-1')!.upgrades.find((u) => u.headers['x-request-id'] === 'ws-v2')!;
    expect(seen.url).toBe('/chat/room');
    expect(seen.headers['x-routed']).toBe('v2');
    expect(seen.headers['x-envoy-original-path']).toBe('/v2/room');
    v1.close();
    v2.close();
    await Promise.all([closed(v1), closed(v2)]);
    const src = side(await h.eventsFor('ws-v2', 2), 'source');
    expect(src.routeName).toBe('to-v2');
    expect(src.destination.subset).toBe('v2');
  });

  it('the client closes: the close reaches the app and both upstream connections close', async () => {
    const app = ws.get('callme-v1-1')!;
    const before = app.closes.length;
    const client = connectWs(outbound(), 'callme:8080', '/bye', { 'x-request-id': 'ws-bye' });
    await opened(client);
    expect(await echo(client, 'x')).toBe('callme-v1-1:x');
    expect([...app.open].length).toBeGreaterThan(0);
    client.close(1000, 'done');
    expect(await closed(client)).toBe(1000);
    await until(() => app.closes.length > before, 'the app to see the close');
    expect(app.closes.at(-1)).toEqual({ url: '/bye', code: 1000 });
    await until(() => app.open.size === 0, 'the app socket to close');
    expect((await h.eventsFor('ws-bye', 2)).every((e) => e.status === 101)).toBe(true);
  });

  it('a client that goes away abruptly: the upstream side is closed, the event says DC', async () => {
    const app = ws.get('callme-v1-1')!;
    const client = connectWs(outbound(), 'callme:8080', '/abrupt', { 'x-request-id': 'ws-abrupt' });
    await opened(client);
    expect(await echo(client, 'x')).toBe('callme-v1-1:x');
    client.terminate();
    await until(() => app.closes.some((c) => c.url === '/abrupt'), 'the app to see the connection end');
    const src = side(await h.eventsFor('ws-abrupt', 2), 'source');
    expect(src.status).toBe(101);
    expect(src.responseFlags).toBe('DC');
  });

  it('an upstream that closes the stream: the client is closed cleanly; one that resets it: the client is closed, the event says UC', async () => {
    const fin = connectWs(outbound(), 'callme:8080', '/close-after/1', { 'x-request-id': 'ws-fin' });
    await opened(fin);
    expect(await echo(fin, 'x')).toBe('callme-v1-1:x');
    await closed(fin);
    const finSrc = side(await h.eventsFor('ws-fin', 2), 'source');
    expect(finSrc.responseFlags).toBe('-');

    const rst = connectWs(outbound(), 'callme:8080', '/reset-after/1', { 'x-request-id': 'ws-rst' });
    await opened(rst);
    expect(await echo(rst, 'x')).toBe('callme-v1-1:x');
    expect(await closed(rst)).toBe(1006);
    const events = await h.eventsFor('ws-rst', 2);
    // the app reset the inbound sidecar's connection; the sidecars between close cleanly
    expect(side(events, 'destination').responseFlags).toBe('UC');
    expect(side(events, 'source').status).toBe(101);
  });

  it('an upstream that refuses the upgrade: its response reaches the client as a normal response', async () => {
    const client = connectWs(outbound(), 'callme:8080', '/refuse/403', { 'x-request-id': 'ws-refused' });
    const o = await opened(client);
    expect(o).toMatchObject({ ok: false, status: 403, body: 'refused 403' });
    if (o.ok || !('headers' in o)) return;
    expect(o.headers['x-instance']).toBe('callme-v1-1');
    expect(o.headers['server']).toBe('envoy');
    const events = await h.eventsFor('ws-refused', 2);
    expect(events.map((e) => e.status)).toEqual([403, 403]);
    expect(events.every((e) => e.upgrade === undefined)).toBe(true);

    const ok = await opened(connectWs(outbound(), 'callme:8080', '/refuse/200'));
    expect(ok).toMatchObject({ ok: false, status: 200, body: 'refused 200' });
  });

  it("upstream down: the inbound sidecar's connect failure is Envoy's 503 UF; a connect failure at the caller's sidecar is retried, then 503 UF,URX", async () => {
    const client = connectWs(outbound(), 'gone:8080', '/chat', { 'x-request-id': 'ws-gone' });
    const o = await opened(client);
    expect(o).toMatchObject({ ok: false, status: 503, body: 'upstream connect error or disconnect/reset before headers. reset reason: connection failure' });
    const events = await h.eventsFor('ws-gone', 2);
    expect(side(events, 'destination').responseFlags).toBe('UF');
    expect(side(events, 'destination').responseCodeDetails).toBe('upstream_reset_before_response_started{connection_failure}');
    expect(side(events, 'source').status).toBe(503);

    // PassthroughCluster to a closed port: the caller's sidecar itself cannot connect
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const direct = await opened(connectWs(outbound(), `127.0.0.1:${port}`, '/chat', { 'x-request-id': 'ws-uf' }));
    expect(direct).toMatchObject({ ok: false, status: 503, body: 'upstream connect error or disconnect/reset before headers. reset reason: connection failure' });
    const [src] = await h.eventsFor('ws-uf', 1);
    expect(src!.responseFlags).toBe('UF,URX');
    expect(src!.attempts).toBe(3);
  });

  it('AuthorizationPolicy applies to the upgrade request: DENY on its path answers 403 RBAC: access denied, the app never sees it', async () => {
    await h.rules(`${ROUTES}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-ws, namespace: default }
spec:
  selector: { matchLabels: { app: callme } }
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/denied"] } }] }]
`);
    const o = await opened(connectWs(outbound(), 'callme:8080', '/denied', { 'x-request-id': 'ws-denied' }));
    expect(o).toMatchObject({ ok: false, status: 403, body: 'RBAC: access denied' });
    const dst = side(await h.eventsFor('ws-denied', 2), 'destination');
    expect(dst.responseCodeDetails).toBe('rbac_access_denied_matched_policy[ns[default]-policy[deny-ws]-rule[0]]');
    expect([...ws.values()].some((a) => a.upgrades.some((u) => u.url === '/denied'))).toBe(false);
    // allowed paths still upgrade
    const fine = connectWs(outbound(), 'callme:8080', '/chat');
    expect((await opened(fine)).ok).toBe(true);
    fine.close();
    await closed(fine);
  });

  it("the route's faults: an abort answers the upgrade request with its status; a delay delays it", async () => {
    const aborted = await opened(connectWs(outbound(), 'callme:8080', '/abort', { 'x-request-id': 'ws-abort' }));
    expect(aborted).toMatchObject({ ok: false, status: 503, body: 'fault filter abort' });
    expect((await h.eventsFor('ws-abort', 1))[0]!.responseFlags).toBe('FI');

    const started = performance.now();
    const delayed = connectWs(outbound(), 'callme:8080', '/delay', { 'x-request-id': 'ws-delay' });
    expect((await opened(delayed)).ok).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(195);
    expect(await echo(delayed, 'late')).toBe('callme-v1-1:late');
    delayed.close();
    await closed(delayed);
    const src = side(await h.eventsFor('ws-delay', 2), 'source');
    expect(src.status).toBe(101);
    expect(src.responseFlags).toBe('DI');
  });
});

describe('WebSocket and the rest of the mesh', () => {
  it('an open stream holds its circuit-breaker slot: with http2MaxRequests 1 a second request overflows (503 UO) until it closes', async () => {
    await h.rules(ROUTES.replace('  host: callme\n  subsets:', '  host: callme\n  trafficPolicy: { connectionPool: { http: { http2MaxRequests: 1 } } }\n  subsets:'));
    const client = connectWs(outbound(), 'callme:8080', '/chat', { 'x-request-id': 'ws-slot' });
    expect((await opened(client)).ok).toBe(true);
    const overflow = await h.request({ from: caller, host: 'callme:8080', path: '/plain' });
    expect(overflow.status).toBe(503);
    expect(overflow.headers['x-envoy-overloaded']).toBe('true');
    client.close();
    await closed(client);
    await h.eventsFor('ws-slot', 2);
    expect((await h.request({ from: caller, host: 'callme:8080', path: '/plain' })).status).toBe(200);
  });

  it("meshbox's HTTP faults at the inbound sidecar: reset cuts the stream after the 101; slowBody trickles what the app sends", async () => {
    await h.faults([{ name: 'cut', target: { service: 'callme', subset: 'v1' }, match: { pathPrefix: '/cut' }, http: { reset: { phase: 'response' } } }]);
    const cut = connectWs(outbound(), 'callme:8080', '/cut', { 'x-request-id': 'ws-cut' });
    const o = await opened(cut);
    if (o.ok) expect(await closed(cut)).toBe(1006);
    const dst = side(await h.eventsFor('ws-cut', 2), 'destination');
    expect(dst.responseFlags).toBe('FI');
    expect(dst.responseCodeDetails).toBe('fault_filter_reset');

    await h.faults([{ name: 'slow', target: { service: 'callme', subset: 'v1' }, match: { pathPrefix: '/slow' }, http: { slowBody: { bytesPerSecond: 1000 } } }]);
    const slow = connectWs(outbound(), 'callme:8080', '/slow');
    expect((await opened(slow)).ok).toBe(true);
    const text = 'y'.repeat(300);
    const t0 = performance.now();
    // ~315 bytes at 1000 B/s in 100 ms slices of 100 bytes: the last slice leaves after 300 ms at the earliest
    expect(await echo(slow, text)).toBe(`callme-v1-1:${text}`);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    slow.close();
    await closed(slow);
  });
});

describe('WebSocket through the ingress gateway', () => {
  it('gateway -> sidecar (mTLS) -> app, as routed by the gateway-bound VirtualService', async () => {
    const client = connectWs(h.ingressPort, 'front.example.com', '/live', { 'x-request-id': 'ws-gw' });
    const o = await opened(client);
    if (!o.ok) throw new Error(JSON.stringify(o));
    expect(o.headers['server']).toBe('istio-envoy');
    expect(await echo(client, 'hi')).toBe('callme-v2-1:hi');
    client.close();
    await closed(client);
    const events = await h.eventsFor('ws-gw', 2);
    const gw = events.find((e) => e.listener === 'gateway')!;
    expect(gw.status).toBe(101);
    expect(gw.destination.workload).toBe('callme-v2');
    expect(side(events, 'destination').connectionSecurity).toBe('mutual_tls');
    // the gateway appends the client's address to x-forwarded-for, as for any request
    const seen = ws.get('callme-v2-1')!.upgrades.find((u) => u.headers['x-request-id'] === 'ws-gw')!;
    expect(seen.headers['x-forwarded-for']).toContain('127.0.0.1');
  });
});

describe('upgrades other than WebSocket', () => {
  it("another Upgrade type gets Envoy's 403 upgrade_failed (empty body) and the connection closes", async () => {
    const r = await raw(outbound(), 'GET /chat HTTP/1.1\r\nHost: callme:8080\r\nConnection: Upgrade\r\nUpgrade: foo/1\r\nx-request-id: up-foo\r\n\r\n');
    expect(r.text).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(r.text).toMatch(/\r\nconnection: close\r\n/i);
    expect(r.text).toMatch(/\r\ncontent-length: 0\r\n/i);
    expect(r.closed).toBe(true);
    const [e] = await h.eventsFor('up-foo', 1);
    expect(e!.responseCodeDetails).toBe('upgrade_failed');
    expect(e!.responseFlags).toBe('-');
    // no route is the router's 404 first
    const nr = await raw(h.ingressPort, 'GET / HTTP/1.1\r\nHost: nowhere.example.com\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n');
    expect(nr.text).toMatch(/^HTTP\/1\.1 404 /);
  });

  it('Upgrade: h2c is served as plain HTTP/1.1 without its upgrade headers, and the connection stays usable', async () => {
    const r = await raw(
      outbound(),
      'POST /h2c HTTP/1.1\r\nHost: callme:8080\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nContent-Length: 5\r\nx-request-id: up-h2c\r\n\r\nhello' +
        'GET /after HTTP/1.1\r\nHost: callme:8080\r\nx-request-id: up-h2c-2\r\n\r\n',
      (text) => (text.match(/HTTP\/1\.1 200 /g) ?? []).length === 2 && /"url":"\/after"/.test(text),
    );
    const responses = r.text.split(/(?=HTTP\/1\.1 )/);
    expect(responses).toHaveLength(2);
    expect(responses[0]).toMatch(/^HTTP\/1\.1 200 /);
    const body = JSON.parse(responses[0]!.slice(responses[0]!.indexOf('\r\n\r\n') + 4)) as { headers: Record<string, string>; bodyLength: number; url: string };
    expect(body.url).toBe('/h2c');
    expect(body.bodyLength).toBe(5);
    expect(body.headers['upgrade']).toBeUndefined();
    expect(body.headers['http2-settings']).toBeUndefined();
    expect(responses[1]).toMatch(/^HTTP\/1\.1 200 /);
    expect((await h.eventsFor('up-h2c', 2)).every((e) => e.status === 200 && e.upgrade === undefined)).toBe(true);
  });
});

describe('toxics on the upgraded stream', () => {
  it('latency: every echo takes at least the latency', async () => {
    await h.faults([{ target: { service: 'callme', subset: 'v1' }, toxics: [{ type: 'latency', attributes: { latency: 100 } }] }]);
    const client = connectWs(outbound(), 'callme:8080', '/chat');
    expect((await opened(client)).ok).toBe(true);
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      expect(await echo(client, `m${i}`)).toBe(`callme-v1-1:m${i}`);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(99);
    }
    client.close();
    await closed(client);
  });

  it('reset_peer: the stream is reset under the sidecars; the client is closed and the event says UC', async () => {
    await h.faults([{ target: { service: 'callme', subset: 'v1' }, toxics: [{ type: 'reset_peer', attributes: { timeout: 300 } }] }]);
    const client = connectWs(outbound(), 'callme:8080', '/chat', { 'x-request-id': 'ws-reset-peer' });
    expect((await opened(client)).ok).toBe(true);
    expect(await echo(client, 'before')).toBe('callme-v1-1:before');
    expect(await closed(client)).toBe(1006);
    const src = side(await h.eventsFor('ws-reset-peer', 2), 'source');
    expect(src.status).toBe(101);
    expect(src.responseFlags).toBe('UC');
  });

  it('timeout on an open stream: nothing more gets through, then the stream is closed', async () => {
    // a toxic proxy already in place (a no-op latency), so the toxic that follows reaches the open connection
    await h.faults([{ name: 'toxic', target: { service: 'callme', subset: 'v1' }, toxics: [{ type: 'latency', attributes: { latency: 0 } }] }]);
    const client = connectWs(outbound(), 'callme:8080', '/chat', { 'x-request-id': 'ws-timeout' });
    expect((await opened(client)).ok).toBe(true);
    expect(await echo(client, 'before')).toBe('callme-v1-1:before');
    await h.faults([{ name: 'toxic', target: { service: 'callme', subset: 'v1' }, toxics: [{ type: 'timeout', attributes: { timeout: 300 } }] }]);
    await expect(echo(client, 'lost')).rejects.toThrow('closed before the echo');
    const events = await h.eventsFor('ws-timeout', 2);
    expect(events.every((e) => e.status === 101)).toBe(true);
  });

  it('timeout before the switch: the upgrade request is held, then the connection closes: 503 UC', async () => {
    await h.faults([{ target: { service: 'callme', subset: 'v1' }, toxics: [{ type: 'timeout', attributes: { timeout: 300 }, stream: 'upstream' }] }]);
    const o = await opened(connectWs(outbound(), 'callme:8080', '/chat', { 'x-request-id': 'ws-held' }));
    expect(o).toMatchObject({ ok: false, status: 503, body: 'upstream connect error or disconnect/reset before headers. reset reason: connection termination' });
    const [src] = await h.eventsFor('ws-held', 1);
    expect(src!.responseFlags).toBe('UC');
  });
});

describe('stream_idle_timeout on an upgraded stream', () => {
  let idle: Harness;
  beforeAll(async () => {
    idle = await startHarness([{ name: 'caller', versions: { v1: 1 } }, { name: 'callme', versions: { v1: 1 } }], 1, { limits: { streamIdleTimeoutMs: 300 } });
    for (const app of idle.apps.values()) acceptWebSockets(app);
  });
  afterAll(async () => idle?.close());

  it('a stream with nothing moving either way for the timeout is closed: SI', async () => {
    const client = connectWs(idle.instance(caller).sidecar.outbound, 'callme:8080', '/chat', { 'x-request-id': 'ws-idle' });
    expect((await opened(client)).ok).toBe(true);
    expect(await echo(client, 'still here')).toBe('callme-v1-1:still here');
    expect(await closed(client)).toBe(1006);
    const events = await idle.eventsFor('ws-idle', 2);
    expect(events.map((e) => e.status)).toEqual([101, 101]);
    expect(events.some((e) => e.responseFlags === 'SI' && e.responseCodeDetails === 'stream_idle_timeout')).toBe(true);
  });
});
