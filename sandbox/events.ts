/**
 * The sandbox's event stream: everything the CLI, the TUI, metrics, the access log and chaos
 * assertions know about the mesh arrives here. Event types are `mesh:<noun>:<verb>`.
 *
 * Request events are produced in the data plane worker (one per request per reporting proxy,
 * as Istio's reporter=source/destination) and delivered in batches; everything else is produced
 * on the main thread.
 */
import { EventEmitter } from 'node:events';
import type { Finding } from './config/findings.js';

export interface PeerInfo {
  workload: string;
  namespace: string;
  app: string;
  version: string;
  principal: string;
  canonicalService: string;
  canonicalRevision: string;
}

export interface DestinationInfo extends PeerInfo {
  /** FQDN, e.g. `callme-service.default.svc.cluster.local` (or `PassthroughCluster`) */
  service: string;
  serviceName: string;
  serviceNamespace: string;
  subset?: string;
}

/**
 * The route decision of an outbound or gateway hop, by reference into the snapshot the request
 * ran on (`snapshotVersion`): which route configuration, what it looked up, and which virtual
 * host, route and match block were picked. The request's `why` holds the matched route's line
 * only; the reasons every earlier route was skipped are rendered when someone asks
 * (sandbox/proxy/routing/route-explainer.ts: the TUI's request detail).
 */
export interface RouteRef {
  /** route configuration name: `outbound/<proxy>`, `gateway/http.80` */
  config: string;
  /** the authority the virtual host was looked up by (the gateway's: without port) */
  authority: string;
  /** the destination port matched against `port` conditions */
  port: number;
  /** virtual host index in the configuration, -1 when none serves the authority */
  virtualHost: number;
  /** route index in the virtual host, -1 when none matched (404 NR) */
  route: number;
  /** the match block that matched, -1 when the route has none */
  match: number;
  /** routes tried and skipped before the decision (a miss: every route of the virtual host) */
  skipped: number;
}

/** One HTTP request seen by one proxy: the fields of Istio's access log and metric labels. */
export interface RequestEvent {
  type: 'mesh:request:end';
  reporter: 'source' | 'destination';
  /** proxy id: instance id of a sidecar or `istio-ingressgateway` */
  proxy: string;
  listener: 'inbound' | 'outbound' | 'gateway';
  /** epoch ms */
  startTime: number;
  durationMs: number;
  method: string;
  /** original path (before any rewrite), with query */
  path: string;
  authority: string;
  protocol: string;
  requestId: string;
  userAgent: string;
  forwardedFor: string;
  /** 0 when no response was sent */
  status: number;
  /** Envoy short flags joined by ',' or '-' */
  responseFlags: string;
  responseCodeDetails: string;
  bytesReceived: number;
  bytesSent: number;
  upstreamServiceTimeMs?: number;
  upstreamHost?: string;
  upstreamCluster?: string;
  upstreamTransportFailureReason?: string;
  downstreamLocalAddress: string;
  downstreamRemoteAddress: string;
  routeName?: string;
  /** upstream attempts made (1 = no retry; 0 = none, e.g. local reply) */
  attempts: number;
  source: PeerInfo;
  destination: DestinationInfo;
  /** instance id of the endpoint that answered last */
  endpoint?: string;
  /**
   * why the request went where it went (route match, weighted pick, retries, faults); the lines
   * of the route match come first, without the routes skipped before it (see `route`)
   */
  why: string[];
  /** outbound and gateway hops: the route decision, by reference (see RouteRef) */
  route?: RouteRef;
  /**
   * a mirrored copy (VirtualService `mirror`), reported by the mirror destination's inbound
   * sidecar: the proxy that sent it. The sender reports no event for the copy (as in Istio).
   */
  shadowOf?: string;
  /** request headers as received by this proxy (lower-case names) */
  requestHeaders: Record<string, string>;
  /** snapshot version the request ran on */
  snapshotVersion: number;
  /**
   * the security of this hop's connection, as Istio's `connection_security_policy`: on the
   * destination side the downstream connection (`mutual_tls` or `none`), on the source side the
   * upstream one the sidecar opened (`mutual_tls`, `tls` for DestinationRule SIMPLE, or `none`)
   */
  connectionSecurity?: 'mutual_tls' | 'tls' | 'none';
  /** this proxy's span (ids decided on the request path; see sandbox/telemetry/tracing) */
  trace?: RequestTrace;
  /**
   * the protocol the request switched to (`websocket`), when the upstream answered 101: the
   * event then covers the whole upgraded stream (its bytes both ways and its duration), emitted
   * when the stream closed, as Envoy logs an upgraded stream at its end
   */
  upgrade?: string;
  /**
   * gRPC requests only (content-type application/grpc): the response's `grpc-status` (Envoy's
   * rule: trailers, else the headers of a trailers-only response, else mapped from the HTTP
   * status; absent when nothing was sent), its `grpc-message`, and the length-prefixed messages
   * counted each way (Istio's istio_request_messages_total / istio_response_messages_total)
   */
  grpc?: { status?: number; message?: string; requestMessages: number; responseMessages: number };
}

/**
 * An HTTP/1.1 upgrade (WebSocket) switched protocols at one proxy: the upstream's 101 went to
 * the client and the stream is open. Its `mesh:request:end` (status 101, same proxy and request
 * id) arrives when the stream closes; this event lets a view show the stream while it is open.
 */
export interface UpgradeEvent {
  type: 'mesh:request:upgraded';
  /** epoch ms of the switch */
  time: number;
  reporter: 'source' | 'destination';
  proxy: string;
  listener: 'inbound' | 'outbound' | 'gateway';
  /** epoch ms the request started (the `startTime` its end event will carry) */
  startTime: number;
  requestId: string;
  method: string;
  path: string;
  authority: string;
  /** the protocol switched to (`websocket`) */
  upgrade: string;
  upstreamCluster?: string;
  endpoint?: string;
  source: PeerInfo;
  destination: DestinationInfo;
}

/**
 * One TCP connection seen by one proxy (Envoy's tcp_proxy; Istio's TCP metrics and TCP access
 * log): `mesh:tcp:open` once its upstream connection is made (or failed), `mesh:tcp:close` when
 * it ends, with the bytes both ways. A connection the proxy refuses (no route, circuit breaker,
 * no healthy or unreachable upstream) gets both at once, with its response flag.
 */
export interface TcpConnectionEvent {
  type: 'mesh:tcp:open' | 'mesh:tcp:close';
  /** the same on a connection's open and close events */
  connectionId: string;
  reporter: 'source' | 'destination';
  /** proxy id: instance id of a sidecar or `istio-ingressgateway` */
  proxy: string;
  listener: 'inbound' | 'outbound' | 'gateway';
  /** epoch ms, when the downstream connection was accepted */
  startTime: number;
  /** close: how long the connection lasted; open: how long connecting took */
  durationMs: number;
  /** bytes read from the downstream connection (its client) */
  bytesReceived: number;
  /** bytes written to the downstream connection */
  bytesSent: number;
  /** Envoy short flags joined by ',' or '-': UF (connect failure), UO (maxConnections), UH, NR, NC */
  responseFlags: string;
  /** why the connection ended, in words (who closed, reset) */
  terminationDetails?: string;
  /** Envoy's %CONNECTION_TERMINATION_DETAILS%, when a filter closed it (`rbac_access_denied_matched_policy[...]`) */
  connectionTerminationDetails?: string;
  upstreamHost?: string;
  upstreamCluster?: string;
  upstreamTransportFailureReason?: string;
  upstreamLocalAddress?: string;
  downstreamLocalAddress: string;
  downstreamRemoteAddress: string;
  /** the ClientHello's SNI (TLS ports) */
  requestedServerName?: string;
  /** the route's origin (`VirtualService default/tcp-echo tcp[0]`) */
  routeName?: string;
  source: PeerInfo;
  destination: DestinationInfo;
  /** instance id of the endpoint connected to */
  endpoint?: string;
  /** as RequestEvent.connectionSecurity */
  connectionSecurity?: 'mutual_tls' | 'tls' | 'none';
  /** route match, weighted pick, transport, how it ended */
  why: string[];
  snapshotVersion: number;
}

/** One upstream attempt of a request, for its span (an event per attempt). */
export interface AttemptRecord {
  attempt: number;
  endpoint: string;
  /** epoch ms */
  startTime: number;
  durationMs: number;
  /** the status it got (0: none) */
  status: number;
  /** what failed, when no response came (connect-failure, per-try-timeout, reset, ...) */
  failure?: string;
  /** the fault injected into this attempt, when one fired */
  fault?: string;
}

/** The span a proxy made for one request: ids as sent on (traceparent / B3), attempts, faults. */
export interface RequestTrace {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  sampled: boolean;
  /** Envoy's operation name: the route decorator `<host>:<port>/*` */
  operation: string;
  /** where the context came from: an incoming header, or started here */
  from: 'traceparent' | 'b3' | 'x-b3' | 'new';
  /** an incoming trace header was malformed and replaced (why) */
  replaced?: string;
  attempts: AttemptRecord[];
  /** the fault that fired on this hop (before any attempt), in one line */
  fault?: string;
}

export interface WorkloadEvent {
  type:
    | 'mesh:workload:starting'
    | 'mesh:workload:started'
    | 'mesh:workload:healthy'
    | 'mesh:workload:unhealthy'
    | 'mesh:workload:exited'
    | 'mesh:workload:restarting'
    | 'mesh:workload:stopped';
  time: number;
  instance: string;
  workload: string;
  service: string;
  version: string;
  pid?: number;
  port?: number;
  exitCode?: number | null;
  signal?: string | null;
  /** for restarting: the back-off before the next start */
  delayMs?: number;
  reason?: string;
}

export interface LogEvent {
  type: 'mesh:workload:log';
  time: number;
  instance: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

export interface ConfigAppliedEvent {
  type: 'mesh:config:applied';
  time: number;
  version: number;
  /** resources added/changed/removed since the previous version (`VirtualService default/x`) */
  changed: string[];
  warnings: Finding[];
}

export interface ConfigRejectedEvent {
  type: 'mesh:config:rejected';
  time: number;
  findings: Finding[];
}

export interface ListenerEvent {
  type: 'mesh:listener:ready';
  time: number;
  name: string;
  address: string;
  port: number;
}

export interface SandboxEvent {
  type: 'mesh:sandbox:starting' | 'mesh:sandbox:ready' | 'mesh:sandbox:stopping' | 'mesh:sandbox:stopped';
  time: number;
  message: string;
}

export interface NoticeEvent {
  type: 'mesh:notice';
  time: number;
  level: 'info' | 'warn' | 'error';
  message: string;
  hint?: string;
}

export interface FaultEvent {
  type: 'mesh:fault:added' | 'mesh:fault:removed';
  time: number;
  name: string;
  origin: 'runtime' | 'file';
  /** what the fault does, in one line */
  summary: string;
  /** removed: why */
  reason?: 'deleted' | 'expired' | 'cleared' | 'replaced';
}

/** Outlier detection ejected a host or let it back (reported by the data plane). */
export interface OutlierEvent {
  type: 'mesh:outlier:ejected' | 'mesh:outlier:returned';
  time: number;
  /** the calling proxy whose cluster ejected the host (Envoy's outlier detection is per proxy) */
  proxy?: string;
  cluster: string;
  endpoint: string;
  /** why it was ejected (e.g. `5 consecutive 5xx`) */
  reason?: string;
  /** how long it stays out */
  ejectionMs?: number;
  /** how many times this host has been ejected */
  ejections?: number;
}

/** A Docker image a workload needs: built (or pulled, with --pull) before its containers start. */
export interface ImageEvent {
  type: 'mesh:image:build';
  time: number;
  /** the image reference, e.g. `meshbox/callme-service:3f2a9c1e0b7d` */
  image: string;
  /** start, a progress line (a build step, a pull status), done, up to date (cached), failed */
  phase: 'start' | 'progress' | 'done' | 'cached' | 'failed';
  message: string;
  durationMs?: number;
}

export type MeshEvent =
  | RequestEvent
  | UpgradeEvent
  | TcpConnectionEvent
  | WorkloadEvent
  | LogEvent
  | ConfigAppliedEvent
  | ConfigRejectedEvent
  | ListenerEvent
  | SandboxEvent
  | NoticeEvent
  | ImageEvent
  | FaultEvent
  | OutlierEvent;

export type MeshEventType = MeshEvent['type'];
/** the event type(s) whose `type` can be T (an interface may carry several types, e.g. TcpConnectionEvent) */
export type EventOf<T extends MeshEventType> = MeshEvent extends infer E ? (E extends { type: infer U } ? (T extends U ? E : never) : never) : never;

/** A typed, synchronous event bus. Subscribers must be cheap: request events arrive at full rate. */
export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(100);
  }

  emit(event: MeshEvent): void {
    this.emitter.emit(event.type, event);
    this.emitter.emit('*', event);
  }

  on<T extends MeshEventType>(type: T, listener: (event: EventOf<T>) => void): () => void {
    this.emitter.on(type, listener as (e: MeshEvent) => void);
    return () => this.emitter.off(type, listener as (e: MeshEvent) => void);
  }

  /** every event, in order */
  onAny(listener: (event: MeshEvent) => void): () => void {
    this.emitter.on('*', listener);
    return () => this.emitter.off('*', listener);
  }
}
