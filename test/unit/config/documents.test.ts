import { describe, expect, it } from 'vitest';
import { code, doc, expectOne, expectValid, parse, withCode } from './helpers.js';

const minimalVs = 'hosts: [a]\nhttp: [{route: [{destination: {host: a}}]}]';

describe('documents: kinds and apiVersions', () => {
  it.each(['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'])('applies VirtualService %s', (apiVersion) => {
    const r = expectValid(doc('VirtualService', minimalVs, 'x', apiVersion));
    expect(r.resources[0]!.apiVersion).toBe(apiVersion);
  });

  it('rejects an unknown apiVersion for a known kind', () => {
    const text = doc('VirtualService', minimalVs, 'x', 'networking.istio.io/v2');
    const f = expectOne(text, 'UNKNOWN_API_VERSION', { at: '1:13', message: 'apiVersion networking.istio.io/v2 does not serve kind VirtualService' });
    expect(f.hint).toContain('networking.istio.io/v1');
    expect(parse(text).applied).toBe(false);
    expectOne(doc('AuthorizationPolicy', 'action: ALLOW', 'x', 'networking.istio.io/v1'), 'UNKNOWN_API_VERSION', { hint: 'security.istio.io' });
  });

  it('warns about Istio kinds it recognises but does not apply, without blocking the file', () => {
    for (const [kind, apiVersion] of [
      ['WorkloadGroup', 'networking.istio.io/v1alpha3'],
      ['Sidecar', 'networking.istio.io/v1'],
      ['ProxyConfig', 'networking.istio.io/v1beta1'],
      ['WorkloadEntry', 'networking.istio.io/v1beta1'],
      ['WasmPlugin', 'extensions.istio.io/v1alpha1'],
    ]) {
      const text = `${doc(kind!, 'anything: goes', 'p', apiVersion)}---\n${doc('VirtualService', minimalVs)}`;
      const f = expectOne(text, 'KIND_NOT_APPLIED', { at: '2:7', message: `${kind} default/p is recognised but not applied by this meshbox version` });
      expect(f.severity).toBe('warning');
      const r = parse(text);
      expect(r.applied).toBe(true);
      expect(r.resources.map((x) => x.kind)).toEqual(['VirtualService']);
    }
  });

  it('notes Kubernetes kinds as info', () => {
    const text = 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: callme-v1\nspec:\n  replicas: 1\n';
    const f = expectOne(text, 'KUBERNETES_KIND_IGNORED', { at: '2:7', message: 'Deployment callme-v1 ignored: meshbox reads services from meshbox.yaml' });
    expect(f.severity).toBe('info');
    expect(parse(text).applied).toBe(true);
  });

  it('warns about Kubernetes Gateway API kinds', () => {
    const f = expectOne('apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec: {}\n', 'KIND_NOT_APPLIED', { message: 'Kubernetes Gateway API' });
    expect(f.severity).toBe('warning');
  });

  it('warns about unknown kinds without crashing, with a did-you-mean', () => {
    const f = expectOne('apiVersion: networking.istio.io/v1\nkind: VirtualServce\nmetadata: {name: x}\nspec: {}\n', 'UNKNOWN_KIND', { at: '2:7', hint: 'did you mean `VirtualService`?' });
    expect(f.severity).toBe('warning');
    expectOne('apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x}\n', 'UNKNOWN_KIND', { message: 'unknown kind Widget (apiVersion example.com/v1): ignored' });
    expectOne('apiVersion: v1\nkind: constructor\n', 'UNKNOWN_KIND');
  });

  it('rejects documents without apiVersion or kind', () => {
    expectOne('kind: VirtualService\nmetadata: {name: x}\n', 'DOCUMENT_NO_KIND', { at: '1:1', message: 'document 1 has no `apiVersion`' });
    expectOne('apiVersion: networking.istio.io/v1\nmetadata: {name: x}\n', 'DOCUMENT_NO_KIND', { message: 'has no `kind`' });
    expectOne('apiVersion: 1\nkind: VirtualService\n', 'DOCUMENT_NO_KIND');
  });

  it('rejects documents that are not mappings', () => {
    expectOne('just a string\n', 'DOCUMENT_NOT_OBJECT', { at: '1:1', message: 'document 1 is a string ("just a string"), not a resource' });
    expectOne(`${doc('VirtualService', minimalVs)}---\n- a\n- b\n`, 'DOCUMENT_NOT_OBJECT', { at: '9:1', message: 'document 2 is a list' });
    expectOne('42\n', 'DOCUMENT_NOT_OBJECT');
  });

  it('rejects a meshbox.yaml document mixed into a rules file', () => {
    expectOne(`${doc('VirtualService', minimalVs)}---\nservices:\n  a: {port: 80}\n`, 'MESH_DOCUMENT_IN_RULES', { at: '9:1' });
  });

  it('notes an empty file', () => {
    const r = parse('# nothing yet\n');
    expect(withCode(r.findings, 'FILE_EMPTY')[0]).toMatchObject({ severity: 'info' });
    expect(r.applied).toBe(true);
  });
});

describe('documents: metadata', () => {
  it('defaults the namespace to default and keeps labels and annotations', () => {
    const r = expectValid(
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: r.v1\n  labels: {team: a}\n  annotations: {note: "x y"}\n  creationTimestamp: null\nspec:\n  hosts: [a]\n  http: [{route: [{destination: {host: a}}]}]\nstatus: {}\n',
    );
    expect(r.resources[0]!.metadata).toEqual({ name: 'r.v1', namespace: 'default', labels: { team: 'a' }, annotations: { note: 'x y' } });
    expect(r.resources[0]!.source).toEqual({ file: 'rules.yaml', line: 1, col: 1, docIndex: 0 });
  });

  it('requires metadata.name, a DNS-1123 name, and a valid namespace', () => {
    expectOne('apiVersion: networking.istio.io/v1\nkind: VirtualService\nspec: {hosts: [a]}\n', 'MISSING_FIELD', { at: '1:1', message: '(document): missing required field `metadata`' });
    expectOne('apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  namespace: x\nspec: {hosts: [a]}\n', 'MISSING_FIELD', { at: '3:1', message: 'metadata: missing required field `name`' });
    expectOne(doc('VirtualService', minimalVs, 'My_Route'), 'INVALID_NAME', { at: '4:9', message: 'metadata.name "My_Route" is not a valid name', hint: '`my-route`' });
    expectOne('apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a, namespace: Prod}\nspec: {hosts: [a], http: [{route: [{destination: {host: a}}]}]}\n', 'INVALID_NAME', { message: 'metadata.namespace "Prod"' });
    expectOne('apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {nmae: a}\nspec: {}\n', 'UNKNOWN_FIELD', { hint: 'did you mean `name`?' });
  });

  it('requires spec and suggests it for a typo', () => {
    expectOne('apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: a}\nspecs: {host: a}\n', 'UNKNOWN_FIELD', { at: '4:1', hint: 'did you mean `spec`?' });
  });

  it('attaches the resource to every finding of a document', () => {
    const r = parse(doc('VirtualService', 'hosts: [a]\nhttp: [{route: [{destination: {host: a}}], timeout: x}]', 'named', 'networking.istio.io/v1'));
    expect(r.findings[0]!.resource).toEqual({ kind: 'VirtualService', name: 'named', namespace: 'default' });
    expect(r.findings[0]!.code).toBe(code('INVALID_DURATION'));
  });
});
