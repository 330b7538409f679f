/**
 * Trace context on the request path: W3C Trace Context (`traceparent`, `tracestate`) and Zipkin
 * B3 (`x-b3-*` and the single `b3` header), read from an incoming request and written on the
 * request a proxy sends on. Runs on the data plane for every request, so it is plain string work.
 *
 * As Envoy does: the first proxy of a request without context starts a trace (and decides
 * sampling); every proxy then creates its own span, a child of the span in the incoming headers,
 * and sends its own span id on. Malformed context is never propagated: it is replaced by a new
 * trace (OpenTelemetry's propagator rule: an invalid `traceparent` is ignored, and its
 * `tracestate` with it), counted, and explained in the request's `why`.
 */
import { randomBytes } from 'node:crypto';

/** what a proxy decided for one request: its own span, and the parent it joins */
export interface SpanContextInfo {
  /** 32 lower-case hex */
  traceId: string;
  /** this proxy's span, 16 lower-case hex */
  spanId: string;
  /** the span in the incoming headers (absent: this proxy's span is a root) */
  parentSpanId?: string;
  sampled: boolean;
  /** the incoming `tracestate`, when valid (forwarded unchanged) */
  tracestate?: string;
  /** which incoming format the context came from */
  from: 'traceparent' | 'b3' | 'x-b3' | 'new';
  /** set when an incoming header was malformed and replaced */
  replaced?: string;
}

export const TRACE_HEADERS = ['traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags'] as const;

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const ZERO32 = '0'.repeat(32);
const ZERO16 = '0'.repeat(16);
/** W3C: version 00 is exactly 55 characters; a higher version may carry more after a `-` */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** 8 random bytes as hex; pooled so a request costs no crypto call of its own */
let pool = Buffer.alloc(0);
let poolAt = 0;
function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    pool = randomBytes(4096);
    poolAt = 0;
  }
  const s = pool.toString('hex', poolAt, poolAt + bytes);
  poolAt += bytes;
  return s;
}

export function newTraceId(): string {
  let id = randomHex(16);
  while (id === ZERO32) id = randomHex(16);
  return id;
}

export function newSpanId(): string {
  let id = randomHex(8);
  while (id === ZERO16) id = randomHex(8);
  return id;
}

interface Incoming {
  traceId: string;
  spanId: string;
  /** undefined: the sender left the decision to us (B3 without sampling state) */
  sampled: boolean | undefined;
  tracestate?: string;
  from: 'traceparent' | 'b3' | 'x-b3';
}

type HeaderValue = string | string[] | undefined;
type Headers = Record<string, HeaderValue | number>;

function one(v: HeaderValue | number): string | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v.length === 1 ? v[0] : v.join(',');
  return String(v);
}

/** `traceparent`: undefined when absent, an error message when malformed */
export function parseTraceparent(value: string): Omit<Incoming, 'tracestate' | 'from'> | string {
  const v = value.trim();
  const m = TRACEPARENT.exec(v);
  if (!m) return `traceparent "${clip(v)}" is not version-traceid-spanid-flags in lower-case hex`;
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === 'ff') return 'traceparent version ff is invalid';
  if (version === '00' && rest !== undefined) return 'traceparent version 00 has extra fields';
  if (traceId === ZERO32) return 'traceparent trace-id is all zeros';
  if (spanId === ZERO16) return 'traceparent parent-id is all zeros';
  return { traceId: traceId!, spanId: spanId!, sampled: (parseInt(flags!, 16) & 1) === 1 };
}

/** B3's sampling state: `1`/`0`, `d` (debug: sampled), `true`/`false` (old Zipkin clients) */
function b3Sampled(v: string | undefined): boolean | undefined | 'bad' {
  if (v === undefined || v === '') return undefined;
  if (v === '1' || v === 'd' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  return 'bad';
}

/** a 64-bit B3 trace id is left-padded to 128 bits (as Envoy and OpenTelemetry do) */
function b3TraceId(v: string): string | undefined {
  const id = v.toLowerCase();
  if (HEX32.test(id)) return id === ZERO32 ? undefined : id;
  if (HEX16.test(id)) return id === ZERO16 ? undefined : ZERO16 + id;
  return undefined;
}

/** single `b3`: `{traceid}-{spanid}[-{sampling}[-{parentspanid}]]` or just `{sampling}` */
export function parseB3Single(value: string): Incoming | { sampled: boolean | undefined } | string {
  const v = value.trim();
  const parts = v.split('-');
  if (parts.length === 1) {
    const s = b3Sampled(parts[0]);
    return s === 'bad' ? `b3 "${clip(v)}" is not a sampling state (0, 1, d)` : { sampled: s };
  }
  if (parts.length > 4) return `b3 "${clip(v)}" has more than 4 fields`;
  const traceId = b3TraceId(parts[0]!);
  const spanId = parts[1]!.toLowerCase();
  if (!traceId) return `b3 "${clip(v)}": trace id is not 16 or 32 hex digits (or is all zeros)`;
  if (!HEX16.test(spanId) || spanId === ZERO16) return `b3 "${clip(v)}": span id is not 16 hex digits (or is all zeros)`;
  const s = b3Sampled(parts[2]);
  if (s === 'bad') return `b3 "${clip(v)}": sampling state is not 0, 1 or d`;
  if (parts[3] !== undefined && !HEX16.test(parts[3].toLowerCase())) return `b3 "${clip(v)}": parent span id is not 16 hex digits`;
  return { traceId, spanId, sampled: s, from: 'b3' };
}

function parseB3Multi(h: Headers): Incoming | { sampled: boolean | undefined } | string | undefined {
  const tid = one(h['x-b3-traceid']);
  const sid = one(h['x-b3-spanid']);
  const flags = one(h['x-b3-flags']);
  const s = flags === '1' ? true : b3Sampled(one(h['x-b3-sampled']));
  if (s === 'bad') return `x-b3-sampled "${clip(one(h['x-b3-sampled']) ?? '')}" is not 0 or 1`;
  if (tid === undefined && sid === undefined) return s === undefined ? undefined : { sampled: s };
  const traceId = tid === undefined ? undefined : b3TraceId(tid.trim());
  if (!traceId) return `x-b3-traceid "${clip(tid ?? '')}" is not 16 or 32 hex digits (or is all zeros)`;
  const spanId = (sid ?? '').trim().toLowerCase();
  if (!HEX16.test(spanId) || spanId === ZERO16) return `x-b3-spanid "${clip(sid ?? '')}" is not 16 hex digits (or is all zeros)`;
  return { traceId, spanId, sampled: s, from: 'x-b3' };
}

const TS_KEY = /^(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})$/;
const TS_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/** W3C tracestate: at most 32 `key=value` members, no empty list-members beyond OWS */
function validTracestate(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const members = v.split(',').map((m) => m.trim()).filter((m) => m.length > 0);
  if (members.length === 0 || members.length > 32) return undefined;
  for (const m of members) {
    const eq = m.indexOf('=');
    if (eq <= 0 || !TS_KEY.test(m.slice(0, eq)) || !TS_VALUE.test(m.slice(eq + 1))) return undefined;
  }
  return members.join(',');
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

export interface ContextDecision {
  context: SpanContextInfo;
}

/**
 * Reads the incoming context (traceparent first, then `b3`, then `x-b3-*`, as Envoy's tracers
 * prefer W3C when both are present) and decides this proxy's span. `sample()` is asked only when
 * the request carries no sampling decision.
 */
export function decideSpanContext(headers: Headers, sample: () => boolean): SpanContextInfo {
  let replaced: string | undefined;
  let incoming: Incoming | undefined;
  let samplingOnly: boolean | undefined;
  const tp = one(headers['traceparent']);
  if (tp !== undefined) {
    const r = parseTraceparent(tp);
    if (typeof r === 'string') replaced = r;
    else {
      incoming = { traceId: r.traceId, spanId: r.spanId, sampled: r.sampled, from: 'traceparent' };
      const ts = headers['tracestate'];
      if (ts !== undefined) incoming.tracestate = validTracestate(one(ts));
    }
  }
  if (!incoming) {
    const single = one(headers['b3']);
    if (single !== undefined) {
      const r = parseB3Single(single);
      if (typeof r === 'string') replaced = replaced ?? r;
      else if ('traceId' in r) incoming = r;
      else samplingOnly = r.sampled;
    }
  }
  if (!incoming) {
    const r = parseB3Multi(headers);
    if (typeof r === 'string') replaced = replaced ?? r;
    else if (r && 'traceId' in r) incoming = r;
    else if (r) samplingOnly = samplingOnly ?? r.sampled;
  }
  const spanId = newSpanId();
  // plain object literals (no conditional spreads): this runs for every request on every proxy
  let ctx: SpanContextInfo;
  if (incoming) {
    ctx = { traceId: incoming.traceId, spanId, parentSpanId: incoming.spanId, sampled: incoming.sampled ?? sample(), from: incoming.from };
    if (incoming.tracestate) ctx.tracestate = incoming.tracestate;
  } else {
    ctx = { traceId: newTraceId(), spanId, sampled: samplingOnly ?? sample(), from: 'new' };
  }
  if (replaced) ctx.replaced = replaced;
  return ctx;
}

/**
 * Writes `ctx` on the headers of the request this proxy sends on: W3C and B3 both, so an app
 * that forwards either set joins the trace. Every incoming trace header is replaced (never
 * forwarded as received: malformed input stops at the proxy).
 */
export function writeTraceHeaders(headers: Record<string, unknown>, ctx: SpanContextInfo): void {
  const flags = ctx.sampled ? '01' : '00';
  const sampled = ctx.sampled ? '1' : '0';
  headers['traceparent'] = `00-${ctx.traceId}-${ctx.spanId}-${flags}`;
  if (ctx.tracestate) headers['tracestate'] = ctx.tracestate;
  else delete headers['tracestate'];
  headers['x-b3-traceid'] = ctx.traceId;
  headers['x-b3-spanid'] = ctx.spanId;
  if (ctx.parentSpanId) headers['x-b3-parentspanid'] = ctx.parentSpanId;
  else delete headers['x-b3-parentspanid'];
  headers['x-b3-sampled'] = sampled;
  delete headers['x-b3-flags'];
  headers['b3'] = `${ctx.traceId}-${ctx.spanId}-${sampled}${ctx.parentSpanId ? `-${ctx.parentSpanId}` : ''}`;
}
