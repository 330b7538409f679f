import { describe, expect, it } from 'vitest';
import { CircuitBreaker, limitsFromPool } from '../../../sandbox/proxy/upstream/circuit-breaker.js';

const never = new Promise<'timeout'>(() => undefined);

describe('CircuitBreaker', () => {
  it("maps Istio's connectionPool, 0 meaning unset", () => {
    expect(limitsFromPool({ tcp: { maxConnections: 0 }, http: { maxRetries: 0 } })).toMatchObject({ maxConnections: Infinity, maxRetries: Infinity });
    expect(limitsFromPool({ tcp: { maxConnections: 2 }, http: { http1MaxPendingRequests: 1, http2MaxRequests: 5 } })).toMatchObject({
      maxConnections: 2,
      maxPendingRequests: 1,
      maxRequests: 5,
    });
  });

  it('admits up to maxConnections, queues up to maxPendingRequests, overflows the rest', async () => {
    const cb = new CircuitBreaker(limitsFromPool({ tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } }));
    expect(cb.admit(never)).toBe('ok');
    const queued = cb.admit(never);
    expect(queued).toBeInstanceOf(Promise);
    expect(cb.admit(never)).toBe('overflow');
    expect(cb.pending).toBe(1);
    cb.release();
    expect(await queued).toBe('ok');
    expect(cb.active).toBe(1);
    expect(cb.toJSON()).toMatchObject({ upstream_rq_pending_overflow: 1, upstream_cx_overflow: 1 });
  });

  it('a queued request that times out leaves the queue and never holds a connection', async () => {
    const cb = new CircuitBreaker(limitsFromPool({ tcp: { maxConnections: 1 } }));
    cb.admit(never);
    let fire!: (v: 'timeout') => void;
    const deadline = new Promise<'timeout'>((r) => (fire = r));
    const waiting = cb.admit(deadline);
    fire('timeout');
    expect(await waiting).toBe('timeout');
    expect(cb.pending).toBe(0);
    cb.release();
    expect(cb.active).toBe(0);
  });

  it('maxRequests counts requests in flight and queued', () => {
    const cb = new CircuitBreaker(limitsFromPool({ tcp: { maxConnections: 5 }, http: { http2MaxRequests: 2 } }));
    expect(cb.admit(never)).toBe('ok');
    expect(cb.admit(never)).toBe('ok');
    expect(cb.admit(never)).toBe('overflow');
  });

  it('maxRetries is a budget of concurrent retries', () => {
    const cb = new CircuitBreaker(limitsFromPool({ http: { maxRetries: 1 } }));
    expect(cb.tryRetry()).toBe(true);
    expect(cb.tryRetry()).toBe(false);
    cb.retryDone();
    expect(cb.tryRetry()).toBe(true);
    expect(cb.retryOverflow).toBe(1);
  });
});
