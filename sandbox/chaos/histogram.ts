/**
 * Latency recording for the load generator.
 *
 * - `LatencySamples` keeps every sample in a growable Float64Array and gives exact percentiles
 *   (a few million samples take a few tens of MB and sort in well under a second).
 * - `LatencyHistogram` is HDR-like: constant memory, O(1) record, percentiles within 0.8 %
 *   (128 linear sub-buckets per power of two of microseconds), cheap enough to read many times a
 *   second for a live view.
 *
 * Percentiles use the nearest-rank definition: the smallest sample with at least p % of the
 * samples at or below it.
 */

export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  stddev: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

const QUANTILES = { p50: 50, p90: 90, p99: 99, p999: 99.9 } as const;

export const EMPTY_SUMMARY: LatencySummary = Object.freeze({
  count: 0,
  min: 0,
  mean: 0,
  stddev: 0,
  p50: 0,
  p90: 0,
  p99: 0,
  p999: 0,
  max: 0,
});

/** 1-based nearest rank of percentile p among n samples. */
function rankOf(p: number, n: number): number {
  // the epsilon keeps float noise (99.9 / 100 * 1000 = 999.0000000000001) from moving a rank up
  return Math.min(n, Math.max(1, Math.ceil((p * n) / 100 - 1e-9)));
}

/** Running count, min, max, mean and standard deviation (Welford). */
class Moments {
  count = 0;
  min = Infinity;
  max = -Infinity;
  private mean = 0;
  private m2 = 0;

  add(value: number): void {
    this.count++;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    const delta = value - this.mean;
    this.mean += delta / this.count;
    this.m2 += delta * (value - this.mean);
  }

  base(): Pick<LatencySummary, 'count' | 'min' | 'mean' | 'stddev' | 'max'> {
    if (this.count === 0) return { count: 0, min: 0, mean: 0, stddev: 0, max: 0 };
    return { count: this.count, min: this.min, mean: this.mean, stddev: Math.sqrt(this.m2 / this.count), max: this.max };
  }
}

/** Every sample, for exact percentiles. */
export class LatencySamples {
  private values = new Float64Array(1024);
  private moments = new Moments();
  private sorted: Float64Array | undefined;

  get count(): number {
    return this.moments.count;
  }

  record(ms: number): void {
    const n = this.moments.count;
    if (n === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[n] = ms;
    this.moments.add(ms);
    this.sorted = undefined;
  }

  percentile(p: number): number {
    const n = this.moments.count;
    if (n === 0) return 0;
    this.sorted ??= this.values.slice(0, n).sort();
    return this.sorted[rankOf(p, n) - 1]!;
  }

  summary(): LatencySummary {
    if (this.count === 0) return { ...EMPTY_SUMMARY };
    return {
      ...this.moments.base(),
      p50: this.percentile(QUANTILES.p50),
      p90: this.percentile(QUANTILES.p90),
      p99: this.percentile(QUANTILES.p99),
      p999: this.percentile(QUANTILES.p999),
    };
  }
}

const SUB_BITS = 7;
const SUB = 1 << SUB_BITS; // 128 sub-buckets per power of two
const LINEAR = 2 * SUB; // values below 256 µs have a bucket each
const MAX_US = 2 ** 31 - 1; // about 35 minutes
const BUCKETS = LINEAR + (31 - SUB_BITS - 1) * SUB;

/** Constant-memory histogram of milliseconds, stored as integer microseconds. */
export class LatencyHistogram {
  private counts = new Float64Array(BUCKETS);
  private moments = new Moments();

  get count(): number {
    return this.moments.count;
  }

  record(ms: number): void {
    this.counts[bucketOf(toMicros(ms))]!++;
    this.moments.add(ms);
  }

  reset(): void {
    this.counts.fill(0);
    this.moments = new Moments();
  }

  /** the percentile, within one bucket's width (< 0.8 %), clamped to the recorded min and max */
  percentile(p: number): number {
    const n = this.moments.count;
    if (n === 0) return 0;
    const rank = rankOf(p, n);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        const [low, high] = boundsOf(i);
        return Math.min(this.moments.max, Math.max(this.moments.min, (low + high) / 2 / 1000));
      }
    }
    return this.moments.max;
  }

  summary(): LatencySummary {
    if (this.count === 0) return { ...EMPTY_SUMMARY };
    return {
      ...this.moments.base(),
      p50: this.percentile(QUANTILES.p50),
      p90: this.percentile(QUANTILES.p90),
      p99: this.percentile(QUANTILES.p99),
      p999: this.percentile(QUANTILES.p999),
    };
  }
}

function toMicros(ms: number): number {
  return Math.min(MAX_US, Math.max(0, Math.round(ms * 1000)));
}

function bucketOf(us: number): number {
  if (us < LINEAR) return us;
  const shift = 31 - Math.clz32(us) - SUB_BITS; // >= 1
  return LINEAR + (shift - 1) * SUB + ((us >>> shift) - SUB);
}

/** [lowest, highest] microseconds of bucket i */
function boundsOf(i: number): [number, number] {
  if (i < LINEAR) return [i, i];
  const shift = Math.floor((i - LINEAR) / SUB) + 1;
  const top = ((i - LINEAR) % SUB) + SUB;
  return [top * 2 ** shift, (top + 1) * 2 ** shift - 1];
}
