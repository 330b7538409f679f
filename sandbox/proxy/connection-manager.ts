/**
 * HTTP connection manager: what happens to one request on one listener.
 *
 *   inbound  (reporter=destination): peer identity -> router -> local app (`inbound|<port>||`)
 *   outbound (reporter=source):      route table -> [redirect | direct response]
 *   gateway  (reporter=source):        or fault filter -> router -> cluster of the picked subset
 *
 * Every request ends in exactly one RequestEvent, emitted when the response closes.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { parseDuration } from '../config/duration.js';
import type { RequestEvent } from '../events.js';
import type { ListenerConfig, ProxyConfig, RouteEntryConfig } from '../control/snapshot.js';
import { RequestRandomness, type Rng } from '../rng.js';
import type { CompiledSnapshot } from './compiled-snapshot.js';
import { decideFault } from './filters/fault-filter.js';
import { decideInboundFaults } from './filters/mesh-fault-filter.js';
import { localReplies } from './local-reply.js';
import { RequestContext, peerOf, UNKNOWN_DESTINATION } from './request-context.js';
import { forward, HOP_BY_HOP } from './router.js';
import { applyHeaderOps, type HeaderMap } from './routing/header-ops.js';
import { isSelection, type RouteSelection } from './routing/route-table.js';
import type { RequestView } from './routing/request-view.js';
import { redirectTarget, rewritePath } from './routing/rewrite.js';
import type { Cluster, ClusterManager } from './upstream/cluster.js';
import { Endpoint } from './upstream/endpoint.js';
import { RetryPolicy } from './upstream/retry-policy.js';

/** Internal header carrying the calling proxy's id between sidecars (Istio's metadata exchange). */
export const PEER_HEADER = 'x-envoy-peer-metadata-id';
/** Requests bodies are buffered so they can be retried; beyond this they are refused with 413. */
export const MAX_BUFFERED_BODY = 16 * 1024 * 1024;

const NO_RETRY = new RetryPolicy({
  attempts: 0,
  perTryTimeoutMs: null,
  retryOn: [],
  retriableStatusCodes: [],
  retryIgnorePreviousHosts: true,
  backoffBaseMs: 25,
  isDefault: false,
});

const EMPTY = Buffer.alloc(0);

export interface ConnectionManagerDeps {
  current(): CompiledSnapshot;
  clusters: ClusterManager;
  rng: Rng;
  emit(event: RequestEvent): void;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large' | 'aborted'> {
  const te = req.headers['transfer-encoding'];
  const cl = req.headers['content-length'];
  if (te === undefined && (cl === undefined || cl === '0')) {
    req.resume();
    return Promise.resolve(EMPTY);
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        resolve('too-large');
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', () => resolve('aborted'));
    req.on('aborted', () => resolve('aborted'));
  });
}

/** `GET http://host:port/path` (forward-proxy form) or `GET /path` + Host */
function requestTarget(req: IncomingMessage): { path: string; authority: string } {
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

export class ConnectionManager {
  /** a generator per request, derived from the seed (so `--seed` replays concurrent traffic too) */
  private readonly randomness: RequestRandomness;

  constructor(private readonly deps: ConnectionManagerDeps) {
    this.randomness = new RequestRandomness(deps.rng.seed);
  }

  handle(listenerName: string, req: IncomingMessage, res: ServerResponse): void {
    const snap = this.deps.current();
    const listener = snap.listeners.get(listenerName);
    const proxy = listener ? snap.proxies.get(listener.proxyId) : undefined;
    if (!listener || !proxy) {
      // The listener left the configuration while this connection stayed open.
      res.writeHead(503, { 'content-type': 'text/plain', connection: 'close' });
      res.end('listener removed');
      return;
    }
    const target = requestTarget(req);
    const idHeader = req.headers['x-request-id'];
    const givenId = typeof idHeader === 'string' && idHeader.length > 0 ? idHeader : undefined;
    const rng = this.randomness.forRequest(listenerName, givenId);
    const requestId = givenId ?? rng.uuid();
    const authority = listener.boundHost ? `${listener.boundHost}:${listener.servicePort ?? 80}` : target.authority;
    const ctx = new RequestContext(req, res, snap.snapshot, proxy, listener, requestId, target.path, authority, rng);
    res.once('close', () => {
      const event = ctx.finish();
      if (event) this.deps.emit(event);
    });
    void this.process(ctx, snap, listener, proxy).catch((err: Error) => {
      ctx.why.push(`internal error: ${err.message}`);
      ctx.sendLocalReply({ status: 500, body: 'internal proxy error', details: 'internal_error' });
    });
  }

  private async process(ctx: RequestContext, snap: CompiledSnapshot, listener: ListenerConfig, proxy: ProxyConfig): Promise<void> {
    const body = await readBody(ctx.req, MAX_BUFFERED_BODY);
    if (body === 'aborted') {
      ctx.downstreamClosed = true;
      return;
    }
    if (body === 'too-large') {
      ctx.sendLocalReply(localReplies.payloadTooLarge());
      return;
    }
    ctx.bytesReceived = body.length;
    if (listener.kind === 'inbound') return this.inbound(ctx, snap, listener, proxy, body);
    return this.outbound(ctx, snap, listener, proxy, body);
  }

  private baseHeaders(ctx: RequestContext, body: Buffer): HeaderMap {
    const headers: HeaderMap = { ...ctx.req.headers };
    for (const h of HOP_BY_HOP) delete headers[h];
    delete headers[PEER_HEADER];
    headers['x-request-id'] = ctx.requestId;
    if (body.length > 0 || ctx.req.headers['content-length'] !== undefined) headers['content-length'] = String(body.length);
    return headers;
  }

  private async inbound(ctx: RequestContext, snap: CompiledSnapshot, listener: ListenerConfig, proxy: ProxyConfig, body: Buffer): Promise<void> {
    const peerId = ctx.req.headers[PEER_HEADER];
    const peer = typeof peerId === 'string' ? snap.proxies.get(peerId) : undefined;
    if (peer) ctx.source = peerOf(peer.meta);
    const service = snap.services.get(proxy.meta.service);
    ctx.destination = {
      ...peerOf(proxy.meta),
      service: service?.fqdn ?? 'unknown',
      serviceName: proxy.meta.service,
      serviceNamespace: proxy.meta.namespace,
    };
    const cluster = listener.inboundCluster ? this.deps.clusters.get(proxy.id, listener.inboundCluster) : undefined;
    if (!cluster) {
      ctx.sendLocalReply(localReplies.clusterNotFound());
      return;
    }
    ctx.routeName = 'default';
    ctx.why.push(`inbound to ${proxy.id}: local app via ${cluster.name}`);
    const faults = decideInboundFaults(snap.httpFaults.get(proxy.id), { method: ctx.req.method ?? 'GET', path: ctx.path, headers: ctx.req.headers }, ctx.source.workload, ctx.rng);
    if (faults) {
      ctx.why.push(...faults.why);
      if (faults.delayMs > 0) {
        ctx.flags.add('DI');
        await new Promise((r) => setTimeout(r, faults.delayMs));
        if (ctx.res.destroyed) {
          ctx.downstreamClosed = true;
          return;
        }
      }
      if (faults.abort) {
        ctx.sendLocalReply(faults.abort);
        return;
      }
      if (faults.resetRequest) {
        ctx.flags.add('FI');
        ctx.details = 'fault_filter_reset';
        ctx.resetDownstream('rst');
        return;
      }
      if (faults.response.reset || faults.response.slowBodyBps) ctx.flags.add('FI');
    }
    const headers = this.baseHeaders(ctx, body);
    if (!headers['x-forwarded-proto']) headers['x-forwarded-proto'] = 'http';
    return forward(
      ctx,
      {
        cluster,
        method: ctx.req.method ?? 'GET',
        path: ctx.path,
        headers: headers as OutgoingHttpHeaders,
        body,
        retry: NO_RETRY,
        timeoutMs: null,
        responseHeaderOps: [],
        responseFault: faults?.response,
        onEndpoint: () => undefined,
      },
    );
  }

  private async outbound(ctx: RequestContext, snap: CompiledSnapshot, listener: ListenerConfig, proxy: ProxyConfig, body: Buffer): Promise<void> {
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
    const selection = table?.select(view, lookupAuthority) ?? { why: ['no route configuration'] };
    ctx.why.push(...selection.why);
    if (!isSelection(selection)) {
      ctx.sendLocalReply(localReplies.noRoute());
      return;
    }
    const route = selection.route.config;
    ctx.routeName = route.name;
    const action = route.action;
    if (action.type === 'redirect') {
      const r = redirectTarget(action.redirect, { scheme: 'http', authority: ctx.authority, path: ctx.path, port });
      ctx.details = 'direct_response';
      ctx.status = r.status;
      ctx.responseStarted = true;
      ctx.res.writeHead(r.status, { location: r.location, 'content-length': 0, server: ctx.serverHeader() });
      ctx.res.end();
      return;
    }
    if (action.type === 'directResponse') {
      const text = action.bodyBase64 !== undefined ? Buffer.from(action.bodyBase64, 'base64').toString('latin1') : (action.body ?? '');
      ctx.sendLocalReply(localReplies.directResponse(action.status, text));
      return;
    }
    const picked = selection.route.pickDestination(ctx.rng);
    if (!picked) {
      ctx.sendLocalReply(localReplies.clusterNotFound());
      return;
    }
    ctx.why.push(picked.why);
    const dest = picked.destination;
    const svc = snap.hosts.get(dest.host);
    ctx.destination = {
      ...UNKNOWN_DESTINATION,
      service: svc?.fqdn ?? dest.host,
      serviceName: svc?.name ?? dest.host,
      serviceNamespace: svc?.namespace ?? 'unknown',
      subset: dest.subset,
    };

    if (route.fault && route.faultMode !== 'upstream') {
      const decision = decideFault(route.fault, ctx.rng, parseDuration);
      ctx.why.push(...decision.why);
      if (decision.delayMs > 0) {
        ctx.flags.add('DI');
        await new Promise((r) => setTimeout(r, decision.delayMs));
        if (ctx.res.destroyed) {
          ctx.downstreamClosed = true;
          return;
        }
      }
      if (decision.abort) {
        ctx.sendLocalReply(decision.abort);
        return;
      }
    }

    const cluster = this.deps.clusters.get(ctx.proxy.id, dest.clusterKey);
    if (!cluster) {
      ctx.upstreamCluster = dest.clusterName;
      ctx.why.push(`cluster ${dest.clusterName} does not exist (no DestinationRule defines subset ${dest.subset ?? '-'})`);
      ctx.sendLocalReply(localReplies.clusterNotFound());
      return;
    }
    await this.toCluster(ctx, route, selection, dest.headers, cluster, body, isGateway);
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
      const attrs = [`${hp.cookie.name}=${fresh}`, `Path=${hp.cookie.path ?? '/'}`, `Max-Age=${Math.round(hp.cookie.ttlMs / 1000)}`, 'HttpOnly'];
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
    body: Buffer,
    isGateway: boolean,
  ): Promise<void> {
    const headers = this.baseHeaders(ctx, body);
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
    if (isGateway) {
      const remote = ctx.req.socket.remoteAddress ?? '';
      const xff = headers['x-forwarded-for'];
      headers['x-forwarded-for'] = xff ? `${String(xff)}, ${remote}` : remote;
      headers['x-envoy-internal'] = 'true';
    }
    if (route.timeoutMs !== null) headers['x-envoy-expected-rq-timeout-ms'] = String(route.timeoutMs);
    headers[PEER_HEADER] = ctx.proxy.id;
    applyHeaderOps(headers, destHeaders?.request);
    applyHeaderOps(headers, route.headers?.request);
    const retry = new RetryPolicy(route.retry);
    const hash = this.hashKey(ctx, cluster, isGateway);
    if (cluster.config.kind === 'passthrough') ctx.why.push(`no service for ${authority}: passthrough to the original destination`);
    return forward(
      ctx,
      {
        cluster,
        method: ctx.req.method ?? 'GET',
        path,
        headers: headers as OutgoingHttpHeaders,
        body,
        retry,
        timeoutMs: route.timeoutMs,
        responseHeaderOps: [destHeaders?.response, route.headers?.response, hash?.setCookie ? { add: { 'set-cookie': hash.setCookie } } : undefined],
        hashKey: hash?.key,
        attemptFault: route.fault && route.faultMode === 'upstream' ? route.fault : undefined,
        fixedEndpoint: cluster.config.kind === 'passthrough' ? passthroughEndpoint(authority) : undefined,
        onEndpoint: (ep) => {
          if (cluster.config.kind === 'passthrough') return;
          ctx.destination = {
            ...peerOf(ep.config.meta),
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

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

function passthroughEndpoint(authority: string): Endpoint {
  const m = /^(.*?)(?::(\d+))?$/.exec(authority);
  const host = (m?.[1] ?? authority).replace(/^\[|\]$/g, '');
  return new Endpoint({
    id: `passthrough:${authority}`,
    address: host,
    port: m?.[2] ? Number(m[2]) : 80,
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
