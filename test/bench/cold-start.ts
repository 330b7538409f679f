/**
 * The first seconds after "ready" (issue #13.1: p50 reached 0.67 s at 300 req/s for 2-4 s after
 * ready while the JIT warmed up): an open loop at `rate` req/s starts the moment `/ready`
 * answers 200 on a freshly started `meshbox up`, and the latencies are reported per window of
 * scheduled send time, so a slow start shows as the windows it lasted.
 */
import { LoadGenerator, type RequestOutcome } from '../../sandbox/chaos/load-generator.js';
import { preciseSleep, type PreciseTimer } from './precise-timer.js';
import type { Target } from './topology.js';

export interface ColdWindow {
  /** ms after the first request's scheduled time */
  fromMs: number;
  toMs: number;
  completed: number;
  failed: number;
  p50: number;
  p99: number;
  max: number;
}

export interface ColdStartResult {
  rate: number;
  durationMs: number;
  windowMs: number;
  sent: number;
  completed: number;
  failed: number;
  windows: ColdWindow[];
  /** over the first second, the first 4 s, and the last 2 s (the steady state) */
  firstSecond: { p50: number; p99: number };
  firstFourSeconds: { p50: number; p99: number };
  lastTwoSeconds: { p50: number; p99: number };
  /** the worst window's p50 */
  worstP50: number;
  /** the data plane's own warm-up before ready (meshbox /status), when it reports one */
  warmUp?: unknown;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function summary(latencies: number[]): { p50: number; p99: number } {
  const s = [...latencies].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99) };
}

export interface ColdStartOptions {
  rate: number;
  durationMs: number;
  windowMs: number;
  connections: number;
  timer?: PreciseTimer;
  signal: AbortSignal;
}

/** Sends the open loop at once (no warm-up of its own) and buckets latencies by scheduled time. */
export async function measureColdStart(target: Target, o: ColdStartOptions): Promise<ColdStartResult> {
  const generator = new LoadGenerator({ url: target.url, headers: target.headers, rate: o.rate, connections: o.connections, durationMs: o.durationMs, timeoutMs: 10_000 });
  const outcomes: RequestOutcome[] = [];
  generator.on('outcome', (x) => outcomes.push(x));
  if (o.timer) preciseSleep(generator, o.timer);
  const onAbort = (): void => void generator.stop();
  o.signal.addEventListener('abort', onAbort, { once: true });
  try {
    await generator.start();
  } finally {
    o.signal.removeEventListener('abort', onAbort);
  }
  const first = outcomes.reduce((m, x) => Math.min(m, x.scheduledMs), Number.POSITIVE_INFINITY);
  const ok = (x: RequestOutcome): boolean => x.status !== undefined && x.status < 500 && x.error === undefined;
  const windows: ColdWindow[] = [];
  for (let from = 0; from < o.durationMs; from += o.windowMs) {
    const inside = outcomes.filter((x) => x.scheduledMs - first >= from && x.scheduledMs - first < from + o.windowMs);
    const lat = inside.filter(ok).map((x) => x.latencyMs);
    const s = summary(lat);
    windows.push({ fromMs: from, toMs: from + o.windowMs, completed: lat.length, failed: inside.length - lat.length, p50: s.p50, p99: s.p99, max: lat.length ? Math.max(...lat) : 0 });
  }
  const between = (a: number, b: number): number[] => outcomes.filter((x) => ok(x) && x.scheduledMs - first >= a && x.scheduledMs - first < b).map((x) => x.latencyMs);
  const completed = outcomes.filter(ok).length;
  return {
    rate: o.rate,
    durationMs: o.durationMs,
    windowMs: o.windowMs,
    sent: outcomes.length,
    completed,
    failed: outcomes.length - completed,
    windows,
    firstSecond: summary(between(0, 1000)),
    firstFourSeconds: summary(between(0, 4000)),
    lastTwoSeconds: summary(between(o.durationMs - 2000, o.durationMs)),
    worstP50: windows.reduce((m, w) => Math.max(m, w.p50), 0),
  };
}
