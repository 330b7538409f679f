/**
 * Toxiproxy's toxics, measured on real sockets: a ToxicProxy in front of a TCP server, and
 * end to end through the mesh.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ToxicSpec } from '../../../sandbox/faults/fault-spec.js';
import { configureToxic } from '../../../sandbox/proxy/toxics/toxic.js';
import { ToxicProxy } from '../../../sandbox/proxy/toxics/toxic-proxy.js';
import { Rng } from '../../../sandbox/rng.js';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';

/** a server that answers every chunk it gets with `reply(chunk)` */
async function tcpServer(reply: (data: Buffer, socket: net.Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('data', (d) => reply(d, s));
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
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

const proxies: ToxicProxy[] = [];
const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function proxyTo(port: number, toxics: ToxicSpec[]): Promise<number> {
  const p = new ToxicProxy('test', { host: '127.0.0.1', port }, new Rng(5));
  p.setToxics(toxics.map(configureToxic), { host: '127.0.0.1', port });
  proxies.push(p);
  return p.listen();
}

interface Exchange {
  bytes: number;
  firstByteMs: number;
  lastByteMs: number;
  closedMs: number;
  chunks: number;
  error?: string;
}

/** connects, sends `send`, collects the answer until the connection closes or `maxMs` */
function exchange(port: number, send: Buffer, maxMs = 5000): Promise<Exchange> {
  return new Promise((resolve) => {
    const start = performance.now();
    const r: Exchange = { bytes: 0, firstByteMs: -1, lastByteMs: -1, closedMs: -1, chunks: 0 };
    const s = net.connect(port, '127.0.0.1', () => s.write(send));
    const done = (): void => {
      clearTimeout(t);
      r.closedMs = performance.now() - start;
      resolve(r);
    };
    const t = setTimeout(() => {
      s.destroy();
      resolve(r);
    }, maxMs);
    s.on('data', (d) => {
      const now = performance.now() - start;
      if (r.firstByteMs < 0) r.firstByteMs = now;
      r.lastByteMs = now;
      r.bytes += d.length;
      r.chunks++;
    });
    s.on('error', (e: NodeJS.ErrnoException) => (r.error = e.code ?? e.message));
    s.on('close', done);
  });
}

describe('toxics on a ToxicProxy', () => {
  it('latency delays the answer by latency ± jitter', async () => {
    const srv = await tcpServer((d, s) => s.end(d));
    servers.push(srv);
    const plain = await exchange(srv.port, Buffer.from('ping'));
    const port = await proxyTo(srv.port, [{ type: 'latency', attributes: { latency: 150, jitter: 10 } }]);
    const r = await exchange(port, Buffer.from('ping'));
    expect(r.bytes).toBe(4);
    // at least latency - jitter (a timer does not fire early); at most once more the jitter plus
    // scheduling slack on a loaded machine, well short of twice the latency
    expect(r.firstByteMs - plain.firstByteMs).toBeGreaterThan(138);
    expect(r.firstByteMs - plain.firstByteMs).toBeLessThan(250);
  });

  it('latency on the upstream stream delays the request instead', async () => {
    let receivedAt = 0;
    const start = performance.now();
    const srv = await tcpServer((d, s) => {
      receivedAt = performance.now() - start;
      s.end(d);
    });
    servers.push(srv);
    const port = await proxyTo(srv.port, [{ type: 'latency', stream: 'upstream', attributes: { latency: 120 } }]);
    await exchange(port, Buffer.from('x'));
    expect(receivedAt).toBeGreaterThan(110);
  });

  it('bandwidth caps the rate within 10%', async () => {
    const payload = Buffer.alloc(300_000, 7);
    const srv = await tcpServer((_d, s) => s.end(payload));
    servers.push(srv);
    const port = await proxyTo(srv.port, [{ type: 'bandwidth', attributes: { rate: 500 } }]);
    const r = await exchange(port, Buffer.from('go'));
    expect(r.bytes).toBe(300_000);
    const seconds = (r.lastByteMs - r.firstByteMs) / 1000 + 0.1; // the first 100 ms slice arrives at once
    const kbps = 300 / seconds;
    expect(kbps).toBeGreaterThan(450);
    expect(kbps).toBeLessThan(550);
  });

  it('reset_peer resets the connection: the client sees ECONNRESET', async () => {
    const srv = await tcpServer(() => undefined);
    servers.push(srv);
    const port = await proxyTo(srv.port, [{ type: 'reset_peer', attributes: { timeout: 100 } }]);
    const r = await exchange(port, Buffer.from('hello'));
    expect(r.error).toBe('ECONNRESET');
    expect(r.closedMs).toBeGreaterThan(90);
  });

  it('limit_data closes the connection after exactly N bytes', async () => {
    const srv = await tcpServer((_d, s) => s.write(Buffer.alloc(50_000, 1)));
    servers.push(srv);
    const port = await proxyTo(srv.port, [{ type: 'limit_data', attributes: { bytes: 1234 } }]);
    const r = await exchange(port, Buffer.from('go'));
    expect(r.bytes).toBe(1234);
    expect(r.closedMs).toBeGreaterThan(0);
  });

  it('timeout lets nothing through and closes after the timeout', async () => {
    const srv = await tcpServer((d, s) => s.write(d));
    servers.push(srv);
    const port = await proxyTo(srv.port, [{ type: 'timeout', attributes: { timeout: 200 } }]);
    const r = await exchange(port, Buffer.from('anyone?'));
    expect(r.bytes).toBe(0);
    expect(r.closedMs).toBeGreaterThan(190);
    expect(r.closedMs).toBeLessThan(1000);
  });

  it('slicer cuts the answer into small pieces, delay µs apart', async () => {
    const srv = await tcpServer((_d, s) => s.end(Buffer.alloc(2000, 2)));
    servers.push(srv);
    const port = await proxyTo(srv.port, [{ type: 'slicer', attributes: { average_size: 100, size_variation: 20, delay: 5000 } }]);
    const r = await exchange(port, Buffer.from('go'));
    expect(r.bytes).toBe(2000);
    expect(r.chunks).toBeGreaterThan(10);
    // ~20 slices 5 ms apart
    expect(r.lastByteMs - r.firstByteMs).toBeGreaterThan(60);
  });

  it('slow_close holds the close back', async () => {
    const srv = await tcpServer((d, s) => s.end(d));
    servers.push(srv);
    const port = await proxyTo(srv.port, [{ type: 'slow_close', attributes: { delay: 300 } }]);
    const r = await exchange(port, Buffer.from('bye'));
    expect(r.bytes).toBe(3);
    expect(r.closedMs - r.lastByteMs).toBeGreaterThan(280);
  });

  it('toxicity 0 never applies the toxic', async () => {
    const srv = await tcpServer((d, s) => s.end(d));
    servers.push(srv);
    const port = await proxyTo(srv.port, [{ type: 'latency', toxicity: 0, attributes: { latency: 500 } }]);
    const r = await exchange(port, Buffer.from('quick'));
    expect(r.firstByteMs).toBeGreaterThanOrEqual(0);
    expect(r.firstByteMs).toBeLessThan(400);
  });
});

describe('toxics through the mesh', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness([
      { name: 'client', versions: { v1: 1 } },
      { name: 'backend', versions: { v1: 1 } },
    ], 7);
  });
  afterAll(async () => h?.close());

  /** 21 sequential request times, sorted */
  const timed = async (): Promise<number[]> => {
    const times: number[] = [];
    for (let i = 0; i < 21; i++) {
      const t = performance.now();
      await h.request({ from: 'client-v1-1', host: 'backend', path: '/x' });
      times.push(performance.now() - t);
    }
    return times.sort((a, b) => a - b);
  };

  it('a latency toxic on a service adds the injected latency to its requests, and goes away when removed', async () => {
    await h.faults([]);
    const base = await timed();
    await h.faults([{ target: { service: 'backend' }, toxics: [{ type: 'latency', attributes: { latency: 80 } }] }]);
    const slow = await timed();
    // the fastest request with the toxic is slower than the fastest without by the latency (a
    // timer does not fire early; minimums are not moved by a loaded machine's hiccups) ...
    expect(slow[0]! - base[0]!).toBeGreaterThan(75);
    // ... and the median moves by about the latency, once, not twice
    expect(slow[10]! - base[10]!).toBeGreaterThan(50);
    expect(slow[10]! - base[10]!).toBeLessThan(140);
    await h.faults([]);
    // gone: the fastest request is back under half the injected latency above the baseline
    const after = await timed();
    expect(after[0]!).toBeLessThan(base[0]! + 40);
    expect(after[10]!).toBeLessThan(slow[10]!);
  });

  it('a timeout toxic makes the route timeout fire (504 UT)', async () => {
    await h.rules(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http: [{ route: [{ destination: { host: backend } }], timeout: 0.3s }]
`);
    await h.faults([{ target: { service: 'backend' }, toxics: [{ type: 'timeout', attributes: { timeout: 0 } }] }]);
    const r = await h.request({ from: 'client-v1-1', host: 'backend', path: '/x' });
    expect(r.status).toBe(504);
    expect(r.body).toBe('upstream request timeout');
    await h.faults([]);
    await h.rules('');
    expect((await h.request({ from: 'client-v1-1', host: 'backend', path: '/x' })).status).toBe(200);
  });
});
