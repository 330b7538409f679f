/**
 * `expect`: assertions over observed traffic (or state), each with a tolerance. The window is the
 * step's `window` (default: the last load or probe), or each assertion's own. With `within`, the
 * assertions are evaluated again every `interval` until they all hold or the time is up (a
 * Litmus-style continuous probe: "the instance is back within 10s").
 */
import { list } from '../../config/schemas/json-schema.js';
import { evaluateAssertion, type AssertionResult } from '../assertions/evaluate.js';
import { assertionSchema, windowSchema } from '../assertions/schema.js';
import type { AssertionSpec, StepSpec, WindowSpec } from '../scenario-types.js';
import { scenarioFinding } from '../scenario-codes.js';
import { durationField } from '../schema-parts.js';
import { formatValue, toMs } from '../tolerance.js';
import type { Finding } from '../../config/findings.js';
import type { CheckContext, StepType } from './step-type.js';

export interface ExpectConfig extends StepSpec {
  assertions: AssertionSpec[];
  window?: WindowSpec;
  within?: string;
  interval?: string;
}

function checkWindow(w: WindowSpec | undefined, path: Array<string | number>, ctx: CheckContext): Finding[] {
  if (!w) return [];
  const out: Finding[] = [];
  if (w.load !== undefined && !ctx.loads.has(w.load)) {
    out.push(scenarioFinding('UNKNOWN_NAME', `no load named "${w.load}" runs before this step`, ctx.at([...path, 'load']), ctx.loads.size ? `loads: ${[...ctx.loads].join(', ')}` : 'give a load step a `name:` and refer to it here'));
  }
  for (const key of ['step', 'since'] as const) {
    const name = w[key];
    if (name !== undefined && !ctx.steps.has(name)) {
      out.push(scenarioFinding('UNKNOWN_NAME', `no step named "${name}" runs before this step`, ctx.at([...path, key]), ctx.steps.size ? `steps: ${[...ctx.steps].join(', ')}` : 'give the step a `name:` and refer to it here'));
    }
  }
  return out;
}

/** what an attached sandbox's metrics cannot tell (see ../attached-target.ts) */
function attachedLimits(a: AssertionSpec, path: Array<string | number>, ctx: CheckContext): Finding[] {
  const hint = 'an attached sandbox is observed through its Istio metrics, which do not carry it; let the scenario start its own sandbox (remove `mesh.attach`) for this assertion';
  const out: Finding[] = [];
  const refuse = (key: string, what: string): void => void out.push(scenarioFinding('NOT_WHEN_ATTACHED', `${what} is not available when attached to a running sandbox`, ctx.at([...path, key], { key: true }), hint));
  if (a.type === 'attempts') refuse('type', 'the number of attempts per request');
  if (a.type === 'share' && a['subset'] !== undefined) refuse('subset', 'the subset a request was routed to');
  if (a.type === 'share' && a['instance'] !== undefined) refuse('instance', 'the instance that answered');
  if (a.type === 'mtls' && a['reporter'] !== 'destination') refuse('type', "the calling side's connection security (its metrics say `unknown`; use `reporter: destination`)");
  if (a['path'] !== undefined) refuse('path', 'the path of a request');
  if (a['headers'] !== undefined) refuse('headers', 'the headers of a request');
  return out;
}

export const expect: StepType<ExpectConfig> = {
  type: 'expect',
  summary: 'Assertions over observed traffic (success rate, errors, latency, share, attempts, ejections) or state (healthy instances), with tolerances.',
  // a getter: assertion types registered after this module loaded are in the schema too
  get properties() {
    return {
      assertions: list(assertionSchema(), 'The assertions; the step fails when any does not hold.', { minItems: 1 }),
      window: windowSchema,
      within: durationField('Evaluate again until every assertion holds, for at most this long (default: once).'),
      interval: durationField('With `within`: time between evaluations (default 250ms).'),
    };
  },
  required: ['assertions'],
  title: (c) => `expect ${c.assertions.map((a) => a.type).join(', ')}${c.within !== undefined ? ` within ${formatValue(toMs(c.within), 'ms')}` : ''}`,
  check(config, ctx) {
    const out = checkWindow(config.window, ['window'], ctx);
    config.assertions.forEach((a, i) => {
      out.push(...checkWindow(a['window'] as WindowSpec | undefined, ['assertions', i, 'window'], ctx));
      out.push(...checkWindow(a['baseline'] as WindowSpec | undefined, ['assertions', i, 'baseline'], ctx));
      if (ctx.attached) out.push(...attachedLimits(a, ['assertions', i], ctx));
    });
    return out;
  },
  async run(config, ctx) {
    const deadline = config.within !== undefined ? Date.now() + toMs(config.within) : undefined;
    const interval = config.interval !== undefined ? toMs(config.interval) : 250;
    const evaluateAll = async (): Promise<AssertionResult[]> => {
      const out: AssertionResult[] = [];
      for (const a of config.assertions) out.push(await evaluateAssertion(a, ctx, config.window));
      return out;
    };
    let results = await evaluateAll();
    let rounds = 1;
    while (deadline !== undefined && results.some((r) => !r.passed) && Date.now() + interval <= deadline && !ctx.signal.aborted) {
      await ctx.sleep(interval);
      results = await evaluateAll();
      rounds++;
    }
    const failed = results.filter((r) => !r.passed).length;
    const waited = deadline !== undefined && rounds > 1 ? ` (after ${rounds} evaluations)` : '';
    const summary = failed === 0 ? `${results.length} of ${results.length} assertions held${waited}` : `${failed} of ${results.length} assertions failed${waited}`;
    return { summary, failed: failed > 0, assertions: results };
  },
};
