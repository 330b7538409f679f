/**
 * Streaming bodies through two sidecars (client -> outbound sidecar -> inbound sidecar -> app),
 * as Envoy streams them: uploads larger than the buffer limit (1 MiB, Envoy's
 * per_connection_buffer_limit_bytes) arrive whole and are not retried; smaller ones are retried
 * with the body replayed; back-pressure from a slow app stops the client instead of filling the
 * proxies; a client that leaves mid-upload cancels the upstream; SSE events pass at once; the
 * route timeout starts when the request is complete; faults and toxics work on streamed bodies.
 * Ordering is asserted with signals from the app, never with timing thresholds.
 */
import http from 'node:http';
import http2 from 'node:http2';
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RequestEvent } from '../../../sandbox/events.js';
import { bufferedBodies, DEFAULT_BUFFER_LIMIT_BYTES } from '../../../sandbox/proxy/body/request-body.js';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';
import { hashStream, pattern, sha256Of, upload } from '../../helpers/streamed-upload.js';
import { startH2App } from '../../helpers/h2-app.js';
import { startFakeApp } from '../../helpers/fake-app.js';

const MB = 1024 * 1024;
const LIMIT = DEFAULT_BUFFER_LIMIT_BYTES;
const CLIENT = 'client-v1-1';
const APP = 'backend-v1-1';
/** the data plane runs in this process (not with MESHBOX_TEST_WORKER=1): its body counters are visible */
const IN_PROCESS = process.env.MESHBOX_TEST_WORKER !== '1';

let h: Harness;

/** one-shot signals between the test and the app */
const signals = new Map<string, { promise: Promise<void>; fire(): void; fired: boolean }>();
function signal(name: string): { promise: Promise<void>; fire(): void; fired: boolean } {
  let s = signals.get(name);
  if (!s) {
    let fire!: () => void;
    const promise = new Promise<void>((r) => (fire = r));
    const entry = { promise, fired: false, fire: () => undefined as void };
    entry.fire = () => {
      entry.fired = true;
      fire();
    };
    s = entry;
    signals.set(name, s);
  }
  return s;
}

interface Seen {
  id: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  length: number;
  sha256?: string;
  complete?: boolean;
  aborted?: boolean;
}
const seen: Seen[] = [];
const seenFor = (id: string): Seen[] => seen.filter((s) => s.id === id);
const attemptsBy = new Map<string, number>();

/** what the backend app does for the streaming tests (other paths: the fake app) */
function streamingApp(req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const url = req.url ?? '/';
  const id = String(req.headers['x-request-id'] ?? '');
  const n = (attemptsBy.get(id) ?? 0) + 1;
  attemptsBy.set(id, n);
  const record: Seen = { id, path: url, headers: req.headers, length: 0 };
  const json = (status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const hashed = (then: (r: { length: number; sha256: string }) => void): void => {
    seen.push(record);
    void hashStream(req).then((r) => {
      record.length = r.length;
      record.sha256 = r.sha256;
      record.complete = r.complete;
      if (r.complete) then(r);
    });
  };
  if (url === '/hash') {
    hashed((r) => json(200, { length: r.length, sha256: r.sha256 }));
    return true;
  }
  if (url === '/fail-after-body') {
    hashed((r) => json(503, { failing: true, ...r }));
    return true;
  }
  if (url === '/flaky-upload') {
    hashed((r) => json(n === 1 ? 503 : 200, { n, ...r }));
    return true;
  }
  if (url.startsWith('/early-503')) {
    // attempt 1: answers 503 once a prefix arrived, without reading on; attempt 2: reads it all
    if (n === 1) {
      seen.push(record);
      req.on('data', (c: Buffer) => {
        record.length += c.length;
        if (record.length >= 100 * 1024 && !res.headersSent) json(503, { early: true });
      });
      req.on('error', () => undefined);
      return true;
    }
    signal(`${id}:attempt2`).fire();
    hashed((r) => json(200, { n, ...r }));
    return true;
  }
  if (url === '/answer-at-once') {
    // answers 503 on arrival, reading nothing of the body
    seen.push(record);
    json(503, { atOnce: true });
    signal(`${id}:answered`).fire();
    req.on('error', () => undefined);
    return true;
  }
  if (url === '/reject-early') {
    // the app refuses the upload itself, on arrival, without reading it
    seen.push(record);
    req.on('data', (c: Buffer) => (record.length += c.length));
    req.on('error', () => undefined);
    // Node orphans a request whose response is done: its socket's close is what says the upstream was reset
    req.socket.once('close', () => {
      record.complete = req.complete;
      signal(`${id}:closed`).fire();
    });
    json(413, { refused: true });
    return true;
  }
  if (url === '/slow-reader') {
    // reads 2 MB, stops reading until told, then reads the rest
    seen.push(record);
    let paused = false;
    const onData = (c: Buffer): void => {
      record.length += c.length;
      if (!paused && record.length >= 2 * MB) {
        paused = true;
        req.pause();
        signal(`${id}:paused`).fire();
        void signal(`${id}:resume`).promise.then(() => req.resume());
      }
    };
    req.on('data', onData);
    req.on('end', () => {
      record.complete = true;
      json(200, { length: record.length });
    });
    req.on('error', () => undefined);
    return true;
  }
  if (url === '/abort') {
    seen.push(record);
    req.on('data', (c: Buffer) => {
      record.length += c.length;
      if (record.length >= MB) signal(`${id}:got-1mb`).fire();
    });
    req.on('end', () => (record.complete = true));
    req.on('error', () => undefined);
    req.on('close', () => {
      if (!record.complete) {
        record.aborted = true;
        signal(`${id}:aborted`).fire();
      }
    });
    return true;
  }
  if (url.startsWith('/sse')) {
    // the head now, then one event per signal: nothing may sit in a proxy
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    void (async () => {
      await signal(`${id}:headers`).promise;
      res.write('data: one\n\n');
      await signal(`${id}:first`).promise;
      res.write('data: two\n\n');
      if (url === '/sse-forever') return; // the route timeout ends it
      res.end();
    })();
    req.resume();
    return true;
  }
  attemptsBy.set(id, n - 1);
  return false;
}

beforeAll(async () => {
  h = await startHarness(
    [
      { name: 'client', versions: { v1: 1 } },
      { name: 'backend', versions: { v1: 1 } },
    ],
    11,
  );
  const server = h.apps.get(APP)!.server;
  const [fake] = server.listeners('request') as Array<(req: http.IncomingMessage, res: http.ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!streamingApp(req, res)) fake!(req, res);
  });
});
afterAll(async () => h?.close());
afterEach(async () => {
  await h.faults([]);
  await h.rules('');
});

const outbound = (): number => h.instance(CLIENT).sidecar.outbound;

const RETRY_5XX = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http: [{ route: [{ destination: { host: backend } }], retries: { attempts: 2, retryOn: 5xx } }]
`;

async function eventsOf(id: string): Promise<{ source: RequestEvent; destination: RequestEvent[] }> {
  for (let i = 0; i < 500; i++) {
    const evs = h.events.filter((e) => e.requestId === id);
    const source = evs.find((e) => e.reporter === 'source');
    if (source) return { source, destination: evs.filter((e) => e.reporter === 'destination') };
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no source event for ${id}`);
}

/** polls `read` until it stops changing for `quiet` polls in a row (bounded) */
async function whenStill(read: () => number, quiet = 10, everyMs = 50, maxPolls = 400): Promise<number> {
  let last = read();
  let same = 0;
  for (let i = 0; i < maxPolls && same < quiet; i++) {
    await new Promise((r) => setTimeout(r, everyMs));
    const now = read();
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return last;
}

describe('request bodies stream (Envoy router, per_connection_buffer_limit_bytes 1 MiB)', () => {
  it('an upload far over the buffer limit reaches the app whole (hash), with the client framing, and no 413', async () => {
    const size = 96 * MB;
    const r = await upload({ port: outbound(), host: 'backend', path: '/hash', size, headers: { 'x-request-id': 'big-1' } });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(200);
    const answer = JSON.parse(r.body) as { length: number; sha256: string };
    expect(answer.length).toBe(size);
    expect(answer.sha256).toBe(r.sha256);
    const app = seenFor('big-1');
    expect(app).toHaveLength(1);
    expect(app[0]!.headers['content-length']).toBe(String(size));
    const { source, destination } = await eventsOf('big-1');
    expect(source.bytesReceived).toBe(size);
    expect(destination[0]!.bytesReceived).toBe(size);
    expect(source.why.join('\n')).toMatch(/buffer limit .* no longer buffered, it streams/);
  });

  it('a chunked upload over the limit stays chunked to the app, whole', async () => {
    const size = 24 * MB + 123;
    const r = await upload({ port: outbound(), host: 'backend', path: '/hash', size, chunked: true, headers: { 'x-request-id': 'chunked-big' } });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ length: size, sha256: r.sha256 });
    const app = seenFor('chunked-big')[0]!;
    expect(app.headers['transfer-encoding']).toBe('chunked');
    expect(app.headers['content-length']).toBeUndefined();
  });

  it('over the limit, a failure that the retry policy would retry is not retried: the app sees the upload once, the client the failure', async () => {
    await h.rules(RETRY_5XX);
    const size = 8 * MB;
    const r = await upload({ port: outbound(), host: 'backend', path: '/fail-after-body', size, headers: { 'x-request-id': 'big-fail' } });
    expect(r.status).toBe(503);
    const app = seenFor('big-fail');
    expect(app).toHaveLength(1);
    expect(app[0]!.sha256).toBe(r.sha256);
    const { source } = await eventsOf('big-fail');
    expect(source.attempts).toBe(1);
    // answered as without a retry policy: the upstream's 503, no URX
    expect(source.responseFlags).toBe('-');
    expect(source.why.join('\n')).toMatch(/not retried: the request body was not buffered/);
  });

  it('within the limit, the same failure is retried: the app sees the body twice, intact both times', async () => {
    await h.rules(RETRY_5XX);
    const size = 512 * 1024;
    const r = await upload({ port: outbound(), host: 'backend', path: '/flaky-upload', size, headers: { 'x-request-id': 'small-retry' } });
    expect(r.status).toBe(200);
    const app = seenFor('small-retry');
    expect(app).toHaveLength(2);
    expect(app.map((a) => a.sha256)).toEqual([r.sha256, r.sha256]);
    expect(app.map((a) => a.length)).toEqual([size, size]);
    const { source } = await eventsOf('small-retry');
    expect(source.attempts).toBe(2);
  });

  it('a retry while the client still uploads replays the held bytes, then goes on with the live rest', async () => {
    await h.rules(RETRY_5XX);
    const size = 512 * 1024;
    const id = 'replay-live';
    const r = await upload({
      port: outbound(),
      host: 'backend',
      path: '/early-503',
      size,
      headers: { 'x-request-id': id },
      // half the body, then wait until the retry reached the app before sending the rest
      onProgress: async (sent) => {
        if (sent === 256 * 1024) await signal(`${id}:attempt2`).promise;
      },
    });
    expect(r.status).toBe(200);
    const app = seenFor(id);
    expect(app).toHaveLength(2);
    expect(app[0]!.length).toBeLessThan(size);
    expect(app[1]!.length).toBe(size);
    expect(app[1]!.sha256).toBe(r.sha256);
  });

  it("a body that outgrows the buffer while the router waits to retry gets Envoy's 507", async () => {
    await h.rules(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http: [{ route: [{ destination: { host: backend } }], retries: { attempts: 2, retryOn: 5xx, backoff: 20s } }]
`);
    const id = 'overflow-in-backoff';
    const r = await upload({
      port: outbound(),
      host: 'backend',
      path: '/answer-at-once',
      size: 4 * MB,
      headers: { 'x-request-id': id },
      // a first piece, then the rest once the app answered 503 and the router is in its back-off
      // (seeded: this request's first back-off is seconds long)
      onProgress: async (sent) => {
        if (sent === 64 * 1024) {
          await signal(`${id}:answered`).promise;
          await new Promise((res) => setTimeout(res, 500));
        }
      },
    });
    expect(r.status).toBe(507);
    expect(r.body).toBe('exceeded request buffer limit while retrying upstream');
    const { source } = await eventsOf(id);
    expect(source.responseCodeDetails).toBe('request_payload_exceeded_retry_buffer_limit');
    expect(source.attempts).toBe(1);
    expect(seenFor(id)).toHaveLength(1);
  });

  it("an app's answer before the upload ended reaches the client with connection: close, and the rest of the upload is not forwarded", async () => {
    const id = 'reject-early';
    const size = 64 * MB;
    const r = await upload({ port: outbound(), host: 'backend', path: '/reject-early', size, headers: { 'x-request-id': id } });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toEqual({ refused: true });
    // Envoy closes an HTTP/1.1 connection whose response came before its request ended
    expect(r.headers['connection']).toBe('close');
    await signal(`${id}:closed`).promise;
    const app = seenFor(id);
    expect(app).toHaveLength(1);
    expect(app[0]!.complete).toBe(false);
    expect(app[0]!.length).toBeLessThan(size);
    const { source } = await eventsOf(id);
    expect(source.status).toBe(413);
    expect(source.why.join('\n')).toMatch(/response ended before the request body did/);
  });

  it('back-pressure: an app that stops reading stops the client; the proxies hold at most the buffer limit', async () => {
    const size = 200 * MB;
    const id = 'slow-reader';
    if (IN_PROCESS) bufferedBodies(true);
    let sent = 0;
    const done = upload({ port: outbound(), host: 'backend', path: '/slow-reader', size, headers: { 'x-request-id': id }, onProgress: (s) => void (sent = s) });
    await signal(`${id}:paused`).promise;
    const stalledAt = await whenStill(() => sent);
    const app = seenFor(id)[0]!;
    // the client is held back: what it could send is what the app read plus what sockets and
    // proxies buffer, not the body
    expect(stalledAt).toBeLessThan(size / 2);
    expect(stalledAt - app.length).toBeLessThan(64 * MB);
    if (IN_PROCESS) {
      const b = bufferedBodies();
      expect(b.open).toBeGreaterThanOrEqual(2);
      // each sidecar's body holds at most the buffer limit (and a socket read) at any time
      expect(b.peakHeldBytes).toBeLessThanOrEqual(LIMIT + 256 * 1024);
      expect(b.heldBytes).toBeLessThanOrEqual(2 * (LIMIT + 256 * 1024));
    }
    signal(`${id}:resume`).fire();
    const r = await done;
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).length).toBe(size);
  });

  it('a client that goes away mid-upload cancels the upstream: the app sees the request cut, both sidecars log DC', async () => {
    const id = 'abort-1';
    const r = await upload({
      port: outbound(),
      host: 'backend',
      path: '/abort',
      size: 64 * MB,
      headers: { 'x-request-id': id },
      abortWhen: () => signal(`${id}:got-1mb`).fired,
    });
    expect(r.error).toBe('aborted by the test');
    await signal(`${id}:aborted`).promise;
    const app = seenFor(id);
    expect(app).toHaveLength(1);
    expect(app[0]!.aborted).toBe(true);
    expect(app[0]!.length).toBeLessThan(64 * MB);
    const { source } = await eventsOf(id);
    expect(source.responseFlags).toContain('DC');
    const dest = (await h.eventsFor(id, 2)).find((e) => e.reporter === 'destination')!;
    expect(dest.responseFlags).toContain('DC');
  });

  it('the route timeout starts when the request is complete: an upload slower than the timeout is served', async () => {
    await h.rules(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http: [{ route: [{ destination: { host: backend } }], timeout: 0.5s }]
`);
    const size = 4 * 64 * 1024;
    const r = await upload({
      port: outbound(),
      host: 'backend',
      path: '/hash',
      size,
      headers: { 'x-request-id': 'slow-upload' },
      // 4 chunks, 250 ms apart: the upload takes twice the 500 ms route timeout
      onProgress: () => new Promise((res) => setTimeout(res, 250)),
    });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).sha256).toBe(r.sha256);
  });
});

describe('faults and toxics with streamed bodies', () => {
  it('a VirtualService delay fault holds the upload (read ahead up to the limit), then it streams whole', async () => {
    await h.rules(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http: [{ route: [{ destination: { host: backend } }], fault: { delay: { fixedDelay: 0.2s, percentage: { value: 100 } } } }]
`);
    const size = 16 * MB;
    const r = await upload({ port: outbound(), host: 'backend', path: '/hash', size, headers: { 'x-request-id': 'delay-big' } });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ length: size, sha256: r.sha256 });
    expect((await eventsOf('delay-big')).source.responseFlags).toBe('DI');
  });

  it('an abort fault answers a large upload at once, unread: the client gets the status and connection: close', async () => {
    await h.rules(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http: [{ route: [{ destination: { host: backend } }], fault: { abort: { httpStatus: 418, percentage: { value: 100 } } } }]
`);
    const r = await upload({ port: outbound(), host: 'backend', path: '/hash', size: 64 * MB, headers: { 'x-request-id': 'abort-big' } });
    expect(r.status).toBe(418);
    expect(r.body).toBe('fault filter abort');
    expect(r.headers['connection']).toBe('close');
    expect(r.sent).toBeLessThan(64 * MB);
    expect(seenFor('abort-big')).toHaveLength(0);
    const { source } = await eventsOf('abort-big');
    expect(source.responseFlags).toBe('FI');
  });

  it('inbound HTTP faults (meshbox Fault kind): a delay, then the upload streams whole; a slow response body on top', async () => {
    await h.faults([{ target: { service: 'backend' }, match: { pathPrefix: '/hash' }, http: { delay: { fixedDelayMs: 200 }, slowBody: { bytesPerSecond: 100_000 } } }]);
    const size = 12 * MB;
    const r = await upload({ port: outbound(), host: 'backend', path: '/hash', size, headers: { 'x-request-id': 'inbound-fault-big' } });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ length: size, sha256: r.sha256 });
    const dest = (await h.eventsFor('inbound-fault-big', 2)).find((e) => e.reporter === 'destination')!;
    expect(dest.responseFlags.split(',')).toEqual(expect.arrayContaining(['DI', 'FI']));
  });

  it('a response reset fault cuts the response of a streamed upload', async () => {
    await h.faults([{ target: { service: 'backend' }, match: { pathPrefix: '/hash' }, http: { reset: { phase: 'response' } } }]);
    const r = await upload({ port: outbound(), host: 'backend', path: '/hash', size: 4 * MB, headers: { 'x-request-id': 'reset-big' } });
    expect(r.error ?? '').toMatch(/aborted|ECONNRESET|socket hang up|terminated/);
    // the app got the whole upload before its answer was cut
    expect(seenFor('reset-big')[0]!.sha256).toBe(sha256Of(4 * MB));
  });

  it('toxics on the mesh hop (latency and bandwidth upstream) slow an upload down, it arrives whole', async () => {
    await h.faults([
      {
        target: { service: 'backend' },
        toxics: [
          { type: 'latency', stream: 'upstream', attributes: { latency: 20 } },
          { type: 'bandwidth', stream: 'upstream', attributes: { rate: 20_000 } },
        ],
      },
    ]);
    const size = 6 * MB;
    const r = await upload({ port: outbound(), host: 'backend', path: '/hash', size, headers: { 'x-request-id': 'toxic-big' } });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ length: size, sha256: r.sha256 });
  });
});

describe('streamed responses (SSE) through two sidecars', () => {
  /** a GET whose response is read event by event */
  function sse(path: string, id: string): { head: Promise<http.IncomingMessage>; events: string[]; next(): Promise<string>; closed: Promise<string | undefined> } {
    const events: string[] = [];
    const waiters: Array<() => void> = [];
    let buf = '';
    let resolveHead!: (r: http.IncomingMessage) => void;
    let resolveClosed!: (e: string | undefined) => void;
    const head = new Promise<http.IncomingMessage>((r) => (resolveHead = r));
    const closed = new Promise<string | undefined>((r) => (resolveClosed = r));
    const req = http.get({ host: '127.0.0.1', port: outbound(), path, agent: false, headers: { host: 'backend', 'x-request-id': id, accept: 'text/event-stream' } }, (res) => {
      resolveHead(res);
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          events.push(buf.slice(0, i));
          buf = buf.slice(i + 2);
          waiters.splice(0).forEach((w) => w());
        }
      });
      res.on('end', () => resolveClosed(undefined));
      res.on('error', (e) => resolveClosed(e.message));
      res.on('aborted', () => resolveClosed('aborted'));
    });
    req.on('error', (e) => resolveClosed(e.message));
    let taken = 0;
    const next = async (): Promise<string> => {
      while (events.length <= taken) await new Promise<void>((r) => waiters.push(r));
      return events[taken++]!;
    };
    return { head, events, next, closed };
  }

  it('the head and each event reach the client while the app still holds the stream open', async () => {
    const id = 'sse-1';
    const s = sse('/sse', id);
    const res = await s.head;
    // the app has sent only its head: it waits for this signal before its first event
    expect(res.headers['content-type']).toBe('text/event-stream');
    expect(res.headers['content-length']).toBeUndefined();
    expect(s.events).toEqual([]);
    signal(`${id}:headers`).fire();
    expect(await s.next()).toBe('data: one');
    // the app writes its second event and ends only after the client saw the first one
    signal(`${id}:first`).fire();
    expect(await s.next()).toBe('data: two');
    expect(await s.closed).toBeUndefined();
    const { source } = await eventsOf(id);
    expect(source.status).toBe(200);
    expect(source.responseFlags).toBe('-');
  });

  it('the route timeout covers the whole response: a stream longer than it is reset (UT), so SSE routes need timeout: 0s', async () => {
    await h.rules(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http: [{ route: [{ destination: { host: backend } }], timeout: 1s }]
`);
    const id = 'sse-timeout';
    const s = sse('/sse-forever', id);
    await s.head;
    signal(`${id}:headers`).fire();
    expect(await s.next()).toBe('data: one');
    signal(`${id}:first`).fire();
    expect(await s.next()).toBe('data: two');
    // the app never ends it: the route timeout does
    expect(await s.closed).toBeDefined();
    const { source } = await eventsOf(id);
    expect(source.status).toBe(200);
    expect(source.responseFlags.split(',')).toContain('UT');
    expect(source.responseCodeDetails).toBe('upstream_response_timeout');
  });
});

/** an HTTP/2 (h2c) upload of the pattern, written with the stream's flow control */
function h2Upload(port: number, path: string, size: number, headers: Record<string, string>): Promise<{ status: number; body: string; sha256: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const stream = session.request({ ':method': 'POST', ':path': path, ':authority': 'backend', ...headers });
    const h = createHash('sha256');
    let status = 0;
    const chunks: Buffer[] = [];
    stream.on('response', (hd) => (status = Number(hd[':status'])));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', reject);
    stream.on('close', () => {
      session.close();
      resolve({ status, body: Buffer.concat(chunks).toString('utf8'), sha256: h.digest('hex') });
    });
    void (async () => {
      for (const c of pattern(size)) {
        h.update(c);
        if (!stream.write(c)) await new Promise((r) => stream.once('drain', r));
      }
      stream.end();
    })();
  });
}

describe('HTTP/2 bodies stream too', () => {
  it('an HTTP/2 client upload over the limit (no content-length) reaches an HTTP/1.1 app whole, chunked', async () => {
    const size = 24 * MB;
    const r = await h2Upload(outbound(), '/hash', size, { 'x-request-id': 'h2-down-big' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ length: size, sha256: r.sha256 });
    const app = seenFor('h2-down-big')[0]!;
    expect(app.headers['transfer-encoding']).toBe('chunked');
    const { source } = await eventsOf('h2-down-big');
    expect(source.protocol).toBe('HTTP/2');
    expect(source.bytesReceived).toBe(size);
  });

  it('an upload over the limit to an HTTP/2 app (an http2 port) streams into the upstream stream whole, and is not retried', async () => {
    const h2 = await startHarness(
      [
        { name: 'client', versions: { v1: 1 } },
        { name: 'grid', protocol: 'http2', versions: { v1: 1 } },
      ],
      5,
      { startApp: (id, svc) => (svc.protocol === 'http2' ? startH2App(id) : startFakeApp(id)) },
    );
    try {
      const size = 12 * MB;
      const r = await upload({ port: h2.instance(CLIENT).sidecar.outbound, host: 'grid', path: '/echo', size, headers: { 'x-request-id': 'h2-up-big' } });
      expect(r.status).toBe(200);
      const answer = JSON.parse(r.body) as { httpVersion: string; bodyLength: number };
      expect(answer.httpVersion).toBe('2.0');
      expect(answer.bodyLength).toBe(size);
      const got = h2.apps.get('grid-v1-1')!.requestsWithId('h2-up-big');
      expect(got).toHaveLength(1);
      expect(createHash('sha256').update(got[0]!.body).digest('hex')).toBe(r.sha256);
    } finally {
      await h2.close();
    }
  });
});
