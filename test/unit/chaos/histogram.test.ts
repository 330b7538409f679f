import { describe, expect, it } from 'vitest';
import { LatencyHistogram, LatencySamples } from '../../../sandbox/chaos/histogram.js';

/** mulberry32, so the sample sets are the same on every run */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('LatencySamples', () => {
  it('gives exact nearest-rank percentiles, mean and max', () => {
    const samples = new LatencySamples();
    for (let v = 1000; v >= 1; v--) samples.record(v); // out of order on purpose
    expect(samples.summary()).toEqual({
      count: 1000,
      min: 1,
      mean: 500.5,
      stddev: expect.closeTo(288.675, 3),
      p50: 500,
      p90: 900,
      p99: 990,
      p999: 999,
      max: 1000,
    });
  });

  it('grows past its initial capacity and re-sorts after new samples', () => {
    const samples = new LatencySamples();
    for (let i = 0; i < 5000; i++) samples.record(1);
    expect(samples.percentile(100)).toBe(1);
    samples.record(7);
    expect(samples.percentile(100)).toBe(7);
    expect(samples.count).toBe(5001);
  });

  it('summarises an empty set as zeros', () => {
    expect(new LatencySamples().summary()).toMatchObject({ count: 0, p99: 0, max: 0 });
  });

  it('handles a million samples quickly', () => {
    const samples = new LatencySamples();
    const random = seeded(1);
    for (let i = 0; i < 1_000_000; i++) samples.record(random() * 100);
    const started = performance.now();
    const summary = samples.summary();
    expect(performance.now() - started).toBeLessThan(2000);
    expect(summary.p50).toBeCloseTo(50, 0);
  });
});

describe('LatencyHistogram', () => {
  it('stays within 1 % of the exact percentiles over a wide range', () => {
    const random = seeded(42);
    const exact = new LatencySamples();
    const histogram = new LatencyHistogram();
    for (let i = 0; i < 200_000; i++) {
      // log-uniform from 0.05 ms to 5 s
      const ms = 0.05 * Math.pow(10, random() * 5);
      exact.record(ms);
      histogram.record(ms);
    }
    for (const p of [50, 90, 99, 99.9]) {
      expect(Math.abs(histogram.percentile(p) - exact.percentile(p)) / exact.percentile(p)).toBeLessThan(0.01);
    }
    expect(histogram.summary().max).toBe(exact.summary().max);
    expect(histogram.summary().mean).toBeCloseTo(exact.summary().mean, 6);
  });

  it('is exact to the microsecond below 0.256 ms and resets', () => {
    const histogram = new LatencyHistogram();
    for (const ms of [0.1, 0.2, 0.25]) histogram.record(ms);
    expect(histogram.percentile(50)).toBeCloseTo(0.2, 6);
    histogram.reset();
    expect(histogram.count).toBe(0);
    expect(histogram.percentile(99)).toBe(0);
  });

  it('clamps very large values instead of failing', () => {
    const histogram = new LatencyHistogram();
    histogram.record(1e9);
    expect(histogram.percentile(50)).toBeGreaterThan(2_000_000);
  });
});
