/**
 * Wire formats, from their published specifications:
 * - OTLP/HTTP JSON (opentelemetry-proto, `ExportTraceServiceRequest`, POST `/v1/traces`,
 *   `Content-Type: application/json`): ids as hex strings, 64-bit integers as decimal strings,
 *   enums as numbers (SPAN_KIND_SERVER 2, SPAN_KIND_CLIENT 3; STATUS_CODE_ERROR 2).
 * - Zipkin v2 JSON (zipkin2 API, POST `/api/v2/spans`): a list of spans, microsecond times,
 *   `kind` CLIENT/SERVER, tags as strings, annotations.
 * - Jaeger query's `/api/traces` JSON (what the Jaeger UI reads): traces with spans, `references`
 *   (CHILD_OF), tags and logs, processes by id.
 */
import type { Span } from './span.js';
import type { StoredTrace } from './trace-store.js';

/*
 * The two export encoders write their JSON text directly (no intermediate objects): they run for
 * every sampled span, and building attribute wrapper objects cost more than the rest of a span.
 */
const q = JSON.stringify;

/** an OTLP AnyValue: strings, ints as decimal strings (int64 in proto3 JSON), doubles, bools */
function otlpValue(v: string | number | boolean): string {
  if (typeof v === 'boolean') return `{"boolValue":${v}}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `{"intValue":"${v}"}` : `{"doubleValue":${v}}`;
  return `{"stringValue":${q(v)}}`;
}

function otlpAttributes(map: Record<string, string | number | boolean>): string {
  let out = '';
  for (const k in map) out += `${out ? ',' : ''}{"key":${q(k)},"value":${otlpValue(map[k]!)}}`;
  return `[${out}]`;
}

/** epoch microseconds as nanoseconds, in decimal (beyond 2^53: no float arithmetic) */
const usToNanos = (us: number): string => `${Math.round(us)}000`;

/**
 * Most tags repeat from span to span (a proxy's node_id, cluster, canonical service...): their
 * encoded text is kept, up to TAG_CACHE entries (then the cache starts again).
 */
const TAG_CACHE = 4096;
const tagCache = new Map<string, string>();

function otlpTag(k: string, v: string): string {
  const key = `${k}\u0000${v}`;
  let text = tagCache.get(key);
  if (text === undefined) {
    const value = k === 'http.status_code' && /^\d+$/.test(v) ? `{"intValue":"${v}"}` : `{"stringValue":${q(v)}}`;
    text = `{"key":${q(k)},"value":${value}}`;
    if (tagCache.size >= TAG_CACHE) tagCache.clear();
    tagCache.set(key, text);
  }
  return text;
}

function otlpSpan(s: Span): string {
  let events = '';
  for (const e of s.events) events += `${events ? ',' : ''}{"timeUnixNano":"${usToNanos(e.timeUs)}","name":${q(e.name)},"attributes":${otlpAttributes(e.attributes)}}`;
  // Envoy's tags are strings; the status code goes as the int OpenTelemetry's conventions use
  let attrs = '';
  for (const k in s.tags) attrs += `${attrs ? ',' : ''}${otlpTag(k, s.tags[k]!)}`;
  return (
    `{"traceId":"${s.traceId}","spanId":"${s.spanId}"${s.parentSpanId ? `,"parentSpanId":"${s.parentSpanId}"` : ''},"name":${q(s.name)},` +
    `"kind":${s.kind === 'server' ? 2 : 3},"startTimeUnixNano":"${usToNanos(s.startUs)}","endTimeUnixNano":"${usToNanos(s.startUs + s.durationUs)}",` +
    `"attributes":[${attrs}],"events":[${events}],` +
    `"status":${s.error ? `{"code":2,"message":${q(`${s.tags['http.status_code']} ${s.tags['response_flags']}`)}}` : '{"code":0}'}}`
  );
}

/** OTLP/HTTP JSON `ExportTraceServiceRequest`: one resource per (service, proxy) */
export function encodeOtlpJson(spans: readonly Span[]): string {
  const byService = new Map<string, Span[]>();
  for (const s of spans) {
    const key = `${s.service}\u0000${s.proxy}`;
    const list = byService.get(key);
    if (list) list.push(s);
    else byService.set(key, [s]);
  }
  let out = '';
  for (const list of byService.values()) {
    const first = list[0]!;
    const resource = otlpAttributes({
      'service.name': first.service,
      'service.instance.id': first.proxy,
      'k8s.namespace.name': first.tags['istio.namespace'] ?? 'default',
      'telemetry.sdk.name': 'meshbox',
    });
    out += `${out ? ',' : ''}{"resource":{"attributes":${resource}},"scopeSpans":[{"scope":{"name":"meshbox.proxy"},"spans":[${list.map(otlpSpan).join(',')}]}]}`;
  }
  return `{"resourceSpans":[${out}]}`;
}

function ipOf(addr: string | undefined): string {
  if (!addr) return '{}';
  return addr.includes(':') ? `{"ipv6":${q(addr.replace(/^\[|\]$/g, ''))}}` : `{"ipv4":${q(addr)}}`;
}

/** Zipkin v2 JSON: a list of spans */
export function encodeZipkinJson(spans: readonly Span[]): string {
  const out: string[] = [];
  for (const s of spans) {
    let annotations = '';
    for (const e of s.events) {
      let value = e.name;
      for (const k in e.attributes) if (k !== 'meshbox.attempt') value += ` ${k}=${e.attributes[k]}`;
      annotations += `${annotations ? ',' : ''}{"timestamp":${Math.round(e.timeUs)},"value":${q(value)}}`;
    }
    out.push(
      `{"traceId":"${s.traceId}","id":"${s.spanId}"${s.parentSpanId ? `,"parentId":"${s.parentSpanId}"` : ''},"name":${q(s.name)},` +
        `"kind":"${s.kind === 'server' ? 'SERVER' : 'CLIENT'}","timestamp":${Math.round(s.startUs)},"duration":${Math.round(s.durationUs)},` +
        `"localEndpoint":{"serviceName":${q(s.service)}}${s.tags['peer.address'] ? `,"remoteEndpoint":${ipOf(s.tags['peer.address'])}` : ''},` +
        `"tags":${q(s.tags)},"annotations":[${annotations}]}`,
    );
  }
  return `[${out.join(',')}]`;
}

interface JaegerTag {
  key: string;
  type: 'string' | 'int64' | 'float64' | 'bool';
  value: string | number | boolean;
}

function jaegerTags(map: Record<string, string | number | boolean>): JaegerTag[] {
  return Object.entries(map).map(([key, value]) => ({
    key,
    type: typeof value === 'boolean' ? 'bool' : typeof value === 'number' ? (Number.isInteger(value) ? 'int64' : 'float64') : 'string',
    value,
  }));
}

export function toJaegerTrace(t: StoredTrace): unknown {
  const processes: Record<string, { serviceName: string; tags: JaegerTag[] }> = {};
  const processOf = new Map<string, string>();
  for (const s of t.spans) {
    const key = `${s.service}\u0000${s.proxy}`;
    if (!processOf.has(key)) {
      const id = `p${processOf.size + 1}`;
      processOf.set(key, id);
      processes[id] = { serviceName: s.service, tags: jaegerTags({ 'service.instance.id': s.proxy }) };
    }
  }
  const ids = new Set(t.spans.map((s) => s.spanId));
  return {
    traceID: t.traceId,
    spans: t.spans.map((s) => ({
      traceID: s.traceId,
      spanID: s.spanId,
      operationName: s.name,
      references: s.parentSpanId ? [{ refType: 'CHILD_OF', traceID: s.traceId, spanID: s.parentSpanId }] : [],
      startTime: Math.round(s.startUs),
      duration: Math.round(s.durationUs),
      tags: jaegerTags({ ...s.tags, 'span.kind': s.kind }),
      logs: s.events.map((e) => ({ timestamp: Math.round(e.timeUs), fields: jaegerTags({ event: e.name, ...e.attributes }) })),
      processID: processOf.get(`${s.service}\u0000${s.proxy}`)!,
      warnings: s.parentSpanId && !ids.has(s.parentSpanId) ? [`invalid parent span IDs=${s.parentSpanId}; skipping clock skew adjustment`] : null,
    })),
    processes,
    warnings: t.warnings.length > 0 || t.droppedSpans > 0 ? [...t.warnings, ...(t.droppedSpans > 0 ? [`${t.droppedSpans} spans dropped: the trace holds at most its store's maxSpansPerTrace`] : [])] : null,
  };
}
