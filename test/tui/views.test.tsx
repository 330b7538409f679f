/**
 * Each view of the terminal UI, rendered with ink-testing-library against a fake sandbox whose
 * events the test emits.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FakeController, hop, KEYS, mount, sampleTraffic, upEvents, type Mounted } from './helpers.js';

let ui: Mounted | undefined;
afterEach(() => {
  ui?.unmount();
  ui = undefined;
});

async function withTraffic(options: Parameters<typeof mount>[0] = {}, failV2?: number): Promise<Mounted> {
  ui = await mount(options);
  ui.controller.emit(...upEvents(), ...sampleTraffic(100, { failV2 }));
  await ui.publish();
  return ui;
}

describe('header', () => {
  it('shows the sandbox, its state, runtime, seed, URLs, rules version and last reload, faults and load', async () => {
    ui = await mount();
    ui.controller.emit(...upEvents());
    await ui.publish();
    const top = ui.frame().split('\n').slice(0, 2).join('\n');
    expect(top).toContain('meshbox sample-abc123');
    expect(top).toContain('● ready 4/4');
    expect(top).toContain('runtime process');
    expect(top).toContain('seed 42');
    expect(top).toContain('ingress http://127.0.0.1:8080');
    expect(top).toContain('admin http://127.0.0.1:15000');
    expect(top).toMatch(/rules v3 ✓ loaded \d\d:\d\d:\d\d/);
    expect(top).toContain('faults 0');
    expect(top).toContain('load off');
  });

  it('shows start-up progress, then a rejected reload, then a failure', async () => {
    const controller = new FakeController();
    controller.instanceList = controller.instanceList.map((i, n) => ({ ...i, healthy: n === 0, state: n === 0 ? 'running' : 'starting' }));
    ui = await mount({ controller });
    controller.emit({ type: 'mesh:sandbox:starting', time: 1, message: 'starting' });
    await ui.publish();
    expect(ui.frame()).toContain('◌ starting 1/4 healthy');
    controller.findingList = [{ severity: 'error', code: 'MB1001', message: 'bad', location: { file: 'r.yaml', line: 1, col: 2 } }];
    controller.emit({ type: 'mesh:config:rejected', time: Date.UTC(2026, 0, 1, 12), findings: controller.findingList });
    await ui.publish();
    expect(ui.frame()).toMatch(/rules v3 ✗ rejected \d\d:\d\d:\d\d, 1 error/);
    ui.store.setPhase('failed', 'the ingress gateway cannot listen on 127.0.0.1:8080');
    await ui.publish();
    expect(ui.frame()).toContain('✗ failed: the ingress gateway cannot listen');
  });
});

describe('services view', () => {
  it('has one row per service, version and instance with health, RPS, success and p50/p99', async () => {
    await withTraffic({}, 10);
    const f = ui!.frame();
    expect(f).toMatch(/NAME\s+STATE\s+RPS\s+SUCCESS\s+P50\s+P99\s+NOTES/);
    expect(f).toMatch(/caller-service\s+1\/1 ready/);
    expect(f).toMatch(/\n {2}v2\s+2\/2 ready\s+\d+\s+\d+\.\d%/);
    expect(f).toMatch(/callme-service-v1-1\s+running ✓ 1000\s+\d+\s+100%\s+[\d.]+ms\s+[\d.]+ms/);
    // every failure of this traffic is at v2-2's own sidecar (a quarter of its requests)
    expect(f).toMatch(/callme-service-v2-2\s+running ✓ 1000\s+\d+\s+75\.0%/);
    expect(f).toMatch(/callme-service-v2-1\s+running ✓ 1000\s+\d+\s+100%/);
  });

  it('notes faults on a version, ejected instances, circuit breaker overflows, paused and exited instances', async () => {
    const controller = new FakeController();
    controller.faults!.add({ target: { service: 'callme-service', subset: 'v2' }, http: { abort: { httpStatus: 503, percent: 50 } } });
    controller.instanceList = controller.instanceList.map((i) =>
      i.id === 'callme-service-v1-1' ? { ...i, paused: true } : i.id === 'caller-service-v1-1' ? { ...i, state: 'exited', healthy: false, restarts: 2 } : i,
    );
    ui = await mount({ controller, columns: 160 });
    controller.emit(hop({ status: 503, flags: 'UO' }));
    controller.emit({ type: 'mesh:outlier:ejected', time: 1, cluster: 'c', endpoint: 'callme-service-v2-2', reason: '5 consecutive 5xx' });
    await ui.publish();
    const f = ui.frame();
    expect(f).toMatch(/v2 .*fault abort 503 50%/);
    expect(f).toMatch(/v2 .*1 ejected/);
    expect(f).toMatch(/v2 .*circuit open: UO/);
    expect(f).toMatch(/callme-service-v2-2 .*ejected: 5 consecutive 5xx/);
    expect(f).toMatch(/callme-service-v1-1\s+paused/);
    expect(f).toMatch(/caller-service-v1-1\s+exited .*restarts 2/);
  });

  it('shows the mesh graph under the table when there is room', async () => {
    await withTraffic({ rows: 40 });
    expect(ui!.frame()).toMatch(/caller-service-v1\s+─▶ callme-service .* v1 20% \/ v2 80%/);
  });
});

describe('graph view', () => {
  it('draws who calls whom with rate, success, p99 and the split with error rates', async () => {
    await withTraffic({ view: 'graph' }, 10);
    const f = ui!.frame();
    expect(f).toMatch(/istio-ingressgateway\s+─▶ caller-service\s+\d+\/s\s+ok [\d.]+%\s+p99 [\d.]+ms\s+v1 100%/);
    expect(f).toMatch(/caller-service-v1\s+─▶ callme-service .* v1 20% \/ v2 80%/);
    expect(f).toMatch(/├─ v1\s+[█░]+\s+20\.0%\s+\d+\/s\s+err 0\.0%/);
    expect(f).toMatch(/└─ v2\s+[█░]+\s+80\.0%\s+\d+\/s\s+err \d+\.\d%/);
  });

  it('marks each edge by whether its recent requests went over mTLS: all, some or none', async () => {
    ui = await mount({ view: 'graph', columns: 140 });
    const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);
    const events = [];
    for (let i = 0; i < 10; i++) {
      // ingress -> caller always mTLS; caller -> callme over mTLS to v2 only (a DISABLE on v1); caller -> other never
      events.push(hop({ proxy: 'istio-ingressgateway', listener: 'gateway', source: 'istio-ingressgateway', service: 'caller-service', version: 'v1', startTime: t0 + i, security: 'mutual_tls' }));
      const version = i % 5 === 0 ? 'v1' : 'v2';
      events.push(hop({ version, startTime: t0 + i, security: version === 'v2' ? 'mutual_tls' : 'none' }));
      events.push(hop({ service: 'other-service', version: 'v1', startTime: t0 + i, security: 'none' }));
      // an injected abort at the gateway made no upstream connection: it does not count against mTLS
      events.push({ ...hop({ proxy: 'istio-ingressgateway', listener: 'gateway', source: 'istio-ingressgateway', service: 'caller-service', version: 'v1', startTime: t0 + i, status: 503, flags: 'FI', security: 'none' }), upstreamHost: undefined });
    }
    ui.controller.emit(...events);
    await ui.publish();
    const f = ui.frame();
    expect(f).toMatch(/istio-ingressgateway\s+─▶ caller-service .*p99 [\d.]+ms\s+mTLS\s+v1 100%/);
    expect(f).toMatch(/caller-service-v1\s+─▶ callme-service .*p99 [\d.]+ms\s+mTLS 80%\s+v1 20% \/ v2 80%/);
    expect(f).toMatch(/─▶ other-service .*p99 [\d.]+ms\s+plaintext\s+v1 100%/);
    // the edges of events that do not say (an older sandbox) carry no marker
    ui.unmount();
    await withTraffic({ view: 'graph', columns: 140 });
    expect(ui!.frame()).not.toMatch(/mTLS|plaintext/);
  });

  it('says how to get traffic when there is none', async () => {
    ui = await mount({ view: 'graph' });
    expect(ui.frame()).toContain('no traffic yet: press l');
  });
});

describe('traffic view', () => {
  it('taps one line per hop: time, source -> destination, method, path, status, latency, flags, attempts, route', async () => {
    await withTraffic({ view: 'traffic', columns: 130 }, 10);
    const f = ui!.frame();
    expect(f).toMatch(/TIME\s+SOURCE -> DESTINATION\s+METHOD\s+PATH\s+CODE\s+LATENCY\s+FLAGS\s+ATT\s+ROUTE/);
    expect(f).toMatch(/\d\d:\d\d:\d\d caller-service-v1-1 -> callme-service-v2-2\s+GET\s+\/callme\/ping\s+200\s+4ms\s+-\s+1\s+callme-service-route\n/);
    expect(f).toMatch(/istio-ingressgateway -> caller-service-v1-1\s+GET\s+\/caller\/ping\s+200\s+10ms\s+-\s+1\s+caller-service-route/);
    expect(f).toContain('▶ following');
  });

  it('shows the fault flags the upstream sidecar set next to the hop’s own', async () => {
    await withTraffic({ view: 'traffic', columns: 130 }, 10);
    await ui!.press('/', ...'urx', KEYS.enter);
    expect(ui!.frame()).toMatch(/caller-service-v1-1 -> callme-service-v2-\d\s+GET\s+\/callme\/ping\s+503\s+4ms\s+URX,FI\s+4/);
  });

  it('/ filters (and ! excludes), esc clears the filter', async () => {
    await withTraffic({ view: 'traffic' });
    await ui!.press('/', ...'callme-service-v1');
    expect(ui!.frame()).toContain('/callme-service-v1▏');
    await ui!.press(KEYS.enter);
    const hops = (): string[] => ui!.frame().split('\n').filter((l) => /^\d\d:\d\d:\d\d /.test(l));
    let rows = hops();
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((l) => l.includes('-> callme-service-v1-1'))).toBe(true);
    expect(ui!.frame()).toMatch(/filter "callme-service-v1": 20 of 200 rows kept/);
    await ui!.press(KEYS.escape, '/', '!', 'g', 'a', 't', 'e', 'w', 'a', 'y', KEYS.enter);
    rows = hops();
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((l) => !l.includes('istio-ingressgateway'))).toBe(true);
    await ui!.press(KEYS.escape);
    expect(ui!.frame()).not.toContain('filter "');
  });

  it('space pauses the stream (new hops do not scroll in) and resumes it', async () => {
    await withTraffic({ view: 'traffic' });
    await ui!.press(KEYS.space);
    expect(ui!.frame()).toContain('⏸ paused');
    ui!.controller.emit(hop({ source: 'caller-service-v1', endpoint: 'callme-service-v2-9', path: '/callme/new' }));
    await ui!.publish();
    expect(ui!.frame()).not.toContain('/callme/new');
    await ui!.press(KEYS.space);
    expect(ui!.frame()).toContain('▶ following');
    expect(ui!.frame()).toContain('/callme/new');
  });

  it('↑ selects a request and pauses; ⏎ shows why it went there, faults, retries, headers and the whole request; esc goes back', async () => {
    await withTraffic({ view: 'traffic', rows: 50 }, 10);
    await ui!.press('/', ...'v1-1 -> callme-service-v1', KEYS.enter, KEYS.up, KEYS.enter);
    const f = ui!.frame();
    expect(f).toContain('REQUEST DETAIL');
    expect(f).toContain('caller-service-v1-1 -> callme-service-v1-1');
    expect(f).toContain('WHY');
    expect(f).toContain('VirtualService default/callme-service-route http[0]');
    expect(f).toContain('weighted pick: callme-service subset v1 (weight 20 of 100)');
    expect(f).toContain('FAULTS');
    expect(f).toContain('none fired on this hop');
    expect(f).toContain('RETRIES');
    expect(f).toContain('REQUEST HEADERS');
    expect(f).toContain('host: callme-service:8080');
    expect(f).toContain('THE WHOLE REQUEST');
    expect(f).toMatch(/istio-ingressgateway -> caller-service-v1-1\s+200/);
    await ui!.press(KEYS.escape);
    expect(ui!.frame()).not.toContain('REQUEST DETAIL');
    expect(ui!.frame()).toContain('⏸ paused');
  });

  it('the detail of a failed hop lists the fault that fired at the upstream sidecar and the attempts', async () => {
    await withTraffic({ view: 'traffic', rows: 50 }, 10);
    await ui!.press('/', ...'URX', KEYS.enter, KEYS.enter);
    const f = ui!.frame();
    expect(f).toMatch(/callme-service-v2-\d \(inbound\): fault callme-service-v2-abort-1: abort 503/);
    expect(f).toContain('4 attempts (3 retries)');
    expect(f).toContain('flags URX,FI');
  });
});

describe('rules view', () => {
  it('lists the applied resources with file:line:col and the findings with location, code and hint', async () => {
    const controller = new FakeController();
    controller.findingList = [
      { severity: 'error', code: 'MB1001', message: 'unknown field "wieght"', hint: 'did you mean "weight"?', location: { file: 'rules/bad.yaml', line: 14, col: 9 }, resource: { kind: 'VirtualService', name: 'x', namespace: 'default' } },
      { severity: 'warning', code: 'MB2002', istioCode: 'IST0101', message: 'subset "v3" of host "callme-service" is not defined', location: { file: '/work/rules/callme-service.yaml', line: 20, col: 19 } },
    ];
    ui = await mount({ controller, view: 'rules', rows: 40 });
    await ui.publish();
    const f = ui.frame();
    expect(f).toContain('FILES (3) in /work/rules');
    expect(f).toMatch(/✓ \/work\/rules\/callme-service\.yaml\s+applied, 1 resource, 1 warning/);
    expect(f).toMatch(/✗ rules\/bad\.yaml\s+1 error: not applied/);
    expect(f).toContain('RESOURCES (2)');
    expect(f).toMatch(/Gateway\s+default\/caller-gateway\s+\/work\/rules\/caller-service\.yaml:5:1/);
    expect(f).toMatch(/VirtualService\s+default\/callme-service-route\s+\/work\/rules\/callme-service\.yaml:30:1/);
    expect(f).toContain('FINDINGS   1 error, 1 warning');
    expect(f).toContain('✗ rules/bad.yaml:14:9: error MB1001 [VirtualService default/x]: unknown field "wieght"');
    expect(f).toContain('hint: did you mean "weight"?');
    expect(f).toContain('! /work/rules/callme-service.yaml:20:19: warning MB2002/IST0101');
  });

  it('says when every file is valid', async () => {
    ui = await mount({ view: 'rules' });
    expect(ui.frame()).toContain('✓ every rule file is valid');
  });
});

describe('logs view', () => {
  it('shows each instance’s output with its prefix and meshbox’s own lines; filters; pauses', async () => {
    ui = await mount({ view: 'logs' });
    ui.controller.emit(...upEvents());
    ui.controller.emit({ type: 'mesh:workload:log', time: Date.now(), instance: 'callme-service-v2-1', stream: 'stdout', line: 'GET /callme/ping 200 1ms' });
    ui.controller.emit({ type: 'mesh:workload:log', time: Date.now(), instance: 'caller-service-v1-1', stream: 'stderr', line: 'warning: slow' });
    ui.controller.emit({ type: 'mesh:workload:exited', time: Date.now(), instance: 'callme-service-v1-1', workload: 'callme-service-v1', service: 'callme-service', version: 'v1', exitCode: null, signal: 'SIGKILL' });
    await ui.publish();
    let f = ui.frame();
    expect(f).toMatch(/callme-service-v2-1\s*│ GET \/callme\/ping 200 1ms/);
    expect(f).toMatch(/caller-service-v1-1\s*│ warning: slow/);
    expect(f).toMatch(/meshbox\s*│ callme-service-v1-1 exited \(signal SIGKILL\)/);
    expect(f).toMatch(/meshbox\s*│ rules v3 applied/);
    await ui.press('/', ...'caller', KEYS.enter);
    f = ui.frame();
    expect(f).toContain('warning: slow');
    expect(f).not.toContain('GET /callme/ping');
    await ui.press(KEYS.escape, KEYS.space);
    expect(ui.frame()).toContain('⏸ paused');
    ui.controller.emit({ type: 'mesh:workload:log', time: Date.now(), instance: 'callme-service-v2-1', stream: 'stdout', line: 'after the pause' });
    await ui.publish();
    expect(ui.frame()).not.toContain('after the pause');
    await ui.press('G');
    expect(ui.frame()).toContain('after the pause');
  });

  it('shows a bounded window: the newest lines that fit', async () => {
    ui = await mount({ view: 'logs', rows: 20 });
    for (let i = 0; i < 2000; i++) ui.controller.emit({ type: 'mesh:workload:log', time: Date.now(), instance: 'callme-service-v2-1', stream: 'stdout', line: `line ${i}` });
    await ui.publish();
    const f = ui.frame();
    expect(f).toContain('line 1999');
    expect(f).not.toContain('line 1900');
    expect(f.split('\n').length).toBeLessThanOrEqual(19);
    expect(f).toContain('last 1000 lines');
  });
});

describe('faults view', () => {
  it('lists active faults with target, what they do, origin and how often they fired', async () => {
    const controller = new FakeController();
    controller.faults!.add({ target: { service: 'callme-service', subset: 'v2' }, http: { abort: { httpStatus: 503, percent: 10 } } });
    ui = await mount({ controller, view: 'faults' });
    controller.emit(...sampleTraffic(100, { failV2: 10 }));
    await ui.publish();
    const f = ui.frame();
    expect(f).toMatch(/NAME\s+TARGET\s+WHAT\s+ORIGIN\s+FIRED\s+UNTIL/);
    expect(f).toMatch(/callme-service-v2-abort-1\s+callme-service\/v2\s+abort 503 10%\s+runtime\s+[\d.]+\/s/);
    expect(f).toContain('6 Faults (1)');
  });

  it('says when runtime faults are not available', async () => {
    ui = await mount({ controller: new FakeController({ faults: false }), view: 'faults' });
    expect(ui.frame()).toContain('runtime faults are not available in this sandbox');
  });
});

describe('small terminals and colours', () => {
  it('degrades: a compact header and one bottom line below 18 rows, a message below 40x8', async () => {
    ui = await mount({ columns: 70, rows: 14 });
    ui.controller.emit(...upEvents(), ...sampleTraffic(20));
    await ui.publish();
    const f = ui.frame();
    expect(f).toContain('meshbox sample-abc123');
    expect(f).not.toContain('ingress http://');
    expect(f.split('\n').length).toBeLessThanOrEqual(13);
    expect(f).toContain('<↑↓> select');
    ui.unmount();
    ui = await mount({ columns: 30, rows: 6 });
    expect(ui.frame()).toMatch(/the terminal is 30x6;\s+make it at least 40x8/);
  });

  it('writes no colour codes without colours (NO_COLOR)', async () => {
    ui = await mount({ color: false });
    ui.controller.emit(...upEvents(), ...sampleTraffic(20, { failV2: 50 }));
    await ui.publish();
    // eslint-disable-next-line no-control-regex
    expect(ui.rawFrame()).not.toMatch(/\u001b\[[0-9;]*(3\d|9\d)m/);
    ui.unmount();
    ui = await mount({ color: true });
    ui.controller.emit(...upEvents(), ...sampleTraffic(20, { failV2: 50 }));
    await ui.publish();
    // eslint-disable-next-line no-control-regex
    expect(ui.rawFrame()).toMatch(/\u001b\[[0-9;]*32m/);
  });
});
