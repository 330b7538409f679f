import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadMeshFile } from '../../../sandbox/config/mesh-file.js';
import { expandRulePaths } from '../../../sandbox/config/rule-sources.js';
import { validatePaths } from '../../../sandbox/config/validate.js';
import type { MeshDefinition } from '../../../sandbox/config/mesh-types.js';
import { exportManifests, writeExport } from '../../../sandbox/kubernetes/export-manifests.js';
import { importManifests } from '../../../sandbox/kubernetes/import-mesh.js';
import { apiServerErrors } from '../../helpers/kubernetes-api.js';
import { sampleMeshFile } from '../../../sandbox/paths.js';

const work = mkdtempSync(join(os.tmpdir(), 'meshbox-export-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** the parts of a mesh that must survive export + import */
function shape(mesh: MeshDefinition): unknown {
  return {
    namespace: mesh.namespace,
    services: mesh.services.map((s) => ({
      name: s.name,
      port: s.port,
      workloads: s.workloads.map((w) => ({ workload: w.workload, version: w.version, replicas: w.replicas, labels: w.labels, env: w.env, health: w.health, command: w.command, cwd: w.cwd, startTimeoutMs: w.startTimeoutMs })),
    })),
  };
}

async function exportSample(out: string): Promise<{ mesh: MeshDefinition; notes: string[] }> {
  const loaded = await loadMeshFile(sampleMeshFile());
  const mesh = loaded.mesh!;
  const ruleFiles = (await expandRulePaths([mesh.rulesDir!])).files;
  const result = await exportManifests({ mesh, ruleFiles }, out);
  await writeExport(result, out);
  return { mesh, notes: result.notes.map((n) => n.message) };
}

describe('meshbox export --k8s', () => {
  it('writes a kustomize project: Namespace with istio-injection, ServiceAccount + Service + a Deployment per version, the Istio rules unchanged', async () => {
    const out = join(work, 'sample');
    await exportSample(out);
    const kustomization = parseAllDocuments(readFileSync(join(out, 'kustomization.yaml'), 'utf8'))[0]!.toJS();
    expect(kustomization).toEqual({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      namespace: 'default',
      resources: ['namespace.yaml', 'caller-service.yaml', 'callme-service.yaml', 'greeter-service.yaml', 'istio/caller-service.yaml', 'istio/callme-service.yaml', 'istio/greeter-service.yaml'],
    });
    const docs = ['namespace.yaml', 'caller-service.yaml', 'callme-service.yaml', 'greeter-service.yaml'].flatMap((f) => parseAllDocuments(readFileSync(join(out, f), 'utf8')).map((d) => d.toJS() as Record<string, any>));
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual([
      'Namespace/default',
      'ServiceAccount/caller-service', 'Service/caller-service', 'Deployment/caller-service-v1',
      'ServiceAccount/callme-service', 'Service/callme-service', 'Deployment/callme-service-v1', 'Deployment/callme-service-v2',
      'ServiceAccount/greeter-service', 'Service/greeter-service', 'Deployment/greeter-service-v1', 'Deployment/greeter-service-v2',
    ]);
    expect(docs[0]!.metadata.labels).toEqual({ 'istio-injection': 'enabled' });
    const v2 = docs.find((d) => d.metadata.name === 'callme-service-v2')!;
    expect(v2.spec.replicas).toBe(2);
    expect(v2.spec.selector.matchLabels).toEqual({ app: 'callme-service', version: 'v2' });
    expect(v2.spec.template.metadata.labels).toEqual({ app: 'callme-service', version: 'v2' });
    const c = v2.spec.template.spec.containers[0];
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8080 }]);
    expect(c.env).toEqual([{ name: 'VERSION', value: 'v2' }]);
    expect(c.readinessProbe).toEqual({ httpGet: { path: '/actuator/health', port: 'http' }, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 3 });
    expect(v2.spec.template.spec.serviceAccountName).toBe('callme-service');
    const svc = docs.find((d) => d.kind === 'Service' && d.metadata.name === 'callme-service')!;
    // meshbox.yaml's `port:` is an unnamed port: so is the Service's (Istio detects its protocol, as meshbox does)
    expect(svc.spec).toEqual({ selector: { app: 'callme-service' }, ports: [{ port: 8080, targetPort: 'http' }] });
    // the Istio resources: byte for byte the rules folder's files
    expect(readFileSync(join(out, 'istio/callme-service.yaml'), 'utf8')).toBe(readFileSync(join(sampleMeshFile(), '../rules/callme-service.yaml'), 'utf8'));
    // what the API server checks (the Kubernetes OpenAPI schemas, strict on unknown fields; more in export-api-schemas.test.ts)
    for (const d of docs) expect(apiServerErrors(d), `${d.kind} ${d.metadata.name}`).toEqual([]);
    const typo = structuredClone(v2);
    typo.spec.template.spec.containers[0].containerport = 8080;
    expect(apiServerErrors(typo)).toEqual(['/spec/template/spec/containers/0 unknown field "containerport"']);
    // the Istio resources pass meshbox's schemas (modelled on Istio's CRDs) with no error
    const rules = await validatePaths([join(out, 'istio')]);
    expect(rules.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(rules.resources.map((r) => `${r.kind}/${r.metadata.name}`).sort()).toEqual(['DestinationRule/caller-service-destination', 'DestinationRule/callme-service-destination', 'DestinationRule/greeter-service-destination', 'Gateway/caller-gateway', 'VirtualService/caller-service-route', 'VirtualService/callme-service-route', 'VirtualService/greeter-service-route']);
  });

  it('round trip: export, then read the export back, gives the same mesh (workloads, labels, env, health, commands, routes)', async () => {
    const out = join(work, 'round-trip');
    const { mesh } = await exportSample(out);
    const back = await importManifests([out], { runtime: 'process' });
    expect(back.findings.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(shape(back.mesh!)).toEqual(shape(mesh));
    // the Istio kinds come back as rules
    const rules = await validatePaths(back.mesh!.ruleFiles!, { mesh: back.mesh! });
    const original = await validatePaths([mesh.rulesDir!], { mesh });
    expect(rules.resources.map((r) => JSON.stringify([r.kind, r.metadata.name, r.spec]))).toEqual(original.resources.map((r) => JSON.stringify([r.kind, r.metadata.name, r.spec])));
    expect(back.serviceAccounts).toEqual({ 'caller-service-v1': 'caller-service', 'callme-service-v1': 'callme-service', 'callme-service-v2': 'callme-service', 'greeter-service-v1': 'greeter-service', 'greeter-service-v2': 'greeter-service' });
  });

  it('maps an HTTP-only meshbox Fault to an Istio VirtualService fault, leaves out the rest with a note; writes skaffold.yaml for built images', async () => {
    const project = join(work, 'faulty');
    mkdirSync(join(project, 'rules'), { recursive: true });
    mkdirSync(join(project, 'api'));
    writeFileSync(join(project, 'api', 'Dockerfile'), 'FROM scratch\n');
    writeFileSync(join(project, 'meshbox.yaml'), 'services:\n  api:\n    port: 8080\n    build: { context: ./api, args: { MODE: dev } }\n  db:\n    port: 5432\n    image: example/db:1\n');
    writeFileSync(
      join(project, 'rules', 'faults.yaml'),
      [
        'apiVersion: meshbox.dev/v1alpha1\nkind: Fault\nmetadata: { name: slow-api }\nspec:\n  target: { service: api, subset: v1 }\n  match: { pathPrefix: /orders }\n  http:\n    delay: { fixedDelayMs: 250, percent: 50 }\n    abort: { httpStatus: 503 }\n',
        'apiVersion: meshbox.dev/v1alpha1\nkind: Fault\nmetadata: { name: flaky-db }\nspec:\n  target: { service: db }\n  toxics: [{ type: latency, attributes: { latency: 100 } }]\n',
      ].join('---\n'),
    );
    const mesh = (await loadMeshFile(join(project, 'meshbox.yaml'))).mesh!;
    const out = join(work, 'faulty-out');
    const result = await exportManifests({ mesh, ruleFiles: (await expandRulePaths([mesh.rulesDir!])).files }, out);
    await writeExport(result, out);
    const vs = parseAllDocuments(readFileSync(join(out, 'faults.yaml'), 'utf8'))[0]!.toJS();
    expect(vs).toEqual({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'slow-api-fault' },
      spec: {
        hosts: ['api'],
        http: [
          { match: [{ uri: { prefix: '/orders' } }], fault: { delay: { fixedDelay: '250ms', percentage: { value: 50 } }, abort: { httpStatus: 503, percentage: { value: 100 } } }, route: [{ destination: { host: 'api', subset: 'v1' } }] },
          { route: [{ destination: { host: 'api' } }] },
        ],
      },
    });
    expect(result.notes.map((n) => n.message)).toEqual(expect.arrayContaining([expect.stringMatching(/Fault flaky-db: network toxics .* left out/), expect.stringMatching(/Fault slow-api: mapped to the Istio VirtualService slow-api-fault/)]));
    expect(result.files.map((f) => f.path)).not.toContain('istio/faults.yaml');
    const valid = await validatePaths([join(out, 'faults.yaml')]);
    expect(valid.findings.filter((f) => f.severity === 'error')).toEqual([]);
    const skaffold = parseAllDocuments(readFileSync(join(out, 'skaffold.yaml'), 'utf8'))[0]!.toJS();
    expect(skaffold.build.artifacts).toEqual([{ image: 'api', context: '../faulty/api', docker: { dockerfile: 'Dockerfile', buildArgs: { MODE: 'dev' } } }]);
    // and the build recipe is what `meshbox up -f` uses for the image with Docker
    const back = await importManifests([out], { runtime: 'docker', imageExists: async (i) => i === 'example/db:1' });
    const api = back.mesh!.services.find((s) => s.name === 'api')!.workloads[0]!;
    expect(api.build).toEqual({ context: join(project, 'api'), dockerfile: 'Dockerfile', args: { MODE: 'dev' } });
    expect(back.mesh!.services.find((s) => s.name === 'db')!.workloads[0]!.image).toBe('example/db:1');
  });
});
