/**
 * "`meshbox export --k8s` applies to a real cluster", checked against the real schemas: the
 * Kubernetes API's own OpenAPI schemas (kubernetes-models' validators, strict on unknown fields
 * as `kubectl apply` is) and Istio's CRD schemas (crd-all.gen.yaml, vendored), plus the checks
 * the API server makes in code (names, labels, port names, probes, selectors). See
 * test/helpers/kubernetes-api.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { loadMeshFile } from '../../../sandbox/config/mesh-file.js';
import { expandRulePaths } from '../../../sandbox/config/rule-sources.js';
import type { MeshDefinition } from '../../../sandbox/config/mesh-types.js';
import { exportManifests, writeExport } from '../../../sandbox/kubernetes/export-manifests.js';
import { importManifests } from '../../../sandbox/kubernetes/import-mesh.js';
import { sampleMeshFile } from '../../../sandbox/paths.js';
import { apiServerErrors, documentsOf } from '../../helpers/kubernetes-api.js';

const FIX = join(__dirname, '../../fixtures/kubernetes');
const work = mkdtempSync(join(os.tmpdir(), 'meshbox-export-api-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(n) ? [p] : [];
  });
}

/** the objects of an export that a cluster applies (kustomization.yaml and skaffold.yaml are the tools' files), with what the API server says of each */
function verdicts(out: string): { kinds: string[]; rejected: string[] } {
  const files = yamlFiles(out).filter((f) => !/(kustomization|skaffold)\.yaml$/.test(f));
  const kinds: string[] = [];
  const rejected: string[] = [];
  for (const { file, doc } of documentsOf(files)) {
    const name = `${relative(out, file)} ${String(doc['kind'])}/${String((doc['metadata'] as Record<string, unknown>)['name'])}`;
    kinds.push(`${String(doc['apiVersion'])} ${String(doc['kind'])}`);
    for (const e of apiServerErrors(doc)) rejected.push(`${name}: ${e}`);
  }
  return { kinds: [...new Set(kinds)].sort(), rejected };
}

async function exportMesh(mesh: MeshDefinition, ruleFiles: string[], out: string): Promise<string[]> {
  const result = await exportManifests({ mesh, ruleFiles }, out);
  await writeExport(result, out);
  // kustomization.yaml lists exactly the files written
  const kz = parse(readFileSync(join(out, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  expect(kz.resources.sort()).toEqual(result.files.map((f) => f.path).filter((p) => !/^(kustomization|skaffold)\.yaml$/.test(p)).sort());
  return result.files.map((f) => f.path);
}

async function exportSample(out: string): Promise<MeshDefinition> {
  const mesh = (await loadMeshFile(sampleMeshFile())).mesh!;
  await exportMesh(mesh, (await expandRulePaths([mesh.rulesDir!])).files, out);
  return mesh;
}

describe('export --k8s against the Kubernetes OpenAPI schemas and the Istio CRD schemas', () => {
  it('the sample: every Deployment, Service, ServiceAccount, Namespace and Istio resource applies', async () => {
    const out = join(work, 'sample');
    await exportSample(out);
    const v = verdicts(out);
    expect(v.rejected).toEqual([]);
    expect(v.kinds).toEqual(['apps/v1 Deployment', 'networking.istio.io/v1beta1 DestinationRule', 'networking.istio.io/v1beta1 Gateway', 'networking.istio.io/v1beta1 VirtualService', 'v1 Namespace', 'v1 Service', 'v1 ServiceAccount']);
  });

  it('the test fixtures: manifests read with -f, exported again, apply (and so do the manifests themselves)', async () => {
    const images = {
      'example/callme-service': { command: ['node', 'callme.js'], cwd: '/srv' },
      'example/caller-service': { command: ['node', 'caller.js'], cwd: '/srv' },
      'example/catalog': { command: ['node', 'catalog.js'], cwd: '/srv' },
      'example/greeter': { command: ['node', 'g.js'], cwd: '/srv' },
      'example/other': { command: ['node', 'o.js'], cwd: '/srv' },
    };
    const sets: Array<[string, string[]]> = [
      ['sample-shape', [join(FIX, 'sample-shape/callme'), join(FIX, 'sample-shape/caller')]],
      ['shop', [join(FIX, 'shop')]],
      ['kustomize', [join(FIX, 'kustomize')]],
      ['dev', [join(FIX, 'dev/k8s')]],
    ];
    for (const [name, paths] of sets) {
      const r = await importManifests(paths, { runtime: 'process', images });
      expect(r.findings.filter((f) => f.severity === 'error'), name).toEqual([]);
      const out = join(work, `fixture-${name}`);
      await exportMesh(r.mesh!, r.mesh!.ruleFiles ?? [], out);
      expect(verdicts(out).rejected, name).toEqual([]);
    }
    // the input manifests are what a cluster takes too (kustomize folders: their resources)
    const inputs = ['sample-shape/callme', 'sample-shape/caller', 'shop', 'kustomize/base', 'dev/k8s', 'build'].flatMap((d) => yamlFiles(join(FIX, d)).filter((f) => !f.endsWith('kustomization.yaml')));
    const rejected = documentsOf(inputs).flatMap(({ file, doc }) => apiServerErrors(doc).map((e) => `${relative(FIX, file)} ${String(doc['kind'])}: ${e}`));
    expect(rejected).toEqual([]);
  });

  it('the round trip: export, read back with -f, export again: the same files, and they apply', async () => {
    const first = join(work, 'trip-1');
    await exportSample(first);
    const back = await importManifests([first], { runtime: 'process' });
    const second = join(work, 'trip-2');
    const files = await exportMesh(back.mesh!, back.mesh!.ruleFiles ?? [], second);
    expect(verdicts(second).rejected).toEqual([]);
    // the header names the source; the rest is the same, file for file
    const body = (dir: string, f: string): string => readFileSync(join(dir, f), 'utf8').replace(/^# Written by .*\n/, '');
    for (const f of files.filter((p) => !p.startsWith('istio/'))) expect(body(second, f), f).toBe(body(first, f));
  });

  it('a mesh using every export path: tcp/exec probes, startTimeout, build args, image + command, service accounts, labels, env, Faults as VirtualService faults', async () => {
    const project = join(work, 'everything');
    mkdirSync(join(project, 'rules'), { recursive: true });
    mkdirSync(join(project, 'api'));
    writeFileSync(join(project, 'api', 'Dockerfile'), 'FROM scratch\n');
    writeFileSync(
      join(project, 'meshbox.yaml'),
      [
        'namespace: shop',
        'services:',
        '  api:',
        '    port: 8080',
        '    build: { context: ./api, dockerfile: Dockerfile, args: { MODE: dev, LEVEL: 3 } }',
        '    env: { LOG_LEVEL: debug, RETRIES: 3, DEBUG: true }',
        '    labels: { team: shop, tier: "1" }',
        '    startTimeout: 90s',
        '    versions:',
        '      v1: { replicas: 2, serviceAccount: api-reader }',
        '      v2: { health: { path: /ready, interval: 500ms, timeout: 2500ms, unhealthyThreshold: 5 }, workload: api-canary }',
        '  db:',
        '    port: 5432',
        '    image: example/db:1',
        '    command: [postgres, -c, fsync=off]',
        '    health: /',
        '    replicas: 0',
        '  web:',
        '    port: 3000',
        '    command: node web.js',
        '    startTimeout: 45s',
        '    watch: { paths: [web] }',
      ].join('\n'),
    );
    writeFileSync(
      join(project, 'rules', 'faults.yaml'),
      [
        'apiVersion: meshbox.dev/v1alpha1\nkind: Fault\nmetadata: { name: slow-api }\nspec:\n  target: { service: api, subset: v1 }\n  match: { method: GET, pathPrefix: /orders, headers: { x-user: tester } }\n  http:\n    delay: { fixedDelayMs: 250, percent: 12.5 }\n    abort: { httpStatus: 503, percent: 1 }\n',
        'apiVersion: meshbox.dev/v1alpha1\nkind: Fault\nmetadata: { name: web-down }\nspec:\n  target: { service: web }\n  http:\n    abort: { httpStatus: 500 }\n',
        // Istio's CRD takes no delay under 1ms: a zero delay is left out (with the abort kept), or the whole fault
        'apiVersion: meshbox.dev/v1alpha1\nkind: Fault\nmetadata: { name: db-zero }\nspec:\n  target: { service: db }\n  http:\n    delay: { fixedDelayMs: 0 }\n    abort: { httpStatus: 502, percent: 5 }\n',
        'apiVersion: meshbox.dev/v1alpha1\nkind: Fault\nmetadata: { name: nothing }\nspec:\n  target: { service: api }\n  match: { pathPrefix: /health }\n  http:\n    delay: { fixedDelayMs: 0 }\n',
      ].join('---\n'),
    );
    const loaded = await loadMeshFile(join(project, 'meshbox.yaml'));
    expect(loaded.findings.filter((f) => f.severity === 'error')).toEqual([]);
    const out = join(work, 'everything-out');
    await exportMesh(loaded.mesh!, (await expandRulePaths([loaded.mesh!.rulesDir!])).files, out);
    const faults = parseAllDocuments(readFileSync(join(out, 'faults.yaml'), 'utf8')).map((d) => d.toJS() as { metadata: { name: string }; spec: { http: Array<{ fault?: unknown }> } });
    expect(faults.map((f) => f.metadata.name)).toEqual(['slow-api-fault', 'web-down-fault', 'db-zero-fault']);
    expect(faults[2]!.spec.http[0]!.fault).toEqual({ abort: { httpStatus: 502, percentage: { value: 5 } } });
    const v = verdicts(out);
    expect(v.rejected).toEqual([]);
    expect(v.kinds).toEqual(['apps/v1 Deployment', 'networking.istio.io/v1 VirtualService', 'v1 Namespace', 'v1 Service', 'v1 ServiceAccount']);
  });

  it('a service name Kubernetes does not take for a Service (DNS-1035: a letter first) is a warning, and the check agrees', async () => {
    const project = join(work, 'digit');
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, 'meshbox.yaml'), 'services:\n  3d-render:\n    port: 8080\n    command: node render.js\n');
    const loaded = await loadMeshFile(join(project, 'meshbox.yaml'));
    expect(loaded.findings.filter((f) => f.severity === 'error')).toEqual([]);
    const out = join(work, 'digit-out');
    const result = await exportManifests({ mesh: loaded.mesh!, ruleFiles: [] }, out);
    await writeExport(result, out);
    expect(result.notes.filter((n) => n.severity === 'warning').map((n) => n.message)).toEqual(['3d-render: a Kubernetes Service name must start with a letter (DNS-1035 label): the API server rejects Service 3d-render']);
    expect(verdicts(out).rejected).toEqual(['3d-render.yaml Service/3d-render: /metadata/name "3d-render" is not a valid Service name (DNS-1035 label)']);
  });

  it('the checks are live: the API server would reject each of these, and so do they', () => {
    const deployment = (): Record<string, any> => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'api-v1', labels: { app: 'api' } },
      spec: { selector: { matchLabels: { app: 'api' } }, template: { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'api', image: 'api', ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { httpGet: { path: '/', port: 'http' } } }] } } },
    });
    expect(apiServerErrors(deployment())).toEqual([]);
    const cases: Array<[string, (d: Record<string, any>) => void, RegExp]> = [
      ['a misspelt field', (d) => (d.spec.template.spec.containers[0].readinesProbe = {}), /containers\/0 unknown field "readinesProbe"/],
      ['a field in the wrong place', (d) => (d.spec.template.spec.image = 'api'), /template\/spec unknown field "image"/],
      ['a wrong type', (d) => (d.spec.replicas = '2'), /\/spec\/replicas must be integer/],
      ['an int32 out of range', (d) => (d.spec.replicas = 2 ** 31), /\/spec\/replicas must match format "int32"/],
      ['a missing required field', (d) => delete d.spec.template.spec.containers[0].name, /containers\/0 must have required property name/],
      ['an enum value', (d) => (d.spec.template.spec.containers[0].imagePullPolicy = 'Sometimes'), /imagePullPolicy must be equal to one of the allowed values/],
      ['a name that is no DNS subdomain', (d) => (d.metadata.name = 'API_v1'), /metadata\/name "API_v1" is not a valid Deployment name/],
      ['a selector not matching the template', (d) => (d.spec.selector.matchLabels.version = 'v1'), /`selector` does not match template `labels`/],
      ['a probe port naming no container port', (d) => (d.spec.template.spec.containers[0].readinessProbe.httpGet.port = 'web'), /port "web" names no port/],
      ['a port name longer than 15', (d) => (d.spec.template.spec.containers[0].ports[0].name = 'http-management-port'), /is not an IANA_SVC_NAME/],
      ['a label value with a space', (d) => (d.spec.template.metadata.labels.team = 'a b'), /label value "a b"/],
    ];
    for (const [what, change, expected] of cases) {
      const d = deployment();
      change(d);
      expect(apiServerErrors(d).join('\n'), what).toMatch(expected);
    }
    expect(apiServerErrors({ apiVersion: 'v1', kind: 'Service', metadata: { name: '1api' }, spec: { ports: [{ port: 80 }, { port: 81 }] } })).toEqual([
      '/metadata/name "1api" is not a valid Service name (DNS-1035 label)',
      '/spec/ports/0/name is required when a Service has more than one port',
      '/spec/ports/1/name is required when a Service has more than one port',
    ]);
    const vs = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'r' }, spec: { hosts: ['api'], http: [{ route: [{ destination: { host: 'api', subsett: 'v1' } }], retries: { attempts: 'x' } }] } };
    expect(apiServerErrors(vs)).toEqual(['/spec/http/0/retries/attempts must be integer {"type":"integer"}', '/spec/http/0/route/0/destination must NOT have additional properties {"additionalProperty":"subsett"}']);
    expect(apiServerErrors({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'd', extra: 1 }, spec: { host: 'api', subsets: [{ name: 'v1' }] } })).toEqual(['/metadata unknown field "extra"']);
    expect(() => apiServerErrors({ apiVersion: 'networking.istio.io/v2', kind: 'VirtualService', metadata: { name: 'r' } })).toThrow(/no schema/);
    // the CRDs' CEL rules
    const timed = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'r' }, spec: { hosts: ['api'], http: [{ timeout: '0s', fault: { delay: { fixedDelay: '250ms', percentage: { value: 50 } } }, route: [{ destination: { host: 'api' } }] }] } };
    expect(apiServerErrors(timed)).toEqual(['/spec/http/0/timeout must be a valid duration greater than 1ms']);
    const policy = { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'p' }, spec: { rules: [{ from: [{ source: { serviceAccounts: ['ns/sa'], principals: ['cluster.local/ns/ns/sa/sa'] } }] }] } };
    expect(apiServerErrors(policy)).toEqual([expect.stringMatching(/^\/spec\/rules\/0\/from\/0\/source /)]);
    const jwt = { apiVersion: 'security.istio.io/v1', kind: 'RequestAuthentication', metadata: { name: 'j' }, spec: { jwtRules: [{ issuer: 'me', jwksUri: 'ftp://keys.example.com/jwks.json' }] } };
    expect(apiServerErrors(jwt)).toEqual([expect.stringMatching(/^\/spec\/jwtRules\/0\/jwksUri /)]);
    expect(apiServerErrors({ ...jwt, spec: { jwtRules: [{ issuer: 'me', jwksUri: 'https://keys.example.com/jwks.json' }] } })).toEqual([]);
  });
});
