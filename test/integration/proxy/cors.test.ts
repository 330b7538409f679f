/**
 * VirtualService corsPolicy on real sockets, as Envoy's CORS filter answers: the sidecar (or the
 * gateway) answers a preflight from an allowed origin itself, adds the CORS headers to actual
 * responses, forwards or ignores preflights of other origins per `unmatchedPreflights`.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';

let h: Harness;
const client = 'client-v1-1';

const vs = (cors: string, extra = ''): string => `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http:
${extra}
    - corsPolicy:
${cors
  .trim()
  .split('\n')
  .map((l) => `        ${l}`)
  .join('\n')}
      route: [{ destination: { host: backend } }]
`;

const POLICY = `
allowOrigins:
  - exact: https://app.example.com
  - prefix: https://dev.
  - regex: "https://[a-z]+\\\\.corp\\\\.example"
allowMethods: [GET, POST, PATCH]
allowHeaders: [authorization, content-type]
exposeHeaders: [x-trace, x-instance]
maxAge: 24h
allowCredentials: true
`;

const preflight = (origin: string, extra: Record<string, string> = {}) => ({
  from: client,
  host: 'backend:8080',
  method: 'OPTIONS',
  path: '/items',
  headers: { origin, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'content-type', ...extra },
});

const cors = (headers: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith('access-control-')));

beforeAll(async () => {
  h = await startHarness([
    { name: 'client', versions: { v1: 1 } },
    { name: 'backend', versions: { v1: 1 } },
  ]);
});
afterAll(async () => h?.close());
beforeEach(async () => {
  for (const a of h.apps.values()) {
    a.fail = undefined;
    a.requests.length = 0;
  }
  await h.rules('');
});

describe('corsPolicy (envoy.filters.http.cors)', () => {
  it('answers a preflight from an allowed origin itself, with Envoy headers, without reaching the app', async () => {
    await h.rules(vs(POLICY));
    const r = await h.request({ ...preflight('https://app.example.com'), headers: { ...preflight('https://app.example.com').headers, 'x-request-id': 'pf-1' } });
    expect(r.status).toBe(200);
    expect(r.body).toBe('');
    expect(r.headers['content-length']).toBe('0');
    expect(r.headers['content-type']).toBeUndefined();
    expect(r.headers.server).toBe('envoy');
    expect(cors(r.headers)).toEqual({
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET,POST,PATCH',
      'access-control-allow-headers': 'authorization,content-type',
      'access-control-expose-headers': 'x-trace,x-instance',
      'access-control-max-age': '86400',
    });
    expect(r.headers['x-envoy-upstream-service-time']).toBeUndefined();
    expect(h.apps.get('backend-v1-1')!.requests).toHaveLength(0);
    const [e] = await h.eventsFor('pf-1', 1);
    expect(e).toMatchObject({ status: 200, responseFlags: '-', responseCodeDetails: 'cors_response', reporter: 'source' });
    expect(e!.destination.service).toBe('backend.default.svc.cluster.local');
    expect(e!.why.join('\n')).toMatch(/cors: preflight, origin https:\/\/app\.example\.com allowed \(allowOrigins exact "https:\/\/app\.example\.com"\): answered by the proxy/);
  });

  it('matches origins by prefix and by full-string RE2 regex', async () => {
    await h.rules(vs(POLICY));
    expect((await h.request(preflight('https://dev.example.org'))).headers['access-control-allow-origin']).toBe('https://dev.example.org');
    expect((await h.request(preflight('https://team.corp.example'))).headers['access-control-allow-origin']).toBe('https://team.corp.example');
    // the regex must match the whole origin
    const partial = await h.request(preflight('https://team.corp.example.evil'));
    expect(partial.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('adds the CORS headers to actual responses of an allowed origin, and none for other origins or no Origin', async () => {
    await h.rules(vs(POLICY));
    const ok = await h.request({ from: client, host: 'backend:8080', path: '/items', headers: { origin: 'https://app.example.com' } });
    expect(ok.status).toBe(200);
    expect(ok.json()['instance']).toBe('backend-v1-1');
    expect(cors(ok.headers)).toEqual({
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'x-trace,x-instance',
    });
    const other = await h.request({ from: client, host: 'backend:8080', path: '/items', headers: { origin: 'https://evil.example' } });
    expect(other.status).toBe(200);
    expect(cors(other.headers)).toEqual({});
    const none = await h.request({ from: client, host: 'backend:8080', path: '/items' });
    expect(cors(none.headers)).toEqual({});
    // an OPTIONS without Access-Control-Request-Method is not a preflight: it reaches the app
    const plain = await h.request({ from: client, host: 'backend:8080', method: 'OPTIONS', path: '/items', headers: { origin: 'https://app.example.com' } });
    expect(plain.json()['method']).toBe('OPTIONS');
    expect(plain.headers['access-control-allow-origin']).toBe('https://app.example.com');
  });

  it('adds them to the router local replies too (503 from the upstream path), but not to a fault abort', async () => {
    await h.rules(vs(POLICY));
    h.apps.get('backend-v1-1')!.fail = 503;
    const r = await h.request({ from: client, host: 'backend:8080', headers: { origin: 'https://app.example.com' } });
    expect(r.status).toBe(503);
    expect(r.headers['access-control-allow-origin']).toBe('https://app.example.com');
    h.apps.get('backend-v1-1')!.fail = undefined;
    await h.rules(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http:
    - fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }
      corsPolicy: { allowOrigins: [{ exact: "https://app.example.com" }] }
      route: [{ destination: { host: backend } }]
`);
    const aborted = await h.request({ from: client, host: 'backend:8080', headers: { origin: 'https://app.example.com' } });
    expect(aborted.status).toBe(418);
    expect(aborted.body).toBe('fault filter abort');
    expect(cors(aborted.headers)).toEqual({});
  });

  it('forwards a preflight from an unmatched origin to the app (unmatchedPreflights FORWARD, the default)', async () => {
    await h.rules(vs(POLICY));
    const r = await h.request({ ...preflight('https://evil.example'), headers: { ...preflight('https://evil.example').headers, 'x-request-id': 'pf-fwd' } });
    expect(r.status).toBe(200);
    expect(r.json()['method']).toBe('OPTIONS');
    expect(cors(r.headers)).toEqual({});
    const [e] = await h.eventsFor('pf-fwd', 2).then((es) => es.filter((x) => x.reporter === 'source'));
    expect(e!.responseCodeDetails).toBe('via_upstream');
    expect(e!.why.join('\n')).toMatch(/cors: preflight, origin https:\/\/evil\.example not in allowOrigins: forwarded to the app \(unmatchedPreflights FORWARD\)/);
  });

  it('answers it without access-control-allow-origin with unmatchedPreflights IGNORE', async () => {
    await h.rules(vs(`${POLICY}unmatchedPreflights: IGNORE`));
    const r = await h.request(preflight('https://evil.example'));
    expect(r.status).toBe(200);
    expect(r.body).toBe('');
    expect(cors(r.headers)).toEqual({
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET,POST,PATCH',
      'access-control-allow-headers': 'authorization,content-type',
      'access-control-max-age': '86400',
    });
    expect(h.apps.get('backend-v1-1')!.requests).toHaveLength(0);
  });

  it('echoes the requested method and headers for `*`, and any origin for an exact "*" (the deprecated allowOrigin too)', async () => {
    await h.rules(vs(`allowOrigin: ["*"]\nallowMethods: ["*"]\nallowHeaders: ["*"]\nmaxAge: 1500ms`));
    const r = await h.request(preflight('https://anyone.example', { 'access-control-request-headers': 'x-a, x-b' }));
    expect(cors(r.headers)).toEqual({
      'access-control-allow-origin': 'https://anyone.example',
      'access-control-allow-methods': 'PATCH',
      'access-control-allow-headers': 'x-a, x-b',
      'access-control-max-age': '1',
    });
  });

  it('applies on routes with a corsPolicy only (first matching route wins)', async () => {
    await h.rules(vs(POLICY, `    - match: [{ uri: { prefix: /open } }]\n      route: [{ destination: { host: backend } }]`));
    const open = await h.request({ ...preflight('https://app.example.com'), path: '/open' });
    expect(open.json()['method']).toBe('OPTIONS');
    expect(cors(open.headers)).toEqual({});
  });

  it('works the same at the ingress gateway (server: istio-envoy)', async () => {
    await h.rules(`
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
  http:
    - corsPolicy: { allowOrigins: [{ exact: "https://app.example.com" }], allowMethods: [GET] }
      route: [{ destination: { host: backend } }]
`);
    const pf = await h.request({ host: 'web.example.com', method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' } });
    expect(pf.status).toBe(200);
    expect(pf.headers.server).toBe('istio-envoy');
    expect(cors(pf.headers)).toEqual({ 'access-control-allow-origin': 'https://app.example.com', 'access-control-allow-methods': 'GET' });
    const get = await h.request({ host: 'web.example.com', headers: { origin: 'https://app.example.com' } });
    expect(get.json()['instance']).toBe('backend-v1-1');
    expect(cors(get.headers)).toEqual({ 'access-control-allow-origin': 'https://app.example.com' });
  });
});
