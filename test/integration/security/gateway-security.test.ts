/**
 * RequestAuthentication and AuthorizationPolicy at the ingress gateway, on real sockets: policies
 * in istio-system whose selector matches the gateway's labels (`istio: ingressgateway`) run in
 * the gateway's chain (jwt_authn -> rbac -> fault -> cors -> router), before the router, with
 * Envoy's replies; `remoteIpBlocks` reads the client address from X-Forwarded-For only through
 * `gatewayTopology.numTrustedProxies`, `ipBlocks` the connection's peer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';
import { TokenIssuer } from '../../../sandbox/security/token-issuer.js';
import { GATEWAY_ID } from '../../../sandbox/control/compiler.js';

const ROUTES = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: [front.example.com] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: front }
spec:
  hosts: [front.example.com]
  gateways: [gw]
  http: [{ route: [{ destination: { host: backend } }] }]
`;

const atGateway = (kind: string, name: string, spec: string): string => `
apiVersion: security.istio.io/v1
kind: ${kind}
metadata: { name: ${name}, namespace: istio-system }
spec:
  selector: { matchLabels: { istio: ingressgateway } }
${spec}
`;

let h: Harness;
let issuer: TokenIssuer;

const gatewayEvent = async (h: Harness, id: string) => (await h.eventsFor(id, 1)).find((e) => e.proxy === GATEWAY_ID)!;
const appSaw = (h: Harness, id: string) => h.apps.get('backend-v1-1')!.requestsWithId(id);

beforeAll(async () => {
  h = await startHarness([
    { name: 'client', versions: { v1: 1 } },
    { name: 'backend', versions: { v1: 1 } },
  ]);
  issuer = await TokenIssuer.generate();
});
afterAll(async () => h?.close());

describe('JWT at the ingress gateway', () => {
  const policies = (): string =>
    `${ROUTES}---${atGateway('RequestAuthentication', 'ingress-jwt', `  jwtRules:\n    - issuer: meshbox.local\n      jwks: '${JSON.stringify(issuer.jwks())}'`)}---${atGateway(
      'AuthorizationPolicy',
      'require-jwt',
      '  rules:\n    - from: [{ source: { requestPrincipals: ["*"] } }]',
    )}`;

  it('no token 403 RBAC: access denied, an expired token 401 Jwt is expired, a minted token 200 without the token at the app', async () => {
    await h.rules(policies());
    const none = await h.request({ host: 'front.example.com', path: '/p', headers: { 'x-request-id': 'gw-none' } });
    expect([none.status, none.body]).toEqual([403, 'RBAC: access denied']);
    expect(none.headers['content-type']).toBe('text/plain');
    expect(none.headers['server']).toBe('istio-envoy');
    const noneEvent = await gatewayEvent(h, 'gw-none');
    expect(noneEvent).toMatchObject({ reporter: 'source', listener: 'gateway', status: 403, responseCodeDetails: 'rbac_access_denied_matched_policy[none]' });
    expect(noneEvent.why.join('\n')).toContain('jwt_authn: no token');
    expect(noneEvent.why.join('\n')).toMatch(/rbac: ALLOW ns\[istio-system\]-policy\[require-jwt\]-rule\[0\] .* does not match/);
    expect(appSaw(h, 'gw-none')).toEqual([]);

    const expired = await issuer.mint({ sub: 'alice', expiresInS: -3600 });
    // a client's x-forwarded-proto is not trusted at the edge (no trusted proxies): the realm is http
    const r401 = await h.request({ host: 'front.example.com', path: '/p?q=1', headers: { authorization: `Bearer ${expired}`, 'x-forwarded-proto': 'https', 'x-request-id': 'gw-expired' } });
    expect([r401.status, r401.body]).toEqual([401, 'Jwt is expired']);
    expect(r401.headers['www-authenticate']).toBe('Bearer realm="http://front.example.com/p?q=1", error="invalid_token"');
    expect((await gatewayEvent(h, 'gw-expired')).responseCodeDetails).toBe('jwt_authn_access_denied{Jwt_is_expired}');
    expect(appSaw(h, 'gw-expired')).toEqual([]);

    const good = await issuer.mint({ sub: 'alice' });
    const ok = await h.request({ host: 'front.example.com', path: '/p', headers: { authorization: `Bearer ${good}`, 'x-request-id': 'gw-ok' } });
    expect(ok.status).toBe(200);
    const seen = appSaw(h, 'gw-ok');
    expect(seen).toHaveLength(1);
    // forwardOriginalToken defaults to false: removed at the gateway, so neither the sidecar nor the app sees it
    expect(seen[0]!.headers['authorization']).toBeUndefined();
    const why = (await gatewayEvent(h, 'gw-ok')).why.join('\n');
    expect(why).toContain('jwt_authn: request principal meshbox.local/alice');
    expect(why).toMatch(/rbac: allowed by ALLOW ns\[istio-system\]-policy\[require-jwt\]-rule\[0\].*request principal "meshbox.local\/alice" matches "\*"/);
  });

  it('the filters run before the router: an unrouted host gets the 401/403 first, a valid token its 404 NR', async () => {
    await h.rules(policies());
    const bad = await h.request({ host: 'unknown.example.com', headers: { authorization: 'Bearer not-a-jwt', 'x-request-id': 'gw-nr-bad' } });
    expect([bad.status, bad.body]).toEqual([401, 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections']);
    const none = await h.request({ host: 'unknown.example.com', headers: { 'x-request-id': 'gw-nr-none' } });
    expect([none.status, none.body]).toEqual([403, 'RBAC: access denied']);
    const good = await h.request({ host: 'unknown.example.com', headers: { authorization: `Bearer ${await issuer.mint({ sub: 'alice' })}`, 'x-request-id': 'gw-nr-ok' } });
    expect(good.status).toBe(404);
    expect((await gatewayEvent(h, 'gw-nr-ok')).responseFlags).toBe('NR');
  });

  it('a gateway policy is not a sidecar policy: mesh traffic that skips the gateway needs no token', async () => {
    await h.rules(policies());
    const r = await h.request({ from: 'client-v1-1', host: 'backend', path: '/direct' });
    expect(r.status).toBe(200);
    expect(h.controlPlane.current!.proxies.filter((p) => p.security).map((p) => p.id)).toEqual([GATEWAY_ID]);
  });
});

describe('AuthorizationPolicy at the ingress gateway', () => {
  it('DENY by path answers at the gateway with the matched policy; other paths pass', async () => {
    await h.rules(`${ROUTES}---${atGateway('AuthorizationPolicy', 'deny-admin', '  action: DENY\n  rules:\n    - to: [{ operation: { paths: ["/admin/*"] } }]')}`);
    const r = await h.request({ host: 'front.example.com', path: '/admin/users', headers: { 'x-request-id': 'gw-deny' } });
    expect([r.status, r.body]).toEqual([403, 'RBAC: access denied']);
    expect((await gatewayEvent(h, 'gw-deny')).responseCodeDetails).toBe('rbac_access_denied_matched_policy[ns[istio-system]-policy[deny-admin]-rule[0]]');
    expect(appSaw(h, 'gw-deny')).toEqual([]);
    expect((await h.request({ host: 'front.example.com', path: '/public' })).status).toBe(200);
    // the denial is in the gateway's metrics (reporter source, istio-ingressgateway)
    expect(await h.metrics.text()).toMatch(/istio_requests_total\{[^}]*reporter="source"[^}]*source_workload="istio-ingressgateway"[^}]*response_code="403"/);
  });

  it('a mesh-wide policy (istio-system, no selector) applies at the gateway as well as at the sidecars', async () => {
    await h.rules(`${ROUTES}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-secret, namespace: istio-system }
spec:
  action: DENY
  rules:
    - to: [{ operation: { paths: ["/secret"] } }]
`);
    const gw = await h.request({ host: 'front.example.com', path: '/secret', headers: { 'x-request-id': 'gw-mesh-wide' } });
    expect(gw.status).toBe(403);
    expect((await gatewayEvent(h, 'gw-mesh-wide')).responseCodeDetails).toBe('rbac_access_denied_matched_policy[ns[istio-system]-policy[deny-secret]-rule[0]]');
    expect((await h.request({ from: 'client-v1-1', host: 'backend', path: '/secret' })).status).toBe(403);
  });

  it('without trusted proxies remoteIpBlocks sees the peer, not the X-Forwarded-For a client sends', async () => {
    await h.rules(`${ROUTES}---${atGateway('AuthorizationPolicy', 'from-partner', '  rules:\n    - from: [{ source: { remoteIpBlocks: ["203.0.113.0/24"] } }]')}`);
    const forged = await h.request({ host: 'front.example.com', headers: { 'x-forwarded-for': '203.0.113.7', 'x-request-id': 'gw-forged' } });
    expect(forged.status).toBe(403);
    expect((await gatewayEvent(h, 'gw-forged')).why.join('\n')).toContain('remote ip "127.0.0.1" does not match ["203.0.113.0/24"]');
    await h.rules(`${ROUTES}---${atGateway('AuthorizationPolicy', 'from-loopback', '  rules:\n    - from: [{ source: { remoteIpBlocks: ["127.0.0.0/8"] } }]')}`);
    expect((await h.request({ host: 'front.example.com', headers: { 'x-forwarded-for': '203.0.113.7' } })).status).toBe(200);
  });
});

describe('remoteIpBlocks with gatewayTopology.numTrustedProxies: 1', () => {
  let t: Harness;
  beforeAll(async () => {
    t = await startHarness([{ name: 'backend', versions: { v1: 1 } }], 1, { ingress: { gatewayTopology: { numTrustedProxies: 1 } } });
  });
  afterAll(async () => t?.close());

  it('the client address is the last X-Forwarded-For entry the trusted proxy wrote; ipBlocks stays the peer', async () => {
    await t.rules(`${ROUTES}---${atGateway('AuthorizationPolicy', 'from-partner', '  rules:\n    - from: [{ source: { remoteIpBlocks: ["203.0.113.0/24"] } }]')}`);
    const ok = await t.request({ host: 'front.example.com', headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-request-id': 'xff-ok' } });
    expect(ok.status).toBe(200);
    const seen = t.apps.get('backend-v1-1')!.requestsWithId('xff-ok')[0]!.headers;
    // Envoy appends the peer, names the trusted client in x-envoy-external-address, and keeps a trusted hop's x-forwarded-proto
    expect(seen['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(seen['x-envoy-external-address']).toBe('203.0.113.7');
    expect(seen['x-envoy-internal']).toBeUndefined();
    expect(seen['x-forwarded-proto']).toBe('https');

    // the entry left of the one the trusted proxy wrote is the client's own claim: not trusted
    expect((await t.request({ host: 'front.example.com', headers: { 'x-forwarded-for': '203.0.113.7, 198.51.100.1' } })).status).toBe(403);
    expect((await t.request({ host: 'front.example.com', headers: { 'x-forwarded-for': '198.51.100.1' } })).status).toBe(403);
    // no X-Forwarded-For: the peer (127.0.0.1) is the client
    const direct = await t.request({ host: 'front.example.com', headers: { 'x-request-id': 'xff-none' } });
    expect(direct.status).toBe(403);
    expect((await t.eventsFor('xff-none', 1))[0]!.responseCodeDetails).toBe('rbac_access_denied_matched_policy[none]');

    await t.rules(`${ROUTES}---${atGateway('AuthorizationPolicy', 'from-lb', '  rules:\n    - from: [{ source: { ipBlocks: ["127.0.0.1"] } }]')}`);
    expect((await t.request({ host: 'front.example.com', headers: { 'x-forwarded-for': '198.51.100.1' } })).status).toBe(200);
    await t.rules(`${ROUTES}---${atGateway('AuthorizationPolicy', 'from-lb', '  rules:\n    - from: [{ source: { ipBlocks: ["203.0.113.0/24"] } }]')}`);
    expect((await t.request({ host: 'front.example.com', headers: { 'x-forwarded-for': '203.0.113.7' } })).status).toBe(403);
  });

  it('when conditions read remote.ip the same way', async () => {
    await t.rules(`${ROUTES}---${atGateway('AuthorizationPolicy', 'deny-bad-net', '  action: DENY\n  rules:\n    - when: [{ key: remote.ip, values: ["198.51.100.0/24"] }]')}`);
    expect((await t.request({ host: 'front.example.com', headers: { 'x-forwarded-for': '198.51.100.9' } })).status).toBe(403);
    expect((await t.request({ host: 'front.example.com', headers: { 'x-forwarded-for': '203.0.113.7' } })).status).toBe(200);
  });
});
