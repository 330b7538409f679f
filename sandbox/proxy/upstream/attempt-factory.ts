/**
 * Which codec an upstream attempt uses, and the attempt for it: the router asks here and runs
 * either kind the same way (both settle an AttemptOutcome).
 *
 * As Istio configures Envoy's clusters:
 *   DestinationRule `useClientProtocol: true`   -> the downstream's protocol (USE_DOWNSTREAM_PROTOCOL)
 *   an `http2`, `grpc` or `grpc-web` port      -> HTTP/2
 *   `h2UpgradePolicy: UPGRADE` (an `http` port) -> HTTP/2 (`DO_NOT_UPGRADE`, and the mesh default, keep HTTP/1.1)
 *   PassthroughCluster                         -> the downstream's protocol
 *   otherwise (an `http` port)                 -> HTTP/1.1, even for an HTTP/2 client
 * A sidecar's inbound cluster speaks the port's protocol to the app (never upgraded).
 */
import type { ClusterConfig } from '../../control/snapshot.js';
import { upstreamIsHttp2 } from '../../config/protocol-selection.js';
import { H2UpstreamAttempt } from './h2-upstream-attempt.js';
import type { H2Pool, StreamLimits } from './h2-pool.js';
import { UpstreamAttempt, type AttemptOptions, type AttemptOutcome } from './upstream-request.js';

export type UpstreamCodec = 'http1' | 'http2';

export interface Attempt {
  readonly outcome: Promise<AttemptOutcome>;
  /** may a failure be sent again on a new connection without counting an attempt? */
  readonly safeToResend: boolean;
  abort(): void;
  /** the router retries after this attempt's response: stop feeding it the body (reset it if the request was not sent whole) */
  detachBody(): void;
}

export interface CodecDecision {
  codec: UpstreamCodec;
  why: string;
  /** worth a line in the request's explanation (not the everyday HTTP/1.1 to an http port) */
  notable: boolean;
}

/** the upstream codec of `cluster` for a request that came in over `downstreamProtocol` (`HTTP/2`, `HTTP/1.1`) */
export function upstreamCodec(cluster: ClusterConfig, downstreamProtocol: string): CodecDecision {
  const downstream: UpstreamCodec = downstreamProtocol === 'HTTP/2' ? 'http2' : 'http1';
  const name = (c: UpstreamCodec): string => (c === 'http2' ? 'HTTP/2' : 'HTTP/1.1');
  if (cluster.kind === 'passthrough') return { codec: downstream, why: `PassthroughCluster: upstream ${name(downstream)}, as the client's`, notable: downstream === 'http2' };
  const http = cluster.trafficPolicy?.connectionPool?.http;
  const port = cluster.protocol ?? 'http';
  if (cluster.kind === 'outbound' && http?.useClientProtocol) {
    return { codec: downstream, why: `${cluster.policySource ?? 'DestinationRule'} useClientProtocol: upstream ${name(downstream)}, as the client's`, notable: true };
  }
  if (upstreamIsHttp2(port)) return { codec: 'http2', why: `${port} port: upstream HTTP/2`, notable: true };
  if (cluster.kind === 'outbound' && http?.h2UpgradePolicy === 'UPGRADE') {
    return { codec: 'http2', why: `${cluster.policySource ?? 'DestinationRule'} h2UpgradePolicy UPGRADE: upstream HTTP/2`, notable: true };
  }
  return { codec: 'http1', why: `${port} port: upstream HTTP/1.1`, notable: downstream === 'http2' };
}

/** starts an attempt with `codec` */
export function startAttempt(codec: UpstreamCodec, opts: AttemptOptions, h2: { pool: H2Pool; limits: StreamLimits }): Attempt {
  if (codec === 'http1') return new UpstreamAttempt(opts).start();
  const { host, port, method, path, headers, body, perTryTimeoutMs, connectTimeoutMs, onNewConnection } = opts;
  return new H2UpstreamAttempt({ pool: h2.pool, limits: h2.limits, host, port, method, path, headers, body, perTryTimeoutMs, connectTimeoutMs, onNewConnection }).start();
}
