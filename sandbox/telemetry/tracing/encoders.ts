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

type AnyValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean };

function anyValue(v: string | number | boolean): AnyValue {
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  return { stringValue: v };
}

function attributes(map: Record<string, string | number | boolean>): Array<{ key: string; value: AnyValue }> {
  return Object.entries(map).map(([key, v]) => ({ key, value: anyValue(v) }));
}

const usToNanos = (us: number): string => `${BigInt(Math.round(us)) * 1000n}`;

/** OTLP attribute names for the Envoy tags that have a semantic-convention twin */
function otlpAttributes(s: Span): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = { ...s.tags };
  const status = Number(s.tags['http.status_code']);
  if (Number.isFinite(status)) out['http.status_code'] = status;
  return out;
}

export function toOtlpJson(spans: readonly Span[]): { resourceSpans: unknown[] } {
  const byService = new Map<string, Span[]>();
  for (const s of spans) {
    const key = `${s.service}\u0000${s.proxy}`;
    const list = byService.get(key) ?? [];
    list.push(s);
    byService.set(key, list);
  }
  return {
    resourceSpans: [...byService.values()].map((list) => ({
      resource: {
        attributes: attributes({
          'service.name': list[0]!.service,
          'service.instance.id': list[0]!.proxy,
          'k8s.namespace.name': list[0]!.tags['istio.namespace'] ?? 'default',
          'telemetry.sdk.name': 'meshbox',
        }),
      },
      scopeSpans: [
        {
          scope: { name: 'meshbox.proxy' },
          spans: list.map((s) => ({
            traceId: s.traceId,
            spanId: s.spanId,
            ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
            name: s.name,
            kind: s.kind === 'server' ? 2 : 3,
            startTimeUnixNano: usToNanos(s.startUs),
            endTimeUnixNano: usToNanos(s.startUs + s.durationUs),
            attributes: attributes(otlpAttributes(s)),
            events: s.events.map((e) => ({ timeUnixNano: usToNanos(e.timeUs), name: e.name, attributes: attributes(e.attributes) })),
            status: s.error ? { code: 2, message: `${s.tags['http.status_code']} ${s.tags['response_flags']}` } : { code: 0 },
          })),
        },
      ],
    })),
  };
}

function ipOf(addr: string | undefined): { ipv4?: string; ipv6?: string } {
  if (!addr) return {};
  return addr.includes(':') ? { ipv6: addr.replace(/^\[|\]$/g, '') } : { ipv4: addr };
}

export function toZipkinJson(spans: readonly Span[]): unknown[] {
  return spans.map((s) => ({
    traceId: s.traceId,
    id: s.spanId,
    ...(s.parentSpanId ? { parentId: s.parentSpanId } : {}),
    name: s.name,
    kind: s.kind === 'server' ? 'SERVER' : 'CLIENT',
    timestamp: Math.round(s.startUs),
    duration: Math.round(s.durationUs),
    localEndpoint: { serviceName: s.service },
    ...(s.tags['peer.address'] ? { remoteEndpoint: ipOf(s.tags['peer.address']) } : {}),
    tags: s.tags,
    annotations: s.events.map((e) => ({
      timestamp: Math.round(e.timeUs),
      value: [e.name, ...Object.entries(e.attributes).filter(([k]) => k !== 'meshbox.attempt').map(([k, v]) => `${k}=${v}`)].join(' '),
    })),
  }));
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
