/**
 * RequestAuthentication and AuthorizationPolicy on real sockets: a client sidecar calls the
 * backend's inbound sidecar, whose jwt_authn and rbac filters answer with Envoy's replies.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';
import { TokenIssuer } from '../../../sandbox/security/token-issuer.js';
import { detailLines } from '../../../cli/tui/RequestDetail.js';

const ROUTES = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: backend }
spec:
  host: backend
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http:
    - match: [{ headers: { x-version: { exact: v1 } } }]
      route: [{ destination: { host: backend, subset: v1 } }]
    - route: [{ destination: { host: backend, subset: v2 } }]
`;

const ALLOW_V1_ONLY = `
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: allow-v1-only, namespace: default }
spec:
  selector: { matchLabels: { app: backend, version: v2 } }
  action: ALLOW
  rules:
    - to: [{ operation: { methods: [POST] } }]
`;

let h: Harness;
let issuer: TokenIssuer;
let other: TokenIssuer;
const client = 'client-v1-1';

function requestAuthn(jwksField: string, extra = ''): string {
  return `
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: default }
spec:
  selector: { matchLabels: { app: backend } }
  jwtRules:
    - issuer: meshbox.local
      ${jwksField}
${extra}
`;
}

const REQUIRE_PRINCIPAL = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: require-jwt, namespace: default }
spec:
  selector: { matchLabels: { app: backend } }
  action: ALLOW
  rules:
    - from: [{ source: { requestPrincipals: ["*"] } }]
`;

const inline = (): string => `jwks: '${JSON.stringify(issuer.jwks())}'`;

beforeAll(async () => {
  h = await startHarness([
    { name: 'client', versions: { v1: 1 } },
    { name: 'backend', versions: { v1: 1, v2: 1 } },
  ]);
  issuer = await TokenIssuer.generate();
  other = await TokenIssuer.generate();
});
afterAll(async () => h?.close());
beforeEach(async () => {
  await h.rules(ROUTES);
});

async function destinationEvent(requestId: string) {
  const events = await h.eventsFor(requestId, 2);
  return events.find((e) => e.reporter === 'destination')!;
}

describe('AuthorizationPolicy', () => {
  it("the sample's allow-v1-only: GET to v2 gets 403 RBAC: access denied, POST passes, v1 is unaffected, removing it restores", async () => {
    await h.rules(`${ROUTES}---${ALLOW_V1_ONLY}`);
    const denied = await h.request({ from: client, host: 'backend:8080', path: '/callme/ping', headers: { 'x-request-id': 'authz-get-v2' } });
    expect(denied.status).toBe(403);
    expect(denied.body).toBe('RBAC: access denied');
    expect(denied.headers['content-type']).toBe('text/plain');
    const ev = await destinationEvent('authz-get-v2');
    expect(ev.responseCodeDetails).toBe('rbac_access_denied_matched_policy[none]');
    expect(ev.why.join('\n')).toMatch(/rbac: ALLOW ns\[default\]-policy\[allow-v1-only\]-rule\[0\] .* does not match: method "GET" does not match \["POST"\]/);
    expect(h.apps.get('backend-v2-1')!.requests.some((r) => r.url === '/callme/ping' && r.method === 'GET')).toBe(false);

    const post = await h.request({ from: client, host: 'backend:8080', path: '/callme/ping', method: 'POST', body: 'x' });
    expect(post.status).toBe(200);
    expect(post.json()['instance']).toBe('backend-v2-1');
    const v1 = await h.request({ from: client, host: 'backend:8080', path: '/callme/ping', headers: { 'x-version': 'v1' } });
    expect(v1.status).toBe(200);

    await h.rules(ROUTES);
    expect((await h.request({ from: client, host: 'backend:8080', path: '/callme/ping' })).status).toBe(200);
  });

  it('DENY on a path wins over ALLOW, with the matched policy in the details; spec: {} denies all; rules: [{}] allows all', async () => {
    await h.rules(`${ROUTES}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: default }
spec:
  selector: { matchLabels: { app: backend } }
  action: DENY
  rules:
    - to: [{ operation: { paths: ["/admin/{**}", "/x/{*}/secret"] } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-all, namespace: default }
spec:
  selector: { matchLabels: { app: backend } }
  rules: [{}]
`);
    const r = await h.request({ from: client, host: 'backend:8080', path: '/admin/users?x=1', headers: { 'x-request-id': 'deny-admin' } });
    expect(r.status).toBe(403);
    expect(r.body).toBe('RBAC: access denied');
    expect((await destinationEvent('deny-admin')).responseCodeDetails).toBe('rbac_access_denied_matched_policy[ns[default]-policy[deny-admin]-rule[0]]');
    expect((await h.request({ from: client, host: 'backend:8080', path: '/x/1/secret' })).status).toBe(403);
    expect((await h.request({ from: client, host: 'backend:8080', path: '/x/1/2/secret' })).status).toBe(200);
    expect((await h.request({ from: client, host: 'backend:8080', path: '/admin' })).status).toBe(200);

    await h.rules(`${ROUTES}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-all, namespace: default }
spec: {}
`);
    const all = await h.request({ from: client, host: 'backend:8080', path: '/', headers: { 'x-request-id': 'deny-all' } });
    expect(all.status).toBe(403);
    expect((await destinationEvent('deny-all')).responseCodeDetails).toBe('rbac_access_denied_matched_policy[none]');
    // the denial shows in the metrics with the destination reporter
    const text = await h.metrics.text();
    expect(text).toMatch(/istio_requests_total\{[^}]*reporter="destination"[^}]*response_code="403"/);
  });

  it('when conditions on request headers; AUDIT never changes the decision', async () => {
    await h.rules(`${ROUTES}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: beta-only, namespace: default }
spec:
  selector: { matchLabels: { app: backend } }
  rules:
    - when: [{ key: "request.headers[x-group]", values: ["beta-*"] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: audit-everything, namespace: default }
spec:
  action: AUDIT
  rules: [{}]
`);
    expect((await h.request({ from: client, host: 'backend:8080', headers: { 'x-group': 'beta-testers' } })).status).toBe(200);
    const r = await h.request({ from: client, host: 'backend:8080', headers: { 'x-group': 'alpha', 'x-request-id': 'audit-1' } });
    expect(r.status).toBe(403);
    expect((await destinationEvent('audit-1')).why.join('\n')).toContain('AUDIT ns[default]-policy[audit-everything]-rule[0] matched');
  });
});

describe('RequestAuthentication', () => {
  it('requestPrincipals ["*"]: no token 403, expired token 401 Jwt is expired, a minted token 200 with the principal in the request detail', async () => {
    await h.rules(`${ROUTES}---${requestAuthn(inline())}---${REQUIRE_PRINCIPAL}`);
    const none = await h.request({ from: client, host: 'backend:8080', path: '/p', headers: { 'x-request-id': 'jwt-none' } });
    expect(none.status).toBe(403);
    expect(none.body).toBe('RBAC: access denied');
    expect((await destinationEvent('jwt-none')).why.join('\n')).toContain('jwt_authn: no token');

    const expired = await issuer.mint({ sub: 'alice', expiresInS: -3600 });
    const r401 = await h.request({ from: client, host: 'backend:8080', path: '/p?q=1', headers: { authorization: `Bearer ${expired}`, 'x-request-id': 'jwt-expired' } });
    expect(r401.status).toBe(401);
    expect(r401.body).toBe('Jwt is expired');
    expect(r401.headers['www-authenticate']).toBe('Bearer realm="http://backend:8080/p?q=1", error="invalid_token"');
    expect((await destinationEvent('jwt-expired')).responseCodeDetails).toBe('jwt_authn_access_denied{Jwt_is_expired}');

    const good = await issuer.mint({ sub: 'alice', claims: { group: 'dev' } });
    const ok = await h.request({ from: client, host: 'backend:8080', path: '/p', headers: { authorization: `Bearer ${good}`, 'x-request-id': 'jwt-ok' } });
    expect(ok.status).toBe(200);
    // forwardOriginalToken defaults to false: the app never sees the token
    expect((ok.json()['headers'] as Record<string, string>)['authorization']).toBeUndefined();
    const okEvent = await destinationEvent('jwt-ok');
    const why = okEvent.why.join('\n');
    expect(why).toContain('jwt_authn: request principal meshbox.local/alice');
    // the terminal UI's request detail lists them under WHY
    const detail = detailLines(okEvent, await h.eventsFor('jwt-ok', 2)).map((l) => l.text);
    expect(detail.some((l) => /^\s+\d+\. jwt_authn: request principal meshbox\.local\/alice/.test(l))).toBe(true);
    expect(detail.some((l) => /^\s+\d+\. rbac: allowed by ALLOW ns\[default\]-policy\[require-jwt\]-rule\[0\]/.test(l))).toBe(true);
    expect(why).toMatch(/rbac: allowed by ALLOW ns\[default\]-policy\[require-jwt\]-rule\[0\].*request principal "meshbox.local\/alice" matches "\*"/);
  });

  it("answers each verifier failure with Envoy's message and status", async () => {
    await h.rules(`${ROUTES}---${requestAuthn(inline(), '      audiences: [backend]\n      outputClaimToHeaders: [{ header: x-jwt-group, claim: group }]\n      forwardOriginalToken: true')}`);
    const send = async (token: string) => h.request({ from: client, host: 'backend:8080', headers: { authorization: `Bearer ${token}` } });
    const good = await issuer.mint({ sub: 'bob', aud: ['backend'], claims: { group: 'ops' } });
    const ok = await send(good);
    expect(ok.status).toBe(200);
    const seen = ok.json()['headers'] as Record<string, string>;
    expect(seen['x-jwt-group']).toBe('ops');
    expect(seen['authorization']).toBe(`Bearer ${good}`);

    const [hd, pl, sig] = good.split('.');
    const forged = `${hd}.${Buffer.from(JSON.stringify({ iss: 'meshbox.local', sub: 'mallory', aud: 'backend' })).toString('base64url')}.${sig}`;
    const unknownIssuer = await TokenIssuer.generate('https://elsewhere.example');
    const cases: Array<[string, number, string]> = [
      [forged, 401, 'Jwt verification fails'],
      [await other.mint({ sub: 'x', aud: ['backend'] }), 401, "Jwks doesn't have key to match kid or alg from Jwt"],
      [await issuer.mint({ sub: 'x', aud: ['someone-else'] }), 403, 'Audiences in Jwt are not allowed'],
      [await issuer.mint({ sub: 'x', aud: ['backend'], claims: { nbf: Math.floor(Date.now() / 1000) + 3600 } }), 401, 'Jwt not yet valid'],
      [`${hd}.${pl}`, 401, 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections'],
      [await unknownIssuer.mint({ sub: 'x' }), 401, 'Jwt issuer is not configured'],
    ];
    for (const [token, status, body] of cases) {
      const r = await send(token);
      expect([r.status, r.body]).toEqual([status, body]);
      expect(r.headers['www-authenticate']).toBe('Bearer realm="http://backend:8080/", error="invalid_token"');
    }
  });

  it('finds tokens in fromHeaders (with prefix), fromParams and fromCookies only, and passes the payload on', async () => {
    await h.rules(`${ROUTES}---${requestAuthn(inline(), `      fromHeaders: [{ name: x-jwt, prefix: "Token " }]
      fromParams: [jwt]
      fromCookies: [session]
      outputPayloadToHeader: x-jwt-payload`)}---${REQUIRE_PRINCIPAL}`);
    const token = await issuer.mint({ sub: 'dora' });
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    const viaHeader = await h.request({ from: client, host: 'backend:8080', headers: { 'x-jwt': `Token ${token}` } });
    expect(viaHeader.status).toBe(200);
    const seen = viaHeader.json()['headers'] as Record<string, string>;
    expect(seen['x-jwt']).toBeUndefined();
    expect(JSON.parse(Buffer.from(seen['x-jwt-payload']!, 'base64url').toString())).toEqual(payload);
    expect((await h.request({ from: client, host: 'backend:8080', path: `/q?jwt=${token}` })).status).toBe(200);
    expect((await h.request({ from: client, host: 'backend:8080', headers: { cookie: `a=1; session=${token}` } })).status).toBe(200);
    // the default location is not read when a rule names its own
    expect((await h.request({ from: client, host: 'backend:8080', headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
    expect((await h.request({ from: client, host: 'backend:8080', headers: { 'x-jwt': `Bearer ${token}` } })).status).toBe(403);
  });

  it('fetches a jwksUri over HTTP once and caches it; an unreachable one is Jwks remote fetch is failed, never a crash', async () => {
    let fetches = 0;
    const jwksServer = http.createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(issuer.jwks()));
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    const port = (jwksServer.address() as AddressInfo).port;
    try {
      await h.rules(`${ROUTES}---${requestAuthn(`jwksUri: http://127.0.0.1:${port}/jwks.json`)}`);
      const token = await issuer.mint({ sub: 'carol' });
      for (let i = 0; i < 3; i++) expect((await h.request({ from: client, host: 'backend:8080', headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      expect(fetches).toBe(1);
    } finally {
      jwksServer.closeAllConnections();
      await new Promise<void>((r) => jwksServer.close(() => r()));
    }
    // the server above is closed: nothing listens on its port
    await h.rules(`${ROUTES}---${requestAuthn(`jwksUri: http://127.0.0.1:${port}/gone.json\n      timeout: 1s`)}`);
    const token = await issuer.mint({ sub: 'carol' });
    const r = await h.request({ from: client, host: 'backend:8080', headers: { authorization: `Bearer ${token}`, 'x-request-id': 'jwks-gone' } });
    expect([r.status, r.body]).toEqual([401, 'Jwks remote fetch is failed']);
    expect((await destinationEvent('jwks-gone')).why.join('\n')).toMatch(/fetching http:\/\/127\.0\.0\.1:\d+\/gone\.json failed/);
    // without a token the request still passes (no identity, no error)
    expect((await h.request({ from: client, host: 'backend:8080' })).status).toBe(200);
  });
});
