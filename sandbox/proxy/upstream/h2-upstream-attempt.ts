/**
 * One upstream attempt over HTTP/2: a stream on a pooled session of the endpoint (./h2-pool.ts),
 * with the same outcome as an HTTP/1.1 attempt (./upstream-request.ts), so the router's retry
 * loop does not care which codec carried it.
 *
 * The response is the client stream itself, given `statusCode`, `headers` (pseudo-headers left
 * out) and, once they arrive, `trailers`: a Readable like an IncomingMessage. Failures in Envoy's
 * words (its StreamResetReason):
 *   the connection could not be made                 -> connect-failure  (UF, `connection failure`)
 *   RST_STREAM REFUSED_STREAM before the response    -> refused-stream   (UR, `remote refused stream reset`)
 *   RST_STREAM with another code before the response -> reset            (UR, `remote reset`)
 *   GOAWAY / the connection closed before it         -> reset            (UC, `connection termination`)
 * A stream the server never processed (above a GOAWAY's last stream id) on a pooled connection
 * may be sent again on a new one without counting an attempt, as for HTTP/1.1.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import http2 from 'node:http2';
import type { UpstreamResetReason } from '../local-reply.js';
import { dropPseudoHeaders } from '../downstream.js';
import type { H2Pool, PooledSession, StreamLimits } from './h2-pool.js';
import type { BodyWrite, RequestBody } from '../body/request-body.js';
import type { AttemptFailure, AttemptOutcome } from './upstream-request.js';

export interface H2AttemptOptions {
  pool: H2Pool;
  host: string;
  port: number;
  method: string;
  path: string;
  /** the request headers as for HTTP/1.1 (`host` becomes `:authority`) */
  headers: OutgoingHttpHeaders;
  /** the request body, streamed into the stream with its flow control as back-pressure */
  body: RequestBody;
  perTryTimeoutMs: number | null;
  connectTimeoutMs: number;
  limits: StreamLimits;
  /** called once when the attempt opened a new connection (not a pooled one) */
  onNewConnection?: () => void;
}

/** headers HTTP/2 forbids (RFC 9113 §8.2.2); `te` only as `trailers` */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'host']);

/** an HTTP/2 response stream, as the router reads a response */
export type H2Response = http2.ClientHttp2Stream & {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  trailers: Record<string, string | string[] | undefined>;
  /** the response ended with its headers (END_STREAM on HEADERS: a gRPC trailers-only response) */
  headersOnly: boolean;
  /** how the stream ended if it was reset mid-response: Envoy's flag for it */
  resetFlag?: () => 'UR' | 'UC';
};

const REFUSED = http2.constants.NGHTTP2_REFUSED_STREAM;

export class H2UpstreamAttempt {
  private stream: http2.ClientHttp2Stream | undefined;
  private pooled: PooledSession | undefined;
  private created = false;
  private settled = false;
  private released = false;
  private resolve!: (o: AttemptOutcome) => void;
  private timers: NodeJS.Timeout[] = [];
  private startedAt = 0;
  private abandoned = false;
  private unprocessed = false;
  private bodyWrite: BodyWrite | undefined;
  private stopPerTry: () => void = () => undefined;
  readonly outcome: Promise<AttemptOutcome>;

  constructor(private readonly opts: H2AttemptOptions) {
    this.outcome = new Promise((resolve) => (this.resolve = resolve));
  }

  start(): this {
    const o = this.opts;
    this.startedAt = performance.now();
    if (o.perTryTimeoutMs !== null) {
      // as Envoy's: from when the attempt started and the downstream request is complete
      const ms = o.perTryTimeoutMs;
      this.stopPerTry = o.body.whenComplete(() => {
        if (!this.settled) this.timers.push(setTimeout(() => this.fail('per-try-timeout', 'per-try timeout', undefined, true), ms));
      });
    }
    const { pooled, created } = o.pool.acquire(o.host, o.port, o.limits);
    this.pooled = pooled;
    this.created = created;
    const session = pooled.session;
    if (created) o.onNewConnection?.();
    if (!pooled.connected) {
      const timer = setTimeout(() => {
        this.fail('connect-failure', 'connect timeout', 'connection failure', true);
        if (created) session.destroy();
      }, o.connectTimeoutMs);
      this.timers.push(timer);
      pooled.onConnect.push(() => clearTimeout(timer));
    }
    let stream: http2.ClientHttp2Stream;
    // a request known to have no body goes as one HEADERS frame with END_STREAM
    const noBody = o.body.complete && o.body.received === 0 && o.body.framing !== 'chunked';
    try {
      stream = session.request(requestHeaders(o, pooled.tls), { endStream: noBody });
    } catch (e) {
      // the session closed between the pool's check and now: never sent
      this.unprocessed = true;
      this.fail('reset', (e as NodeJS.ErrnoException).code ?? 'session closed', 'connection termination', false);
      return this;
    }
    this.stream = stream;
    stream.once('close', () => this.release());
    stream.on('error', (err: NodeJS.ErrnoException) => this.onError(err));
    stream.once('response', (headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, flags: number) => {
      if (this.settled) return;
      const response = stream as H2Response;
      response.statusCode = Number(headers[':status'] ?? 0);
      response.headersOnly = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      response.headers = dropPseudoHeaders({ ...headers });
      response.trailers = {};
      stream.once('trailers', (t: http2.IncomingHttpHeaders) => Object.assign(response.trailers, t));
      response.resetFlag = () => (session.destroyed || session.closed ? 'UC' : 'UR');
      const bodyEnd = o.body.completedAt;
      const serviceTimeMs = bodyEnd === undefined ? undefined : Math.round(performance.now() - Math.max(this.startedAt, bodyEnd));
      this.settle({ kind: 'response', response: response as unknown as IncomingMessage, serviceTimeMs });
    });
    // a stream that closes before its response, without an error event (RST_STREAM NO_ERROR)
    stream.once('close', () => {
      if (this.settled) return;
      this.classifyClose(stream.rstCode);
    });
    if (!noBody) this.bodyWrite = o.body.writeTo(stream);
    return this;
  }

  /** true for a failure the server cannot have seen, on a connection that was pooled */
  get safeToResend(): boolean {
    return !this.created && !this.abandoned && this.unprocessed && this.opts.body.canStartOver;
  }

  /**
   * The router is done with this attempt's response (it retries): the body no longer feeds it,
   * and a stream whose request was not sent in full is reset (CANCEL).
   */
  detachBody(): void {
    const sent = this.bodyWrite === undefined || this.bodyWrite.ended;
    this.bodyWrite?.detach();
    if (!sent && this.stream && !this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }

  private onError(err: NodeJS.ErrnoException): void {
    if (this.settled) return;
    const session = this.pooled!.session;
    if (!this.pooled!.connected) {
      this.fail('connect-failure', err.code ?? err.message, 'connection failure', false);
      return;
    }
    if (err.code === 'ERR_HTTP2_GOAWAY_SESSION') {
      this.unprocessed = true;
      this.fail('reset', err.code, 'connection termination', false);
      return;
    }
    if (err.code === 'ERR_HTTP2_STREAM_ERROR' && this.stream && !session.destroyed) {
      this.classifyClose(this.stream.rstCode);
      return;
    }
    this.fail('reset', err.code ?? err.message, 'connection termination', false);
  }

  private classifyClose(rstCode: number | undefined): void {
    const session = this.pooled!.session;
    if (!this.pooled!.connected) return this.fail('connect-failure', 'connection closed', 'connection failure', false);
    if (session.destroyed || (session.closed && rstCode === undefined)) return this.fail('reset', 'connection closed', 'connection termination', false);
    if (rstCode === REFUSED) return this.fail('refused-stream', 'RST_STREAM REFUSED_STREAM', 'remote refused stream reset', false);
    return this.fail('reset', `RST_STREAM ${rstCodeName(rstCode)}`, 'remote reset', false);
  }

  private fail(failure: AttemptFailure, reason: string, resetReason: UpstreamResetReason | undefined, abandoned: boolean): void {
    if (this.settled) return;
    if (abandoned) this.abandoned = true;
    this.settle({ kind: 'failure', failure, reason, ...(resetReason ? { resetReason } : {}) });
    this.bodyWrite?.detach();
    if (this.stream && !this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
    this.release();
  }

  private settle(outcome: AttemptOutcome): void {
    this.settled = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    this.stopPerTry();
    this.resolve(outcome);
  }

  private release(): void {
    if (this.released || !this.pooled) return;
    // the stream slot is free once the stream closed (or never opened)
    if (this.stream && !this.stream.closed && !this.stream.destroyed) return;
    this.released = true;
    this.opts.pool.release(this.pooled);
  }

  /** abandons the attempt (timeout, client gone): the stream is reset with CANCEL */
  abort(): void {
    this.abandoned = true;
    if (!this.settled) this.settle({ kind: 'failure', failure: 'reset', reason: 'aborted' });
    this.bodyWrite?.detach();
    if (this.stream && !this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }
}

function requestHeaders(o: H2AttemptOptions, tls: boolean): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {
    ':method': o.method,
    ':path': o.path,
    ':scheme': tls ? 'https' : 'http',
    ':authority': String(o.headers['host'] ?? `${o.host}:${o.port}`),
  };
  for (const [k, v] of Object.entries(o.headers)) {
    if (v === undefined || CONNECTION_SPECIFIC.has(k)) continue;
    if (k === 'te' && String(v).toLowerCase() !== 'trailers') continue;
    out[k] = v;
  }
  return out;
}

/** RFC 9113 §7 error codes, by value */
const RST_NAMES = ['NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED', 'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM', 'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED'];

function rstCodeName(code: number | undefined): string {
  if (code === undefined) return 'unknown';
  return RST_NAMES[code] ?? String(code);
}
