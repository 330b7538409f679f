import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../../sandbox/config/duration.js';
import { compileRetryPolicy, RetryPolicy } from '../../../sandbox/proxy/upstream/retry-policy.js';
import { Rng } from '../../../sandbox/rng.js';

const policy = (retryOn: string, attempts = 3) => new RetryPolicy(compileRetryPolicy({ attempts, retryOn }, parseDuration));

describe('RetryPolicy', () => {
  it("Istio's default when retries is absent: 2 retries on connect-failure and friends", () => {
    const p = new RetryPolicy(compileRetryPolicy(undefined, parseDuration));
    expect(p.maxAttempts).toBe(3);
    expect(p.config.isDefault).toBe(true);
    expect(p.retriesFailure('connect-failure')).toBe(true);
    expect(p.retriesFailure('reset')).toBe(false);
    expect(p.retriesStatus(503)).toBe(false);
  });

  it('gateway-error retries 502/503/504 and every reset', () => {
    const p = policy('gateway-error,connect-failure,refused-stream');
    expect([500, 502, 503, 504].map((s) => p.retriesStatus(s))).toEqual([false, true, true, true]);
    expect(p.retriesFailure('reset')).toBe(true);
    expect(p.retriesFailure('per-try-timeout')).toBe(true);
  });

  it('5xx retries any 5xx; retriable-4xx only 409; numeric codes become retriable-status-codes', () => {
    expect(policy('5xx').retriesStatus(500)).toBe(true);
    expect(policy('retriable-4xx').retriesStatus(409)).toBe(true);
    expect(policy('retriable-4xx').retriesStatus(404)).toBe(false);
    const p = policy('503,reset');
    expect(p.config.retryOn).toContain('retriable-status-codes');
    expect(p.retriesStatus(503)).toBe(true);
    expect(p.retriesStatus(502)).toBe(false);
  });

  it('connect-failure alone does not retry resets or timeouts', () => {
    const p = policy('connect-failure');
    expect(p.retriesFailure('connect-failure')).toBe(true);
    expect(p.retriesFailure('reset')).toBe(false);
    expect(p.retriesFailure('per-try-timeout')).toBe(false);
  });

  it('back-off is fully jittered exponential from 25 ms, capped at 250 ms: retry N waits U[0, (2^N-1) x 25 ms)', () => {
    const p = policy('5xx');
    const rng = new Rng(7);
    const n = 4000;
    for (const [retry, upper] of [
      [1, 25],
      [2, 75],
      [3, 175],
      [4, 250],
      [6, 250],
    ] as const) {
      const waits = Array.from({ length: n }, () => p.backoffMs(retry, rng));
      const mean = waits.reduce((a, b) => a + b, 0) / n;
      // uniform over [0, upper): never negative or above, mean upper/2, both ends reached
      expect(Math.min(...waits)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...waits)).toBeLessThan(upper);
      expect(mean / upper).toBeGreaterThan(0.47);
      expect(mean / upper).toBeLessThan(0.53);
      expect(Math.min(...waits)).toBeLessThan(upper * 0.01);
      expect(Math.max(...waits)).toBeGreaterThan(upper * 0.99);
      // and spread evenly: each quarter of the range gets 25% ± 3%
      for (let q = 0; q < 4; q++) {
        const share = waits.filter((w) => w >= (q * upper) / 4 && w < ((q + 1) * upper) / 4).length / n;
        expect(share).toBeGreaterThan(0.22);
        expect(share).toBeLessThan(0.28);
      }
    }
  });

  it('a VirtualService backoff changes the base interval', () => {
    const p = new RetryPolicy(compileRetryPolicy({ attempts: 3, retryOn: '5xx', backoff: '100ms' }, parseDuration));
    const rng = new Rng(8);
    const waits = Array.from({ length: 2000 }, () => p.backoffMs(2, rng));
    expect(Math.max(...waits)).toBeLessThan(300);
    expect(Math.max(...waits)).toBeGreaterThan(290);
  });
});
