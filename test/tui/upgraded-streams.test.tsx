/**
 * Upgraded streams (WebSocket) in the traffic view: open ones are listed under the header from
 * their `mesh:request:upgraded` event, and each becomes a 101 row when its end event arrives.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { UpgradeEvent } from '../../sandbox/events.js';
import { FakeController, hop, mount, upEvents, type Mounted } from './helpers.js';
import { ViewStore } from '../../cli/tui/view-store.js';
import { EventPrinter } from '../../cli/printer.js';

let ui: Mounted | undefined;
afterEach(() => {
  ui?.unmount();
  ui = undefined;
});

const START = Date.UTC(2026, 0, 1, 12, 0, 0);

function upgraded(requestId: string, patch: Partial<UpgradeEvent> = {}): UpgradeEvent {
  const end = hop({ requestId, startTime: START });
  return {
    type: 'mesh:request:upgraded',
    time: START + 3,
    reporter: 'source',
    proxy: end.proxy,
    listener: 'outbound',
    startTime: START,
    requestId,
    method: 'GET',
    path: '/chat',
    authority: end.authority,
    upgrade: 'websocket',
    upstreamCluster: end.upstreamCluster,
    endpoint: 'callme-service-v2-1',
    source: end.source,
    destination: end.destination,
    ...patch,
  };
}

describe('upgraded streams in the traffic view', () => {
  it('an open stream is listed as open; when it closes it is a 101 row with the stream’s duration', async () => {
    ui = await mount({ view: 'traffic', columns: 130 });
    ui.controller.emit(...upEvents(), upgraded('ws-1'), upgraded('ws-other', { reporter: 'destination', proxy: 'callme-service-v2-1' }));
    await ui.publish();
    expect(ui.frame()).toContain('⇄ 1 upgraded stream open: caller-service-v1-1 -> callme-service-v2-1 GET /chat (websocket since');
    expect(ui.store.getSnapshot().traffic.open).toHaveLength(1);

    ui.controller.emit({ ...hop({ requestId: 'ws-1', startTime: START, status: 101, durationMs: 12_000, path: '/chat' }), upgrade: 'websocket' });
    await ui.publish();
    const f = ui.frame();
    expect(f).not.toContain('upgraded stream open');
    expect(f).toMatch(/caller-service-v1-1 -> callme-service-v2-1\s+GET\s+\/chat\s+101\s+12\.0s/);
  });

  it('the open list is bounded: the oldest is forgotten', () => {
    const c = new FakeController();
    const store = new ViewStore(c);
    for (let i = 0; i < 1000; i++) c.emit(upgraded(`ws-${i}`));
    expect(store.bufferSizes().openStreams).toBe(store.bufferLimits().openStreams);
    store.publish();
    expect(store.getSnapshot().traffic.open.at(-1)!.requestId).toBe('ws-999');
    store.stop();
  });

  it('the headless lines: a line when the stream opens (the caller side), the hop line with 101 when it closes', () => {
    const out: string[] = [];
    const printer = new EventPrinter({ out: (l: string) => out.push(l), err: () => undefined } as never, { color: false });
    printer.print(upgraded('ws-p'));
    printer.print(upgraded('ws-p', { reporter: 'destination' }));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/caller-service-v1-1 -> callme-service-v2-1 {2}GET callme-service:8080\/chat {2}101 websocket open$/);
  });
});
