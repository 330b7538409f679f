/**
 * `ejections`: how many times outlier detection ejected a host (or let one back, with
 * `event: returned`) in the window, optionally only for one service, subset or instance.
 */
import type { OutlierEvent } from '../../events.js';
import type { AssertionType } from './assertion-type.js';
import type { AssertionSpec } from '../scenario-types.js';
import { oneOfValues, str } from '../../config/schemas/json-schema.js';

export interface EjectionsConfig extends AssertionSpec {
  service?: string;
  subset?: string;
  instance?: string;
  event?: 'ejected' | 'returned';
}

/** `outbound|8080|v2|callme-service.default.svc.cluster.local` -> service and subset */
export function parseClusterName(name: string): { service?: string; subset?: string } {
  const parts = name.split('|');
  if (parts.length < 4) return {};
  return { service: parts[3]!.split('.')[0], subset: parts[2] || undefined };
}

export const ejections: AssertionType<EjectionsConfig> = {
  type: 'ejections',
  summary: 'Number of outlier-detection ejections (or returns, with `event: returned`) in the window.',
  kind: 'events',
  unit: '',
  properties: {
    event: oneOfValues(['ejected', 'returned'], 'Count ejections (default) or hosts coming back.'),
    service: str('Only hosts of this service, e.g. `callme-service`.'),
    subset: str('Only hosts of clusters of this subset.'),
    instance: str('Only this instance, e.g. `callme-service-v1-1`.'),
  },
  measure(config, { outliers }) {
    const type = config.event === 'returned' ? 'mesh:outlier:returned' : 'mesh:outlier:ejected';
    const matching = outliers.filter((e: OutlierEvent) => {
      if (e.type !== type) return false;
      const c = parseClusterName(e.cluster);
      if (config.service !== undefined && c.service !== config.service) return false;
      if (config.subset !== undefined && c.subset !== config.subset) return false;
      if (config.instance !== undefined && e.endpoint !== config.instance) return false;
      return true;
    });
    const scope = [config.instance, config.service, config.subset && `subset ${config.subset}`].filter(Boolean).join(' ');
    const what = `${config.event === 'returned' ? 'hosts returned' : 'ejections'}${scope ? ` of ${scope}` : ''}`;
    const detail = matching.length
      ? matching
          .slice(0, 5)
          .map((e) => `${e.endpoint} ${config.event === 'returned' ? 'returned' : `ejected${e.reason ? ` (${e.reason})` : ''}`}`)
          .join('; ')
      : outliers.length
        ? `other outlier events: ${outliers.length}`
        : 'no outlier events';
    return { value: matching.length, what, detail };
  },
};
