/**
 * Envoy local replies: responses the proxy generates itself, with Envoy's exact status, body,
 * response flag and response code details (reference/istio-semantics.md §2.8, §4).
 */
export interface LocalReply {
  status: number;
  body: string;
  /** Envoy short response flag, or undefined for none */
  flag?: string;
  details: string;
  headers?: Record<string, string>;
  /**
   * the gRPC status a gRPC client gets (Envoy's sendLocalReply `grpc_status`); unset: mapped
   * from `status` (../grpc/grpc-status.ts httpToGrpcStatus). Ignored for requests that are not gRPC.
   */
  grpcStatus?: number;
}

/** Envoy's StreamResetReason, as its local reply and its details print it */
export type UpstreamResetReason = 'connection failure' | 'connection termination' | 'remote reset' | 'remote refused stream reset' | 'local reset' | 'protocol error' | 'overflow';

const RESET_FLAG: Record<UpstreamResetReason, string> = {
  'connection failure': 'UF',
  'connection termination': 'UC',
  'remote reset': 'UR',
  'remote refused stream reset': 'UR',
  'local reset': 'LR',
  'protocol error': 'UPE',
  overflow: 'UO',
};

const RESET_PREFIX = 'upstream connect error or disconnect/reset before headers. reset reason: ';

export const localReplies = {
  noRoute: (): LocalReply => ({ status: 404, body: '', flag: 'NR', details: 'route_not_found' }),
  clusterNotFound: (): LocalReply => ({ status: 503, body: '', flag: 'NC', details: 'cluster_not_found' }),
  noHealthyUpstream: (): LocalReply => ({
    status: 503,
    body: 'no healthy upstream',
    flag: 'UH',
    details: 'no_healthy_upstream',
  }),
  connectFailure: (): LocalReply => ({
    status: 503,
    body: `${RESET_PREFIX}connection failure`,
    flag: 'UF',
    details: 'upstream_reset_before_response_started{connection_failure}',
  }),
  connectionTermination: (): LocalReply => ({
    status: 503,
    body: `${RESET_PREFIX}connection termination`,
    flag: 'UC',
    details: 'upstream_reset_before_response_started{connection_termination}',
  }),
  remoteReset: (): LocalReply => ({
    status: 503,
    body: `${RESET_PREFIX}remote reset`,
    flag: 'UR',
    details: 'upstream_reset_before_response_started{remote_reset}',
  }),
  /** the upstream reset the stream (or the connection) before the response started */
  upstreamReset: (reason: UpstreamResetReason): LocalReply => ({
    status: 503,
    body: `${RESET_PREFIX}${reason}`,
    flag: RESET_FLAG[reason],
    details: `upstream_reset_before_response_started{${reason.replace(/ /g, '_')}}`,
  }),
  overflow: (): LocalReply => ({
    status: 503,
    body: `${RESET_PREFIX}overflow`,
    flag: 'UO',
    details: 'upstream_reset_before_response_started{overflow}',
    headers: { 'x-envoy-overloaded': 'true' },
  }),
  routeTimeout: (): LocalReply => ({
    status: 504,
    body: 'upstream request timeout',
    flag: 'UT',
    details: 'upstream_response_timeout',
  }),
  perTryTimeout: (): LocalReply => ({
    status: 504,
    body: 'upstream request timeout',
    flag: 'UT',
    details: 'upstream_per_try_timeout',
  }),
  faultAbort: (status: number): LocalReply => ({
    status,
    body: 'fault filter abort',
    flag: 'FI',
    details: 'fault_filter_abort',
  }),
  /**
   * The connection manager's answer when a filter that needs the whole body (Envoy's buffer
   * filter, say) meets one over the buffer limit. No meshbox filter buffers bodies, so sidecars
   * never send it: the router streams.
   */
  payloadTooLarge: (): LocalReply => ({
    status: 413,
    body: 'Payload Too Large',
    details: 'request_payload_too_large',
  }),
  /**
   * Envoy's router: the request body outgrew the buffer limit while it waited to retry (no
   * upstream request in flight to stream it to), so it can neither retry nor go on.
   */
  retryBufferOverflow: (): LocalReply => ({
    status: 507,
    body: 'exceeded request buffer limit while retrying upstream',
    details: 'request_payload_exceeded_retry_buffer_limit',
  }),
  /**
   * Envoy's CDN-Loop filter (envoy.filters.http.cdn_loop, RFC 8586): this proxy's own id is
   * already in the request's `CDN-Loop` header, i.e. the request came back to where it started.
   */
  loopDetected: (): LocalReply => ({
    status: 502,
    body: 'The server has detected a loop between CDNs.',
    details: 'cdn_loop_detected',
  }),
  /** HCM request_headers_timeout: the request's headers did not arrive in time */
  requestHeaderTimeout: (): LocalReply => ({
    status: 408,
    body: 'request header timeout',
    details: 'request_header_timeout',
  }),
  /** HCM stream_idle_timeout: nothing moved on the stream for that long, the request body incomplete */
  streamIdleTimeout: (): LocalReply => ({
    status: 408,
    body: 'stream timeout',
    flag: 'SI',
    details: 'stream_idle_timeout',
  }),
  /** the same with the whole request received and no response yet: Envoy's 504 (the connection stays usable) */
  streamIdleTimeoutAfterRequest: (): LocalReply => ({
    status: 504,
    body: 'stream timeout',
    flag: 'SI',
    details: 'stream_idle_timeout',
  }),
  /** HCM max_request_headers_kb exceeded: Envoy's HTTP/1 codec error (flag DPE) */
  headersTooLarge: (): LocalReply => ({
    status: 431,
    body: 'Request Header Fields Too Large',
    flag: 'DPE',
    details: 'http1.headers_too_large',
  }),
  /** any other HTTP/1 parse error (malformed request line, bad header, bad chunk) */
  codecError: (): LocalReply => ({
    status: 400,
    body: 'Bad Request',
    flag: 'DPE',
    details: 'http1.codec_error',
  }),
  directResponse: (status: number, body: string): LocalReply => ({ status, body, details: 'direct_response' }),
};

/** Envoy's response flags in the order it prints them (its flag bit order). */
export const RESPONSE_FLAG_ORDER = [
  'LH', 'UH', 'UT', 'LR', 'UR', 'UF', 'UC', 'UO', 'NR', 'DI', 'FI', 'RL', 'UAEX', 'RLSE', 'DC', 'URX', 'SI', 'IH',
  'DPE', 'UMSDR', 'RFCF', 'NFCF', 'DT', 'UPE', 'NC', 'OM', 'DF', 'DO', 'DR',
];

/**
 * Response flags of one request, printed as Envoy does (`UF,URX`), or `-` for none.
 */
export class ResponseFlags {
  private readonly flags = new Set<string>();

  add(flag: string | undefined): void {
    if (flag) this.flags.add(flag);
  }

  has(flag: string): boolean {
    return this.flags.has(flag);
  }

  toString(): string {
    if (this.flags.size === 0) return '-';
    const rank = (f: string): number => {
      const i = RESPONSE_FLAG_ORDER.indexOf(f);
      return i === -1 ? RESPONSE_FLAG_ORDER.length : i;
    };
    return [...this.flags].sort((a, b) => rank(a) - rank(b)).join(',');
  }
}
