import { describe, expect, it } from 'vitest';
import { analyze } from '../../../sandbox/config/analyze.js';
import { parseRulesText } from '../../../sandbox/config/rules-loader.js';
import type { LoadedResource } from '../../../sandbox/config/resource.js';
import type { Finding } from '../../../sandbox/config/findings.js';
import type { FindingCodeName } from '../../../sandbox/config/codes.js';
import { at, code, meshOf, pos, withCode } from './helpers.js';

const mesh = meshOf({ 'caller-service': ['v1'], 'callme-service': ['v1', 'v2'] });

function load(...files: Array<[string, string]>): LoadedResource[] {
  return files.flatMap(([file, text]) => {
    const r = parseRulesText(text, file);
    if (!r.applied) throw new Error(`${file} not applied: ${r.findings.map((f) => f.message).join('; ')}`);
    return r.resources;
  });
}

function only(findings: Finding[], name: FindingCodeName): Finding[] {
  const found = withCode(findings, name);
  for (const f of found) {
    expect(f.severity).toBe('warning');
    expect(f.location).toBeDefined();
    expect(f.resource).toBeDefined();
    expect(f.hint).toBeTruthy();
  }
  return found;
}

const vs = (name: string, spec: string, ns = ''): string =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: ${name}${ns ? `\n  namespace: ${ns}` : ''}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
const dr = (name: string, spec: string): string => `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: ${name}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
const gw = (name: string, spec: string): string => `apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: ${name}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;

const callmeDr = dr('callme', 'host: callme-service\nsubsets:\n- name: v1\n  labels: {version: v1}\n- name: v2\n  labels: {version: v2}');

describe('analyze: hosts and subsets', () => {
  it('accepts the host forms of a mesh service and flags unknown hosts (IST0101)', () => {
    const text = vs(
      'r',
      'hosts: [callme-service]\nhttp:\n- route:\n  - destination: {host: callme-service}\n  - destination: {host: callme-service.default}\n  - destination: {host: callme-service.default.svc.cluster.local}\n  - destination: {host: calme-service}\n  mirror: {host: payments}',
    );
    const findings = analyze(load(['a.yaml', text]), mesh);
    const f = only(findings, 'HOST_NOT_FOUND');
    expect(f.map((x) => [at(x), x.istioCode])).toEqual([
      [pos(text, 'calme-service'), 'IST0101'],
      [pos(text, 'payments'), 'IST0101'],
    ]);
    expect(f[0]!.message).toBe('destination host `calme-service` is not a service of this mesh: the rule is applied, and requests routed there get 503');
    expect(f[0]!.hint).toBe('did you mean `callme-service`?');
    expect(f[1]!.hint).toContain('the mesh has `caller-service` and `callme-service`');
  });

  it('expands short hosts with the rule namespace, as Istio does', () => {
    const findings = analyze(load(['a.yaml', vs('r', 'hosts: [callme-service]\nhttp:\n- route: [{destination: {host: callme-service}}]', 'other')]), mesh);
    expect(only(findings, 'HOST_NOT_FOUND')).toHaveLength(1);
  });

  it('skips host checks without a mesh', () => {
    const findings = analyze(load(['a.yaml', vs('r', 'hosts: [x]\nhttp:\n- route: [{destination: {host: nowhere}}]')]));
    expect(findings).toEqual([]);
  });

  it('flags subsets no DestinationRule defines (IST0101), across files', () => {
    const rules = vs('r', 'hosts: [callme-service]\nhttp:\n- route:\n  - destination: {host: callme-service, subset: v2}\n  - destination: {host: callme-service.default.svc.cluster.local, subset: v3}');
    const findings = analyze(load(['a.yaml', callmeDr], ['b.yaml', rules]), mesh);
    const [f] = only(findings, 'SUBSET_NOT_FOUND');
    expect(f).toMatchObject({ istioCode: 'IST0101', location: { file: 'b.yaml' } });
    expect(at(f)).toBe(pos(rules, 'v3'));
    expect(f!.message).toContain('requests routed there get 503 NC');
    expect(f!.hint).toContain('DestinationRule default/callme defines `v1` and `v2`');
    const none = analyze(load(['b.yaml', rules]));
    expect(withCode(none, 'SUBSET_NOT_FOUND').map((x) => x.hint)).toEqual([
      'add a subset `v2` with its labels to a DestinationRule for callme-service (no DestinationRule exists for callme-service)',
      'add a subset `v3` with its labels to a DestinationRule for callme-service.default.svc.cluster.local (no DestinationRule exists for callme-service.default.svc.cluster.local)',
    ]);
  });

  it('flags subsets that select no workload (IST0127) and DestinationRules for unknown hosts', () => {
    const text = `${dr('callme', 'host: callme-service\nsubsets:\n- name: v1\n  labels: {version: v1}\n- name: v3\n  labels: {version: v3}\n- name: all')}---\n${dr('ghost', 'host: ghost')}`;
    const findings = analyze(load(['a.yaml', text]), mesh);
    const [f] = only(findings, 'SUBSET_NO_WORKLOADS');
    expect(f).toMatchObject({ istioCode: 'IST0127' });
    expect(at(f)).toBe(pos(text, 'labels: {version: v3}'));
    expect(f!.message).toBe('subset `v3` (version=v3) selects no workload of callme-service: requests routed to it get 503 UH (no healthy upstream)');
    expect(f!.hint).toContain('`version=v1` and `version=v2`');
    const [g] = only(findings, 'DESTINATION_RULE_HOST_NOT_FOUND');
    expect(g!.message).toContain('host `ghost` is not a service of this mesh');
  });

  it('warns when every weight of a split is 0', () => {
    const text = vs('r', 'hosts: [a]\nhttp:\n- route:\n  - destination: {host: a}\n  - destination: {host: b}\n    weight: 0\n- route:\n  - destination: {host: a}\n    weight: 0');
    const [f] = only(analyze(load(['a.yaml', text])), 'ZERO_TOTAL_WEIGHT');
    expect(f!.message).toContain('spec.http[0].route: every destination has weight 0');
  });
});

describe('analyze: gateways', () => {
  const gateway = gw('ingress', 'selector: {istio: ingressgateway}\nservers:\n- port: {number: 80, name: http, protocol: HTTP}\n  hosts: [caller.example.com, "*.shop.example.com", "prod/api.example.com"]');

  it('flags gateways that do not exist (IST0101)', () => {
    const text = vs('r', 'hosts: [caller.example.com]\ngateways: [ingres, mesh]\nhttp:\n- match: [{gateways: [other/gw]}]\n  route: [{destination: {host: caller-service}}]');
    const f = only(analyze(load(['g.yaml', gateway], ['a.yaml', text]), mesh), 'GATEWAY_NOT_FOUND');
    expect(f.map((x) => [at(x), x.istioCode])).toEqual([
      [pos(text, 'ingres,'), 'IST0101'],
      [pos(text, 'other/gw'), 'IST0101'],
    ]);
    expect(f[0]!.hint).toBe('did you mean `ingress`?');
  });

  it('flags VirtualService hosts the gateway does not serve (IST0132)', () => {
    const text = vs('r', 'hosts: [caller.example.com, a.shop.example.com, api.example.com, other.example.com]\ngateways: [ingress]\nhttp:\n- route: [{destination: {host: caller-service}}]');
    const f = only(analyze(load(['g.yaml', gateway], ['a.yaml', text]), mesh), 'HOST_NOT_IN_GATEWAY');
    expect(f.map((x) => x.message.split(' ')[1])).toEqual(['`api.example.com`', '`other.example.com`']);
    expect(f[0]!.istioCode).toBe('IST0132');
    expect(f[0]!.message).toContain('requests for it at that gateway get 404');
    const inProd = vs('r', 'hosts: [api.example.com]\ngateways: [default/ingress]\nhttp:\n- route: [{destination: {host: caller-service}}]', 'prod');
    expect(withCode(analyze(load(['g.yaml', gateway], ['a.yaml', inProd]), mesh), 'HOST_NOT_IN_GATEWAY')).toEqual([]);
  });

  it('a server host * serves every host', () => {
    const star = gw('any', 'servers:\n- port: {number: 80, name: http, protocol: HTTP}\n  hosts: ["*"]');
    const text = vs('r', 'hosts: ["*"]\ngateways: [any]\nhttp:\n- route: [{destination: {host: caller-service}}]');
    expect(analyze(load(['g.yaml', star], ['a.yaml', text]))).toEqual([]);
  });

  it('flags a gateway selector that matches no gateway proxy', () => {
    const g = gw('ingress', 'selector: {istio: ingress}\nservers:\n- port: {number: 80, name: http, protocol: HTTP}\n  hosts: ["*"]');
    const [f] = only(analyze(load(['g.yaml', g]), mesh), 'GATEWAY_SELECTOR_NO_MATCH');
    expect(f!.message).toContain('the selector istio=ingress matches no gateway proxy');
    expect(analyze(load(['g.yaml', g]))).toEqual([]);
  });
});

describe('analyze: route order', () => {
  it('flags routes after a route without match (IST0130)', () => {
    const text = vs('r', 'hosts: [a]\nhttp:\n- route: [{destination: {host: a}}]\n- match: [{uri: {prefix: /x}}]\n  route: [{destination: {host: b}}]\n- route: [{destination: {host: c}}]');
    const f = only(analyze(load(['a.yaml', text])), 'UNREACHABLE_ROUTE');
    expect(f.map((x) => x.message)).toEqual([
      'spec.http[1] is never used: spec.http[0] (no match) before it matches every request',
      'spec.http[2] is never used: spec.http[0] (no match) before it matches every request',
    ]);
    expect(f[0]!.istioCode).toBe('IST0130');
    expect(at(f[0])).toBe(pos(text, 'match'));
  });

  it('treats uri prefix / as catch-all', () => {
    const text = vs('r', 'hosts: [a]\nhttp:\n- match: [{uri: {prefix: /api}}, {uri: {prefix: /}, ignoreUriCase: true, name: all}]\n  route: [{destination: {host: a}}]\n- route: [{destination: {host: b}}]');
    const [f] = only(analyze(load(['a.yaml', text])), 'UNREACHABLE_ROUTE');
    expect(f!.message).toBe('spec.http[1] is never used: spec.http[0].match[1] (matches every path) before it matches every request');
  });

  it('does not treat a conditional match as catch-all', () => {
    const text = vs('r', 'hosts: [a]\nhttp:\n- match: [{uri: {prefix: /}, headers: {end-user: {exact: jason}}}]\n  route: [{destination: {host: a}}]\n- route: [{destination: {host: b}}]');
    expect(analyze(load(['a.yaml', text]))).toEqual([]);
  });

  it('flags match blocks identical to an earlier one (IST0131), ignoring names and key order', () => {
    const text = vs(
      'r',
      'hosts: [a]\nhttp:\n- match: [{uri: {prefix: /api}, method: {exact: GET}, name: first}]\n  route: [{destination: {host: a}}]\n- match:\n  - {method: {exact: POST}}\n  - {name: again, method: {exact: GET}, uri: {prefix: /api}}\n  route: [{destination: {host: b}}]',
    );
    const [f] = only(analyze(load(['a.yaml', text])), 'INEFFECTIVE_MATCH');
    expect(f!.istioCode).toBe('IST0131');
    expect(f!.message).toBe('spec.http[1].match[1] is never used: it is identical to spec.http[0].match[0], which comes first');
    expect(at(f)).toBe(pos(text, '{name: again'));
  });

  it('flags match blocks after a catch-all block in the same route', () => {
    const text = vs('r', 'hosts: [a]\nhttp:\n- match: [{uri: {prefix: /}}, {uri: {prefix: /x}}]\n  route: [{destination: {host: a}}]');
    expect(only(analyze(load(['a.yaml', text])), 'INEFFECTIVE_MATCH')[0]!.message).toContain('spec.http[0].match[1] is never used');
  });
});

describe('analyze: conflicts and duplicates', () => {
  it('flags two VirtualServices for one host on the mesh and says the first wins (IST0109)', () => {
    const a = vs('first', 'hosts: [callme-service]\nhttp:\n- route: [{destination: {host: callme-service}}]');
    const b = vs('second', 'hosts: [callme-service.default.svc.cluster.local]\nhttp:\n- route: [{destination: {host: callme-service}}]');
    const [f] = only(analyze(load(['a.yaml', a], ['b.yaml', b]), mesh), 'CONFLICTING_VIRTUAL_SERVICES');
    expect(f).toMatchObject({ istioCode: 'IST0109', location: { file: 'b.yaml' } });
    expect(f!.message).toBe(
      'VirtualService default/second and VirtualService default/first both define host `callme-service.default.svc.cluster.local` for the mesh (sidecars): only VirtualService default/first applies (the first by file name, then document order); this one is ignored for that host',
    );
  });

  it('does not flag the same host on different gateways', () => {
    const g = gw('ingress', 'servers:\n- port: {number: 80, name: http, protocol: HTTP}\n  hosts: ["*"]');
    const a = vs('mesh-route', 'hosts: [callme-service]\nhttp:\n- route: [{destination: {host: callme-service}}]');
    const b = vs('edge-route', 'hosts: [callme-service]\ngateways: [ingress]\nhttp:\n- route: [{destination: {host: callme-service}}]');
    expect(withCode(analyze(load(['g.yaml', g], ['a.yaml', a], ['b.yaml', b])), 'CONFLICTING_VIRTUAL_SERVICES')).toEqual([]);
  });

  it('flags two DestinationRules for one host and explains the merge', () => {
    const second = dr('callme-extra', 'host: callme-service.default.svc.cluster.local\ntrafficPolicy: {loadBalancer: {simple: RANDOM}}\nsubsets:\n- name: v2\n  labels: {version: v2}\n- name: canary\n  labels: {track: canary}');
    const [f] = only(analyze(load(['a.yaml', callmeDr], ['b.yaml', second])), 'CONFLICTING_DESTINATION_RULES');
    expect(f!.message).toContain('their subsets are merged and only the trafficPolicy of DestinationRule default/callme');
    expect(f!.message).toContain('its trafficPolicy is ignored, its subset `v2` is ignored (defined earlier)');
  });

  it('flags a resource defined twice: the later replaces the earlier', () => {
    const a = vs('same', 'hosts: [a]\nhttp:\n- route: [{destination: {host: a}}]');
    const b = vs('same', 'hosts: [b]\nhttp:\n- route: [{destination: {host: b}}]');
    const findings = analyze(load(['a.yaml', a], ['b.yaml', b]));
    const [f] = only(findings, 'DUPLICATE_RESOURCE');
    expect(f).toMatchObject({ location: { file: 'b.yaml', line: 4, col: 9 } });
    expect(f!.message).toBe('VirtualService default/same is defined twice: this definition (b.yaml:1) is in effect because its file comes later in name order; the one at a.yaml:1 is ignored');
    expect(findings).toHaveLength(1);
  });
});

describe('analyze: delegates', () => {
  it('flags delegates nobody uses and delegate references that do not resolve', () => {
    const root = vs('root', 'hosts: [a]\nhttp:\n- match: [{uri: {prefix: /x}}]\n  delegate: {name: child}\n- match: [{uri: {prefix: /y}}]\n  delegate: {name: missing}\n- match: [{uri: {prefix: /z}}]\n  delegate: {name: hosted}');
    const child = vs('child', 'http:\n- route: [{destination: {host: a}}]');
    const orphan = vs('orphan', 'http:\n- route: [{destination: {host: a}}]');
    const hosted = vs('hosted', 'hosts: [b]\nhttp:\n- route: [{destination: {host: b}}]');
    const findings = analyze(load(['a.yaml', root], ['b.yaml', child], ['c.yaml', orphan], ['d.yaml', hosted]));
    expect(only(findings, 'DELEGATE_UNUSED').map((f) => f.resource?.name)).toEqual(['orphan']);
    expect(only(findings, 'DELEGATE_NOT_FOUND').map((f) => f.message)).toEqual([
      'delegate VirtualService default/missing not found: requests matching spec.http[1] get 404 NR',
      'VirtualService default/hosted has hosts, so it cannot be a delegate: requests matching spec.http[2] get 404 NR',
    ]);
  });
});

describe('analyze: codes', () => {
  it('gives every analyzer finding a MB20xx code', () => {
    const text = vs('r', 'hosts: [a]\nhttp:\n- route: [{destination: {host: a, subset: nope}}]');
    for (const f of analyze(load(['a.yaml', text]), mesh)) expect(f.code).toMatch(/^MB20\d\d$/);
    expect(code('HOST_NOT_FOUND')).toBe('MB2001');
  });
});
