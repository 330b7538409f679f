import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { importManifests } from '../../../sandbox/kubernetes/import-mesh.js';
import type { Finding } from '../../../sandbox/config/findings.js';

const FIX = join(__dirname, '../../fixtures/kubernetes');
const where = (f: Finding): string => `${f.location?.file.split('/').slice(-2).join('/')}:${f.location?.line}:${f.location?.col}`;
const byCode = (fs: Finding[], code: string): Finding[] => fs.filter((f) => f.code === code);

describe('importManifests: Deployments, StatefulSets, Services, ConfigMaps, Secrets', () => {
  it('builds the mesh model meshbox.yaml would: workloads per version, labels, env, probes, replicas', async () => {
    const r = await importManifests([join(FIX, 'shop')], { runtime: 'process', images: { 'example/catalog': { command: ['node', 'v2.js'], cwd: '/srv' } } });
    expect(r.mesh).toBeDefined();
    const svc = r.mesh!.services.find((s) => s.name === 'catalog')!;
    expect(svc.port).toBe(9000);
    const [v1, v2] = svc.workloads;
    expect(v1).toMatchObject({ workload: 'catalog-v1', version: 'v1', replicas: 2, command: ['/bin/sh', '-c', 'node catalog.js'], labels: { app: 'catalog', version: 'v1', team: 'shop' } });
    expect(v1!.env).toEqual({ CURRENCY: 'EUR', PAGE_SIZE: '20', VERSION: 'v1', DB_PASSWORD: 's3cr3t' });
    expect(v1!.health).toEqual({ path: '/ready', intervalMs: 5000, timeoutMs: 2000, unhealthyThreshold: 4 });
    expect(v2).toMatchObject({ workload: 'catalog-v2', version: 'v2', replicas: 1, command: ['node', 'v2.js'], cwd: '/srv', env: { VERSION: 'v2' } });
    expect(r.serviceAccounts).toEqual({ 'catalog-v1': 'catalog', 'catalog-v2': 'default' });
    expect([v1!.serviceAccount, v2!.serviceAccount]).toEqual(['catalog', 'default']);
    // the Istio kinds of the same file are rules
    expect(r.mesh!.ruleFiles).toEqual([join(FIX, 'shop/app.yaml')]);
  });

  it('reports once, with file:line:col, what one machine cannot honour, and keeps the workload', async () => {
    const r = await importManifests([join(FIX, 'shop')], { runtime: 'process', images: { 'example/catalog': { command: ['node'], cwd: '/' } } });
    const warn = byCode(r.findings, 'MB4001').map((f) => `${where(f)} ${f.message}`);
    expect(warn).toEqual([
      expect.stringMatching(/^shop\/app.yaml:33:7 .*`nodeSelector` is not honoured/),
      expect.stringMatching(/^shop\/app.yaml:54:11 .*volume `data` \(persistentVolumeClaim\) is not mounted/),
      expect.stringMatching(/^shop\/app.yaml:51:11 .*`resources`/),
    ]);
    // a tcpSocket probe is a TCP health check
    expect(r.mesh!.services[0]!.workloads[1]!.health).toMatchObject({ kind: 'tcp' });
    expect(r.findings.filter((f) => f.severity === 'error')).toEqual([]);
  });

  it('expands kustomize folders: resources, namePrefix (also on env references), commonLabels, images', async () => {
    const r = await importManifests([join(FIX, 'kustomize')], { runtime: 'process', images: { 'example/greeter': { command: ['node', 'g.js'], cwd: '/' } } });
    expect(r.mesh!.services.map((s) => s.name)).toEqual(['dev-greeter']);
    const w = r.mesh!.services[0]!.workloads[0]!;
    expect(w).toMatchObject({ workload: 'dev-greeter', image: 'example/greeter:3.1', env: { GREETING: 'hello' }, labels: { app: 'greeter', env: 'dev', version: 'v1' } });
    const patches = byCode(r.findings, 'MB4001');
    expect(patches.map((f) => `${where(f)} ${f.message}`)).toEqual([expect.stringMatching(/^kustomize\/kustomization.yaml:12:1 kustomization `patches` is not applied/)]);
  });
});

describe('importManifests: bad input, each one message with its location, the rest still comes up', () => {
  it('YAML errors, schema errors, selector mismatch, a Service selecting nothing, duplicate ports, unbuildable images, an unsupported builder', async () => {
    const r = await importManifests([join(FIX, 'bad')], { runtime: 'docker', imageExists: async () => false });
    const lines = r.findings.map((f) => `${f.severity} ${f.code} ${where(f)} ${f.message}`);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^error MB1001 bad\/broken.yaml:8:1 YAML syntax error/),
        expect.stringMatching(/^error MB1101 bad\/apps.yaml:38:13 Deployment twice: .*replicas/),
        expect.stringMatching(/^error MB4002 bad\/apps.yaml:6:3 Deployment mismatch: `selector.matchLabels` \{"app":"mismatch"\} does not match/),
        expect.stringMatching(/^warning MB4003 bad\/apps.yaml:20:3 Service lonely: its selector \{"app":"nobody"\} matches no Deployment/),
        expect.stringMatching(/^error MB4004 bad\/apps.yaml:31:33 Service twice: port 8080 is declared twice/),
        expect.stringMatching(/^error MB4005 bad\/apps.yaml:60:31 Deployment nowhere: image example\/nowhere:1.0 is not in the local Docker image store and has no build recipe/),
        expect.stringMatching(/^error MB4006 bad\/skaffold.yaml:6:7 skaffold artifact example\/jibbed: the `jib` builder is not supported/),
      ]),
    );
    const nowhere = r.findings.find((f) => f.code === 'MB4005')!;
    // the skaffold.yaml beside the manifests is the one to add the artifact to
    expect(nowhere.hint).toBe(`add \`{ image: example/nowhere, context: <folder with its Dockerfile> }\` to \`build.artifacts\` of ${join(FIX, 'bad/skaffold.yaml')}, or a folder ${join(FIX, 'bad/nowhere')}/ holding its Dockerfile, or build it once (\`docker build -t example/nowhere:1.0 .\`); meshbox never pulls without --pull`);
    expect(r.findings.find((f) => f.code === 'MB4006')!.hint).toMatch(/jib:dockerBuild/);
    // the rest comes up: `fine` is built from its skaffold artifact
    expect(r.mesh!.services.map((s) => s.name)).toEqual(['fine']);
    expect(r.mesh!.services[0]!.workloads[0]!.build).toEqual({ context: join(FIX, 'bad/fine'), dockerfile: 'Dockerfile.dev', args: { MODE: 'dev' } });
  });

  it('Services a cluster takes but meshbox cannot run as written: two on the same pods and port, one defined twice, one selecting a dropped Deployment, an ExternalName; an unsupported builder with a Dockerfile folder', async () => {
    const r = await importManifests([join(FIX, 'bad-services')], { runtime: 'docker', imageExists: async (i) => i !== 'example/legacy:2.1' });
    const lines = r.findings.map((f) => `${f.severity} ${f.code} ${where(f)} ${f.message}`);
    expect(lines).toEqual([
      expect.stringMatching(/^warning MB2012 bad-services\/apps.yaml:38:1 Service cart is defined again at .*bad-services\/apps.yaml:46: that one is in effect, this one is ignored/),
      expect.stringMatching(/^error MB4002 bad-services\/apps.yaml:57:3 Deployment broken-selector: `selector.matchLabels` \{"app":"broken"\} does not match the pod template's labels \{"app":"brokn"\}/),
      expect.stringMatching(/^error MB4004 bad-services\/apps.yaml:25:3 Service shop-public selects the pods of Deployment shop, which Service shop already serves/),
      expect.stringMatching(/^warning MB4003 bad-services\/apps.yaml:67:3 Service broken: it selects Deployment broken-selector, which is not started \(its selector does not match its pod template: see the error at .*bad-services\/apps.yaml:57\)/),
      expect.stringMatching(/^warning MB4001 bad-services\/apps.yaml:74:9 Service payments: an ExternalName Service \(a DNS alias of payments.example.com\) has no workload/),
      expect.stringMatching(/^warning MB4006 bad-services\/skaffold.yaml:6:7 skaffold artifact example\/legacy: the `jib` builder is not supported by meshbox \(it builds with Docker only\): building .*bad-services\/legacy\/Dockerfile instead/),
    ]);
    // the rest comes up: shop under its first Service, cart on the port of its last definition, legacy built from legacy/
    expect(r.mesh!.services.map((s) => `${s.name}:${s.port} ${s.workloads.map((w) => w.workload).join(',')}`)).toEqual(['shop:8080 shop', 'cart:8081 cart', 'legacy:8080 legacy']);
    expect(r.mesh!.services[2]!.workloads[0]!.build).toEqual({ context: join(FIX, 'bad-services/legacy'), dockerfile: 'Dockerfile', args: {} });
  });

  it('Docker, no skaffold.yaml: the hint says to add one, or a folder named like the image', async () => {
    const r = await importManifests([join(FIX, 'dev/k8s')], { runtime: 'docker', imageExists: async () => false });
    const f = r.findings.find((x) => x.code === 'MB4005')!;
    expect(`${where(f)} ${f.message}`).toBe('k8s/apps.yaml:15:18 Deployment greeter: image example/greeter is not in the local Docker image store and has no build recipe');
    expect(f.hint).toBe(`add a ${join(FIX, 'dev/k8s/skaffold.yaml')} with \`build.artifacts: [{ image: example/greeter, context: <folder with its Dockerfile> }]\`, or a folder ${join(FIX, 'dev/k8s/greeter')}/ holding its Dockerfile, or build it once (\`docker build -t example/greeter .\`); meshbox never pulls without --pull`);
  });

  it("fields the Kubernetes API does not define there (its own schema), or values it rejects: a warning each with its location and what was meant; the workload still runs", async () => {
    const r = await importManifests([join(FIX, 'typos')], { runtime: 'process', images: { 'example/api': { command: ['node', 'api.js'], cwd: '/' } } });
    expect(byCode(r.findings, 'MB4011').map((f) => `${f.severity} ${where(f)} ${f.message} | ${f.hint}`)).toEqual([
      'warning typos/app.yaml:6:1 ServiceAccount api: `automountToken` is not a field of a ServiceAccount in the Kubernetes API (1.27 schema): meshbox ignores it, and `kubectl apply` rejects it | remove it, or move it where the API defines it',
      'warning typos/app.yaml:17:7 Deployment api: `terminationGracePeriod` is not a field of spec.template.spec in the Kubernetes API (1.27 schema): meshbox ignores it, and `kubectl apply` rejects it | did you mean `terminationGracePeriodSeconds`?',
      'warning typos/app.yaml:21:11 Deployment api: `readinesProbe` is not a field of spec.template.spec.containers[0] in the Kubernetes API (1.27 schema): meshbox ignores it, and `kubectl apply` rejects it | did you mean `readinessProbe`?',
      'warning typos/app.yaml:31:20 Service api: spec.sessionAffinity must be equal to one of the allowed values: ClientIP, None in the Kubernetes API (1.27 schema): `kubectl apply` rejects it | fix the value before applying to a cluster',
      'warning typos/app.yaml:32:37 Service api: `targetport` is not a field of spec.ports[0] in the Kubernetes API (1.27 schema): meshbox ignores it, and `kubectl apply` rejects it | did you mean `targetPort`?',
    ]);
    expect(r.findings.filter((f) => f.severity === 'error')).toEqual([]);
    // the misspelt probe is not the health check: the default one is (and the warning says why)
    expect(r.mesh!.services[0]!.workloads[0]!.health).toMatchObject({ kind: 'tcp' });
  });

  it('process runtime without a command: says to add the annotation or the meshbox.yaml entry', async () => {
    const r = await importManifests([join(FIX, 'build')], { runtime: 'process' });
    expect(r.mesh).toBeUndefined();
    const f = r.findings.find((x) => x.code === 'MB4005')!;
    expect(`${where(f)} ${f.message}`).toMatch(/^build\/app.yaml:13:35 Deployment greeter: image example\/greeter:dev cannot run as a process/);
    expect(f.hint).toMatch(/meshbox\.dev\/command.*images: \{ example\/greeter: \{ command/);
  });

  it('Docker runtime: a local image runs as it is; else a folder named like the image with a Dockerfile is built', async () => {
    const local = await importManifests([join(FIX, 'build')], { runtime: 'docker', imageExists: async (i) => i === 'example/greeter:dev' });
    expect(local.mesh!.services[0]!.workloads[0]).toMatchObject({ image: 'example/greeter:dev' });
    expect(local.mesh!.services[0]!.workloads[0]!.build).toBeUndefined();
    const built = await importManifests([join(FIX, 'build')], { runtime: 'docker', imageExists: async () => false });
    expect(built.mesh!.services[0]!.workloads[0]!.build).toEqual({ context: join(FIX, 'build/greeter'), dockerfile: 'Dockerfile', args: {} });
  });
});
