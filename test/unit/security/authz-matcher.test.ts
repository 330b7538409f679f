import { describe, expect, it } from 'vitest';
import { conditionMatches, hostMatches, ipMatches, operationMatches, pathMatches, pathTemplateError, ruleMatches, sourceMatches, stringMatches } from '../../../sandbox/security/authz-matcher.js';
import { evaluateRbac } from '../../../sandbox/security/rbac-engine.js';
import type { AuthzPolicyConfig, AuthzRequest } from '../../../sandbox/security/authz-types.js';

const base: AuthzRequest = {
  method: 'GET',
  path: '/api/v1/items',
  host: 'callme-service:8080',
  port: 8080,
  headers: { 'x-group': 'beta-testers', 'x-env': 'prod' },
  sourceIp: '127.0.0.1',
  remoteIp: '10.1.2.3',
  destinationIp: '127.0.0.1',
};
const req = (o: Partial<AuthzRequest> = {}): AuthzRequest => ({ ...base, ...o });
const mtls = req({ peerPrincipal: 'cluster.local/ns/default/sa/caller' });
const withJwt = req({ jwt: { principal: 'meshbox.local/alice', claims: { groups: ['dev', 'ops'], org: { team: 'core' }, n: 3, scope: 'read write', roles: 'a b' }, audiences: ['callme'], presenter: 'cli', spaceDelimitedClaims: ['roles'] } });

describe('string matching (Istio: exact, prefix*, *suffix, presence *)', () => {
  it.each([
    ['abc', 'abc', true],
    ['abc', 'abcd', false],
    ['abc*', 'abcd', true],
    ['abc*', 'xabc', false],
    ['*abc', 'xabc', true],
    ['*abc', 'abcx', false],
    ['*', 'anything', true],
    ['*', '', false],
  ])('%s vs %s -> %s', (p, v, expected) => expect(stringMatches(p, v)).toBe(expected));
});

describe('paths', () => {
  it.each([
    ['/api/{*}/items', '/api/v1/items', true],
    ['/api/{*}/items', '/api/v1/v2/items', false],
    ['/api/{*}/items', '/api//items', false],
    ['/api/{**}', '/api/v1/items', true],
    ['/api/{**}', '/api', false],
    ['/api/*', '/api/anything/else', true],
    ['*/items', '/api/v1/items', true],
    ['/api/v1/items', '/api/v1/items', true],
  ])('%s vs %s -> %s', (p, v, expected) => expect(pathMatches(p, v)).toBe(expected));

  it('rejects templates Istio rejects', () => {
    expect(pathTemplateError('/a/{**}/b')).toMatch(/last operator/);
    expect(pathTemplateError('/a/x{*}')).toMatch(/whole path segment/);
    expect(pathTemplateError('/a/{*}/{**}')).toBeUndefined();
    expect(pathTemplateError('/plain*')).toBeUndefined();
  });
});

describe('hosts, ips', () => {
  it('hosts are case-insensitive, with or without the port', () => {
    expect(hostMatches('Callme-Service', 'callme-service:8080')).toBe(true);
    expect(hostMatches('callme-service:8080', 'callme-service:8080')).toBe(true);
    expect(hostMatches('*.example.com', 'api.EXAMPLE.com')).toBe(true);
    expect(hostMatches('caller', 'callme-service')).toBe(false);
  });
  it('ip blocks: addresses and CIDR, v4 and v6, v4-mapped', () => {
    expect(ipMatches('10.0.0.0/8', '10.1.2.3')).toBe(true);
    expect(ipMatches('10.0.0.0/8', '11.1.2.3')).toBe(false);
    expect(ipMatches('127.0.0.1', '::ffff:127.0.0.1')).toBe(true);
    expect(ipMatches('::1/128', '::1')).toBe(true);
    expect(ipMatches('bogus', '10.1.2.3')).toBe(false);
  });
});

describe('source, operation and not* fields', () => {
  it('principals need mTLS: no principal matches neither a value nor presence, but matches notPrincipals', () => {
    expect(sourceMatches({ principals: ['*'] }, req()).matched).toBe(false);
    expect(sourceMatches({ notPrincipals: ['*'] }, req()).matched).toBe(true);
    expect(sourceMatches({ principals: ['cluster.local/ns/default/sa/caller'] }, mtls).matched).toBe(true);
    expect(sourceMatches({ namespaces: ['default'] }, mtls).matched).toBe(true);
    expect(sourceMatches({ notNamespaces: ['default'] }, mtls).matched).toBe(false);
    expect(sourceMatches({ serviceAccounts: ['default/caller'] }, mtls).matched).toBe(true);
    expect(sourceMatches({ notServiceAccounts: ['default/other'] }, mtls).matched).toBe(true);
  });
  it('requestPrincipals come from the JWT', () => {
    expect(sourceMatches({ requestPrincipals: ['*'] }, req()).matched).toBe(false);
    expect(sourceMatches({ requestPrincipals: ['meshbox.local/*'] }, withJwt).matched).toBe(true);
    expect(sourceMatches({ notRequestPrincipals: ['*'] }, req()).matched).toBe(true);
    expect(sourceMatches({ notRequestPrincipals: ['*/alice'] }, withJwt).matched).toBe(false);
  });
  it('ipBlocks match the connection peer, remoteIpBlocks the original client', () => {
    expect(sourceMatches({ ipBlocks: ['127.0.0.0/8'] }, req()).matched).toBe(true);
    expect(sourceMatches({ remoteIpBlocks: ['10.1.0.0/16'] }, req()).matched).toBe(true);
    expect(sourceMatches({ notRemoteIpBlocks: ['10.1.0.0/16'] }, req()).matched).toBe(false);
    expect(sourceMatches({ notIpBlocks: ['192.168.0.0/16'] }, req()).matched).toBe(true);
  });
  it('fields of an operation are ANDed, values of one field ORed', () => {
    expect(operationMatches({ methods: ['GET', 'HEAD'], paths: ['/api/*'] }, req()).matched).toBe(true);
    expect(operationMatches({ methods: ['GET'], paths: ['/admin*'] }, req()).matched).toBe(false);
    expect(operationMatches({ notMethods: ['POST'] }, req()).matched).toBe(true);
    expect(operationMatches({ notPaths: ['/api/{**}'] }, req()).matched).toBe(false);
    expect(operationMatches({ ports: ['8080'] }, req()).matched).toBe(true);
    expect(operationMatches({ notPorts: ['8080'] }, req()).matched).toBe(false);
    expect(operationMatches({ hosts: ['other'] }, req()).matched).toBe(false);
    expect(operationMatches({ notHosts: ['other'] }, req()).matched).toBe(true);
  });
});

describe('when conditions', () => {
  it.each([
    [{ key: 'request.headers[X-Group]', values: ['beta-*'] }, base, true],
    [{ key: 'request.headers[x-group]', notValues: ['beta-*'] }, base, false],
    [{ key: 'request.headers[x-missing]', values: ['*'] }, base, false],
    [{ key: 'request.auth.claims[groups]', values: ['ops'] }, withJwt, true],
    [{ key: 'request.auth.claims[org][team]', values: ['core'] }, withJwt, true],
    [{ key: 'request.auth.claims[n]', values: ['3'] }, withJwt, false],
    [{ key: 'request.auth.claims[scope]', values: ['write'] }, withJwt, true],
    [{ key: 'request.auth.claims[scope]', values: ['read write'] }, withJwt, true],
    [{ key: 'request.auth.claims[roles]', values: ['b'] }, withJwt, true],
    [{ key: 'request.auth.claims[org]', values: ['core'] }, withJwt, false],
    [{ key: 'request.auth.principal', values: ['meshbox.local/alice'] }, withJwt, true],
    [{ key: 'request.auth.audiences', values: ['callme'] }, withJwt, true],
    [{ key: 'request.auth.presenter', values: ['cli'] }, withJwt, true],
    [{ key: 'source.namespace', values: ['default'] }, mtls, true],
    [{ key: 'source.principal', values: ['*/sa/caller'] }, mtls, true],
    [{ key: 'source.ip', values: ['127.0.0.0/8'] }, base, true],
    [{ key: 'remote.ip', notValues: ['10.0.0.0/8'] }, base, false],
    [{ key: 'destination.port', values: ['8080'] }, base, true],
    [{ key: 'connection.sni', values: ['*'] }, base, false],
    [{ key: 'experimental.envoy.filters.whatever[x]', values: ['y'] }, base, true],
  ])('%j', (c, r, expected) => expect(conditionMatches(c, r as AuthzRequest).matched).toBe(expected));

  it('a rule is any from AND any to AND every when; {} matches all', () => {
    expect(ruleMatches({}, base).matched).toBe(true);
    const rule = { from: [{ source: { principals: ['x'] } }, { source: { remoteIpBlocks: ['10.0.0.0/8'] } }], to: [{ operation: { methods: ['GET'] } }], when: [{ key: 'request.headers[x-env]', values: ['prod'] }] };
    expect(ruleMatches(rule, base).matched).toBe(true);
    expect(ruleMatches({ ...rule, when: [...rule.when, { key: 'request.headers[x-env]', values: ['dev'] }] }, base).matched).toBe(false);
  });
});

describe("Istio's evaluation order", () => {
  const p = (name: string, action: AuthzPolicyConfig['action'], rules: AuthzPolicyConfig['rules']): AuthzPolicyConfig => ({ name, namespace: 'default', action, rules, source: 'x.yaml:1:1' });
  it('DENY first, then ALLOW; no ALLOW policy allows; ALLOW without a match denies with [none]; AUDIT never decides', () => {
    expect(evaluateRbac([], base).allowed).toBe(true);
    expect(evaluateRbac([p('d', 'DENY', [{ to: [{ operation: { methods: ['POST'] } }] }])], base).allowed).toBe(true);
    const denied = evaluateRbac([p('a', 'ALLOW', [{}]), p('d', 'DENY', [{ to: [{ operation: { methods: ['POST'] } }] }, {}])], base);
    expect(denied).toMatchObject({ allowed: false, details: 'rbac_access_denied_matched_policy[ns[default]-policy[d]-rule[1]]' });
    expect(evaluateRbac([p('a', 'ALLOW', [])], base)).toMatchObject({ allowed: false, details: 'rbac_access_denied_matched_policy[none]' });
    expect(evaluateRbac([p('a', 'ALLOW', [{}])], base)).toMatchObject({ allowed: true, matchedPolicy: 'ns[default]-policy[a]-rule[0]' });
    const audited = evaluateRbac([p('audit', 'AUDIT', [{}])], base);
    expect(audited).toMatchObject({ allowed: true, audited: ['ns[default]-policy[audit]-rule[0]'] });
    expect(evaluateRbac([p('audit', 'AUDIT', [{}]), p('a', 'ALLOW', [])], base).allowed).toBe(false);
  });
});
