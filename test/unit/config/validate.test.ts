import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validatePaths } from '../../../sandbox/config/validate.js';
import { code, meshOf, withCode } from './helpers.js';

const PROJECT = 'test/fixtures/config/mesh-project';
const MIXED = 'test/fixtures/config/rules-mixed';

describe('validatePaths', () => {
  it('uses a meshbox.yaml among the paths as the mesh and validates its rules folder', async () => {
    const r = await validatePaths([`${PROJECT}/meshbox.yaml`]);
    expect(r.mesh?.name).toBe('fixture');
    expect(r.files.map((f) => [f.file, f.applied, f.resources.length])).toEqual([
      [`${PROJECT}/meshbox.yaml`, true, 0],
      [`${PROJECT}/rules/callme.yaml`, true, 2],
    ]);
    expect(r.resources).toHaveLength(2);
    expect(r.findings.map((f) => f.code).sort()).toEqual([code('HOST_NOT_FOUND'), code('SUBSET_NO_WORKLOADS')]);
    expect(withCode(r.findings, 'HOST_NOT_FOUND')[0]!.location).toEqual({ file: `${PROJECT}/rules/callme.yaml`, line: 25, col: 27 });
  });

  it('does not add the rules folder when rules paths are given', async () => {
    const r = await validatePaths([`${PROJECT}/meshbox.yaml`, MIXED]);
    expect(r.files.map((f) => f.file)).toEqual([`${PROJECT}/meshbox.yaml`, `${MIXED}/10-good.yaml`, `${MIXED}/20-broken.yaml`, `${MIXED}/30-other-kinds.yml`]);
    expect(r.mesh?.services.map((s) => s.name)).toEqual(['caller-service', 'callme-service']);
    expect(withCode(r.findings, 'HOST_NOT_FOUND')).toEqual([]);
  });

  it('prefers the mesh passed in options', async () => {
    const mesh = meshOf({ other: ['v1'] });
    const r = await validatePaths([`${PROJECT}/rules`], { mesh });
    expect(r.mesh).toBe(mesh);
    expect(withCode(r.findings, 'HOST_NOT_FOUND')).toHaveLength(2);
    expect(withCode(r.findings, 'DESTINATION_RULE_HOST_NOT_FOUND')).toHaveLength(1);
  });

  describe('with files written at run time', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'meshbox-validate-'));
      await mkdir(join(dir, 'istio'));
      await writeFile(join(dir, 'mesh.yaml'), 'rules: ./istio\nservices:\n  web:\n    port: 80\n    command: node web.js\n');
      await writeFile(join(dir, 'istio', 'web.yaml'), 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web}\nspec:\n  hosts: [web]\n  http: [{route: [{destination: {host: web, subset: v1}}]}]\n');
      await writeFile(join(dir, 'broken-mesh.yaml'), 'services:\n  web:\n    prot: 80\n');
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('recognises a mesh definition by its content', async () => {
      const r = await validatePaths([join(dir, 'mesh.yaml')]);
      expect(r.mesh?.services[0]!.name).toBe('web');
      expect(r.files.map((f) => f.file)).toEqual([join(dir, 'mesh.yaml'), join(dir, 'istio', 'web.yaml')]);
      expect(withCode(r.findings, 'SUBSET_NOT_FOUND')).toHaveLength(1);
    });

    it('reports an invalid mesh definition and analyzes without it', async () => {
      const r = await validatePaths([join(dir, 'broken-mesh.yaml'), join(dir, 'istio')]);
      expect(r.mesh).toBeUndefined();
      expect(r.files[0]).toMatchObject({ applied: false });
      expect(withCode(r.findings, 'UNKNOWN_FIELD')[0]).toMatchObject({ hint: 'did you mean `port`?' });
      expect(withCode(r.findings, 'MISSING_ONE_OF')).toHaveLength(1);
    });

    it('reads a folder holding both meshbox definition and rules', async () => {
      const r = await validatePaths([dir]);
      expect(r.files.map((f) => f.file)).toEqual([join(dir, 'broken-mesh.yaml'), join(dir, 'mesh.yaml')]);
      expect(r.mesh?.name).toBe(dir.split('/').pop());
    });
  });
});
