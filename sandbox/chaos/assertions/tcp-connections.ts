/**
 * `tcp-connections`: how many TCP connections (Envoy tcp_proxy) closed in the window, as a
 * sidecar or the gateway reported them, optionally only to one service or subset, or only those
 * with a response flag (`UO` for maxConnections overflow, `UF` for a connect failure, `NR`).
 * E.g. `{type: tcp-connections, service: db, flags: UO, min: 1}`.
 */
import type { TcpConnectionEvent } from '../../events.js';
import { oneOfValues, str } from '../../config/schemas/json-schema.js';
import type { AssertionSpec } from '../scenario-types.js';
import type { AssertionType } from './assertion-type.js';
import { countsOf } from './assertion-type.js';
import { parseClusterName } from './ejections.js';

export interface TcpConnectionsConfig extends AssertionSpec {
  service?: string;
  subset?: string;
  /** `source` (default: the calling side, one per connection) or `destination` */
  reporter?: 'source' | 'destination';
  /** only connections with this response flag (`-` for none) */
  flags?: string;
}

export const tcpConnections: AssertionType<TcpConnectionsConfig> = {
  type: 'tcp-connections',
  summary: 'Number of TCP connections closed in the window (to a service, with a response flag such as UO or UF).',
  kind: 'events',
  unit: '',
  properties: {
    service: str('Only connections to this service, e.g. `db`.'),
    subset: str('Only connections to this subset.'),
    reporter: oneOfValues(['source', 'destination'], 'Which side reports (default `source`: the calling sidecar or the gateway).'),
    flags: str('Only connections with this response flag: `UO` (maxConnections), `UF` (connect failure), `UH`, `NR`, or `-` for none.'),
  },
  measure(config, { tcpConnections: all = [] }) {
    const reporter = config.reporter ?? 'source';
    const matching = all.filter((e: TcpConnectionEvent) => {
      if (e.reporter !== reporter) return false;
      if (config.service !== undefined && e.destination.serviceName !== config.service) return false;
      if (config.subset !== undefined && parseClusterName(e.upstreamCluster ?? '').subset !== config.subset) return false;
      if (config.flags !== undefined && !(config.flags === '-' ? e.responseFlags === '-' : e.responseFlags.split(',').includes(config.flags))) return false;
      return true;
    });
    const scope = [config.service, config.subset && `subset ${config.subset}`, config.flags && `flag ${config.flags}`].filter(Boolean).join(', ');
    return {
      value: matching.length,
      what: `TCP connections${scope ? ` (${scope})` : ''}`,
      detail: all.length ? `flags ${countsOf(all.filter((e) => e.reporter === reporter), (e) => e.responseFlags)}` : 'no TCP connections',
    };
  },
};
