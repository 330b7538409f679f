/**
 * gRPC through the mesh, with @grpc/grpc-js as client and server: caller's outbound sidecar ->
 * (auto mTLS, HTTP/2 over TLS with ALPN istio-h2) -> greeter's inbound sidecar -> the app
 * (h2c), and through the ingress gateway. Envoy's gRPC behaviour: trailers pass, local replies
 * are trailers-only gRPC responses, `retryOn: unavailable` retries, `grpc-timeout` is the
 * deadline (capped by the route timeout), `grpcStatus` faults, message counts in the metrics.
 */
import http2 from 'node:http2';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';
import { count, greeterClient, sayHello, startGrpcApp, GREETER_SAY_HELLO, type GrpcApp } from '../../helpers/grpc-app.js';
import { startFakeApp } from '../../helpers/fake-app.js';
import { h2Request } from '../../helpers/h2-app.js';

let h: Harness;
let caDir: string;
const clients: grpc.Client[] = [];

const GATEWAY = `
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: grpc-gateway}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: grpc, protocol: GRPC}
    hosts: ["greeter.example.com"]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: greeter-ingress}
spec:
  hosts: ["greeter.example.com"]
  gateways: [grpc-gateway]
  http:
  - route:
    - destination: {host: greeter}
`;

const SUBSETS = `
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: greeter}
spec:
  host: greeter
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;

beforeAll(async () => {
  caDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-grpc-'));
  h = await startHarness(
    [
      { name: 'caller', versions: { v1: 1 } },
      { name: 'greeter', protocol: 'grpc', versions: { v1: 1, v2: 1 } },
    ],
    7,
    { mtls: { caDir }, startApp: (id, svc) => (svc.protocol === 'grpc' ? startGrpcApp(id) : startFakeApp(id)) },
  );
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const app of h.apps.values()) (app as GrpcApp).failCode = undefined;
  await h.rules('');
});
afterAll(async () => {
  await h?.close();
  rmSync(caDir, { recursive: true, force: true });
});

/** a gRPC client of greeter through caller's outbound listener (routed by `:authority`) */
function viaSidecar(authority = 'greeter:8080'): grpc.Client {
  const c = greeterClient(`127.0.0.1:${h.instance('caller-v1-1').sidecar.outbound}`, authority);
  clients.push(c);
  return c;
}

function app(id: string): GrpcApp {
  return h.apps.get(id) as GrpcApp;
}

describe('gRPC unary through the sidecars (auto mTLS)', () => {
  it('reaches the app over HTTP/2 on both hops, with mTLS between the sidecars, and its trailers come back', async () => {
    const r = await sayHello(viaSidecar(), { name: 'ada' }, { metadata: { 'x-request-id': 'grpc-unary-1' } });
    expect(r.error).toBeUndefined();
    expect(r.response?.message).toMatch(/^hello ada from greeter-v[12]-1$/);
    // trailing metadata from the app passed both proxies
    expect(r.status?.code).toBe(grpc.status.OK);
    expect(r.status?.metadata.get('x-instance')).toEqual([r.response!.instance]);
    // the app saw gRPC, no pseudo-headers as headers, the caller's identity in XFCC
    const seen = app(r.response!.instance).requestsWithId('grpc-unary-1')[0]!;
    expect(seen.url).toBe(GREETER_SAY_HELLO);
    expect(Object.keys(seen.headers).some((k) => k.startsWith(':'))).toBe(false);
    // gRPC sends no content-length, and none is made up on the way
    expect(seen.headers['content-length']).toBeUndefined();
    expect(seen.headers['x-forwarded-client-cert']).toMatch(/URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/caller$/);

    const events = await h.eventsFor('grpc-unary-1', 2);
    const src = events.find((e) => e.reporter === 'source')!;
    const dst = events.find((e) => e.reporter === 'destination')!;
    for (const e of [src, dst]) {
      expect(e.protocol).toBe('HTTP/2');
      expect(e.status).toBe(200);
      expect(e.path).toBe(GREETER_SAY_HELLO);
      expect(e.grpc).toMatchObject({ status: 0, requestMessages: 1, responseMessages: 1 });
    }
    expect(src.authority).toBe('greeter:8080');
    expect(dst.connectionSecurity).toBe('mutual_tls');
    expect(src.connectionSecurity).toBe('mutual_tls');
    expect(src.why).toContain('grpc port: upstream HTTP/2');

    const text = await h.metrics.text();
    const dstLine = new RegExp(`istio_requests_total\\{reporter="destination",[^}]*destination_app="greeter"[^}]*request_protocol="grpc"[^}]*connection_security_policy="mutual_tls",response_code="200",grpc_response_status="0"[^}]*\\} \\d+`);
    expect(text).toMatch(dstLine);
    expect(text).toMatch(/istio_request_messages_total\{reporter="source",[^}]*request_protocol="grpc"[^}]*grpc_response_status="0"[^}]*\} \d+/);
    expect(text).toMatch(/istio_response_messages_total\{reporter="destination",[^}]*\} \d+/);
  });

  it('counts the messages of a server-streaming call each way', async () => {
    const c = viaSidecar();
    const before = h.events.length;
    const r = await count(c, 5);
    expect(r.status.code).toBe(grpc.status.OK);
    expect(r.messages).toBe(5);
    for (let i = 0; i < 100 && h.events.length < before + 2; i++) await new Promise((res) => setTimeout(res, 10));
    const evs = h.events.slice(before).filter((e) => e.path === '/meshbox.test.Greeter/Count');
    expect(evs).toHaveLength(2);
    for (const e of evs) expect(e.grpc).toMatchObject({ status: 0, requestMessages: 1, responseMessages: 5 });
  });

  it('multiplexes concurrent calls on one client connection', async () => {
    await h.rules(`${SUBSETS}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: greeter}
spec:
  hosts: [greeter]
  http:
  - route:
    - destination: {host: greeter, subset: v1}
`);
    const c = viaSidecar();
    const stats0 = (await h.dataPlane.clusters()) as { downstream: { downstream_cx_http2_total: number } };
    await sayHello(c, { name: 'warm' });
    const stats1 = (await h.dataPlane.clusters()) as { downstream: { downstream_cx_http2_total: number } };
    app('greeter-v1-1').maxActive = 0;
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => sayHello(c, { name: `m${i}`, sleepMs: 150 })));
    expect(results.every((r) => r.status?.code === grpc.status.OK)).toBe(true);
    const stats2 = (await h.dataPlane.clusters()) as { downstream: { downstream_cx_http2_total: number } };
    // the 20 calls opened no connection: they were streams of the ones the first call opened
    expect(stats1.downstream.downstream_cx_http2_total).toBeGreaterThan(stats0.downstream.downstream_cx_http2_total);
    expect(stats2.downstream.downstream_cx_http2_total).toBe(stats1.downstream.downstream_cx_http2_total);
    // and they ran at the same time
    expect(app('greeter-v1-1').maxActive).toBeGreaterThan(1);
  });
});

describe('gRPC through the ingress gateway', () => {
  it('routes a Gateway-bound VirtualService by :authority, h2c from the client', async () => {
    await h.rules(GATEWAY);
    const c = greeterClient(`127.0.0.1:${h.ingressPort}`, 'greeter.example.com');
    clients.push(c);
    const r = await sayHello(c, { name: 'gw' }, { metadata: { 'x-request-id': 'grpc-gw-1' } });
    expect(r.response?.message).toMatch(/^hello gw from greeter-v[12]-1$/);
    const events = await h.eventsFor('grpc-gw-1', 2);
    const gw = events.find((e) => e.proxy === 'istio-ingressgateway')!;
    expect(gw.protocol).toBe('HTTP/2');
    expect(gw.grpc?.status).toBe(0);
    expect(events.find((e) => e.reporter === 'destination')!.connectionSecurity).toBe('mutual_tls');
  });
});

describe('gRPC traffic management', () => {
  it('splits by weight between two versions (seeded, 80/20 within tolerance)', async () => {
    await h.rules(`${SUBSETS}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: greeter}
spec:
  hosts: [greeter]
  http:
  - route:
    - {destination: {host: greeter, subset: v1}, weight: 80}
    - {destination: {host: greeter, subset: v2}, weight: 20}
`);
    const c = viaSidecar();
    const N = 300;
    let v1 = 0;
    for (let i = 0; i < N; i++) {
      const r = await sayHello(c, { name: `w${i}` });
      expect(r.status?.code).toBe(grpc.status.OK);
      if (r.response!.instance === 'greeter-v1-1') v1++;
    }
    expect(v1 / N).toBeGreaterThan(0.8 - 0.07);
    expect(v1 / N).toBeLessThan(0.8 + 0.07);
  });

  it('a grpcStatus fault answers that gRPC status (trailers-only, 200, FI); an HTTP client gets 200 `fault filter abort`', async () => {
    await h.rules(`
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: greeter}
spec:
  hosts: [greeter]
  http:
  - fault: {abort: {grpcStatus: RESOURCE_EXHAUSTED, percentage: {value: 100}}}
    route:
    - destination: {host: greeter}
`);
    const r = await sayHello(viaSidecar(), { name: 'f' }, { metadata: { 'x-request-id': 'grpc-fault-1' } });
    expect(r.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(r.error?.details).toBe('fault filter abort');
    const [e] = await h.eventsFor('grpc-fault-1', 1);
    expect(e!.status).toBe(200);
    expect(e!.responseFlags).toBe('FI');
    expect(e!.responseCodeDetails).toBe('fault_filter_abort');
    expect(e!.grpc).toMatchObject({ status: 8, message: 'fault filter abort' });
    // Envoy's fault filter: a grpc_status abort is HTTP 200; a request that is not gRPC gets its plain local reply
    const plain = await h.request({ from: 'caller-v1-1', host: 'greeter', path: '/x' });
    expect(plain.status).toBe(200);
    expect(plain.body).toBe('fault filter abort');
    expect(plain.headers['grpc-status']).toBeUndefined();
  });

  it('an AuthorizationPolicy denial reaches a gRPC client as PERMISSION_DENIED `RBAC: access denied`', async () => {
    await h.rules(`
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: deny-hello}
spec:
  selector: {matchLabels: {app: greeter}}
  action: DENY
  rules:
  - to: [{operation: {paths: ["${GREETER_SAY_HELLO}"]}}]
`);
    const r = await sayHello(viaSidecar(), { name: 'no' }, { metadata: { 'x-request-id': 'grpc-rbac' } });
    expect(r.error?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(r.error?.details).toBe('RBAC: access denied');
    const events = await h.eventsFor('grpc-rbac', 2);
    const dst = events.find((e) => e.reporter === 'destination')!;
    expect(dst.status).toBe(200);
    expect(dst.responseCodeDetails).toMatch(/^rbac_access_denied_matched_policy\[/);
    expect(dst.grpc?.status).toBe(7);
  });

  it('retryOn: unavailable masks a version that answers UNAVAILABLE; without it the failures show', async () => {
    app('greeter-v2-1').failCode = grpc.status.UNAVAILABLE;
    await h.rules(`
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: greeter}
spec:
  hosts: [greeter]
  http:
  - route:
    - destination: {host: greeter}
    retries: {attempts: 3, retryOn: unavailable}
`);
    const c = viaSidecar();
    const before = h.events.length;
    const results = [];
    for (let i = 0; i < 30; i++) results.push(await sayHello(c, { name: `r${i}` }));
    expect(results.every((r) => r.status?.code === grpc.status.OK && r.response?.instance === 'greeter-v1-1')).toBe(true);
    await new Promise((res) => setTimeout(res, 100));
    const src = h.events.slice(before).filter((e) => e.reporter === 'source');
    expect(src.some((e) => e.attempts > 1 && e.why.some((w) => w.includes('grpc-status 14, retrying')))).toBe(true);

    await h.rules(`
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: greeter}
spec:
  hosts: [greeter]
  http:
  - route:
    - destination: {host: greeter}
    retries: {attempts: 3, retryOn: connect-failure}
`);
    const failed = [];
    for (let i = 0; i < 30; i++) failed.push(await sayHello(c, { name: `n${i}` }));
    const unavailable = failed.filter((r) => r.error?.code === grpc.status.UNAVAILABLE);
    expect(unavailable.length).toBeGreaterThan(0);
    expect(unavailable[0]!.error!.details).toBe('greeter-v2-1 fails on purpose');
  });

  it('a circuit breaker overflow reaches a gRPC client as UNAVAILABLE with Envoy\'s message (http2MaxRequests counts requests)', async () => {
    await h.rules(`
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: greeter}
spec:
  host: greeter
  trafficPolicy:
    connectionPool: {http: {http2MaxRequests: 1}}
`);
    const c = viaSidecar();
    await sayHello(c, { name: 'warm' });
    const results = await Promise.all(Array.from({ length: 4 }, (_, i) => sayHello(c, { name: `cb${i}`, sleepMs: 300 })));
    const ok = results.filter((r) => r.status?.code === grpc.status.OK);
    const over = results.filter((r) => r.error?.code === grpc.status.UNAVAILABLE);
    expect(ok.length).toBe(1);
    expect(over.length).toBe(3);
    expect(over[0]!.error!.details).toBe('upstream connect error or disconnect/reset before headers. reset reason: overflow');
    await new Promise((res) => setTimeout(res, 100));
    const uo = h.events.filter((e) => e.responseFlags === 'UO' && e.path === GREETER_SAY_HELLO);
    expect(uo.length).toBeGreaterThanOrEqual(3);
    expect(uo[0]!.status).toBe(200);
    expect(uo[0]!.grpc?.status).toBe(14);
    const text = await h.metrics.text();
    expect(text).toMatch(/istio_requests_total\{reporter="source",[^}]*request_protocol="grpc",response_flags="UO"[^}]*response_code="200",grpc_response_status="14"/);
  });
});

describe('grpc-timeout (Istio: max_grpc_timeout = the route timeout)', () => {
  it('the route timeout caps a longer grpc-timeout: the app is told the cap, the client gets UNAVAILABLE `upstream request timeout`', async () => {
    await h.rules(`
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: greeter}
spec:
  hosts: [greeter]
  http:
  - route:
    - destination: {host: greeter}
    timeout: 200ms
`);
    const r = await sayHello(viaSidecar(), { name: 'slow', sleepMs: 1500 }, { deadlineMs: 10_000, metadata: { 'x-request-id': 'grpc-to-1' } });
    expect(r.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.error?.details).toBe('upstream request timeout');
    const seen = [...h.apps.values()].flatMap((a) => a.requestsWithId('grpc-to-1'))[0]!;
    // grpc-js reads grpc-timeout as the call's deadline: what the proxy sent, not the client's 10 s
    expect(Number(seen.headers['x-deadline-ms'])).toBeLessThanOrEqual(200);
    const events = await h.eventsFor('grpc-to-1', 1);
    const src = events.find((e) => e.reporter === 'source')!;
    expect(src.responseFlags).toBe('UT');
    expect(src.status).toBe(200);
    expect(src.grpc?.status).toBe(14);
  });

  it('without a route timeout the grpc-timeout header is the deadline: the proxy answers at its expiry', async () => {
    const session = http2.connect(`http://127.0.0.1:${h.instance('caller-v1-1').sidecar.outbound}`);
    try {
      const body = Buffer.from(JSON.stringify({ name: 'late', sleepMs: 2000 }));
      const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, body.length]), body]);
      const r = await h2Request(
        session,
        { ':method': 'POST', ':path': GREETER_SAY_HELLO, ':authority': 'greeter:8080', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '150m', 'x-request-id': 'grpc-to-2' },
        framed,
      );
      // a trailers-only gRPC local reply
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('application/grpc');
      expect(r.headers['grpc-status']).toBe('14');
      expect(r.headers['grpc-message']).toBe('upstream request timeout');
      expect(r.body).toBe('');
      const events = await h.eventsFor('grpc-to-2', 1);
      expect(events.find((e) => e.reporter === 'source')!.responseFlags).toBe('UT');
    } finally {
      session.close();
    }
  });
});
