/**
 * `trace`: what the traces of a window show, built from the request events' spans (the ids the
 * proxies sent on; sandbox/telemetry/tracing), so it works on an attached sandbox too:
 * - `check: span-latency`: a percentile (nearest rank) of the durations of one service's spans
 *   (`span: callme-service`, its server spans unless `kind: client`), in ms;
 * - `check: reaches`: the share of traces through `through` that also reach `reaches`, percent
 *   (100 % unless an app stops forwarding trace headers, or a hop fails before it);
 * - `check: attempts`: the share of retried requests whose span shows each attempt as an event
 *   (one per try, the failed ones with their status), percent.
 * Unsampled requests carry no span and are not counted.
 */
import type { RequestEvent } from '../../events.js';
import { num, oneOfValues, str } from '../../config/schemas/json-schema.js';
import { spanOf, type Span } from '../../telemetry/tracing/span.js';
import type { AssertionSpec } from '../scenario-types.js';
import { formatValue } from '../tolerance.js';
import type { AssertionType, Measurement } from './assertion-type.js';
import { percentOf } from './assertion-type.js';
import { percentile, percentileName } from './latency.js';

export interface TraceConfig extends AssertionSpec {
  check: 'span-latency' | 'reaches' | 'attempts';
  span?: string;
  kind?: 'server' | 'client';
  percentile?: number;
  through?: string;
  reaches?: string;
}

/** a span belongs to a service given as `callme-service`, `callme-service.default` or the workload */
function ofService(s: Span, name: string): boolean {
  return s.service === name || s.service.startsWith(`${name}.`) || s.tags['istio.canonical_service'] === name;
}

function spansOf(events: readonly RequestEvent[]): Span[] {
  const out: Span[] = [];
  for (const e of events) {
    const s = spanOf(e);
    if (s) out.push(s);
  }
  return out;
}

function spanLatency(c: TraceConfig, spans: Span[]): Measurement {
  const p = c.percentile ?? 99;
  const kind = c.kind ?? 'server';
  const picked = spans.filter((s) => s.kind === kind && ofService(s, c.span!));
  const ms = picked.map((s) => s.durationUs / 1000);
  const value = percentile(ms, p);
  return {
    value,
    what: `${percentileName(p)} of the ${c.span} ${kind} spans`,
    detail: ms.length ? `${ms.length} spans; p50 ${formatValue(percentile(ms, 50)!, 'ms')}, max ${formatValue(percentile(ms, 100)!, 'ms')}` : undefined,
    reason: ms.length ? undefined : `no ${kind} span of ${c.span} in the window (is it called? is tracing sampled?)`,
  };
}

function reaches(c: TraceConfig, spans: Span[]): Measurement {
  const traces = new Map<string, Span[]>();
  for (const s of spans) {
    const list = traces.get(s.traceId) ?? [];
    list.push(s);
    traces.set(s.traceId, list);
  }
  const through = [...traces.values()].filter((t) => t.some((s) => s.kind === 'server' && ofService(s, c.through!)));
  const reached = through.filter((t) => t.some((s) => s.kind === 'server' && ofService(s, c.reaches!)));
  return {
    value: through.length ? percentOf(reached.length, through.length) : undefined,
    what: `share of traces through ${c.through} that reach ${c.reaches}`,
    detail: `${reached.length} of ${through.length} traces`,
    reason: through.length ? undefined : `no trace through ${c.through} in the window`,
  };
}

function attemptsShown(spans: Span[]): Measurement {
  const retried = spans.filter((s) => s.attempts > 1);
  const shown = retried.filter((s) => {
    const ev = s.events.filter((e) => e.name.startsWith('attempt '));
    return ev.length === s.attempts && ev.slice(0, -1).every((e) => Number(e.attributes['http.status_code']) >= 500 || e.attributes['meshbox.failure'] !== undefined);
  });
  return {
    value: retried.length ? percentOf(shown.length, retried.length) : undefined,
    what: 'share of retried requests whose span shows every attempt',
    detail: `${shown.length} of ${retried.length} retried spans`,
    reason: retried.length ? undefined : 'no retried request in the window',
  };
}

export const traces: AssertionType<TraceConfig> = {
  type: 'trace',
  summary: 'What the traces show: `span-latency` (a percentile of one service’s spans, ms), `reaches` (percent of traces through one service that reach another), `attempts` (percent of retried requests whose span shows every attempt).',
  kind: 'events',
  unit: (c) => (c.check === 'span-latency' ? 'ms' : '%'),
  required: ['check'],
  properties: {
    check: oneOfValues(['span-latency', 'reaches', 'attempts'], 'What to measure.'),
    span: str('span-latency: the service whose spans are measured, e.g. `callme-service`.', { minLength: 1 }),
    kind: oneOfValues(['server', 'client'], 'span-latency: the service’s own server spans (default) or its client spans (its calls out).'),
    percentile: { ...num('span-latency: which percentile (default 99).', 0, 100), examples: [50, 99] },
    through: str('reaches: traces with a server span of this service…', { minLength: 1 }),
    reaches: str('reaches: …that also have a server span of this one.', { minLength: 1 }),
  },
  rules: [
    { if: { properties: { check: { const: 'span-latency' } }, required: ['check'] }, then: { required: ['span'] } },
    { if: { properties: { check: { const: 'reaches' } }, required: ['check'] }, then: { required: ['through', 'reaches'] } },
  ],
  measure(config, input) {
    const spans = spansOf(input.allRequests ?? []);
    switch (config.check) {
      case 'span-latency':
        return spanLatency(config, spans);
      case 'reaches':
        return reaches(config, spans);
      default:
        return attemptsShown(spans);
    }
  },
};
