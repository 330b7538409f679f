/**
 * The idle trim (sandbox/runtime/idle-trim.ts): a thread that was busy and then quiet collects
 * twice, a quiet period apart, and never while work goes on.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fullGc, IdleTrimmer } from '../../../sandbox/runtime/idle-trim.js';

describe('IdleTrimmer', () => {
  let trimmer: IdleTrimmer | undefined;
  afterEach(() => {
    trimmer?.stop();
    vi.useRealTimers();
  });

  it('collects twice after the start-up, then again only after new work and a quiet period', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
    const gc = vi.fn();
    trimmer = new IdleTrimmer({ gc, quietMs: 5_000, checkMs: 1_000 });
    vi.advanceTimersByTime(4_000);
    expect(gc).not.toHaveBeenCalled();
    vi.advanceTimersByTime(2_000);
    expect(gc).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(5_000);
    expect(gc).toHaveBeenCalledTimes(2);
    // quiet: nothing more
    vi.advanceTimersByTime(60_000);
    expect(gc).toHaveBeenCalledTimes(2);
    // busy for 20 s: no collection while requests keep coming
    for (let i = 0; i < 20; i++) {
      trimmer.poke(100);
      vi.advanceTimersByTime(1_000);
    }
    expect(gc).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(6_000);
    expect(gc).toHaveBeenCalledTimes(3);
    vi.advanceTimersByTime(6_000);
    expect(gc).toHaveBeenCalledTimes(4);
    expect(trimmer.trims).toBe(4);
  });

  it("reaches V8's full collection", () => {
    const gc = fullGc();
    expect(typeof gc).toBe('function');
    expect(() => gc!()).not.toThrow();
  });
});
