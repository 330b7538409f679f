/**
 * Per-request state shared by the HTTP connection manager, the filters and the router, and
 * turned into one RequestEvent when the request ends.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { HeaderMap } from './routing/header-ops.js';
import type { AttemptRecord, DestinationInfo, PeerInfo, RequestEvent, RouteRef } from '../events.js';
import type { SpanContextInfo } from '../telemetry/tracing/trace-context.js';
import type { ListenerConfig, MeshSnapshot, ProxyConfig, WorkloadMeta } from '../control/snapshot.js';
import type { Rng } from '../rng.js';
import { RequestBody } from './body/request-body.js';
import { closeAfterReply } from './listener.js';
import { ResponseFlags, type LocalReply } from './local-reply.js';
import type { UpgradeRequest } from './upgrade/upgrade-request.js';
import { protocolOf, resetStream, responseFinished, sendResponse, type DownstreamRequest, type DownstreamResponse } from './downstream.js';
import { httpToGrpcStatus, isGrpcRequest, percentEncodeGrpcMessage } from './grpc/grpc-status.js';

/** what a gRPC request's hop saw of gRPC (Istio's grpc_response_status, the message counts) */
export interface GrpcState {
  /** `grpc-status` of the response (trailers, or the headers of a trailers-only response) */
  status?: number;
  message?: string;
  requestMessages: number;
  responseMessages: number;
}

export const UNKNOWN_PEER: PeerInfo = {
  workload: 'unknown',
  namespace: 'unknown',
  app: 'unknown',
  version: 'unknown',
  principal: 'unknown',
  canonicalService: 'unknown',
  canonicalRevision: 'latest',
};

export const UNKNOWN_DESTINATION: DestinationInfo = {
  ...UNKNOWN_PEER,
  service: 'unknown',
  serviceName: 'unknown',
  serviceNamespace: 'unknown',
};

export function peerOf(meta: WorkloadMeta): PeerInfo {
  return {
    workload: meta.workload,
    namespace: meta.namespace,
    app: meta.app,
    version: meta.version,
    principal: meta.principal,
    canonicalService: meta.canonicalService,
    canonicalRevision: meta.canonicalRevision,
  };
}

const EMPTY_BODY = RequestBody.empty();

export class RequestContext {
  readonly startTime = Date.now();
  readonly startMono = performance.now();
  readonly flags = new ResponseFlags();
  details = 'via_upstream';
  status = 0;
  attempts = 0;
  bytesReceived = 0;
  bytesSent = 0;
  upstreamServiceTimeMs: number | undefined;
  upstreamHost: string | undefined;
  upstreamCluster: string | undefined;
  upstreamFailure: string | undefined;
  endpointId: string | undefined;
  routeName: string | undefined;
  source: PeerInfo = UNKNOWN_PEER;
  destination: DestinationInfo = UNKNOWN_DESTINATION;
  readonly why: string[] = [];
  /** the route decision (outbound and gateway hops), by reference */
  route: RouteRef | undefined;
  /** set once the response head went out: timeouts can then only reset the stream */
  responseStarted = false;
  /** the client went away before the response ended (Envoy: `DC`, `downstream_remote_disconnect`) */
  downstreamClosed = false;
  /**
   * inbound over mTLS: the client's identity in Istio's principal form
   * (`cluster.local/ns/<ns>/sa/<sa>`, its SPIFFE id without `spiffe://`); AuthorizationPolicy
   * `principals` match it. Undefined on plaintext connections.
   */
  peerPrincipal?: string;
  /** inbound: how the downstream connection is secured (PeerAuthentication decides what is accepted) */
  connectionSecurity: 'mutual_tls' | 'none' = 'none';
  /** outbound: how the upstream connection to the picked endpoint is secured */
  upstreamSecurity: 'mutual_tls' | 'tls' | 'none' | undefined;
  /** the proxy cut the downstream itself (a fault, a timeout mid-response): not the client's doing */
  private resetByProxy = false;
  /** what the request is waiting for (set by the router), for the explanation when the client leaves */
  stage: string | undefined;
  private finished = false;
  /** this proxy's span context (decided by the connection manager; absent for tracing off) */
  trace: SpanContextInfo | undefined;
  /** the operation name of the span: Envoy's route decorator `<host>:<port>/*` */
  operation: string | undefined;
  /** upstream attempts with their timings, for the span */
  readonly attemptLog: AttemptRecord[] = [];
  /** the fault that fired on this hop before any attempt, in one line (for the span) */
  fault: string | undefined;
  /** the fault injected into the attempt running now (fault-as-upstream mode) */
  attemptFault: string | undefined;
  /** the request body, streamed (set by the connection manager; empty until then) */
  body: RequestBody = EMPTY_BODY;
  /** Envoy's delayed_close_timeout, for a connection closed after its response */
  delayedCloseMs = 1_000;
  private cancelHooks: Array<() => void> | undefined;
  /** an HTTP/1.1 upgrade request (WebSocket): its stream is proxied by ./upgrade/upgrade-proxy.ts */
  upgrade: UpgradeRequest | undefined;
  /** request headers an HTTP filter adds to what goes upstream (outbound and gateway; inbound filters edit their own map) */
  upstreamRequestHeaders: HeaderMap | undefined;
  /** inbound: this request is a mirrored copy sent by that proxy (VirtualService mirror) */
  shadowOf: string | undefined;
  /** response-header encoders of the HTTP filters that decoded this request (Envoy's encoder half), in the order they registered */
  private readonly encoders: Array<(headers: HeaderMap) => void> = [];
  /** Envoy's %PROTOCOL%: `HTTP/1.1`, `HTTP/1.0` or `HTTP/2` */
  readonly protocol: string;
  /** set for gRPC requests (content-type application/grpc): local replies are gRPC, statuses are read */
  readonly grpc: GrpcState | undefined;

  constructor(
    readonly req: DownstreamRequest,
    readonly res: DownstreamResponse,
    readonly snapshot: MeshSnapshot,
    readonly proxy: ProxyConfig,
    readonly listener: ListenerConfig,
    readonly requestId: string,
    /** path as received, before any rewrite */
    readonly path: string,
    readonly authority: string,
    /** this request's own random generator (see RequestRandomness in ../rng.ts) */
    readonly rng: Rng,
  ) {
    this.protocol = protocolOf(req);
    this.grpc = isGrpcRequest(req.headers) ? { requestMessages: 0, responseMessages: 0 } : undefined;
    // Registered before anyone else's `close` listener, so the event and the router both know
    // who closed the stream: a response that did not finish and that the proxy did not cut was
    // abandoned by the client.
    res.once('close', () => {
      // the request is over: its body is no longer held (nor read into memory)
      this.body.discard();
      // (an upgraded stream says itself how it ended: ./upgrade/upgrade-proxy.ts)
      if (responseFinished(req, res) || this.resetByProxy || this.upgrade?.switched) return;
      this.downstreamClosed = true;
      this.why.push(`the client went away${this.stage ? ` ${this.stage}` : ''} before the response ended: the request is cancelled, never re-sent`);
    });
  }

  /** `cb` runs when the proxy ends the request itself (a timeout's local reply): the router resets its upstream attempt */
  onCancel(cb: () => void): () => void {
    (this.cancelHooks ??= []).push(cb);
    return () => {
      const i = this.cancelHooks?.indexOf(cb) ?? -1;
      if (i >= 0) this.cancelHooks!.splice(i, 1);
    };
  }

  /** the connection manager ends the request before the router did (stream idle timeout) */
  cancelUpstream(): void {
    const hooks = this.cancelHooks ?? [];
    this.cancelHooks = undefined;
    for (const cb of hooks) cb();
  }

  /**
   * The proxy resets the client's stream (`rst`: a TCP RST, as a fault does; on HTTP/2 the
   * stream alone); it is not logged as DC.
   */
  resetDownstream(how: 'close' | 'rst' = 'close'): void {
    this.resetByProxy = true;
    resetStream(this.req, this.res, how);
  }

  /**
   * A response that starts before the request body ended closes an HTTP/1 connection after it, as
   * Envoy's connection manager does (`connection: close`, then a delayed close that drains what
   * the client still sends): the connection cannot carry another request while this one's body
   * is unread. The rest of the body is read and dropped, never forwarded once the response ends.
   */
  closeIfRequestIncomplete(headers: Record<string, string | number | string[] | undefined>): void {
    if (this.body.complete || this.req.complete || this.req.httpVersionMajor >= 2) return;
    headers['connection'] = 'close';
    closeAfterReply(this.req.socket as Socket, this.delayedCloseMs);
  }


  /** An HTTP filter's encoder: it sees the response headers of whatever answer goes out from now on. */
  addEncoder(encode: (headers: HeaderMap) => void): void {
    this.encoders.push(encode);
  }

  /** Runs the encoders on response headers about to be written (Envoy runs encoder filters last-first). */
  encodeHeaders(headers: HeaderMap): void {
    for (let i = this.encoders.length - 1; i >= 0; i--) this.encoders[i]!(headers);
  }

  /**
   * Sends an Envoy local reply (text/plain, Envoy's body), unless a response already started.
   * A gRPC request gets it as Envoy converts it: a trailers-only response, `:status 200`,
   * `grpc-status` (the reply's, else mapped from its HTTP status) and `grpc-message` (its body).
   */
  sendLocalReply(reply: LocalReply, extraHeaders: Record<string, string> = {}): void {
    this.flags.add(reply.flag);
    this.details = reply.details;
    if (this.responseStarted || this.res.headersSent) {
      this.resetDownstream();
      return;
    }
    this.responseStarted = true;
    if (this.grpc) {
      const grpcStatus = reply.grpcStatus ?? httpToGrpcStatus(reply.status);
      const headers: OutgoingHttpHeaders = {
        ...reply.headers,
        ...extraHeaders,
        'content-type': 'application/grpc',
        'grpc-status': String(grpcStatus),
        ...(reply.body.length > 0 ? { 'grpc-message': percentEncodeGrpcMessage(reply.body) } : {}),
        date: new Date().toUTCString(),
        server: this.serverHeader(),
      };
      if (this.protocol !== 'HTTP/2') headers['content-length'] = 0;
      this.status = 200;
      this.grpc.status = grpcStatus;
      this.grpc.message = reply.body.length > 0 ? reply.body : undefined;
      this.encodeHeaders(headers as HeaderMap);
      sendResponse(this.req, this.res, 200, headers);
      if (!this.body.complete) this.body.discard();
      return;
    }
    this.status = reply.status;
    const body = Buffer.from(reply.body);
    const headers: HeaderMap = {
      ...reply.headers,
      ...extraHeaders,
      'content-length': String(body.length),
      date: new Date().toUTCString(),
      server: this.serverHeader(),
    };
    if (body.length > 0) headers['content-type'] = 'text/plain';
    this.closeIfRequestIncomplete(headers);
    this.encodeHeaders(headers);
    sendResponse(this.req, this.res, reply.status, headers as OutgoingHttpHeaders, body);
    this.bytesSent += body.length;
    // nothing of the request goes upstream after a local reply
    if (!this.body.complete) this.body.discard();
  }

  /** Istio overwrites `server`: `envoy` on outbound sidecars, `istio-envoy` on inbound and gateways */
  serverHeader(): string {
    return this.listener.kind === 'outbound' ? 'envoy' : 'istio-envoy';
  }

  /** Builds the event once; later calls return undefined. */
  finish(): RequestEvent | undefined {
    if (this.finished) return undefined;
    this.finished = true;
    if (this.downstreamClosed && !responseFinished(this.req, this.res)) {
      // Envoy: the code already sent (0 if none), flag DC, details downstream_remote_disconnect
      this.flags.add('DC');
      this.details = 'downstream_remote_disconnect';
    }
    const req = this.req;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    return {
      type: 'mesh:request:end',
      reporter: this.listener.kind === 'inbound' ? 'destination' : 'source',
      proxy: this.proxy.id,
      listener: this.listener.kind,
      startTime: this.startTime,
      durationMs: Math.round((performance.now() - this.startMono) * 1000) / 1000,
      method: req.method ?? 'GET',
      path: this.path,
      authority: this.authority,
      protocol: this.protocol,
      requestId: this.requestId,
      userAgent: headers['user-agent'] ?? '-',
      forwardedFor: headers['x-forwarded-for'] ?? '-',
      status: this.status,
      responseFlags: this.flags.toString(),
      responseCodeDetails: this.details,
      bytesReceived: Math.max(this.bytesReceived, this.body.received),
      bytesSent: this.bytesSent,
      upstreamServiceTimeMs: this.upstreamServiceTimeMs,
      upstreamHost: this.upstreamHost,
      upstreamCluster: this.upstreamCluster,
      upstreamTransportFailureReason: this.upstreamFailure,
      downstreamLocalAddress: `${req.socket.localAddress ?? '-'}:${req.socket.localPort ?? 0}`,
      downstreamRemoteAddress: `${req.socket.remoteAddress ?? '-'}:${req.socket.remotePort ?? 0}`,
      routeName: this.routeName,
      attempts: this.attempts,
      source: this.source,
      destination: this.destination,
      endpoint: this.endpointId,
      why: [...this.why],
      ...(this.route ? { route: this.route } : {}),
      ...(this.shadowOf ? { shadowOf: this.shadowOf } : {}),
      requestHeaders: headers,
      snapshotVersion: this.snapshot.version,
      ...(this.upgrade?.switched ? { upgrade: this.upgrade.protocol.toLowerCase() } : {}),
      connectionSecurity: this.listener.kind === 'inbound' ? this.connectionSecurity : (this.upstreamSecurity ?? 'none'),
      ...(this.grpc
        ? {
            grpc: {
              // Envoy's getGrpcStatus: trailers, then headers, else mapped from the HTTP status sent (none: unknown)
              ...(this.grpc.status !== undefined ? { status: this.grpc.status } : this.status !== 0 ? { status: httpToGrpcStatus(this.status) } : {}),
              ...(this.grpc.message !== undefined ? { message: this.grpc.message } : {}),
              requestMessages: this.grpc.requestMessages,
              responseMessages: this.grpc.responseMessages,
            },
          }
        : {}),
      ...(this.trace
        ? {
            trace: {
              traceId: this.trace.traceId,
              spanId: this.trace.spanId,
              ...(this.trace.parentSpanId ? { parentSpanId: this.trace.parentSpanId } : {}),
              sampled: this.trace.sampled,
              operation: this.operation ?? `${this.authority}/*`,
              from: this.trace.from,
              ...(this.trace.replaced ? { replaced: this.trace.replaced } : {}),
              attempts: this.attemptLog,
              ...(this.fault ? { fault: this.fault } : {}),
            },
          }
        : {}),
    };
  }
}
