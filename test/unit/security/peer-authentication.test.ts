import { describe, expect, it } from 'vitest';
import { analyze } from '../../../sandbox/config/analyze.js';
import { parseRulesText } from '../../../sandbox/config/rules-loader.js';
import { PeerAuthenticationResolver, type PeerAuthenticationPolicy } from '../../../sandbox/security/peer-authentication.js';
import { code, meshOf, withCode } from '../config/helpers.js';

const pa = (name: string, namespace: string, spec: PeerAuthenticationPolicy['spec']): PeerAuthenticationPolicy => ({ name, namespace, spec });
const target = (labels: Record<string, string>, port = 8080) => ({ namespace: 'default', labels, port });

describe('PeerAuthentication resolution (Istio precedence)', () => {
  it('defaults to PERMISSIVE without any policy', () => {
    expect(new PeerAuthenticationResolver([]).resolve(target({ app: 'a' })).mode).toBe('PERMISSIVE');
  });

  it('workload selector > namespace > mesh (root namespace), UNSET inherits', () => {
    const mesh = pa('default', 'istio-system', { mtls: { mode: 'STRICT' } });
    const ns = pa('default', 'default', { mtls: { mode: 'UNSET' } });
    const wl = pa('callme', 'default', { selector: { matchLabels: { app: 'callme' } }, mtls: { mode: 'DISABLE' } });
    const r = new PeerAuthenticationResolver([wl, ns, mesh]);
    expect(r.resolve(target({ app: 'caller' })).mode).toBe('STRICT'); // namespace UNSET -> mesh
    expect(r.resolve(target({ app: 'caller' })).source).toContain('istio-system/default');
    expect(r.resolve(target({ app: 'callme' })).mode).toBe('DISABLE');
    const ns2 = pa('default', 'default', { mtls: { mode: 'PERMISSIVE' } });
    expect(new PeerAuthenticationResolver([mesh, ns2]).resolve(target({ app: 'caller' })).mode).toBe('PERMISSIVE');
    // a policy of another namespace does not apply
    expect(new PeerAuthenticationResolver([pa('x', 'other', { mtls: { mode: 'STRICT' } })]).resolve(target({})).mode).toBe('PERMISSIVE');
  });

  it('portLevelMtls overrides the workload mode for that port only; UNSET there inherits', () => {
    const wl = pa('callme', 'default', { selector: { matchLabels: { app: 'callme' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { '8080': { mode: 'PERMISSIVE' }, '9090': { mode: 'UNSET' } } });
    const r = new PeerAuthenticationResolver([wl]);
    expect(r.resolve(target({ app: 'callme' }, 8080))).toMatchObject({ mode: 'PERMISSIVE', source: expect.stringContaining('portLevelMtls[8080]') });
    expect(r.resolve(target({ app: 'callme' }, 9090)).mode).toBe('STRICT');
    expect(r.resolve(target({ app: 'callme' }, 7070)).mode).toBe('STRICT');
  });
});

const doc = (spec: string, name = 'p', ns = 'default'): string =>
  `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;

describe('meshbox validate: PeerAuthentication', () => {
  it('is applied (no longer "recognised, not applied")', () => {
    const r = parseRulesText(doc('mtls: {mode: STRICT}'), 'pa.yaml');
    expect(r.applied).toBe(true);
    expect(r.resources.map((x) => x.kind)).toEqual(['PeerAuthentication']);
    expect(withCode(r.findings, 'KIND_NOT_APPLIED')).toEqual([]);
  });

  it('rejects an unknown mode with file:line:col', () => {
    const r = parseRulesText(doc('mtls:\n  mode: STRICTER'), 'pa.yaml');
    expect(r.applied).toBe(false);
    const f = r.findings.find((x) => x.severity === 'error')!;
    expect(f.location).toMatchObject({ file: 'pa.yaml', line: 8 });
    expect(f.message).toContain('STRICT');
  });

  it('rejects portLevelMtls without a selector, as Istio does', () => {
    const r = parseRulesText(doc("mtls: {mode: STRICT}\nportLevelMtls:\n  '8080': {mode: PERMISSIVE}"), 'pa.yaml');
    const f = withCode(r.findings, 'UNSUPPORTED_VALUE')[0]!;
    expect(f.severity).toBe('error');
    expect(f.message).toContain('portLevelMtls requires a workload selector');
    expect(`${f.location!.line}:${f.location!.col}`).toBe('8:3');
  });

  it('warns (IST0127) about a selector that matches no workload', () => {
    const mesh = meshOf({ 'caller-service': ['v1'], 'callme-service': ['v1', 'v2'] });
    const r = parseRulesText(doc('selector:\n  matchLabels: {app: calme-service}\nmtls: {mode: STRICT}'), 'pa.yaml');
    const [f] = withCode(analyze(r.resources, mesh), 'PEER_AUTHENTICATION_NO_WORKLOADS');
    expect(f).toMatchObject({ severity: 'warning', code: code('PEER_AUTHENTICATION_NO_WORKLOADS'), location: { file: 'pa.yaml', line: 8 } });
    expect(f!.message).toContain('matches no workload');
    const ok = parseRulesText(doc('selector:\n  matchLabels: {app: callme-service}\nmtls: {mode: STRICT}'), 'pa.yaml');
    expect(withCode(analyze(ok.resources, mesh), 'PEER_AUTHENTICATION_NO_WORKLOADS')).toEqual([]);
  });
});
