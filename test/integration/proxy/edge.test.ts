/**
 * The downstream edge of a sidecar on real sockets, with raw clients where an HTTP library would
 * hide what the proxy does: forwarding loops, slow headers, oversized header blocks, bodies over
 * the buffer limit (streamed, as Envoy's router does: no 413), `Expect: 100-continue`, CONNECT.
 * Each reply must be Envoy's and must be logged as a request.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestEvent } from '../../../sandbox/events.js';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';

const HEADER_TIMEOUT_MS = 400;
const STREAM_IDLE_MS = 1000;
const BODY_LIMIT = 1024 * 1024;

let h: Harness;
const client = 'client-v1-1';

beforeAll(async () => {
  h = await startHarness(
    [
      { name: 'client', versions: { v1: 1 } },
      { name: 'backend', versions: { v1: 1 } },
    ],
    7,
    { limits: { requestHeadersTimeoutMs: HEADER_TIMEOUT_MS, streamIdleTimeoutMs: STREAM_IDLE_MS, perConnectionBufferLimitBytes: BODY_LIMIT } },
  );
});
afterAll(async () => h?.close());

const outboundPort = (): number => h.instance(client).sidecar.outbound;

interface Raw {
  socket: net.Socket;
  text(): string;
  /** resolves when the peer closed (or reset) the connection; false when `ms` passed first */
  closed(ms: number): Promise<boolean>;
  /** resolves once the received text satisfies `pred`; false when `ms` passed first */
  until(pred: (text: string) => boolean, ms: number): Promise<boolean>;
  error: string | undefined;
}

function raw(port: number): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let isClosed = false;
    const waiters = new Set<() => void>();
    const notify = (): void => waiters.forEach((w) => w());
    const r: Raw = {
      socket,
      error: undefined,
      text: () => Buffer.concat(chunks).toString('latin1'),
      closed: (ms) => r.until(() => isClosed, ms),
      until: (pred, ms) =>
        new Promise((res) => {
          if (pred(r.text())) return res(true);
          const check = (): void => {
            if (!pred(r.text())) return;
            clearTimeout(timer);
            waiters.delete(check);
            res(true);
          };
          const timer = setTimeout(() => {
            waiters.delete(check);
            res(false);
          }, ms);
          waiters.add(check);
        }),
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      notify();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      r.error = e.code ?? e.message;
    });
    socket.on('close', () => {
      isClosed = true;
      notify();
    });
    socket.once('connect', () => resolve(r));
    socket.once('error', reject);
  });
}

async function eventWhere(pred: (e: RequestEvent) => boolean, ms = 3000): Promise<RequestEvent> {
  const until = Date.now() + ms;
  for (;;) {
    const found = h.events.find(pred);
    if (found) return found;
    if (Date.now() > until) throw new Error('no matching request event');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const statusLine = (text: string): string => text.split('\r\n')[0] ?? '';
const bodyOf = (text: string): string => text.slice(text.indexOf('\r\n\r\n') + 4);

describe('forwarding loops (Envoy CDN-Loop filter)', () => {
  it("a passthrough to the sidecar's own listener is answered with 502 cdn_loop_detected instead of recursing", async () => {
    const port = outboundPort();
    const before = h.events.length;
    const c = await raw(port);
    c.socket.write(`GET http://127.0.0.1:${port}/loop HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nx-request-id: loop-1\r\nconnection: close\r\n\r\n`);
    expect(await c.closed(5000)).toBe(true);
    const text = c.text();
    expect(statusLine(text)).toBe('HTTP/1.1 502 Bad Gateway');
    expect(bodyOf(text)).toBe('The server has detected a loop between CDNs.');
    const inner = await eventWhere((e) => e.requestId === 'loop-1' && e.responseCodeDetails === 'cdn_loop_detected');
    expect(inner.status).toBe(502);
    expect(inner.proxy).toBe(client);
    expect(inner.why.join(' ')).toMatch(/loop/);
    // one hop back into itself, then the loop is cut: two events, not thousands
    await new Promise((r) => setTimeout(r, 100));
    expect(h.events.slice(before).filter((e) => e.requestId === 'loop-1')).toHaveLength(2);
  });

  it('a normal mesh call passes and the app never sees meshbox CDN-Loop ids (a foreign one is kept)', async () => {
    const r = await h.request({ from: client, host: 'backend', path: '/cdn', headers: { 'cdn-loop': 'foo-cdn' } });
    expect(r.status).toBe(200);
    const seen = h.apps.get('backend-v1-1')!.requests.filter((q) => q.url === '/cdn').at(-1)!;
    expect(seen.headers['cdn-loop']).toBe('foo-cdn');
  });
});

describe('request header timeout (HCM request_headers_timeout)', () => {
  it('slow-header clients are answered 408 "request header timeout" and closed, all of them', async () => {
    const before = h.events.length;
    const conns = await Promise.all(Array.from({ length: 20 }, () => raw(outboundPort())));
    const timers = conns.map((c) => {
      c.socket.write('GET /slow HTTP/1.1\r\nHost: backend\r\nX-Slow: ');
      return setInterval(() => c.socket.writable && c.socket.write('x'), HEADER_TIMEOUT_MS / 4);
    });
    try {
      // a header byte arrives every 100 ms, yet the header block never completes: closed within
      // a generous multiple of the 400 ms timeout (loaded machine), never left open
      const closed = await Promise.all(conns.map((c) => c.closed(HEADER_TIMEOUT_MS * 10)));
      expect(closed.every(Boolean)).toBe(true);
    } finally {
      timers.forEach(clearInterval);
      conns.forEach((c) => c.socket.destroy());
    }
    for (const c of conns) {
      expect(statusLine(c.text())).toBe('HTTP/1.1 408 Request Timeout');
      expect(bodyOf(c.text())).toBe('request header timeout');
    }
    await eventWhere(() => h.events.slice(before).filter((e) => e.responseCodeDetails === 'request_header_timeout').length === 20);
    const ev = h.events.slice(before).find((e) => e.responseCodeDetails === 'request_header_timeout')!;
    expect(ev.status).toBe(408);
    expect(ev.proxy).toBe(client);
  });

  it('a client that sends its headers in time is served on the same kind of connection', async () => {
    const c = await raw(outboundPort());
    c.socket.write('GET /fine HTTP/1.1\r\nHost: backend\r\n');
    await new Promise((r) => setTimeout(r, HEADER_TIMEOUT_MS / 4));
    c.socket.write('connection: close\r\n\r\n');
    expect(await c.closed(5000)).toBe(true);
    expect(statusLine(c.text())).toBe('HTTP/1.1 200 OK');
  });
});

describe('stream idle timeout (HCM stream_idle_timeout)', () => {
  it('a body that stops arriving gets 408 "stream timeout", flag SI, and the connection closes; the streamed request is cut at the app', async () => {
    const c = await raw(outboundPort());
    c.socket.write('POST /stall HTTP/1.1\r\nHost: backend\r\nx-request-id: stall-1\r\nContent-Length: 10\r\n\r\nabc');
    expect(await c.closed(STREAM_IDLE_MS * 10)).toBe(true);
    expect(statusLine(c.text())).toBe('HTTP/1.1 408 Request Timeout');
    expect(c.text()).toMatch(/\r\nconnection: close\r\n/i);
    expect(bodyOf(c.text())).toBe('stream timeout');
    const ev = await eventWhere((e) => e.requestId === 'stall-1' && e.reporter === 'source');
    expect(ev.status).toBe(408);
    expect(ev.responseFlags).toBe('SI');
    expect(ev.responseCodeDetails).toBe('stream_idle_timeout');
    expect(ev.bytesReceived).toBe(3);
    // Envoy's router streams: the app got the head and the 3 bytes, then the reset (never a whole request)
    const seen = h.apps.get('backend-v1-1')!.requestsWithId('stall-1');
    expect(seen).toHaveLength(1);
    await eventWhere((e) => e.requestId === 'stall-1' && e.reporter === 'destination');
    expect(seen[0]!.complete).toBe(false);
    expect(seen[0]!.body.toString()).toBe('abc');
  });

  it("an upstream that sends nothing for that long, the request complete: Envoy's 504 \"stream timeout\", flag SI, the upstream reset", async () => {
    const c = await raw(outboundPort());
    c.socket.write('GET /delay/8000 HTTP/1.1\r\nHost: backend\r\nx-request-id: stall-2\r\n\r\n');
    expect(await c.until((t) => t.includes('stream timeout'), STREAM_IDLE_MS * 6)).toBe(true);
    expect(statusLine(c.text())).toBe('HTTP/1.1 504 Gateway Timeout');
    expect(bodyOf(c.text())).toBe('stream timeout');
    // the request was read whole: the connection stays open for the next one
    expect(c.text()).not.toMatch(/\r\nconnection: close\r\n/i);
    const ev = await eventWhere((e) => e.requestId === 'stall-2' && e.reporter === 'source');
    expect(ev.status).toBe(504);
    expect(ev.responseFlags.split(',')).toContain('SI');
    expect(ev.responseCodeDetails).toBe('stream_idle_timeout');
    c.socket.destroy();
  });

  it('a response that started and then stalls for that long gets the stream reset, flag SI', async () => {
    const c = await raw(outboundPort());
    c.socket.write('GET /slow-body/8000 HTTP/1.1\r\nHost: backend\r\nx-request-id: stall-3\r\n\r\n');
    expect(await c.closed(STREAM_IDLE_MS * 6)).toBe(true);
    expect(statusLine(c.text())).toBe('HTTP/1.1 200 OK');
    // whichever sidecar's timer fires first resets its stream (the other sees the reset)
    const ev = await eventWhere((e) => e.requestId === 'stall-3' && e.responseFlags.split(',').includes('SI'));
    expect(ev.responseCodeDetails).toBe('stream_idle_timeout');
    expect(ev.status).toBe(200);
  });

  it('it is an idle timeout, not a deadline: a body trickling in for longer than it is served', async () => {
    const c = await raw(outboundPort());
    c.socket.write('POST /trickle HTTP/1.1\r\nHost: backend\r\nContent-Length: 8\r\nconnection: close\r\n\r\n');
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, STREAM_IDLE_MS / 4));
      c.socket.write('x');
    }
    expect(await c.closed(5000)).toBe(true);
    expect(statusLine(c.text())).toBe('HTTP/1.1 200 OK');
  });
});

describe('HTTP edge replies', () => {
  it("a header block over max_request_headers_kb (60 KiB) gets Envoy's 431, flag DPE, http1.headers_too_large", async () => {
    const c = await raw(outboundPort());
    c.socket.write(`GET /big HTTP/1.1\r\nHost: backend\r\nx-big: ${'a'.repeat(70 * 1024)}\r\n\r\n`);
    expect(await c.closed(5000)).toBe(true);
    expect(statusLine(c.text())).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(bodyOf(c.text())).toBe('Request Header Fields Too Large');
    const ev = await eventWhere((e) => e.responseCodeDetails === 'http1.headers_too_large');
    expect(ev.status).toBe(431);
    expect(ev.responseFlags).toBe('DPE');
    expect(ev.method).toBe('-');
  });

  it('pipelined: the 431 for a second request comes after the response to the first, not before it', async () => {
    const c = await raw(outboundPort());
    c.socket.write(`GET /delay/300 HTTP/1.1\r\nHost: backend\r\n\r\nGET /big HTTP/1.1\r\nHost: backend\r\nx-big: ${'p'.repeat(70 * 1024)}\r\n\r\n`);
    expect(await c.closed(5000)).toBe(true);
    const lines = [...c.text().matchAll(/HTTP\/1\.1 \d{3} [^\r]*/g)].map((m) => m[0]);
    expect(lines).toEqual(['HTTP/1.1 200 OK', 'HTTP/1.1 431 Request Header Fields Too Large']);
  });

  it("a 40 KiB header block is under Envoy's 60 KiB limit: both sidecars forward it (the Node app's own 16 KiB limit answers)", async () => {
    const r = await h.request({ from: client, host: 'backend', path: '/forty', headers: { 'x-request-id': 'forty-1', 'x-big': 'b'.repeat(40 * 1024) } });
    expect(r.status).toBe(431);
    const events = await h.eventsFor('forty-1', 2);
    expect(events.map((e) => `${e.reporter}:${e.responseCodeDetails}`).sort()).toEqual(['destination:via_upstream', 'source:via_upstream']);
  });

  it('Expect: 100-continue with a Content-Length over the buffer limit gets 100 Continue at once (Envoy answers it before any filter), then the body streams to the app', async () => {
    const c = await raw(outboundPort());
    const size = BODY_LIMIT * 4;
    c.socket.write(`POST /upload HTTP/1.1\r\nHost: backend\r\nx-request-id: expect-1\r\nContent-Length: ${size}\r\nExpect: 100-continue\r\nconnection: close\r\n\r\n`);
    expect(await c.until((t) => t.startsWith('HTTP/1.1 100 Continue\r\n\r\n'), 5000)).toBe(true);
    const chunk = Buffer.alloc(64 * 1024, 'u');
    for (let sent = 0; sent < size; sent += chunk.length) {
      if (!c.socket.write(chunk)) await new Promise((r) => c.socket.once('drain', r));
    }
    expect(await c.closed(10_000)).toBe(true);
    const final = c.text().slice('HTTP/1.1 100 Continue\r\n\r\n'.length);
    expect(statusLine(final)).toBe('HTTP/1.1 200 OK');
    expect(JSON.parse(bodyOf(final)).bodyLength).toBe(size);
    const seen = h.apps.get('backend-v1-1')!.requestsWithId('expect-1');
    expect(seen).toHaveLength(1);
    // the sidecar answered the expectation and removed it, as Envoy does (proxy_100_continue off)
    expect(seen[0]!.headers['expect']).toBeUndefined();
    expect(seen[0]!.headers['content-length']).toBe(String(size));
    const ev = await eventWhere((e) => e.requestId === 'expect-1' && e.reporter === 'source');
    expect(ev.status).toBe(200);
    expect(ev.bytesReceived).toBe(size);
  });

  it('Expect: 100-continue with a small body gets 100 Continue, then the response', async () => {
    const c = await raw(outboundPort());
    c.socket.write('POST /small HTTP/1.1\r\nHost: backend\r\nContent-Length: 5\r\nExpect: 100-continue\r\nconnection: close\r\n\r\n');
    expect(await c.until((t) => t.startsWith('HTTP/1.1 100 Continue\r\n\r\n'), 5000)).toBe(true);
    c.socket.write('hello');
    expect(await c.closed(5000)).toBe(true);
    expect(c.text()).toContain('HTTP/1.1 200 OK');
  });

  it('a chunked body over the buffer limit streams to the app, chunked, whole (no 413: the router streams)', async () => {
    const c = await raw(outboundPort());
    c.socket.write('POST /chunked HTTP/1.1\r\nHost: backend\r\nx-request-id: chunked-1\r\nTransfer-Encoding: chunked\r\nconnection: close\r\n\r\n');
    const chunk = Buffer.alloc(64 * 1024, 'z');
    const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
    // 4x the limit, written with back-pressure like a real uploader
    for (let sent = 0; sent < BODY_LIMIT * 4 && !c.socket.destroyed; sent += chunk.length) {
      if (!c.socket.write(frame)) await new Promise((r) => c.socket.once('drain', r));
    }
    c.socket.write('0\r\n\r\n');
    expect(await c.closed(10_000)).toBe(true);
    expect(statusLine(c.text())).toBe('HTTP/1.1 200 OK');
    expect(c.error).toBeUndefined();
    const size = Math.ceil((BODY_LIMIT * 4) / chunk.length) * chunk.length;
    const seen = h.apps.get('backend-v1-1')!.requestsWithId('chunked-1');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.body.length).toBe(size);
    // the client's framing is kept: chunked in, chunked out, no content-length made up
    expect(seen[0]!.headers['transfer-encoding']).toBe('chunked');
    expect(seen[0]!.headers['content-length']).toBeUndefined();
    const ev = await eventWhere((e) => e.requestId === 'chunked-1' && e.reporter === 'source');
    expect(ev.status).toBe(200);
    expect(ev.bytesReceived).toBe(size);
    expect(ev.why.join('\n')).toMatch(/buffer limit/);
  });

  it('CONNECT gets the no-route reply Envoy gives (404, NR) and is logged', async () => {
    const c = await raw(outboundPort());
    c.socket.write('CONNECT backend:8080 HTTP/1.1\r\nHost: backend:8080\r\nx-request-id: connect-1\r\n\r\n');
    expect(await c.closed(5000)).toBe(true);
    expect(statusLine(c.text())).toBe('HTTP/1.1 404 Not Found');
    const ev = await eventWhere((e) => e.requestId === 'connect-1');
    expect(ev.method).toBe('CONNECT');
    expect(ev.status).toBe(404);
    expect(ev.responseFlags).toBe('NR');
    expect(ev.responseCodeDetails).toBe('route_not_found');
  });

  it('a CONNECT client that resets the connection does not take the data plane down', async () => {
    for (let i = 0; i < 5; i++) {
      const c = await raw(outboundPort());
      c.socket.write('CONNECT backend:8080 HTTP/1.1\r\nHost: backend:8080\r\n\r\n');
      await c.until((t) => t.includes('\r\n\r\n'), 5000);
      c.socket.resetAndDestroy();
    }
    await new Promise((r) => setTimeout(r, 100));
    const r = await h.request({ from: client, host: 'backend', path: '/after-reset' });
    expect(r.status).toBe(200);
  });

  it('local replies at the edge are counted in istio_requests_total like any other', async () => {
    const lines = (await h.metrics.registry.metrics()).split('\n').filter((l) => l.startsWith('istio_requests_total{'));
    const count = (code: string, flags: string): number =>
      lines.filter((l) => l.includes(`response_code="${code}"`) && l.includes(`response_flags="${flags}"`)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
    expect(count('431', 'DPE')).toBe(2);
    expect(count('404', 'NR')).toBe(6);
    expect(count('408', '-')).toBe(20);
    // sidecars never answer 413: bodies over the buffer limit stream
    expect(lines.some((l) => l.includes('response_code="413"'))).toBe(false);
  });
});
