/**
 * The request detail's WHY with a route table whose earlier routes were skipped: events carry the
 * matched route's line and a RouteRef; the detail lists every skipped route when the sandbox can
 * explain them (SandboxController.explainRequest), else one line stands for them.
 */
import { describe, expect, it } from 'vitest';
import { detailLines } from '../../cli/tui/RequestDetail.js';
import type { RequestEvent } from '../../sandbox/events.js';
import { hop } from './helpers.js';

const matched = 'VirtualService default/callme-service-route http[2] (/work/rules/callme-service.yaml:60:7): matched (no match conditions)';

function skippedHop(): RequestEvent {
  const e = hop({ source: 'caller-service-v1', endpoint: 'callme-service-v2-1' });
  return { ...e, why: [matched, 'weighted pick: callme-service subset v2 (weight 80 of 100)'], route: { config: 'outbound/caller-service-v1-1', authority: 'callme-service:8080', port: 8080, virtualHost: 0, route: 2, match: -1, skipped: 2 } };
}

const whyLines = (lines: Array<{ text: string }>): string[] => {
  const start = lines.findIndex((l) => l.text === 'WHY');
  const end = lines.findIndex((l, i) => i > start && l.text === '');
  return lines.slice(start + 1, end).map((l) => l.text);
};

describe('request detail: why, with skipped routes', () => {
  it('lists the skipped routes the sandbox explains, before the matched one', () => {
    const e = skippedHop();
    const full = [
      'VirtualService default/callme-service-route http[0] (/work/rules/callme-service.yaml:20:7): skipped, match[0] uri prefix "/a" did not hold',
      'VirtualService default/callme-service-route http[1] (/work/rules/callme-service.yaml:40:7): skipped, match[0] uri prefix "/b" did not hold',
      ...e.why,
    ];
    const why = whyLines(detailLines(e, [e], full));
    expect(why).toHaveLength(4);
    expect(why[0]).toMatch(/^ {2}1\. VirtualService default\/callme-service-route http\[0\] .*skipped, match\[0\] uri prefix "\/a" did not hold$/);
    expect(why[2]).toMatch(/^ {2}3\. VirtualService default\/callme-service-route http\[2\] .*: matched \(no match conditions\)$/);
    expect(detailLines(e, [e], full)[2]!.text).toContain('route callme-service-route[2]');
  });

  it('without an explanation at hand, one line stands for the skipped routes', () => {
    const e = skippedHop();
    const why = whyLines(detailLines(e, [e]));
    expect(why).toHaveLength(3);
    expect(why[0]).toBe(`  1. 2 earlier routes skipped (their match conditions did not hold; rules snapshot v${e.snapshotVersion} is no longer kept to say why for each)`);
    expect(why[1]).toContain('2. VirtualService default/callme-service-route http[2]');
  });
});
