/**
 * The named string formats used by the schemas, each a function saying what is wrong with a
 * value (undefined when it is valid) plus a hint. ajv uses them as `format`s; the error
 * converter calls them again to explain a failure.
 */
import { durationProblem, tryParseDuration } from './duration.js';
import { compileRe2 } from './re2.js';
import {
  dns1123LabelProblem,
  dns1123SubdomainProblem,
  gatewayHostProblem,
  gatewayRefProblem,
  istioHostProblem,
  labelKeyProblem,
  labelValueProblem,
} from './names.js';
import type { StringFormat } from './schemas/json-schema.js';
import { GATEWAY_PROTOCOLS } from './schemas/gateway.js';
import type { FindingCodeName } from './codes.js';

export interface FormatProblem {
  problem: string;
  hint: string;
  code: FindingCodeName;
}

type Check = (value: string) => FormatProblem | undefined;

const DURATION_HINT = 'write a number and a unit: `500ms`, `1.5s`, `2m`, `1h`';

const nameCheck =
  (problemOf: (v: string) => string | undefined, what: string): Check =>
  (v) => {
    const problem = problemOf(v);
    return problem ? { problem: `is not a valid ${what}: ${problem}`, hint: `rename it, e.g. \`${suggestName(v)}\``, code: 'INVALID_NAME' } : undefined;
  };

export const FORMAT_CHECKS: Record<StringFormat, Check> = {
  duration: (v) => {
    const problem = durationProblem(v);
    return problem ? { problem: `is not a valid duration: ${problem}`, hint: DURATION_HINT, code: 'INVALID_DURATION' } : undefined;
  },
  'duration-min-1ms': (v) => {
    const problem = durationProblem(v);
    if (problem) return { problem: `is not a valid duration: ${problem}`, hint: DURATION_HINT, code: 'INVALID_DURATION' };
    const ms = tryParseDuration(v) ?? 0;
    if (ms < 1) return { problem: 'must be at least 1ms', hint: 'use a duration of 1ms or more; to turn the feature off, remove the field', code: 'INVALID_DURATION' };
    if (!Number.isInteger(Math.round(ms * 1e6) / 1e6)) {
      return { problem: 'must be a whole number of milliseconds', hint: `round it, e.g. \`${Math.round(ms)}ms\``, code: 'INVALID_DURATION' };
    }
    return undefined;
  },
  re2: (v) => {
    const r = compileRe2(v);
    return r.ok ? undefined : { problem: `is not a valid regular expression: ${r.problem}`, hint: r.hint ?? '', code: 'INVALID_REGEX' };
  },
  'dns1123-label': nameCheck(dns1123LabelProblem, 'name'),
  'dns1123-subdomain': nameCheck(dns1123SubdomainProblem, 'name'),
  'istio-host': (v) => {
    const problem = istioHostProblem(v);
    return problem ? { problem: `is not a valid host: ${problem}`, hint: 'use a service name (`reviews`, `reviews.default.svc.cluster.local`), `*.example.com` or `*`', code: 'INVALID_NAME' } : undefined;
  },
  'gateway-host': (v) => {
    const problem = gatewayHostProblem(v);
    return problem ? { problem: `is not a valid gateway host: ${problem}`, hint: 'write `host.example.com`, `*.example.com`, `*` or `namespace/host`', code: 'INVALID_NAME' } : undefined;
  },
  'gateway-ref': (v) => {
    const problem = gatewayRefProblem(v);
    return problem ? { problem: `is not a valid gateway reference: ${problem}`, hint: 'write `mesh`, `<gateway>` or `<namespace>/<gateway>`', code: 'INVALID_NAME' } : undefined;
  },
  'gateway-protocol': (v) =>
    (GATEWAY_PROTOCOLS as readonly string[]).includes(v.toUpperCase())
      ? undefined
      : { problem: 'is not a protocol a Gateway server supports', hint: `use one of ${GATEWAY_PROTOCOLS.join(', ')}`, code: 'VALUE_NOT_ALLOWED' },
  'label-key': (v) => {
    const problem = labelKeyProblem(v);
    return problem ? { problem: `is not a valid label name: ${problem}`, hint: 'label names look like `app`, `version` or `example.com/tier`', code: 'INVALID_NAME' } : undefined;
  },
  'label-value': (v) => {
    const problem = labelValueProblem(v);
    return problem ? { problem: `is not a valid label value: ${problem}`, hint: 'label values look like `v1`, `canary` or `2.0.1`', code: 'INVALID_NAME' } : undefined;
  },
  'env-name': (v) =>
    /^[A-Za-z_][A-Za-z0-9_]*$/.test(v)
      ? undefined
      : { problem: 'is not a valid environment variable name', hint: 'use letters, digits and `_`, not starting with a digit, e.g. `CALLME_URL`', code: 'INVALID_NAME' },
};

export function checkFormat(format: string, value: string): FormatProblem | undefined {
  const check = (FORMAT_CHECKS as Record<string, Check | undefined>)[format];
  return check ? check(value) : undefined;
}

/** A DNS-1123 version of `name`, for hints: lowercase, other characters become `-`. */
export function suggestName(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  return s || 'my-name';
}
