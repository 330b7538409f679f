/**
 * RequestBody (sandbox/proxy/body/request-body.ts) on Node streams: replay within the buffer
 * limit, the overflow beyond it, back-pressure from a sink that does not drain, the read-ahead
 * bound with no sink, client aborts, framing.
 */
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { bufferedBodies, framingOf, RequestBody } from '../../../sandbox/proxy/body/request-body.js';

const CHUNK = 16 * 1024;

/** a source that produces `total` bytes on demand (byte i = i % 251), as a socket would */
function source(total: number, chunk = CHUNK): Readable & { produced(): number } {
  let produced = 0;
  const r = new Readable({
    read() {
      if (produced >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(chunk, total - produced);
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = (produced + i) % 251;
      produced += n;
      this.push(b);
    },
  });
  return Object.assign(r, { produced: () => produced });
}

function expected(total: number): Buffer {
  const b = Buffer.alloc(total);
  for (let i = 0; i < total; i++) b[i] = i % 251;
  return b;
}

/** a sink that takes everything (or, `stalled`, holds every write's callback until released) */
function sink(opts: { stalled?: boolean } = {}): Writable & { data(): Buffer; ended: boolean; release(): void } {
  const chunks: Buffer[] = [];
  const held: Array<() => void> = [];
  let stalled = opts.stalled ?? false;
  const w = new Writable({
    highWaterMark: 32 * 1024,
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      if (stalled) held.push(cb);
      else cb();
    },
    final(cb) {
      out.ended = true;
      cb();
    },
  });
  const out = Object.assign(w, {
    ended: false,
    data: () => Buffer.concat(chunks),
    release: () => {
      stalled = false;
      for (const cb of held.splice(0)) cb();
    },
  });
  return out;
}

const settle = async (rounds = 20): Promise<void> => {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
};

const ended = (s: { ended: boolean }): Promise<void> =>
  new Promise((resolve) => {
    const t = setInterval(() => {
      if (s.ended) {
        clearInterval(t);
        resolve();
      }
    }, 1);
  });

describe('RequestBody', () => {
  it('a body within the limit is held whole: a second attempt replays exactly what the first got', async () => {
    const total = 300 * 1024;
    const body = new RequestBody(source(total), 1024 * 1024, 'content-length');
    const first = sink();
    body.writeTo(first);
    await ended(first);
    expect(first.data().equals(expected(total))).toBe(true);
    expect(body.complete).toBe(true);
    expect(body.replayable).toBe(true);
    expect(body.received).toBe(total);
    expect(body.retainedBytes).toBe(total);
    const second = sink();
    const write = body.writeTo(second);
    await ended(second);
    expect(second.data().equals(expected(total))).toBe(true);
    expect(write.written).toBe(total);
    expect(write.ended).toBe(true);
    expect(body.retained()?.equals(expected(total))).toBe(true);
    expect(await body.whole()).toEqual(expected(total));
    body.discard();
  });

  it('a retry mid-body replays what is held, then goes on with the live rest', async () => {
    const total = 200 * 1024;
    const src = new Readable({ read: () => undefined });
    const body = new RequestBody(src, 1024 * 1024);
    const data = expected(total);
    src.push(data.subarray(0, 64 * 1024));
    const first = sink();
    const w1 = body.writeTo(first);
    await settle();
    expect(w1.written).toBe(64 * 1024);
    // attempt 1 fails here; attempt 2 takes over
    w1.detach();
    src.push(data.subarray(64 * 1024, 100 * 1024));
    await settle();
    const second = sink();
    body.writeTo(second);
    src.push(data.subarray(100 * 1024));
    src.push(null);
    await ended(second);
    expect(second.data().equals(data)).toBe(true);
    // the first attempt got nothing after it was detached
    expect(first.data().length).toBe(64 * 1024);
    expect(first.ended).toBe(false);
  });

  it('beyond the limit the body overflows once: no longer held, not replayable, and it streams whole', async () => {
    const limit = 256 * 1024;
    const total = 4 * 1024 * 1024;
    const body = new RequestBody(source(total), limit);
    let overflows = 0;
    body.on('overflow', () => overflows++);
    let peak = 0;
    const s = sink();
    const origWrite = s.write.bind(s);
    s.write = ((c: Buffer, ...rest: never[]) => {
      peak = Math.max(peak, body.retainedBytes);
      return origWrite(c, ...rest);
    }) as typeof s.write;
    body.writeTo(s);
    await ended(s);
    expect(s.data().equals(expected(total))).toBe(true);
    expect(overflows).toBe(1);
    expect(body.overLimit).toBe(true);
    expect(body.replayable).toBe(false);
    expect(body.canStartOver).toBe(false);
    expect(body.retained()).toBeUndefined();
    // held while it fit, then only what the sink does not have yet
    expect(peak).toBeLessThanOrEqual(limit + CHUNK);
    expect(body.retainedBytes).toBe(0);
    expect(() => body.writeTo(sink())).toThrow(/cannot be sent again/);
    expect(await body.whole()).toBeUndefined();
  });

  it('back-pressure: a sink that stops draining stops the reading of the source (bounded, whatever the body size)', async () => {
    const total = 64 * 1024 * 1024;
    const src = source(total);
    const body = new RequestBody(src, 256 * 1024);
    const s = sink({ stalled: true });
    body.writeTo(s);
    await settle(200);
    const readWhileStalled = body.received;
    // what was read: the sink's buffer (32 KiB high water mark) plus a chunk, nothing more
    expect(readWhileStalled).toBeLessThan(128 * 1024);
    // and the source was asked for little more than that (its own 16 KiB buffer)
    expect(src.produced() - readWhileStalled).toBeLessThanOrEqual(2 * CHUNK);
    await settle(200);
    expect(body.received).toBe(readWhileStalled);
    s.release();
    await ended(s);
    expect(body.received).toBe(total);
    expect(s.data().length).toBe(total);
  });

  it('with no sink it reads ahead up to the buffer limit, then pauses the client', async () => {
    const limit = 512 * 1024;
    const src = source(16 * 1024 * 1024);
    const body = new RequestBody(src, limit);
    await settle(200);
    expect(body.received).toBeGreaterThanOrEqual(limit);
    expect(body.received).toBeLessThanOrEqual(limit + CHUNK);
    expect(body.overLimit).toBe(false);
    expect(src.produced() - body.received).toBeLessThanOrEqual(2 * CHUNK);
    expect(bufferedBodies().heldBytes).toBeGreaterThanOrEqual(limit);
    body.discard();
    await settle(50);
  });

  it('a client that goes away mid-body: aborted, not replayable, the sink is never ended', async () => {
    const src = new Readable({ read: () => undefined });
    const body = new RequestBody(src, 1024 * 1024);
    let aborted = 0;
    body.on('aborted', () => aborted++);
    const s = sink();
    body.writeTo(s);
    src.push(Buffer.alloc(1000, 1));
    await settle();
    src.destroy(new Error('aborted'));
    await settle();
    expect(aborted).toBe(1);
    expect(body.aborted).toBe(true);
    expect(body.replayable).toBe(false);
    expect(body.complete).toBe(false);
    expect(s.ended).toBe(false);
    expect(await body.whole()).toBeUndefined();
  });

  it('discard drops what is held and drains the rest of the source', async () => {
    const src = source(8 * 1024 * 1024);
    const body = new RequestBody(src, 256 * 1024);
    await settle(50);
    body.discard();
    expect(body.retainedBytes).toBe(0);
    await new Promise((r) => src.once('end', r));
    expect(body.received).toBe(8 * 1024 * 1024);
  });

  it('an empty body is complete at once and ends each sink', async () => {
    const body = RequestBody.empty();
    expect(body.complete).toBe(true);
    expect(body.completedAt).toBeDefined();
    const s = sink();
    body.writeTo(s);
    await ended(s);
    expect(s.data().length).toBe(0);
    let called = false;
    body.whenComplete(() => (called = true));
    expect(called).toBe(true);
  });

  it("framing: the client's content-length, chunked, or none; HTTP/2 bodies without a length are chunked", () => {
    expect(framingOf({ headers: { 'content-length': '5' }, httpVersionMajor: 1 })).toBe('content-length');
    expect(framingOf({ headers: { 'transfer-encoding': 'chunked' }, httpVersionMajor: 1 })).toBe('chunked');
    expect(framingOf({ headers: {}, httpVersionMajor: 1 })).toBe('none');
    expect(framingOf({ headers: {}, httpVersionMajor: 2, stream: { endAfterHeaders: false } })).toBe('chunked');
    expect(framingOf({ headers: {}, httpVersionMajor: 2, stream: { endAfterHeaders: true } })).toBe('none');
    expect(framingOf({ headers: { 'content-length': '0' }, httpVersionMajor: 2, stream: { endAfterHeaders: true } })).toBe('content-length');
  });
});
