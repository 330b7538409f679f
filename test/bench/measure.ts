/**
 * One target's measurements: warm-up, open-loop latency at fixed rates (sandbox/chaos's load
 * generator, timed from each request's scheduled send time, wrk2-style), closed-loop throughput
 * (wrk when installed, else the Node load generator), and over each measured window the CPU used
 * by the proxy, the apps, the load generator and everything else on the machine, from /proc.
 */
import { LoadGenerator, runLoad, type LatencySummary, type LoadResult } from '../../sandbox/chaos/load-generator.js';
import type { Durations } from './options.js';
import { preciseSleep, type PreciseTimer } from './precise-timer.js';
import { cpuDelta, cpuSnapshot, readProcMemory, readThreadCpuSeconds, sumCpu, type CpuSnapshot } from './proc-stats.js';
import type { ProcessSet } from './processes.js';
import type { Target } from './topology.js';

export interface ThreadUsage {
  /** the process's main thread (meshbox: CLI, control plane, telemetry, event printing), in cores */
  mainCores: number;
  /** the busiest other thread (meshbox: the data-plane worker), in cores */
  busiestCores: number;
  /** every other thread together (V8 GC helpers, libuv pool), in cores */
  otherCores: number;
}

export interface CpuUsage {
  windowSeconds: number;
  requests: number;
  /** CPU seconds of the proxy processes over the window */
  proxySeconds: number;
  /** proxy CPU per request in µs (undefined without a proxy or requests) */
  proxyUsPerRequest: number | undefined;
  /** the user-space part of it (the rest is kernel: syscalls and the loopback TCP stack) */
  proxyUserUsPerRequest: number | undefined;
  /** average CPU use over the window, in cores (1 = one core fully busy) */
  proxyCores: number;
  appsCores: number;
  /** the benchmark process (Node load generator) and wrk */
  loadCores: number;
  /** machine busy time (user+nice+system) not used by any process of the benchmark: other work */
  foreignCores: number;
  /** irq + softirq time of the machine (loopback networking), in cores */
  irqCores: number;
  /** busy fraction of each core */
  coreBusy: Record<string, number>;
  threads?: ThreadUsage;
}

/** TLS handshakes the proxy's mesh connections made (client side: the gateway's and sidecars' upstream pools) */
export interface TlsCounters {
  handshakes: number;
  /** of which resumed a TLS session */
  resumed: number;
}

/** handshakes over one measured step (its settle traffic included: that is when connections open) */
export interface TlsUsage extends TlsCounters {
  seconds: number;
  perSecond: number;
  /** handshakes / requests sent in the step (keep-alive: far below 1) */
  perRequest: number;
}

export function tlsUsage(before: TlsCounters, after: TlsCounters, seconds: number, requests: number): TlsUsage {
  const handshakes = Math.max(0, after.handshakes - before.handshakes);
  const resumed = Math.max(0, after.resumed - before.resumed);
  return { handshakes, resumed, seconds, perSecond: seconds > 0 ? handshakes / seconds : 0, perRequest: requests > 0 ? handshakes / requests : 0 };
}

export interface OpenLoopResult {
  rate: number;
  /** how requests were timed: the precise timer, or the generator's setTimeout (can send early) */
  timing: 'precise' | 'setTimeout';
  durationMs: number;
  sent: number;
  completed: number;
  errors: number;
  non2xx: number;
  achievedRate: number;
  latencyMs: LatencySummary;
  cpu: CpuUsage;
  tls?: TlsUsage;
}

export interface ClosedLoopResult {
  tool: 'wrk' | 'node';
  connections: number;
  durationMs: number;
  requests: number;
  rps: number;
  errors: number;
  non2xx: number;
  latencyMs: Partial<Record<'mean' | 'p50' | 'p90' | 'p99', number>>;
  cpu: CpuUsage;
  tls?: TlsUsage;
}

export interface MemoryUsage {
  rssMB: number;
  hwmMB: number;
}

export interface TargetResult {
  open: OpenLoopResult[];
  closed?: ClosedLoopResult;
  /** of the proxy processes together, right after the throughput run */
  memory?: MemoryUsage;
  /** steps that started while the processes were still busy with an earlier step's backlog */
  busyAfter?: string[];
}

export interface MeasureContext {
  processes: ProcessSet;
  durations: Durations;
  proxyPids: number[];
  appPids: number[];
  threadPid?: number;
  /** path of wrk, when closed-loop throughput uses it */
  wrk?: string;
  /** run wrk on these cpus (taskset), not on the benchmark's own (the unpinned workers rows) */
  wrkCpus?: string;
  signal: AbortSignal;
  /** sub-millisecond scheduling for the open loop (see precise-timer.ts); else the generator's own */
  timer?: PreciseTimer;
  /** the proxy's TLS handshake counters (meshbox: its admin /clusters), read at the edges of each step, outside its CPU window */
  tlsCounters?: () => Promise<TlsCounters>;
  log(line: string): void;
}

/** reads the counters before a step; `end` gives the step's handshakes */
async function tlsStep(ctx: MeasureContext): Promise<((requests: number) => Promise<TlsUsage>) | undefined> {
  if (!ctx.tlsCounters) return undefined;
  const before = await ctx.tlsCounters();
  const started = performance.now();
  return async (requests) => {
    const seconds = (performance.now() - started) / 1000;
    return tlsUsage(before, await ctx.tlsCounters!(), seconds, requests);
  };
}

interface Window {
  end(requests: number): CpuUsage;
}

function startWindow(ctx: MeasureContext): Window {
  const pids = [...ctx.proxyPids, ...ctx.appPids, process.pid];
  const before: CpuSnapshot = cpuSnapshot(pids);
  const threadsBefore = ctx.threadPid ? readThreadCpuSeconds(ctx.threadPid) : undefined;
  return {
    end(requests) {
      const after = cpuSnapshot(pids);
      const delta = cpuDelta(before, after);
      const wall = Math.max(1e-6, delta.wallSeconds);
      const proxySeconds = sumCpu(delta, ctx.proxyPids);
      const apps = sumCpu(delta, ctx.appPids);
      const load = sumCpu(delta, [process.pid]) + delta.reapedChildren;
      const usage: CpuUsage = {
        windowSeconds: wall,
        requests,
        proxySeconds,
        proxyUsPerRequest: ctx.proxyPids.length && requests > 0 ? (proxySeconds * 1e6) / requests : undefined,
        proxyUserUsPerRequest: ctx.proxyPids.length && requests > 0 ? (sumCpu(delta, ctx.proxyPids, 'user') * 1e6) / requests : undefined,
        proxyCores: proxySeconds / wall,
        appsCores: apps / wall,
        loadCores: load / wall,
        foreignCores: Math.max(0, delta.machineBusy - proxySeconds - apps - load) / wall,
        irqCores: delta.machineIrq / wall,
        coreBusy: delta.coreBusy,
      };
      if (ctx.threadPid && threadsBefore) usage.threads = threadUsage(ctx.threadPid, threadsBefore, readThreadCpuSeconds(ctx.threadPid), wall);
      return usage;
    },
  };
}

export function threadUsage(pid: number, before: Map<number, number>, after: Map<number, number>, wall: number): ThreadUsage {
  let main = 0;
  const others: number[] = [];
  for (const [tid, seconds] of after) {
    const used = Math.max(0, seconds - (before.get(tid) ?? 0));
    if (tid === pid) main = used;
    else others.push(used);
  }
  others.sort((a, b) => b - a);
  const busiest = others[0] ?? 0;
  const rest = others.slice(1).reduce((a, b) => a + b, 0);
  return { mainCores: main / wall, busiestCores: busiest / wall, otherCores: rest / wall };
}

function non2xx(result: LoadResult): number {
  return Object.entries(result.statusCounts).reduce((n, [status, count]) => (status.startsWith('2') ? n : n + count), 0);
}

/** Closed-loop traffic that is not measured, to warm the JIT of every process on the path. */
export async function warmUp(ctx: MeasureContext, target: Target, ms: number): Promise<LoadResult> {
  return runLoad({ url: target.url, headers: target.headers, concurrency: ctx.durations.warmupConcurrency, durationMs: ms, timeoutMs: 10_000 }, ctx.signal);
}

/** Open loop at `rate` req/s: settleMs of traffic discarded, then measureMs measured. */
export async function openLoop(ctx: MeasureContext, target: Target, rate: number): Promise<OpenLoopResult> {
  const { settleMs, measureMs, connections } = ctx.durations;
  const generator = new LoadGenerator({ url: target.url, headers: target.headers, rate, connections, warmupMs: settleMs, durationMs: measureMs, timeoutMs: 10_000 });
  const tls = await tlsStep(ctx);
  const precise = ctx.timer !== undefined && preciseSleep(generator, ctx.timer);
  let window: Window | undefined;
  const timer = setTimeout(() => (window = startWindow(ctx)), settleMs);
  const onAbort = (): void => void generator.stop();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  let result: LoadResult;
  try {
    result = await generator.start();
  } finally {
    clearTimeout(timer);
    ctx.signal.removeEventListener('abort', onAbort);
  }
  window ??= startWindow(ctx);
  const cpu = window.end(result.completed);
  const tlsUsed = tls ? await tls(result.sent) : undefined;
  return {
    rate,
    timing: precise ? 'precise' : 'setTimeout',
    durationMs: result.durationMs,
    sent: result.sent,
    completed: result.completed,
    errors: result.errors + result.cancelled,
    non2xx: non2xx(result),
    achievedRate: result.achievedRate,
    latencyMs: result.latencyMs,
    cpu,
    ...(tlsUsed ? { tls: tlsUsed } : {}),
  };
}

export interface WrkSummary {
  requests: number;
  seconds: number;
  rps: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  non2xx: number;
  latencyMs: Partial<Record<'mean' | 'p50' | 'p75' | 'p90' | 'p99', number>>;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function toMs(value: string, unit: string): number | undefined {
  const factor = UNIT_MS[unit];
  const n = Number(value);
  return factor === undefined || !Number.isFinite(n) ? undefined : n * factor;
}

/** Reads wrk's report (with --latency). Throws when it holds no request count. */
export function parseWrkOutput(text: string): WrkSummary {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m|h)/.exec(text);
  if (!total) throw new Error(`wrk printed no result:\n${text.slice(0, 1000)}`);
  const requests = Number(total[1]);
  const seconds = (toMs(total[2]!, total[3]!) ?? 0) / 1000;
  const rpsMatch = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const latencyMs: WrkSummary['latencyMs'] = {};
  const avg = /^\s*Latency\s+([\d.]+)(us|ms|s|m|h)\s/m.exec(text);
  if (avg) {
    const v = toMs(avg[1]!, avg[2]!);
    if (v !== undefined) latencyMs.mean = v;
  }
  for (const [pct, key] of [['50', 'p50'], ['75', 'p75'], ['90', 'p90'], ['99', 'p99']] as const) {
    const m = new RegExp(`^\\s*${pct}(?:\\.0+)?%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(text);
    if (m) {
      const v = toMs(m[1]!, m[2]!);
      if (v !== undefined) latencyMs[key] = v;
    }
  }
  return {
    requests,
    seconds,
    rps: rpsMatch ? Number(rpsMatch[1]) : seconds > 0 ? requests / seconds : 0,
    socketErrors: {
      connect: Number(socket?.[1] ?? 0),
      read: Number(socket?.[2] ?? 0),
      write: Number(socket?.[3] ?? 0),
      timeout: Number(socket?.[4] ?? 0),
    },
    non2xx: Number(non2xx?.[1] ?? 0),
    latencyMs,
  };
}

/** wrk's -H arguments: header names capitalised, as wrk only replaces its own `Host` that way. */
export function wrkHeaderArgs(headers: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const canonical = name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
    out.push('-H', `${canonical}: ${value}`);
  }
  return out;
}

/** Closed loop at `connections` concurrency for measureMs: wrk -t1 when available, else Node. */
export async function closedLoop(ctx: MeasureContext, target: Target): Promise<ClosedLoopResult> {
  const { measureMs, connections } = ctx.durations;
  if (ctx.wrk) {
    const seconds = Math.max(1, Math.round(measureMs / 1000));
    const tls = await tlsStep(ctx);
    const window = startWindow(ctx);
    const wrkArgs = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '10s', ...wrkHeaderArgs(target.headers), target.url];
    const proc = ctx.processes.start({
      name: 'wrk',
      command: ctx.wrkCpus ? 'taskset' : ctx.wrk,
      args: ctx.wrkCpus ? ['-c', ctx.wrkCpus, ctx.wrk, ...wrkArgs] : wrkArgs,
      graceMs: 2000,
    });
    const killer = setTimeout(() => void ctx.processes.stop(proc), seconds * 1000 + 15_000);
    const onAbort = (): void => void ctx.processes.stop(proc);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    const code = await proc.exited;
    clearTimeout(killer);
    ctx.signal.removeEventListener('abort', onAbort);
    await ctx.processes.stop(proc);
    const output = proc.tail(20_000);
    if (code !== 0) throw new Error(`wrk exited with ${code}:\n${output}`);
    const summary = parseWrkOutput(output);
    const cpu = window.end(summary.requests);
    const errors = summary.socketErrors.connect + summary.socketErrors.read + summary.socketErrors.write + summary.socketErrors.timeout;
    const tlsUsed = tls ? await tls(summary.requests) : undefined;
    return { tool: 'wrk', connections, durationMs: summary.seconds * 1000, requests: summary.requests, rps: summary.rps, errors, non2xx: summary.non2xx, latencyMs: summary.latencyMs, cpu, ...(tlsUsed ? { tls: tlsUsed } : {}) };
  }
  const tls = await tlsStep(ctx);
  const window = startWindow(ctx);
  const result = await runLoad({ url: target.url, headers: target.headers, concurrency: connections, durationMs: measureMs, timeoutMs: 10_000 }, ctx.signal);
  const cpu = window.end(result.completed);
  const tlsUsed = tls ? await tls(result.sent) : undefined;
  const l = result.latencyMs;
  return {
    tool: 'node',
    connections,
    durationMs: result.durationMs,
    requests: result.completed,
    rps: result.achievedRate,
    errors: result.errors + result.cancelled,
    non2xx: non2xx(result),
    latencyMs: { mean: l.mean, p50: l.p50, p90: l.p90, p99: l.p99 },
    cpu,
    ...(tlsUsed ? { tls: tlsUsed } : {}),
  };
}

export function proxyMemory(pids: number[]): MemoryUsage | undefined {
  if (pids.length === 0) return undefined;
  let rss = 0;
  let hwm = 0;
  for (const pid of pids) {
    const m = readProcMemory(pid);
    if (!m) continue;
    rss += m.rssBytes;
    hwm += m.hwmBytes;
  }
  return { rssMB: rss / 1048576, hwmMB: hwm / 1048576 };
}

/**
 * Waits (bounded by maxMs) until the proxy and the apps are idle: after an overloaded step,
 * requests the load generator gave up on are still being worked off by the proxy and the apps,
 * and would be counted against the next step. Idle = together below 0.1 core over two 250 ms
 * samples in a row. Returns how long it waited and whether it had to give up.
 */
export async function waitForIdle(pids: number[], maxMs: number, signal: AbortSignal): Promise<{ waitedMs: number; idle: boolean }> {
  const started = performance.now();
  let quiet = 0;
  let before = cpuSnapshot(pids);
  while (performance.now() - started < maxMs && !signal.aborted) {
    await new Promise((r) => setTimeout(r, 250));
    const after = cpuSnapshot(pids);
    const delta = cpuDelta(before, after);
    before = after;
    quiet = sumCpu(delta, pids) / Math.max(1e-3, delta.wallSeconds) < 0.1 ? quiet + 1 : 0;
    if (quiet >= 2) return { waitedMs: performance.now() - started, idle: true };
  }
  return { waitedMs: performance.now() - started, idle: false };
}

/** Every measurement of one target, in an order that keeps load changes away from latencies. */
export async function measureTarget(ctx: MeasureContext, name: string, target: Target, warmupMs: number): Promise<TargetResult> {
  const { rates, measureMs } = ctx.durations;
  ctx.log(`  ${name}: warm-up ${(warmupMs / 1000).toFixed(1)} s`);
  const warm = await warmUp(ctx, target, warmupMs);
  if (warm.completed === 0) throw new Error(`${name}: no request completed during the warm-up (${JSON.stringify(warm.errorCounts)})`);
  const open: OpenLoopResult[] = [];
  const busyAfter: TargetResult['busyAfter'] = [];
  const settle = async (step: string): Promise<void> => {
    const { waitedMs, idle } = await waitForIdle([...ctx.proxyPids, ...ctx.appPids], ctx.durations.idleWaitMaxMs, ctx.signal);
    if (waitedMs > 1000) ctx.log(`  ${name}: ${idle ? 'waited' : 'gave up waiting'} ${(waitedMs / 1000).toFixed(1)} s for the processes to go idle before ${step}`);
    if (!idle) busyAfter.push(step);
  };
  for (const rate of rates) {
    if (ctx.signal.aborted) break;
    await settle(`open loop ${rate}`);
    ctx.log(`  ${name}: open loop ${rate} req/s, ${(measureMs / 1000).toFixed(1)} s`);
    open.push(await openLoop(ctx, target, rate));
  }
  let closed: ClosedLoopResult | undefined;
  if (!ctx.signal.aborted) {
    await settle('closed loop');
    ctx.log(`  ${name}: closed loop ${ctx.durations.connections} connections (${ctx.wrk ? 'wrk' : 'node'}), ${(measureMs / 1000).toFixed(1)} s`);
    closed = await closedLoop(ctx, target);
  }
  const memory = proxyMemory(ctx.proxyPids);
  return { open, ...(closed ? { closed } : {}), ...(memory ? { memory } : {}), busyAfter };
}
