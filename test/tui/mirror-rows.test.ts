/**
 * Mirrored copies in the TUI: the caller's sidecar reports none (as in Istio), so the copy's row
 * in the traffic tap is the mirror's own inbound event (shadowOf), shown as `sender ~> mirror`.
 */
import { describe, expect, it } from 'vitest';
import { ViewStore } from '../../cli/tui/view-store.js';
import { trafficLines } from '../../cli/tui/TrafficView.js';
import { detailLines } from '../../cli/tui/RequestDetail.js';
import { FakeController, hop, upEvents } from './helpers.js';

describe('mirrored copies in the traffic view', () => {
  it('a destination event with shadowOf gets a row; other destination events do not', () => {
    const c = new FakeController();
    const store = new ViewStore(c, { now: () => 1_000_000 });
    const original = hop({ requestId: 'm-1', version: 'v1' });
    const dest = hop({ requestId: 'm-1', version: 'v1', reporter: 'destination' });
    const copy = { ...hop({ requestId: 'm-1', version: 'v2', reporter: 'destination' }), shadowOf: 'caller-service-v1-1', authority: 'callme-service-shadow:8080' };
    c.emit(...upEvents(), original, dest, copy);
    store.touch();
    store.publish();
    const events = store.getSnapshot().traffic.events;
    expect(events).toEqual([original, copy]);
    const lines = trafficLines({ events, total: 2, hopRps: 1, ingressRps: 0, paused: false, filter: '', selected: undefined, upstream: () => [], width: 140, height: 10 }).map((l) => l.map((s) => s.text).join(''));
    expect(lines.some((l) => l.includes('caller-service-v1-1 ~> callme-service-v2-1 ')), lines.join('\n')).toBe(true);
    const detail = detailLines(original, [original, dest, copy]).map((l) => l.text);
    expect(detail.some((l) => l.includes('caller-service-v1-1 -> callme-service-v2-1 (mirrored copy, answer discarded)'))).toBe(true);
    store.stop();
  });
});
