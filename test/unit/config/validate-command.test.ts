import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runValidate, sortFindings } from '../../../cli/commands/validate.js';
import { sampleMeshFile } from '../../../sandbox/paths.js';
import type { Finding } from '../../../sandbox/config/findings.js';
import { MeshError } from '../../../sandbox/errors.js';

const PROJECT = 'test/fixtures/config/mesh-project';
const MIXED = 'test/fixtures/config/rules-mixed';

function capture(): { out: string[]; err: string[]; io: { out: (l: string) => void; err: (l: string) => void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l) => out.push(l), err: (l) => err.push(l) } };
}

describe('meshbox validate', () => {
  const startDir = process.cwd();
  afterEach(() => process.chdir(startDir));

  it('prints findings sorted by file and line, then a summary; exit 0 with warnings only', async () => {
    const c = capture();
    const exit = await runValidate([`${PROJECT}/meshbox.yaml`], {}, c.io);
    expect(exit).toBe(0);
    expect(c.out).toEqual([
      `${PROJECT}/rules/callme.yaml:13:5: warning MB2003/IST0127 [DestinationRule default/callme]: subset \`v3\` (version=v3) selects no workload of callme-service: requests routed to it get 503 UH (no healthy upstream)`,
      '    hint: the workloads of callme-service are `version=v1` and `version=v2`; fix the labels or add the version to meshbox.yaml',
      `${PROJECT}/rules/callme.yaml:25:27: warning MB2001/IST0101 [VirtualService default/callme]: destination host \`callme-servce\` is not a service of this mesh: the rule is applied, and requests routed there get 503`,
      '    hint: did you mean `callme-service`?',
      '2 files, 2 resources: 0 errors, 2 warnings',
    ]);
    expect(c.err).toEqual([]);
  });

  it('exits 1 on errors and names the files that are not applied', async () => {
    const c = capture();
    const exit = await runValidate([MIXED], { config: `${PROJECT}/meshbox.yaml` }, c.io);
    expect(exit).toBe(1);
    expect(c.out).toContain(`${MIXED}/20-broken.yaml:22:14: error MB1101 [VirtualService default/caller]: spec.http[0].timeout must be a string, got 5 (an integer)`);
    // the subfolder too (recursive, as kubectl apply -R): nested/ignored.yaml is broken YAML
    expect(c.out.at(-2)).toBe('5 files, 3 resources: 2 errors, 1 warning, 1 info');
    expect(c.out.at(-1)).toBe(`not applied until their errors are fixed: ${MIXED}/20-broken.yaml, ${MIXED}/nested/ignored.yaml`);
  });

  it('prints JSON with --json', async () => {
    const c = capture();
    const exit = await runValidate([MIXED], { json: true }, c.io);
    expect(exit).toBe(1);
    expect(c.out).toHaveLength(1);
    const parsed = JSON.parse(c.out[0]!) as { ok: boolean; summary: Record<string, number>; files: Array<{ file: string; applied: boolean }>; findings: Finding[] };
    expect(parsed.ok).toBe(false);
    expect(parsed.summary).toEqual({ files: 4, resources: 3, errors: 2, warnings: 1, infos: 1 });
    expect(parsed.files.map((f) => [f.file.slice(MIXED.length + 1), f.applied])).toEqual([
      ['10-good.yaml', true],
      ['20-broken.yaml', false],
      ['30-other-kinds.yml', true],
      ['nested/ignored.yaml', false],
    ]);
    expect(parsed.findings[0]).toMatchObject({ severity: 'error', code: 'MB1101', location: { file: `${MIXED}/20-broken.yaml`, line: 22, col: 14 } });
  });

  it('throws MESH_ERR_CONFIG_NOT_FOUND for a --config that does not exist', async () => {
    const c = capture();
    await expect(runValidate([], { config: 'nope/meshbox.yaml' }, c.io)).rejects.toSatisfy((e: unknown) => e instanceof MeshError && e.code === 'MESH_ERR_CONFIG_NOT_FOUND');
  });

  it('reports a rules path that does not exist', async () => {
    const c = capture();
    expect(await runValidate(['no/such/rules'], {}, c.io)).toBe(1);
    expect(c.out[0]).toBe('error MB1009: no/such/rules does not exist');
  });

  it('descends into subfolders, as kubectl apply -R does: a broken manifest two folders down fails the run', async () => {
    const tree = 'test/fixtures/config/rules-tree';
    const c = capture();
    expect(await runValidate([tree], {}, c.io)).toBe(1);
    expect(c.out).toContain(`${tree}/team-b/canary/callme-route.yaml:11:14: error MB1101 [VirtualService default/callme-canary]: spec.http[0].timeout must be a string, got 2 (an integer)`);
    expect(c.out.at(-2)).toBe('2 files, 1 resource: 1 error, 0 warnings');
    expect(c.out.at(-1)).toBe(`not applied until their errors are fixed: ${tree}/team-b/canary/callme-route.yaml`);
  });

  it('exits 1 when a folder tree holds no *.yaml file at all', async () => {
    const c = capture();
    expect(await runValidate(['test/fixtures/config/empty-tree'], {}, c.io)).toBe(1);
    expect(c.out).toContain('error MB1015: no *.yaml or *.yml file found in test/fixtures/config/empty-tree (subfolders included): nothing was validated');
    expect(c.out.at(-1)).toBe('0 files, 0 resources: 1 error, 0 warnings');
  });

  it('without paths, validates ./meshbox.yaml and its rules folder', async () => {
    process.chdir(PROJECT);
    const c = capture();
    expect(await runValidate([], {}, c.io)).toBe(0);
    expect(c.out[0]).toMatch(/^rules\/callme\.yaml:13:5: warning MB2003/);
    expect(c.out.at(-1)).toBe('2 files, 2 resources: 0 errors, 2 warnings');
  });

  it('without paths and without ./meshbox.yaml, validates the bundled sample', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshbox-empty-'));
    try {
      process.chdir(dir);
      const c = capture();
      const exit = await runValidate([], {}, c.io);
      const sample = sampleMeshFile();
      expect(c.err).toEqual([`no meshbox.yaml in ${resolve('.')}: validating the bundled sample ${sample}`]);
      expect(c.out.at(-1)).toMatch(/^\d+ files, \d+ resources: \d+ errors?, \d+ warnings?/);
      expect(exit).toBe(existsSync(sample) ? 0 : 1);
    } finally {
      process.chdir(startDir);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('sorts findings without location first, then by file, line, column', () => {
    const f = (file: string | undefined, line = 1, col = 1): Finding => ({ severity: 'warning', code: 'X', message: `${file}:${line}:${col}`, ...(file ? { location: { file, line, col } } : {}) });
    expect(sortFindings([f('b', 1), f('a', 2, 5), f(undefined), f('a', 2, 1), f('a', 10)]).map((x) => x.message)).toEqual([
      'undefined:1:1',
      'a:2:1',
      'a:2:5',
      'a:10:1',
      'b:1:1',
    ]);
  });

  it('accepts a meshbox.yaml written at run time', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshbox-cmd-'));
    try {
      await writeFile(join(dir, 'meshbox.yaml'), 'services:\n  a:\n    port: 80\n');
      const c = capture();
      expect(await runValidate([join(dir, 'meshbox.yaml')], {}, c.io)).toBe(1);
      expect(c.out[0]).toContain('error MB3003');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
