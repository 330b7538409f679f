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

  it('back-off is fully jittered exponential from 25 ms, capped at 250 ms', () => {
    const p = policy('5xx');
    const rng = new Rng(7);
    for (let i = 0; i < 2000; i++) {
      expect(p.backoffMs(1, rng)).toBeLessThan(25);
      expect(p.backoffMs(2, rng)).toBeLessThan(75);
      expect(p.backoffMs(6, rng)).toBeLessThan(250);
    }
  });
});
