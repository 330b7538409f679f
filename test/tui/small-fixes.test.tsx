/**
 * What users noticed in the terminal UI and the headless lines: prompts that appended to their
 * default, a `/` filter that appended to the last one, truncated flags, a header rules version
 * that moved with endpoints, headless lines naming `route=default`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EventPrinter } from '../../cli/printer.js';
import { trafficLines } from '../../cli/tui/TrafficView.js';
import { hop, KEYS, mount, sampleTraffic, upEvents, type Mounted } from './helpers.js';

let ui: Mounted | undefined;
afterEach(() => {
  ui?.unmount();
  ui = undefined;
});

async function up(options: Parameters<typeof mount>[0] = {}): Promise<Mounted> {
  ui = await mount(options);
  ui.controller.emit(...upEvents(), ...sampleTraffic(50));
  await ui.publish();
  return ui;
}

/** callme-service v2 in Services */
async function selectV2(m: Mounted): Promise<void> {
  await m.press('g');
  for (let i = 0; i < 6; i++) await m.press(KEYS.down);
}

describe('prompts', () => {
  it('the first keystroke replaces the default: 300 typed into "1000" is 300 ms', async () => {
    await up();
    await selectV2(ui!);
    await ui!.press('d', KEYS.tab, '3', '0', '0', KEYS.enter);
    expect(ui!.controller.faultRecords.map((f) => f.spec.http)).toEqual([{ delay: { fixedDelayMs: 300, percent: 50 } }]);
  });

  it('the default is shown as such until edited; Backspace edits it', async () => {
    await up();
    await ui!.press('l');
    expect(ui!.frame()).toMatch(/Load rate 100▏req\/s/);
    await ui!.press(KEYS.backspace, '5', KEYS.enter);
    expect(ui!.controller.loadFake.started).toEqual([{ rate: 105, path: '/caller/ping' }]);
  });

  it('absurd values are clamped as they are typed, and say so', async () => {
    await up();
    await selectV2(ui!);
    await ui!.press('d', KEYS.tab, '9', '9', '9', '9', '9', '9', '9', '9');
    expect(ui!.frame()).toMatch(/by 300000▏?ms/);
    expect(ui!.frame()).toContain('at most 300000');
    await ui!.press(KEYS.shiftTab, '4', '0', '0');
    expect(ui!.frame()).toMatch(/of 100▏?%/);
    await ui!.press(KEYS.enter);
    expect(ui!.controller.faultRecords[0]!.spec.http).toEqual({ delay: { fixedDelayMs: 300_000, percent: 100 } });
  });

  it('keeps every Backspace when keys arrive together', async () => {
    await up();
    await ui!.press('l');
    // a busy event loop hands Ink several keys in one read
    await ui!.press(`${KEYS.backspace}${KEYS.backspace}${KEYS.backspace}42${KEYS.backspace}7`);
    expect(ui!.frame()).toMatch(/Load rate 47▏req\/s/);
    await ui!.press(KEYS.enter);
    expect(ui!.controller.loadFake.started).toEqual([{ rate: 47, path: '/caller/ping' }]);
  });

  it('keeps every Backspace in the filter too', async () => {
    await up({ view: 'traffic' });
    await ui!.press(`/v2x${KEYS.backspace}${KEYS.backspace}1`);
    expect(ui!.frame()).toContain('/v1▏');
  });
});

describe('traffic filter', () => {
  it('/ starts a new filter instead of appending to the previous one', async () => {
    await up({ view: 'traffic' });
    await ui!.press('/', 'v', '1', KEYS.enter);
    expect(ui!.frame()).toContain('filter "v1"');
    await ui!.press('/', 'v', '2');
    expect(ui!.frame()).toContain('/v2▏');
    await ui!.press(KEYS.enter);
    expect(ui!.frame()).toContain('filter "v2"');
    expect(ui!.frame()).not.toContain('v1v2');
  });
});

describe('traffic columns', () => {
  it('FLAGS shows every flag of the rows and ATT stays in its column', () => {
    const events = [hop({ flags: 'UF,URX', status: 503, attempts: 3 }), hop({ flags: '-', attempts: 1 })];
    const upstream = (e: ReturnType<typeof hop>) => (e.attempts === 3 ? [hop({ reporter: 'destination', flags: 'FI' })] : []);
    for (const width of [80, 100, 140]) {
      const lines = trafficLines({ events, total: 2, hopRps: 1, ingressRps: 1, paused: false, filter: '', selected: undefined, upstream, width, height: 10 }).map((l) => l.map((s) => s.text).join(''));
      const header = lines[1]!;
      const row = lines[2]!;
      expect(row, `width ${width}`).toContain('UF,URX,FI ');
      // the attempts sit under ATT
      const att = header.indexOf('ATT');
      expect(row.slice(att, att + 3).trim(), `width ${width}: ${header}\n${row}`).toBe('3');
      expect(row.length).toBeLessThanOrEqual(width);
    }
  });
});

describe('header', () => {
  it('the rules version moves with rule changes, not with endpoint changes', async () => {
    await up();
    expect(ui!.frame()).toMatch(/rules v3 /);
    // instances come and go: new snapshots, the same rules
    ui!.controller.version = 9;
    await ui!.publish();
    expect(ui!.frame()).toMatch(/rules v3 /);
    ui!.controller.version = 10;
    ui!.controller.emit({ type: 'mesh:config:applied', time: Date.now(), version: 10, changed: ['changed VirtualService/default/callme-service-route'], warnings: [] });
    await ui!.publish();
    expect(ui!.frame()).toMatch(/rules v10 /);
  });
});

describe('headless lines', () => {
  it('name the route the TUI shows (the VirtualService and its http[] entry), not `default`', () => {
    const printer = new EventPrinter({ out: () => undefined, err: () => undefined } as never, { color: false });
    expect(printer.request(hop())).toContain('route=callme-service-route');
    const second = hop({ why: ['VirtualService default/callme-service-route http[1] (/w/rules/callme.yaml:50:7): matched match[0] (uri prefix /a)'] });
    expect(printer.request(second)).toContain('route=callme-service-route[1]');
    expect(printer.request(hop({ why: ['no virtual host for authority "x"'] }))).toContain('route=default');
  });
});
