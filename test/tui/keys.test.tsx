/**
 * Every key of the terminal UI against a fake sandbox: what it shows and what it asks the
 * sandbox to do.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KEYMAP } from '../../cli/tui/keymap.js';
import { FakeController, KEYS, mount, sampleTraffic, upEvents, type Mounted } from './helpers.js';

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

/** the selected Services row: ↓ from the top */
async function select(m: Mounted, rowIndex: number): Promise<void> {
  await m.press('g');
  for (let i = 0; i < rowIndex; i++) await m.press(KEYS.down);
}

const ROW = { callme: 3, callmeV2: 6, callmeV2one: 7 } as const;

describe('views', () => {
  it('1-7 pick a view, tab and shift-tab cycle', async () => {
    await up();
    await ui!.press('2');
    expect(ui!.frame()).toContain('─▶');
    await ui!.press('3');
    expect(ui!.frame()).toContain('SOURCE -> DESTINATION');
    await ui!.press('4');
    expect(ui!.frame()).toContain('FILES (2)');
    await ui!.press('5');
    expect(ui!.frame()).toMatch(/meshbox\s*│/);
    await ui!.press('6');
    expect(ui!.frame()).toContain('no fault is active');
    await ui!.press('7');
    expect(ui!.frame()).toContain('tracing is off in this sandbox');
    await ui!.press(KEYS.tab);
    expect(ui!.frame()).toMatch(/NAME\s+STATE\s+RPS/);
    await ui!.press(KEYS.shiftTab);
    expect(ui!.frame()).toContain('tracing is off in this sandbox');
  });

  it('? lists every key; esc closes it', async () => {
    await up({ rows: 60 });
    await ui!.press('?');
    const f = ui!.frame();
    expect(f).toContain('KEYS');
    const flat = f.replace(/\s+/g, ' ');
    for (const b of KEYMAP) expect(flat).toContain(b.description);
    await ui!.press(KEYS.escape);
    expect(ui!.frame()).not.toContain('KEYS  esc');
  });

  it('the help bar shows the current view’s keys', async () => {
    await up();
    expect(ui!.frame()).toMatch(/<d> delay <a> abort <n> network fault <c> clear faults <K> kill/);
    await ui!.press('3');
    expect(ui!.frame()).toMatch(/<⏎> detail <\/> filter <space> pause/);
  });

  it('⏎ on an instance opens its logs', async () => {
    await up();
    ui!.controller.emit({ type: 'mesh:workload:log', time: Date.now(), instance: 'callme-service-v2-1', stream: 'stdout', line: 'v2-1 says hi' });
    ui!.controller.emit({ type: 'mesh:workload:log', time: Date.now(), instance: 'callme-service-v1-1', stream: 'stdout', line: 'v1-1 says hi' });
    await ui!.publish();
    await select(ui!, ROW.callmeV2one);
    await ui!.press(KEYS.enter);
    expect(ui!.frame()).toContain('filter "callme-service-v2-1"');
    expect(ui!.frame()).toContain('v2-1 says hi');
    expect(ui!.frame()).not.toContain('v1-1 says hi');
  });
});

describe('fault keys', () => {
  it('d injects a delay into the selected version, with the percent and delay typed in', async () => {
    await up();
    await select(ui!, ROW.callmeV2);
    await ui!.press('d');
    expect(ui!.frame()).toMatch(/Delay on ◂ callme-service\/v2 ▸ of 50▏?%\s+by 1000ms/);
    await ui!.press(KEYS.backspace, KEYS.backspace, '2', '5', KEYS.tab, KEYS.backspace, KEYS.backspace, KEYS.backspace, KEYS.backspace, '3', '0', '0', KEYS.enter);
    expect(ui!.controller.faultRecords.map((f) => f.spec)).toEqual([{ name: 'callme-service-v2-delay-1', target: { service: 'callme-service', subset: 'v2' }, http: { delay: { fixedDelayMs: 300, percent: 25 } } }]);
    expect(ui!.frame()).toContain('✓ fault callme-service-v2-delay-1 added');
    await ui!.publish();
    expect(ui!.frame()).toMatch(/faults 1/);
    expect(ui!.frame()).toMatch(/v2 .*fault delay 300ms 25%/);
  });

  it('a injects an abort; ←/→ change the target; a bad value keeps the form open with the reason', async () => {
    await up();
    await select(ui!, ROW.callme);
    await ui!.press('a');
    expect(ui!.frame()).toMatch(/Abort on ◂ callme-service ▸/);
    await ui!.press(KEYS.shiftTab, KEYS.right);
    expect(ui!.frame()).toMatch(/Abort on ◂ callme-service\/v1 ▸/);
    await ui!.press(KEYS.tab, KEYS.tab, '9', KEYS.enter);
    expect(ui!.frame()).toContain('✗ the status must be a number from 200 to 599');
    expect(ui!.controller.faultRecords).toHaveLength(0);
    // the 9 replaced the default 503
    await ui!.press(KEYS.backspace, '5', '0', '2', KEYS.enter);
    expect(ui!.controller.faultRecords[0]!.spec).toMatchObject({ target: { service: 'callme-service', subset: 'v1' }, http: { abort: { httpStatus: 502, percent: 50 } } });
  });

  it('n adds a network fault (a toxic); the value field follows the toxic type', async () => {
    await up();
    await select(ui!, ROW.callmeV2);
    await ui!.press('n');
    expect(ui!.frame()).toMatch(/Network on ◂ callme-service\/v2 ▸ toxic ◂ latency ▸ latency 200ms stream ◂ downstream ▸ toxicity 100%/);
    await ui!.press(KEYS.right);
    expect(ui!.frame()).toMatch(/toxic ◂ bandwidth ▸ rate 16KB\/s/);
    await ui!.press(KEYS.left, KEYS.enter);
    expect(ui!.controller.faultRecords[0]!.spec).toMatchObject({
      target: { service: 'callme-service', subset: 'v2' },
      toxics: [{ type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 200 } }],
    });
  });

  it('esc cancels a form without adding anything', async () => {
    await up();
    await ui!.press('d', KEYS.escape);
    expect(ui!.frame()).not.toContain('Delay on');
    expect(ui!.controller.faultRecords).toHaveLength(0);
  });

  it('in traffic, the fault keys target the selected request’s destination version', async () => {
    await up({ view: 'traffic' });
    await ui!.press('/', ...'callme-service-v1', KEYS.enter, KEYS.up, 'a');
    expect(ui!.frame()).toMatch(/Abort on ◂ callme-service\/v1 ▸/);
  });

  it('x removes the selected fault, c clears them all', async () => {
    await up();
    const faults = ui!.controller.faults!;
    faults.add({ target: { service: 'callme-service', subset: 'v2' }, http: { abort: { httpStatus: 503, percent: 10 } } });
    faults.add({ target: { service: 'callme-service', subset: 'v1' }, http: { delay: { fixedDelayMs: 100, percent: 10 } } });
    faults.add({ target: { service: 'caller-service' }, http: { delay: { fixedDelayMs: 100, percent: 10 } } });
    await ui!.publish();
    await ui!.press('6', KEYS.down, 'x');
    await ui!.publish();
    expect(ui!.controller.faultRecords.map((f) => f.name)).toEqual(['callme-service-v2-abort-1', 'caller-service-delay-3']);
    expect(ui!.frame()).toContain('✓ fault callme-service-v1-delay-2 removed');
    await ui!.press('c');
    await ui!.publish();
    expect(ui!.controller.faultRecords).toEqual([]);
    expect(ui!.frame()).toContain('✓ 2 runtime faults cleared');
    expect(ui!.frame()).toContain('no fault is active');
  });

  it('says so when the sandbox has no runtime faults', async () => {
    await up({ controller: new FakeController({ faults: false }) });
    await ui!.press('d');
    expect(ui!.frame()).toContain('runtime faults are not available in this sandbox');
  });
});

describe('workload keys', () => {
  it('K kills, p pauses and resumes, r restarts the selected instance', async () => {
    await up();
    await select(ui!, ROW.callmeV2one);
    await ui!.press('K');
    await ui!.press('p');
    await ui!.publish();
    expect(ui!.frame()).toMatch(/callme-service-v2-1\s+paused/);
    await ui!.press('p');
    await ui!.press('r');
    expect(ui!.controller.calls).toEqual(['kill callme-service-v2-1', 'pause callme-service-v2-1', 'resume callme-service-v2-1', 'restart callme-service-v2-1']);
    expect(ui!.frame()).toContain('✓ callme-service-v2-1 restarted');
  });

  it('asks for an instance row when another row is selected', async () => {
    await up();
    await select(ui!, ROW.callmeV2);
    await ui!.press('K');
    expect(ui!.frame()).toContain('select an instance row in Services (1, then ↑↓) to kill it');
    expect(ui!.controller.calls).toEqual([]);
  });
});

describe('load keys', () => {
  it('l asks for a rate and path and starts the load; + and - change the rate; l stops it', async () => {
    await up();
    await ui!.press('l');
    expect(ui!.frame()).toMatch(/Load rate 100▏req\/s path \/caller\/ping/);
    await ui!.press(KEYS.backspace, KEYS.backspace, KEYS.backspace, '5', '0', '0', KEYS.enter);
    expect(ui!.controller.loadFake.started).toEqual([{ rate: 500, path: '/caller/ping' }]);
    expect(ui!.frame()).toContain('✓ load: 500 req/s, GET /caller/ping with Host caller.example.com to http://127.0.0.1:8080');
    await ui!.publish();
    expect(ui!.frame()).toContain('load 500/500 req/s');
    await ui!.press('+');
    await ui!.press('-', '-');
    expect(ui!.controller.loadFake.started.map((s) => s.rate)).toEqual([500, 1000, 500, 250]);
    await ui!.press('l');
    await ui!.publish();
    expect(ui!.controller.loadFake.stops).toBe(1);
    expect(ui!.frame()).toContain('load off');
    expect(ui!.frame()).toMatch(/✓ load stopped after \d+ requests/);
  });

  it('l explains when there is nothing to send load to yet', async () => {
    await up({ controller: new FakeController({ target: null }) });
    await ui!.press('l');
    expect(ui!.frame()).toContain('no Gateway-bound host to send load to (yet)');
  });
});

describe('keys that arrive together', () => {
  it('are handled one by one: "3/v1" opens traffic and types a filter, "a\\r" adds an abort', async () => {
    await up();
    await ui!.press('3/callme-service-v1');
    expect(ui!.frame()).toContain('/callme-service-v1▏');
    await ui!.press('\r1g');
    await select(ui!, ROW.callmeV2);
    await ui!.press('a\r');
    expect(ui!.controller.faultRecords.map((f) => f.spec.http)).toEqual([{ abort: { httpStatus: 503, percent: 50 } }]);
  });
});

describe('quit', () => {
  it('q quits once: the caller stops the sandbox', async () => {
    await up();
    await ui!.press('q');
    expect(ui!.quits).toBe(1);
    expect(ui!.frame()).toContain('stopping the load, the workloads and the sidecars');
    await ui!.press('q', KEYS.ctrlC);
    expect(ui!.quits).toBe(1);
  });

  it('Ctrl-C quits too, even from a form', async () => {
    await up();
    await ui!.press('d', KEYS.ctrlC);
    expect(ui!.quits).toBe(1);
  });

  it('q in a form or the filter is text, not quit', async () => {
    await up({ view: 'traffic' });
    await ui!.press('/', 'q');
    expect(ui!.quits).toBe(0);
    expect(ui!.frame()).toContain('/q▏');
  });
});
