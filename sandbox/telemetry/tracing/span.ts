/**
 * The span model, built on the main thread from a proxy's RequestEvent (its ids were decided on
 * the request path, see ./trace-context.ts). Tags are Envoy's and Istio's, as a Zipkin or Jaeger
 * back-end shows them for an Istio mesh.
 */
import type { RequestEvent } from '../../events.js';
import type { CustomTagConfig, TracingConfig } from '../../control/snapshot.js';

export type SpanKind = 'client' | 'server';

export interface SpanEvent {
  /** epoch microseconds */
  timeUs: number;
  name: string;
  attributes: Record<string, string | number>;
}

export interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  /** Envoy's operation name: `<host>:<port>/*` */
  name: string;
  kind: SpanKind;
  /** epoch microseconds */
  startUs: number;
  durationUs: number;
  /** the proxy that made it (Envoy's node) */
  proxy: string;
  /** the workload's canonical service (Zipkin's localEndpoint.serviceName) */
  service: string;
  tags: Record<string, string>;
  events: SpanEvent[];
  error: boolean;
  /** upstream attempts (client spans) */
  attempts: number;
  /** the request id (`guid:x-request-id`) */
  requestId: string;
}

export const MESH_ID = 'cluster.local';

/** Istio's node id: `sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local` (gateways: `router~...`) */
export function nodeIdOf(e: RequestEvent): string {
  const self = e.reporter === 'destination' ? e.destination : e.source;
  const kind = e.listener === 'gateway' ? 'router' : 'sidecar';
  // the address the proxy serves on (every proxy of the sandbox is on loopback)
  const ip = e.downstreamLocalAddress.replace(/:\d+$/, '');
  return `${kind}~${ip}~${e.proxy}.${self.namespace}~${self.namespace}.svc.${MESH_ID}`;
}

function customTag(tag: CustomTagConfig, e: RequestEvent): string | undefined {
  if ('literal' in tag) return tag.literal;
  if ('header' in tag) return e.requestHeaders[tag.header] ?? tag.defaultValue;
  return process.env[tag.environment] ?? tag.defaultValue;
}

/** the span of one request at one proxy; undefined when it carries no trace or is not sampled */
export function spanOf(e: RequestEvent, tracing?: TracingConfig): Span | undefined {
  const t = e.trace;
  if (!t || !t.sampled) return undefined;
  // Envoy: a sidecar's inbound hop and a gateway are the server side; an outbound hop the client
  const kind: SpanKind = e.listener === 'outbound' ? 'client' : 'server';
  const self = e.reporter === 'destination' ? e.destination : e.source;
  const error = e.status >= 500 || e.status === 0;
  const tags: Record<string, string> = {
    component: 'proxy',
    node_id: nodeIdOf(e),
    'guid:x-request-id': e.requestId,
    'http.url': `http://${e.authority}${e.path}`,
    'http.method': e.method,
    'downstream_cluster': '-',
    'user_agent': e.userAgent,
    'http.protocol': e.protocol,
    'peer.address': e.downstreamRemoteAddress.replace(/:\d+$/, ''),
    'request_size': String(e.bytesReceived),
    'response_size': String(e.bytesSent),
    'http.status_code': String(e.status),
    'response_flags': e.responseFlags,
    'istio.canonical_service': self.canonicalService,
    'istio.canonical_revision': self.canonicalRevision,
    'istio.mesh_id': MESH_ID,
    'istio.namespace': self.namespace,
  };
  if (e.upstreamCluster) {
    tags['upstream_cluster'] = e.upstreamCluster;
    tags['upstream_cluster.name'] = e.upstreamCluster;
  }
  if (e.upstreamHost) tags['upstream_address'] = e.upstreamHost;
  if (error) tags['error'] = 'true';
  if (t.fault) tags['fault'] = t.fault;
  if (e.responseFlags !== '-' && e.responseCodeDetails) tags['response_code_details'] = e.responseCodeDetails;
  if (t.replaced) tags['meshbox.trace_context_replaced'] = t.replaced;
  const custom = tracing?.customTags?.[e.proxy] ?? tracing?.customTags?.['*'];
  for (const [name, cfg] of Object.entries(custom ?? {})) {
    const v = customTag(cfg, e);
    if (v !== undefined) tags[name] = v;
  }
  const startUs = Math.round(e.startTime * 1000);
  const events: SpanEvent[] = [];
  if (t.fault) events.push({ timeUs: startUs, name: `fault injected: ${t.fault}`, attributes: { response_flags: e.responseFlags } });
  for (const a of t.attempts) {
    events.push({
      timeUs: Math.round(a.startTime * 1000),
      name: `attempt ${a.attempt}`,
      attributes: {
        'meshbox.attempt': a.attempt,
        'meshbox.endpoint': a.endpoint,
        'meshbox.duration_ms': a.durationMs,
        'http.status_code': a.status,
        ...(a.failure ? { 'meshbox.failure': a.failure } : {}),
        ...(a.fault ? { fault: a.fault } : {}),
      },
    });
  }
  return {
    traceId: t.traceId,
    spanId: t.spanId,
    ...(t.parentSpanId ? { parentSpanId: t.parentSpanId } : {}),
    name: t.operation,
    kind,
    startUs,
    durationUs: Math.max(1, Math.round(e.durationMs * 1000)),
    proxy: e.proxy,
    service: e.listener === 'gateway' ? 'istio-ingressgateway.istio-system' : `${self.canonicalService}.${self.namespace}`,
    tags,
    events,
    error,
    attempts: e.attempts,
    requestId: e.requestId,
  };
}
