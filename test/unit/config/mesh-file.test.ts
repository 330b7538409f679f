import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { loadMeshFile, parseMeshText } from '../../../sandbox/config/mesh-file.js';
import type { MeshLoadResult } from '../../../sandbox/config/mesh-file.js';
import { DEFAULT_HEALTH, DEFAULT_START_TIMEOUT_MS } from '../../../sandbox/config/mesh-types.js';
import type { FindingCodeName } from '../../../sandbox/config/codes.js';
import { at, code, pos } from './helpers.js';

const FILE = '/project/meshbox.yaml';

function ok(text: string): NonNullable<MeshLoadResult['mesh']> {
  const r = parseMeshText(text, FILE);
  if (!r.mesh) throw new Error(`expected a mesh, got:\n${r.findings.map((f) => `${f.code} ${at(f)} ${f.message}`).join('\n')}`);
  expect(r.findings.filter((f) => f.severity === 'error')).toEqual([]);
  return r.mesh;
}

function bad(text: string, name: FindingCodeName, e: { atText?: string; at?: string; message?: string; hint?: string } = {}): void {
  const r = parseMeshText(text, FILE);
  expect(r.mesh).toBeUndefined();
  const f = r.findings.find((x) => x.code === code(name));
  if (!f) throw new Error(`no ${name}; got:\n${r.findings.map((x) => `${x.code} ${at(x)} ${x.message}`).join('\n')}`);
  if (e.atText) expect(at(f)).toBe(pos(text, e.atText));
  if (e.at) expect(at(f)).toBe(e.at);
  if (e.message) expect(f.message).toContain(e.message);
  if (e.hint) expect(f.hint).toContain(e.hint);
}

describe('meshbox.yaml: defaults', () => {
  it('fills every default for a minimal file', () => {
    const mesh = ok('services:\n  callme-service:\n    port: 8080\n    command: node main.js\n');
    expect(mesh).toEqual({
      file: FILE,
      name: 'project',
      namespace: 'default',
      rulesDir: '/project/rules',
      ingress: { host: '127.0.0.1', port: 8080, labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' } },
      services: [
        {
          name: 'callme-service',
          port: 8080,
          // an unnamed port: detected per connection, as Istio does (HTTP on it is served as HTTP)
          protocol: 'unknown',
          location: { file: FILE, line: 2, col: 3 },
          workloads: [
            {
              service: 'callme-service',
              version: 'v1',
              workload: 'callme-service-v1',
              replicas: 1,
              command: ['/bin/sh', '-c', 'node main.js'],
              cwd: '/project',
              env: {},
              labels: { app: 'callme-service', version: 'v1' },
              health: { path: '/', ...DEFAULT_HEALTH },
              startTimeoutMs: DEFAULT_START_TIMEOUT_MS,
              serviceAccount: 'callme-service',
            },
          ],
        },
      ],
    });
  });

  it('takes name, namespace, rules, ingress and service-level replicas', () => {
    const mesh = ok('name: demo\nnamespace: shop\nrules: ../istio\ningress: {host: 0.0.0.0, port: 9000}\nservices:\n  a:\n    port: 80\n    image: a:1\n    replicas: 3\n');
    expect(mesh).toMatchObject({ name: 'demo', namespace: 'shop', rulesDir: '/istio', ingress: { host: '0.0.0.0', port: 9000 } });
    expect(mesh.services[0]!.workloads[0]).toMatchObject({ replicas: 3, image: 'a:1', version: 'v1' });
    expect(mesh.services[0]!.workloads[0]!.command).toBeUndefined();
  });

  it("takes the ingress gateway's gatewayTopology.numTrustedProxies (Istio's ProxyConfig); absent by default", () => {
    const mesh = ok('ingress:\n  gatewayTopology: { numTrustedProxies: 2 }\nservices:\n  a: { port: 80, image: a:1 }\n');
    expect(mesh.ingress).toMatchObject({ host: '127.0.0.1', port: 8080, gatewayTopology: { numTrustedProxies: 2 } });
    expect(ok('services:\n  a: { port: 80, image: a:1 }\n').ingress.gatewayTopology).toBeUndefined();
    const text = 'ingress:\n  gatewayTopology: { numTrustedProxies: -1 }\nservices:\n  a: { port: 80, image: a:1 }\n';
    const r = parseMeshText(text, FILE);
    expect(r.mesh).toBeUndefined();
    expect(r.findings.filter((f) => f.severity === 'error').map(at)).toEqual([pos(text, '-1')]);
  });

  it("takes Istio's MeshConfig trustDomain and trustDomainAliases; a trust domain with a slash is an error", () => {
    const mesh = ok('trustDomain: example.org\ntrustDomainAliases: [cluster.local, old.example]\nservices:\n  a: { port: 80, image: a:1 }\n');
    expect(mesh).toMatchObject({ trustDomain: 'example.org', trustDomainAliases: ['cluster.local', 'old.example'] });
    expect(ok('services:\n  a: { port: 80, image: a:1 }\n').trustDomain).toBeUndefined();
    const text = 'trustDomain: example.org/x\nservices:\n  a: { port: 80, image: a:1 }\n';
    expect(parseMeshText(text, FILE).findings.filter((f) => f.severity === 'error').map(at)).toEqual([pos(text, 'example.org/x')]);
  });
});

describe('meshbox.yaml: versions and merging', () => {
  const text = [
    'services:',
    '  callme-service:',
    '    port: 8080',
    '    command: [node, main.js]',
    '    cwd: ./callme',
    '    env: {LOG: debug, RETRIES: 3, VERBOSE: true}',
    '    labels: {team: core}',
    '    health: {path: /actuator/health, interval: 5s}',
    '    startTimeout: 1m',
    '    replicas: 2',
    '    versions:',
    '      v1: {env: {VERSION: v1}}',
    '      v2:',
    '        replicas: 1',
    '        env: {VERSION: v2, LOG: info}',
    '        labels: {canary: "true"}',
    '        health: /ready',
    '        command: node v2.js',
    '        cwd: /opt/v2',
    '        workload: callme-canary',
    '      v3: {build: ./v3, replicas: 0}',
    '      v4: {build: {context: ./v4, dockerfile: Dockerfile.dev, args: {NODE: 20}}}',
  ].join('\n');

  it('merges env and labels, overrides the rest, resolves paths', () => {
    const [v1, v2, v3, v4] = ok(text).services[0]!.workloads;
    expect(v1).toMatchObject({
      workload: 'callme-service-v1',
      replicas: 2,
      command: ['node', 'main.js'],
      cwd: '/project/callme',
      env: { LOG: 'debug', RETRIES: '3', VERBOSE: 'true', VERSION: 'v1' },
      labels: { team: 'core', app: 'callme-service', version: 'v1' },
      health: { path: '/actuator/health', intervalMs: 5000, timeoutMs: 1000, unhealthyThreshold: 3 },
      startTimeoutMs: 60_000,
    });
    expect(v2).toMatchObject({
      workload: 'callme-canary',
      replicas: 1,
      command: ['/bin/sh', '-c', 'node v2.js'],
      cwd: '/opt/v2',
      env: { LOG: 'info', RETRIES: '3', VERBOSE: 'true', VERSION: 'v2' },
      labels: { team: 'core', canary: 'true', app: 'callme-service', version: 'v2' },
      health: { path: '/ready', intervalMs: 2000 },
    });
    expect(v3).toMatchObject({ replicas: 0, build: { context: resolve('/project/v3'), dockerfile: 'Dockerfile', args: {} } });
    expect(v4!.build).toEqual({ context: '/project/v4', dockerfile: 'Dockerfile.dev', args: { NODE: '20' } });
  });

  it('loads the fixture file from disk with absolute paths', async () => {
    const r = await loadMeshFile('test/fixtures/config/mesh-project/meshbox.yaml');
    expect(r.findings).toEqual([]);
    expect(r.mesh!.file).toBe(resolve('test/fixtures/config/mesh-project/meshbox.yaml'));
    expect(r.mesh!.rulesDir).toBe(resolve('test/fixtures/config/mesh-project/rules'));
    expect(r.mesh!.services.map((s) => [s.name, s.workloads.map((w) => `${w.workload}x${w.replicas}`)])).toEqual([
      ['caller-service', ['caller-service-v1x1']],
      ['callme-service', ['callme-service-v1x1', 'callme-service-v2x2']],
    ]);
  });
});

describe('meshbox.yaml: errors with locations', () => {
  it('reports a missing file as MB3001', async () => {
    const r = await loadMeshFile('test/fixtures/config/nope/meshbox.yaml');
    expect(r.mesh).toBeUndefined();
    expect(r.findings).toEqual([expect.objectContaining({ severity: 'error', code: 'MB3001', message: 'test/fixtures/config/nope/meshbox.yaml does not exist' })]);
  });

  it('reports unknown fields with did-you-mean', () => {
    bad('services:\n  a:\n    port: 80\n    comand: node x.js\n', 'UNKNOWN_FIELD', { at: '4:5', message: 'services.a: unknown field `comand`', hint: 'did you mean `command`?' });
    bad('service:\n  a: {port: 80}\n', 'UNKNOWN_FIELD', { hint: '`services`' });
    bad('services:\n  a:\n    port: 80\n    command: x\n    versions:\n      v1: {replica: 2}\n', 'UNKNOWN_FIELD', { atText: 'replica', hint: '`replicas`' });
  });

  it('reports wrong types', () => {
    bad('services:\n  a:\n    port: "80"\n    command: x\n', 'WRONG_TYPE', { atText: '"80"', hint: 'remove the quotes' });
    bad('services:\n  a:\n    port: 80\n    command: {run: x}\n', 'WRONG_TYPE', { message: 'must be a string or a list (`- item` lines)' });
    bad('services:\n  a:\n    port: 80\n    command: x\n    env: {A: [1]}\n', 'WRONG_TYPE', { atText: 'A:', message: 'services.a.env.A must be a string, a number or a boolean' });
    bad('services:\n  a:\n    port: 80\n    command: []\n', 'EMPTY_VALUE');
    bad('services: {}\n', 'EMPTY_VALUE', { message: 'services is empty' });
    bad('name: x\n', 'MISSING_FIELD', { at: '1:1', message: 'missing required field `services`' });
  });

  it('requires a way to start each workload', () => {
    bad('services:\n  a:\n    port: 80\n', 'MESH_NO_START', { at: '2:3', message: 'services.a: no `command`, `image` or `build`' });
    bad('services:\n  a:\n    port: 80\n    versions:\n      v1: {command: x}\n      v2: {replicas: 1}\n', 'MESH_NO_START', { atText: 'v2', message: 'services.a.versions.v2' });
  });

  it('checks ports, replicas and durations', () => {
    bad('services:\n  a:\n    port: 70000\n    command: x\n', 'OUT_OF_RANGE', { atText: '70000', message: 'between 1 and 65535' });
    bad('services:\n  a:\n    port: 80\n    command: x\n    replicas: 51\n', 'OUT_OF_RANGE', { message: 'between 0 and 50' });
    bad('services:\n  a:\n    port: 80\n    command: x\n    replicas: 1.5\n', 'WRONG_TYPE');
    bad('services:\n  a:\n    port: 80\n    command: x\n    startTimeout: 30\n', 'WRONG_TYPE', { hint: '`30s`' });
    bad('services:\n  a:\n    port: 80\n    command: x\n    health: {path: /h, timeout: 1 s}\n', 'INVALID_DURATION');
    bad('services:\n  a:\n    port: 80\n    command: x\n    health: health\n', 'SCHEMA_VIOLATION', { message: 'not in the expected form' });
  });

  it('checks service, version and env names', () => {
    bad('services:\n  Callme_Service:\n    port: 80\n    command: x\n', 'INVALID_NAME', { at: '2:3', message: 'key "Callme_Service" is not a valid name', hint: '`callme_service`'.replace('_', '-') });
    bad('services:\n  a:\n    port: 80\n    command: x\n    versions:\n      V1: {}\n', 'INVALID_NAME', { atText: 'V1' });
    bad('services:\n  a:\n    port: 80\n    command: x\n    env: {"1BAD": x}\n', 'INVALID_NAME', { message: 'environment variable' });
  });

  it('reports duplicate service names (YAML duplicate keys)', () => {
    bad('services:\n  a:\n    port: 80\n    command: x\n  a:\n    port: 81\n    command: y\n', 'YAML_DUPLICATE_KEY', { at: '5:3' });
  });

  it('refuses app and version in labels', () => {
    bad('services:\n  a:\n    port: 80\n    command: x\n    labels: {version: v9}\n', 'MESH_RESERVED_LABEL', { atText: 'version', hint: '`versions:`' });
    bad('services:\n  a:\n    port: 80\n    command: x\n    versions:\n      v1: {labels: {app: b}}\n', 'MESH_RESERVED_LABEL', { atText: 'app' });
  });

  it('refuses two workloads with the same name', () => {
    bad('services:\n  a-b:\n    port: 80\n    command: x\n    versions: {c: {}}\n  a:\n    port: 80\n    command: x\n    versions: {b-c: {}}\n', 'MESH_DUPLICATE_WORKLOAD', { message: 'workload name `a-b-c`' });
  });

  it('rejects an empty file, several documents, a list', () => {
    bad('', 'MESH_UNREADABLE', { message: 'is empty' });
    bad('services: {a: {port: 1, command: x}}\n---\nservices: {}\n', 'MESH_UNREADABLE', { at: '3:1', message: 'holds 2 documents' });
    bad('- a\n', 'MESH_UNREADABLE', { message: 'is not a mapping' });
    bad('services: [\n', 'YAML_SYNTAX');
  });
});

describe('meshbox.yaml: outboundTrafficPolicy', () => {
  it('reads Istio\'s mode; anything else is an error at the value', () => {
    const base = 'services:\n  a:\n    port: 8080\n    command: node main.js\n';
    expect(ok(`outboundTrafficPolicy: { mode: REGISTRY_ONLY }\n${base}`).outboundTrafficPolicy).toEqual({ mode: 'REGISTRY_ONLY' });
    expect(ok(base).outboundTrafficPolicy).toBeUndefined();
    bad(`outboundTrafficPolicy: { mode: DENY }\n${base}`, 'VALUE_NOT_ALLOWED', { atText: 'DENY' });
  });
});
