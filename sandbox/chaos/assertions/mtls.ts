/**
 * `mtls`: the share of requests that travelled over mutual TLS, in percent: the destination
 * sidecar's `connection_security_policy="mutual_tls"` (Istio's label; with `reporter:
 * destination`), or, as the calling side reports it, whether its upstream connection was mTLS.
 * `min: 100` says "every hop of this window was mTLS".
 */
import type { RequestEvent } from '../../events.js';
import type { AssertionType } from './assertion-type.js';
import { countsOf, percentOf } from './assertion-type.js';

export function securityKey(e: RequestEvent): string {
  return e.connectionSecurity ?? 'unknown';
}

export const mtls: AssertionType = {
  type: 'mtls',
  summary: 'Share of requests over mutual TLS, in percent (the destination sidecar\'s connection_security_policy with `reporter: destination`).',
  kind: 'requests',
  unit: '%',
  properties: {},
  measure(_config, { requests }) {
    const n = requests.filter((e) => e.connectionSecurity === 'mutual_tls').length;
    return { value: percentOf(n, requests.length), what: 'share over mTLS', detail: `connection security ${countsOf(requests, securityKey)}` };
  },
};
