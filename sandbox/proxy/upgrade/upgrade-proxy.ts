/**
 * The router's work for an upgrade request (WebSocket): the terminal step the connection manager
 * takes instead of ../router.ts `forward` once routing, the fault filter and the inbound filters
 * (JWT, RBAC) let the request through. Same cluster, load balancer, circuit breaker, outlier
 * detection and retry policy as any request:
 *
 *   attempt n -> cluster.pick() -> new connection (TCP, or mTLS between sidecars) -> upgrade head
 *     101                    -> 101 to the client, then the upgraded stream (./upgraded-stream.ts)
 *     other status           -> retried if the policy says so, else passed to the client as is
 *     connect failure, reset -> retried if the policy says so, else Envoy's 503 (UF, UC, + URX)
 *
 * As in Envoy:
 * - an upgrade request is retried like any request before a response started (the request is
 *   only its head); nothing is retried once the 101 went out;
 * - the route timeout and the per-try timeout do not apply: Envoy's router arms them when the
 *   downstream request has ended, and an upgrade request's stream only ends with the stream;
 *   stream_idle_timeout does apply, to the upgraded stream too (nothing moving either way);
 * - the upgraded stream holds its circuit-breaker slot (an active request on a connection of
 *   its own) and counts as an active request of its endpoint until it closes;
 * - the request ends, with one event (status 101, the bytes of the whole stream, its duration),
 *   when the stream has closed; `mesh:request:upgraded` says when it opened.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { parseDuration } from '../../config/duration.js';
import { decideFault } from '../filters/fault-filter.js';
import { localReplies, type LocalReply } from '../local-reply.js';
import type { RequestContext } from '../request-context.js';
import { resetConnection } from '../reset-connection.js';
import { HOP_BY_HOP, type ForwardRequest } from '../router.js';
import { applyHeaderOps, type HeaderMap } from '../routing/header-ops.js';
import type { Endpoint } from '../upstream/endpoint.js';
import { classifyStatus } from '../upstream/outlier-detector.js';
import type { AttemptFailure } from '../upstream/upstream-request.js';
import { closeResponse, detachResponse } from './upgrade-request.js';
import { runUpgradedStream, type StreamEnd } from './upgraded-stream.js';
import { UpstreamUpgradeAttempt, type UpgradeOutcome } from './upstream-upgrade.js';

export interface UpgradeProxyOptions {
  /** stream_idle_timeout for the upgraded stream; 0 turns it off */
  idleTimeoutMs: number;
  /** delayed close when one side of the stream closes */
  drainMs: number;
}

const sleep = (ms: number): Promise<'slept'> => new Promise((r) => setTimeout(() => r('slept'), ms));

function failureReply(failure: AttemptFailure): LocalReply {
  if (failure === 'connect-failure') return localReplies.connectFailure();
  return localReplies.connectionTermination();
}

/** proxies `ctx`'s upgrade request (ctx.upgrade is set) to the cluster of `fr` */
export async function proxyUpgrade(ctx: RequestContext, fr: ForwardRequest, opts: UpgradeProxyOptions): Promise<void> {
  const { cluster, retry } = fr;
  const breaker = cluster.breaker;
  const rng = ctx.rng;
  ctx.upstreamCluster = cluster.name;
  if (cluster.config.kind === 'outbound') ctx.why.push(cluster.explain());
  if (fr.timeoutMs !== null || retry.config.perTryTimeoutMs !== null) {
    ctx.why.push('upgrade: the route timeout and per-try timeout do not apply (Envoy arms them once the request has ended; an upgraded stream ends with the stream); stream_idle_timeout does');
  }
  const tried = new Set<string>();
  let current: UpstreamUpgradeAttempt | undefined;
  let downstreamGone = false;
  let signalGone: () => void = () => undefined;
  const gone = new Promise<'timeout'>((resolve) => (signalGone = () => resolve('timeout')));
  const onClose = (): void => {
    downstreamGone = true;
    current?.abort();
    signalGone();
  };
  ctx.res.once('close', onClose);
  let retrying = false;
  const endRetry = (): void => {
    if (retrying) breaker.retryDone();
    retrying = false;
  };

  try {
    for (let attemptNo = 1; ; attemptNo++) {
      const endpoint = fr.fixedEndpoint ?? cluster.pick(rng, retry.config.retryIgnorePreviousHosts ? tried : undefined, fr.hashKey);
      if (!endpoint) {
        endRetry();
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

      const admitting = breaker.admit(gone);
      if (admitting instanceof Promise) ctx.stage = `waiting for a connection to ${cluster.name} (circuit breaker queue)`;
      const admission = await admitting;
      if (downstreamGone) {
        if (admission === 'ok') breaker.release();
        endRetry();
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
        if (!released) breaker.release();
        released = true;
      };

      ctx.stage = `during attempt ${attemptNo} to ${endpoint.id} (cancelled: its upstream connection was closed)`;
      const attemptStart = Date.now();
      const attemptMono = performance.now();
      endpoint.active++;
      endpoint.requests++;
      let outcome: UpgradeOutcome | 'gone';
      try {
        outcome = await attempt(ctx, fr, endpoint, attemptNo, gone, (a) => (current = a), () => downstreamGone);
      } catch (err) {
        endpoint.active--;
        release();
        throw err;
      }
      current = undefined;
      endRetry();
      if (ctx.trace) {
        ctx.attemptLog.push({
          attempt: attemptNo,
          endpoint: endpoint.id,
          startTime: attemptStart,
          durationMs: Math.round((performance.now() - attemptMono) * 1000) / 1000,
          status: typeof outcome === 'object' && outcome.kind !== 'failure' ? (outcome.response.statusCode ?? 0) : 0,
          ...(outcome === 'gone' ? { failure: 'downstream-disconnect' } : outcome.kind === 'failure' ? { failure: outcome.failure } : {}),
        });
      }
      if (outcome === 'gone' || downstreamGone) {
        if (outcome !== 'gone') discard(outcome);
        endpoint.active--;
        release();
        return;
      }
      countOutcome(endpoint, outcome);
      cluster.record(endpoint, outcome.kind === 'failure' ? 'local-failure' : classifyStatus(outcome.response.statusCode ?? 0));

      const status = outcome.kind === 'failure' ? 0 : (outcome.response.statusCode ?? 0);
      const retriable = outcome.kind === 'switched' ? false : outcome.kind === 'response' ? retry.retriesStatus(status) : retry.retriesFailure(outcome.failure);
      const summary =
        outcome.kind === 'failure'
          ? `attempt ${attemptNo} to ${endpoint.id}: ${outcome.failure} (${outcome.reason})`
          : `attempt ${attemptNo} to ${endpoint.id}: ${status}${outcome.kind === 'switched' ? ` (switched to ${ctx.upgrade!.protocol})` : ' (the upstream did not switch protocols)'}`;

      if (retriable && attemptNo < retry.maxAttempts && !breaker.tryRetry()) {
        ctx.why.push(`${summary}, not retried: the cluster's maxRetries budget is in use (retry overflow)`);
      } else if (retriable && attemptNo < retry.maxAttempts) {
        retrying = true;
        ctx.why.push(`${summary}, retrying (${retry.explain()})`);
        if (outcome.kind === 'failure') ctx.upstreamFailure = outcome.reason;
        discard(outcome);
        endpoint.active--;
        release();
        ctx.stage = `during the back-off before attempt ${attemptNo + 1}`;
        await Promise.race([sleep(retry.backoffMs(attemptNo, rng)), gone]);
        if (downstreamGone) return;
        continue;
      }

      const exhausted = retriable && retry.config.attempts > 0 && attemptNo >= retry.maxAttempts;
      if (exhausted) ctx.flags.add('URX');
      ctx.why.push(exhausted ? `${summary}, retries exhausted` : summary);
      try {
        if (outcome.kind === 'switched') {
          ctx.res.off('close', onClose);
          await switched(ctx, fr, outcome, opts);
        } else if (outcome.kind === 'response') {
          await refused(ctx, fr, outcome.response, outcome.serviceTimeMs);
        } else {
          ctx.upstreamFailure = outcome.reason;
          ctx.sendLocalReply(failureReply(outcome.failure));
        }
      } finally {
        endpoint.active--;
        release();
      }
      return;
    }
  } finally {
    endRetry();
    ctx.res.off('close', onClose);
  }
}

function discard(outcome: UpgradeOutcome): void {
  if (outcome.kind === 'response') outcome.response.resume();
  if (outcome.kind === 'switched') outcome.socket.destroy();
}

function countOutcome(endpoint: Endpoint, outcome: UpgradeOutcome): void {
  if (outcome.kind === 'failure') {
    endpoint.errors++;
    if (outcome.failure === 'connect-failure') endpoint.connectFailures++;
    return;
  }
  if ((outcome.response.statusCode ?? 0) >= 500) endpoint.errors++;
  else endpoint.success++;
}

/** One attempt: a meshbox fault-as-upstream fault first (its abort answers like the upstream), then the upgrade head upstream. */
async function attempt(
  ctx: RequestContext,
  fr: ForwardRequest,
  endpoint: Endpoint,
  attemptNo: number,
  gone: Promise<'timeout'>,
  setCurrent: (a: UpstreamUpgradeAttempt) => void,
  clientGone: () => boolean,
): Promise<UpgradeOutcome | 'gone'> {
  if (fr.attemptFault) {
    const decision = decideFault(fr.attemptFault, ctx.rng, parseDuration);
    ctx.why.push(...decision.why.map((w) => `attempt ${attemptNo}: ${w}`));
    if (decision.delayMs > 0) {
      ctx.flags.add('DI');
      await Promise.race([sleep(decision.delayMs), gone]);
      if (clientGone()) return 'gone';
    }
    if (decision.abort) {
      ctx.flags.add('FI');
      const body = Buffer.from(decision.abort.body);
      const response = Object.assign(Readable.from([body]), {
        statusCode: decision.abort.status,
        headers: { 'content-type': 'text/plain', 'content-length': String(body.length), ...decision.abort.headers },
      }) as unknown as IncomingMessage;
      return { kind: 'response', response, serviceTimeMs: 0 };
    }
  }
  const headers: OutgoingHttpHeaders = { ...fr.headers, connection: 'upgrade', upgrade: ctx.upgrade!.protocol };
  // Istio's outbound and gateway virtual hosts count attempts (include_request_attempt_count)
  if (ctx.listener.kind !== 'inbound') headers['x-envoy-attempt-count'] = String(attemptNo);
  const a = new UpstreamUpgradeAttempt({
    host: endpoint.config.address,
    port: endpoint.config.port,
    connect: (options) => {
      endpoint.connections++;
      return fr.cluster.agent.createConnection(options);
    },
    method: fr.method,
    path: fr.path,
    headers,
    connectTimeoutMs: fr.cluster.config.connectTimeoutMs,
  }).start();
  setCurrent(a);
  const outcome = await Promise.race([a.outcome, gone]);
  if (outcome === 'timeout' || clientGone()) {
    a.abort();
    return 'gone';
  }
  if (outcome.kind === 'switched') a.handOver();
  return outcome;
}

/** the response head as the client gets it: the upstream's headers, the route's response header operations, Envoy's own */
function responseHeaders(ctx: RequestContext, fr: ForwardRequest, upstream: IncomingMessage, serviceTimeMs: number): HeaderMap {
  const headers: HeaderMap = { ...upstream.headers };
  for (const h of HOP_BY_HOP) delete headers[h];
  for (const ops of fr.responseHeaderOps) applyHeaderOps(headers, ops);
  headers['x-envoy-upstream-service-time'] = String(serviceTimeMs);
  headers['server'] = ctx.serverHeader();
  ctx.upstreamServiceTimeMs = serviceTimeMs;
  return headers;
}

/** The upstream did not switch (or a fault answered): its response goes to the client as any response, and the connection closes after it. */
function refused(ctx: RequestContext, fr: ForwardRequest, upstream: IncomingMessage, serviceTimeMs: number): Promise<void> {
  const headers = responseHeaders(ctx, fr, upstream, serviceTimeMs);
  ctx.status = upstream.statusCode ?? 502;
  ctx.responseStarted = true;
  ctx.stage = 'while the response body streamed';
  ctx.res.writeHead(ctx.status, headers as OutgoingHttpHeaders);
  upstream.on('data', (chunk: Buffer) => {
    ctx.bytesSent += chunk.length;
  });
  return new Promise<void>((resolve) => {
    const upstreamReset = (): void => {
      if (ctx.res.writableFinished) return;
      ctx.flags.add('UC');
      ctx.resetDownstream();
      resolve();
    };
    upstream.on('error', upstreamReset);
    upstream.on('aborted', upstreamReset);
    ctx.res.once('finish', () => resolve());
    ctx.res.once('close', () => {
      upstream.destroy();
      resolve();
    });
    upstream.pipe(ctx.res);
  });
}

/** The 101: its head to the client, the stream open (announced), then both ways until it closes. */
async function switched(ctx: RequestContext, fr: ForwardRequest, outcome: Extract<UpgradeOutcome, { kind: 'switched' }>, opts: UpgradeProxyOptions): Promise<void> {
  const up = ctx.upgrade!;
  const downstream = up.socket;
  const headers = responseHeaders(ctx, fr, outcome.response, outcome.serviceTimeMs);
  // Envoy's HCM adds `date` to a response without one
  headers['date'] ??= new Date().toUTCString();
  const upgradeTo = String(outcome.response.headers.upgrade ?? up.protocol);
  const lines = [`HTTP/1.1 101 ${outcome.response.statusMessage || 'Switching Protocols'}`, 'connection: upgrade', `upgrade: ${upgradeTo}`];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  }
  ctx.status = 101;
  ctx.responseStarted = true;
  up.switched = true;
  ctx.stage = 'while the upgraded stream was open';
  detachResponse(ctx.res as ServerResponse); // upgrades are HTTP/1.1 only
  downstream.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  up.announce({
    type: 'mesh:request:upgraded',
    time: Date.now(),
    reporter: ctx.listener.kind === 'inbound' ? 'destination' : 'source',
    proxy: ctx.proxy.id,
    listener: ctx.listener.kind,
    startTime: ctx.startTime,
    requestId: ctx.requestId,
    method: ctx.req.method ?? 'GET',
    path: ctx.path,
    authority: ctx.authority,
    upgrade: upgradeTo,
    upstreamCluster: ctx.upstreamCluster,
    endpoint: ctx.endpointId,
    source: ctx.source,
    destination: ctx.destination,
  });
  try {
    await stream(ctx, fr, outcome, opts);
  } catch (err) {
    // never leave a half-proxied stream behind
    downstream.destroy();
    outcome.socket.destroy();
    throw err;
  } finally {
    closeResponse(ctx.res as ServerResponse);
  }
}

/** the open stream, until both sides closed */
async function stream(ctx: RequestContext, fr: ForwardRequest, outcome: Extract<UpgradeOutcome, { kind: 'switched' }>, opts: UpgradeProxyOptions): Promise<void> {
  const up = ctx.upgrade!;
  const downstream = up.socket;
  const fault = fr.responseFault;
  if (fault?.reset) {
    // meshbox's reset fault: the head went out, then the connection is reset
    ctx.details = 'fault_filter_reset';
    ctx.why.push('reset fault: the upgraded stream is reset right after the 101');
    outcome.socket.destroy();
    resetConnection(downstream);
    await new Promise<void>((resolve) => (downstream.closed ? resolve() : downstream.once('close', () => resolve())));
  } else {
    const end = await runUpgradedStream({
      downstream,
      upstream: outcome.socket,
      downstreamHead: up.head,
      upstreamHead: outcome.head,
      idleTimeoutMs: opts.idleTimeoutMs,
      drainMs: opts.drainMs,
      throttleBps: fault?.slowBodyBps,
      received: (n) => (ctx.bytesReceived += n),
      sent: (n) => (ctx.bytesSent += n),
    });
    recordEnd(ctx, end, opts.idleTimeoutMs);
  }
}

/** how the stream ended, as Envoy's flags say it */
function recordEnd(ctx: RequestContext, end: StreamEnd, idleMs: number): void {
  if (end.by === 'proxy') {
    ctx.flags.add('SI');
    ctx.details = 'stream_idle_timeout';
    ctx.why.push(`stream idle: nothing moved either way for stream_idle_timeout (${idleMs} ms); both sides closed`);
    return;
  }
  if (end.by === 'upstream') {
    if (end.how === 'reset') {
      ctx.flags.add('UC');
      ctx.why.push(`the upstream reset the upgraded stream${end.reason ? ` (${end.reason})` : ''}; the client's side was closed`);
    } else {
      ctx.why.push("the upstream closed the upgraded stream; the client's side was closed after it");
    }
    return;
  }
  ctx.downstreamClosed = true;
  ctx.why.push(`the client ${end.how === 'reset' ? `reset${end.reason ? ` (${end.reason})` : ''}` : 'closed'} the upgraded stream; the upstream's side was closed after it`);
}
