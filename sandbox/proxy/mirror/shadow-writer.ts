/**
 * Request mirroring (VirtualService `mirror` / `mirrors[]`), as Envoy's router does it with its
 * request_mirror_policies and ShadowWriter:
 *
 * - each policy is sampled on its own (its percentage, per request); a sampled copy goes to the
 *   mirror cluster once the request has been read, alongside the real request;
 * - the copy carries the headers the router sends upstream (route header operations, trace and
 *   request id included) with the authority suffixed `-shadow` before any port
 *   (`backend:8080` -> `backend-shadow:8080`), and the buffered body;
 * - fire and forget: its answer is read and discarded, its failure (no cluster, no healthy
 *   endpoint, overflow, connect failure, reset, timeout) is dropped; the original request never
 *   waits for it and never sees it. It has no retries and is bounded by the route timeout.
 *
 * As in Istio (istio/istio#23496), the calling sidecar reports no request of its own for the copy
 * (Envoy sends it from its async client, outside the HTTP filters that log and count); the mirror
 * destination's inbound sidecar reports it like any other request, marked as a shadow
 * (RequestEvent.shadowOf), so the TUI can show it in the traffic view. The original's `why` says
 * which copies were sent.
 *
 * A request body over the buffer limit is not mirrored (Envoy: `retry_or_shadow_abandoned`): the
 * caller passes `body: undefined` then.
 */
import http, { type OutgoingHttpHeaders } from 'node:http';
import type { MirrorPolicyConfig } from '../../control/snapshot.js';
import type { RequestContext } from '../request-context.js';
import type { HeaderMap } from '../routing/header-ops.js';
import type { ClusterManager } from '../upstream/cluster.js';
import { classifyStatus } from '../upstream/outlier-detector.js';

/** internal header: the proxy that sent a mirrored copy (removed before the request reaches the app) */
export const SHADOW_HEADER = 'x-meshbox-shadow-of';

/** meshbox's own bound on a copy whose route has no timeout, so a mirror that hangs holds no socket forever */
export const SHADOW_MAX_MS = 60_000;

/** Envoy's shadow authority: `-shadow` appended to the host, before the port */
export function shadowAuthority(authority: string): string {
  const m = /^(\[[^\]]*\]|[^:]*)(:\d+)?$/.exec(authority);
  if (!m) return `${authority}-shadow`;
  return `${m[1]}-shadow${m[2] ?? ''}`;
}

export interface ShadowRequest {
  method: string;
  path: string;
  /** the headers the router sends upstream */
  headers: HeaderMap;
  /** the buffered request body; undefined when it was over the buffer limit (no copy) */
  body: Buffer | undefined;
  /** the route timeout (null: none) */
  timeoutMs: number | null;
}

/** Samples the route's mirror policies and sends the copies; returns at once. */
export function sendShadows(ctx: RequestContext, mirrors: readonly MirrorPolicyConfig[] | undefined, req: ShadowRequest, clusters: ClusterManager): void {
  if (!mirrors || mirrors.length === 0) return;
  for (const m of mirrors) {
    const share = m.percent >= 100 ? '' : ` (${m.percent}% of requests)`;
    if (m.percent < 100 && !ctx.rng.percent(m.percent)) {
      ctx.why.push(`mirror: no copy to ${m.clusterName} this time${share}`);
      continue;
    }
    if (req.body === undefined) {
      ctx.why.push(`mirror: no copy to ${m.clusterName}: the request body is over the buffer limit (retry_or_shadow_abandoned)`);
      continue;
    }
    const cluster = clusters.get(ctx.proxy.id, m.clusterKey);
    if (!cluster) {
      ctx.why.push(`mirror: no copy to ${m.clusterName}: the cluster does not exist (unknown host or subset)`);
      continue;
    }
    const endpoint = cluster.pick(ctx.rng);
    if (!endpoint) {
      ctx.why.push(`mirror: no copy to ${m.clusterName}: no healthy endpoint`);
      continue;
    }
    const authority = shadowAuthority(String(req.headers['host'] ?? ctx.authority));
    ctx.why.push(`mirror: copy sent to ${m.clusterName}${share} as ${authority}, endpoint ${endpoint.id}; its answer is discarded`);
    const breaker = cluster.breaker;
    const timeoutMs = req.timeoutMs ?? SHADOW_MAX_MS;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const headers: HeaderMap = { ...req.headers, host: authority, [SHADOW_HEADER]: ctx.proxy.id, 'content-length': String(req.body.length) };
    const body = req.body;
    void Promise.resolve(breaker.admit(deadline)).then((admission) => {
      if (admission !== 'ok') {
        clearTimeout(timer);
        return;
      }
      endpoint.active++;
      endpoint.requests++;
      let done = false;
      const finish = (status?: number): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        endpoint.active--;
        if (status !== undefined && status < 500) endpoint.success++;
        else endpoint.errors++;
        cluster.record(endpoint, status !== undefined ? classifyStatus(status) : 'local-failure');
        breaker.release();
      };
      const upstream = http.request({
        host: endpoint.config.address,
        port: endpoint.config.port,
        method: req.method,
        path: req.path,
        headers: headers as OutgoingHttpHeaders,
        agent: cluster.agent,
      });
      void deadline.then(() => {
        if (!done) upstream.destroy();
      });
      upstream.on('response', (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        res.on('end', () => finish(status));
        res.on('error', () => finish());
      });
      upstream.on('error', () => finish());
      upstream.on('close', () => finish());
      upstream.end(body);
    });
  }
}
