/**
 * `healthy`: how many instances of a service, workload (service-version) or the one instance are
 * running, healthy and not drained, now. With `within` on the expect step it waits for recovery
 * ("the killed instance comes back").
 */
import type { AssertionType } from './assertion-type.js';
import type { AssertionSpec } from '../scenario-types.js';
import { exactlyOneOf, str } from '../../config/schemas/json-schema.js';

export interface HealthyConfig extends AssertionSpec {
  service?: string;
  workload?: string;
  instance?: string;
}

export const healthy: AssertionType<HealthyConfig> = {
  type: 'healthy',
  summary: 'Number of instances of a service, workload or the one instance that are running, healthy and not drained.',
  kind: 'state',
  unit: '',
  properties: {
    service: str('All instances of this service, e.g. `callme-service`.'),
    workload: str('All instances of this workload, e.g. `callme-service-v2`.'),
    instance: str('This instance, e.g. `callme-service-v2-1`.'),
  },
  rules: [exactlyOneOf('service', 'workload', 'instance')],
  async measure(config, { instances }) {
    const all = (await instances()).filter((i) =>
      config.instance !== undefined ? i.id === config.instance : config.workload !== undefined ? i.workload === config.workload : i.service === config.service,
    );
    const up = all.filter((i) => i.healthy && i.state === 'running' && !i.drained);
    const scope = config.instance ?? config.workload ?? config.service;
    return {
      value: up.length,
      what: `healthy instances of ${scope}`,
      detail: all.length ? all.map((i) => `${i.id} ${i.state}${i.healthy ? ' healthy' : ' unhealthy'}${i.drained ? ' drained' : ''}`).join(', ') : `no instance of ${scope}`,
    };
  },
};
