/**
 * Request rate, success rate and latency percentiles over a sliding window, the way `linkerd viz
 * top`/`stat` show them: the window is a ring of time buckets, each with a count, an error count
 * and a log-scale latency histogram. Recording is O(1) (one index computation per request, shared
 * by every window the request counts in); reading merges the buckets (a few thousand additions),
 * which the view store does at most ten times a second.
 *
 * Latencies are bucketed geometrically (5 % wide, from 0.1 ms to about 20 minutes), so p50/p99
 * are within 2.5 % of the true value, which is finer than the UI prints them.
 */

const MIN_MS = 0.1;
const GROWTH = 1.05;
const LOG_GROWTH = Math.log(GROWTH);
export const LATENCY_BUCKETS = 340;

/** histogram bucket of a latency; compute once per request and pass it to every window */
export function latencyBucket(ms: number): number {
  if (!(ms > MIN_MS)) return 0;
  return Math.min(LATENCY_BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / LOG_GROWTH));
}

/** a representative latency of a bucket (its geometric middle) */
function bucketValue(index: number): number {
  if (index === 0) return MIN_MS;
  return MIN_MS * GROWTH ** (index - 0.5);
}

export interface WindowSummary {
  /** requests in the window */
  count: number;
  /** requests per second over the window (or over the time since the first request, if shorter) */
  rps: number;
  /** 0-100; undefined when there was no request */
  successRate: number | undefined;
  p50: number | undefined;
  p99: number | undefined;
}

export interface WindowOptions {
  /** @default 500 */
  bucketMs?: number;
  /** @default 10 (a 5 s window) */
  buckets?: number;
}

interface Slot {
  epoch: number;
  count: number;
  errors: number;
  latency: Uint32Array;
}

export class SlidingWindow {
  private readonly bucketMs: number;
  private readonly slots: Slot[];
  private firstAt: number | undefined;
  /** time of the last record, so idle windows are skipped cheaply */
  lastAt = -Infinity;

  constructor(options: WindowOptions = {}) {
    this.bucketMs = options.bucketMs ?? 500;
    const n = options.buckets ?? 10;
    this.slots = Array.from({ length: n }, () => ({ epoch: -1, count: 0, errors: 0, latency: new Uint32Array(LATENCY_BUCKETS) }));
  }

  get windowMs(): number {
    return this.bucketMs * this.slots.length;
  }

  record(now: number, ok: boolean, bucket: number): void {
    const epoch = Math.floor(now / this.bucketMs);
    const slot = this.slots[epoch % this.slots.length]!;
    if (slot.epoch !== epoch) {
      slot.epoch = epoch;
      slot.count = 0;
      slot.errors = 0;
      slot.latency.fill(0);
    }
    slot.count++;
    if (!ok) slot.errors++;
    slot.latency[bucket]!++;
    this.firstAt ??= now;
    this.lastAt = now;
  }

  /** true when nothing was recorded within the window (summary() would be all zero) */
  idle(now: number): boolean {
    return now - this.lastAt >= this.windowMs;
  }

  summary(now: number): WindowSummary {
    const epoch = Math.floor(now / this.bucketMs);
    const oldest = epoch - this.slots.length + 1;
    let count = 0;
    let errors = 0;
    const live: Slot[] = [];
    for (const slot of this.slots) {
      if (slot.epoch < oldest || slot.epoch > epoch || slot.count === 0) continue;
      count += slot.count;
      errors += slot.errors;
      live.push(slot);
    }
    if (count === 0) return { count: 0, rps: 0, successRate: undefined, p50: undefined, p99: undefined };
    // the current bucket is partly elapsed: divide by the time the window really covers
    const covered = (this.slots.length - 1) * this.bucketMs + (now - epoch * this.bucketMs);
    const since = this.firstAt === undefined ? covered : now - this.firstAt;
    const seconds = Math.max(this.bucketMs, Math.min(covered, since)) / 1000;
    return {
      count,
      rps: count / seconds,
      successRate: ((count - errors) * 100) / count,
      p50: this.percentile(live, count, 50),
      p99: this.percentile(live, count, 99),
    };
  }

  private percentile(live: Slot[], count: number, p: number): number {
    const rank = Math.max(1, Math.ceil((p * count) / 100));
    let seen = 0;
    for (let i = 0; i < LATENCY_BUCKETS; i++) {
      for (const slot of live) seen += slot.latency[i]!;
      if (seen >= rank) return bucketValue(i);
    }
    return bucketValue(LATENCY_BUCKETS - 1);
  }
}
