/**
 * Listeners: one HTTP server per ListenerConfig, kept open across snapshots. A rule change never
 * closes or reopens a listener; only a topology change (an instance added or removed) does.
 *
 * The downstream edge follows Envoy's HTTP connection manager: a header block larger than
 * `max_request_headers_kb` gets 431, headers that do not arrive within `request_headers_timeout`
 * get 408, a connection with no request in flight closes after `idle_timeout`, and a connection
 * the proxy closes is half-closed and drained for `delayed_close_timeout` so the client reads
 * the reply instead of a TCP reset. A request with no bytes moving either way for
 * `stream_idle_timeout` ends (connection-manager.ts). Every reply sent here is a local reply
 * with an event.
 *
 * Every listener speaks HTTP/1.1 and HTTP/2 on one port (Envoy's codec AUTO, ./codec-sniffer.ts):
 * h2c with prior knowledge, or `h2`/`istio-h2` in ALPN after the inbound mTLS handshake. Both
 * codecs hand their streams to the same connection manager.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { codecOf, type SelectedProtocol } from '../config/protocol-selection.js';
import type { ListenerConfig } from '../control/snapshot.js';
import type { InboundMtls } from '../security/tls-inbound.js';
import { DEFAULT_BUFFER_LIMIT_BYTES } from './body/request-body.js';
import { isH2cUpgrade, serveWithoutH2c } from './upgrade/h2c.js';
import { installCodecDispatch, newCodecStats, type CodecStats } from './codec-sniffer.js';
import { normalizeH2Request } from './downstream.js';
import { peek } from './tcp/first-bytes.js';
import { detectProtocol } from './tcp/protocol-detect.js';
import type { TcpConnectionOptions } from './tcp/tcp-proxy.js';

/** Downstream resource limits (Envoy HTTP connection manager fields in brackets). */
export interface DownstreamLimits {
  /**
   * [request_headers_timeout] time from the start of a request (or of the connection) until its
   * header block is complete; then 408 `request header timeout`. Envoy leaves it off by default;
   * meshbox uses nginx's documented `client_header_timeout` default, 60 s, so a slow client
   * cannot hold a connection (and a file descriptor) forever. 0 turns it off.
   */
  requestHeadersTimeoutMs: number;
  /** [common_http_protocol_options.idle_timeout] a connection with no request in flight closes after this; Envoy's default 1 h */
  idleTimeoutMs: number;
  /**
   * [stream_idle_timeout] a request with no bytes moving in either direction for this long ends:
   * 408 `stream timeout` (flag SI) while the client's body is awaited, a reset once the response
   * started or while the upstream is awaited; Envoy's default 5 min. 0 turns it off.
   */
  streamIdleTimeoutMs: number;
  /** [max_request_headers_kb] Envoy's default 60 KiB; a larger header block gets 431 */
  maxRequestHeadersKb: number;
  /**
   * [per_connection_buffer_limit_bytes] Envoy's default 1 MiB: how much of a request body is
   * held in memory, for retries (the router's retry buffer) and while the request waits (a fault
   * delay, a connection); bodies stream with back-pressure, and one that outgrows this is no
   * longer held and its request no longer retried (sandbox/proxy/body/request-body.ts). No 413.
   */
  perConnectionBufferLimitBytes: number;
  /** [delayed_close_timeout] Envoy's default 1 s: how long a closing connection waits for the peer to close */
  delayedCloseTimeoutMs: number;
  /**
   * Istio's MeshConfig `protocolDetectionTimeout`: how long a port without a protocol waits for
   * the client's first bytes before treating the connection as TCP. Istio's default is 0s: no
   * timeout, a server-first protocol (MySQL, SMTP) on such a port waits; declare it `tcp`.
   */
  protocolDetectionTimeoutMs: number;
}

export const DEFAULT_DOWNSTREAM_LIMITS: DownstreamLimits = {
  requestHeadersTimeoutMs: 60_000,
  idleTimeoutMs: 3_600_000,
  streamIdleTimeoutMs: 300_000,
  maxRequestHeadersKb: 60,
  perConnectionBufferLimitBytes: DEFAULT_BUFFER_LIMIT_BYTES,
  delayedCloseTimeoutMs: 1_000,
  protocolDetectionTimeoutMs: 0,
};

export function downstreamLimits(partial: Partial<DownstreamLimits> | undefined): DownstreamLimits {
  return { ...DEFAULT_DOWNSTREAM_LIMITS, ...partial };
}

/**
 * Envoy's delayed close: shut the write side (FIN) once the reply is out, keep reading and
 * dropping what the peer still sends, and close when the peer does or after `ms`. Closing at
 * once with request bytes unread would be a TCP reset, and the client may lose the reply it has
 * not read yet.
 */
export function lingeringClose(socket: Socket, ms: number): void {
  // a peer reset while draining is expected; a socket Node handed over (CONNECT) has no other listener
  socket.on('error', () => socket.destroy());
  if (socket.destroyed) return;
  if (socket.writable) socket.end();
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', () => socket.destroy());
  socket.resume();
}

/**
 * Makes Node close this socket with `lingeringClose` instead of destroying it as soon as a
 * `connection: close` response is written (Node calls `destroySoon` then).
 */
export function closeAfterReply(socket: Socket, ms: number): void {
  (socket as Socket & { destroySoon?: () => void }).destroySoon = () => lingeringClose(socket, ms);
}

/** What a listener hands to the HTTP connection manager. */
export interface ListenerHandler {
  /** a complete request head (HTTP/1.1 or an HTTP/2 stream); `expectContinue` when the client waits for `100 Continue` */
  request(listenerName: string, req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse, expectContinue: boolean): void;
  /** an HTTP CONNECT request (Node hands over the raw socket) */
  connect(listenerName: string, req: http.IncomingMessage, socket: Socket): void;
  /** an HTTP/1.1 upgrade request (`Upgrade: websocket`, ...): Node hands over the raw socket and the bytes read after the head */
  upgrade(listenerName: string, req: http.IncomingMessage, socket: Socket, head: Buffer): void;
  /** the codec failed before a request existed: header too large, header timeout, parse error */
  clientError(listenerName: string, err: NodeJS.ErrnoException, socket: Socket): void;
}

/** What a listener hands to the TCP proxy: connections of TCP ports, and detected ones that are not HTTP. */
export interface TcpHandler {
  connection(listenerName: string, socket: Socket, opts?: TcpConnectionOptions): void;
}

export interface BoundListener {
  name: string;
  address: string;
  port: number;
  /** set when the configured port was taken and `port` is a free one instead */
  requestedPort?: number;
}

export interface ListenError {
  listener: string;
  address: string;
  port: number;
  code: string;
  message: string;
}

/** Envoy's HTTP/2 defaults where Node's differ (http2_protocol_options; windows kept smaller: bodies are buffered anyway) */
const H2_SETTINGS = { maxConcurrentStreams: 2_147_483_647, initialWindowSize: 1 << 20, enablePush: false };
const H2_CONNECTION_WINDOW = 1 << 24;
/**
 * A session whose peer committed a connection error can be terminated inside Node's HTTP/2
 * codec (GOAWAY sent, reading stopped) without a word to JavaScript. So an idle session is looked
 * at every H2_IDLE_CHECK_MS: when bytes arrived since its last good check and no stream came of
 * them, it is pinged; one that does not answer within H2_PING_TIMEOUT_MS is closed and counted as
 * a protocol error, so a broken connection never waits for the 1 h idle timeout. A quiet idle
 * connection costs a timer, no traffic.
 */
const H2_IDLE_CHECK_MS = 500;
const H2_PING_TIMEOUT_MS = 2_000;

function watchSession(session: http2.ServerHttp2Session, stats: CodecStats): void {
  let active = 0;
  let timer: NodeJS.Timeout | undefined;
  /** bytes read as of the last answered ping (-1: never checked) */
  let seen = -1;
  const bytesRead = (): number => session.socket?.bytesRead ?? 0;
  const idle = (): void => {
    if (timer || session.closed || session.destroyed) return;
    timer = setTimeout(check, H2_IDLE_CHECK_MS);
    timer.unref();
  };
  const check = (): void => {
    timer = undefined;
    if (active > 0 || session.closed || session.destroyed) return;
    if (bytesRead() === seen) return idle();
    const deadline = setTimeout(() => {
      if (session.destroyed) return;
      stats.downstream_cx_protocol_error++;
      session.destroy();
    }, H2_PING_TIMEOUT_MS);
    deadline.unref();
    try {
      const sent = session.ping((err) => {
        clearTimeout(deadline);
        if (err) {
          if (!session.destroyed) session.destroy();
          return;
        }
        seen = bytesRead();
        idle();
      });
      if (!sent) clearTimeout(deadline);
    } catch {
      clearTimeout(deadline);
    }
  };
  session.on('stream', (stream: http2.ServerHttp2Stream) => {
    active++;
    if (timer) clearTimeout(timer);
    timer = undefined;
    stream.once('close', () => {
      active--;
      if (active === 0) idle();
    });
  });
  session.once('close', () => {
    if (timer) clearTimeout(timer);
  });
  idle();
}

class Listener {
  readonly server: http.Server;
  /** the HTTP/2 codec: it never listens itself, connections come from `server` (./codec-sniffer.ts) */
  readonly h2: http2.Http2Server;
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  port = 0;

  constructor(
    readonly config: ListenerConfig,
    handler: ListenerHandler,
    limits: DownstreamLimits,
    stats: CodecStats,
    inboundMtls?: InboundMtls,
    tcp?: TcpHandler,
    /** the listener's protocol in the current snapshot (a reload may change it), read per connection */
    protocolOf?: (name: string) => SelectedProtocol | undefined,
  ) {
    const headersTimeout = limits.requestHeadersTimeoutMs;
    this.server = http.createServer(
      {
        keepAliveTimeout: limits.idleTimeoutMs,
        requestTimeout: 0,
        headersTimeout,
        // Node checks header deadlines on this interval; a tenth of the timeout keeps it close
        connectionsCheckingInterval: headersTimeout > 0 ? Math.min(1_000, Math.max(10, Math.floor(headersTimeout / 10))) : 30_000,
        maxHeaderSize: limits.maxRequestHeadersKb * 1024,
      },
      (req, res) => handler.request(config.name, req, res, false),
    );
    this.server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => handler.request(config.name, req, res, true));
    this.server.on('connect', (req: http.IncomingMessage, socket: Socket) => handler.connect(config.name, req, socket));
    // the HTTP codec (http.Server's own connection listener, taken before anything wraps it): an
    // `Upgrade: h2c` request goes back to it as plain HTTP/1.1, as Envoy's codec serves it
    const codec = this.server.listeners('connection')[0] as (s: Socket) => void;
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
      if (isH2cUpgrade(req)) serveWithoutH2c(req, socket, head, (s) => codec.call(this.server, s));
      else handler.upgrade(config.name, req, socket, head);
    });
    this.server.on('connection', (s: Socket) => {
      s.setNoDelay(true);
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    // A malformed request gets Envoy's codec reply and the connection closes; it must never crash the worker.
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => handler.clientError(config.name, err, socket));
    this.h2 = http2.createServer(
      { settings: { ...H2_SETTINGS, maxHeaderListSize: limits.maxRequestHeadersKb * 1024 }, maxSessionMemory: 64 },
      (req, res) => {
        normalizeH2Request(req);
        handler.request(config.name, req, res, false);
      },
    );
    this.h2.on('session', (session: http2.ServerHttp2Session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
      session.once('connect', () => session.setLocalWindowSize(H2_CONNECTION_WINDOW));
      // [idle_timeout] no stream for this long: GOAWAY and close, as Envoy does
      if (limits.idleTimeoutMs > 0) session.setTimeout(limits.idleTimeoutMs, () => session.close());
      watchSession(session, stats);
    });
    // A malformed frame or preface: Node's HTTP/2 codec sends GOAWAY PROTOCOL_ERROR and ends the
    // session; counted, never thrown. A stream it resets is the stream's own business.
    this.h2.on('sessionError', (_err: Error, session: http2.ServerHttp2Session) => {
      stats.downstream_cx_protocol_error++;
      session.destroy();
    });
    this.h2.on('streamError', () => {
      stats['http2.rx_messaging_error']++;
    });
    this.h2.on('frameError', () => {
      stats['http2.rx_messaging_error']++;
    });
    installCodecDispatch(this.server, this.h2, {
      stats,
      firstByteTimeoutMs: limits.requestHeadersTimeoutMs > 0 ? limits.requestHeadersTimeoutMs : limits.idleTimeoutMs,
    });
    // the codec per connection: the HTTP connection manager, the TCP proxy, or detected (HTTP or TCP by the first bytes)
    const dispatch = (s: Socket, toHttp: (s: Socket) => void): void => {
      const codec = codecOf((protocolOf?.(config.name) ?? config.protocol) || 'http');
      if (codec === 'http' || !tcp) {
        toHttp(s);
        return;
      }
      if (codec !== 'sniff') {
        tcp.connection(config.name, s);
        return;
      }
      s.on('error', () => s.destroy());
      void peek(s, detectProtocol, { timeoutMs: limits.protocolDetectionTimeoutMs }).then((o) => {
        if (s.destroyed) return;
        if (o.kind === 'decided' && o.value === 'http') {
          if (o.data.length > 0) s.unshift(o.data);
          toHttp(s);
          return;
        }
        tcp.connection(config.name, s, { prefix: o.data, ended: o.kind === 'ended' });
      });
    };
    // inbound: mTLS or plaintext per PeerAuthentication, decided by the first byte (../security/tls-inbound.ts)
    if (config.kind === 'inbound' && inboundMtls) inboundMtls.install(this.server, config, tcp ? dispatch : undefined);
    else if (tcp) interceptConnections(this.server, dispatch);
  }

  /** binds `config.port`; when it is taken and the config allows it (Gateway server ports), a port the OS picks */
  async listen(): Promise<BoundListener> {
    try {
      return await this.listenOn(this.config.port);
    } catch (e) {
      if (!this.config.fallbackToFreePort || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || this.config.port === 0) throw e;
      return { ...(await this.listenOn(0)), requestedPort: this.config.port };
    }
  }

  private listenOn(port: number): Promise<BoundListener> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host: this.config.address, port, exclusive: true }, () => {
        this.server.off('error', onError);
        this.port = (this.server.address() as AddressInfo).port;
        resolve({ name: this.config.name, address: this.config.address, port: this.port });
      });
    });
  }

  /** stops accepting; idle keep-alive connections close now, busy ones after their response */
  close(graceMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        for (const s of this.sockets) s.destroy();
      }, graceMs);
      timer.unref();
      this.server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      this.server.closeIdleConnections();
      // HTTP/2: GOAWAY; the session closes once its open streams are done
      for (const s of this.sessions) s.close();
    });
  }
}

/** puts `dispatch` in front of the HTTP codec of `server` (the listener's socket tracking still sees every socket first) */
function interceptConnections(server: http.Server, dispatch: (s: Socket, toHttp: (s: Socket) => void) => void): void {
  const [codec, ...others] = server.listeners('connection') as Array<(s: Socket) => void>;
  server.removeAllListeners('connection');
  // (a socket whose first bytes were peeked is paused: the codec resumes it)
  const toHttp = (s: Socket): void => {
    codec?.call(server, s);
    s.resume();
  };
  server.on('connection', (socket: Socket) => {
    for (const l of others) l.call(server, socket);
    dispatch(socket, toHttp);
  });
}

export class ListenerManager {
  private readonly listeners = new Map<string, Listener>();
  /** codec counters of every listener together (Envoy's http.<stat_prefix>.* in sum) */
  readonly codecStats: CodecStats = newCodecStats();

  private readonly limits: DownstreamLimits;

  constructor(
    private readonly handler: ListenerHandler,
    limits?: Partial<DownstreamLimits>,
    private readonly inboundMtls?: InboundMtls,
    private readonly tcp?: TcpHandler,
    private readonly protocolOf?: (name: string) => SelectedProtocol | undefined,
  ) {
    this.limits = downstreamLimits(limits);
  }

  /** binds new listeners, closes the ones no longer configured; existing ones are untouched */
  async reconcile(configs: ListenerConfig[]): Promise<{ bound: BoundListener[]; errors: ListenError[] }> {
    const wanted = new Map(configs.map((c) => [c.name, c]));
    const closing: Promise<void>[] = [];
    for (const [name, l] of this.listeners) {
      const next = wanted.get(name);
      // a port-0 listener's later configs carry the port it got; a fallback one keeps asking for the taken port
      const moved = next && next.port !== 0 && ((next.port !== l.port && next.port !== l.config.port) || next.address !== l.config.address);
      if (!next || moved) {
        this.listeners.delete(name);
        closing.push(l.close(5_000));
      }
    }
    await Promise.all(closing);
    return this.ensure(configs);
  }

  /** binds the listeners not bound yet; leaves all others alone */
  async ensure(configs: ListenerConfig[]): Promise<{ bound: BoundListener[]; errors: ListenError[] }> {
    const bound: BoundListener[] = [];
    const errors: ListenError[] = [];
    await Promise.all(
      configs.map(async (c) => {
        const existing = this.listeners.get(c.name);
        if (existing) {
          bound.push({ name: c.name, address: c.address, port: existing.port, ...(existing.port !== c.port && c.port !== 0 ? { requestedPort: c.port } : {}) });
          return;
        }
        const l = new Listener(c, this.handler, this.limits, this.codecStats, this.inboundMtls, this.tcp, this.protocolOf);
        try {
          bound.push(await l.listen());
          this.listeners.set(c.name, l);
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          errors.push({ listener: c.name, address: c.address, port: c.port, code: err.code ?? 'ERROR', message: err.message });
        }
      }),
    );
    return { bound, errors };
  }

  async closeAll(graceMs: number): Promise<void> {
    const all = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(all.map((l) => l.close(graceMs)));
  }
}
