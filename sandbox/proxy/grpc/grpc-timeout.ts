/**
 * The `grpc-timeout` request header, honoured as Istio configures Envoy.
 *
 * Istio sets every HTTP route's deprecated `max_grpc_timeout` to the route's `timeout`, and to
 * 0 when the VirtualService sets none (pilot's route `setTimeout`; inbound routes too). With
 * `max_grpc_timeout` present, Envoy's router times a gRPC request by its `grpc-timeout` header
 * instead of the route timeout, capped at `max_grpc_timeout` (0: no cap); a gRPC request without
 * the header gets the cap itself (0: none). So, for a gRPC request:
 *
 *   route timeout unset   -> grpc-timeout, or no timeout without one
 *   route timeout T       -> min(grpc-timeout, T), or T without one
 *
 * and the header sent upstream is rewritten to what the attempt has (the per-try timeout if
 * set, else the request's), as `<ms>m` (Envoy's toGrpcTimeout), so the server knows its real
 * deadline. The expiry is the route timeout's local reply (504 `upstream request timeout`, UT),
 * which a gRPC client receives as UNAVAILABLE.
 */

const MAX_GRPC_TIMEOUT_VALUE = 99_999_999;

/**
 * Envoy's Grpc::Common::getGrpcTimeout: at most 8 digits and a unit (H M S m u n); micro- and
 * nanoseconds round up to whole milliseconds. Undefined when absent or malformed (then ignored).
 */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v || v.length < 2 || v.length > 9) return undefined;
  const digits = v.slice(0, -1);
  if (!/^\d+$/.test(digits)) return undefined;
  const n = Number(digits);
  switch (v[v.length - 1]) {
    case 'H':
      return n * 3_600_000;
    case 'M':
      return n * 60_000;
    case 'S':
      return n * 1_000;
    case 'm':
      return n;
    case 'u':
      return Math.ceil(n / 1_000);
    case 'n':
      return Math.ceil(n / 1_000_000);
    default:
      return undefined;
  }
}

/** Envoy's Grpc::Common::toGrpcTimeout: milliseconds while they fit in 8 digits, then S, M, H */
export function formatGrpcTimeout(ms: number): string {
  let time = Math.max(0, Math.floor(ms));
  const units = ['m', 'S', 'M', 'H'];
  let unit = 0;
  if (time > MAX_GRPC_TIMEOUT_VALUE) {
    time = Math.floor(time / 1000);
    unit++;
  }
  while (time > MAX_GRPC_TIMEOUT_VALUE) {
    if (units[unit] === 'H') {
      time = MAX_GRPC_TIMEOUT_VALUE;
      break;
    }
    time = Math.floor(time / 60);
    unit++;
  }
  return `${time}${units[unit]}`;
}

export interface GrpcDeadline {
  /** the request's timeout (null: none) */
  timeoutMs: number | null;
  /** for explain(): how it was decided */
  why: string;
}

/** Envoy's finalTimeout for a gRPC request under `max_grpc_timeout` = the route's timeout (0 when unset) */
export function grpcDeadline(header: string | string[] | undefined, routeTimeoutMs: number | null): GrpcDeadline {
  const requested = parseGrpcTimeout(header);
  const max = routeTimeoutMs ?? 0;
  let t = requested ?? 0;
  if (max !== 0 && (t === 0 || t > max)) t = max;
  const given = Array.isArray(header) ? header[0] : header;
  const source =
    requested === undefined
      ? given === undefined
        ? 'no grpc-timeout header'
        : `grpc-timeout ${given} is malformed and ignored`
      : `grpc-timeout ${given} (${requested}ms)`;
  const why =
    t === 0
      ? `gRPC deadline: none (${source}, no route timeout)`
      : `gRPC deadline: ${t}ms (${source}${max !== 0 ? `, capped at the route timeout ${max}ms (Istio's max_grpc_timeout)` : ''})`;
  return { timeoutMs: t === 0 ? null : t, why };
}
