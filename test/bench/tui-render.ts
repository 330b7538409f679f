/**
 * Benchmark: the terminal UI under load. The sample mesh runs in this process (as `meshbox up`
 * runs it: data plane in a worker thread, apps as child processes), the UI renders into a
 * 120x40 terminal stand-in, and the built-in LoadGenerator sends an open-loop load through the
 * ingress (the UI's load key does the same). Then the same load without the UI, for the baseline.
 *
 *   node dist/test/bench/tui-render.js [--rate 1000] [--seconds 20] [--warmup 5] [--no-baseline] [--json]
 *
 * Reports, over the measured window:
 * - frames: Ink renders per second (`onRender`), snapshots the view store published, bytes written;
 * - CPU: this process from /proc/self/stat (and its main thread, where the UI, the event bus and
 *   the load generator run; the data plane worker is another thread), the apps (child processes);
 * - responsiveness: the main thread's event-loop delay, and key-press-to-frame latency (a view
 *   switch every 500 ms, timed from the key to the next frame Ink renders).
 * Run it without CI set (Ink draws nothing under CI). React is loaded as `meshbox up` loads it
 * (its production build, unless NODE_ENV is set).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { loadUi } from '../../cli/tui/run-tui.js';
import { createSandboxController } from '../../cli/tui/sandbox-controller.js';
import { ViewStore } from '../../cli/tui/view-store.js';
import { LoadGenerator } from '../../sandbox/chaos/load-generator.js';
import { Sandbox } from '../../sandbox/sandbox.js';
import { freePort } from '../helpers/free-port.js';
import { childPids, readCpuSeconds, readThreadCpuSeconds } from './proc-stats.js';

interface Options {
  rate: number;
  seconds: number;
  warmup: number;
  baseline: boolean;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { rate: 1000, seconds: 20, warmup: 5, baseline: true, json: false };
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
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

/** A 120x40 terminal that counts what Ink writes to it. */
class Terminal extends Writable {
  readonly isTTY = true;
  columns = 120;
  rows = 40;
  bytes = 0;
  writes = 0;
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.bytes += chunk.length;
    this.writes++;
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

interface Result {
  mode: 'tui' | 'no ui';
  seconds: number;
  targetRate: number;
  achievedRate: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  hopEventsPerSecond: number;
  /** requests the ingress answered 200 per second in the window (from the gateway's events) */
  servedPerSecond: number;
  cpuProcess: number;
  cpuMainThread: number;
  cpuOtherThreads: number;
  cpuApps: number;
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

async function run(mode: Result['mode'], o: Options): Promise<Result> {
  const ingressPort = await freePort();
  const adminPort = await freePort();
  const sandbox = new Sandbox({ runtime: 'process', ingressPort, adminPort, accessLogDir: false, seed: 7 });
  let hopEvents = 0;
  let served = 0;
  sandbox.onEvent((e) => {
    if (e.type !== 'mesh:request:end' || e.reporter !== 'source') return;
    hopEvents++;
    if (e.listener === 'gateway' && e.status === 200) served++;
  });

  // the UI, as runTui sets it up, rendering into the stand-in terminal
  let ui:
    | {
        terminal: Terminal;
        keyboard: Keyboard;
        frames: () => number;
        renderMs: () => number;
        published: () => number;
        nextFrame: () => Promise<void>;
        stop: () => void;
      }
    | undefined;
  if (mode === 'tui') {
    // as runTui loads them (React's production build)
    const { render, createElement, App } = await loadUi();
    const controller = createSandboxController(sandbox);
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
    ui = {
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

  // the measured window
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const t0 = performance.now();
  const cpu0 = readCpuSeconds(process.pid) ?? 0;
  const threads0 = readThreadCpuSeconds(process.pid);
  const apps = childPids(process.pid);
  const apps0 = apps.map((p) => readCpuSeconds(p) ?? 0);
  const frames0 = ui?.frames() ?? 0;
  const render0 = ui?.renderMs() ?? 0;
  const published0 = ui?.published() ?? 0;
  const bytes0 = ui?.terminal.bytes ?? 0;
  const hops0 = hopEvents;
  const served0 = served;
  const keyLatencies: number[] = [];
  const views = ['3', '1', '2', '5'];
  let v = 0;
  while (performance.now() - t0 < o.seconds * 1000 - 250) {
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
  loop.disable();
  const frames = (ui?.frames() ?? 0) - frames0;
  const published = (ui?.published() ?? 0) - published0;
  const bytes = (ui?.terminal.bytes ?? 0) - bytes0;
  const renderMs = (ui?.renderMs() ?? 0) - render0;
  const hops = hopEvents - hops0;
  const servedInWindow = served - served0;
  const main = (threads1.get(process.pid) ?? 0) - (threads0.get(process.pid) ?? 0);
  const result = await done;
  const r: Result = {
    mode,
    seconds: wall,
    targetRate: o.rate,
    achievedRate: result.achievedRate,
    p50Ms: result.latencyMs.p50,
    p99Ms: result.latencyMs.p99,
    errors: result.errors + Object.entries(result.statusCounts).filter(([s]) => s !== '200').reduce((n, [, c]) => n + c, 0),
    hopEventsPerSecond: hops / wall,
    servedPerSecond: servedInWindow / wall,
    cpuProcess: (cpu1 - cpu0) / wall,
    cpuMainThread: main / wall,
    cpuOtherThreads: (cpu1 - cpu0 - main) / wall,
    cpuApps: apps1.reduce((s, c, i) => s + (c - apps0[i]!), 0) / wall,
    loopDelayP50Ms: loop.percentile(50) / 1e6,
    loopDelayP99Ms: loop.percentile(99) / 1e6,
    loopDelayMaxMs: loop.max / 1e6,
  };
  if (ui) {
    r.framesPerSecond = frames / wall;
    r.snapshotsPerSecond = published / wall;
    r.bytesPerSecond = bytes / wall;
    r.renderMsMean = frames ? renderMs / frames : 0;
    r.keyToFrameP50Ms = percentile(keyLatencies, 50);
    r.keyToFrameMaxMs = Math.max(...keyLatencies);
    ui.stop();
  }
  await sandbox.down();
  return r;
}

function report(results: Result[]): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const ms = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '-' : `${x.toFixed(1)}ms`);
  const rows: Array<[string, (r: Result) => string]> = [
    ['load: target rate', (r) => `${r.targetRate} req/s`],
    ['ingress answered 200 /s', (r) => r.servedPerSecond.toFixed(0)],
    ['load generator: completed /s', (r) => r.achievedRate.toFixed(0)],
    ['end-to-end latency p50 / p99', (r) => `${ms(r.p50Ms)} / ${ms(r.p99Ms)}`],
    ['non-200 or failed (timeouts: overload)', (r) => String(r.errors)],
    ['hop events (reporter=source) /s', (r) => r.hopEventsPerSecond.toFixed(0)],
    ['UI frames rendered /s', (r) => (r.framesPerSecond === undefined ? '-' : r.framesPerSecond.toFixed(1))],
    ['view store snapshots /s', (r) => (r.snapshotsPerSecond === undefined ? '-' : r.snapshotsPerSecond.toFixed(1))],
    ['terminal output', (r) => (r.bytesPerSecond === undefined ? '-' : `${(r.bytesPerSecond / 1024).toFixed(1)} KiB/s`)],
    ['mean Ink render time per frame', (r) => ms(r.renderMsMean)],
    ['key -> frame p50 / max', (r) => (r.keyToFrameP50Ms === undefined ? '-' : `${ms(r.keyToFrameP50Ms)} / ${ms(r.keyToFrameMaxMs)}`)],
    ['CPU, meshbox process (1 core = 100%)', (r) => pct(r.cpuProcess)],
    ['  per answered request', (r) => (r.servedPerSecond > 0 ? `${((r.cpuProcess / r.servedPerSecond) * 1e6).toFixed(0)} µs` : '-')],
    ['  main thread (UI, events, load gen)', (r) => pct(r.cpuMainThread)],
    ['  other threads (data plane, GC)', (r) => pct(r.cpuOtherThreads)],
    ['CPU, the four apps', (r) => pct(r.cpuApps)],
    ['main event-loop delay p50 / p99 / max', (r) => `${ms(r.loopDelayP50Ms)} / ${ms(r.loopDelayP99Ms)} / ${ms(r.loopDelayMaxMs)}`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length)) + 2;
  const lines = [`${''.padEnd(w)}${results.map((r) => r.mode.padEnd(26)).join('')}`];
  for (const [label, f] of rows) lines.push(`${label.padEnd(w)}${results.map((r) => f(r).padEnd(26)).join('')}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (process.env.CI) {
    process.stderr.write('tui-render: unset CI first (Ink only writes its last frame under CI)\n');
    process.exit(2);
  }
  const results: Result[] = [];
  process.stderr.write(`tui-render: ${o.rate} req/s for ${o.seconds}s (after ${o.warmup}s of warm-up) with the UI${o.baseline ? ', then without' : ''}...\n`);
  results.push(await run('tui', o));
  if (o.baseline) results.push(await run('no ui', o));
  process.stdout.write(o.json ? `${JSON.stringify(results, null, 2)}\n` : `${report(results)}\n`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`tui-render failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
