/**
 * Envoy's HTTP fault filter (VirtualService `fault`), applied on the client side after route
 * selection and *before* the router: an injected abort is a local reply the router never sees,
 * so it is never retried. Delay and abort are sampled independently per request; the delay is
 * applied first, then the abort is evaluated (both may hit the same request).
 *
 * `percentage.value` (0-100, fractional) wins over the deprecated integer `percent`; when both
 * are unset no request is faulted, as in Istio.
 */
import type { HTTPFaultInjection } from '../../config/istio-types.js';
import type { Rng } from '../../rng.js';
import { localReplies, type LocalReply } from '../local-reply.js';

/** gRPC status names to their numeric codes (the `grpc-status` header carries the number). */
export const GRPC_CODES: Record<string, number> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

/** gRPC status names to the HTTP status an HTTP/1.1 client sees (grpc-gateway's mapping). */
export const GRPC_TO_HTTP: Record<string, number> = {
  OK: 200,
  CANCELLED: 499,
  UNKNOWN: 500,
  INVALID_ARGUMENT: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400,
  ABORTED: 409,
  OUT_OF_RANGE: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DATA_LOSS: 500,
  UNAUTHENTICATED: 401,
};

function percentOf(f: { percentage?: { value?: number }; percent?: number }): number {
  if (f.percentage) return f.percentage.value ?? 0;
  return f.percent ?? 0;
}

export interface FaultDecision {
  delayMs: number;
  abort?: LocalReply;
  why: string[];
}

/** Rolls the dice for one request. Pure: the caller sleeps and replies. */
export function decideFault(fault: HTTPFaultInjection, rng: Rng, parseDuration: (d: string) => number): FaultDecision {
  const why: string[] = [];
  let delayMs = 0;
  if (fault.delay) {
    const p = percentOf(fault.delay);
    const d = fault.delay.fixedDelay ?? fault.delay.exponentialDelay;
    if (d && rng.percent(p)) {
      delayMs = parseDuration(d);
      why.push(`fault: delay ${d} injected (${p}% of requests)`);
    } else if (d) {
      why.push(`fault: delay ${d} not injected this time (${p}% of requests)`);
    }
  }
  let abort: LocalReply | undefined;
  if (fault.abort) {
    const p = percentOf(fault.abort);
    const status =
      fault.abort.httpStatus ?? (fault.abort.grpcStatus ? (GRPC_TO_HTTP[fault.abort.grpcStatus] ?? 500) : 503);
    if (rng.percent(p)) {
      abort = localReplies.faultAbort(status);
      // an HTTP/1.1 client gets the mapped HTTP status, with the gRPC code in grpc-status
      if (fault.abort.grpcStatus) abort.headers = { 'grpc-status': String(GRPC_CODES[fault.abort.grpcStatus] ?? 2) };
      why.push(`fault: abort ${status} injected (${p}% of requests)`);
    } else {
      why.push(`fault: abort ${status} not injected this time (${p}% of requests)`);
    }
  }
  return { delayMs, abort, why };
}
