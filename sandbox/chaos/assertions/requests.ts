/** `requests`: how many requests the selected proxy saw in the window (e.g. `min: 100`). */
import type { AssertionType } from './assertion-type.js';
import { countsOf } from './assertion-type.js';
import { statusKey } from './success-rate.js';

export const requestCount: AssertionType = {
  type: 'requests',
  summary: 'Number of requests seen in the window.',
  kind: 'requests',
  unit: '',
  minRequests: false,
  properties: {},
  measure(_config, { requests }) {
    return { value: requests.length, what: 'requests', detail: requests.length ? `status ${countsOf(requests, statusKey)}` : undefined };
  },
};
