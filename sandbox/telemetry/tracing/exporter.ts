/**
 * Span export to a collector: OTLP/HTTP JSON (`/v1/traces`) or Zipkin v2 JSON (`/api/v2/spans`).
 *
 * Traffic never waits for a collector: a span goes into a bounded queue (`maxQueue`) and the
 * exporter sends batches (`maxBatch` spans, every `intervalMs`, one request in flight, each with
 * a `timeoutMs`). A full queue drops the new span and counts it (`dropped`); a failed batch
 * (refused, timed out, non-2xx) is counted and dropped, not retried (OpenTelemetry's batch span
 * processor does the same), and the first failure of a run of failures is reported once, with
 * the collector's answer, until an export succeeds again.
 */
import http from 'node:http';
import https from 'node:https';
import { MeshError } from '../../errors.js';
import type { Span } from './span.js';
import { encodeOtlpJson, encodeZipkinJson } from './encoders.js';

export type ExportFormat = 'otlp' | 'zipkin';

export interface ExporterOptions {
  format: ExportFormat;
  url: string;
  maxQueue?: number;
  maxBatch?: number;
  intervalMs?: number;
  timeoutMs?: number;
  /** a failure message (once per run of failures) and a recovery */
  onStatus?(status: { ok: boolean; message: string }): void;
}

export interface ExporterStats {
  name: string;
  url: string;
  queued: number;
  exported: number;
  /** dropped because the queue was full */
  dropped: number;
  /** spans in batches the collector did not take */
  failed: number;
  batches: number;
  lastError?: string;
}

/** `--otlp-endpoint` / `--zipkin`: the collector's URL, with the spec's default path when none */
export function collectorUrl(flag: '--otlp-endpoint' | '--zipkin', text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new MeshError('MESH_ERR_TRACE_ENDPOINT', [flag, text, 'not a URL']);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new MeshError('MESH_ERR_TRACE_ENDPOINT', [flag, text, `scheme ${u.protocol} (OTLP and Zipkin here are HTTP)`]);
  if (u.pathname === '/' || u.pathname === '') u.pathname = flag === '--zipkin' ? '/api/v2/spans' : '/v1/traces';
  return u.toString();
}

export class SpanExporter {
  readonly name: string;
  private queue: Span[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private failing = false;
  private closed = false;
  private readonly maxQueue: number;
  private readonly maxBatch: number;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly agent: http.Agent;
  readonly stats: ExporterStats;

  constructor(private readonly opts: ExporterOptions) {
    this.name = opts.format === 'otlp' ? 'OTLP' : 'Zipkin';
    this.maxQueue = opts.maxQueue ?? 2048;
    this.maxBatch = opts.maxBatch ?? 512;
    this.intervalMs = opts.intervalMs ?? 1000;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    const url = new URL(opts.url);
    this.agent = url.protocol === 'https:' ? new https.Agent({ keepAlive: true, maxSockets: 1 }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.stats = { name: this.name, url: opts.url, queued: 0, exported: 0, dropped: 0, failed: 0, batches: 0 };
  }

  /** O(1) and never blocks: a full queue drops the span (counted) */
  enqueue(span: Span): void {
    if (this.closed) return;
    if (this.queue.length >= this.maxQueue) {
      this.stats.dropped++;
      return;
    }
    this.queue.push(span);
    this.stats.queued = this.queue.length;
    if (this.queue.length >= this.maxBatch) this.kick();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, this.intervalMs);
      this.timer.unref();
    }
  }

  private kick(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    this.stats.queued = this.queue.length;
    this.inFlight = this.send(batch).finally(() => {
      this.inFlight = undefined;
      if (this.queue.length >= this.maxBatch || (this.closed && this.queue.length > 0)) this.kick();
      else if (this.queue.length > 0 && !this.timer && !this.closed) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.kick();
        }, this.intervalMs);
        this.timer.unref();
      }
    });
  }

  private async send(batch: Span[]): Promise<void> {
    const body = Buffer.from(this.opts.format === 'otlp' ? encodeOtlpJson(batch) : encodeZipkinJson(batch));
    this.stats.batches++;
    try {
      await this.post(body);
      this.stats.exported += batch.length;
      if (this.failing) {
        this.failing = false;
        this.opts.onStatus?.({ ok: true, message: `trace export to ${this.name} (${this.opts.url}) works again` });
      }
    } catch (err) {
      this.stats.failed += batch.length;
      const why = (err as Error).message;
      this.stats.lastError = why;
      if (!this.failing) {
        this.failing = true;
        const e = new MeshError('MESH_ERR_TRACE_EXPORT', [this.name, this.opts.url, why]);
        this.opts.onStatus?.({ ok: false, message: `${e.message} (${e.hint})` });
      }
    }
  }

  private post(body: Buffer): Promise<void> {
    const url = new URL(this.opts.url);
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(
        url,
        { method: 'POST', agent: this.agent, headers: { 'content-type': 'application/json', 'content-length': body.length }, timeout: this.timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => {
            if (chunks.length < 8) chunks.push(c);
          });
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve();
            else reject(new Error(`the collector answered ${status}${chunks.length ? `: ${Buffer.concat(chunks).toString('utf8').slice(0, 200).trim()}` : ''}`));
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (e: NodeJS.ErrnoException) => reject(new Error(e.code === 'ECONNREFUSED' ? 'connection refused' : e.message)));
      req.end(body);
    });
  }

  /** sends what is queued (bounded by `timeoutMs`), then stops */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const deadline = Date.now() + this.timeoutMs;
    while ((this.inFlight || this.queue.length > 0) && Date.now() < deadline) {
      if (!this.inFlight) this.kick();
      await Promise.race([this.inFlight, new Promise((r) => setTimeout(r, Math.max(1, deadline - Date.now())))]);
    }
    this.agent.destroy();
  }
}
