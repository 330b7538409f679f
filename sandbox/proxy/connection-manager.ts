/**
 * HTTP connection manager: what happens to one request on one listener.
 *
 *   inbound  (reporter=destination): peer identity -> HTTP filters (jwt_authn -> rbac -> fault,
 *                                    sandbox/security/filter-chain.ts) -> router -> local app (`inbound|<port>||`)
 *   outbound (reporter=source):      route table -> HTTP filters (fault -> cors, ./filters/outbound-filter-chain.ts;
 *   gateway  (reporter=source):        the gateway's: jwt_authn -> rbac -> fault -> cors)
 *                                    -> router: no route (NR) | redirect | direct response | cluster of the
 *                                       picked subset (+ mirrored copies, ./mirror/shadow-writer.ts)
 *
 * An EnvoyFilter may insert more filters into a proxy's chains (sandbox/rate-limit: the local
 * rate limit); its ProxyConfig.rateLimit.chains then name them.
 *
 * Every request ends in exactly one RequestEvent, emitted when the response closes. Replies the
 * proxy sends before a request exists (a codec error, a header timeout, CONNECT) get one too.
 * An upgrade request (WebSocket) takes the same path, with its own terminal step instead of the
 * router (./upgrade/): its event comes when the upgraded stream closes.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { RequestEvent, UpgradeEvent } from '../events.js';
import type { ListenerConfig, ProxyConfig, RouteEntryConfig } from '../control/snapshot.js';
import { RequestRandomness, Rng } from '../rng.js';
import type { CompiledSnapshot } from './compiled-snapshot.js';
import './filters/inbound-fault-http-filter.js';
import './filters/outbound-fault-http-filter.js';
import './filters/cors-http-filter.js';
import { GATEWAY_HTTP_FILTERS, OUTBOUND_HTTP_FILTERS, runOutboundHttpFilters } from './filters/outbound-filter-chain.js';
import { sendShadows, SHADOW_HEADER } from './mirror/shadow-writer.js';
import '../rate-limit/local-rate-limit-filter.js';
import '../security/request-authentication-filter.js';
import '../security/rbac-filter.js';
import '../security/gateway-filters.js';
import { INBOUND_HTTP_FILTERS, runHttpFilters, type InboundFilterContext } from '../security/filter-chain.js';
import { applyEdgeForwarding } from './forwarded-for.js';
import { lingeringClose, type DownstreamLimits, type ListenerHandler } from './listener.js';
import { localReplies, type LocalReply } from './local-reply.js';
import { framingOf, RequestBody } from './body/request-body.js';
import { RequestContext, peerOf, UNKNOWN_DESTINATION, UNKNOWN_PEER } from './request-context.js';
import { forward, HOP_BY_HOP, type ForwardRequest } from './router.js';
import { applyHeaderOps, type HeaderMap } from './routing/header-ops.js';
import { isSelection, type RouteSelection } from './routing/route-table.js';
import type { RequestView } from './routing/request-view.js';
import { redirectTarget, rewritePath } from './routing/rewrite.js';
import type { Cluster, ClusterManager } from './upstream/cluster.js';
import { Endpoint } from './upstream/endpoint.js';
import { RetryPolicy, retryPolicyOf } from './upstream/retry-policy.js';
import { decideSpanContext, writeTraceHeaders } from '../telemetry/tracing/trace-context.js';
import { samplingPercentFor } from '../telemetry/tracing/sampling.js';
import { downstreamSecurity } from '../security/tls-inbound.js';
import { principalOf } from '../security/identity.js';
import { applyXfcc, xfccElement } from '../security/mtls-headers.js';
import { downstreamResponse, refuseUpgrade, upgradeProtocolOf, type UpgradeRequest } from './upgrade/upgrade-request.js';
import { proxyUpgrade } from './upgrade/upgrade-proxy.js';
import { isHttp2, sendResponse, type DownstreamRequest, type DownstreamResponse } from './downstream.js';
import { GrpcMessageCounter } from './grpc/grpc-message-counter.js';
import { formatGrpcTimeout, grpcDeadline } from './grpc/grpc-timeout.js';

/** Internal header carrying the calling proxy's id between sidecars (Istio's metadata exchange). */
export const PEER_HEADER = 'x-envoy-peer-metadata-id';
/**
 * Loop detection, as Envoy's CDN-Loop filter (envoy.filters.http.cdn_loop, RFC 8586) does it:
 * every sidecar and gateway appends its own id to `CDN-Loop` when it forwards a request, and
 * answers a request that already carries its id with the filter's local reply (502, "The server
 * has detected a loop between CDNs.", details cdn_loop_detected; max_allowed_occurrences 0).
 * meshbox's ids are removed when a request is delivered to an app, so an app calling on (even
 * one that copies every header) starts a new chain; only proxy-to-proxy hops, such as a
 * passthrough to the sidecar's own listener, can loop.
 */
export const CDN_LOOP_HEADER = 'cdn-loop';
const CDN_ID_SUFFIX = '.meshbox';

/** this proxy's cdn-id in `CDN-Loop` (an RFC 8586 pseudonym) */
export function cdnIdOf(proxyId: string): string {
  return `${proxyId}${CDN_ID_SUFFIX}`;
}

function cdnLoopEntries(value: string | string[] | number | undefined): string[] {
  if (value === undefined) return [];
  const text = Array.isArray(value) ? value.join(',') : String(value);
  return text
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e.length > 0);
}

const cdnIdOfEntry = (entry: string): string => entry.split(';')[0]!.trim();

const NO_RETRY = new RetryPolicy({
  attempts: 0,
  perTryTimeoutMs: null,
  retryOn: [],
  retriableStatusCodes: [],
  retryIgnorePreviousHosts: true,
  backoffBaseMs: 25,
  isDefault: false,
});

export interface ConnectionManagerDeps {
  current(): CompiledSnapshot;
  clusters: ClusterManager;
  rng: Rng;
  emit(event: RequestEvent | UpgradeEvent): void;
  limits: DownstreamLimits;
}

/**
 * The request's body, streamed (./body/request-body.ts): read ahead up to the buffer limit while
 * filters and the route decide, then fed to each upstream attempt with back-pressure. A request
 * without a body still has its (empty) stream consumed, so Node reads the next request.
 */
function requestBody(req: DownstreamRequest, limit: number): RequestBody {
  const framing = framingOf(req);
  return new RequestBody(req, limit, framing);
}

/** `GET http://host:port/path` (forward-proxy form) or `GET /path` + Host */
function requestTarget(req: DownstreamRequest): { path: string; authority: string } {
  const url = req.url ?? '/';
  if (url.startsWith('http://') || url.startsWith('https://')) {
    try {
      const u = new URL(url);
      return { path: `${u.pathname}${u.search}`, authority: u.host };
    } catch {
      return { path: url, authority: req.headers.host ?? '' };
    }
  }
  return { path: url, authority: req.headers.host ?? '' };
}

function authorityPort(authority: string, fallback: number): number {
  const m = /:(\d+)$/.exec(authority);
  return m ? Number(m[1]) : fallback;
}

export class ConnectionManager implements ListenerHandler {
  /** a generator per request, derived from the seed (so `--seed` replays concurrent traffic too) */
  private readonly randomness: RequestRandomness;
  /** trace sampling draws from its own generator: turning tracing on changes no other choice */
  private readonly sampler: Rng;

  constructor(private readonly deps: ConnectionManagerDeps) {
    this.randomness = new RequestRandomness(deps.rng.seed);
    this.sampler = Rng.derive(deps.rng.seed, 'trace-sampling');
  }

  request(listenerName: string, req: DownstreamRequest, res: DownstreamResponse, expectContinue: boolean): void {
    this.handle(listenerName, req, res, expectContinue);
  }

  /**
   * CONNECT: Envoy matches it only against routes with a `connect_matcher`, and Istio generates
   * none for sidecars or gateways, so Envoy answers 404 with flag NR (Envoy FAQ "Why is Envoy
   * sending 404s to CONNECT requests?"). meshbox does the same, logged like any local reply.
   */
  connect(listenerName: string, req: IncomingMessage, socket: Socket): void {
    this.edgeReply(listenerName, socket, localReplies.noRoute(), req, [
      `CONNECT ${req.url ?? ''}: no route matches CONNECT (routes match paths; Envoy needs a connect_matcher route, which Istio does not generate)`,
    ]);
  }

  /**
   * An HTTP/1.1 upgrade (`Upgrade: websocket`): routed and filtered like any request; its reply,
   * when it is not a 101, goes out on the handed-over socket (./upgrade/upgrade-request.ts).
   */
  upgrade(listenerName: string, req: IncomingMessage, socket: Socket, head: Buffer): void {
    const res = downstreamResponse(req, socket, this.deps.limits.delayedCloseTimeoutMs);
    this.handle(listenerName, req, res, false, { protocol: upgradeProtocolOf(req), head, socket, switched: false, announce: (e) => this.deps.emit(e) });
  }

  /** the HTTP/1 codec failed before a request existed */
  clientError(listenerName: string, err: NodeJS.ErrnoException, socket: Socket): void {
    const marked = socket as Socket & { meshboxReplied?: boolean; _httpMessage?: ServerResponse | null };
    if (marked.meshboxReplied) return;
    // HPE_INVALID_EOF_STATE: the client closed its side in the middle of a request (a body cut
    // short): that request can never complete, so the connection goes, and with it the request
    // in flight (its upstream attempt is cancelled: DC), as Envoy does on a downstream close
    if (err.code === 'ECONNRESET' || err.code === 'HPE_INVALID_EOF_STATE' || !socket.writable) {
      socket.destroy();
      return;
    }
    marked.meshboxReplied = true;
    // Pipelined requests: the error belongs after the responses to the requests before it (Envoy
    // reads the next request only once the current response is done), so it waits for them.
    const inFlight = marked._httpMessage;
    if (inFlight) {
      inFlight.once('close', () => {
        marked.meshboxReplied = false;
        if (socket.writable) this.clientError(listenerName, err, socket);
        else socket.destroy();
      });
      return;
    }
    const limits = this.deps.limits;
    if (err.code === 'HPE_HEADER_OVERFLOW') {
      this.edgeReply(listenerName, socket, localReplies.headersTooLarge(), undefined, [
        `request header block larger than max_request_headers_kb (${limits.maxRequestHeadersKb} KiB)`,
      ]);
    } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      this.edgeReply(listenerName, socket, localReplies.requestHeaderTimeout(), undefined, [
        `request headers not complete within request_headers_timeout (${limits.requestHeadersTimeoutMs} ms)`,
      ]);
    } else {
      this.edgeReply(listenerName, socket, localReplies.codecError(), undefined, [`malformed HTTP/1.1 request (${err.code ?? err.message})`]);
    }
  }

  /**
   * Writes a local reply straight to the socket (no request object exists, or Node handed the
   * socket over), closes the connection as Envoy does, and emits the request event.
   */
  private edgeReply(listenerName: string, socket: Socket, reply: LocalReply, req: IncomingMessage | undefined, why: string[]): void {
    const startTime = Date.now();
    const startMono = performance.now();
    const snap = this.deps.current();
    const listener = snap.listeners.get(listenerName);
    const proxy = listener ? snap.proxies.get(listener.proxyId) : undefined;
    const body = Buffer.from(reply.body);
    const head = [
      `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? ''}`,
      `content-length: ${body.length}`,
      ...(body.length > 0 ? ['content-type: text/plain'] : []),
      `date: ${new Date(startTime).toUTCString()}`,
      `server: ${listener?.kind === 'outbound' ? 'envoy' : 'istio-envoy'}`,
      'connection: close',
      '',
      '',
    ].join('\r\n');
    const local = `${socket.localAddress ?? '-'}:${socket.localPort ?? 0}`;
    const remote = `${socket.remoteAddress ?? '-'}:${socket.remotePort ?? 0}`;
    socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body]));
    lingeringClose(socket, this.deps.limits.delayedCloseTimeoutMs);
    if (!listener || !proxy) return;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req?.headers ?? {})) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const idHeader = headers['x-request-id'];
    const inbound = listener.kind === 'inbound';
    const service = snap.services.get(proxy.meta.service);
    this.deps.emit({
      type: 'mesh:request:end',
      reporter: inbound ? 'destination' : 'source',
      proxy: proxy.id,
      listener: listener.kind,
      startTime,
      durationMs: Math.round((performance.now() - startMono) * 1000) / 1000,
      // Envoy logs a request its codec rejected as `"- - HTTP/1.1"`
      method: req?.method ?? '-',
      path: req?.url ?? '-',
      authority: req ? (headers['host'] ?? req.url ?? '-') : '-',
      protocol: `HTTP/${req?.httpVersion ?? '1.1'}`,
      requestId: idHeader && idHeader.length > 0 ? idHeader : randomUUID(),
      userAgent: headers['user-agent'] ?? '-',
      forwardedFor: headers['x-forwarded-for'] ?? '-',
      status: reply.status,
      responseFlags: reply.flag ?? '-',
      responseCodeDetails: reply.details,
      bytesReceived: 0,
      bytesSent: body.length,
      downstreamLocalAddress: local,
      downstreamRemoteAddress: remote,
      attempts: 0,
      source: inbound ? UNKNOWN_PEER : peerOf(proxy.meta),
      destination: inbound
        ? { ...peerOf(proxy.meta), service: service?.fqdn ?? 'unknown', serviceName: proxy.meta.service, serviceNamespace: proxy.meta.namespace }
        : UNKNOWN_DESTINATION,
      why,
      requestHeaders: headers,
      snapshotVersion: snap.snapshot.version,
    });
  }

  handle(listenerName: string, req: DownstreamRequest, res: DownstreamResponse, expectContinue = false, upgrade?: UpgradeRequest): void {
    const snap = this.deps.current();
    const listener = snap.listeners.get(listenerName);
    const proxy = listener ? snap.proxies.get(listener.proxyId) : undefined;
    if (!listener || !proxy) {
      // The listener left the configuration while this connection stayed open.
      sendResponse(req, res, 503, { 'content-type': 'text/plain', connection: 'close' }, Buffer.from('listener removed'));
      return;
    }
    const target = requestTarget(req);
    const idHeader = req.headers['x-request-id'];
    const givenId = typeof idHeader === 'string' && idHeader.length > 0 ? idHeader : undefined;
    const rng = this.randomness.forRequest(listenerName, givenId);
    const requestId = givenId ?? rng.uuid();
    const authority = listener.boundHost ? `${listener.boundHost}:${listener.servicePort ?? 80}` : target.authority;
    const ctx = new RequestContext(req, res, snap.snapshot, proxy, listener, requestId, target.path, authority, rng);
    ctx.upgrade = upgrade;
    // Envoy answers `Expect: 100-continue` as soon as the headers are in, before any filter
    // (proxy_100_continue off, Istio's setting): the body streams, so there is no size to refuse
    if (expectContinue) res.writeContinue();
    // an upgrade's payload is the upgraded stream itself: there is no body to stream
    ctx.body = upgrade ? RequestBody.empty() : requestBody(req, this.deps.limits.perConnectionBufferLimitBytes);
    ctx.delayedCloseMs = this.deps.limits.delayedCloseTimeoutMs;
    if (ctx.grpc) countRequestMessages(ctx);
    this.traceContext(ctx, snap, proxy.id);
    if (isHttp2(req) && req.method === 'CONNECT') {
      // as for HTTP/1.1 (see connect()): no route matches CONNECT; only this stream is answered
      res.once('close', () => {
        const event = ctx.finish();
        if (event) this.deps.emit(event);
      });
      ctx.why.push(`CONNECT ${req.authority}: no route matches CONNECT (routes match paths; Envoy needs a connect_matcher route, which Istio does not generate)`);
      ctx.sendLocalReply(localReplies.noRoute());
      return;
    }
    res.once('close', () => {
      const event = ctx.finish();
      if (event) this.deps.emit(event);
    });
    const idleMs = this.deps.limits.streamIdleTimeoutMs;
    if (idleMs > 0) res.setTimeout(idleMs, () => this.streamIdle(ctx, idleMs));
    void this.process(ctx, snap, listener, proxy).catch((err: Error) => {
      ctx.why.push(`internal error: ${err.message}`);
      ctx.sendLocalReply({ status: 500, body: 'internal proxy error', details: 'internal_error' });
    });
  }

  /**
   * This proxy's span: a child of the incoming context, or the root of a new trace (sampled at
   * the mesh's percentage). Its ids go on with the request (baseHeaders), so a server span and the
   * app's next call join it; a malformed incoming header is replaced and said why.
   */
  private traceContext(ctx: RequestContext, snap: CompiledSnapshot, proxyId: string): void {
    const percent = samplingPercentFor(snap.snapshot.tracing, proxyId);
    if (percent === undefined) return;
    ctx.trace = decideSpanContext(ctx.req.headers, () => this.sampler.percent(percent));
    if (ctx.trace.replaced) ctx.why.push(`trace context: ${ctx.trace.replaced}; replaced by a new trace ${ctx.trace.traceId}`);
    if (ctx.listener.kind === 'inbound') {
      const svc = snap.services.get(ctx.proxy.meta.service);
      ctx.operation = `${svc?.fqdn ?? ctx.authority}:${ctx.listener.servicePort ?? authorityPort(ctx.authority, 80)}/*`;
    }
  }

  private async process(ctx: RequestContext, snap: CompiledSnapshot, listener: ListenerConfig, proxy: ProxyConfig): Promise<void> {
    if (listener.kind !== 'inbound' && this.looped(ctx, proxy)) return;
    if (listener.kind === 'inbound') return this.inbound(ctx, snap, listener, proxy, ctx.body);
    return this.outbound(ctx, snap, listener, proxy, ctx.body);
  }

  /**
   * Envoy's stream_idle_timeout: no byte moved on this request's connection in either direction.
   * Before the response started, Envoy's local reply `stream timeout` (flag SI): 408 while the
   * request body is incomplete, 504 once it is complete (Envoy's maybeRequestTimeoutCode); the
   * upstream attempt, if any, is reset. Once the response started, the stream is reset.
   */
  private streamIdle(ctx: RequestContext, idleMs: number): void {
    ctx.why.push(`stream idle: nothing moved for stream_idle_timeout (${idleMs} ms)`);
    if (!ctx.responseStarted && !ctx.res.headersSent) {
      const complete = ctx.req.complete || ctx.body.complete;
      ctx.cancelUpstream();
      ctx.sendLocalReply(complete ? localReplies.streamIdleTimeoutAfterRequest() : localReplies.streamIdleTimeout());
      return;
    }
    ctx.flags.add('SI');
    ctx.details = 'stream_idle_timeout';
    // the proxy's reset, not the client's disconnect (no DC)
    ctx.resetDownstream();
  }

  /** the router, or for an upgrade request the upgrade proxy */
  private terminal(ctx: RequestContext): (ctx: RequestContext, fr: ForwardRequest) => Promise<void> {
    if (!ctx.upgrade) return forward;
    const opts = { idleTimeoutMs: this.deps.limits.streamIdleTimeoutMs, drainMs: this.deps.limits.delayedCloseTimeoutMs };
    return (c, fr) => proxyUpgrade(c, fr, opts);
  }

  /** Envoy's CDN-Loop filter on an outbound or gateway listener: has this request been here before? */
  private looped(ctx: RequestContext, proxy: ProxyConfig): boolean {
    const own = cdnIdOf(proxy.id);
    const entries = cdnLoopEntries(ctx.req.headers[CDN_LOOP_HEADER]);
    if (!entries.some((e) => cdnIdOfEntry(e) === own)) return false;
    ctx.why.push(
      `forwarding loop: the request already passed ${proxy.id} (CDN-Loop: ${entries.join(', ')}); its destination ${ctx.authority} leads back to this proxy's own listener`,
    );
    ctx.sendLocalReply(localReplies.loopDetected());
    return true;
  }

  private baseHeaders(ctx: RequestContext): HeaderMap {
    const headers: HeaderMap = { ...ctx.req.headers };
    const te = headers['te'];
    for (const h of HOP_BY_HOP) delete headers[h];
    // Envoy keeps `te: trailers` (gRPC clients send it), and drops every other TE value
    if (typeof te === 'string' && te.split(',').some((v) => v.trim().toLowerCase() === 'trailers')) headers['te'] = 'trailers';
    delete headers[PEER_HEADER];
    delete headers[SHADOW_HEADER];
    // Envoy answers `Expect: 100-continue` itself and removes the header (proxy_100_continue off)
    if (String(headers['expect']).toLowerCase() === '100-continue') delete headers['expect'];
    headers['x-request-id'] = ctx.requestId;
    if (ctx.trace) writeTraceHeaders(headers, ctx.trace);
    // the client's framing goes on: its content-length as given (a chunked body is re-chunked by
    // the upstream attempt, transfer-encoding being hop-by-hop)
    if (ctx.upstreamRequestHeaders) Object.assign(headers, ctx.upstreamRequestHeaders);
    return headers;
  }

  private async inbound(ctx: RequestContext, snap: CompiledSnapshot, listener: ListenerConfig, proxy: ProxyConfig, body: RequestBody): Promise<void> {
    const peerId = ctx.req.headers[PEER_HEADER];
    const peer = typeof peerId === 'string' ? snap.proxies.get(peerId) : undefined;
    if (peer) ctx.source = peerOf(peer.meta);
    const shadowOf = ctx.req.headers[SHADOW_HEADER];
    if (typeof shadowOf === 'string' && snap.proxies.has(shadowOf)) {
      ctx.shadowOf = shadowOf;
      ctx.why.push(`a mirrored copy (VirtualService mirror) sent by ${shadowOf} as ${ctx.authority}: its answer is discarded there`);
    }
    const service = snap.services.get(proxy.meta.service);
    ctx.destination = {
      ...peerOf(proxy.meta),
      service: service?.fqdn ?? 'unknown',
      serviceName: proxy.meta.service,
      serviceNamespace: proxy.meta.namespace,
    };
    // mTLS (PeerAuthentication): the peer's identity comes from its certificate, as Istio's
    // source_principal / destination_principal; plaintext leaves them unknown
    const sec = downstreamSecurity(ctx.req.socket);
    ctx.connectionSecurity = sec.security;
    if (sec.security === 'none' && listener.mtls?.mode === 'STRICT') {
      // a plaintext connection opened before the policy became STRICT: Envoy drains it off the
      // old filter chain; meshbox ends it at its next request (no filter chain matches: NR)
      ctx.flags.add('NR');
      ctx.details = 'filter_chain_not_found';
      ctx.why.push(`plaintext connection refused: ${listener.mtls.source} requires mTLS`);
      ctx.req.socket.resetAndDestroy();
      return;
    }
    const peerUri = sec.peer?.uris[0];
    if (sec.security === 'mutual_tls') {
      ctx.peerPrincipal = peerUri ? principalOf(peerUri) : undefined;
      ctx.source = { ...ctx.source, principal: peerUri ?? 'unknown' };
      ctx.destination = { ...ctx.destination, principal: sec.localIdentity ?? 'unknown' };
    }
    ctx.why.push(`inbound ${sec.security === 'mutual_tls' ? `mTLS from ${peerUri ?? 'a peer without a SPIFFE id'}` : 'plaintext'} (${listener.mtls ? `${listener.mtls.mode}: ${listener.mtls.source}` : 'PERMISSIVE'})`);
    const cluster = listener.inboundCluster ? this.deps.clusters.get(proxy.id, listener.inboundCluster) : undefined;
    if (!cluster) {
      ctx.sendLocalReply(localReplies.clusterNotFound());
      return;
    }
    ctx.routeName = 'default';
    ctx.why.push(`inbound to ${proxy.id}: local app via ${cluster.name}`);
    if (refuseUpgrade(ctx)) return;
    const headers = this.baseHeaders(ctx);
    const filters: InboundFilterContext = { ctx, snap, proxy, headers, state: {} };
    if ((await runHttpFilters(proxy.rateLimit?.chains.inbound ?? INBOUND_HTTP_FILTERS, filters)) === 'stopped') return;
    if (!headers['x-forwarded-proto']) headers['x-forwarded-proto'] = 'http';
    applyXfcc(headers, sec.security === 'mutual_tls' && sec.peer ? xfccElement(sec.localIdentity, sec.peer) : undefined);
    // the app starts a new chain: meshbox's own CDN-Loop entries stop here, others are kept
    const foreign = cdnLoopEntries(headers[CDN_LOOP_HEADER]).filter((e) => !cdnIdOfEntry(e).endsWith(CDN_ID_SUFFIX));
    if (foreign.length > 0) headers[CDN_LOOP_HEADER] = foreign.join(', ');
    else delete headers[CDN_LOOP_HEADER];
    // Istio's inbound route: no timeout, max_grpc_timeout 0, so a gRPC request's grpc-timeout is its deadline
    const timeoutMs = ctx.grpc ? this.grpcTimeout(ctx, headers, null, null, false) : null;
    return this.terminal(ctx)(
      ctx,
      {
        cluster,
        method: ctx.req.method ?? 'GET',
        path: ctx.path,
        headers: headers as OutgoingHttpHeaders,
        body,
        retry: NO_RETRY,
        timeoutMs,
        responseHeaderOps: [],
        responseFault: filters.state.responseFault,
        onEndpoint: () => undefined,
      },
    );
  }

  private async outbound(ctx: RequestContext, snap: CompiledSnapshot, listener: ListenerConfig, proxy: ProxyConfig, body: RequestBody): Promise<void> {
    ctx.source = peerOf(proxy.meta);
    const table = listener.routeConfig ? snap.routeTables.get(listener.routeConfig) : undefined;
    const isGateway = listener.kind === 'gateway';
    // The gateway serves its server port (80) whatever local port it listens on; hosts are
    // matched without the port, as a cluster's ingress Service maps :80 onto the gateway.
    const port = isGateway ? (listener.servicePort ?? 80) : authorityPort(ctx.authority, listener.servicePort ?? 80);
    const lookupAuthority = isGateway ? ctx.authority.replace(/:\d+$/, '') : ctx.authority;
    const view: RequestView = {
      method: ctx.req.method ?? 'GET',
      path: ctx.path,
      authority: ctx.authority,
      scheme: 'http',
      port,
      headers: ctx.req.headers,
    };
    if (!table) {
      ctx.why.push('no route configuration');
      ctx.sendLocalReply(localReplies.noRoute());
      return;
    }
    const selection = table.select(view, lookupAuthority);
    ctx.why.push(...selection.why);
    ctx.route = { config: listener.routeConfig!, authority: lookupAuthority, port, ...selection.decision };
    const matched = isSelection(selection) ? selection : undefined;
    // Envoy refuses an upgrade the route does not allow before the filters; without a route the
    // request goes through them to the router's 404
    if (matched && refuseUpgrade(ctx)) return;
    const route = matched?.route.config;
    if (route) ctx.routeName = route.name;
    const action = route?.action;
    // the weighted cluster is picked with the route (Envoy), so the filters' replies name it too
    const picked = action?.type === 'route' ? matched!.route.pickDestination(ctx.rng) : undefined;
    if (route?.statsDestination) {
      // a direct response reported as going to a cluster (REGISTRY_ONLY: BlackHoleCluster)
      ctx.destination = { ...UNKNOWN_DESTINATION, service: route.statsDestination, serviceName: route.statsDestination };
      ctx.upstreamCluster = route.statsDestination;
      ctx.why.push(`${ctx.authority} is not in the service registry (outboundTrafficPolicy REGISTRY_ONLY): ${route.statsDestination}`);
    }
    if (picked) {
      ctx.why.push(picked.why);
      const svc = snap.hosts.get(picked.destination.host);
      ctx.operation = `${svc?.fqdn ?? picked.destination.host}:${picked.destination.port}/*`;
      ctx.destination = {
        ...UNKNOWN_DESTINATION,
        service: svc?.fqdn ?? picked.destination.host,
        serviceName: svc?.name ?? picked.destination.host,
        serviceNamespace: svc?.namespace ?? 'unknown',
        subset: picked.destination.subset,
      };
    }
    // HTTP filters (gateway: jwt_authn -> rbac ->; fault -> cors -> ...), then the router:
    // no route (NR), no cluster (NC), redirect, direct response or a cluster
    const chain = isGateway ? (proxy.rateLimit?.chains.gateway ?? GATEWAY_HTTP_FILTERS) : (proxy.rateLimit?.chains.outbound ?? OUTBOUND_HTTP_FILTERS);
    if ((await runOutboundHttpFilters(chain, { ctx, snap, proxy, route, isGateway, state: {} })) === 'stopped') return;
    if (!matched || !route || !action) {
      ctx.sendLocalReply(localReplies.noRoute());
      return;
    }
    if (action.type === 'route' && !picked) {
      ctx.sendLocalReply(localReplies.clusterNotFound());
      return;
    }
    if (action.type === 'redirect') {
      const r = redirectTarget(action.redirect, { scheme: 'http', authority: ctx.authority, path: ctx.path, port });
      ctx.details = 'direct_response';
      ctx.status = r.status;
      ctx.responseStarted = true;
      const headers: HeaderMap = { location: r.location, 'content-length': '0', server: ctx.serverHeader() };
      ctx.encodeHeaders(headers);
      ctx.res.writeHead(r.status, headers as OutgoingHttpHeaders);
      ctx.res.end();
      return;
    }
    if (action.type === 'directResponse') {
      const text = action.bodyBase64 !== undefined ? Buffer.from(action.bodyBase64, 'base64').toString('latin1') : (action.body ?? '');
      ctx.sendLocalReply(localReplies.directResponse(action.status, text));
      return;
    }
    const dest = picked!.destination;

    const cluster = this.deps.clusters.get(ctx.proxy.id, dest.clusterKey);
    if (!cluster) {
      ctx.upstreamCluster = dest.clusterName;
      ctx.why.push(`cluster ${dest.clusterName} does not exist (no DestinationRule defines subset ${dest.subset ?? '-'})`);
      ctx.sendLocalReply(localReplies.clusterNotFound());
      return;
    }
    await this.toCluster(ctx, route, matched, dest.headers, cluster, body, isGateway);
  }

  /**
   * A gRPC request's deadline (./grpc/grpc-timeout.ts): its grpc-timeout capped at the route
   * timeout, as Istio's `max_grpc_timeout` makes Envoy do; the header goes upstream rewritten to
   * what each attempt has (the per-try timeout when shorter), like Envoy's router.
   */
  private grpcTimeout(ctx: RequestContext, headers: HeaderMap, routeTimeoutMs: number | null, perTryMs: number | null, expectedHeader: boolean): number | null {
    const d = grpcDeadline(ctx.req.headers['grpc-timeout'], routeTimeoutMs);
    if (d.timeoutMs !== null || ctx.req.headers['grpc-timeout'] !== undefined) ctx.why.push(d.why);
    const expected = perTryMs !== null && d.timeoutMs !== null ? Math.min(perTryMs, d.timeoutMs) : (perTryMs ?? d.timeoutMs);
    if (expected !== null && expected > 0) {
      headers['grpc-timeout'] = formatGrpcTimeout(expected);
      if (expectedHeader) headers['x-envoy-expected-rq-timeout-ms'] = String(expected);
    }
    return d.timeoutMs;
  }

  /**
   * The consistent-hash key (DestinationRule `consistentHash`): a header, a cookie (generated,
   * with Set-Cookie, when absent and a ttl is given, as Envoy does), the source address (on a
   * sidecar: the calling instance, since every app shares loopback) or a query parameter.
   */
  private hashKey(ctx: RequestContext, cluster: Cluster, isGateway: boolean): { key?: string; setCookie?: string } | undefined {
    const hp = cluster.config.hashPolicy;
    if (!hp) return undefined;
    if (hp.header) {
      const v = ctx.req.headers[hp.header];
      return { key: v === undefined ? undefined : String(v) };
    }
    if (hp.cookie) {
      const v = cookieValue(ctx.req.headers.cookie, hp.cookie.name);
      if (v !== undefined) return { key: v };
      if (hp.cookie.ttlMs === undefined) return {};
      const fresh = ctx.rng.uuid();
      // Envoy: a zero ttl makes a session cookie (no Max-Age), not one that expires at once
      const attrs = [`${hp.cookie.name}=${fresh}`, `Path=${hp.cookie.path ?? '/'}`, ...(hp.cookie.ttlMs > 0 ? [`Max-Age=${Math.round(hp.cookie.ttlMs / 1000)}`] : []), 'HttpOnly'];
      return { key: fresh, setCookie: attrs.join('; ') };
    }
    if (hp.sourceIp) return { key: isGateway ? (ctx.req.socket.remoteAddress ?? '') : ctx.proxy.id };
    if (hp.queryParameter) {
      const q = ctx.path.indexOf('?');
      const v = q >= 0 ? new URLSearchParams(ctx.path.slice(q + 1)).get(hp.queryParameter) : null;
      return { key: v ?? undefined };
    }
    return undefined;
  }

  private toCluster(
    ctx: RequestContext,
    route: RouteEntryConfig,
    selection: RouteSelection,
    destHeaders: RouteEntryConfig['headers'],
    cluster: Cluster,
    body: RequestBody,
    isGateway: boolean,
  ): Promise<void> {
    const headers = this.baseHeaders(ctx);
    let path = ctx.path;
    let authority = ctx.authority;
    if (route.rewrite) {
      path = rewritePath(ctx.path, route.rewrite, selection.matcher?.uriPrefix);
      if (route.rewrite.authority) authority = route.rewrite.authority;
      if (path !== ctx.path) {
        headers['x-envoy-original-path'] = ctx.path;
        ctx.why.push(`rewrite: path ${ctx.path} -> ${path}`);
      }
    }
    headers['host'] = authority;
    headers['x-forwarded-proto'] ??= 'http';
    // Envoy's default on sidecar outbound and gateway listeners: SANITIZE (an app cannot forge XFCC)
    applyXfcc(headers, undefined);
    if (isGateway) applyEdgeForwarding(headers, ctx.req.socket.remoteAddress ?? '', ctx.proxy.gatewayTopology?.numTrustedProxies);
    const retry = retryPolicyOf(route.retry);
    const timeoutMs = ctx.grpc ? this.grpcTimeout(ctx, headers, route.timeoutMs, retry.config.perTryTimeoutMs, true) : route.timeoutMs;
    if (!ctx.grpc && route.timeoutMs !== null) headers['x-envoy-expected-rq-timeout-ms'] = String(route.timeoutMs);
    headers[PEER_HEADER] = ctx.proxy.id;
    headers[CDN_LOOP_HEADER] = [...cdnLoopEntries(headers[CDN_LOOP_HEADER]), cdnIdOf(ctx.proxy.id)].join(', ');
    applyHeaderOps(headers, destHeaders?.request);
    applyHeaderOps(headers, route.headers?.request);
    // request mirroring, fire and forget, as Envoy's router: a copy goes out once the request is
    // complete, with the body held for it (none for a body over the buffer limit: see shadow-writer.ts)
    if (route.mirrors && route.mirrors.length > 0) {
      const shadow = (copy: Buffer | undefined): void =>
        sendShadows(ctx, route.mirrors, { method: ctx.req.method ?? 'GET', path, headers: { ...headers }, body: copy, timeoutMs: route.timeoutMs }, this.deps.clusters);
      if (body.complete) shadow(body.retained());
      else void body.whole().then(shadow);
    }
    const hash = this.hashKey(ctx, cluster, isGateway);
    if (cluster.config.kind === 'passthrough') ctx.why.push(`no service for ${authority}: passthrough to the original destination`);
    return this.terminal(ctx)(
      ctx,
      {
        cluster,
        method: ctx.req.method ?? 'GET',
        path,
        headers: headers as OutgoingHttpHeaders,
        body,
        retry,
        timeoutMs,
        responseHeaderOps: [destHeaders?.response, route.headers?.response, hash?.setCookie ? { add: { 'set-cookie': hash.setCookie } } : undefined],
        hashKey: hash?.key,
        attemptFault: route.fault && route.faultMode === 'upstream' ? route.fault : undefined,
        fixedEndpoint: cluster.config.kind === 'passthrough' || cluster.config.originalDestination ? passthroughEndpoint(authority, cluster.config.service?.port) : undefined,
        onEndpoint: (ep) => {
          if (cluster.config.kind === 'passthrough') return;
          // the transport to this endpoint: auto mTLS or the DestinationRule's tls (principals as Istio's source reporter fills them)
          const tls = cluster.tlsDecision(ep.config);
          ctx.upstreamSecurity = tls.kind === 'plaintext' ? 'none' : tls.mtls ? 'mutual_tls' : 'tls';
          if (!ctx.why.includes(tls.why)) ctx.why.push(tls.why);
          const mtls = tls.kind === 'tls' && tls.mtls;
          ctx.source = { ...ctx.source, principal: mtls ? (ctx.proxy.meta.identity ?? 'unknown') : 'unknown' };
          ctx.destination = {
            ...peerOf(ep.config.meta),
            principal: mtls ? (tls.peerIdentity ?? 'unknown') : 'unknown',
            service: ctx.destination.service,
            serviceName: ctx.destination.serviceName,
            serviceNamespace: ctx.destination.serviceNamespace,
            subset: ctx.destination.subset,
          };
        },
      },
    );
  }
}

/**
 * gRPC requests: the length-prefixed messages of the body as it streams, for
 * istio_request_messages_total.
 */
function countRequestMessages(ctx: RequestContext): void {
  const grpc = ctx.grpc;
  if (!grpc) return;
  const counter = new GrpcMessageCounter();
  ctx.body.tap((chunk) => {
    counter.push(chunk);
    grpc.requestMessages = counter.count;
  });
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** the original destination: the authority the caller asked for (its port, else `defaultPort`) */
function passthroughEndpoint(authority: string, defaultPort = 80): Endpoint {
  const m = /^(.*?)(?::(\d+))?$/.exec(authority);
  const host = (m?.[1] ?? authority).replace(/^\[|\]$/g, '');
  return new Endpoint({
    id: `passthrough:${authority}`,
    address: host,
    port: m?.[2] ? Number(m[2]) : defaultPort,
    healthy: true,
    meta: {
      workload: 'unknown',
      namespace: 'unknown',
      app: 'unknown',
      version: 'unknown',
      service: '',
      canonicalService: 'unknown',
      canonicalRevision: 'latest',
      principal: 'unknown',
      labels: {},
    },
  });
}
