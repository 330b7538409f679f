/**
 * Sub-millisecond wake-ups for the open-loop load generator, without spinning.
 *
 * Node's setTimeout works in whole milliseconds from the event loop's cached clock, so a wait of
 * 1.7 ms may end 1.5 ms early or 1 ms late. The load generator (sandbox/chaos/load-generator.ts)
 * sleeps with setTimeout until each request's scheduled time, so at 500 req/s about a third of the
 * requests leave before their scheduled time and their latency, counted from that time, is
 * negative; at 1000 req/s the error is of the order of the latencies being compared (~0.1-1 ms).
 *
 * PreciseTimer keeps one helper thread that blocks in Atomics.wait (which takes fractional
 * milliseconds) until the requested time and then posts a message, which wakes the event loop
 * at once; the main thread re-checks performance.now() so it never resolves early (any remainder
 * of a few µs is waited out with setImmediate). `preciseSleep` installs it on a LoadGenerator in
 * place of its private setTimeout-based sleep, keeping the generator's stop() semantics.
 */
import { Worker } from 'node:worker_threads';
import type { LoadGenerator } from '../../sandbox/chaos/load-generator.js';

const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const i32 = new Int32Array(workerData, 0, 2);
const f64 = new Float64Array(workerData, 8, 1);
let handled = 0;
for (;;) {
  if (Atomics.load(i32, 1) !== 0) break;
  const seq = Atomics.load(i32, 0);
  if (seq === handled) { Atomics.wait(i32, 0, seq, 1000); continue; }
  const target = f64[0];
  const now = performance.timeOrigin + performance.now();
  if (now >= target) { handled = seq; parentPort.postMessage(seq); continue; }
  Atomics.wait(i32, 0, seq, target - now);
}
`;

export class PreciseTimer {
  private readonly shared = new SharedArrayBuffer(16);
  private readonly i32 = new Int32Array(this.shared, 0, 2);
  private readonly f64 = new Float64Array(this.shared, 8, 1);
  private readonly worker: Worker;
  private pending: { seq: number; target: number; resolve: () => void } | undefined;

  constructor() {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: this.shared });
    this.worker.unref();
    this.worker.on('message', (seq: number) => {
      const p = this.pending;
      if (!p || p.seq !== seq) return;
      this.finish(p);
    });
  }

  /** Calls `resolve` at performance.now() >= target (never before); returns a cancel function. */
  at(target: number, resolve: () => void): () => void {
    const seq = Atomics.load(this.i32, 0) + 1;
    const entry = { seq, target, resolve };
    this.pending = entry;
    this.f64[0] = performance.timeOrigin + target;
    Atomics.store(this.i32, 0, seq);
    Atomics.notify(this.i32, 0);
    return () => {
      if (this.pending === entry) this.pending = undefined;
    };
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.at(performance.now() + ms, resolve));
  }

  private finish(p: { target: number; resolve: () => void }): void {
    if (this.pending !== p) return;
    if (performance.now() >= p.target) {
      this.pending = undefined;
      p.resolve();
    } else {
      // the helper's clock origin differs from ours by a few µs at most
      setImmediate(() => this.finish(p));
    }
  }

  async close(): Promise<void> {
    Atomics.store(this.i32, 1, 1);
    Atomics.notify(this.i32, 0);
    await this.worker.terminate();
  }
}

/**
 * Replaces the generator's private setTimeout-based sleep by the precise timer. Returns false
 * (and changes nothing) when the generator no longer has such a method.
 */
export function preciseSleep(generator: LoadGenerator, timer: PreciseTimer): boolean {
  const g = generator as unknown as { sleep?: unknown; wake?: () => void };
  if (typeof g.sleep !== 'function' || g.sleep.length !== 1) return false;
  g.sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const cancel = timer.at(performance.now() + ms, resolve);
      g.wake = () => {
        cancel();
        resolve();
      };
    });
  return true;
}
