/**
 * Tracing on the main thread: each sampled RequestEvent becomes a span (./span.ts), kept in the
 * in-memory TraceStore and handed to the exporters. Cheap per event, and the data plane only
 * decided ids and wrote headers.
 */
import type { EventBus, RequestEvent } from '../../events.js';
import type { TracingConfig } from '../../control/snapshot.js';
import { collectorUrl, SpanExporter, type ExporterStats, type ExportFormat } from './exporter.js';
import { spanOf, type Span } from './span.js';
import { TraceStore, type TraceStoreOptions } from './trace-store.js';

export interface TracingOptions {
  /** default sampling for new traces (0..100); the sandbox's default is 100 */
  samplingPercent?: number;
  otlpEndpoint?: string;
  zipkinEndpoint?: string;
  store?: TraceStoreOptions;
  exporter?: { maxQueue?: number; maxBatch?: number; intervalMs?: number; timeoutMs?: number };
}

export interface TracingStats {
  samplingPercent: number;
  spans: number;
  traces: number;
  tracesEvicted: number;
  spansDroppedByStore: number;
  traceIdsReused: number;
  /** incoming traceparent/b3 headers that were malformed and replaced by a new trace */
  malformedContext: number;
  /** requests whose span was not sampled */
  unsampled: number;
  exporters: ExporterStats[];
}

export class Tracing {
  readonly store: TraceStore;
  readonly exporters: SpanExporter[] = [];
  readonly samplingPercent: number;
  private malformed = 0;
  private unsampled = 0;
  private off: (() => void) | undefined;

  constructor(
    opts: TracingOptions,
    private readonly config: () => TracingConfig | undefined,
    private readonly notice: (level: 'warn' | 'info', message: string) => void = () => undefined,
  ) {
    this.samplingPercent = opts.samplingPercent ?? 100;
    this.store = new TraceStore(opts.store);
    const add = (format: ExportFormat, url: string | undefined): void => {
      if (!url) return;
      this.exporters.push(new SpanExporter({ format, url, ...opts.exporter, onStatus: (s) => this.notice(s.ok ? 'info' : 'warn', s.message) }));
    };
    add('otlp', opts.otlpEndpoint);
    add('zipkin', opts.zipkinEndpoint);
  }

  attach(bus: EventBus): void {
    this.off = bus.on('mesh:request:end', (e) => this.observe(e));
  }

  observe(e: RequestEvent): Span | undefined {
    if (!e.trace) return undefined;
    if (e.trace.replaced) this.malformed++;
    const span = spanOf(e, this.config());
    if (!span) {
      this.unsampled++;
      return undefined;
    }
    this.store.add(span);
    for (const x of this.exporters) x.enqueue(span);
    return span;
  }

  stats(): TracingStats {
    return {
      samplingPercent: this.samplingPercent,
      spans: this.store.stats.spans,
      traces: this.store.size,
      tracesEvicted: this.store.stats.tracesEvicted,
      spansDroppedByStore: this.store.stats.spansDropped,
      traceIdsReused: this.store.stats.traceIdsReused,
      malformedContext: this.malformed,
      unsampled: this.unsampled,
      exporters: this.exporters.map((x) => ({ ...x.stats })),
    };
  }

  async close(): Promise<void> {
    this.off?.();
    await Promise.all(this.exporters.map((x) => x.close()));
  }
}

/** the sandbox's tracing options: the command line over meshbox.yaml over the defaults */
export function resolveTracingOptions(
  cli: { samplingPercent?: number; otlpEndpoint?: string; zipkinEndpoint?: string } | false | undefined,
  file: { sampling?: number; otlpEndpoint?: string; zipkin?: string } | undefined,
): TracingOptions | undefined {
  if (cli === false) return undefined;
  const otlp = cli?.otlpEndpoint ?? file?.otlpEndpoint;
  const zipkin = cli?.zipkinEndpoint ?? file?.zipkin;
  return {
    samplingPercent: cli?.samplingPercent ?? file?.sampling ?? 100,
    ...(otlp ? { otlpEndpoint: collectorUrl('--otlp-endpoint', otlp) } : {}),
    ...(zipkin ? { zipkinEndpoint: collectorUrl('--zipkin', zipkin) } : {}),
  };
}
