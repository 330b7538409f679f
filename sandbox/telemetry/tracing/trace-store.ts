/**
 * The built-in trace store: the last `maxTraces` traces (oldest dropped first), at most
 * `maxSpansPerTrace` spans each, in memory. The TUI's Traces view and the admin API's `/traces`
 * read it; no back-end needed.
 *
 * A client that reuses a trace id (a fixed traceparent in a test script, say) adds its spans to
 * the trace of that id, as any back-end would (OpenTelemetry leaves trace ids to the sender);
 * the store counts a reuse when a new root-less batch arrives for a trace that finished over
 * `reuseGapMs` earlier, and says so on the trace.
 */
import type { Span } from './span.js';

export interface StoredTrace {
  traceId: string;
  spans: Span[];
  /** spans refused because the trace was full */
  droppedSpans: number;
  /** epoch ms of the last span added */
  updatedAt: number;
  /** warnings shown with the trace (Jaeger's `warnings`) */
  warnings: string[];
}

export interface TraceSummary {
  traceId: string;
  /** `<service> <operation>` of the root span (or the earliest span when the root is missing) */
  root: string;
  rootService: string;
  /** false: no span without a parent here (a broken trace: an app did not forward the headers) */
  complete: boolean;
  services: string[];
  spans: number;
  startUs: number;
  durationUs: number;
  errors: number;
  /** upstream attempts beyond the first, summed over client spans */
  retries: number;
  requestId: string;
}

export interface TraceStoreOptions {
  maxTraces?: number;
  maxSpansPerTrace?: number;
  reuseGapMs?: number;
  now?: () => number;
}

export class TraceStore {
  private readonly traces = new Map<string, StoredTrace>();
  readonly maxTraces: number;
  readonly maxSpansPerTrace: number;
  private readonly reuseGapMs: number;
  private readonly now: () => number;
  /** counters, shown by `/traces/stats` and the TUI */
  readonly stats = { spans: 0, tracesEvicted: 0, spansDropped: 0, traceIdsReused: 0 };

  constructor(opts: TraceStoreOptions = {}) {
    this.maxTraces = opts.maxTraces ?? 1000;
    this.maxSpansPerTrace = opts.maxSpansPerTrace ?? 256;
    this.reuseGapMs = opts.reuseGapMs ?? 60_000;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.traces.size;
  }

  add(span: Span): void {
    const now = this.now();
    let t = this.traces.get(span.traceId);
    if (t) {
      if (now - t.updatedAt > this.reuseGapMs) {
        this.stats.traceIdsReused++;
        const msg = `trace id ${span.traceId} was reused by a client after ${Math.round((now - t.updatedAt) / 1000)} s: its later spans joined this trace (each request should start its own trace: send no traceparent, or a fresh one)`;
        if (!t.warnings.includes(msg)) t.warnings.push(msg);
      }
      // most recently updated last: eviction takes the least recently updated
      this.traces.delete(span.traceId);
    } else {
      t = { traceId: span.traceId, spans: [], droppedSpans: 0, updatedAt: now, warnings: [] };
    }
    this.traces.set(span.traceId, t);
    t.updatedAt = now;
    if (t.spans.length >= this.maxSpansPerTrace) {
      t.droppedSpans++;
      this.stats.spansDropped++;
    } else {
      t.spans.push(span);
      this.stats.spans++;
    }
    while (this.traces.size > this.maxTraces) {
      const oldest = this.traces.keys().next().value as string;
      this.traces.delete(oldest);
      this.stats.tracesEvicted++;
    }
  }

  get(traceId: string): StoredTrace | undefined {
    return this.traces.get(traceId.toLowerCase().padStart(32, '0'));
  }

  /** the trace a request belongs to, by its x-request-id (the Traffic view's way in) */
  byRequestId(requestId: string): StoredTrace | undefined {
    for (const t of [...this.traces.values()].reverse()) if (t.spans.some((s) => s.requestId === requestId)) return t;
    return undefined;
  }

  /** newest first */
  recent(limit = 50, filter: { service?: string; errorsOnly?: boolean } = {}): StoredTrace[] {
    const out: StoredTrace[] = [];
    for (const t of [...this.traces.values()].reverse()) {
      if (filter.service && !t.spans.some((s) => s.service === filter.service || s.service.startsWith(`${filter.service}.`))) continue;
      if (filter.errorsOnly && !t.spans.some((s) => s.error)) continue;
      out.push(t);
      if (out.length >= limit) break;
    }
    return out;
  }

  clear(): void {
    this.traces.clear();
  }
}

export function summarize(t: StoredTrace): TraceSummary {
  const ids = new Set(t.spans.map((s) => s.spanId));
  const roots = t.spans.filter((s) => !s.parentSpanId);
  const orphans = t.spans.filter((s) => s.parentSpanId && !ids.has(s.parentSpanId));
  const first = [...t.spans].sort((a, b) => a.startUs - b.startUs)[0]!;
  const root = roots[0] ?? orphans[0] ?? first;
  const start = Math.min(...t.spans.map((s) => s.startUs));
  const end = Math.max(...t.spans.map((s) => s.startUs + s.durationUs));
  // the root's service first, then in the order the spans started (spans of different proxies
  // are timed from their own events, so a child can appear to start a few µs before its parent)
  const services: string[] = [root.service];
  for (const s of [...t.spans].sort((a, b) => a.startUs - b.startUs)) if (!services.includes(s.service)) services.push(s.service);
  return {
    traceId: t.traceId,
    root: `${root.service} ${root.name}`,
    rootService: root.service,
    complete: roots.length > 0,
    services,
    spans: t.spans.length,
    startUs: start,
    durationUs: end - start,
    errors: t.spans.filter((s) => s.error).length,
    retries: t.spans.filter((s) => s.kind === 'client').reduce((n, s) => n + Math.max(0, s.attempts - 1), 0),
    requestId: root.requestId,
  };
}

/** A span's children first by start time, depth-first from the roots: the waterfall's rows. */
export function waterfall(t: StoredTrace): Array<{ span: Span; depth: number }> {
  const ids = new Set(t.spans.map((s) => s.spanId));
  const children = new Map<string, Span[]>();
  const tops: Span[] = [];
  for (const s of t.spans) {
    if (s.parentSpanId && ids.has(s.parentSpanId)) {
      const list = children.get(s.parentSpanId) ?? [];
      list.push(s);
      children.set(s.parentSpanId, list);
    } else tops.push(s);
  }
  const out: Array<{ span: Span; depth: number }> = [];
  const visit = (s: Span, depth: number): void => {
    out.push({ span: s, depth });
    for (const c of (children.get(s.spanId) ?? []).sort((a, b) => a.startUs - b.startUs)) visit(c, depth + 1);
  };
  for (const s of tops.sort((a, b) => a.startUs - b.startUs)) visit(s, 0);
  return out;
}
