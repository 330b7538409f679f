import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRules, parseRulesText } from '../../../sandbox/config/rules-loader.js';
import { isRuleFileName } from '../../../sandbox/config/rule-sources.js';
import { at, code, meshOf, withCode } from './helpers.js';

const FIXTURES = 'test/fixtures/config';
const MIXED = `${FIXTURES}/rules-mixed`;

describe('isRuleFileName', () => {
  it.each([
    ['a.yaml', true],
    ['b.yml', true],
    ['C.YAML', true],
    ['.#a.yaml', false],
    ['.hidden.yaml', false],
    ['#a.yaml#', false],
    ['a.yaml~', false],
    ['.a.yaml.swp', false],
    ['notes.txt', false],
  ])('%s -> %s', (name, ok) => expect(isRuleFileName(name)).toBe(ok));
});

describe('loadRules', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshbox-rules-'));
    await cp(MIXED, dir, { recursive: true });
    await writeFile(join(dir, '.#10-good.yaml'), 'spec: [broken\n');
    await writeFile(join(dir, '10-good.yaml~'), 'spec: [broken\n');
    await writeFile(join(dir, '.10-good.yaml.swp'), 'spec: [broken\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads *.yaml and *.yml of a folder, sorted by name, not recursive, ignoring temp files', async () => {
    const r = await loadRules([dir], { analyze: false });
    expect(r.files.map((f) => f.file)).toEqual(['10-good.yaml', '20-broken.yaml', '30-other-kinds.yml'].map((n) => join(dir, n)));
  });

  it('applies a file without errors and not a file with one', async () => {
    const r = await loadRules([MIXED]);
    const [good, broken, other] = r.files;
    expect(good).toMatchObject({ applied: true });
    expect(good!.resources.map((x) => `${x.kind}/${x.metadata.name}`)).toEqual(['DestinationRule/callme', 'VirtualService/callme']);
    expect(broken).toMatchObject({ applied: false, resources: [] });
    expect(withCode(broken!.findings, 'WRONG_TYPE')[0]).toMatchObject({ location: { file: `${MIXED}/20-broken.yaml`, line: 22, col: 14 } });
    expect(other).toMatchObject({ applied: true });
    expect(other!.resources.map((x) => `${x.kind}/${x.metadata.name}`)).toEqual(['AuthorizationPolicy/allow-post']);
    expect(r.resources.map((x) => x.metadata.name)).toEqual(['callme', 'callme', 'allow-post']);
  });

  it('reports other kinds by severity without blocking', async () => {
    const r = await loadRules([MIXED]);
    const other = r.files[2]!;
    expect(other.findings.map((f) => [f.severity, f.code, at(f)])).toEqual([
      ['info', code('KUBERNETES_KIND_IGNORED'), '9:7'],
      ['warning', code('UNKNOWN_KIND'), '16:7'],
    ]);
  });

  it('keeps the path form the user gave and includes every finding', async () => {
    const r = await loadRules([MIXED, `${FIXTURES}/missing-folder`, `${FIXTURES}/empty-folder`]);
    expect(r.files[0]!.file).toBe(`${MIXED}/10-good.yaml`);
    expect(withCode(r.findings, 'PATH_NOT_FOUND')[0]).toMatchObject({ severity: 'error', message: `${FIXTURES}/missing-folder does not exist` });
    expect(withCode(r.findings, 'FOLDER_EMPTY')[0]).toMatchObject({ severity: 'info' });
    expect(r.findings.length).toBe(r.files.flatMap((f) => f.findings).length + 2);
  });

  it('loads single files whatever their name', async () => {
    const r = await loadRules([`${MIXED}/10-good.yaml`, `${MIXED}/notes.txt`]);
    expect(r.files.map((f) => f.applied)).toEqual([true, false]);
  });

  it('runs the analyzer; host and workload checks need the mesh', async () => {
    const rules = `${FIXTURES}/mesh-project/rules`;
    const without = await loadRules([rules]);
    expect(withCode(without.findings, 'HOST_NOT_FOUND')).toEqual([]);
    expect(withCode(without.findings, 'SUBSET_NOT_FOUND').map((f) => f.message)).toEqual([
      'subset `v1` of host `callme-servce` is not defined in any DestinationRule: requests routed there get 503 NC (cluster_not_found)',
    ]);
    const withMesh = await loadRules([rules], { mesh: meshOf({ 'caller-service': ['v1'], 'callme-service': ['v1', 'v2'] }) });
    expect(withCode(withMesh.findings, 'HOST_NOT_FOUND').map((f) => f.hint)).toEqual(['did you mean `callme-service`?']);
    expect(withCode(withMesh.findings, 'SUBSET_NO_WORKLOADS')).toHaveLength(1);
    expect(withMesh.mesh?.name).toBe('test');
    expect((await loadRules([rules], { analyze: false })).findings).toEqual([]);
  });

  it('skips a meshbox.yaml found in a rules folder', async () => {
    const r = await loadRules([`${FIXTURES}/mesh-project`], { analyze: false });
    expect(r.files).toEqual([]);
  });
});

describe('parseRulesText', () => {
  it('is pure and keeps document order and indexes', () => {
    const text = [
      'apiVersion: networking.istio.io/v1',
      'kind: Gateway',
      'metadata: {name: g}',
      'spec: {servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]}',
      '---',
      '---',
      'apiVersion: networking.istio.io/v1',
      'kind: DestinationRule',
      'metadata: {name: d, namespace: prod}',
      'spec: {host: a}',
      '---',
    ].join('\n');
    const r = parseRulesText(text, 'inline.yaml');
    expect(r).toMatchObject({ file: 'inline.yaml', applied: true, findings: [] });
    expect(r.resources.map((x) => [x.kind, x.metadata.namespace, x.source.line, x.source.docIndex])).toEqual([
      ['Gateway', 'default', 1, 0],
      ['DestinationRule', 'prod', 7, 2],
    ]);
    expect(r.resources[1]!.locate(['spec', 'host'])).toEqual({ file: 'inline.yaml', line: 10, col: 14 });
    expect(r.resources[1]!.locate(['spec', 'subsets', 0])).toEqual({ file: 'inline.yaml', line: 10, col: 1 });
  });

  it('does not apply a file with a YAML syntax error', () => {
    const r = parseRulesText('apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d}\nspec: {host: a\n', 'x.yaml');
    expect(r.applied).toBe(false);
    expect(r.findings[0]!.code).toBe(code('YAML_SYNTAX'));
  });
});
