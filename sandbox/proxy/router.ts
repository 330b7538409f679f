/**
 * The router: Envoy's terminal HTTP filter. It owns the route timeout and the retry loop.
 *
 *   deadline (route timeout, covers every attempt and back-off; never retried)
 *     attempt 1 -> cluster.pick() -> upstream attempt, HTTP/1.1 or HTTP/2 (per-try timeout) -> outcome
 *     retriable and attempts left? -> back-off (jittered) -> attempt 2 on another host ...
 *     otherwise -> stream the upstream response, or send Envoy's local reply
 *
 * A response is committed to the client only once the router has decided not to retry it.
 *
 * Bodies stream (./body/request-body.ts): each attempt gets the request body as the client sends
 * it, replaying what is held. A body that outgrows the buffer limit is no longer held, and then,
 * as in Envoy's router, the request is not retried: an outcome that would have been retried is
 * answered as if there were no retry policy, and a body that overflows while the router waits to
 * retry gets Envoy's 507. The route timeout, as Envoy's, starts when the downstream request is
 * complete and runs until the response is: a long upload is not timed by it, a long streamed
 * response (SSE) is, so such routes need `timeout: 0s` (Istio's default: none).
 *
 * Either codec serves either side (./upstream/attempt-factory.ts decides upstream): an HTTP/1.1
 * client may reach an HTTP/2 upstream and the other way round. Response trailers pass through
 * to an HTTP/2 client (gRPC's status travels in them); an HTTP/1.1 client gets none, as Envoy's
 * HTTP/1 codec (trailers off) does. For gRPC requests the router reads `grpc-status` (headers of
 * a trailers-only response, then trailers) for the event and metrics, retries per the gRPC
 * `retryOn` conditions, and judges a trailers-only status as the HTTP status it maps to for
 * outlier detection, as Envoy's router does.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { Readable } from 'node:stream';
import type { HeaderOperations, HTTPFaultInjection } from '../config/istio-types.js';
import { parseDuration } from '../config/duration.js';
import { decideFault } from './filters/fault-filter.js';
import type { Rng } from '../rng.js';
import type { RequestBody } from './body/request-body.js';
import { localReplies, type LocalReply } from './local-reply.js';
import type { ResponseFault } from './filters/mesh-fault-filter.js';
import type { RequestContext } from './request-context.js';
import type { AttemptRecord } from '../events.js';
import { applyHeaderOps, type HeaderMap } from './routing/header-ops.js';
import type { Cluster } from './upstream/cluster.js';
import type { Endpoint } from './upstream/endpoint.js';
import { classifyStatus } from './upstream/outlier-detector.js';
import type { RetryPolicy } from './upstream/retry-policy.js';
import type { AttemptOutcome } from './upstream/upstream-request.js';
import { startAttempt, upstreamCodec, type Attempt, type UpstreamCodec } from './upstream/attempt-factory.js';
import type { H2Response } from './upstream/h2-upstream-attempt.js';
import { dropPseudoHeaders, isHttp2, responseFinished, sendResponse, writeHead } from './downstream.js';
import { GrpcMessageCounter } from './grpc/grpc-message-counter.js';
import { grpcMessageOf, grpcStatusOf, grpcToHttpStatus, httpToGrpcStatus as httpToGrpc, percentEncodeGrpcMessage } from './grpc/grpc-status.js';

export interface ForwardRequest {
  cluster: Cluster;
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  /** the request body, streamed to each attempt (an HTTP/2 upstream takes the same `writeTo`) */
  body: RequestBody;
  retry: RetryPolicy;
  timeoutMs: number | null;
  /** response header operations, applied in order (destination's, then route's) */
  responseHeaderOps: Array<HeaderOperations | undefined>;
  /** meshbox response faults (reset mid-response, slow body) decided by the inbound fault filter */
  responseFault?: ResponseFault;
  /** a VirtualService fault applied per attempt (meshbox's fault-as-upstream annotation) */
  attemptFault?: HTTPFaultInjection;
  /** consistent-hash key of this request (DestinationRule consistentHash) */
  hashKey?: string;
  /** PassthroughCluster: the original destination instead of a load-balanced pick */
  fixedEndpoint?: Endpoint;
  /** called with each endpoint picked, so the event names the destination workload */
  onEndpoint(endpoint: Endpoint): void;
}

/** hop-by-hop headers never forwarded (RFC 7230 §6.1) */
export const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade'];

type Timeout = {
  fired: boolean;
  promise: Promise<'timeout'>;
  cancel(): void;
  /** stops the clock (hot reload wait); it runs on, with the time that was left, when the returned function is called */
  hold(): () => void;
};

/**
 * The route timeout: `ms` from when the downstream request is complete (Envoy arms it in
 * onRequestComplete), so the time a client takes to upload its body is not counted.
 */
function deadline(ms: number | null, body: RequestBody): Timeout {
  if (ms === null) return { fired: false, promise: new Promise<'timeout'>(() => undefined), cancel: () => undefined, hold: () => () => undefined };
  let timer: NodeJS.Timeout | undefined;
  let left = ms;
  let due: number | undefined;
  let started = false;
  let held = false;
  let cancelled = false;
  let fire: () => void = () => undefined;
  const arm = (): void => {
    if (!started || held || cancelled || t.fired) return;
    due = Date.now() + left;
    timer = setTimeout(fire, left);
  };
  const t: Timeout = {
    fired: false,
    promise: new Promise<'timeout'>((resolve) => {
      fire = () => {
        t.fired = true;
        resolve('timeout');
      };
    }),
    cancel: () => {
      cancelled = true;
      clearTimeout(timer);
      stopWaiting();
    },
    hold: () => {
      if (t.fired || held) return () => undefined;
      held = true;
      clearTimeout(timer);
      if (due !== undefined) left = Math.max(0, due - Date.now());
      due = undefined;
      return () => {
        held = false;
        arm();
      };
    },
  };
  const stopWaiting = body.whenComplete(() => {
    started = true;
    arm();
  });
  return t;
}

const noop = (): void => undefined;

const sleep = (ms: number): Promise<'slept'> => new Promise((r) => setTimeout(() => r('slept'), ms));

function failureReply(outcome: Extract<AttemptOutcome, { kind: 'failure' }>): LocalReply {
  if (outcome.failure === 'per-try-timeout') return localReplies.perTryTimeout();
  if (outcome.resetReason) return localReplies.upstreamReset(outcome.resetReason);
  if (outcome.failure === 'connect-failure') return localReplies.connectFailure();
  if (outcome.failure === 'refused-stream') return localReplies.upstreamReset('remote refused stream reset');
  return localReplies.connectionTermination();
}

/**
 * What outlier detection counts for a response: its HTTP status, or for a gRPC request whose
 * response is trailers-only the status its `grpc-status` maps to (Envoy's router).
 */
function outlierStatus(ctx: RequestContext, response: IncomingMessage): number {
  const grpc = ctx.grpc ? grpcStatusOf(response.headers) : undefined;
  return grpc !== undefined ? grpcToHttpStatus(grpc) : (response.statusCode ?? 0);
}

/**
 * Routes one request: the retry loop of attempts, each on an endpoint the cluster picks.
 * Every random choice (endpoint, back-off jitter, a per-attempt fault) comes from the request's
 * own generator (`ctx.rng`), so it does not depend on what other requests do meanwhile.
 *
 * A client that goes away cancels the request: the attempt in flight is abandoned (its upstream
 * connection closed), a wait for a connection or a back-off ends, nothing is sent again; the
 * RequestContext logs it as Envoy does (`DC`, `downstream_remote_disconnect`).
 */
export async function forward(ctx: RequestContext, fr: ForwardRequest): Promise<void> {
  const { cluster, retry } = fr;
  const rng = ctx.rng;
  const breaker = cluster.breaker;
  ctx.upstreamCluster = cluster.name;
  if (cluster.config.kind === 'outbound') ctx.why.push(cluster.explain());
  const body = fr.body;
  const overall = deadline(fr.timeoutMs, body);
  const tried = new Set<string>();
  const codec = upstreamCodec(cluster.config, ctx.protocol);
  if (codec.notable) ctx.why.push(codec.why);
  let current: Attempt | undefined;
  let downstreamGone = false;
  let retrying = false;
  let signalGone: () => void = () => undefined;
  /** resolves when the client goes away (shaped like a deadline, for the waits that race one) */
  const gone = new Promise<'timeout'>((resolve) => (signalGone = () => resolve('timeout')));
  const onClose = (): void => {
    if (!responseFinished(ctx.req, ctx.res)) {
      downstreamGone = true;
      current?.abort();
      signalGone();
    }
  };
  ctx.res.once('close', onClose);
  const cancel = (): void => {
    downstreamGone = true;
    current?.abort();
    signalGone();
  };
  // the connection manager answered itself (stream idle timeout): the attempt is reset, nothing sent
  const stopCancel = ctx.onCancel(cancel);
  const retries = retry.config.attempts > 0;
  let signalOverflow: (() => void) | undefined;
  let stopAborted = noop;
  let stopOverflow = noop;
  if (!body.complete) {
    // the client went away mid-body (an HTTP/2 stream reset does not always close the response)
    stopAborted = body.on('aborted', cancel);
    stopOverflow = body.on('overflow', () => {
      ctx.why.push(
        `request body passed the ${body.limit}-byte buffer limit (per_connection_buffer_limit_bytes): no longer buffered, it streams${retries ? ", and the request is no longer retried (Envoy's router gives up on the retry)" : ''}`,
      );
      signalOverflow?.();
    });
  }
  if (body.overLimit) {
    ctx.why.push(`request body over the ${body.limit}-byte buffer limit before the first attempt: it streams${retries ? ', and the request is not retried' : ''}`);
  }
  const endRetry = (): void => {
    if (retrying) breaker.retryDone();
    retrying = false;
  };

  try {
    for (let attemptNo = 1; ; attemptNo++) {
      let endpoint = fr.fixedEndpoint ?? cluster.pick(rng, retry.config.retryIgnorePreviousHosts ? tried : undefined, fr.hashKey);
      if (!endpoint && cluster.config.awaitEndpointsMs) {
        endpoint = await awaitEndpoint(ctx, cluster, () => cluster.pick(rng, retry.config.retryIgnorePreviousHosts ? tried : undefined, fr.hashKey), overall);
        if (downstreamGone) return;
      }
      if (!endpoint) {
        cluster.noHealthyUpstream++;
        ctx.why.push(`cluster ${cluster.name}: no healthy endpoint${cluster.hosts().some((h) => cluster.isEjected(h)) ? ' (outlier detection ejected the others)' : ''}`);
        ctx.sendLocalReply(localReplies.noHealthyUpstream());
        return;
      }
      tried.add(endpoint.id);
      fr.onEndpoint(endpoint);
      ctx.attempts = attemptNo;
      ctx.upstreamHost = endpoint.address;
      ctx.endpointId = endpoint.id;

      // Circuit breaking: a connection (HTTP/1.1: one per request in flight) or a queue slot;
      // HTTP/2: the request limit only. A client that goes away leaves the queue at once.
      const admitting = codec.codec === 'http2' ? breaker.admitStream() : breaker.admit(Promise.race([overall.promise, gone]));
      if (admitting instanceof Promise) ctx.stage = `waiting for a connection to ${cluster.name} (circuit breaker queue)`;
      const admission = await admitting;
      const releaseSlot = (): void => (codec.codec === 'http2' ? breaker.releaseStream() : breaker.release());
      if (downstreamGone) {
        if (admission === 'ok') releaseSlot();
        endRetry();
        return;
      }
      if (admission === 'timeout') {
        endRetry();
        ctx.why.push(`route timeout ${fr.timeoutMs}ms expired waiting for a connection (circuit breaker queue)`);
        ctx.sendLocalReply(localReplies.routeTimeout());
        return;
      }
      if (admission === 'overflow') {
        endRetry();
        ctx.why.push(`cluster ${cluster.name}: circuit breaker overflow (${breaker.active} in flight, ${breaker.pending} pending)`);
        ctx.sendLocalReply(localReplies.overflow());
        return;
      }

      let released = false;
      const release = (): void => {
        if (!released) releaseSlot();
        released = true;
      };
      ctx.stage = `during attempt ${attemptNo} to ${endpoint.id} (cancelled: its upstream connection was closed)`;
      const attemptStart = Date.now();
      const attemptMono = performance.now();
      const outcome = await runAttempt(ctx, fr, codec.codec, endpoint, attemptNo, overall, (a) => (current = a), () => downstreamGone);
      if (ctx.trace) ctx.attemptLog.push(attemptRecord(ctx, attemptNo, endpoint.id, attemptStart, attemptMono, outcome));
      endRetry();
      if (outcome === 'gone') {
        // the client's doing, not the endpoint's: no outlier detection, no retry
        release();
        return;
      }
      if (outcome === 'timeout') {
        release();
        cluster.record(endpoint, 'local-failure');
        if (downstreamGone) return;
        ctx.why.push(`route timeout ${fr.timeoutMs}ms expired during attempt ${attemptNo}`);
        ctx.sendLocalReply(localReplies.routeTimeout());
        return;
      }
      cluster.record(endpoint, outcome.kind === 'response' ? classifyStatus(outlierStatus(ctx, outcome.response)) : 'local-failure');
      if (downstreamGone) {
        if (outcome.kind === 'response') outcome.response.resume();
        release();
        return;
      }

      const wouldRetry =
        outcome.kind === 'response' ? retry.retriesResponse(outcome.response.statusCode ?? 0, outcome.response.headers) : retry.retriesFailure(outcome.failure);
      const grpcNow = outcome.kind === 'response' ? grpcStatusOf(outcome.response.headers) : undefined;
      const summary =
        outcome.kind === 'response'
          ? `attempt ${attemptNo} to ${endpoint.id}: ${outcome.response.statusCode}${grpcNow !== undefined ? ` grpc-status ${grpcNow}` : ''}`
          : `attempt ${attemptNo} to ${endpoint.id}: ${outcome.failure} (${outcome.reason})`;
      // Envoy's router dropped the retry state when the body outgrew the buffer: no retry, no URX
      const retriable = wouldRetry && body.replayable;
      if (wouldRetry && !retriable && attemptNo < retry.maxAttempts) {
        ctx.why.push(`${summary}, not retried: the request body was not buffered (over the ${body.limit}-byte buffer limit), answered as without a retry policy`);
      }

      if (retriable && attemptNo < retry.maxAttempts && !breaker.tryRetry()) {
        ctx.why.push(`${summary}, not retried: the cluster's maxRetries budget is in use (retry overflow)`);
      } else if (retriable && attemptNo < retry.maxAttempts) {
        retrying = true;
        ctx.why.push(`${summary}, retrying (${retry.explain()})`);
        if (outcome.kind === 'response') outcome.response.resume();
        else ctx.upstreamFailure = outcome.reason;
        current?.detachBody();
        release();
        const wait = retry.backoffMs(attemptNo, rng);
        ctx.stage = `during the back-off before attempt ${attemptNo + 1}`;
        // the body may outgrow the buffer while the router waits (it reads ahead meanwhile)
        const overflowed = body.complete ? undefined : new Promise<'overflow'>((resolve) => (signalOverflow = () => resolve('overflow')));
        const slept = await Promise.race(overflowed ? [sleep(wait), overall.promise, gone, overflowed] : [sleep(wait), overall.promise, gone]);
        signalOverflow = undefined;
        if (downstreamGone) return;
        if (slept === 'timeout') {
          ctx.why.push(`route timeout ${fr.timeoutMs}ms expired during back-off`);
          ctx.sendLocalReply(localReplies.routeTimeout());
          return;
        }
        if (slept === 'overflow' || !body.replayable) {
          // Envoy: the buffer overflowed with no upstream request in flight: 507
          ctx.sendLocalReply(localReplies.retryBufferOverflow());
          return;
        }
        continue;
      }

      const exhausted = retriable && retry.config.attempts > 0 && attemptNo >= retry.maxAttempts;
      if (exhausted) ctx.flags.add('URX');
      ctx.why.push(exhausted ? `${summary}, retries exhausted` : summary);
      if (outcome.kind === 'response') {
        outcome.response.once('close', release);
        outcome.response.once('end', release);
        await sendUpstreamResponse(ctx, fr, outcome.response, outcome.serviceTimeMs, overall);
        release();
        if (!body.complete) {
          // the response is over before the request: Envoy resets the upstream request (and,
          // on HTTP/1, closes the downstream connection: `connection: close` went with the head)
          current?.abort();
          body.discard();
        }
      } else {
        release();
        ctx.upstreamFailure = outcome.reason;
        ctx.sendLocalReply(failureReply(outcome));
      }
      return;
    }
  } finally {
    endRetry();
    overall.cancel();
    stopAborted();
    stopCancel();
    stopOverflow();
    ctx.res.off('close', onClose);
  }
}

/**
 * Hot reload: meshbox is restarting the instances of this cluster (`awaitEndpointsMs` is set),
 * so a request that finds no healthy endpoint waits for one to come back, up to that long,
 * instead of answering 503 UH at once. The wait is meshbox's doing, not the service's: the route
 * timeout's clock stops meanwhile (it covers the upstream attempts, as it would without a restart).
 */
async function awaitEndpoint(ctx: RequestContext, cluster: Cluster, pick: () => Endpoint | undefined, overall: Timeout): Promise<Endpoint | undefined> {
  const started = Date.now();
  const until = started + (cluster.config.awaitEndpointsMs ?? 0);
  const closed = new Promise<'closed'>((resolve) => ctx.res.once('close', () => resolve('closed')));
  const resume = overall.hold();
  try {
    for (;;) {
      const left = until - Date.now();
      if (left <= 0 || !cluster.config.awaitEndpointsMs || ctx.res.destroyed) return undefined;
      const woke = await Promise.race([cluster.endpointsChanged(left), closed]);
      if (woke === 'closed') return undefined;
      const endpoint = pick();
      if (endpoint) {
        ctx.why.push(`waited ${Date.now() - started}ms for an endpoint of ${cluster.name}: meshbox was restarting its instances (not counted in the route timeout)`);
        return endpoint;
      }
    }
  } finally {
    resume();
  }
}

/**
 * Istio turns `include_request_attempt_count` on for the virtual hosts of sidecars' outbound
 * listeners and of gateways: their router sets `x-envoy-attempt-count` on each try. An inbound
 * sidecar's virtual host does not, so the count the caller's proxy set reaches the app as is.
 */
function attemptHeaders(ctx: RequestContext, fr: ForwardRequest, attemptNo: number): OutgoingHttpHeaders {
  if (ctx.listener.kind === 'inbound') return fr.headers;
  return { ...fr.headers, 'x-envoy-attempt-count': String(attemptNo) };
}

/**
 * One attempt, raced against the route deadline. It is sent again, once and without counting an
 * attempt, only when a pooled connection failed before any byte of it was written
 * (UpstreamAttempt.safeToResend). 'gone': the client went away meanwhile.
 */
async function runAttempt(
  ctx: RequestContext,
  fr: ForwardRequest,
  codec: UpstreamCodec,
  endpoint: Endpoint,
  attemptNo: number,
  overall: Timeout,
  setCurrent: (a: Attempt) => void,
  clientGone: () => boolean,
): Promise<AttemptOutcome | 'timeout' | 'gone'> {
  const headers = attemptHeaders(ctx, fr, attemptNo);
  endpoint.active++;
  endpoint.requests++;
  try {
    if (fr.attemptFault) {
      const injected = await attemptFault(ctx, fr, attemptNo, overall, ctx.rng);
      if (clientGone()) return 'gone';
      if (injected) return injected;
    }
    for (let resend = 0; ; resend++) {
      const limits = fr.cluster.breaker.limits;
      const attempt = startAttempt(
        codec,
        {
          host: endpoint.config.address,
          port: endpoint.config.port,
          agent: fr.cluster.agent,
          method: fr.method,
          path: fr.path,
          headers,
          body: fr.body,
          perTryTimeoutMs: fr.retry.config.perTryTimeoutMs,
          connectTimeoutMs: fr.cluster.config.connectTimeoutMs,
          maxRequestsPerConnection: limits.maxRequestsPerConnection,
          onNewConnection: () => endpoint.connections++,
        },
        {
          pool: fr.cluster.h2,
          limits: { maxRequestsPerConnection: limits.maxRequestsPerConnection, maxConcurrentStreams: fr.cluster.config.trafficPolicy?.connectionPool?.http?.maxConcurrentStreams ?? 0 },
        },
      );
      setCurrent(attempt);
      const outcome = await Promise.race([attempt.outcome, overall.promise]);
      if (clientGone()) {
        attempt.abort();
        if (outcome !== 'timeout' && outcome.kind === 'response') outcome.response.resume();
        return 'gone';
      }
      if (outcome === 'timeout') {
        attempt.abort();
        endpoint.timeouts++;
        endpoint.errors++;
        return outcome;
      }
      // A pooled keep-alive connection the upstream had closed while idle, found dead before any
      // byte of this request went out: the upstream never saw it, so it goes on a fresh connection
      // without counting an attempt. Anything else is the retry policy's call.
      if (outcome.kind === 'failure' && resend === 0 && attempt.safeToResend) {
        ctx.why.push(`attempt ${attemptNo}: the pooled connection to ${endpoint.id} was closed before the request was written (${outcome.reason}); sent on a new connection`);
        continue;
      }
      if (outcome.kind === 'response') {
        const status = outlierStatus(ctx, outcome.response);
        if (status >= 500) endpoint.errors++;
        else endpoint.success++;
      } else {
        endpoint.errors++;
        if (outcome.failure === 'connect-failure') endpoint.connectFailures++;
        if (outcome.failure === 'per-try-timeout') endpoint.timeouts++;
      }
      return outcome;
    }
  } finally {
    endpoint.active--;
  }
}

/** one attempt, for the request's span (see sandbox/telemetry/tracing) */
function attemptRecord(
  ctx: RequestContext,
  attempt: number,
  endpoint: string,
  startTime: number,
  startMono: number,
  outcome: AttemptOutcome | 'timeout' | 'gone',
): AttemptRecord {
  const fault = ctx.attemptFault;
  ctx.attemptFault = undefined;
  return {
    attempt,
    endpoint,
    startTime,
    durationMs: Math.round((performance.now() - startMono) * 1000) / 1000,
    status: typeof outcome === 'object' && outcome.kind === 'response' ? (outcome.response.statusCode ?? 0) : 0,
    ...(typeof outcome === 'object' && outcome.kind === 'failure' ? { failure: outcome.failure } : typeof outcome === 'string' ? { failure: outcome === 'timeout' ? 'route-timeout' : 'downstream-disconnect' } : {}),
    ...(fault ? { fault } : {}),
  };
}

/**
 * A VirtualService fault in fault-as-upstream mode: sampled per attempt; the delay runs inside
 * the attempt (per-try and route timeouts see it), an abort looks like the upstream's answer.
 */
async function attemptFault(ctx: RequestContext, fr: ForwardRequest, attemptNo: number, overall: Timeout, rng: Rng): Promise<AttemptOutcome | 'timeout' | undefined> {
  const decision = decideFault(fr.attemptFault!, rng, parseDuration);
  ctx.why.push(...decision.why.map((w) => `attempt ${attemptNo}: ${w}`));
  const fired = [decision.delayMs > 0 ? `delay ${decision.delayMs}ms` : '', decision.abort ? `abort ${decision.abort.status}` : ''].filter(Boolean).join(', ');
  if (fired) ctx.attemptFault = fired;
  if (decision.delayMs > 0) {
    ctx.flags.add('DI');
    const perTry = fr.retry.config.perTryTimeoutMs;
    const limit = perTry !== null && perTry < decision.delayMs ? perTry : decision.delayMs;
    const r = await Promise.race([sleep(limit), overall.promise]);
    if (r === 'timeout') return 'timeout';
    if (limit < decision.delayMs) {
      return { kind: 'failure', failure: 'per-try-timeout', reason: 'per-try timeout (injected delay)' };
    }
  }
  if (!decision.abort) return undefined;
  ctx.flags.add('FI');
  return { kind: 'response', response: injectedResponse(ctx, decision.abort), serviceTimeMs: 0 };
}

/**
 * The response an abort in fault-as-upstream mode stands for: what the proxy's local reply would
 * be (for a gRPC request a trailers-only response), as if the upstream had sent it.
 */
function injectedResponse(ctx: RequestContext, abort: LocalReply): IncomingMessage {
  if (ctx.grpc) {
    const grpcStatus = abort.grpcStatus ?? httpToGrpc(abort.status);
    return Object.assign(Readable.from([]), {
      statusCode: 200,
      headersOnly: true,
      headers: { ...abort.headers, 'content-type': 'application/grpc', 'grpc-status': String(grpcStatus), 'grpc-message': percentEncodeGrpcMessage(abort.body) },
      trailers: {},
    }) as unknown as IncomingMessage;
  }
  const body = Buffer.from(abort.body);
  return Object.assign(Readable.from([body]), {
    statusCode: abort.status,
    headers: { 'content-type': 'text/plain', 'content-length': String(body.length), ...abort.headers },
    trailers: {},
  }) as unknown as IncomingMessage;
}

async function sendUpstreamResponse(
  ctx: RequestContext,
  fr: ForwardRequest,
  upstream: IncomingMessage,
  serviceTimeMs: number | undefined,
  overall: Timeout,
): Promise<void> {
  const headers: HeaderMap = dropPseudoHeaders({ ...upstream.headers });
  for (const h of HOP_BY_HOP) delete headers[h];
  for (const ops of fr.responseHeaderOps) applyHeaderOps(headers, ops);
  // Envoy sets it from the end of the downstream request; a response that came before it has none
  if (serviceTimeMs !== undefined) headers['x-envoy-upstream-service-time'] = String(serviceTimeMs);
  else delete headers['x-envoy-upstream-service-time'];
  headers['server'] = ctx.serverHeader();
  ctx.closeIfRequestIncomplete(headers);
  ctx.encodeHeaders(headers);
  ctx.upstreamServiceTimeMs = serviceTimeMs;
  ctx.status = upstream.statusCode ?? 502;
  if (ctx.grpc) readGrpcStatus(ctx, upstream.headers);
  ctx.responseStarted = true;
  ctx.stage = 'while the response body streamed';
  const fault = fr.responseFault;
  const h2down = isHttp2(ctx.req);
  // a response that ended with its headers (gRPC trailers-only) stays one HEADERS frame with
  // END_STREAM for an HTTP/2 client: a gRPC client reads its status from exactly that
  if (h2down && !fault && headersOnly(upstream)) {
    upstream.resume();
    return endHeadersOnly(ctx, headers as OutgoingHttpHeaders);
  }
  writeHead(ctx.req, ctx.res, ctx.status, headers as OutgoingHttpHeaders);
  // Envoy forwards the head as it arrives: a streamed response (SSE) whose first bytes are not
  // here yet must not wait for them behind the proxy (Node sends the head with the first write)
  // (an HTTP/2 head goes out with writeHead already)
  if (!h2down && upstream.readableLength === 0 && !upstream.complete) {
    const res = ctx.res as ServerResponse;
    setImmediate(() => {
      if (ctx.bytesSent === 0 && !res.writableEnded && !res.destroyed) res.flushHeaders();
    });
  }
  if (fault?.reset) return resetMidResponse(ctx, upstream);
  upstream.on('data', (chunk: Buffer) => {
    ctx.bytesSent += chunk.length;
  });
  passTrailers(ctx, upstream, h2down);
  await new Promise<void>((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      resolve();
    };
    // The route timeout still runs while the body streams; Envoy then resets the stream.
    void overall.promise.then(() => {
      if (done) return;
      ctx.flags.add('UT');
      ctx.details = 'upstream_response_timeout';
      // done first: closing the upstream ourselves is not the upstream's reset (no UC)
      finish();
      upstream.destroy();
      ctx.resetDownstream();
    });
    const upstreamReset = (): void => {
      if (done) return;
      // HTTP/2: the stream's RST_STREAM is the upstream's reset (UR); a lost connection is UC
      ctx.flags.add((upstream as unknown as H2Response).resetFlag?.() ?? 'UC');
      ctx.resetDownstream();
      finish();
    };
    upstream.on('error', upstreamReset);
    upstream.on('aborted', upstreamReset);
    // an HTTP/2 stream reset with NO_ERROR mid-body closes without an error
    upstream.once('close', () => {
      if (!upstream.readableEnded) upstreamReset();
    });
    // a client that goes away mid-body: forward()'s close handler aborts the attempt, which
    // closes the upstream connection (the cancel reaches the app's side)
    ctx.res.on('close', finish);
    ctx.res.on('finish', () => {
      // said here, before the request's event is built (on the response's close)
      if (!fr.body.complete) ctx.why.push('the response ended before the request body did: the rest of the request is not sent (upstream reset)');
      finish();
    });
    if (fault?.slowBodyBps) trickle(upstream, ctx, fault.slowBodyBps);
    else upstream.pipe(ctx.res as unknown as NodeJS.WritableStream);
    countResponseMessages(ctx, upstream);
  });
}

/** did the upstream response end with its headers (no body follows)? */
function headersOnly(upstream: IncomingMessage): boolean {
  const flagged = (upstream as unknown as { headersOnly?: boolean }).headersOnly;
  if (flagged !== undefined) return flagged;
  return upstream.headers['content-length'] === '0' || upstream.readableEnded;
}

/** an HTTP/2 response of headers only: one HEADERS frame with END_STREAM */
function endHeadersOnly(ctx: RequestContext, headers: OutgoingHttpHeaders): Promise<void> {
  return new Promise<void>((resolve) => {
    ctx.res.once('close', () => resolve());
    sendResponse(ctx.req, ctx.res, ctx.status, headers);
  });
}

/** records a gRPC status and message (from a trailers-only response's headers, or trailers) */
function readGrpcStatus(ctx: RequestContext, headers: Record<string, string | string[] | undefined> | NodeJS.Dict<string | string[]>): void {
  const status = grpcStatusOf(headers);
  if (status === undefined || !ctx.grpc) return;
  ctx.grpc.status = status;
  ctx.grpc.message = grpcMessageOf(headers);
}

/**
 * Response trailers: read for gRPC's status, and passed on to an HTTP/2 client (added before the
 * response ends). HTTP/2 upstreams deliver them as a `trailers` event, HTTP/1.1 ones at `end`.
 */
function passTrailers(ctx: RequestContext, upstream: IncomingMessage, h2down: boolean): void {
  const onTrailers = (t: NodeJS.Dict<string | string[]> | undefined): void => {
    if (!t || Object.keys(t).length === 0) return;
    if (ctx.grpc) readGrpcStatus(ctx, t);
    if (!h2down || ctx.res.writableEnded) return;
    const trailers = dropPseudoHeaders({ ...t });
    (ctx.res as Http2ServerResponse).addTrailers(trailers as OutgoingHttpHeaders);
  };
  if ('rstCode' in upstream) upstream.on('trailers', (t: NodeJS.Dict<string | string[]>) => onTrailers(t));
  // registered before pipe() is: the trailers are added before pipe ends the response
  else upstream.once('end', () => onTrailers(upstream.trailers));
}

/** gRPC requests: the length-prefixed messages of the response body, for istio_response_messages_total */
function countResponseMessages(ctx: RequestContext, upstream: IncomingMessage): void {
  const grpc = ctx.grpc;
  if (!grpc) return;
  const counter = new GrpcMessageCounter();
  upstream.on('data', (chunk: Buffer) => {
    counter.push(chunk);
    grpc.responseMessages = counter.count;
  });
}

/** Fault: send the head and part of the body, then reset the connection (TCP RST). */
function resetMidResponse(ctx: RequestContext, upstream: IncomingMessage): Promise<void> {
  ctx.details = 'fault_filter_reset';
  return new Promise<void>((resolve) => {
    const cut = (chunk?: Buffer): void => {
      upstream.removeAllListeners('data');
      upstream.removeAllListeners('end');
      const part = chunk && chunk.length > 1 ? chunk.subarray(0, Math.floor(chunk.length / 2)) : undefined;
      const reset = (): void => {
        ctx.resetDownstream('rst');
        upstream.destroy();
        resolve();
      };
      if (part) {
        ctx.bytesSent += part.length;
        (ctx.res as ServerResponse).write(part, reset);
      } else {
        (ctx.res as ServerResponse).flushHeaders();
        setImmediate(reset);
      }
    };
    upstream.once('data', (c: Buffer) => cut(c));
    upstream.once('end', () => cut());
    upstream.once('error', () => cut());
  });
}

/** Fault: pass the body on at `bps` bytes per second, in 100 ms slices. */
function trickle(upstream: IncomingMessage, ctx: RequestContext, bps: number): void {
  const slice = Math.max(1, Math.floor(bps / 10));
  const queue: Buffer[] = [];
  let ended = false;
  let timer: NodeJS.Timeout | undefined;
  const pump = (): void => {
    timer = undefined;
    let budget = slice;
    while (budget > 0 && queue.length > 0) {
      const head = queue[0]!;
      const n = Math.min(budget, head.length);
      (ctx.res as ServerResponse).write(head.subarray(0, n));
      budget -= n;
      if (n === head.length) queue.shift();
      else queue[0] = head.subarray(n);
    }
    if (queue.length > 0) timer = setTimeout(pump, 100);
    else if (ended) ctx.res.end();
    else upstream.resume();
  };
  upstream.removeAllListeners('data');
  upstream.on('data', (c: Buffer) => {
    ctx.bytesSent += c.length;
    queue.push(c);
    upstream.pause();
    timer ??= setTimeout(pump, 100);
  });
  upstream.on('end', () => {
    ended = true;
    timer ??= setTimeout(pump, 0);
  });
  ctx.res.once('close', () => {
    if (timer) clearTimeout(timer);
    upstream.destroy();
  });
}
