/**
 * A request body as Envoy's router handles it: streamed from the downstream to one upstream
 * attempt at a time, with back-pressure, and kept in memory only as long as a retry may need it.
 *
 *   downstream (IncomingMessage, Http2ServerRequest: any Readable)
 *     -> held chunks (the body from byte 0, while it fits the buffer limit)
 *     -> writeTo(attempt 1's request) ... writeTo(attempt 2's request): replays the held bytes,
 *        then goes on with the live rest
 *
 * - Back-pressure: the downstream is read only while the current attempt's request accepts
 *   more (`write()` returned true, or it drained). Before the first attempt and between attempts
 *   (back-off, a wait for a connection) the body is read ahead only up to the buffer limit, as
 *   Envoy's connection manager buffers up to `per_connection_buffer_limit_bytes` and then stops
 *   reading the client (its high watermark).
 * - The buffer limit (Envoy's router `retry_shadow_buffer_limit`, the listener's
 *   `per_connection_buffer_limit_bytes`, 1 MiB by default): once more than that has arrived the
 *   body overflows: it is no longer held (each chunk is dropped once the attempt has it) and the
 *   request can no longer be sent again (`replayable` false). The router then gives up on
 *   retries for it, as Envoy's router does ("Give up on the retry/shadow").
 *
 * One sink at a time: a new `writeTo` detaches the previous one (the router resets that attempt).
 */
import type { Readable } from 'node:stream';

/** Envoy's default `per_connection_buffer_limit_bytes` (1 MiB); Istio keeps it for sidecars. */
export const DEFAULT_BUFFER_LIMIT_BYTES = 1024 * 1024;

/**
 * How the request's body is delimited, kept from the client: `content-length` (forwarded as
 * given), `chunked` (HTTP/1.1 `Transfer-Encoding: chunked`, or an HTTP/2 body without a
 * `content-length`), or `none` (no body).
 */
export type BodyFraming = 'content-length' | 'chunked' | 'none';

/** What a body is written to: an HTTP/1.1 ClientRequest or an HTTP/2 client stream. */
export interface BodySink {
  write(chunk: Buffer): boolean;
  end(): unknown;
  once(event: 'drain', listener: () => void): unknown;
  readonly destroyed?: boolean;
  /** sends the request head before any body byte (ClientRequest) */
  flushHeaders?(): void;
}

/** One attempt's write: `detach()` stops feeding that sink (the attempt failed or was left). */
export interface BodyWrite {
  detach(): void;
  /** bytes handed to this sink so far */
  readonly written: number;
  /** the whole body was handed to this sink and it was ended */
  readonly ended: boolean;
}

/** Request headers and protocol, enough to tell the body's framing. */
export interface FramingSource {
  headers: Record<string, string | string[] | undefined>;
  httpVersionMajor: number;
  /** HTTP/2 compat request: its stream ended with the headers (no body) */
  stream?: { endAfterHeaders?: boolean };
}

export function framingOf(req: FramingSource): BodyFraming {
  const cl = req.headers['content-length'];
  if (cl !== undefined) return 'content-length';
  if (req.httpVersionMajor >= 2) return req.stream?.endAfterHeaders === false ? 'chunked' : 'none';
  return req.headers['transfer-encoding'] !== undefined ? 'chunked' : 'none';
}

type BodyEvent = 'overflow' | 'aborted' | 'complete';

/** bodies of requests in flight in this data plane, for `bufferedBodies()` */
const live = new Set<RequestBody>();
let peakHeld = 0;

/**
 * What the request bodies in flight hold in memory, over the whole data plane (this thread): how
 * many are open, the bytes they hold now, and the most that one body held at one time since the
 * data plane started (or since the last call with `resetPeak`).
 */
export function bufferedBodies(resetPeak = false): { open: number; heldBytes: number; peakHeldBytes: number } {
  let held = 0;
  for (const b of live) held += b.retainedBytes;
  const out = { open: live.size, heldBytes: held, peakHeldBytes: Math.max(peakHeld, held) };
  if (resetPeak) peakHeld = held;
  return out;
}

export class RequestBody {
  private chunks: Buffer[] = [];
  private held = 0;
  /** body offset of chunks[0]: 0 while the body is held from its start */
  private base = 0;
  /** index in `chunks` of the next chunk for the current sink */
  private cursor = 0;
  private receivedBytes = 0;
  private ended = false;
  private abortedFlag = false;
  private overflowed = false;
  private discarded = false;
  private sink: BodySink | undefined;
  private sinkGen = 0;
  private sinkWritten = 0;
  private sinkEnded = false;
  private blocked = false;
  private flowing = true;
  private completedAtMs: number | undefined;
  /** sees every chunk as it arrives (a gRPC message counter) */
  private tapFn: ((chunk: Buffer) => void) | undefined;
  /** listeners by event (few, short-lived: a plain list, no EventEmitter per request) */
  private listeners: Array<{ event: BodyEvent; cb: () => void }> | undefined;

  /**
   * `source` undefined: a request without a body. `limit`: the buffer limit in bytes.
   */
  constructor(
    private readonly source: Readable | undefined,
    readonly limit: number = DEFAULT_BUFFER_LIMIT_BYTES,
    readonly framing: BodyFraming = source ? 'chunked' : 'none',
  ) {
    if (!source || framing === 'none') {
      // no body (no content-length, not chunked): complete now; the empty stream is consumed
      // so the connection reads its next request
      this.ended = true;
      this.completedAtMs = performance.now();
      source?.resume();
      return;
    }
    live.add(this);
    source.on('data', (c: Buffer) => this.onData(c));
    source.on('end', () => this.onEnd());
    // an aborted IncomingMessage emits `error` (ECONNRESET) and `close`; neither may crash
    source.on('error', () => this.onAbort());
    source.on('close', () => {
      if (!this.ended) this.onAbort();
    });
    this.flow();
  }

  /** An empty, complete body (a request built by the proxy itself). */
  static empty(): RequestBody {
    return new RequestBody(undefined);
  }

  /** bytes received from the downstream so far (the access log's BYTES_RECEIVED) */
  get received(): number {
    return this.receivedBytes;
  }

  /** bytes of the body held in memory right now */
  get retainedBytes(): number {
    return this.held;
  }

  /** the whole body arrived */
  get complete(): boolean {
    return this.ended;
  }

  /** the downstream went away before the body ended */
  get aborted(): boolean {
    return this.abortedFlag;
  }

  /** performance.now() when the body ended (undefined before) */
  get completedAt(): number | undefined {
    return this.completedAtMs;
  }

  /**
   * Another attempt can send the whole body again: it never outgrew the buffer limit (so the
   * router may retry this request) and the client did not go away.
   */
  get replayable(): boolean {
    return !this.overflowed && !this.abortedFlag && !this.discarded;
  }

  /** the body outgrew the buffer limit: it streams, and the request is no longer retried */
  get overLimit(): boolean {
    return this.overflowed;
  }

  /**
   * An attempt may (re)start from byte 0: nothing has been dropped yet. True while `replayable`,
   * and also for a body that outgrew the buffer before any attempt took a byte of it.
   */
  get canStartOver(): boolean {
    return this.base === 0 && !this.abortedFlag && !this.discarded;
  }

  /**
   * The whole body, when it ended and fit the buffer limit (for a mirror, which Envoy sends only
   * with a body it could buffer); undefined otherwise.
   */
  retained(): Buffer | undefined {
    if (!this.ended || !this.replayable || this.base !== 0) return undefined;
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.held);
  }

  /** resolves when the body ended: the whole body if it fit the buffer limit, else undefined */
  whole(): Promise<Buffer | undefined> {
    if (this.ended || this.abortedFlag || this.discarded) return Promise.resolve(this.retained());
    return new Promise((resolve) => {
      const offs: Array<() => void> = [];
      const done = (): void => {
        for (const off of offs) off();
        resolve(this.retained());
      };
      offs.push(this.on('complete', done), this.on('aborted', done));
    });
  }

  /** calls `cb` once the body ended (at once when it already has); returns an unsubscribe */
  whenComplete(cb: () => void): () => void {
    if (this.ended) {
      cb();
      return () => undefined;
    }
    return this.on('complete', cb);
  }

  /** 'overflow': the body outgrew the buffer limit; 'aborted': the downstream went away mid-body */
  on(event: BodyEvent, cb: () => void): () => void {
    const entry = { event, cb };
    (this.listeners ??= []).push(entry);
    return () => {
      const i = this.listeners?.indexOf(entry) ?? -1;
      if (i >= 0) this.listeners!.splice(i, 1);
    };
  }

  private emit(event: BodyEvent): void {
    if (!this.listeners) return;
    for (const l of this.listeners.filter((x) => x.event === event)) l.cb();
  }

  /**
   * Feeds this body to one attempt's request: what is held first, then the live rest, as fast as
   * `sink` takes it; `sink.end()` after the last byte. Detaches the previous sink.
   */
  writeTo(sink: BodySink): BodyWrite {
    if (!this.canStartOver) throw new Error('the request body was already streamed past its start: it cannot be sent again');
    this.detachSink();
    const gen = ++this.sinkGen;
    this.sink = sink;
    this.cursor = 0;
    this.sinkWritten = 0;
    this.sinkEnded = false;
    this.blocked = false;
    this.pump();
    // the upstream sees the request head now, not with the first body byte (Envoy forwards
    // headers at once): when no byte of the body is at hand this turn of the loop, the head goes alone
    if (this.sinkWritten === 0 && !this.sinkEnded && sink.flushHeaders) {
      setImmediate(() => {
        if (this.sinkGen === gen && this.sinkWritten === 0 && !this.sinkEnded && !sink.destroyed) sink.flushHeaders!();
      });
    }
    return new SinkWrite(this, gen);
  }

  /** for SinkWrite: this sink's state, while it is the current one */
  sinkState(gen: number): { written: number; ended: boolean } | undefined {
    return this.sinkGen === gen ? { written: this.sinkWritten, ended: this.sinkEnded } : undefined;
  }

  /** for SinkWrite */
  detachIf(gen: number): void {
    if (this.sinkGen === gen) this.detachSink();
  }

  /**
   * The request is over before its body ended (the response completed, a local reply): nothing
   * is held or sent any more, and the rest of the body is read and dropped so the connection's
   * codec is not held up.
   */
  discard(): void {
    if (this.discarded || !this.source) return;
    this.discarded = true;
    this.detachSink();
    this.chunks = [];
    this.held = 0;
    this.cursor = 0;
    live.delete(this);
    if (this.source && !this.ended) {
      this.flowing = true;
      this.source.resume();
    }
  }

  /** `cb` sees each chunk of the body as it arrives from the downstream (one tap per body) */
  tap(cb: (chunk: Buffer) => void): void {
    this.tapFn = cb;
  }

  private onData(chunk: Buffer): void {
    this.receivedBytes += chunk.length;
    this.tapFn?.(chunk);
    if (this.discarded) return;
    this.chunks.push(chunk);
    this.held += chunk.length;
    if (this.held > peakHeld) peakHeld = this.held;
    if (!this.overflowed && this.receivedBytes > this.limit) {
      this.overflowed = true;
      this.dropSent();
      this.emit('overflow');
    }
    this.pump();
  }

  private onEnd(): void {
    if (this.ended) return;
    this.ended = true;
    this.completedAtMs = performance.now();
    if (this.discarded || this.overflowed) live.delete(this);
    this.pump();
    this.emit('complete');
  }

  private onAbort(): void {
    if (this.ended || this.abortedFlag) return;
    this.abortedFlag = true;
    live.delete(this);
    this.emit('aborted');
  }

  /** after the overflow: chunks the current sink already has are not kept */
  private dropSent(): void {
    if (this.cursor === 0) return;
    const sent = this.chunks.splice(0, this.cursor);
    for (const c of sent) {
      this.held -= c.length;
      this.base += c.length;
    }
    this.cursor = 0;
  }

  private detachSink(): void {
    this.sink = undefined;
    this.sinkGen++;
    this.blocked = false;
    this.cursor = 0;
    this.flow();
  }

  /** writes what the sink does not have yet, as long as it takes it; then reads on if it may */
  private pump(): void {
    const sink = this.sink;
    if (sink && !this.discarded) {
      while (!this.blocked && this.cursor < this.chunks.length && !sink.destroyed) {
        const chunk = this.chunks[this.cursor++]!;
        this.sinkWritten += chunk.length;
        if (this.overflowed) this.dropSent();
        if (!sink.write(chunk)) {
          this.blocked = true;
          const gen = this.sinkGen;
          sink.once('drain', () => {
            if (gen !== this.sinkGen) return;
            this.blocked = false;
            this.pump();
          });
        }
      }
      if (this.ended && !this.sinkEnded && this.cursor === this.chunks.length && !sink.destroyed) {
        this.sinkEnded = true;
        sink.end();
      }
    }
    this.flow();
  }

  /**
   * Reads the downstream while the current sink keeps up (it has every chunk and is not full), or,
   * with no sink, ahead up to the buffer limit; pauses it otherwise (TCP back-pressure on the client).
   */
  private flow(): void {
    const source = this.source;
    if (!source || this.ended || this.abortedFlag) return;
    let want: boolean;
    if (this.discarded) want = true;
    else if (this.sink) want = !this.blocked && this.cursor === this.chunks.length;
    else want = this.held < this.limit;
    if (want === this.flowing) return;
    this.flowing = want;
    if (want) source.resume();
    else source.pause();
  }
}

class SinkWrite implements BodyWrite {
  /** what the sink had when it was detached (it keeps no reference to the body's later state) */
  private last = { written: 0, ended: false };

  constructor(
    private readonly body: RequestBody,
    private readonly gen: number,
  ) {}

  private state(): { written: number; ended: boolean } {
    const now = this.body.sinkState(this.gen);
    if (now) this.last = now;
    return this.last;
  }

  detach(): void {
    this.state();
    this.body.detachIf(this.gen);
  }

  get written(): number {
    return this.state().written;
  }

  get ended(): boolean {
    return this.state().ended;
  }
}
