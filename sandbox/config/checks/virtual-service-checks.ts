/**
 * VirtualService rules that a JSON Schema cannot say: valid `retryOn` entries, delegate
 * VirtualServices (no hosts) and what they may not contain, fields Istio itself rejects. (Fields
 * meshbox does not apply, tcp/tls routes among them, are marked in the schema: ../not-applied.ts.)
 */
import type { Finding } from '../findings.js';
import { makeFinding } from '../codes.js';
import type { Locator } from '../schema-findings.js';
import { formatPath } from '../schema-findings.js';
import { retryOnProblems } from './retry-on.js';
import { isObj, listAt, objAt, strAt } from './guards.js';
import { notAppliedFinding } from '../not-applied.js';

export function checkVirtualService(spec: unknown, locator: Locator): Finding[] {
  const out: Finding[] = [];
  if (!isObj(spec)) return out;
  const hosts = listAt(spec, 'hosts');
  const isDelegate = hosts.length === 0;
  const http = listAt(spec, 'http');

  if (isDelegate) {
    for (const field of ['gateways', 'tcp', 'tls'] as const) {
      if (listAt(spec, field).length > 0) {
        out.push(
          makeFinding('DELEGATE_RULES', `spec.${field}: a VirtualService without hosts is a delegate, and a delegate cannot have \`${field}\``, {
            hint: `add \`hosts\` if this VirtualService should apply on its own, or remove \`${field}\` (the root VirtualService decides where a delegate applies)`,
            location: locator.locate(['spec', field], { key: true }),
          }),
        );
      }
    }
  }

  http.forEach((route, i) => {
    const base = ['spec', 'http', i];
    if (isDelegate && objAt(route, 'delegate')) {
      out.push(
        makeFinding('DELEGATE_RULES', `${formatPath([...base, 'delegate'])}: a delegate VirtualService cannot delegate again (only one level of delegation)`, {
          hint: 'route to destinations here, or add `hosts` to make this a root VirtualService',
          location: locator.locate([...base, 'delegate'], { key: true }),
        }),
      );
    }
    const retryOn = strAt(objAt(route, 'retries'), 'retryOn');
    if (retryOn !== undefined) {
      for (const p of retryOnProblems(retryOn)) {
        out.push(
          makeFinding('INVALID_RETRY_ON', `${formatPath([...base, 'retries', 'retryOn'])}: ${p.problem}`, {
            hint: p.hint,
            location: locator.locate([...base, 'retries', 'retryOn']),
          }),
        );
      }
    }
    // Istio's JWT claim based routing (`@request.auth.claims.<claim>`, at a gateway whose
    // RequestAuthentication verified the token): meshbox selects the route before jwt_authn
    listAt(route, 'match').forEach((m, j) => {
      for (const field of ['headers', 'withoutHeaders'] as const) {
        for (const key of Object.keys(objAt(m, field) ?? {})) {
          if (!key.startsWith('@request.auth.claims')) continue;
          out.push(
            notAppliedFinding(
              [...base, 'match', j, field, key],
              `JWT claim based routing is not applied: meshbox reads \`${key}\` as a request header, which no request carries (in \`headers\` the match never holds, in \`withoutHeaders\` it always does)`,
              locator,
            ),
          );
        }
      }
    });
    const fault = objAt(route, 'fault');
    if (objAt(fault, 'delay')?.['exponentialDelay'] !== undefined) {
      out.push(
        makeFinding('UNSUPPORTED_VALUE', `${formatPath([...base, 'fault', 'delay', 'exponentialDelay'])}: exponential delays are not supported (Istio rejects them too)`, {
          hint: 'use `fixedDelay`',
          location: locator.locate([...base, 'fault', 'delay', 'exponentialDelay'], { key: true }),
        }),
      );
    }
    if (objAt(fault, 'abort')?.['http2Error'] !== undefined) {
      out.push(
        makeFinding('UNSUPPORTED_VALUE', `${formatPath([...base, 'fault', 'abort', 'http2Error'])}: HTTP/2 error aborts are not supported (Istio rejects them too)`, {
          hint: 'use `httpStatus` or `grpcStatus`',
          location: locator.locate([...base, 'fault', 'abort', 'http2Error'], { key: true }),
        }),
      );
    }
  });
  return out;
}
