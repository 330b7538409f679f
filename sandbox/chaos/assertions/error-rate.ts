/**
 * `error-rate`: the share of requests with a given status (`503`, a class `5xx`, `0` for no answer)
 * and/or Envoy response flag (`UO`, `UT`, `URX`, ...), in percent. Without either: 5xx or no answer.
 */
import type { AssertionType } from './assertion-type.js';
import { countsOf, percentOf } from './assertion-type.js';
import { statusKey } from './success-rate.js';
import type { AssertionSpec } from '../scenario-types.js';
import type { JsonSchema } from '../../config/schemas/json-schema.js';

export interface ErrorRateConfig extends AssertionSpec {
  status?: number | string | Array<number | string>;
  flag?: string | string[];
}

const FLAG = '^[A-Z]{2,4}$';

const statusValue: JsonSchema = {
  type: ['integer', 'string'],
  minimum: 0,
  maximum: 599,
  pattern: '^([0-9]{1,3}|[1-5]xx)$',
  description: 'A status (`503`), a status class (`5xx`) or `0` (no answer).',
};

function statusMatcher(s: number | string): (status: number) => boolean {
  const text = String(s);
  if (/^[1-5]xx$/.test(text)) {
    const cls = Number(text[0]);
    return (status) => Math.floor(status / 100) === cls;
  }
  const n = Number(text);
  return (status) => status === n;
}

export function asList<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

export const errorRate: AssertionType<ErrorRateConfig> = {
  type: 'error-rate',
  summary: 'Share of requests with a given status and/or Envoy response flag, in percent (default: 5xx or no answer).',
  kind: 'requests',
  unit: '%',
  properties: {
    status: {
      type: ['integer', 'string', 'array'],
      minimum: 0,
      maximum: 599,
      pattern: '^([0-9]{1,3}|[1-5]xx)$',
      items: statusValue,
      minItems: 1,
      description: 'Status (`503`), class (`5xx`), `0` (no answer), or a list of them.',
    },
    flag: {
      type: ['string', 'array'],
      pattern: FLAG,
      items: { type: 'string', pattern: FLAG, description: 'An Envoy response flag.' },
      minItems: 1,
      description: 'Envoy response flag (`UO` overflow, `UT` timeout, `UF` connect failure, `UH` no healthy upstream, `URX` retries exhausted, `FI`/`DI` injected fault, `NR` no route, `NC` no cluster), or a list of them.',
    },
  },
  measure(config, { requests }) {
    const statuses = asList(config.status).map(statusMatcher);
    const flags = asList(config.flag);
    const matches = (e: (typeof requests)[number]): boolean => {
      if (statuses.length === 0 && flags.length === 0) return e.status === 0 || e.status >= 500;
      if (statuses.length > 0 && !statuses.some((m) => m(e.status))) return false;
      if (flags.length > 0) {
        const own = e.responseFlags.split(',');
        if (!flags.some((f) => own.includes(f))) return false;
      }
      return true;
    };
    const n = requests.filter(matches).length;
    const parts = [asList(config.status).join(' or '), asList(config.flag).join(' or ')].filter(Boolean).join(' ');
    const what = parts ? `share of ${parts} answers` : 'error rate (5xx or no answer)';
    return { value: percentOf(n, requests.length), what, detail: `status ${countsOf(requests, statusKey)}` };
  },
};
