/**
 * Ports without a protocol (an unnamed port, as meshbox.yaml's `port:`): Istio detects HTTP per
 * connection (HTTP/1.x request line or the HTTP/2 preface), anything else is TCP; a client that
 * sends nothing first waits for `protocolDetectionTimeout` (0s in Istio: forever).
 * And tls[] routes: the ClientHello's SNI picks the destination, TLS is not terminated. The
 * sidecars speak mTLS to each other, as meshbox up runs them (the app's TLS travels inside it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';
import { tcpExchange } from '../../helpers/tcp-app.js';

/** answers an HTTP request line with 200 `ok`, echoes anything else, greets first when `greet` */
async function dualApp(greet?: string): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    if (greet) s.write(greet);
    s.once('data', (d: Buffer) => {
      if (/^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/.test(d.toString('latin1'))) {
        s.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
        return;
      }
      s.write(d);
      s.on('data', (more: Buffer) => s.write(more));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** answers every connection with its version (a stand-in for a TLS server: the bytes pass untouched) */
async function versionApp(version: string, seen: Buffer[]): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.once('data', (d: Buffer) => {
      seen.push(d);
      s.end(`${version}\n`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** a real ClientHello for `servername`, as Node's TLS client writes it */
async function clientHello(servername: string): Promise<Buffer> {
  let got!: (b: Buffer) => void;
  const hello = new Promise<Buffer>((r) => (got = r));
  const server = net.createServer((s) => s.once('data', (d: Buffer) => {
    got(d);
    s.destroy();
  }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const c = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername, rejectUnauthorized: false });
  c.on('error', () => undefined);
  const b = await hello;
  c.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return b;
}

function httpGet(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('GET /hello HTTP/1.1\r\nhost: mixed\r\nconnection: close\r\n\r\n'));
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => {
      const m = /^HTTP\/1\.1 (\d+)/.exec(text);
      resolve({ status: Number(m?.[1] ?? 0), body: text.split('\r\n\r\n')[1] ?? '' });
    });
  });
}

const seenV1: Buffer[] = [];
const seenV2: Buffer[] = [];
let h: Harness;
let caDir: string;

beforeAll(async () => {
  caDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-detect-'));
  h = await startHarness([
    { name: 'caller', versions: { v1: 1 } },
    { name: 'mixed', versions: { v1: 1 }, ports: [{ port: 7000 }], serve: () => dualApp() },
    { name: 'greeter', versions: { v1: 1 }, ports: [{ port: 3306 }, { name: 'tcp-mysql', port: 3307 }], serve: () => dualApp('220 hello\n') },
    { name: 'secure', versions: { v1: 1, v2: 1 }, ports: [{ name: 'tls', port: 8443 }], serve: (id) => versionApp(id.includes('-v1-') ? 'v1' : 'v2', id.includes('-v1-') ? seenV1 : seenV2) },
  ], 3, { mtls: { caDir } });
});
afterAll(async () => {
  await h?.close();
  rmSync(caDir, { recursive: true, force: true });
});

const caller = (): ReturnType<Harness['instance']> => h.instance('caller-v1-1');

describe('protocol detection on an unnamed port', () => {
  it('HTTP is served as HTTP (a request event, through both sidecars), raw bytes as TCP (a connection event)', async () => {
    const port = caller().sidecar.services['mixed']!;
    const r = await httpGet(port);
    expect(r).toEqual({ status: 200, body: 'ok' });
    const deadline = Date.now() + 3000;
    while (h.events.filter((e) => e.destination.serviceName === 'mixed').length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
    const reqs = h.events.filter((e) => e.destination.serviceName === 'mixed');
    expect(reqs.map((e) => e.reporter).sort()).toEqual(['destination', 'source']);
    expect(reqs.find((e) => e.reporter === 'source')!.upstreamCluster).toBe('outbound|7000||mixed.default.svc.cluster.local');
    const raw = await tcpExchange(port, Buffer.from([0x00, 0x01, 0x62, 0x69, 0x6e, 0x0a]), { until: (t) => t.length >= 6 });
    expect(Buffer.from(raw.text, 'utf8')).toEqual(Buffer.from([0x00, 0x01, 0x62, 0x69, 0x6e, 0x0a]));
    while (!h.tcpEvents.some((e) => e.type === 'mesh:tcp:close' && e.destination.serviceName === 'mixed' && e.reporter === 'destination') && Date.now() < deadline + 3000) await new Promise((res) => setTimeout(res, 10));
    const tcp = h.tcpEvents.filter((e) => e.type === 'mesh:tcp:close' && e.destination.serviceName === 'mixed');
    expect(tcp.map((e) => e.reporter).sort()).toEqual(['destination', 'source']);
    expect(tcp.find((e) => e.reporter === 'source')!.bytesReceived).toBe(6);
  });

  it('a server-first protocol on a detected port waits (protocolDetectionTimeout 0s), on a `tcp-` port it is greeted at once', async () => {
    const unnamed = caller().sidecar.services['greeter']!;
    const named = caller().sidecar.servicePorts!['greeter:3307']!;
    const greeted = await tcpExchange(named, '', { until: (t) => t.includes('\n'), maxMs: 3000 });
    expect(greeted.text).toBe('220 hello\n');
    // the same client on the unnamed port: nothing comes while it sends nothing (bounded wait)
    const waiting = await tcpExchange(unnamed, '', { until: (t) => t.includes('\n'), maxMs: 300 });
    expect(waiting.text).toBe('');
  });
});

describe('tls[] routes by SNI (TLS passed through, not terminated)', () => {
  it('the ClientHello SNI picks the subset; the bytes reach the app unchanged; no match goes to the service', async () => {
    await h.rules(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: secure}
spec:
  host: secure
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: secure}
spec:
  hosts: [secure]
  tls:
  - match: [{sniHosts: [a.example.com], port: 8443}]
    route: [{destination: {host: secure, subset: v1}}]
  - match: [{sniHosts: ["*.b.example.com"]}]
    route: [{destination: {host: secure, subset: v2}}]
`);
    const port = caller().sidecar.services['secure']!;
    const a = await clientHello('a.example.com');
    const b = await clientHello('x.b.example.com');
    for (let i = 0; i < 5; i++) {
      expect((await tcpExchange(port, a, { until: (t) => t.includes('\n') })).text).toBe('v1\n');
      expect((await tcpExchange(port, b, { until: (t) => t.includes('\n') })).text).toBe('v2\n');
    }
    expect(seenV1.at(-1)).toEqual(a);
    expect(seenV2.at(-1)).toEqual(b);
    const e = h.tcpEvents.find((x) => x.type === 'mesh:tcp:close' && x.reporter === 'source' && x.requestedServerName === 'x.b.example.com')!;
    expect(e.upstreamCluster).toBe('outbound|8443|v2|secure.default.svc.cluster.local');
    expect(e.routeName).toBe('VirtualService default/secure tls[1]');
    // an SNI no route names: the service's default route (either version)
    const other = await clientHello('c.example.com');
    expect((await tcpExchange(port, other, { until: (t) => t.includes('\n') })).text).toMatch(/^v[12]\n$/);
    await h.rules('');
  });
});

describe('protocolDetectionTimeout set (MeshConfig), as for a server-first protocol', () => {
  let h2: Harness;
  beforeAll(async () => {
    h2 = await startHarness(
      [
        { name: 'caller', versions: { v1: 1 } },
        { name: 'greeter', versions: { v1: 1 }, ports: [{ port: 3306 }], serve: () => dualApp('220 hello\n') },
      ],
      3,
      { limits: { protocolDetectionTimeoutMs: 100 }, mtls: { caDir } },
    );
  });
  afterAll(async () => {
    await h2?.close();
  });

  it('a client that sends nothing first falls back to TCP after the timeout, and is greeted', async () => {
    const r = await tcpExchange(h2.instance('caller-v1-1').sidecar.services['greeter']!, '', { until: (t) => t.includes('\n'), maxMs: 5000 });
    expect(r.text).toBe('220 hello\n');
  });
});
