/**
 * CircuitBreaker: Envoy's circuit breaking, i.e. concurrency limits per cluster, shared by all of
 * the cluster's endpoints (as Istio configures it, istio/istio#42490). It is not an open/half-open
 * state machine; ejecting bad hosts is the OutlierDetector's job.
 *
 * With HTTP/1.1 every request in flight holds one connection, so:
 *   in flight < maxConnections                  -> go
 *   else pending < maxPendingRequests           -> wait for a connection (queue)
 *   else                                        -> overflow: 503 UO, `x-envoy-overloaded: true`
 *   in flight + pending >= maxRequests          -> overflow
 *   concurrent retries >= maxRetries            -> the retry is not made (retry overflow)
 *
 * With HTTP/2 requests multiplex on a connection, so a request to an HTTP/2 cluster is admitted
 * by the request limit alone (`admitStream`: Envoy's max_requests, Istio's http2MaxRequests);
 * it neither holds a connection slot nor waits in the pending queue.
 *
 * Istio maps DestinationRule `connectionPool` here; its `0` means unset (unlimited).
 */
import type { ConnectionPoolSettings } from '../../config/istio-types.js';

export interface CircuitBreakerLimits {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
  maxRetries: number;
  /** 0 = unlimited; 1 disables keep-alive */
  maxRequestsPerConnection: number;
}

export const UNLIMITED: CircuitBreakerLimits = {
  maxConnections: Infinity,
  maxPendingRequests: Infinity,
  maxRequests: Infinity,
  maxRetries: Infinity,
  maxRequestsPerConnection: 0,
};

const unset = (v: number | undefined): number => (v === undefined || v <= 0 ? Infinity : v);

export function limitsFromPool(pool: ConnectionPoolSettings | undefined): CircuitBreakerLimits {
  return {
    maxConnections: unset(pool?.tcp?.maxConnections),
    maxPendingRequests: unset(pool?.http?.http1MaxPendingRequests),
    maxRequests: unset(pool?.http?.http2MaxRequests),
    maxRetries: unset(pool?.http?.maxRetries),
    maxRequestsPerConnection: pool?.http?.maxRequestsPerConnection ?? 0,
  };
}

export type Admission = 'ok' | 'overflow';

export class CircuitBreaker {
  /** HTTP/1.1 requests in flight, each holding a connection */
  active = 0;
  /** HTTP/2 requests in flight (streams) */
  streams = 0;
  activeRetries = 0;
  private readonly waiting: Array<(a: Admission) => void> = [];
  /** Envoy's counters: upstream_cx_overflow, upstream_rq_pending_overflow, upstream_rq_retry_overflow */
  cxOverflow = 0;
  pendingOverflow = 0;
  retryOverflow = 0;

  constructor(public limits: CircuitBreakerLimits = UNLIMITED) {}

  get pending(): number {
    return this.waiting.length;
  }

  /** true while a limit is reached (shown as "circuit open" in the UI) */
  get saturated(): boolean {
    return this.active >= this.limits.maxConnections || this.active + this.streams + this.pending >= this.limits.maxRequests;
  }

  update(limits: CircuitBreakerLimits): void {
    this.limits = limits;
    this.drain();
  }

  /**
   * Admission of one upstream request: `ok` (a connection is held: call `release()` when the
   * response is done), `overflow`, or `timeout` when `deadline` fires while it waits.
   */
  admit(deadline: Promise<'timeout'>): Admission | Promise<Admission | 'timeout'> {
    const now = this.tryAdmit();
    if (now !== 'wait') return now;
    let resolver!: (a: Admission) => void;
    const waiting = new Promise<Admission>((resolve) => {
      resolver = resolve;
      this.waiting.push(resolve);
    });
    return Promise.race([waiting, deadline]).then((r) => {
      // granted a connection just as the deadline fired: give it back
      if (r === 'timeout' && !this.abandon(resolver)) this.release();
      return r;
    });
  }

  /** admission of one HTTP/2 request: only the request limit applies; `releaseStream()` when it is done */
  admitStream(): Admission {
    if (this.active + this.streams + this.pending >= this.limits.maxRequests) {
      this.pendingOverflow++;
      return 'overflow';
    }
    this.streams++;
    return 'ok';
  }

  releaseStream(): void {
    this.streams = Math.max(0, this.streams - 1);
  }

  private tryAdmit(): Admission | 'wait' {
    if (this.active + this.streams + this.pending >= this.limits.maxRequests) {
      this.pendingOverflow++;
      return 'overflow';
    }
    if (this.active < this.limits.maxConnections) {
      this.active++;
      return 'ok';
    }
    if (this.pending >= this.limits.maxPendingRequests) {
      this.cxOverflow++;
      this.pendingOverflow++;
      return 'overflow';
    }
    return 'wait';
  }

  /**
   * Admission of one TCP proxy connection (Envoy tcp_proxy): a connection slot under
   * `maxConnections`, or overflow at once (counted in upstream_cx_overflow; the downstream
   * connection is closed). There is no queue. `release()` when the connection closes.
   */
  tryConnection(): boolean {
    if (this.active >= this.limits.maxConnections) {
      this.cxOverflow++;
      return false;
    }
    this.active++;
    return true;
  }

  /** a request waiting for a connection gave up (timeout, client gone) */
  private abandon(resolver: (a: Admission) => void): boolean {
    const i = this.waiting.indexOf(resolver);
    if (i < 0) return false;
    this.waiting.splice(i, 1);
    return true;
  }

  release(): void {
    this.active = Math.max(0, this.active - 1);
    this.drain();
  }

  private drain(): void {
    while (this.waiting.length > 0 && this.active < this.limits.maxConnections) {
      this.active++;
      this.waiting.shift()!('ok');
    }
  }

  /** may one more retry run now? (Envoy's max_retries budget) */
  tryRetry(): boolean {
    if (this.activeRetries >= this.limits.maxRetries) {
      this.retryOverflow++;
      return false;
    }
    this.activeRetries++;
    return true;
  }

  retryDone(): void {
    this.activeRetries = Math.max(0, this.activeRetries - 1);
  }

  toJSON(): Record<string, unknown> {
    const lim = (v: number): number | string => (Number.isFinite(v) ? v : 'unlimited');
    return {
      max_connections: lim(this.limits.maxConnections),
      max_pending_requests: lim(this.limits.maxPendingRequests),
      max_requests: lim(this.limits.maxRequests),
      max_retries: lim(this.limits.maxRetries),
      rq_active: this.active + this.streams,
      rq_pending_active: this.pending,
      rq_retry_active: this.activeRetries,
      upstream_cx_overflow: this.cxOverflow,
      upstream_rq_pending_overflow: this.pendingOverflow,
      upstream_rq_retry_overflow: this.retryOverflow,
    };
  }
}
