/**
 * The series counters and histograms of sandbox/telemetry/metric-series.ts print exactly what
 * prom-client's own Counter and Histogram print for the same observations (text and JSON), so
 * dashboards, PromQL and the scenario assertions read them unchanged.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { SeriesCounter, SeriesHistogram } from '../../../sandbox/telemetry/metric-series.js';
import { ISTIO_BUCKETS } from '../../../sandbox/telemetry/metrics.js';
import { Rng } from '../../../sandbox/rng.js';

const LABELS = ['reporter', 'source_workload', 'response_code', 'pod'] as const;

function labelSets(rng: Rng): Array<Record<(typeof LABELS)[number], string>> {
  const out = [];
  for (let i = 0; i < 6; i++) {
    out.push({ reporter: i % 2 ? 'source' : 'destination', source_workload: `caller-v${i % 3}`, response_code: String([200, 503, 404][i % 3]), pod: `p-${Math.floor(rng.next() * 3)}` });
  }
  return out;
}

describe('series metrics', () => {
  it('print what prom-client prints for the same observations', async () => {
    const rng = new Rng(7);
    const sets = labelSets(rng);
    const theirs = new Registry();
    const ours = new Registry();
    const counter = new Counter({ name: 'x_requests_total', help: 'requests', labelNames: [...LABELS], registers: [theirs] });
    const hist = new Histogram({ name: 'x_duration_milliseconds', help: 'durations', labelNames: [...LABELS], buckets: ISTIO_BUCKETS, registers: [theirs] });
    const myCounter = new SeriesCounter('x_requests_total', 'requests', ours);
    const myHist = new SeriesHistogram('x_duration_milliseconds', 'durations', ours, ISTIO_BUCKETS);
    for (let i = 0; i < 2000; i++) {
      const labels = sets[Math.floor(rng.next() * sets.length)]!;
      const key = Object.values(labels).join('|');
      // durations across every bucket, exact bounds included, and beyond the last one
      const v = i % 97 === 0 ? ISTIO_BUCKETS[i % ISTIO_BUCKETS.length]! : i % 101 === 0 ? 5_000_000 : Math.round(rng.next() * 3000 * 1000) / 1000;
      counter.inc(labels);
      hist.observe(labels, v);
      myCounter.inc(key, () => ({ ...labels }));
      myHist.observe(key, () => ({ ...labels }), v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
  });

  it('builds the labels of a series once, and forgets every series on reset', async () => {
    const reg = new Registry();
    const c = new SeriesCounter('y_total', 'y', reg);
    let built = 0;
    const labels = (): Record<string, string> => {
      built++;
      return { a: '1' };
    };
    for (let i = 0; i < 5; i++) c.inc('k', labels);
    expect(built).toBe(1);
    expect(await reg.metrics()).toContain('y_total{a="1"} 5');
    c.reset();
    expect(await reg.metrics()).not.toContain('y_total{');
  });
});
