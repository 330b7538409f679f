/**
 * Evaluates one assertion: picks the window and the events, lets the type measure, compares with
 * the tolerance, and says in one sentence what was expected, what was seen and over how many
 * requests.
 */
import type { RequestEvent } from '../../events.js';
import type { RunState } from '../run-state.js';
import type { ScenarioTarget } from '../scenario-target.js';
import type { AssertionSpec, WindowSpec } from '../scenario-types.js';
import { describeBounds, formatValue, resolveBounds, withinBounds, type BoundsSpec, type Unit } from '../tolerance.js';
import type { TimeRange, TrafficRecorder } from '../traffic-recorder.js';
import { unitOf, type AssertionType, type Measurement } from './assertion-type.js';
import { assertionType } from './index.js';
import { describeSelection, selectRequests, type Selection } from './select.js';

export const DEFAULT_MIN_REQUESTS = 10;

export interface AssertionResult {
  type: string;
  /** what was checked: `success rate at the ingress gateway` */
  description: string;
  /** `at least 95%` */
  expected: string;
  /** `97.3%`, or `n/a` */
  observed: string;
  value?: number;
  unit: Unit;
  /** requests the value stands on (requests kind) */
  requests?: number;
  /** the window's label: `load "split"` */
  window?: string;
  passed: boolean;
  /** one sentence: expected, seen, over how many requests, why not */
  message: string;
  detail?: string;
}

export interface EvaluateContext {
  traffic: TrafficRecorder;
  state: RunState;
  target: Pick<ScenarioTarget, 'instances'>;
}

type Common = AssertionSpec & Selection & BoundsSpec & { window?: WindowSpec; baseline?: WindowSpec; minRequests?: number };

interface Observed {
  m: Measurement;
  requests?: number;
  range?: TimeRange;
  tooFew?: string;
}

async function observe(t: AssertionType, spec: Common, ctx: EvaluateContext, windowSpec: WindowSpec | undefined): Promise<Observed> {
  if (t.kind === 'state') {
    return { m: await t.measure(spec, { requests: [], outliers: [], workloadEvents: [], instances: () => ctx.target.instances(), seenAt: '' }) };
  }
  const range = ctx.state.window(windowSpec);
  let requests: RequestEvent[] = [];
  const seenAt = t.kind === 'requests' ? describeSelection(spec) : '';
  if (t.kind === 'requests') {
    requests = selectRequests(ctx.traffic.requestsIn(range), spec);
    const min = spec.minRequests ?? DEFAULT_MIN_REQUESTS;
    if (t.minRequests !== false && requests.length < min) {
      const what = await t.measure(spec, { requests, outliers: [], workloadEvents: [], instances: () => ctx.target.instances(), seenAt });
      return { m: what, requests: requests.length, range, tooFew: `only ${requests.length} request${requests.length === 1 ? '' : 's'} ${seenAt} in ${range.label}, at least ${min} needed` };
    }
  }
  const m = await t.measure(spec, {
    requests,
    outliers: ctx.traffic.outliersIn(range),
    workloadEvents: ctx.traffic.workloadEventsIn(range),
    instances: () => ctx.target.instances(),
    seenAt,
    ...(t.kind === 'events' ? { allRequests: ctx.traffic.requestsIn(range), tcpConnections: ctx.traffic.tcpConnectionsIn(range) } : {}),
  });
  return { m, requests: t.kind === 'requests' ? requests.length : undefined, range };
}

export async function evaluateAssertion(spec: AssertionSpec, ctx: EvaluateContext, stepWindow?: WindowSpec): Promise<AssertionResult> {
  const t = assertionType(spec.type);
  if (!t) throw new Error(`unknown assertion type ${spec.type}`);
  const c = spec as Common;
  const unit = unitOf(t, c);
  const bounds = resolveBounds(c, unit);
  const expected = describeBounds(bounds, unit);
  const now = await observe(t, c, ctx, c.window ?? stepWindow);
  const seenAt = t.kind === 'requests' ? ` ${describeSelection(c)}` : '';
  let description = c.description ?? `${now.m.what}${seenAt}`;
  const over = (o: Observed): string => (o.requests !== undefined ? ` over ${o.requests} request${o.requests === 1 ? '' : 's'}` : '') + (o.range ? ` in ${o.range.label}` : '');
  const result = (passed: boolean, observed: string, message: string, value?: number): AssertionResult => {
    const r: AssertionResult = { type: t.type, description, expected, observed, unit, passed, message };
    if (value !== undefined) r.value = value;
    if (now.requests !== undefined) r.requests = now.requests;
    if (now.range) r.window = now.range.label;
    if (now.m.detail) r.detail = now.m.detail;
    return r;
  };

  if (now.tooFew) return result(false, 'n/a', `${description}: ${now.tooFew}`);
  if (now.m.value === undefined) return result(false, 'n/a', `${description}: nothing to measure${over(now)}${now.m.reason ? ` (${now.m.reason})` : ''}`);

  let value = now.m.value;
  let observed = formatValue(value, unit);
  if (c.baseline) {
    const base = await observe(t, c, ctx, c.baseline);
    if (!c.description) description = `change in ${description}`;
    if (base.tooFew) return result(false, 'n/a', `${description}: baseline has ${base.tooFew}`);
    if (base.m.value === undefined) return result(false, 'n/a', `${description}: nothing to measure in the baseline${over(base)}`);
    value = now.m.value - base.m.value;
    const sign = value >= 0 ? '+' : '';
    observed = `${sign}${formatValue(value, unit)} (${formatValue(base.m.value, unit)} in ${base.range?.label ?? 'the baseline'} -> ${formatValue(now.m.value, unit)})`;
  }
  const passed = withinBounds(value, bounds);
  const message = passed ? `${description}: ${observed}${over(now)} (expected ${expected})` : `${description}: expected ${expected}, saw ${observed}${over(now)}`;
  return result(passed, observed, message, value);
}
