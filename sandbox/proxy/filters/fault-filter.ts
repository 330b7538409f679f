/**
 * Envoy's HTTP fault filter (VirtualService `fault`), applied on the client side after route
 * selection and *before* the router: an injected abort is a local reply the router never sees,
 * so it is never retried. Delay and abort are sampled independently per request; the delay is
 * applied first, then the abort is evaluated (both may hit the same request).
 *
 * `percentage.value` (0-100, fractional) wins over the deprecated integer `percent`; when both
 * are unset no request is faulted, as in Istio.
 *
 * `abort.grpcStatus` is Envoy's `abort.grpc_status`: the local reply's HTTP status is 200 and
 * the gRPC status is the one given, so a gRPC client gets a trailers-only response with that
 * `grpc-status` (and `grpc-message: fault filter abort`); a request that is not gRPC gets a plain
 * 200 `fault filter abort` (Envoy's fault filter: "If gRPC status code is set, then http status
 * will be set to Http::Code::OK").
 */
import type { HTTPFaultInjection } from '../../config/istio-types.js';
import type { Rng } from '../../rng.js';
import { localReplies, type LocalReply } from '../local-reply.js';
import { GRPC_CODES } from '../grpc/grpc-status.js';

export { GRPC_CODES, GRPC_TO_HTTP } from '../grpc/grpc-status.js';

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
    const grpc = fault.abort.httpStatus === undefined && fault.abort.grpcStatus !== undefined ? fault.abort.grpcStatus : undefined;
    const status = fault.abort.httpStatus ?? (grpc !== undefined ? 200 : 503);
    const what = grpc !== undefined ? `grpc-status ${grpc}` : String(status);
    if (rng.percent(p)) {
      abort = localReplies.faultAbort(status);
      if (grpc !== undefined) abort.grpcStatus = GRPC_CODES[grpc] ?? GRPC_CODES['UNKNOWN']!;
      why.push(`fault: abort ${what} injected (${p}% of requests)`);
    } else {
      why.push(`fault: abort ${what} not injected this time (${p}% of requests)`);
    }
  }
  return { delayMs, abort, why };
}
