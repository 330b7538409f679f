/**
 * `attempts`: how hard the proxies retried: the mean or max attempts per request, the share of
 * requests that needed more than one attempt (`retried`, percent), or the number of retries.
 * Attempts are made by the calling side, so this is usually asked with `service`.
 */
import type { AssertionType } from './assertion-type.js';
import { countsOf, percentOf } from './assertion-type.js';
import type { AssertionSpec } from '../scenario-types.js';
import { oneOfValues } from '../../config/schemas/json-schema.js';

export interface AttemptsConfig extends AssertionSpec {
  stat?: 'mean' | 'max' | 'retried' | 'retries';
}

export const attempts: AssertionType<AttemptsConfig> = {
  type: 'attempts',
  summary: 'Upstream attempts per request: `mean` or `max` attempts, `retried` (percent of requests retried) or `retries` (total retries).',
  kind: 'requests',
  unit: (c) => (c.stat === 'retried' ? '%' : c.stat === 'mean' || c.stat === undefined ? 'x' : ''),
  properties: {
    stat: oneOfValues(['mean', 'max', 'retried', 'retries'], 'What to measure (default `mean`): mean attempts, max attempts, `retried` = percent of requests with more than one attempt, `retries` = total retries.'),
  },
  measure(config, { requests }) {
    const counts = requests.map((e) => Math.max(1, e.attempts));
    const detail = `attempts per request: ${countsOf(counts, (a) => `${a}`)}`;
    switch (config.stat ?? 'mean') {
      case 'max':
        return { value: Math.max(...counts), what: 'max attempts per request', detail };
      case 'retried':
        return { value: percentOf(counts.filter((a) => a > 1).length, counts.length), what: 'share of requests retried', detail };
      case 'retries':
        return { value: counts.reduce((s, a) => s + a - 1, 0), what: 'retries', detail };
      default:
        return { value: counts.reduce((s, a) => s + a, 0) / Math.max(1, counts.length), what: 'mean attempts per request', detail };
    }
  },
};
