/**
 * Injected time. Production code takes a Clock so timing logic (back-off, outlier ejection,
 * restart back-off, TTLs) can be tested with a fake one.
 */
export interface Clock {
  /** epoch milliseconds */
  now(): number;
  /** monotonic milliseconds, for durations */
  monotonic(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  clearTimeout(timer: Timer): void;
}

export interface Timer {
  unref?(): unknown;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

/** A manual clock for tests: time moves only when `advance` is called. */
export class FakeClock implements Clock {
  private time: number;
  private mono = 0;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private nextId = 1;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  monotonic(): number {
    return this.mono;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const t = { at: this.mono + Math.max(0, ms), fn, id: this.nextId++ };
    this.timers.push(t);
    return t as unknown as Timer;
  }

  clearTimeout(timer: Timer): void {
    this.timers = this.timers.filter((t) => (t as unknown) !== timer);
  }

  /** moves time forward, firing due timers in order */
  advance(ms: number): void {
    const target = this.mono + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time += due.at - this.mono;
      this.mono = due.at;
      due.fn();
    }
    this.time += target - this.mono;
    this.mono = target;
  }
}
