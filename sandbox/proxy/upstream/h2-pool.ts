/**
 * A cluster's HTTP/2 connection pool: `http2.connect` sessions per endpoint and TLS setting, each
 * carrying many streams at once, as Envoy's HTTP/2 connection pool does.
 *
 * - a request takes a stream on a session of its endpoint that is connected or connecting, not
 *   draining, and below its stream limit: the smaller of the server's SETTINGS
 *   `MAX_CONCURRENT_STREAMS` and DestinationRule `connectionPool.http.maxConcurrentStreams`;
 *   with none, a new session is opened (plaintext h2c, or TLS offering ALPN `h2`, or Istio's
 *   `istio-h2, istio, h2` for mTLS between sidecars);
 * - `maxRequestsPerConnection` counts streams: the session that reached it drains (no new
 *   streams; GOAWAY once its streams are done), as Envoy's max_requests_per_connection does for
 *   HTTP/2;
 * - a GOAWAY from the server drains the session; an error or a close removes it;
 * - an idle session closes after the cluster's idle timeout (Envoy's 1 h default).
 */
import http2 from 'node:http2';
import net from 'node:net';
import type tls from 'node:tls';
import type { MeshUpstreamAgent, UpstreamTlsDecision } from '../../security/tls-upstream.js';
import { MESH_CLIENT_ALPN_H2 } from '../../security/tls-secrets.js';

export interface PooledSession {
  readonly session: http2.ClientHttp2Session;
  readonly key: string;
  readonly tls: boolean;
  /** streams ever opened on it */
  streams: number;
  /** streams open now */
  active: number;
  draining: boolean;
  connected: boolean;
  /** called once the connection is up (streams waiting for it clear their connect timers) */
  readonly onConnect: Array<() => void>;
}

export interface StreamLimits {
  /** 0 = unlimited (DestinationRule maxRequestsPerConnection) */
  maxRequestsPerConnection: number;
  /** 0 = the server's limit only (DestinationRule maxConcurrentStreams) */
  maxConcurrentStreams: number;
}

/** Envoy's HTTP/2 client settings where Node's differ (no push; windows as the listener's) */
const CLIENT_SETTINGS: http2.Settings = { enablePush: false, initialWindowSize: 1 << 20 };

export class H2Pool {
  private readonly byKey = new Map<string, PooledSession[]>();

  constructor(
    /** the cluster's HTTP/1.1 pool: its TLS session cache and handshake counters serve HTTP/2 too */
    private readonly agent: MeshUpstreamAgent,
    private readonly decide: (host: string, port: number) => UpstreamTlsDecision,
    private readonly idleTimeoutMs: number,
  ) {}

  /** a session with room for one more stream to `host:port`; `created` when it is a new connection */
  acquire(host: string, port: number, limits: StreamLimits): { pooled: PooledSession; created: boolean } {
    const d = this.decide(host, port);
    const key = `${host}:${port}|${d.kind === 'tls' ? d.key : 'plaintext'}`;
    const list = this.byKey.get(key) ?? [];
    for (const p of list) {
      if (p.draining || p.session.closed || p.session.destroyed) continue;
      const serverLimit = p.connected ? (p.session.remoteSettings.maxConcurrentStreams ?? Infinity) : Infinity;
      const limit = Math.min(serverLimit, limits.maxConcurrentStreams > 0 ? limits.maxConcurrentStreams : Infinity);
      if (p.active >= limit) continue;
      this.take(p, limits);
      return { pooled: p, created: false };
    }
    const pooled = this.open(host, port, key, d);
    list.push(pooled);
    this.byKey.set(key, list);
    this.take(pooled, limits);
    return { pooled, created: true };
  }

  private take(p: PooledSession, limits: StreamLimits): void {
    p.streams++;
    p.active++;
    p.session.ref();
    if (limits.maxRequestsPerConnection > 0 && p.streams >= limits.maxRequestsPerConnection) p.draining = true;
  }

  /** a stream of `p` ended */
  release(p: PooledSession): void {
    p.active = Math.max(0, p.active - 1);
    if (p.active > 0) return;
    p.session.unref();
    // the last stream of a draining session: GOAWAY and close
    if (p.draining && !p.session.closed) p.session.close();
  }

  private open(host: string, port: number, key: string, d: UpstreamTlsDecision): PooledSession {
    const tls = d.kind === 'tls';
    const session = http2.connect(`${tls ? 'https' : 'http'}://${host}:${port}`, {
      settings: CLIENT_SETTINGS,
      // no Nagle: a stream's frames go out as they are written (as the HTTP/1.1 pool's sockets)
      createConnection: () => (d.kind === 'tls' ? this.agent.connectTls(host, port, d, d.mtls ? MESH_CLIENT_ALPN_H2 : ['h2'], { noDelay: true } as tls.ConnectionOptions) : net.connect({ host, port, noDelay: true })),
    });
    const pooled: PooledSession = { session, key, tls, streams: 0, active: 0, draining: false, connected: false, onConnect: [] };
    session.once('connect', () => {
      pooled.connected = true;
      for (const cb of pooled.onConnect.splice(0)) cb();
    });
    const drop = (): void => {
      pooled.draining = true;
      const list = this.byKey.get(key);
      if (!list) return;
      const i = list.indexOf(pooled);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.byKey.delete(key);
    };
    // errors reach the streams (the attempt reads them); the session only leaves the pool
    session.on('error', drop);
    session.once('close', drop);
    session.on('goaway', () => {
      pooled.draining = true;
    });
    // no stream for idle_timeout: close (an open stream keeps it busy)
    session.setTimeout(this.idleTimeoutMs, () => {
      if (pooled.active === 0) session.close();
    });
    session.unref();
    return pooled;
  }

  /** sessions made with a TLS setting no longer current drain (their open streams finish) */
  dropStale(): void {
    for (const [key, list] of this.byKey) {
      const [addr] = key.split('|');
      const i = addr!.lastIndexOf(':');
      const d = this.decide(addr!.slice(0, i), Number(addr!.slice(i + 1)));
      const current = `${addr}|${d.kind === 'tls' ? d.key : 'plaintext'}`;
      if (current === key) continue;
      for (const p of list) {
        p.draining = true;
        if (p.active === 0) p.session.close();
      }
    }
  }

  /** idle sessions close; busy ones drain */
  retire(): void {
    for (const list of this.byKey.values()) {
      for (const p of list) {
        p.draining = true;
        if (p.active === 0) p.session.close();
      }
    }
  }

  destroy(): void {
    for (const list of this.byKey.values()) for (const p of list) p.session.destroy();
    this.byKey.clear();
  }

  /** for /clusters: sessions open and streams in flight */
  toJSON(): { sessions: number; streams_active: number } {
    let sessions = 0;
    let active = 0;
    for (const list of this.byKey.values()) {
      sessions += list.length;
      for (const p of list) active += p.active;
    }
    return { sessions, streams_active: active };
  }
}
