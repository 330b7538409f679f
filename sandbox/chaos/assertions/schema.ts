/**
 * The JSON Schema of one assertion: its type's own fields plus the common ones (window, which
 * proxy's events, tolerance), chosen by `type` with if/then so editors complete the fields of
 * the type being written and errors name only those.
 */
import { duration, exactlyOneOf, fmt, int, map, num, obj, oneOfValues, str } from '../../config/schemas/json-schema.js';
import type { JsonSchema } from '../../config/schemas/json-schema.js';
import type { Unit } from '../tolerance.js';
import type { AssertionType } from './assertion-type.js';
import { assertionTypes } from './index.js';

export const windowSchema: JsonSchema = obj(
  'Window',
  'Which traffic to look at (default: that of the last load or probe step).',
  {
    load: str('The traffic of the load step with this name.'),
    step: str('The traffic while the step with this name ran.'),
    since: str('The traffic since the step with this name started.'),
    last: duration('The traffic of the last N, e.g. `2s`.'),
  },
  { rules: [exactlyOneOf('load', 'step', 'since', 'last')] },
);

const selection: Record<string, JsonSchema> = {
  service: fmt('dns1123-label', "Count the requests to this service, as the sidecars that called it reported them (default: the ingress gateway's own requests)."),
  reporter: oneOfValues(['source', 'destination'], 'Whose report of each request counts: the calling side (`source`, default) or the called side (`destination`).'),
  proxy: str('Only the requests this proxy reported: `ingress`, an instance (`caller-service-v1-1`) or a workload (`caller-service-v1`).'),
  from: str('Only requests from this source workload, e.g. `caller-service-v1`.'),
  path: str('Only requests whose path starts with this.'),
  headers: map(str('Exact value.'), 'Only requests with these header values (lower-case names).'),
  minRequests: int('Fail when the window holds fewer requests than this (default 10).', 1),
};

function boundValue(unit: Unit, what: string): JsonSchema {
  if (unit === 'ms') return { type: ['number', 'string'], format: 'duration', minimum: 0, description: `${what} (ms, or a duration such as \`800ms\`).`, examples: ['800ms', 250] };
  return num(`${what}${unit === '%' ? ' (percent, 0-100)' : ''}.`);
}

function boundsFor(unit: Unit): Record<string, JsonSchema> {
  return {
    min: boundValue(unit, 'The value must be at least this'),
    max: boundValue(unit, 'The value must be at most this'),
    equals: boundValue(unit, 'The value must be this, give or take `tolerance`'),
    tolerance: boundValue(unit, 'How far from `equals` the value may be'),
  };
}

const boundRules: JsonSchema[] = [
  { anyOf: [{ required: ['min'] }, { required: ['max'] }, { required: ['equals'] }] },
  { not: { anyOf: [{ required: ['equals', 'min'] }, { required: ['equals', 'max'] }] } },
  { if: { required: ['tolerance'] }, then: { required: ['equals'] } },
];

function schemaOf(t: AssertionType): JsonSchema {
  // the unit of the bounds: a type whose unit depends on its config takes plain numbers
  const unit: Unit = typeof t.unit === 'function' ? '' : t.unit;
  const props: Record<string, JsonSchema> = {
    type: { const: t.type, description: t.summary },
    description: str('Describes the assertion in reports (replaces the generated text).'),
  };
  if (t.kind !== 'state') {
    props['window'] = windowSchema;
    props['baseline'] = { ...windowSchema, description: 'Compare with this window: the value checked is the change from it (e.g. how much p50 latency rose).' };
  }
  if (t.kind === 'requests') Object.assign(props, selection);
  Object.assign(props, boundsFor(unit), t.properties);
  return obj(`Assertion ${t.type}`, t.summary, props, { required: ['type', ...(t.required ?? [])], rules: [...boundRules, ...(t.rules ?? [])] });
}

/** One item of `assertions:` */
export function assertionSchema(): JsonSchema {
  const types = assertionTypes();
  return {
    type: 'object',
    title: 'Assertion',
    description: `A check over observed traffic or state, with a tolerance. Types: ${types.map((t) => t.type).join(', ')}.`,
    required: ['type'],
    properties: { type: oneOfValues(types.map((t) => t.type), 'The assertion type.') },
    allOf: types.map((t) => ({ if: { properties: { type: { const: t.type } }, required: ['type'] }, then: schemaOf(t) })),
  };
}
