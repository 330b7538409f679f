/** The test helper that reads dashboards' PromQL: it must find every selector and grouping label. */
import { describe, expect, it } from 'vitest';
import { analyzeQuery, interpolate, parseExposition, select } from '../../helpers/promql.js';

describe('analyzeQuery', () => {
  it('finds selectors with their matchers, and the labels of by/on clauses; strings are not metrics', () => {
    const q = analyzeQuery(
      'label_join(sum(rate(istio_requests_total{reporter=~"source|waypoint", response_code!~"5.."}[1m])) by (destination_workload, le) / (sum(istio_build) or on () vector(1)), "destination_workload_var", ".", "destination_workload")',
    );
    expect(q.selectors.map((s) => s.metric)).toEqual(['istio_requests_total', 'istio_build']);
    expect(q.selectors[0]!.matchers).toEqual([
      { label: 'reporter', op: '=~', value: 'source|waypoint' },
      { label: 'response_code', op: '!~', value: '5..' },
    ]);
    expect(q.selectors[0]!.text).toBe('istio_requests_total{reporter=~"source|waypoint", response_code!~"5.."}');
    expect(q.grouping).toEqual(['destination_workload', 'le']);
  });

  it('refuses a matcher it cannot read rather than skipping it', () => {
    expect(() => analyzeQuery('x{a=b}')).toThrow(/label matcher/);
  });
});

describe('interpolate, parseExposition and select', () => {
  it('match series as Prometheus does: anchored regexes, a missing label is empty', () => {
    const samples = parseExposition(['# TYPE x counter', 'x{a="ab",b="say \\"hi\\""} 2', 'x{a="b"} 1', 'y 3'].join('\n'));
    expect(samples).toHaveLength(3);
    expect(samples[0]!.labels['b']).toBe('say "hi"');
    const sel = (q: string) => analyzeQuery(interpolate(q, { v: 'a|b' })).selectors[0]!;
    expect(select(samples, sel('x{a=~"$v"}')).map((s) => s.value)).toEqual([1]);
    expect(select(samples, sel('x{b=""}')).map((s) => s.value)).toEqual([1]);
    expect(select(samples, sel('y')).map((s) => s.value)).toEqual([3]);
    expect(() => interpolate('x{a="$nope"}', {})).toThrow(/\$nope/);
  });
});
