/**
 * `latency`: a percentile (nearest rank) of the request durations the proxy measured, in ms; the
 * bounds may be durations (`800ms`, `1.5s`). With `baseline`, the change from another window
 * (e.g. "p50 rose by 200ms ± 50ms").
 */
import type { AssertionType } from './assertion-type.js';
import type { AssertionSpec } from '../scenario-types.js';
import { formatValue } from '../tolerance.js';
import { num } from '../../config/schemas/json-schema.js';

export interface LatencyConfig extends AssertionSpec {
  percentile: number;
}

/** nearest-rank percentile of unsorted values */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p * sorted.length) / 100 - 1e-9)));
  return sorted[rank - 1];
}

export function percentileName(p: number): string {
  return `p${String(p).replace('.', '')}`;
}

export const latency: AssertionType<LatencyConfig> = {
  type: 'latency',
  summary: 'A latency percentile of the requests, in ms (bounds may be durations such as `800ms`).',
  kind: 'requests',
  unit: 'ms',
  required: ['percentile'],
  properties: {
    percentile: { ...num('Which percentile: 50 (median), 90, 99, 99.9, 100 (the slowest).', 0, 100), examples: [50, 99] },
  },
  measure(config, { requests }) {
    const durations = requests.map((e) => e.durationMs);
    const value = percentile(durations, config.percentile);
    const p = (q: number): string => formatValue(percentile(durations, q) ?? 0, 'ms');
    return {
      value,
      what: `${percentileName(config.percentile)} latency`,
      detail: durations.length ? `p50 ${p(50)}, p90 ${p(90)}, p99 ${p(99)}, max ${p(100)}` : undefined,
    };
  },
};
