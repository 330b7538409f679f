/**
 * The JSON Schema of scenario files, built from the step and assertion registries, with a
 * description on every field so editors (the YAML language server) complete and explain them:
 * each shipped scenario starts with `# yaml-language-server: $schema=./scenario.schema.json`.
 * `meshbox scenario schema` prints it; scenarios/scenario.schema.json is a copy kept in sync
 * by a test.
 */
import { bool, int, list, map, obj, oneOfValues, str, strings, atMostOneOf } from '../config/schemas/json-schema.js';
import type { JsonSchema, JsonType } from '../config/schemas/json-schema.js';
import { hoistSharedSchemas } from '../config/schemas/hoist.js';
import { durationField } from './schema-parts.js';
import { stepTypes } from './steps/index.js';
import type { StepType } from './steps/step-type.js';

const pauses = obj('Pauses', 'Wait before and/or after the step (Chaos Toolkit pauses).', {
  before: durationField('Wait this long before the step.'),
  after: durationField('Wait this long after the step.'),
});

function stepThen(t: StepType): JsonSchema {
  return obj(
    `Step ${t.type}`,
    t.summary,
    {
      type: { const: t.type, description: t.summary },
      name: str('Names the step in reports; a load step\'s name is the window `expect` can look at.', { minLength: 1 }),
      description: str('What the step is for (shown in reports).'),
      pauses,
      ...t.properties,
    },
    { required: ['type', ...(t.required ?? [])], rules: t.rules ?? [] },
  );
}

export function stepSchema(): JsonSchema {
  const types = stepTypes();
  return {
    type: 'object',
    title: 'Step',
    description: `One step, chosen by \`type\`: ${types.map((t) => t.type).join(', ')}.`,
    required: ['type'],
    properties: { type: oneOfValues(types.map((t) => t.type), 'The step type.') },
    allOf: types.map((t) => ({ if: { properties: { type: { const: t.type } }, required: ['type'] }, then: stepThen(t) })),
  };
}

export function scenarioSchema(): JsonSchema {
  const step = stepSchema();
  return obj(
    'Scenario',
    'A meshbox chaos scenario: a steady-state hypothesis checked before and after, a method of ordered steps, rollbacks (Chaos Toolkit\'s model), run headless by `meshbox scenario run`.',
    {
      title: str('What the scenario shows, in one line.', { minLength: 1 }),
      description: str('The hypothesis in words: what should hold, and why.'),
      tags: strings('Tags, e.g. `retries`, `faults`.'),
      seed: int('Seed of every random choice (weighted routing, load balancing, retry back-off, fault sampling, the sample apps); `--seed` overrides it. Printed on every run so a failure can be replayed.', 0, 4_294_967_295),
      mesh: obj(
        'ScenarioMesh',
        'The mesh to run the scenario on: by default a fresh sandbox of the bundled sample mesh.',
        {
          config: str('meshbox.yaml of the mesh to start (relative to the scenario file; default: the bundled sample).', { minLength: 1 }),
          rules: str('Rules folder (relative to the scenario file; default: the one meshbox.yaml names).', { minLength: 1 }),
          attach: str('Admin URL of a running sandbox to use instead of starting one, e.g. `http://127.0.0.1:15000`.', { pattern: '^https?://' }),
          host: str('Host header of traffic through the ingress gateway (default: the first host a Gateway-bound VirtualService serves; `caller.example.com` for the sample).'),
          readyTimeout: durationField('How long the sandbox may take to become ready (default 60s).'),
        },
        { rules: [atMostOneOf('attach', 'config'), atMostOneOf('attach', 'rules')] },
      ),
      vars: map({ type: ['string', 'number', 'boolean'], description: 'Value.' }, 'Variables: `${name}` in any value below is replaced; `--var name=value` overrides.', { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_.-]*$', description: 'Variable name.' }),
      steadyState: obj(
        'SteadyState',
        'The steady-state hypothesis: steps (usually probes, loads and expectations) that must all pass before the method (or the method does not run) and again after it.',
        { title: str('The hypothesis in one line.'), probes: list(step, 'The checks, in order.', { minItems: 1 }) },
        { required: ['probes'] },
      ),
      method: list(step, 'The steps of the experiment, in order; the method stops at the first step that fails.', { minItems: 1 }),
      rollbacks: list(step, 'Steps that undo the method, run after it (see --rollback-strategy); then meshbox undoes what steps changed (faults, rules, paused or stopped instances).'),
      continueOnFailure: bool('Run the remaining method steps after a failed expectation (default false: stop at the first failure).'),
    },
    { required: ['title', 'method'] },
  );
}

const VARIABLE = '^\\$\\{[^}]+\\}$';

/**
 * Editors see the file before `${name}` is replaced: wherever a number or a boolean is expected,
 * the file schema also accepts a string that is exactly one `${variable}`.
 */
function acceptVariables(schema: JsonSchema): JsonSchema {
  const out: JsonSchema = { ...schema };
  const types: JsonType[] = schema.type === undefined ? [] : ([] as JsonType[]).concat(schema.type);
  if (types.length > 0 && !types.includes('string') && types.some((t) => t === 'number' || t === 'integer' || t === 'boolean')) {
    out.type = [...types, 'string'];
    out.pattern = VARIABLE;
  }
  for (const key of ['properties', 'definitions'] as const) {
    const m = schema[key];
    if (m) out[key] = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, acceptVariables(v)]));
  }
  for (const key of ['items', 'not', 'if', 'then', 'propertyNames'] as const) {
    const v = schema[key];
    if (v) out[key] = acceptVariables(v);
  }
  if (typeof schema.additionalProperties === 'object') out.additionalProperties = acceptVariables(schema.additionalProperties);
  for (const key of ['oneOf', 'anyOf', 'allOf'] as const) {
    const list = schema[key];
    if (list) out[key] = list.map(acceptVariables);
  }
  return out;
}

/** A standalone JSON Schema file for editors (scenarios/scenario.schema.json). */
export function scenarioJsonSchema(): JsonSchema {
  return { $schema: 'http://json-schema.org/draft-07/schema#', $id: 'urn:meshbox:schema:scenario', ...acceptVariables(hoistSharedSchemas(scenarioSchema())) };
}
