/** `success-rate`: the share of requests that got an answer other than 5xx (as Istio's dashboards count success). */
import type { AssertionType } from './assertion-type.js';
import { countsOf, percentOf } from './assertion-type.js';

export const successRate: AssertionType = {
  type: 'success-rate',
  summary: 'Share of requests answered with a status other than 5xx, in percent (a request that got no answer at all counts as a failure).',
  kind: 'requests',
  unit: '%',
  properties: {},
  measure(_config, { requests }) {
    const ok = requests.filter((e) => e.status > 0 && e.status < 500).length;
    return { value: percentOf(ok, requests.length), what: 'success rate', detail: `status ${countsOf(requests, statusKey)}` };
  },
};

export function statusKey(e: { status: number; responseFlags: string }): string {
  const flags = e.responseFlags && e.responseFlags !== '-' ? ` ${e.responseFlags}` : '';
  return `${e.status === 0 ? 'no answer' : e.status}${flags}`;
}
