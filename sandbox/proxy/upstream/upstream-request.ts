/**
 * One upstream attempt: send the request to one endpoint and wait for the response headers, a
 * failure, or a per-try timeout. The retry loop in ../router.ts decides what to do with the
 * outcome; it never sees a half-sent response.
 *
 * The request goes out with Node's `http.request` over the cluster's keep-alive Agent; its body
 * is the request's RequestBody (../body/request-body.ts), written with back-pressure: what the
 * body holds first (a retry replays it), then the live rest as the client sends it. The framing
 * is the client's: its `content-length` is forwarded, a chunked body goes out chunked.
 *
 * The per-try timeout runs, as Envoy's, from when both the attempt started and the downstream
 * request is complete (a long upload is not timed by it).
 */
import http, { type ClientRequest, type IncomingMessage, type Agent, type OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { BodyWrite, RequestBody } from '../body/request-body.js';
import type { UpstreamResetReason } from '../local-reply.js';

/** How an attempt failed, in Envoy's retry vocabulary (`refused-stream`: an HTTP/2 RST_STREAM REFUSED_STREAM). */
export type AttemptFailure = 'connect-failure' | 'reset' | 'refused-stream' | 'per-try-timeout';

export type AttemptOutcome =
  /** serviceTimeMs: from the later of the attempt's start and the request's end to the response headers; undefined when the request had not ended */
  | { kind: 'response'; response: IncomingMessage; serviceTimeMs: number | undefined }
  /** `resetReason`: Envoy's reset reason when the codec knows it (HTTP/2); else derived from `failure` */
  | { kind: 'failure'; failure: AttemptFailure; reason: string; resetReason?: UpstreamResetReason };

export interface AttemptOptions {
  host: string;
  port: number;
  agent: Agent;
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  body: RequestBody;
  perTryTimeoutMs: number | null;
  connectTimeoutMs: number;
  /** close the connection after this many requests (0 = never; DestinationRule maxRequestsPerConnection) */
  maxRequestsPerConnection?: number;
  /** called once when the attempt opened a new connection (not a pooled one) */
  onNewConnection?: () => void;
}

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EACCES']);

export class UpstreamAttempt {
  private proxyReq: ClientRequest | undefined;
  private bodyWrite: BodyWrite | undefined;
  private settled = false;
  private resolve!: (o: AttemptOutcome) => void;
  private timers: NodeJS.Timeout[] = [];
  private stopPerTry: () => void = () => undefined;
  private startedAt = 0;
  private connected = false;
  /** the socket's byte count when it was handed to this request (earlier requests' bytes) */
  private writtenBefore = 0;
  /** set when the socket failed: had any byte of this request been handed to it? */
  private wroteBeforeFailure = true;
  /** the proxy abandoned the attempt itself (timeout, client gone): never a stale connection */
  private abandoned = false;
  readonly outcome: Promise<AttemptOutcome>;

  constructor(private readonly opts: AttemptOptions) {
    this.outcome = new Promise((resolve) => (this.resolve = resolve));
  }

  start(): this {
    const o = this.opts;
    this.startedAt = performance.now();
    // a chunked body stays chunked (Node would send a GET's body unframed without the header)
    const headers = o.body.framing === 'chunked' && o.headers['content-length'] === undefined ? { ...o.headers, 'transfer-encoding': 'chunked' } : o.headers;
    const req = http.request({ host: o.host, port: o.port, method: o.method, path: o.path, headers, agent: o.agent });
    this.proxyReq = req;
    req.on('socket', (socket: Socket) => this.bind(req, socket));
    req.on('response', (res: IncomingMessage) => {
      if (this.settled) {
        res.resume();
        return;
      }
      const bodyEnd = o.body.completedAt;
      const serviceTimeMs = bodyEnd === undefined ? undefined : Math.round(performance.now() - Math.max(this.startedAt, bodyEnd));
      this.settle({ kind: 'response', response: res, serviceTimeMs });
    });
    req.on('error', (err: NodeJS.ErrnoException) => this.onError(err));
    if (o.perTryTimeoutMs !== null) {
      const ms = o.perTryTimeoutMs;
      this.stopPerTry = o.body.whenComplete(() => {
        if (!this.settled) this.timers.push(setTimeout(() => this.fail('per-try-timeout', 'per-try timeout', true), ms));
      });
    }
    this.bodyWrite = o.body.writeTo(req);
    return this;
  }

  /** the outgoing request got its connection (Node's `socket` event, before it flushes anything) */
  private bind(proxyReq: ClientRequest, socket: Socket): void {
    if (this.settled) {
      proxyReq.destroy();
      return;
    }
    // Node emits `socket` before it flushes the request's head and body to the socket: whatever
    // the socket counts from here on is this request's.
    this.writtenBefore = socket.bytesWritten ?? 0;
    if (!proxyReq.reusedSocket) {
      // no Nagle delay on the upstream leg either (TLS sockets do not take the Agent's noDelay)
      socket.setNoDelay(true);
      this.opts.onNewConnection?.();
    }
    const limit = this.opts.maxRequestsPerConnection ?? 0;
    if (limit > 0) {
      const counted = socket as Socket & { meshRequests?: number };
      counted.meshRequests = (counted.meshRequests ?? 0) + 1;
      // the last request this connection may carry: Node closes it when the response ends
      if (counted.meshRequests >= limit) proxyReq.shouldKeepAlive = false;
    }
    if (proxyReq.reusedSocket || !socket.connecting) {
      this.connected = true;
    } else {
      const timer = setTimeout(() => this.fail('connect-failure', 'connect timeout', true), this.opts.connectTimeoutMs);
      this.timers.push(timer);
      // a TLS connection is up once its handshake is done (Envoy: a failed handshake is a connect failure, UF)
      socket.once(socket instanceof TLSSocket ? 'secureConnect' : 'connect', () => {
        this.connected = true;
        clearTimeout(timer);
      });
    }
  }

  get wasConnected(): boolean {
    return this.connected;
  }

  get reusedSocket(): boolean {
    return this.proxyReq?.reusedSocket === true;
  }

  /** the whole request body went to this attempt's request */
  get requestSent(): boolean {
    return this.bodyWrite?.ended === true;
  }

  /**
   * May this failed attempt be sent again on a fresh connection without counting a retry?
   * Only when it failed on a pooled keep-alive connection before any byte of this request was
   * written to it (the upstream closed the idle connection): then the upstream cannot have seen
   * the request. An attempt the proxy abandoned (per-try or route timeout, client gone), or one
   * whose bytes may have reached the upstream, is never re-sent behind the router's back; only
   * the retry policy may send it again, as a counted attempt (Envoy's rule). The body must still
   * be there from its first byte.
   */
  get safeToResend(): boolean {
    return this.reusedSocket && !this.abandoned && !this.wroteBeforeFailure && this.opts.body.canStartOver;
  }

  private onError(err: NodeJS.ErrnoException): void {
    if (this.settled) return;
    const socket = this.proxyReq?.socket;
    const written = socket?.bytesWritten;
    // unknown counts as written: a request is never re-sent on a guess
    this.wroteBeforeFailure = typeof written !== 'number' || written > this.writtenBefore;
    const code = err.code ?? '';
    if (CONNECT_ERRORS.has(code) || !this.connected) {
      this.fail('connect-failure', code || err.message, false);
    } else {
      this.fail('reset', code || err.message, false);
    }
  }

  /** `abandoned`: the proxy gave up on the attempt (a timer), rather than the socket failing */
  private fail(failure: AttemptFailure, reason: string, abandoned: boolean): void {
    if (this.settled) return;
    if (abandoned) this.abandoned = true;
    this.settle({ kind: 'failure', failure, reason });
    this.bodyWrite?.detach();
    this.proxyReq?.destroy();
  }

  private settle(outcome: AttemptOutcome): void {
    this.settled = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    this.stopPerTry();
    this.resolve(outcome);
  }

  /**
   * The router is done with this attempt's response (it retries): the body no longer feeds it,
   * and a request not sent in full is reset, as its connection cannot carry another one.
   */
  detachBody(): void {
    this.bodyWrite?.detach();
    if (!this.requestSent) this.proxyReq?.destroy();
  }

  /** abandons the attempt (timeout, client gone): the upstream connection is closed */
  abort(): void {
    this.abandoned = true;
    if (!this.settled) this.settle({ kind: 'failure', failure: 'reset', reason: 'aborted' });
    this.bodyWrite?.detach();
    this.proxyReq?.destroy();
  }
}
