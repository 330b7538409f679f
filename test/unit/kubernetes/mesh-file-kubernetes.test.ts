import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { parseMeshText } from '../../../sandbox/config/mesh-file.js';
import { withKubernetes } from '../../../sandbox/kubernetes/import-mesh.js';

const FIX = join(__dirname, '../../fixtures/kubernetes');

describe('meshbox.yaml `kubernetes:` and `images:`', () => {
  it('adds the services of the manifests to its own, with the process commands of `images:`', async () => {
    const file = join(FIX, 'meshbox.yaml');
    const text = [
      'kubernetes: [sample-shape/callme]',
      'images:',
      '  example/callme-service: { command: node callme.js, cwd: app, health: /healthz, watch: { paths: [app] } }',
      'services:',
      '  web: { port: 3000, command: node web.js }',
      '',
    ].join('\n');
    const parsed = parseMeshText(text, file);
    expect(parsed.findings).toEqual([]);
    expect(parsed.mesh!.kubernetes).toEqual({
      paths: [join(FIX, 'sample-shape/callme')],
      images: { 'example/callme-service': { command: ['/bin/sh', '-c', 'node callme.js'], cwd: join(FIX, 'app'), health: '/healthz', watch: { paths: [join(FIX, 'app')], ignore: [], action: 'restart', cwd: join(FIX, 'app') } } },
    });
    const merged = await withKubernetes(parsed.mesh!, { runtime: 'process' });
    expect(merged.findings.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(merged.mesh!.services.map((s) => `${s.name}:${s.port} ${s.workloads.map((w) => `${w.workload}x${w.replicas}`).join(',')}`)).toEqual(['web:3000 web-v1x1', 'callme-service:8080 callme-service-v1x1,callme-service-v2x2']);
    const callme = merged.mesh!.services[1]!;
    expect(callme.workloads[0]).toMatchObject({ command: ['/bin/sh', '-c', 'node callme.js'], cwd: join(FIX, 'app'), health: { path: '/healthz' }, env: { VERSION: 'v1' } });
    expect(callme.watch?.paths).toEqual([join(FIX, 'app')]);
    expect(merged.mesh!.ruleFiles).toEqual([join(FIX, 'sample-shape/callme/istio-rules.yaml')]);
  });

  it('still requires `services:` when there are no manifests, and checks `kubernetes:` types', () => {
    const none = parseMeshText('name: x\n', join(FIX, 'meshbox.yaml'));
    expect(none.findings.map((f) => `${f.code} ${f.message}`)).toEqual(['MB1102 (document): missing required field `services`']);
    const wrong = parseMeshText('kubernetes: ./k8s\n', join(FIX, 'meshbox.yaml'));
    expect(wrong.findings.map((f) => `${f.code} ${f.location?.line}:${f.location?.col}`)).toEqual(['MB1101 1:13']);
  });
});
