/**
 * Counters and histograms counted where the events arrive and exported on scrape (issue #13.1).
 *
 * prom-client's own Counter and Histogram validate and hash every label of a series on each
 * `inc`/`observe`, even through a bound child: with Istio's 27 labels that is four 900-character
 * hash strings per request event, the largest part of the main thread's work under load. These
 * two classes keep each series as plain numbers (a count per bucket, a sum) under a key the
 * caller chose, and build prom-client's export shape only when the registry is scraped, so
 * `/metrics`, `registry.metrics()` and `registry.getMetricsAsJSON()` print exactly what
 * prom-client's classes would.
 *
 * They implement the part of prom-client's metric interface a Registry uses (`name`, `help`,
 * `type`, `aggregator`, `get`, `getForPromString`, `reset`), and register like any metric.
 */
import type { Registry } from 'prom-client';

type LabelValues = Readonly<Record<string, string>>;

interface ExportValue {
  labels: Record<string, string | number>;
  sharedLabels?: LabelValues;
  value: number;
  metricName?: string;
  /** prom-client's buckets carry one (null: exemplars are off) */
  exemplar?: null;
}

interface ExportData {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: ExportValue[];
  aggregator: 'sum';
}

abstract class SeriesMetric<S> {
  readonly aggregator = 'sum' as const;
  protected readonly series = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  abstract readonly type: 'counter' | 'histogram';

  /** the series of `key`, created with `labels()` the first time (labels are built once per series) */
  protected seriesOf(key: string, labels: () => LabelValues, create: (labels: LabelValues) => S): S {
    let s = this.series.get(key);
    if (s === undefined) {
      s = create(labels());
      this.series.set(key, s);
    }
    return s;
  }

  reset(): void {
    this.series.clear();
  }

  /** as prom-client's: the series' labels apart (`sharedLabels`) from a bucket's `le` */
  abstract getForPromString(): Promise<ExportData>;

  /** as prom-client's `get()`: every value with its labels in one object */
  async get(): Promise<ExportData> {
    const data = await this.getForPromString();
    data.values = data.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...(sharedLabels ?? {}) } }));
    return data;
  }
}

interface CounterSeries {
  labels: LabelValues;
  value: number;
}

export class SeriesCounter extends SeriesMetric<CounterSeries> {
  readonly type = 'counter' as const;

  inc(key: string, labels: () => LabelValues, by = 1): void {
    this.seriesOf(key, labels, (l) => ({ labels: l, value: 0 })).value += by;
  }

  getForPromString(): Promise<ExportData> {
    const values: ExportValue[] = [];
    for (const s of this.series.values()) values.push({ labels: { ...s.labels }, value: s.value });
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }
}

interface HistogramSeries {
  labels: LabelValues;
  /** observations per bucket (not cumulative); the last slot is above the highest bound */
  buckets: Float64Array;
  sum: number;
  count: number;
}

export class SeriesHistogram extends SeriesMetric<HistogramSeries> {
  readonly type = 'histogram' as const;

  constructor(
    name: string,
    help: string,
    registry: Registry,
    private readonly upperBounds: readonly number[],
  ) {
    super(name, help, registry);
  }

  observe(key: string, labels: () => LabelValues, value: number): void {
    if (!Number.isFinite(value)) return;
    const s = this.seriesOf(key, labels, (l) => ({ labels: l, buckets: new Float64Array(this.upperBounds.length + 1), sum: 0, count: 0 }));
    const b = this.upperBounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    s.buckets[i]!++;
    s.sum += value;
    s.count++;
  }

  getForPromString(): Promise<ExportData> {
    const values: ExportValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      let acc = 0;
      for (let i = 0; i < this.upperBounds.length; i++) {
        acc += s.buckets[i]!;
        values.push({ labels: { le: this.upperBounds[i]! }, sharedLabels: s.labels, value: acc, metricName: bucket, exemplar: null });
      }
      values.push(
        { labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.count, metricName: bucket, exemplar: null },
        { labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count` },
      );
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }
}
