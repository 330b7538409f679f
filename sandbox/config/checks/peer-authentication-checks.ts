/**
 * PeerAuthentication rules beyond the schema, as Istio's validation enforces them:
 * `portLevelMtls` needs a workload selector, and a port must be 1-65535.
 */
import type { Finding } from '../findings.js';
import { makeFinding } from '../codes.js';
import type { Locator } from '../schema-findings.js';
import { isObj, objAt } from './guards.js';

export function checkPeerAuthentication(spec: unknown, locator: Locator): Finding[] {
  const out: Finding[] = [];
  if (!isObj(spec)) return out;
  const ports = objAt(spec, 'portLevelMtls');
  if (!ports) return out;
  const labels = objAt(objAt(spec, 'selector'), 'matchLabels');
  if (!labels || Object.keys(labels).length === 0) {
    out.push(
      makeFinding('UNSUPPORTED_VALUE', 'spec.portLevelMtls requires a workload selector (Istio rejects it on a namespace-wide or mesh-wide policy)', {
        hint: 'add `selector.matchLabels` naming the workload, or move the port settings to a policy that has one',
        location: locator.locate(['spec', 'portLevelMtls'], { key: true }),
      }),
    );
  }
  for (const port of Object.keys(ports)) {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 1 || n > 65535) {
      out.push(
        makeFinding('OUT_OF_RANGE', `spec.portLevelMtls: port ${port} is not a port number (1-65535)`, {
          hint: 'key portLevelMtls by the workload port number, e.g. `8080:`',
          location: locator.locate(['spec', 'portLevelMtls', port], { key: true }),
        }),
      );
    }
  }
  return out;
}
