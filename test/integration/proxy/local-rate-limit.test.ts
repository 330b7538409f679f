/**
 * Istio's documented local rate limit ("Enabling Rate Limits using Envoy", local rate limit
 * part) on real sockets: the EnvoyFilter that inserts envoy.filters.http.local_ratelimit per
 * workload, and the variant that sets the bucket per route with typed_per_filter_config; 429
 * `local_rate_limited`, flag RL, details local_rate_limited, `x-local-rate-limit: true`.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';
import { parseExposition } from '../../helpers/promql.js';

let h: Harness;
const client = 'client-v1-1';

const TYPED = (value: string, indent: string): string =>
  `"@type": type.googleapis.com/udpa.type.v1.TypedStruct
${indent}type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
${indent}value:
${value
  .trim()
  .split('\n')
  .map((l) => `${indent}  ${l}`)
  .join('\n')}`;

const BUCKET = (tokens: number, extra = '') => `
stat_prefix: http_local_rate_limiter
token_bucket:
  max_tokens: ${tokens}
  tokens_per_fill: ${tokens}
  fill_interval: 60s
filter_enabled:
  runtime_key: local_rate_limit_enabled
  default_value:
    numerator: 100
    denominator: HUNDRED
${extra}`;

const ENFORCED = `filter_enforced:
  runtime_key: local_rate_limit_enforced
  default_value:
    numerator: 100
    denominator: HUNDRED
response_headers_to_add:
  - append: false
    header:
      key: x-local-rate-limit
      value: 'true'`;

/** the task's first EnvoyFilter: every request to the selected workload */
const perWorkload = (app: string, context: string, tokens: number, extra = ENFORCED) => `
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: filter-local-ratelimit-svc
  namespace: istio-system
spec:
  workloadSelector:
    labels:
      app: ${app}
  configPatches:
    - applyTo: HTTP_FILTER
      match:
        context: ${context}
        listener:
          filterChain:
            filter:
              name: "envoy.filters.network.http_connection_manager"
      patch:
        operation: INSERT_BEFORE
        value:
          name: envoy.filters.http.local_ratelimit
          typed_config:
            ${TYPED(BUCKET(tokens, extra), '            ')}
`;

/** the task's second EnvoyFilter: the filter without a bucket, the bucket per route */
const perRoute = (app: string, context: string, vhost: string, tokens: number, label = 'app') => `
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: filter-local-ratelimit-route
  namespace: istio-system
spec:
  workloadSelector:
    labels:
      ${label}: ${app}
  configPatches:
    - applyTo: HTTP_FILTER
      match:
        context: ${context}
        listener:
          filterChain:
            filter:
              name: "envoy.filters.network.http_connection_manager"
      patch:
        operation: INSERT_BEFORE
        value:
          name: envoy.filters.http.local_ratelimit
          typed_config:
            ${TYPED('stat_prefix: http_local_rate_limiter', '            ')}
    - applyTo: HTTP_ROUTE
      match:
        context: ${context}
        routeConfiguration:
          vhost:
            name: "${vhost}"
            route:
              action: ANY
      patch:
        operation: MERGE
        value:
          typed_per_filter_config:
            envoy.filters.http.local_ratelimit:
              ${TYPED(BUCKET(tokens, ENFORCED), '              ')}
`;

async function statuses(n: number, o: { from?: string; host: string; path?: string }): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await h.request({ ...o })).status);
  return out;
}

beforeAll(async () => {
  h = await startHarness([
    { name: 'client', versions: { v1: 1 } },
    { name: 'backend', versions: { v1: 1 } },
    { name: 'other', versions: { v1: 2 } },
  ], 11);
});
afterAll(async () => h?.close());
beforeEach(async () => {
  await h.rules('');
});

describe('local rate limit (EnvoyFilter envoy.filters.http.local_ratelimit)', () => {
  it('per workload, inbound: 4 requests a minute pass, the 5th gets Envoy\'s 429 at the callee\'s sidecar', async () => {
    await h.rules(perWorkload('backend', 'SIDECAR_INBOUND', 4));
    expect(await statuses(4, { from: client, host: 'backend:8080' })).toEqual([200, 200, 200, 200]);
    const r = await h.request({ from: client, host: 'backend:8080', headers: { 'x-request-id': 'rl-1' } });
    expect(r.status).toBe(429);
    expect(r.body).toBe('local_rate_limited');
    expect(r.headers['content-type']).toBe('text/plain');
    expect(r.headers['x-local-rate-limit']).toBe('true');
    const events = await h.eventsFor('rl-1', 2);
    const dest = events.find((e) => e.reporter === 'destination')!;
    expect(dest).toMatchObject({ status: 429, responseFlags: 'RL', responseCodeDetails: 'local_rate_limited', proxy: 'backend-v1-1' });
    expect(dest.why.join('\n')).toMatch(/local rate limit: no token left \(4 tokens, 4 per 60000ms; next fill in \d+ms\): 429 local_rate_limited; EnvoyFilter istio-system\/filter-local-ratelimit-svc spec\.configPatches\[0\] \(inline\.yaml:\d+:\d+\)/);
    const src = events.find((e) => e.reporter === 'source')!;
    expect(src).toMatchObject({ status: 429, responseFlags: '-', responseCodeDetails: 'via_upstream' });
    // other workloads are not selected
    expect(await statuses(6, { from: client, host: 'other:8080' })).toEqual([200, 200, 200, 200, 200, 200]);
    const samples = parseExposition(await h.metrics.text()).filter(
      (s) => s.name === 'istio_requests_total' && s.labels['reporter'] === 'destination' && s.labels['response_code'] === '429',
    );
    expect(samples.map((s) => [s.labels['response_flags'], s.labels['destination_workload'], s.value])).toEqual([['RL', 'backend-v1', 1]]);
  });

  it('the bucket is per proxy (each instance its own) and survives an unrelated rules reload', async () => {
    await h.rules(perWorkload('other', 'SIDECAR_INBOUND', 3));
    const got = await statuses(20, { from: client, host: 'other:8080' });
    expect(got.filter((s) => s === 200)).toHaveLength(6);
    expect(got.filter((s) => s === 429)).toHaveLength(14);
    await h.rules(`${perWorkload('other', 'SIDECAR_INBOUND', 3)}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: client }
spec: { host: client }
`);
    expect(await statuses(3, { from: client, host: 'other:8080' })).toEqual([429, 429, 429]);
  });

  it('not enforced (no filter_enforced): over-limit requests pass, with request_headers_to_add_when_not_enforced', async () => {
    await h.rules(
      perWorkload(
        'backend',
        'SIDECAR_INBOUND',
        1,
        `request_headers_to_add_when_not_enforced:
  - append_action: OVERWRITE_IF_EXISTS_OR_ADD
    header: { key: x-local-ratelimited, value: 'true' }`,
      ),
    );
    const first = await h.request({ from: client, host: 'backend:8080' });
    expect(first.json()['headers']).not.toHaveProperty('x-local-ratelimited');
    const second = await h.request({ from: client, host: 'backend:8080', headers: { 'x-request-id': 'rl-shadow' } });
    expect(second.status).toBe(200);
    expect((second.json()['headers'] as Record<string, string>)['x-local-ratelimited']).toBe('true');
    const dest = (await h.eventsFor('rl-shadow', 2)).find((e) => e.reporter === 'destination')!;
    expect(dest.responseFlags).toBe('-');
    expect(dest.why.join('\n')).toMatch(/over the limit .* but not enforced/);
  });

  it('per route: the filter has no bucket, the route of virtual host inbound|http|<port> has one', async () => {
    await h.rules(perRoute('backend', 'SIDECAR_INBOUND', 'inbound|http|8080', 2));
    expect(await statuses(3, { from: client, host: 'backend:8080' })).toEqual([200, 200, 429]);
    await h.rules(perRoute('backend', 'SIDECAR_INBOUND', 'inbound|http|9999', 2));
    expect(await statuses(4, { from: client, host: 'backend:8080' })).toEqual([200, 200, 200, 200]);
  });

  it('outbound (SIDECAR_OUTBOUND): the caller\'s own sidecar limits its calls; per route of one destination only', async () => {
    await h.rules(perWorkload('client', 'SIDECAR_OUTBOUND', 2));
    const r = await statuses(3, { from: client, host: 'backend:8080' });
    expect(r).toEqual([200, 200, 429]);
    const limited = await h.request({ from: client, host: 'other:8080', headers: { 'x-request-id': 'rl-out' } });
    expect(limited.status).toBe(429);
    const [e] = await h.eventsFor('rl-out', 1);
    expect(e).toMatchObject({ reporter: 'source', responseFlags: 'RL', responseCodeDetails: 'local_rate_limited', attempts: 0 });

    await h.rules(perRoute('client', 'SIDECAR_OUTBOUND', 'backend.default.svc.cluster.local:8080', 1));
    expect(await statuses(2, { from: client, host: 'backend:8080' })).toEqual([200, 429]);
    expect(await statuses(3, { from: client, host: 'other:8080' })).toEqual([200, 200, 200]);
  });

  it('at the gateway (context GATEWAY, per route of the gateway virtual host)', async () => {
    await h.rules(`${perRoute('ingressgateway', 'GATEWAY', 'web.example.com:80', 1, 'istio')}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: [web.example.com] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web }
spec:
  hosts: [web.example.com]
  gateways: [gw]
  http: [{ route: [{ destination: { host: backend } }] }]
`);
    expect(await statuses(2, { host: 'web.example.com' })).toEqual([200, 429]);
    const r = await h.request({ host: 'web.example.com' });
    expect(r.headers.server).toBe('istio-envoy');
    expect(r.headers['x-local-rate-limit']).toBe('true');
  });
});
