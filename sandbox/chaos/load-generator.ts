/**
 * HTTP load generator, shared by the benchmark, the terminal UI's load key and chaos scenarios.
 *
 * Two traffic models:
 * - open loop (`rate`): request i is scheduled at start + i / rate, whatever the answers do, over
 *   `connections` keep-alive sockets; a request waiting for a free socket is still timed from its
 *   scheduled time, so queueing shows up in the latencies (wrk2-style, no coordinated omission);
 * - closed loop (`concurrency`): that many workers, each sending its next request as soon as the
 *   previous one ended; in flight never exceeds `concurrency`.
 *
 * Counting: `sent` requests of the measured period end as `completed` (a response, any status,
 * read to its end), `errors` (no response: ECONNREFUSED, ECONNRESET, timeout, ...) or `cancelled`
 * (still in flight when stop() was called). Latencies are of completed requests only. Warm-up
 * requests are sent but left out of everything except `warmup`.
 *
 * An open loop's rate can change while it runs (setRate): the schedule goes on from now at the
 * new pace; requests of the old schedule not on the wire yet (due, or waiting for a connection)
 * are dropped and not counted as sent; requests in flight are not touched. stop() cancels the requests in
 * flight, or, with `graceMs`, lets them finish for up to that long first.
 *
 * Time is the real monotonic clock (performance.now()): a load generator measures real sockets.
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { LatencyHistogram, LatencySamples, type LatencySummary } from './histogram.js';
import { MeshError } from '../errors.js';
import { type LoadOptions, type ResolvedLoadOptions, resolveLoadOptions } from './load-options.js';

export type { LatencySummary } from './histogram.js';
export { isLoopbackHost, type LoadOptions } from './load-options.js';

export type LoadPhase = 'idle' | 'warmup' | 'measuring' | 'draining' | 'done';
export type StopReason = 'duration' | 'maxRequests' | 'stopped';

export interface LoadResult {
  url: string;
  method: string;
  mode: 'open' | 'closed';
  /** open loop: target requests per second */
  rate?: number;
  /** open loop: keep-alive connections */
  connections?: number;
  /** closed loop: workers */
  concurrency?: number;
  stoppedBy: StopReason;
  /** from the end of the warm-up until the last measured request settled */
  durationMs: number;
  sent: number;
  completed: number;
  errors: number;
  cancelled: number;
  /** completed requests per second over durationMs */
  achievedRate: number;
  /** completed requests by HTTP status ("200", "504", ...) */
  statusCounts: Record<string, number>;
  /** failed requests by error code ("ECONNREFUSED", "ECONNRESET", "timeout", ...) */
  errorCounts: Record<string, number>;
  /** completed requests by the label `classify` gave them */
  classCounts: Record<string, number>;
  /** exact, over every completed request, in ms */
  latencyMs: LatencySummary;
  warmup: { sent: number; completed: number; errors: number };
}

/** A live view for a UI: cumulative counts plus the last progress window. */
export interface LoadStats {
  phase: LoadPhase;
  /** ms since start(), warm-up included */
  elapsedMs: number;
  sent: number;
  completed: number;
  errors: number;
  inFlight: number;
  statusCounts: Record<string, number>;
  errorCounts: Record<string, number>;
  classCounts: Record<string, number>;
  /** cumulative, from an HDR-like histogram (within 0.8 %) */
  latencyMs: LatencySummary;
  /** the last complete progress window (or the current one before the first has ended) */
  recent: { windowMs: number; completedPerSecond: number; errorsPerSecond: number; latencyMs: LatencySummary };
}

/** What happened to one request; emitted as `outcome` for every request, warm-up included. */
export interface RequestOutcome {
  /** ms since start() at which the request was scheduled */
  scheduledMs: number;
  warmup: boolean;
  /** ms from scheduled time to the end of the response, or to the failure */
  latencyMs: number;
  status?: number;
  /** error code when no response came */
  error?: string;
  label?: string;
}

export interface LoadGeneratorEvents {
  outcome: [RequestOutcome];
  progress: [LoadStats];
  done: [LoadResult];
}

const CANCELLED = 'ECANCELED';
/** a request dropped by setRate while it waited for a connection */
const UNSENT = 'EUNSENT';
/** requests sent back to back (when behind schedule) before yielding to I/O */
const MAX_BURST = 64;

function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

function errorCode(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? e.name ?? 'Error';
}

export class LoadGenerator extends EventEmitter<LoadGeneratorEvents> {
  readonly options: ResolvedLoadOptions;
  private readonly agent: http.Agent;
  private readonly samples = new LatencySamples();
  private readonly histogram = new LatencyHistogram();
  private readonly windowHistogram = new LatencyHistogram();
  private readonly active = new Set<http.ClientRequest>();
  /** requests still waiting for a free connection (not on the wire yet) */
  private readonly queued = new Set<http.ClientRequest>();
  private readonly pending = new Set<Promise<void>>();
  private readonly statusCounts: Record<string, number> = {};
  private readonly errorCounts: Record<string, number> = {};
  private readonly classCounts: Record<string, number> = {};
  private readonly warmupCounts = { sent: 0, completed: 0, errors: 0 };
  private phase: LoadPhase = 'idle';
  private startedAt = 0;
  private measureStart = 0;
  private lastSettled = 0;
  private sent = 0;
  private completed = 0;
  private errors = 0;
  private cancelled = 0;
  private stopReason: StopReason | undefined;
  private result: Promise<LoadResult> | undefined;
  private wake: (() => void) | undefined;
  private window = { startedAt: 0, completed: 0, errors: 0 };
  private lastWindow: LoadStats['recent'] | undefined;

  private readonly requestHeaders: Record<string, string>;
  /** open loop: the rate and connections now (setRate changes them) */
  private rate: number;
  private connections: number;
  /** setRate was called: the open loop recomputes its schedule before its next request */
  private rescheduled = false;

  /** Validates the options; throws MeshError MESH_ERR_USAGE when they are refused. */
  constructor(private readonly given: LoadOptions) {
    super();
    this.options = resolveLoadOptions(given);
    this.rate = this.options.rate;
    this.connections = this.options.connections;
    const { headers, body } = this.options;
    const hasLength = Object.keys(headers).some((name) => name.toLowerCase() === 'content-length');
    this.requestHeaders = body === undefined || hasLength ? headers : { ...headers, 'content-length': String(body.length) };
    const sockets = this.options.mode === 'open' ? this.options.connections : this.options.concurrency;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, scheduling: 'fifo' });
  }

  /** Starts the run (once); resolves with the result when the run has ended. */
  start(): Promise<LoadResult> {
    if (this.result) return this.result;
    this.startedAt = performance.now();
    this.measureStart = this.startedAt + this.options.warmupMs;
    this.phase = this.options.warmupMs > 0 ? 'warmup' : 'measuring';
    this.window.startedAt = this.startedAt;
    this.result = this.run();
    return this.result;
  }

  /**
   * Open loop: sends at `rate` from the next request on (and over `connections` sockets, if
   * given); requests in flight finish as they would have. Throws MeshError MESH_ERR_USAGE for a
   * closed loop or a refused value.
   */
  setRate(rate: number, connections?: number): void {
    if (this.options.mode !== 'open') throw new MeshError('MESH_ERR_USAGE', ['load generator: a closed loop has no rate'], { hint: 'change concurrency by starting a new run' });
    const resolved = resolveLoadOptions({ ...this.given, rate, connections: connections ?? this.connections, concurrency: undefined });
    this.rate = resolved.rate;
    this.connections = resolved.connections;
    this.agent.maxSockets = this.connections;
    this.agent.maxFreeSockets = this.connections;
    // the old schedule's backlog waiting for a connection goes (nothing of it reached the target);
    // requests on the wire finish
    for (const req of this.queued) req.destroy(Object.assign(new Error('dropped by a rate change'), { code: UNSENT }));
    this.rescheduled = true;
    this.wake?.();
  }

  /** the open loop's rate now */
  get currentRate(): number {
    return this.rate;
  }

  /**
   * Ends the run: no more requests. Those in flight are cancelled at once, or after `graceMs`
   * if they have not finished by then. Resolves with the result once every request has settled.
   */
  stop(options: { graceMs?: number } = {}): Promise<LoadResult> {
    this.stopReason ??= 'stopped';
    const cancel = (): void => {
      for (const req of this.active) req.destroy(Object.assign(new Error('load generator stopped'), { code: CANCELLED }));
    };
    const graceMs = options.graceMs ?? 0;
    if (graceMs > 0 && this.result) {
      const timer = setTimeout(cancel, graceMs);
      const clear = (): void => clearTimeout(timer);
      this.result.then(clear, clear);
    } else cancel();
    this.wake?.();
    return this.result ?? this.start();
  }

  stats(): LoadStats {
    const now = performance.now();
    return {
      phase: this.phase,
      elapsedMs: this.phase === 'idle' ? 0 : now - this.startedAt,
      sent: this.sent,
      completed: this.completed,
      errors: this.errors,
      inFlight: this.active.size,
      statusCounts: { ...this.statusCounts },
      errorCounts: { ...this.errorCounts },
      classCounts: { ...this.classCounts },
      latencyMs: this.histogram.summary(),
      recent: this.lastWindow ?? this.currentWindow(now),
    };
  }

  private async run(): Promise<LoadResult> {
    const ticker = setInterval(() => this.tick(), this.options.progressIntervalMs);
    try {
      if (this.stopReason === undefined) {
        if (this.options.mode === 'open') await this.openLoop();
        else await this.closedLoop();
      }
      this.phase = 'draining';
      while (this.pending.size > 0) await Promise.all([...this.pending]);
    } finally {
      clearInterval(ticker);
      this.agent.destroy();
    }
    this.phase = 'done';
    const result = this.buildResult();
    this.emit('done', result);
    return result;
  }

  /** Fires every request whose scheduled time has come, then sleeps until the next one. */
  private async openLoop(): Promise<void> {
    const { durationMs, maxRequests } = this.options;
    let interval = 1000 / this.rate;
    // request i is scheduled at base + (i - first) * interval; a rate change moves base and first
    let base = this.startedAt;
    let first = 0;
    const measureEnd = durationMs === undefined ? Infinity : this.measureStart + durationMs;
    let burst = 0;
    for (let i = 0; ; i++) {
      if (this.rescheduled) {
        this.rescheduled = false;
        const due = base + (i - first) * interval;
        interval = 1000 / this.rate;
        // the new pace starts now: a backlog of the old schedule (sent late, behind a slow mesh) is
        // dropped, not sent at once; a next request due sooner than one new interval keeps its time
        const now = performance.now();
        base = Math.max(now, Math.min(due, now + interval));
        first = i;
      }
      const at = base + (i - first) * interval;
      if (at >= measureEnd) return void (this.stopReason ??= 'duration');
      const warmup = at < this.measureStart;
      if (!warmup && maxRequests !== undefined && this.sent >= maxRequests) return void (this.stopReason ??= 'maxRequests');
      let wait = at - performance.now();
      if (wait > 0) {
        // setTimeout counts whole ms from the loop's cached clock and may fire early: never send
        // before the scheduled time (latencies are counted from it); the last fraction of a ms is
        // waited out in event-loop turns, which keep reading answers
        while (wait > 0 && this.stopReason === undefined && !this.rescheduled) {
          if (wait >= 1) await this.sleep(wait);
          else await new Promise((resolve) => setImmediate(resolve));
          wait = at - performance.now();
        }
        burst = 0;
        if (this.rescheduled && this.stopReason === undefined) {
          // this request is scheduled again at the new rate
          i--;
          continue;
        }
      } else if (++burst >= MAX_BURST) {
        // behind schedule: catch up, but let answers be read in between
        await new Promise((resolve) => setImmediate(resolve));
        burst = 0;
      }
      if (this.stopReason !== undefined) return;
      this.track(this.send(at, warmup));
    }
  }

  private async closedLoop(): Promise<void> {
    const { concurrency, durationMs, maxRequests } = this.options;
    const measureEnd = durationMs === undefined ? Infinity : this.measureStart + durationMs;
    const worker = async (): Promise<void> => {
      while (this.stopReason === undefined) {
        const now = performance.now();
        if (now >= measureEnd) {
          this.stopReason = 'duration';
          return;
        }
        const warmup = now < this.measureStart;
        if (!warmup && maxRequests !== undefined && this.sent >= maxRequests) {
          this.stopReason = 'maxRequests';
          return;
        }
        await this.send(now, warmup);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private track(request: Promise<void>): void {
    this.pending.add(request);
    void request.finally(() => this.pending.delete(request));
  }

  /** Sends one request scheduled at `at` (performance.now() time); never rejects. */
  private send(at: number, warmup: boolean): Promise<void> {
    const { url, method, body, timeoutMs, classify } = this.options;
    if (warmup) this.warmupCounts.sent++;
    else this.sent++;
    if (this.phase === 'warmup' && !warmup) this.phase = 'measuring';
    return new Promise<void>((resolve) => {
      let settled = false;
      let timedOut = false;
      const req = http.request({
        agent: this.agent,
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || 80,
        path: url.pathname + url.search,
        method,
        headers: this.requestHeaders,
      });
      this.active.add(req);
      this.queued.add(req);
      req.once('socket', () => this.queued.delete(req));
      const timer = setTimeout(() => {
        timedOut = true;
        req.destroy(Object.assign(new Error(`no answer within ${timeoutMs}ms`), { code: 'timeout' }));
      }, Math.max(0, at + timeoutMs - performance.now()));
      const settle = (status: number | undefined, error: string | undefined, label: string | undefined): void => {
        if (settled) return;
        settled = true;
        // a response cut off by the timeout is a timeout, whatever the socket reports
        if (timedOut && status === undefined) error = 'timeout';
        clearTimeout(timer);
        this.active.delete(req);
        this.queued.delete(req);
        if (error === UNSENT) {
          // dropped by a rate change before it had a socket: it never left, it was not sent
          if (warmup) this.warmupCounts.sent--;
          else this.sent--;
        } else this.record(at, warmup, status, error, label);
        resolve();
      };
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        if (classify) res.on('data', (chunk: Buffer) => chunks.push(chunk));
        else res.resume();
        res.on('end', () => {
          let label: string | undefined;
          if (classify) {
            try {
              label = classify(res, Buffer.concat(chunks).toString('utf8'));
            } catch (err) {
              label = `classify threw: ${(err as Error).message}`;
            }
          }
          settle(res.statusCode, undefined, label);
        });
        res.on('error', (err) => settle(undefined, errorCode(err), undefined));
        res.on('close', () => {
          if (!res.complete) settle(undefined, 'ECONNRESET', undefined);
        });
      });
      req.on('error', (err) => settle(undefined, errorCode(err), undefined));
      req.end(body);
    });
  }

  private record(at: number, warmup: boolean, status: number | undefined, error: string | undefined, label: string | undefined): void {
    const now = performance.now();
    const latencyMs = now - at;
    if (error === CANCELLED) {
      if (!warmup) this.cancelled++;
    } else if (warmup) {
      if (status !== undefined) this.warmupCounts.completed++;
      else this.warmupCounts.errors++;
    } else {
      this.lastSettled = Math.max(this.lastSettled, now);
      if (status !== undefined) {
        this.completed++;
        this.window.completed++;
        increment(this.statusCounts, String(status));
        if (label !== undefined) increment(this.classCounts, label);
        this.samples.record(latencyMs);
        this.histogram.record(latencyMs);
        this.windowHistogram.record(latencyMs);
      } else {
        this.errors++;
        this.window.errors++;
        increment(this.errorCounts, error ?? 'Error');
      }
    }
    if (this.listenerCount('outcome') > 0) {
      const outcome: RequestOutcome = { scheduledMs: at - this.startedAt, warmup, latencyMs };
      if (status !== undefined) outcome.status = status;
      if (error !== undefined) outcome.error = error;
      if (label !== undefined) outcome.label = label;
      this.emit('outcome', outcome);
    }
  }

  private currentWindow(now: number): LoadStats['recent'] {
    const windowMs = Math.max(1, now - this.window.startedAt);
    return {
      windowMs,
      completedPerSecond: (this.window.completed * 1000) / windowMs,
      errorsPerSecond: (this.window.errors * 1000) / windowMs,
      latencyMs: this.windowHistogram.summary(),
    };
  }

  private tick(): void {
    const now = performance.now();
    this.lastWindow = this.currentWindow(now);
    this.window = { startedAt: now, completed: 0, errors: 0 };
    this.windowHistogram.reset();
    this.emit('progress', this.stats());
  }

  private buildResult(): LoadResult {
    const { url, method, mode, concurrency } = this.options;
    const rate = this.rate;
    const connections = this.connections;
    const durationMs = Math.max(0, (this.lastSettled || performance.now()) - this.measureStart);
    return {
      url: url.href,
      method,
      mode,
      ...(mode === 'open' ? { rate, connections } : { concurrency }),
      stoppedBy: this.stopReason ?? 'duration',
      durationMs,
      sent: this.sent,
      completed: this.completed,
      errors: this.errors,
      cancelled: this.cancelled,
      achievedRate: durationMs > 0 ? (this.completed * 1000) / durationMs : 0,
      statusCounts: { ...this.statusCounts },
      errorCounts: { ...this.errorCounts },
      classCounts: { ...this.classCounts },
      latencyMs: this.samples.summary(),
      warmup: { ...this.warmupCounts },
    };
  }
}

/**
 * Runs one bounded load and resolves with its result. Aborting `signal` ends the run early (in
 * flight requests are cancelled) and still resolves with what was measured.
 */
export async function runLoad(options: LoadOptions, signal?: AbortSignal): Promise<LoadResult> {
  const generator = new LoadGenerator(options);
  if (signal?.aborted) return generator.stop();
  const onAbort = (): void => void generator.stop();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await generator.start();
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** A short human-readable report of a result (for the CLI and the benchmark). */
export function formatLoadResult(result: LoadResult): string {
  const model = result.mode === 'open' ? `open loop ${result.rate} req/s over ${result.connections} connections` : `closed loop, ${result.concurrency} workers`;
  const counts = (record: Record<string, number>): string =>
    Object.entries(record)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, n]) => `${key}: ${n}`)
      .join(', ') || 'none';
  const l = result.latencyMs;
  const ms = (v: number): string => `${v.toFixed(v < 10 ? 2 : 1)}ms`;
  return [
    `${result.method} ${result.url}: ${model}, ${(result.durationMs / 1000).toFixed(2)}s (stopped by ${result.stoppedBy})`,
    `  sent ${result.sent}, completed ${result.completed}, errors ${result.errors}, cancelled ${result.cancelled}, ${result.achievedRate.toFixed(1)} req/s`,
    `  status ${counts(result.statusCounts)}; errors ${counts(result.errorCounts)}${Object.keys(result.classCounts).length ? `; classes ${counts(result.classCounts)}` : ''}`,
    `  latency p50 ${ms(l.p50)}, p90 ${ms(l.p90)}, p99 ${ms(l.p99)}, p99.9 ${ms(l.p999)}, max ${ms(l.max)}, mean ${ms(l.mean)}`,
  ].join('\n');
}
