/**
 * RetryPolicy: Envoy's retry decisions for a route (VirtualService `retries`).
 *
 * Defaults, all in one place (reference/istio-semantics.md §2.4):
 * - no `retries` in the route: Istio's default policy, 2 retries on
 *   `connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes`;
 * - back-off: fully jittered exponential, base 25 ms: retry N waits U[0, (2^N - 1) * base),
 *   capped at 10 * base;
 * - previous hosts are avoided when the cluster has another one (`retryIgnorePreviousHosts`).
 *
 * Which outcomes each `retryOn` policy retries:
 * | policy                 | upstream status         | connect failure | reset / per-try timeout |
 * |------------------------|-------------------------|-----------------|-------------------------|
 * | 5xx                    | >= 500                  | yes             | yes                     |
 * | gateway-error          | 502, 503, 504           | yes             | yes                     |
 * | reset                  | -                       | yes             | yes                     |
 * | connect-failure        | -                       | yes             | -                       |
 * | retriable-4xx          | 409                     | -               | -                       |
 * | retriable-status-codes | the listed codes        | -               | -                       |
 * | refused-stream         | -                       | -               | HTTP/2 REFUSED_STREAM   |
 * Numeric entries (`"503,reset"`) become retriable status codes. Status-based policies only see
 * statuses returned by the upstream, never the proxy's own local replies. `5xx`, `gateway-error`
 * and `reset` also retry a refused stream (Envoy: any reset).
 *
 * gRPC policies read the `grpc-status` of the response headers, i.e. of a trailers-only response
 * (a status in trailers comes after the response is committed and is never retried, as in Envoy):
 * `cancelled` 1, `deadline-exceeded` 4, `resource-exhausted` 8, `internal` 13, `unavailable` 14.
 * Istio's default policy has `unavailable` and `cancelled`.
 */
import type { HTTPRetry } from '../../config/istio-types.js';
import type { RetryPolicyConfig } from '../../control/snapshot.js';
import type { Rng } from '../../rng.js';
import type { AttemptFailure } from './upstream-request.js';
import { grpcStatusOf } from '../grpc/grpc-status.js';

/** Envoy's gRPC retry_on conditions and the grpc-status each one retries */
export const GRPC_RETRY_ON: Record<string, number> = {
  cancelled: 1,
  'deadline-exceeded': 4,
  'resource-exhausted': 8,
  internal: 13,
  unavailable: 14,
};

export const DEFAULT_BACKOFF_MS = 25;
export const DEFAULT_RETRY_ON = ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'];
export const DEFAULT_RETRY_ATTEMPTS = 2;

export function defaultRetryPolicy(): RetryPolicyConfig {
  return {
    attempts: DEFAULT_RETRY_ATTEMPTS,
    perTryTimeoutMs: null,
    retryOn: [...DEFAULT_RETRY_ON],
    retriableStatusCodes: [],
    retryIgnorePreviousHosts: true,
    backoffBaseMs: DEFAULT_BACKOFF_MS,
    isDefault: true,
  };
}

/** Compiles a VirtualService `retries` block; `parseDuration` converts "25ms"-style strings. */
export function compileRetryPolicy(
  retries: HTTPRetry | undefined,
  parseDuration: (d: string) => number,
): RetryPolicyConfig {
  if (!retries) return defaultRetryPolicy();
  const retryOn: string[] = [];
  const codes: number[] = [];
  for (const raw of (retries.retryOn ?? '').split(',')) {
    const item = raw.trim();
    if (!item) continue;
    if (/^\d+$/.test(item)) codes.push(Number(item));
    else retryOn.push(item);
  }
  if (codes.length > 0 && !retryOn.includes('retriable-status-codes')) retryOn.push('retriable-status-codes');
  if (retryOn.length === 0 && codes.length === 0) {
    // Istio: an empty retryOn means the default conditions
    retryOn.push(...DEFAULT_RETRY_ON);
  }
  return {
    attempts: retries.attempts ?? 0,
    perTryTimeoutMs: retries.perTryTimeout ? parseDuration(retries.perTryTimeout) : null,
    retryOn,
    retriableStatusCodes: codes,
    retryIgnorePreviousHosts: retries.retryIgnorePreviousHosts ?? true,
    backoffBaseMs: retries.backoff ? parseDuration(retries.backoff) : DEFAULT_BACKOFF_MS,
    isDefault: false,
  };
}

/** The RetryPolicy of a route's retry config, built once per snapshot's config object (it holds no per-request state). */
const byConfig = new WeakMap<RetryPolicyConfig, RetryPolicy>();
export function retryPolicyOf(config: RetryPolicyConfig): RetryPolicy {
  let policy = byConfig.get(config);
  if (!policy) byConfig.set(config, (policy = new RetryPolicy(config)));
  return policy;
}

export class RetryPolicy {
  private readonly on: Set<string>;
  private readonly codes: Set<number>;

  constructor(readonly config: RetryPolicyConfig) {
    this.on = new Set(config.retryOn);
    this.codes = new Set(config.retriableStatusCodes);
  }

  get maxAttempts(): number {
    return 1 + Math.max(0, this.config.attempts);
  }

  /** would an upstream response with this status be retried (attempts permitting)? */
  retriesStatus(status: number): boolean {
    if (this.on.has('5xx') && status >= 500) return true;
    if (this.on.has('gateway-error') && (status === 502 || status === 503 || status === 504)) return true;
    if (this.on.has('retriable-4xx') && status === 409) return true;
    if (this.on.has('retriable-status-codes') && this.codes.has(status)) return true;
    return false;
  }

  /**
   * would an upstream response with these headers be retried (attempts permitting)? The status
   * policies, then the gRPC ones on a trailers-only response's `grpc-status`.
   */
  retriesResponse(status: number, headers: Record<string, string | string[] | undefined> | undefined): boolean {
    if (this.retriesStatus(status)) return true;
    const grpc = grpcStatusOf(headers);
    if (grpc === undefined) return false;
    for (const [policy, code] of Object.entries(GRPC_RETRY_ON)) if (code === grpc && this.on.has(policy)) return true;
    return false;
  }

  /** would this failure be retried (attempts permitting)? */
  retriesFailure(failure: AttemptFailure): boolean {
    if (this.on.has('5xx') || this.on.has('gateway-error') || this.on.has('reset')) return true;
    if (failure === 'refused-stream') return this.on.has('refused-stream');
    return failure === 'connect-failure' && this.on.has('connect-failure');
  }

  /** back-off before retry number `retry` (1-based) */
  backoffMs(retry: number, rng: Rng): number {
    const base = this.config.backoffBaseMs;
    const upper = Math.min((2 ** retry - 1) * base, 10 * base);
    return rng.next() * upper;
  }

  explain(): string {
    if (this.config.attempts <= 0) return 'no retries';
    const parts = [`${this.config.attempts} retries on ${this.config.retryOn.join(',')}`];
    if (this.config.retriableStatusCodes.length) parts.push(`codes ${this.config.retriableStatusCodes.join(',')}`);
    if (this.config.perTryTimeoutMs !== null) parts.push(`per-try timeout ${this.config.perTryTimeoutMs}ms`);
    if (this.config.isDefault) parts.push("(Istio's default policy)");
    return parts.join(', ');
  }
}
