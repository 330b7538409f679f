/**
 * Benchmark: the terminal UI under load, in two scenarios.
 *
 * - `mesh`: the sample mesh runs in this process as `meshbox up` runs it (data plane in a worker
 *   thread, apps as child processes), the UI renders into a 120x40 terminal stand-in, and the
 *   built-in LoadGenerator sends an open-loop load through the ingress (what the UI's load key
 *   does). Then the same without the UI, for the baseline. This needs a machine that can carry
 *   the rate through the mesh.
 * - `replay`: the UI alone, fed the event stream the mesh produces at that rate (per request:
 *   four request events, the two reporters of two hops, and the two apps' log lines, delivered in
 *   10 ms batches as the data plane worker delivers them). This isolates the UI's own cost from
 *   the mesh's and from a busy machine. Baseline: the same stream, no UI.
 *
 *   node dist/test/bench/tui-render.js [--scenario mesh|replay|both] [--rate 1000] [--seconds 20]
 *                                      [--warmup 5] [--no-baseline] [--json]
 *
 * Reports, over the measured window: frames Ink rendered (`onRender`) and snapshots the view
 * store published per second, bytes written; CPU from /proc/self/stat (and the main thread, where
 * the UI, the event bus and the load generator run), the apps, the rest of the machine; the main
 * event loop's delay; key-press-to-frame latency (a view switch every 500 ms, timed to the next
 * frame). Run it without CI set (Ink draws nothing under CI). React is loaded as `meshbox up`
 * loads it (its production build, unless NODE_ENV is set).
 */
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import type { InstanceInfo, SandboxController } from '../../cli/tui/controller.js';
import { loadUi } from '../../cli/tui/run-tui.js';
import { createSandboxController } from '../../cli/tui/sandbox-controller.js';
import { ViewStore } from '../../cli/tui/view-store.js';
import { LoadGenerator } from '../../sandbox/chaos/load-generator.js';
import type { MeshEvent, RequestEvent } from '../../sandbox/events.js';
import { Sandbox } from '../../sandbox/sandbox.js';
import { freePort } from '../helpers/free-port.js';
import { childPids, cpuDelta, cpuSnapshot, readCpuSeconds, readThreadCpuSeconds } from './proc-stats.js';

interface Options {
  scenario: 'mesh' | 'replay' | 'both';
  rate: number;
  seconds: number;
  warmup: number;
  baseline: boolean;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { scenario: 'both', rate: 1000, seconds: 20, warmup: 5, baseline: true, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    if (a === '--rate') o.rate = next();
    else if (a === '--seconds') o.seconds = next();
    else if (a === '--warmup') o.warmup = next();
    else if (a === '--no-baseline') o.baseline = false;
    else if (a === '--json') o.json = true;
    else if (a === '--scenario') {
      const s = argv[++i];
      if (s !== 'mesh' && s !== 'replay' && s !== 'both') throw new Error('--scenario is mesh, replay or both');
      o.scenario = s;
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

/** A 120x40 terminal that counts what Ink writes to it. */
class Terminal extends Writable {
  readonly isTTY = true;
  columns = 120;
  rows = 40;
  bytes = 0;
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.bytes += chunk.length;
    done();
  }
}

/** A keyboard Ink can read from (as ink-testing-library's): raw mode is a no-op. */
class Keyboard extends EventEmitter {
  readonly isTTY = true;
  private data: string | null = null;
  press(key: string): void {
    this.data = key;
    this.emit('readable');
  }
  read(): string | null {
    const d = this.data;
    this.data = null;
    return d;
  }
  setRawMode(): void {}
  setEncoding(): void {}
  resume(): void {}
  pause(): void {}
  ref(): void {}
  unref(): void {}
}

interface MountedUi {
  terminal: Terminal;
  keyboard: Keyboard;
  frames: () => number;
  renderMs: () => number;
  published: () => number;
  nextFrame: () => Promise<void>;
  stop: () => void;
}

/** the UI as runTui sets it up, rendering into the stand-in terminal */
async function mountUi(controller: SandboxController): Promise<MountedUi> {
  const { render, createElement, App } = await loadUi();
  const store = new ViewStore(controller).start();
  const terminal = new Terminal();
  const keyboard = new Keyboard();
  let frames = 0;
  let renderMs = 0;
  let waiting: Array<() => void> = [];
  const ink = render(createElement(App, { store, controller, color: true, interactive: true, onQuit: () => undefined }), {
    stdout: terminal as unknown as NodeJS.WriteStream,
    stdin: keyboard as unknown as NodeJS.ReadStream,
    exitOnCtrlC: false,
    patchConsole: false,
    maxFps: 15,
    onRender: ({ renderTime }) => {
      frames++;
      renderMs += renderTime;
      const w = waiting;
      waiting = [];
      for (const resolve of w) resolve();
    },
  });
  return {
    terminal,
    keyboard,
    frames: () => frames,
    renderMs: () => renderMs,
    published: () => store.published,
    nextFrame: () => new Promise<void>((resolve) => waiting.push(resolve)),
    stop: () => {
      ink.unmount();
      store.stop();
    },
  };
}

interface Result {
  scenario: 'mesh' | 'replay';
  mode: 'tui' | 'no ui';
  seconds: number;
  targetRate: number;
  /** mesh: requests the ingress answered 200 per second (from the gateway's events); replay: requests replayed */
  requestsPerSecond: number;
  /** mesh: the load generator's completed requests per second and latency */
  generator?: { completedPerSecond: number; p50Ms: number; p99Ms: number; failed: number };
  eventsPerSecond: number;
  cpuProcess: number;
  cpuMainThread: number;
  cpuApps: number;
  /** every core's busy time, all processes (2 cores = 200 %) */
  cpuMachine: number;
  cores: number;
  loadAverage: number;
  loopDelayP50Ms: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  framesPerSecond?: number;
  snapshotsPerSecond?: number;
  bytesPerSecond?: number;
  renderMsMean?: number;
  keyToFrameP50Ms?: number;
  keyToFrameMaxMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * Measures one window of `seconds`: CPU, loop delay, frames; presses a view key every 500 ms
 * when there is a UI. `count` gives the requests and events seen so far.
 */
async function measure(
  seconds: number,
  ui: MountedUi | undefined,
  count: () => { requests: number; events: number },
): Promise<Omit<Result, 'scenario' | 'mode' | 'targetRate' | 'generator'>> {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const t0 = performance.now();
  const cpu0 = readCpuSeconds(process.pid) ?? 0;
  const threads0 = readThreadCpuSeconds(process.pid);
  const apps = childPids(process.pid);
  const apps0 = apps.map((p) => readCpuSeconds(p) ?? 0);
  const machine0 = cpuSnapshot([]);
  const ui0 = { frames: ui?.frames() ?? 0, render: ui?.renderMs() ?? 0, published: ui?.published() ?? 0, bytes: ui?.terminal.bytes ?? 0 };
  const count0 = count();
  const keyLatencies: number[] = [];
  const views = ['3', '1', '2', '5'];
  let v = 0;
  while (performance.now() - t0 < seconds * 1000 - 250) {
    await sleep(500);
    if (ui) {
      const at = performance.now();
      const frame = ui.nextFrame();
      ui.keyboard.press(views[v++ % views.length]!);
      await frame;
      keyLatencies.push(performance.now() - at);
    }
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu1 = readCpuSeconds(process.pid) ?? 0;
  const threads1 = readThreadCpuSeconds(process.pid);
  const apps1 = apps.map((p) => readCpuSeconds(p) ?? 0);
  const machine = cpuDelta(machine0, cpuSnapshot([]));
  const count1 = count();
  loop.disable();
  const frames = (ui?.frames() ?? 0) - ui0.frames;
  const r: Omit<Result, 'scenario' | 'mode' | 'targetRate' | 'generator'> = {
    seconds: wall,
    requestsPerSecond: (count1.requests - count0.requests) / wall,
    eventsPerSecond: (count1.events - count0.events) / wall,
    cpuProcess: (cpu1 - cpu0) / wall,
    cpuMainThread: ((threads1.get(process.pid) ?? 0) - (threads0.get(process.pid) ?? 0)) / wall,
    cpuApps: apps1.reduce((s, c, i) => s + (c - apps0[i]!), 0) / wall,
    cpuMachine: (machine.machineBusy + machine.machineIrq + machine.machineSteal) / wall,
    cores: os.cpus().length,
    loadAverage: os.loadavg()[0]!,
    loopDelayP50Ms: loop.percentile(50) / 1e6,
    loopDelayP99Ms: loop.percentile(99) / 1e6,
    loopDelayMaxMs: loop.max / 1e6,
  };
  if (ui) {
    r.framesPerSecond = frames / wall;
    r.snapshotsPerSecond = (ui.published() - ui0.published) / wall;
    r.bytesPerSecond = (ui.terminal.bytes - ui0.bytes) / wall;
    r.renderMsMean = frames ? (ui.renderMs() - ui0.render) / frames : 0;
    r.keyToFrameP50Ms = percentile(keyLatencies, 50);
    r.keyToFrameMaxMs = Math.max(...keyLatencies);
  }
  return r;
}

async function runMesh(mode: Result['mode'], o: Options): Promise<Result> {
  const sandbox = new Sandbox({ runtime: 'process', ingressPort: await freePort(), adminPort: await freePort(), accessLogDir: false, seed: 7 });
  let events = 0;
  let served = 0;
  sandbox.onEvent((e) => {
    events++;
    if (e.type === 'mesh:request:end' && e.listener === 'gateway' && e.status === 200) served++;
  });
  const ui = mode === 'tui' ? await mountUi(createSandboxController(sandbox)) : undefined;
  await sandbox.up();
  const load = new LoadGenerator({
    url: `${sandbox.ingressUrl}/caller/ping`,
    headers: { Host: 'caller.example.com' },
    rate: o.rate,
    connections: 64,
    warmupMs: o.warmup * 1000,
    durationMs: o.seconds * 1000,
    timeoutMs: 10_000,
  });
  const done = load.start();
  await sleep(o.warmup * 1000);
  const m = await measure(o.seconds, ui, () => ({ requests: served, events }));
  ui?.stop();
  const result = await done;
  await sandbox.down();
  const failed = result.errors + Object.entries(result.statusCounts).reduce((n, [status, c]) => (status === '200' ? n : n + c), 0);
  return { scenario: 'mesh', mode, targetRate: o.rate, ...m, generator: { completedPerSecond: result.achievedRate, p50Ms: result.latencyMs.p50, p99Ms: result.latencyMs.p99, failed } };
}

/** The sample mesh's events for one request through ingress -> caller -> callme, as the data plane reports them. */
function requestEvents(i: number, now: number): MeshEvent[] {
  const id = `bench-${i}`;
  const version = i % 5 === 0 ? 'v1' : 'v2';
  const callme = `callme-service-${version}-${version === 'v2' ? (i % 2) + 1 : 1}`;
  const peer = (workload: string, app: string, v: string) => ({ workload, namespace: 'default', app, version: v, principal: 'unknown', canonicalService: app, canonicalRevision: v });
  const hop = (reporter: 'source' | 'destination', proxy: string, listener: RequestEvent['listener'], source: string, service: string, v: string, endpoint: string, path: string, ms: number): RequestEvent => ({
    type: 'mesh:request:end',
    reporter,
    proxy,
    listener,
    startTime: now - ms,
    durationMs: ms,
    method: 'GET',
    path,
    authority: service === 'caller-service' ? 'caller.example.com' : `${service}:8080`,
    protocol: 'HTTP/1.1',
    requestId: id,
    userAgent: '-',
    forwardedFor: '-',
    status: 200,
    responseFlags: '-',
    responseCodeDetails: 'via_upstream',
    bytesReceived: 0,
    bytesSent: 55,
    upstreamCluster: `outbound|8080|${v}|${service}.default.svc.cluster.local`,
    upstreamHost: '127.0.0.1:40000',
    downstreamLocalAddress: '127.0.0.1:8080',
    downstreamRemoteAddress: '127.0.0.1:50000',
    routeName: 'default',
    attempts: 1,
    source: peer(source, source.replace(/-v\d+$/, ''), 'v1'),
    destination: { ...peer(`${service}-${v}`, service, v), service: `${service}.default.svc.cluster.local`, serviceName: service, serviceNamespace: 'default', subset: v },
    endpoint,
    why: [`VirtualService default/${service}-route http[0] (sample-services/rules/${service}.yaml:44:7): matched (no match conditions)`, `weighted pick: ${service} subset ${v}`, `attempt 1 to ${endpoint}: 200`],
    requestHeaders: { host: `${service}:8080`, 'x-request-id': id },
    snapshotVersion: 5,
  });
  return [
    hop('destination', callme, 'inbound', 'caller-service-v1', 'callme-service', version, `${callme}/app`, '/callme/ping', 2),
    { type: 'mesh:workload:log', time: now, instance: callme, stream: 'stdout', line: 'GET /callme/ping 200 1ms' },
    hop('source', 'caller-service-v1-1', 'outbound', 'caller-service-v1', 'callme-service', version, callme, '/callme/ping', 3),
    hop('destination', 'caller-service-v1-1', 'inbound', 'istio-ingressgateway', 'caller-service', 'v1', 'caller-service-v1-1/app', '/caller/ping', 6),
    { type: 'mesh:workload:log', time: now, instance: 'caller-service-v1-1', stream: 'stdout', line: 'GET /caller/ping 200 5ms' },
    hop('source', 'istio-ingressgateway', 'gateway', 'istio-ingressgateway', 'caller-service', 'v1', 'caller-service-v1-1', '/caller/ping', 8),
  ];
}

/** A sandbox that is only an event stream: the sample mesh's instances, and whatever is emitted. */
function replayController(): SandboxController & { emit(e: MeshEvent): void } {
  const bus = new EventEmitter();
  const instance = (id: string, service: string, version: string): InstanceInfo => ({ id, service, version, workload: `${service}-${version}`, state: 'running', healthy: true, drained: false, paused: false, pid: 1, restarts: 0 });
  const instances = [instance('caller-service-v1-1', 'caller-service', 'v1'), instance('callme-service-v1-1', 'callme-service', 'v1'), instance('callme-service-v2-1', 'callme-service', 'v2'), instance('callme-service-v2-2', 'callme-service', 'v2')];
  const refuse = async (): Promise<void> => {
    throw new Error('replay: no workloads');
  };
  return {
    emit: (e) => bus.emit('event', e),
    onEvent: (l) => {
      bus.on('event', l);
      return () => bus.off('event', l);
    },
    info: () => ({ id: 'sample-replay', name: 'sample', runtime: 'process', ingressUrl: 'http://127.0.0.1:8080', adminUrl: 'http://127.0.0.1:15000', seed: 7, rulesDir: 'sample-services/rules' }),
    instances: () => instances,
    snapshotVersion: () => 5,
    resources: () => [],
    findings: () => [],
    faults: undefined,
    workloads: { kill: refuse, pause: refuse, resume: refuse, restart: refuse },
    load: { target: () => undefined, start: () => undefined, stop: async () => undefined, status: () => undefined },
    down: async () => undefined,
  };
}

async function runReplay(mode: Result['mode'], o: Options): Promise<Result> {
  const controller = replayController();
  let events = 0;
  let requests = 0;
  controller.onEvent(() => events++);
  const ui = mode === 'tui' ? await mountUi(controller) : undefined;
  controller.emit({ type: 'mesh:sandbox:ready', time: Date.now(), message: 'replay' });
  // 10 ms batches, on schedule (open loop), as the data plane worker delivers its events
  const start = performance.now();
  let stopped = false;
  const pump = (async () => {
    while (!stopped) {
      const due = Math.floor(((performance.now() - start) / 1000) * o.rate);
      const now = Date.now();
      for (; requests < due; requests++) for (const e of requestEvents(requests, now)) controller.emit(e);
      await sleep(10);
    }
  })();
  await sleep(o.warmup * 1000);
  const m = await measure(o.seconds, ui, () => ({ requests, events }));
  stopped = true;
  await pump;
  ui?.stop();
  return { scenario: 'replay', mode, targetRate: o.rate, ...m };
}

function report(results: Result[]): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const ms = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '-' : `${x.toFixed(1)}ms`);
  const ui = (r: Result, f: (r: Result) => string): string => (r.framesPerSecond === undefined ? '-' : f(r));
  const rows: Array<[string, (r: Result) => string]> = [
    ['target rate', (r) => `${r.targetRate} req/s`],
    ['requests per second (mesh: answered 200)', (r) => r.requestsPerSecond.toFixed(0)],
    ['load generator: completed/s, p50/p99', (r) => (r.generator ? `${r.generator.completedPerSecond.toFixed(0)}, ${ms(r.generator.p50Ms)}/${ms(r.generator.p99Ms)}` : '-')],
    ['load generator: failed (timeouts = overload)', (r) => (r.generator ? String(r.generator.failed) : '-')],
    ['sandbox events per second', (r) => r.eventsPerSecond.toFixed(0)],
    ['UI frames rendered per second', (r) => ui(r, (x) => x.framesPerSecond!.toFixed(1))],
    ['view store snapshots per second', (r) => ui(r, (x) => x.snapshotsPerSecond!.toFixed(1))],
    ['terminal output', (r) => ui(r, (x) => `${(x.bytesPerSecond! / 1024).toFixed(1)} KiB/s`)],
    ['mean Ink render time per frame', (r) => ui(r, (x) => ms(x.renderMsMean))],
    ['key -> frame p50 / max', (r) => ui(r, (x) => `${ms(x.keyToFrameP50Ms)} / ${ms(x.keyToFrameMaxMs)}`)],
    ['CPU, this process (1 core = 100%)', (r) => pct(r.cpuProcess)],
    ['  its main thread (UI, events, load gen)', (r) => pct(r.cpuMainThread)],
    ['CPU, the apps', (r) => (r.scenario === 'mesh' ? pct(r.cpuApps) : '-')],
    ['CPU, the rest of the machine', (r) => `${pct(Math.max(0, r.cpuMachine - r.cpuProcess - r.cpuApps))} of ${r.cores * 100}%, load ${r.loadAverage.toFixed(1)}`],
    ['main event-loop delay p50 / p99 / max', (r) => `${ms(r.loopDelayP50Ms)} / ${ms(r.loopDelayP99Ms)} / ${ms(r.loopDelayMaxMs)}`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length)) + 2;
  const colWidth = 34;
  const lines = [`${''.padEnd(w)}${results.map((r) => `${r.scenario}, ${r.mode}`.padEnd(colWidth)).join('')}`];
  for (const [label, f] of rows) lines.push(`${label.padEnd(w)}${results.map((r) => f(r).padEnd(colWidth)).join('')}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (process.env.CI) {
    process.stderr.write('tui-render: unset CI first (Ink only writes its last frame under CI)\n');
    process.exit(2);
  }
  const results: Result[] = [];
  const modes: Array<Result['mode']> = o.baseline ? ['tui', 'no ui'] : ['tui'];
  if (o.scenario !== 'mesh') {
    for (const mode of modes) {
      process.stderr.write(`tui-render: replay, ${o.rate} req/s of events, ${mode}...\n`);
      results.push(await runReplay(mode, o));
    }
  }
  if (o.scenario !== 'replay') {
    for (const mode of modes) {
      process.stderr.write(`tui-render: mesh, ${o.rate} req/s through the ingress, ${mode}...\n`);
      results.push(await runMesh(mode, o));
    }
  }
  process.stdout.write(o.json ? `${JSON.stringify(results, null, 2)}\n` : `${report(results)}\n`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`tui-render failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
