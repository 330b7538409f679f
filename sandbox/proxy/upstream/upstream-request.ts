/**
 * One upstream attempt: send the (buffered) request to one endpoint and wait for the response
 * headers, a failure, or a per-try timeout. The retry loop in ../router.ts decides what to do with
 * the outcome; it never sees a half-sent response.
 *
 * The HTTP/1.1 forwarding itself is http-proxy's `web()` with `selfHandleResponse` (we need the
 * status before anything reaches the client, to retry) over the cluster's keep-alive Agent.
 * Each attempt gets its own request shell, so retries never stack listeners on the client's
 * request, and the buffered body is written in one piece.
 */
import { EventEmitter } from 'node:events';
import type { ClientRequest, IncomingMessage, ServerResponse, Agent, OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import httpProxy from 'http-proxy';
import type { UpstreamResetReason } from '../local-reply.js';

/** How an attempt failed, in Envoy's retry vocabulary (`refused-stream`: an HTTP/2 RST_STREAM REFUSED_STREAM). */
export type AttemptFailure = 'connect-failure' | 'reset' | 'refused-stream' | 'per-try-timeout';

export type AttemptOutcome =
  | { kind: 'response'; response: IncomingMessage; serviceTimeMs: number }
  /** `resetReason`: Envoy's reset reason when the codec knows it (HTTP/2); else derived from `failure` */
  | { kind: 'failure'; failure: AttemptFailure; reason: string; resetReason?: UpstreamResetReason };

export interface AttemptOptions {
  host: string;
  port: number;
  agent: Agent;
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  body: Buffer;
  perTryTimeoutMs: number | null;
  connectTimeoutMs: number;
  /** close the connection after this many requests (0 = never; DestinationRule maxRequestsPerConnection) */
  maxRequestsPerConnection?: number;
  /** called once when the attempt opened a new connection (not a pooled one) */
  onNewConnection?: () => void;
  /** the downstream response (http-proxy wants one; we answer it ourselves) */
  downstream: ServerResponse;
  downstreamSocket: Socket;
}

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EACCES']);

const proxyServer = httpProxy.createProxyServer({ selfHandleResponse: true, toProxy: true, prependPath: false, xfwd: false });
proxyServer.on('proxyReq', ((proxyReq: ClientRequest, _req: unknown, _res: unknown, options: { meshAttempt?: UpstreamAttempt }) => {
  options.meshAttempt?.bind(proxyReq);
}) as never);
// Errors are delivered to the per-call callback; this keeps an unexpected one from crashing.
proxyServer.on('error', () => undefined);

export class UpstreamAttempt {
  private proxyReq: ClientRequest | undefined;
  private settled = false;
  private resolve!: (o: AttemptOutcome) => void;
  private timers: NodeJS.Timeout[] = [];
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
    // http-proxy reads method/url/headers from the incoming request; give it a shell per attempt.
    const shell = Object.assign(new EventEmitter(), {
      method: o.method,
      url: o.path,
      headers: o.headers,
      httpVersion: '1.1',
      socket: o.downstreamSocket,
      connection: o.downstreamSocket,
    });
    if (o.perTryTimeoutMs !== null) {
      this.timers.push(setTimeout(() => this.fail('per-try-timeout', 'per-try timeout', true), o.perTryTimeoutMs));
    }
    const options = {
      target: { protocol: 'http:', host: o.host, port: o.port },
      agent: o.agent,
      // http-proxy only calls `buffer.pipe(proxyReq)`: hand it the buffered body in one write.
      buffer: { pipe: (dest: ClientRequest) => dest.end(o.body.length > 0 ? o.body : undefined) },
      meshAttempt: this,
    };
    proxyServer.web(shell as never, o.downstream, options as never, (err: NodeJS.ErrnoException) => this.onError(err));
    return this;
  }

  /** called by http-proxy's `proxyReq` event once the outgoing request has a socket */
  bind(proxyReq: ClientRequest): void {
    this.proxyReq = proxyReq;
    if (this.settled) {
      proxyReq.destroy();
      return;
    }
    const socket = proxyReq.socket;
    // http-proxy emits `proxyReq` on the request's `socket` event, before Node flushes the
    // request's head and body to the socket: whatever it counts from here on is this request's.
    this.writtenBefore = socket?.bytesWritten ?? 0;
    if (!proxyReq.reusedSocket) this.opts.onNewConnection?.();
    const limit = this.opts.maxRequestsPerConnection ?? 0;
    if (socket && limit > 0) {
      const counted = socket as typeof socket & { meshRequests?: number };
      counted.meshRequests = (counted.meshRequests ?? 0) + 1;
      // the last request this connection may carry: Node closes it when the response ends
      if (counted.meshRequests >= limit) proxyReq.shouldKeepAlive = false;
    }
    if (socket && (proxyReq.reusedSocket || !socket.connecting)) {
      this.connected = true;
    } else if (socket) {
      const timer = setTimeout(() => this.fail('connect-failure', 'connect timeout', true), this.opts.connectTimeoutMs);
      this.timers.push(timer);
      // a TLS connection is up once its handshake is done (Envoy: a failed handshake is a connect failure, UF)
      socket.once(socket instanceof TLSSocket ? 'secureConnect' : 'connect', () => {
        this.connected = true;
        clearTimeout(timer);
      });
    }
    proxyReq.on('response', (res: IncomingMessage) => {
      if (this.settled) {
        res.resume();
        return;
      }
      this.settle({ kind: 'response', response: res, serviceTimeMs: Math.round(performance.now() - this.startedAt) });
    });
  }

  get wasConnected(): boolean {
    return this.connected;
  }

  get reusedSocket(): boolean {
    return this.proxyReq?.reusedSocket === true;
  }

  /**
   * May this failed attempt be sent again on a fresh connection without counting a retry?
   * Only when it failed on a pooled keep-alive connection before any byte of this request was
   * written to it (the upstream closed the idle connection): then the upstream cannot have seen
   * the request. An attempt the proxy abandoned (per-try or route timeout, client gone), or one
   * whose bytes may have reached the upstream, is never re-sent behind the router's back; only
   * the retry policy may send it again, as a counted attempt (Envoy's rule).
   */
  get safeToResend(): boolean {
    return this.reusedSocket && !this.abandoned && !this.wroteBeforeFailure;
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
    this.proxyReq?.destroy();
  }

  private settle(outcome: AttemptOutcome): void {
    this.settled = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    this.resolve(outcome);
  }

  /** abandons the attempt (timeout, client gone): the upstream connection is closed */
  abort(): void {
    this.abandoned = true;
    if (!this.settled) this.settle({ kind: 'failure', failure: 'reset', reason: 'aborted' });
    this.proxyReq?.destroy();
  }
}
