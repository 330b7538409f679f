/**
 * Every destination of a VirtualService with its path: http route destinations, mirrors, and
 * tcp/tls route destinations.
 */
import type { Destination } from '../istio-types.js';
import type { VirtualService } from '../resource.js';
import type { Path } from './context.js';

export interface DestinationRef {
  destination: Destination;
  /** path of the `destination` object */
  path: Path;
  /** true for mirrors (they get copies; their answers are discarded) */
  mirror: boolean;
}

export function destinationsOf(vs: VirtualService): DestinationRef[] {
  const out: DestinationRef[] = [];
  (vs.spec.http ?? []).forEach((route, i) => {
    (route.route ?? []).forEach((d, j) => out.push({ destination: d.destination, path: ['spec', 'http', i, 'route', j, 'destination'], mirror: false }));
    if (route.mirror) out.push({ destination: route.mirror, path: ['spec', 'http', i, 'mirror'], mirror: true });
    (route.mirrors ?? []).forEach((m, j) => out.push({ destination: m.destination, path: ['spec', 'http', i, 'mirrors', j, 'destination'], mirror: true }));
  });
  for (const proto of ['tcp', 'tls'] as const) {
    (vs.spec[proto] ?? []).forEach((route, i) => {
      const dests = (route as { route?: Array<{ destination: Destination }> }).route ?? [];
      dests.forEach((d, j) => out.push({ destination: d.destination, path: ['spec', proto, i, 'route', j, 'destination'], mirror: false }));
    });
  }
  return out;
}
