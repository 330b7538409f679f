import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../../sandbox/config/analyze.js';
import { probeJwksUris } from '../../../sandbox/security/jwt-jwks-probe.js';
import { TokenIssuer } from '../../../sandbox/security/token-issuer.js';
import { at, code, doc, errors, meshOf, parse, withCode } from './helpers.js';

const SEC = 'security.istio.io/v1';
const ap = (spec: string, name = 'p'): string => doc('AuthorizationPolicy', spec, name, SEC);
const ra = (spec: string, name = 'jwt'): string => doc('RequestAuthentication', spec, name, SEC);

describe('AuthorizationPolicy validation', () => {
  it('applies a valid policy', () => {
    const r = parse(ap('selector: { matchLabels: { app: callme-service, version: v2 } }\naction: ALLOW\nrules:\n  - to: [{ operation: { methods: [POST], paths: ["/api/{*}/x"] } }]'));
    expect(errors(r.findings)).toEqual([]);
    expect(r.resources.map((x) => x.kind)).toEqual(['AuthorizationPolicy']);
  });

  it('rejects malformed policies with file:line:col before anything applies', () => {
    const r = parse(
      ap(
        [
          'action: DENYY',
          'rules:',
          '  - from: [{ source: { ipBlocks: ["10.0.0.0/33"], principal: [x] } }]',
          '    to: [{ operation: { paths: ["/a/{**}/b"] } }]',
          '    when: [{ key: source.ip, values: ["nope"] }, { key: "request.headers[x]" }]',
        ].join('\n'),
      ),
    );
    expect(r.applied).toBe(false);
    expect(at(withCode(r.findings, 'VALUE_NOT_ALLOWED')[0])).toBe('6:11');
    expect(withCode(r.findings, 'UNKNOWN_FIELD')[0]).toMatchObject({ message: expect.stringContaining('principal'), hint: expect.stringContaining('principals') });
    const ip = withCode(r.findings, 'INVALID_IP_BLOCK');
    expect(ip.map(at)).toEqual(['8:37', '10:41']);
    expect(ip[0]!.message).toContain('"10.0.0.0/33" is neither an IP address nor a CIDR block');
    expect(withCode(r.findings, 'INVALID_PATH_TEMPLATE')[0]).toMatchObject({ message: expect.stringContaining('`{**}` must be the last operator') });
    expect(at(withCode(r.findings, 'INVALID_PATH_TEMPLATE')[0])).toBe('9:35');
    expect(withCode(r.findings, 'INVALID_POLICY')[0]!.message).toContain('has neither `values` nor `notValues`');
  });

  it('CUSTOM is valid, reported as not applied; an undocumented when key is a warning', () => {
    const r = parse(ap('action: CUSTOM\nprovider: { name: ext-authz }\nrules:\n  - when: [{ key: request.weird, values: [x] }]'));
    expect(errors(r.findings)).toEqual([]);
    expect(withCode(r.findings, 'FIELD_NOT_APPLIED')[0]).toMatchObject({ message: expect.stringContaining('CUSTOM is recognised but not applied') });
    expect(at(withCode(r.findings, 'UNKNOWN_CONDITION_KEY')[0])).toBe('9:21');
    expect(parse(ap('action: ALLOW\nprovider: { name: x }')).applied).toBe(false);
  });

  it('warns about a policy whose selector matches no workload (IST0127)', () => {
    const r = parse(ap('selector: { matchLabels: { app: callme-service, version: v3 } }\nrules: [{}]') + '---\n' + ra('selector: { matchLabels: { app: nobody } }\njwtRules: [{ issuer: x, jwks: \'{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b"}]}\' }]'));
    const found = withCode(analyze(r.resources, meshOf({ 'callme-service': ['v1', 'v2'] })), 'POLICY_NO_WORKLOADS');
    expect(found.map((f) => [f.istioCode, at(f), f.resource?.kind])).toEqual([
      ['IST0127', '6:15', 'AuthorizationPolicy'],
      ['IST0127', '14:15', 'RequestAuthentication'],
    ]);
    expect(found[0]!.message).toBe('selector app=callme-service,version=v3 matches no workload: this AuthorizationPolicy applies to nothing');
    // the ingress gateway is a workload: a policy selecting its labels in istio-system applies there
    const atGateway = parse(doc('AuthorizationPolicy', 'selector: { matchLabels: { istio: ingressgateway } }\nrules: [{}]', 'gw', SEC).replace('name: gw', 'name: gw\n  namespace: istio-system'));
    expect(analyze(atGateway.resources, meshOf({ 'callme-service': ['v1'] }))).toEqual([]);
    const jwtAtGateway = parse(ra("selector: { matchLabels: { istio: ingressgateway } }\njwtRules: [{ issuer: x, jwks: '{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"a\",\"y\":\"b\"}]}' }]", 'gw-jwt').replace('name: gw-jwt', 'name: gw-jwt\n  namespace: istio-system'));
    expect(analyze(jwtAtGateway.resources, meshOf({ 'callme-service': ['v1'] }))).toEqual([]);
    // in the mesh's namespace it selects nothing: the gateway runs in istio-system
    const wrongNs = parse(doc('AuthorizationPolicy', 'selector: { matchLabels: { istio: ingressgateway } }\nrules: [{}]', 'gw', SEC));
    const gw = analyze(wrongNs.resources, meshOf({ 'callme-service': ['v1'] }));
    expect(gw.map((f) => f.code)).toEqual([code('POLICY_NO_WORKLOADS')]);
    expect(gw[0]!.message).toBe('selector istio=ingressgateway matches the ingress gateway, which runs in `istio-system`, not in `default`: this AuthorizationPolicy applies to nothing');
    expect(gw[0]!.hint).toContain('metadata.namespace: istio-system');
  });
});

describe('identity fields where no request has an identity (MB2042)', () => {
  const pa = (spec: string, name = 'pa', ns = 'default'): string => doc('PeerAuthentication', spec, name, SEC).replace(`name: ${name}`, `name: ${name}\n  namespace: ${ns}`);
  const mesh = meshOf({ 'callme-service': ['v1', 'v2'], 'caller-service': ['v1'] });

  it('warns at each principals/namespaces/source.principal of a policy on a workload whose mTLS is DISABLE', () => {
    const policy = ap('selector: { matchLabels: { app: callme-service } }\nrules:\n  - from: [{ source: { principals: ["cluster.local/ns/default/sa/caller-service"] } }, { source: { notNamespaces: [other] } }]\n    when: [{ key: source.namespace, values: [default] }]');
    const off = parse(`${policy}---\n${pa('selector: { matchLabels: { app: callme-service, version: v2 } }\nmtls: { mode: DISABLE }')}`);
    const found = withCode(analyze(off.resources, mesh), 'PRINCIPAL_WITHOUT_MTLS');
    expect(found.map(at)).toEqual(['8:26', '8:102', '9:21']);
    expect(found[0]!.message).toMatch(/^rules\[0\]\.from\[0\]\.source\.principals matches the caller's mTLS identity, but no request to callme-service-v2 \(mTLS DISABLE by PeerAuthentication default\/pa \(workload selector, mtls.mode\) at rules.yaml:\d+:\d+\) has one \(the other selected workloads are fine\)/);
    expect(found[0]!.hint).toContain('requestPrincipals');
    // with mTLS on (PERMISSIVE by default, or STRICT) there is nothing to say
    expect(withCode(analyze(parse(policy).resources, mesh), 'PRINCIPAL_WITHOUT_MTLS')).toEqual([]);
    expect(withCode(analyze(parse(`${policy}---\n${pa('mtls: { mode: STRICT }', 'mesh', 'istio-system')}`).resources, mesh), 'PRINCIPAL_WITHOUT_MTLS')).toEqual([]);
    // a mesh-wide DISABLE covers every selected workload
    const meshWide = withCode(analyze(parse(`${policy}---\n${pa('mtls: { mode: DISABLE }', 'mesh', 'istio-system')}`).resources, mesh), 'PRINCIPAL_WITHOUT_MTLS');
    expect(meshWide[0]!.message).toContain('callme-service-v1 (mTLS DISABLE by PeerAuthentication istio-system/mesh (mesh-wide, mtls.mode)');
    expect(meshWide[0]!.message).not.toContain('the other selected workloads');
  });

  it('warns about identity fields of a policy enforced at the plain-HTTP ingress gateway, not about requestPrincipals', () => {
    const atGw = (rules: string): string => ap(`selector: { matchLabels: { istio: ingressgateway } }\nrules:\n${rules}`, 'gw').replace('name: gw', 'name: gw\n  namespace: istio-system');
    const found = withCode(analyze(parse(atGw('  - from: [{ source: { namespaces: [default] } }]')).resources, mesh), 'PRINCIPAL_WITHOUT_MTLS');
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toContain('no request to the ingress gateway (plain HTTP: its clients have no mTLS identity) has one');
    expect(withCode(analyze(parse(atGw('  - from: [{ source: { requestPrincipals: ["*"] } }]')).resources, mesh), 'PRINCIPAL_WITHOUT_MTLS')).toEqual([]);
  });
});

describe('RequestAuthentication validation', () => {
  it('rejects a malformed inline JWKS, a private key in it, a bad jwksUri, and jwks with jwksUri', async () => {
    const issuer = await TokenIssuer.generate();
    const ok = parse(ra(`jwtRules:\n  - issuer: meshbox.local\n    jwks: '${JSON.stringify(issuer.jwks())}'`));
    expect(errors(ok.findings)).toEqual([]);
    const bad = parse(ra('jwtRules:\n  - issuer: a\n    jwks: "{not json"\n  - issuer: b\n    jwks: \'{"keys":[{"kty":"EC","d":"secret"}]}\'\n  - issuer: c\n    jwksUri: "ftp://x/jwks"\n  - issuer: d\n    jwksUri: http://127.0.0.1:1/j\n    jwks: \'{"keys":[]}\''));
    expect(bad.applied).toBe(false);
    const jwks = withCode(bad.findings, 'INVALID_JWKS');
    expect(jwks.map(at)).toEqual(['8:13', '10:13', '15:13']);
    expect(jwks[0]!.message).toMatch(/^spec\.jwtRules\[0\]\.jwks: not JSON/);
    expect(jwks[1]!.message).toContain('holds a private key');
    expect(at(withCode(bad.findings, 'INVALID_JWKS_URI')[0])).toBe('12:16');
    expect(withCode(bad.findings, 'CONFLICTING_FIELDS').length + withCode(bad.findings, 'SCHEMA_VIOLATION').length).toBeGreaterThan(0);
  });

  it('probes jwksUri at apply time: an unreachable one is a warning at its location, a served one is fine', async () => {
    const issuer = await TokenIssuer.generate();
    const server = http.createServer((_q, s) => s.end(JSON.stringify(issuer.jwks())));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    try {
      const r = parse(ra(`jwtRules:\n  - issuer: a\n    jwksUri: http://127.0.0.1:${port}/jwks.json\n  - issuer: b\n    jwksUri: http://127.0.0.1:${deadPort}/jwks.json\n    timeout: 1s`));
      expect(errors(r.findings)).toEqual([]);
      const found = await probeJwksUris(r.resources);
      expect(found.map((f) => [f.code, at(f)])).toEqual([[code('JWKS_URI_UNREACHABLE'), '10:16']]);
      expect(found[0]!.message).toMatch(/fetching http:\/\/127\.0\.0\.1:\d+\/jwks\.json failed: connect ECONNREFUSED 127\.0\.0\.1:\d+: tokens of issuer b get 401 `Jwks remote fetch is failed`/);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
