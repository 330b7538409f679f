/**
 * DestinationRule rules beyond the schema: unique subset names, the deprecated LEAST_CONN, and
 * `simple: PASSTHROUGH`, a value meshbox recognises but does not apply.
 */
import type { Finding } from '../findings.js';
import { makeFinding } from '../codes.js';
import type { Locator } from '../schema-findings.js';
import { formatPath } from '../schema-findings.js';
import { notAppliedFinding } from '../not-applied.js';
import { isObj, listAt, objAt, strAt } from './guards.js';

export function checkDestinationRule(spec: unknown, locator: Locator): Finding[] {
  const out: Finding[] = [];
  if (!isObj(spec)) return out;
  const seen = new Map<string, number>();
  listAt(spec, 'subsets').forEach((subset, i) => {
    const name = strAt(subset, 'name');
    if (name === undefined) return;
    const first = seen.get(name);
    if (first !== undefined) {
      out.push(
        makeFinding('DUPLICATE_SUBSET', `spec.subsets[${i}]: subset name \`${name}\` is already used by spec.subsets[${first}]`, {
          hint: 'give each subset its own name',
          location: locator.locate(['spec', 'subsets', i, 'name']),
        }),
      );
    } else {
      seen.set(name, i);
    }
  });

  const policies: Array<{ policy: unknown; path: Array<string | number> }> = [{ policy: spec['trafficPolicy'], path: ['spec', 'trafficPolicy'] }];
  listAt(spec, 'subsets').forEach((s, i) => policies.push({ policy: objAt(s, 'trafficPolicy'), path: ['spec', 'subsets', i, 'trafficPolicy'] }));
  for (const { policy, path } of [...policies]) {
    listAt(policy, 'portLevelSettings').forEach((p, i) => policies.push({ policy: p, path: [...path, 'portLevelSettings', i] }));
  }
  for (const { policy, path } of policies) {
    if (strAt(objAt(policy, 'loadBalancer'), 'simple') === 'PASSTHROUGH') {
      out.push(notAppliedFinding([...path, 'loadBalancer', 'simple'], 'requests are balanced with LEAST_REQUEST (Istio\'s default), not sent to the address the caller asked for', locator, '`PASSTHROUGH`'));
    }
    if (strAt(objAt(policy, 'loadBalancer'), 'simple') === 'LEAST_CONN') {
      const at = [...path, 'loadBalancer', 'simple'];
      out.push(
        makeFinding('DEPRECATED_FIELD', `${formatPath(at)}: LEAST_CONN is deprecated (still accepted; it means LEAST_REQUEST)`, {
          hint: 'write `LEAST_REQUEST`',
          location: locator.locate(at),
        }),
      );
    }
  }
  return out;
}
