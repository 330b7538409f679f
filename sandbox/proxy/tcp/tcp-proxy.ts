/**
 * The TCP proxy filter (Envoy's envoy.filters.network.tcp_proxy), for ports served as TCP (tcp,
 * tls, https, mongo, mysql, redis; and unnamed ports whose first bytes are not HTTP):
 *
 *   outbound / gateway (reporter=source): [TLS: the ClientHello's SNI] -> tcp[]/tls[] route (first
 *     match; none: closed, NR) -> weighted destination -> cluster (none: NC) -> circuit breaker
 *     `maxConnections` (overflow: closed, UO, upstream_cx_overflow) -> endpoint (none: UH) ->
 *     connect within `connectTimeout` (fails: closed, UF; outlier detection counts it as a 5xx and
 *     a gateway error, as Istio documents for opaque TCP) -> auto mTLS toward a sidecar (with the
 *     peer preamble, so the other side knows who calls) -> bytes both ways
 *   inbound (reporter=destination): [mTLS, per PeerAuthentication] -> AuthorizationPolicy (network
 *     RBAC: a denied connection is closed) -> the local app's port
 *
 * Bytes are relayed with back-pressure; a half-close is passed on (a FIN from one side ends the
 * other side's writing, the other direction keeps flowing), the connection ends when both sides
 * are done; an error on one side closes the other. Every connection gets a `mesh:tcp:open` and a
 * `mesh:tcp:close` event (Istio's TCP metrics and TCP access log line).
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { DestinationInfo, PeerInfo, TcpConnectionEvent } from '../../events.js';
import type { ListenerConfig, ProxyConfig } from '../../control/snapshot.js';
import { RequestRandomness, type Rng } from '../../rng.js';
import { downstreamSecurity } from '../../security/tls-inbound.js';
import { principalOf } from '../../security/identity.js';
import { evaluateTcpRbac } from '../../security/tcp-authz.js';
import type { CompiledSnapshot } from '../compiled-snapshot.js';
import { ResponseFlags } from '../local-reply.js';
import { peerOf, UNKNOWN_DESTINATION, UNKNOWN_PEER } from '../request-context.js';
import type { Cluster, ClusterManager } from '../upstream/cluster.js';
import type { Endpoint } from '../upstream/endpoint.js';
import { readClientHello, type ClientHelloResult } from './client-hello.js';
import { peek } from './first-bytes.js';
import { l4RouteTableOf } from './l4-route-table.js';
import { encodePeerPreamble, MX_ALPN } from './peer-exchange.js';

export interface TcpProxyDeps {
  current(): CompiledSnapshot;
  clusters: ClusterManager;
  seed: number;
  emit(e: TcpConnectionEvent): void;
  /** a connection with no byte moving either way for this long is closed (Envoy tcp_proxy idle_timeout, 1 h) */
  idleTimeoutMs: number;
  /** how long a TLS listener waits for the ClientHello (0: no limit) */
  clientHelloTimeoutMs?: number;
}

export interface TcpConnectionOptions {
  /** bytes already read from the connection (protocol detection) that must go first */
  prefix?: Buffer;
  /** the client already ended its side before the connection was handed over */
  ended?: boolean;
}

/** one proxied connection: what its events say */
class TcpSession {
  readonly startTime = Date.now();
  readonly startMono = performance.now();
  readonly flags = new ResponseFlags();
  readonly why: string[] = [];
  bytesReceived = 0;
  bytesSent = 0;
  source: PeerInfo = UNKNOWN_PEER;
  destination: DestinationInfo = UNKNOWN_DESTINATION;
  upstreamHost: string | undefined;
  upstreamCluster: string | undefined;
  upstreamLocal: string | undefined;
  failureReason: string | undefined;
  endpoint: string | undefined;
  routeName: string | undefined;
  sni: string | undefined;
  security: TcpConnectionEvent['connectionSecurity'];
  termination: string | undefined;
  envoyTermination: string | undefined;
  private opened = false;
  private closed = false;

  constructor(
    readonly id: string,
    readonly listener: ListenerConfig,
    readonly proxy: ProxyConfig,
    readonly downstream: Duplex & { localAddress?: string; localPort?: number; remoteAddress?: string; remotePort?: number },
    readonly snapshotVersion: number,
    private readonly emit: (e: TcpConnectionEvent) => void,
  ) {}

  private event(type: TcpConnectionEvent['type']): TcpConnectionEvent {
    const d = this.downstream;
    return {
      type,
      connectionId: this.id,
      reporter: this.listener.kind === 'inbound' ? 'destination' : 'source',
      proxy: this.proxy.id,
      listener: this.listener.kind,
      startTime: this.startTime,
      durationMs: performance.now() - this.startMono,
      bytesReceived: this.bytesReceived,
      bytesSent: this.bytesSent,
      responseFlags: this.flags.toString(),
      ...(this.termination ? { terminationDetails: this.termination } : {}),
      ...(this.envoyTermination ? { connectionTerminationDetails: this.envoyTermination } : {}),
      ...(this.upstreamHost ? { upstreamHost: this.upstreamHost } : {}),
      ...(this.upstreamCluster ? { upstreamCluster: this.upstreamCluster } : {}),
      ...(this.failureReason ? { upstreamTransportFailureReason: this.failureReason } : {}),
      ...(this.upstreamLocal ? { upstreamLocalAddress: this.upstreamLocal } : {}),
      downstreamLocalAddress: `${d.localAddress ?? '127.0.0.1'}:${d.localPort ?? this.listener.port}`,
      downstreamRemoteAddress: `${d.remoteAddress ?? '127.0.0.1'}:${d.remotePort ?? 0}`,
      ...(this.sni ? { requestedServerName: this.sni } : {}),
      ...(this.routeName ? { routeName: this.routeName } : {}),
      source: this.source,
      destination: this.destination,
      ...(this.endpoint ? { endpoint: this.endpoint } : {}),
      ...(this.security ? { connectionSecurity: this.security } : {}),
      why: [...this.why],
      snapshotVersion: this.snapshotVersion,
    };
  }

  open(): void {
    if (this.opened) return;
    this.opened = true;
    this.emit(this.event('mesh:tcp:open'));
  }

  close(): void {
    if (this.closed) return;
    this.open();
    this.closed = true;
    this.emit(this.event('mesh:tcp:close'));
  }

  /** the connection is refused before any upstream byte: flag, why, downstream closed */
  refuse(flag: string | undefined, why: string): void {
    this.flags.add(flag);
    this.why.push(why);
    this.termination = why;
    this.downstream.destroy();
    this.close();
  }
}

type Upstream = net.Socket | tls.TLSSocket;

/** `::ffff:127.0.0.1` -> `127.0.0.1` */
function plainIp(ip: string | undefined): string {
  const a = ip ?? '';
  return a.startsWith('::ffff:') && net.isIP(a.slice(7)) === 4 ? a.slice(7) : a;
}

export class TcpProxy {
  private readonly randomness: RequestRandomness;
  private nextId = 1;

  constructor(private readonly deps: TcpProxyDeps) {
    this.randomness = new RequestRandomness(deps.seed);
  }

  /** a downstream connection on a listener of the TCP codec (or detected as TCP) */
  connection(listenerName: string, socket: Duplex, opts: TcpConnectionOptions = {}): void {
    const snap = this.deps.current();
    const listener = snap.listeners.get(listenerName);
    const proxy = listener ? snap.proxies.get(listener.proxyId) : undefined;
    socket.on('error', () => socket.destroy());
    // half-open: the client's FIN is passed on while the other direction keeps flowing (a TLS
    // socket of the inbound mTLS server is not half-open by itself)
    socket.allowHalfOpen = true;
    if (!listener || !proxy || socket.destroyed) {
      socket.destroy();
      return;
    }
    const session = new TcpSession(`${listenerName}#${this.nextId++}`, listener, proxy, socket as TcpSession['downstream'], snap.snapshot.version, this.deps.emit);
    if (listener.kind === 'inbound') {
      this.inbound(session, snap, opts);
      return;
    }
    session.source = peerOf(proxy.meta);
    const rng = this.randomness.forRequest(listenerName, undefined);
    const tlsPort = listener.protocol === 'tls' || listener.protocol === 'https';
    if (!tlsPort || opts.ended) {
      void this.outbound(session, snap, rng, opts);
      return;
    }
    // tls[] routes match the ClientHello's SNI, read without terminating TLS (tls_inspector)
    void peek<ClientHelloResult & object>(socket, (d) => readClientHello(d), { timeoutMs: this.deps.clientHelloTimeoutMs ?? 0 }).then((o) => {
      if (o.kind === 'decided' && o.value.tls) {
        session.sni = o.value.serverName;
        session.why.push(o.value.serverName ? `TLS ClientHello: SNI ${o.value.serverName}` : 'TLS ClientHello without SNI');
      } else session.why.push(o.kind === 'decided' ? 'not a TLS ClientHello: tcp routes only' : `no ClientHello (${o.kind}): tcp routes only`);
      const prefix = Buffer.concat([opts.prefix ?? Buffer.alloc(0), o.data]);
      void this.outbound(session, snap, rng, { prefix, ended: o.kind === 'ended' });
    });
  }

  private async outbound(s: TcpSession, snap: CompiledSnapshot, rng: Rng, opts: TcpConnectionOptions): Promise<void> {
    const d = s.downstream;
    const table = l4RouteTableOf(s.listener);
    const selected = table.select({ localAddress: d.localAddress ?? '127.0.0.1', remoteAddress: d.remoteAddress ?? '127.0.0.1', ...(s.sni ? { sni: s.sni } : {}) }, rng);
    s.why.push(...selected.why);
    if (!('route' in selected)) {
      // no filter chain accepts it: Envoy closes the connection
      s.refuse('NR', 'connection closed: no route (filter_chain_not_found)');
      return;
    }
    const { route, destination } = selected;
    s.routeName = route.origin.index >= 0 ? `${route.origin.resource} ${route.list}[${route.origin.index}]` : undefined;
    s.upstreamCluster = destination.clusterName;
    const svc = snap.hosts.get(destination.host);
    s.destination = {
      ...UNKNOWN_DESTINATION,
      service: svc?.fqdn ?? destination.host,
      serviceName: svc?.name ?? destination.host,
      serviceNamespace: svc?.namespace ?? 'unknown',
      ...(destination.subset ? { subset: destination.subset } : {}),
    };
    const cluster = this.deps.clusters.get(s.proxy.id, destination.clusterKey);
    if (!cluster) {
      s.refuse('NC', `cluster ${destination.clusterName} not found: connection closed (cluster_not_found)`);
      return;
    }
    s.why.push(cluster.explain());
    if (!cluster.breaker.tryConnection()) {
      s.refuse('UO', `circuit breaker: ${cluster.name} has ${cluster.breaker.limits.maxConnections} connections open (maxConnections): connection closed (upstream_cx_overflow)`);
      return;
    }
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      cluster.breaker.release();
    };
    let ep = cluster.pick(rng);
    if (!ep && cluster.config.awaitEndpointsMs) {
      s.why.push(`no endpoint of ${cluster.name} is ready while meshbox restarts it: waiting up to ${cluster.config.awaitEndpointsMs} ms`);
      const until = Date.now() + cluster.config.awaitEndpointsMs;
      while (!ep && Date.now() < until && !d.destroyed) {
        await cluster.endpointsChanged(until - Date.now());
        ep = cluster.pick(rng);
      }
    }
    if (!ep) {
      release();
      cluster.noHealthyUpstream++;
      s.refuse('UH', `no healthy upstream in ${cluster.name}: connection closed (no_healthy_upstream)`);
      return;
    }
    this.describeEndpoint(s, cluster, ep);
    const decision = cluster.tlsDecision(ep.config);
    s.why.push(decision.why);
    s.security = decision.kind === 'plaintext' ? 'none' : decision.mtls ? 'mutual_tls' : 'tls';
    const mtls = decision.kind === 'tls' && decision.mtls;
    s.source = { ...s.source, principal: mtls ? (s.proxy.meta.identity ?? 'unknown') : 'unknown' };
    s.destination = { ...s.destination, principal: mtls ? (decision.peerIdentity ?? 'unknown') : 'unknown' };
    const upstream =
      decision.kind === 'plaintext'
        ? net.connect({ host: ep.config.address, port: ep.config.port, allowHalfOpen: true })
        : tls.connect({ host: ep.config.address, port: ep.config.port, ...decision.options, ...(mtls ? { ALPNProtocols: [MX_ALPN, 'istio'] } : {}), allowHalfOpen: true } as tls.ConnectionOptions);
    const established = await this.connect(s, cluster, ep, upstream, decision.kind === 'tls');
    if (!established) {
      release();
      return;
    }
    // Istio's metadata exchange: the other sidecar learns who calls (TCP metrics' source labels)
    if (mtls && (upstream as tls.TLSSocket).alpnProtocol === MX_ALPN) upstream.write(encodePeerPreamble(s.proxy.id));
    this.relay(s, upstream, opts, () => {
      release();
      ep.active = Math.max(0, ep.active - 1);
    });
    ep.active++;
  }

  private describeEndpoint(s: TcpSession, cluster: Cluster, ep: Endpoint): void {
    s.endpoint = ep.id;
    s.upstreamHost = ep.address;
    s.destination = {
      ...peerOf(ep.config.meta),
      service: s.destination.service,
      serviceName: s.destination.serviceName,
      serviceNamespace: s.destination.serviceNamespace,
      ...(s.destination.subset ? { subset: s.destination.subset } : {}),
    };
    s.why.push(`endpoint ${ep.id} (${ep.address}) of ${cluster.name}`);
  }

  /** connects within the cluster's connect timeout; a failure closes the downstream (UF) */
  private connect(s: TcpSession, cluster: Cluster, ep: Endpoint, upstream: Upstream, secure: boolean): Promise<boolean> {
    return new Promise((resolve) => {
      const timeoutMs = cluster.config.connectTimeoutMs;
      let done = false;
      const finish = (ok: boolean, why?: string, reason?: string): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        upstream.off('error', onError);
        s.downstream.off('close', onDownstreamGone);
        if (ok) {
          ep.connections++;
          cluster.record(ep, 'success');
          s.upstreamLocal = `${upstream.localAddress ?? '127.0.0.1'}:${upstream.localPort ?? 0}`;
          s.why.push(`connected to ${ep.address}${secure ? ' (TLS)' : ''}`);
          s.open();
          resolve(true);
          return;
        }
        upstream.destroy();
        if (reason === 'downstream') {
          s.flags.add('DC');
          s.why.push('the client closed the connection while it was being connected');
          s.termination = 'downstream closed before the upstream connection was made';
          s.close();
          resolve(false);
          return;
        }
        ep.connectFailures++;
        // Istio: toward an opaque TCP upstream, connect failures and timeouts count as 5xx and gateway errors
        cluster.record(ep, 'local-failure');
        if (reason) s.failureReason = reason;
        s.refuse('UF', `upstream connect to ${ep.address} failed: ${why}: connection closed`);
        resolve(false);
      };
      const onError = (e: NodeJS.ErrnoException): void => finish(false, e.code ?? e.message, secure && !e.code?.startsWith('ECONN') ? e.message : undefined);
      const onDownstreamGone = (): void => finish(false, undefined, 'downstream');
      const timer = setTimeout(() => finish(false, `connect timeout after ${timeoutMs} ms (connectTimeout)`), timeoutMs);
      upstream.once('error', onError);
      s.downstream.once('close', onDownstreamGone);
      upstream.once(secure ? 'secureConnect' : 'connect', () => finish(true));
    });
  }

  private inbound(s: TcpSession, snap: CompiledSnapshot, opts: TcpConnectionOptions): void {
    const { listener, proxy } = s;
    const sec = downstreamSecurity(s.downstream as net.Socket);
    s.security = sec.security;
    const service = snap.services.get(proxy.meta.service);
    s.destination = { ...peerOf(proxy.meta), service: service?.fqdn ?? 'unknown', serviceName: proxy.meta.service, serviceNamespace: proxy.meta.namespace };
    const peer = sec.peerProxyId ? snap.proxies.get(sec.peerProxyId) : undefined;
    if (peer) s.source = peerOf(peer.meta);
    const peerUri = sec.peer?.uris[0];
    if (sec.security === 'mutual_tls') {
      s.source = { ...s.source, principal: peerUri ?? 'unknown' };
      s.destination = { ...s.destination, principal: sec.localIdentity ?? 'unknown' };
    }
    s.why.push(`inbound ${sec.security === 'mutual_tls' ? `mTLS from ${peerUri ?? 'a peer without a SPIFFE id'}${peer ? ` (${peer.id})` : ''}` : 'plaintext'} (${listener.mtls ? `${listener.mtls.mode}: ${listener.mtls.source}` : 'PERMISSIVE'})`);
    // AuthorizationPolicy, as Envoy's network RBAC filter: once per connection, a denial closes it
    const policies = proxy.security?.policies ?? [];
    if (policies.length > 0) {
      const d = s.downstream;
      const decision = evaluateTcpRbac(policies, {
        port: listener.servicePort ?? listener.port,
        sourceIp: plainIp(d.remoteAddress),
        remoteIp: plainIp(d.remoteAddress),
        destinationIp: plainIp(d.localAddress),
        ...(sec.security === 'mutual_tls' && peerUri ? { peerPrincipal: principalOf(peerUri) } : {}),
      });
      s.why.push(...decision.why);
      if (!decision.allowed) {
        s.envoyTermination = decision.details;
        s.refuse(undefined, `connection closed by the RBAC network filter: ${decision.details}`);
        return;
      }
    }
    const cluster = listener.inboundCluster ? this.deps.clusters.get(proxy.id, listener.inboundCluster) : undefined;
    const ep = cluster?.hosts()[0];
    if (!cluster || !ep) {
      s.refuse('NC', 'no inbound cluster: connection closed');
      return;
    }
    s.upstreamCluster = cluster.name;
    s.upstreamHost = ep.address;
    s.endpoint = ep.id;
    s.why.push(`inbound to ${proxy.id}: local app ${ep.address} via ${cluster.name}`);
    const upstream = net.connect({ host: ep.config.address, port: ep.config.port, allowHalfOpen: true });
    void this.connect(s, cluster, ep, upstream, false).then((ok) => {
      if (ok) this.relay(s, upstream, opts, () => undefined);
    });
  }

  /** bytes both ways with back-pressure and half-close; `done` once both sides are closed */
  private relay(s: TcpSession, upstream: Upstream, opts: TcpConnectionOptions, done: () => void): void {
    const down = s.downstream;
    let finished = false;
    let downEnded = false;
    let upEnded = false;
    let pending = 2;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      done();
      s.close();
    };
    const closed = (): void => {
      if (--pending === 0) finish();
    };
    // (a side that is closed already counts as closed: its 'close' came before the relay)
    if (down.destroyed) closed();
    else down.once('close', closed);
    if (upstream.destroyed) closed();
    else upstream.once('close', closed);
    const fail = (who: 'client' | 'upstream', e: NodeJS.ErrnoException): void => {
      s.why.push(`${who} connection error: ${e.code ?? e.message}`);
      s.termination ??= `${who} ${e.code === 'ECONNRESET' ? 'reset' : 'error'}`;
      down.destroy();
      upstream.destroy();
    };
    down.removeAllListeners('error');
    down.on('error', (e: NodeJS.ErrnoException) => fail('client', e));
    upstream.on('error', (e: NodeJS.ErrnoException) => fail('upstream', e));
    const idle = this.deps.idleTimeoutMs;
    if (idle > 0) {
      const onIdle = (): void => {
        s.why.push(`idle for ${idle} ms (idle_timeout): connection closed`);
        s.termination ??= 'idle timeout';
        down.destroy();
        upstream.destroy();
      };
      (down as net.Socket).setTimeout?.(idle, onIdle);
    }
    const pipe = (from: Duplex, to: Duplex, count: (n: number) => void, ended: () => void): void => {
      from.on('data', (chunk: Buffer) => {
        count(chunk.length);
        if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      });
      from.once('end', () => {
        ended();
        // the half-close passes on: FIN to the other side, the other direction keeps flowing
        to.end();
        if (downEnded && upEnded) s.termination ??= 'both sides closed';
      });
    };
    if (opts.prefix && opts.prefix.length > 0) {
      s.bytesReceived += opts.prefix.length;
      upstream.write(opts.prefix);
    }
    pipe(upstream, down, (n) => (s.bytesSent += n), () => {
      upEnded = true;
      if (!downEnded) s.termination ??= 'upstream closed first';
    });
    if (opts.ended) {
      downEnded = true;
      s.termination ??= 'client closed first';
      upstream.end();
    } else {
      pipe(down, upstream, (n) => (s.bytesReceived += n), () => {
        downEnded = true;
        if (!upEnded) s.termination ??= 'client closed first';
      });
    }
    down.resume();
  }
}
