/**
 * `share`: the share of requests that went to one destination subset, version, workload or
 * instance, in percent (e.g. a canary: `subset: v2, equals: 80, tolerance: 5`). With `service`,
 * counted from the sidecars that called the service; otherwise at the ingress gateway.
 */
import type { RequestEvent } from '../../events.js';
import type { AssertionType } from './assertion-type.js';
import { countsOf, percentOf } from './assertion-type.js';
import type { AssertionSpec } from '../scenario-types.js';
import { exactlyOneOf, str } from '../../config/schemas/json-schema.js';

export interface ShareConfig extends AssertionSpec {
  subset?: string;
  version?: string;
  workload?: string;
  instance?: string;
}

const KEYS = {
  subset: (e: RequestEvent) => e.destination.subset ?? '(no subset)',
  version: (e: RequestEvent) => e.destination.version,
  workload: (e: RequestEvent) => e.destination.workload,
  instance: (e: RequestEvent) => (e.endpoint ?? '(none)').replace(/\/app$/, ''),
} as const;

export const share: AssertionType<ShareConfig> = {
  type: 'share',
  summary: 'Share of requests that went to a destination subset, version, workload or instance, in percent.',
  kind: 'requests',
  unit: '%',
  properties: {
    subset: str('DestinationRule subset the requests were routed to, e.g. `v2`.'),
    version: str('Version label of the instance that answered, e.g. `v2`.'),
    workload: str('Workload that answered, e.g. `callme-service-v2`.'),
    instance: str('Instance that answered, e.g. `callme-service-v2-1`.'),
  },
  rules: [exactlyOneOf('subset', 'version', 'workload', 'instance')],
  measure(config, { requests }) {
    const by = (Object.keys(KEYS) as Array<keyof typeof KEYS>).find((k) => config[k] !== undefined)!;
    const key = KEYS[by];
    const n = requests.filter((e) => key(e) === config[by]).length;
    return { value: percentOf(n, requests.length), what: `share of ${by} ${config[by]}`, detail: `by ${by}: ${countsOf(requests, key)}` };
  },
};
