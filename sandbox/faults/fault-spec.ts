/**
 * meshbox's own faults, beyond Istio's VirtualService `fault`:
 *
 * - HTTP faults Istio lacks (abort with a custom body and headers, a connection reset in the
 *   middle of the request or the response, a slow response body), matched by path, header or
 *   method, applied at the destination's inbound sidecar: to the caller they look exactly like
 *   the upstream misbehaving, so its retries, timeouts and outlier detection react as they would
 *   in production (Istio's own fault filter runs before the router and is never retried);
 * - Toxiproxy's network toxics, with Toxiproxy's names, attributes and semantics, on the
 *   connections from the calling sidecars to the target's endpoints.
 *
 * The same spec comes from a rule file (kind `Fault`, apiVersion `meshbox.dev/v1alpha1`), the
 * admin API (`POST /faults`), `meshbox fault add`, the terminal UI and chaos scenarios.
 */

export const FAULT_API_VERSION = 'meshbox.dev/v1alpha1';

/** Toxiproxy's stream: `upstream` = client -> server bytes, `downstream` = server -> client */
export type ToxicStream = 'upstream' | 'downstream';

export type ToxicType = 'latency' | 'bandwidth' | 'slow_close' | 'timeout' | 'reset_peer' | 'slicer' | 'limit_data';

/**
 * Attributes, as Toxiproxy names them:
 * - latency: `latency` ms, `jitter` ms
 * - bandwidth: `rate` KB/s
 * - slow_close: `delay` ms
 * - timeout: `timeout` ms (0 = hold the connection forever, dropping data)
 * - reset_peer: `timeout` ms (then RST)
 * - slicer: `average_size` bytes, `size_variation` bytes, `delay` µs
 * - limit_data: `bytes`
 */
export interface ToxicSpec {
  type: ToxicType;
  /** default `<type>_<stream>` */
  name?: string;
  /** default `downstream`, as in Toxiproxy */
  stream?: ToxicStream;
  /** probability (0-1) that a connection gets the toxic, rolled per connection; default 1 */
  toxicity?: number;
  attributes?: Record<string, number>;
}

export interface HttpFaultSpec {
  /** wait before passing the request on */
  delay?: { fixedDelayMs: number; percent?: number };
  /** answer locally instead of the app */
  abort?: { httpStatus: number; percent?: number; body?: string; headers?: Record<string, string> };
  /** reset the connection: before any response (`request`) or after part of the body (`response`) */
  reset?: { phase: 'request' | 'response'; percent?: number };
  /** trickle the response body at this rate */
  slowBody?: { bytesPerSecond: number; percent?: number };
}

export interface FaultMatch {
  method?: string;
  /** plain path prefix, as a VirtualService `uri.prefix` */
  pathPrefix?: string;
  /** exact header values (lower-case names) */
  headers?: Record<string, string>;
}

export interface FaultTarget {
  /** destination service name, e.g. `callme-service` */
  service: string;
  /** only endpoints of this DestinationRule subset / version label */
  subset?: string;
  /** only traffic from this source workload (e.g. `caller-service-v1`) */
  source?: string;
}

export interface FaultSpec {
  /** unique name; generated when absent */
  name?: string;
  target: FaultTarget;
  match?: FaultMatch;
  http?: HttpFaultSpec;
  toxics?: ToxicSpec[];
  /** removed automatically after this many milliseconds */
  ttlMs?: number;
}

export interface FaultRecord {
  name: string;
  spec: FaultSpec;
  origin: 'runtime' | 'file';
  /** file:line:col for faults declared in rule files */
  source?: string;
  createdAt: number;
  expiresAt?: number;
}
