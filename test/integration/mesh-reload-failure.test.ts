/**
 * A meshbox.yaml save that validates but cannot be applied (a sidecar listener for a new service
 * does not bind) changes nothing, all or nothing: the workloads, the control plane and the
 * sandbox stay on the old mesh, and the failure is reported as a rejected rules save is. A later
 * save applies in full.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import type { ListenerConfig } from '../../sandbox/control/snapshot.js';
import type { DataPlane } from '../../sandbox/proxy/data-plane.js';
import { Sandbox } from '../../sandbox/sandbox.js';
import { meshFixture, type MeshFixture } from '../helpers/lifecycle-fixture.js';
import { eventually } from '../helpers/reload-fixture.js';

const savedStateDir = process.env.MESHBOX_STATE_DIR;
let fixture: MeshFixture;
let sandbox: Sandbox;

const BASE = `name: reloadfail
services:
  good-service:
    port: 8080
    command: [node, app.cjs]
    health: /health
    env: { MODE: ok }
`;
const NEW_SERVICE = `  new-service:
    port: 8080
    command: [node, app.cjs]
    health: /health
    env: { MODE: ok }
`;

beforeAll(async () => {
  fixture = meshFixture(BASE);
  process.env.MESHBOX_STATE_DIR = fixture.stateDir;
  sandbox = new Sandbox({ config: fixture.file, runtime: 'process', ingressPort: 0, adminPort: 0, accessLogDir: false });
  await sandbox.up();
}, 60_000);

afterAll(async () => {
  await sandbox?.down();
  fixture?.cleanup();
  if (savedStateDir === undefined) delete process.env.MESHBOX_STATE_DIR;
  else process.env.MESHBOX_STATE_DIR = savedStateDir;
});

async function save(text: string): Promise<void> {
  const reloader = sandbox.hotReload!.meshFile;
  const generation = reloader.generation;
  writeFileSync(fixture.file, text);
  await eventually(() => reloader.generation > generation, 20_000, 'the meshbox.yaml reload');
  await sandbox.hotReload!.idle();
}

function services(): { sandbox: string[]; controlPlane: string[]; clusters: string[]; instances: string[] } {
  return {
    sandbox: sandbox.mesh.services.map((s) => s.name),
    controlPlane: sandbox.controlPlane.mesh.services.map((s) => s.name),
    clusters: [...new Set(Object.values(sandbox.controlPlane.current!.clusters).flatMap((c) => (c.service ? [c.service.name] : [])))].sort(),
    instances: sandbox.registry.all().map((i) => i.id).sort(),
  };
}

it('a listener that does not bind: nothing of the save applies, and it is said', async () => {
  const dp = sandbox.dataPlane as DataPlane & { bind: DataPlane['bind'] };
  const realBind = dp.bind.bind(dp);
  // the new service's per-service listeners fail as a bind does when the process is out of file descriptors
  dp.bind = async (listeners: ListenerConfig[]) => {
    const failing = listeners.filter((l) => l.name.endsWith('/outbound/new-service'));
    const result = await realBind(listeners.filter((l) => !failing.includes(l)));
    return { bound: result.bound, errors: [...result.errors, ...failing.map((l) => ({ listener: l.name, address: l.address, port: l.port, code: 'EMFILE', message: `listen EMFILE: too many open files ${l.address}:${l.port}` }))] };
  };
  const notices: Array<{ message: string; hint?: string }> = [];
  const off = sandbox.bus.on('mesh:notice', (e) => {
    if (e.level === 'error') notices.push(e);
  });
  const before = services();
  try {
    await save(BASE + NEW_SERVICE);
  } finally {
    off();
    dp.bind = realBind;
  }
  expect(before.controlPlane).toEqual(['good-service']);
  // all or nothing: every part of meshbox is still on the old mesh
  expect(services()).toEqual(before);
  expect(notices).toHaveLength(1);
  expect(notices[0]!.message).toMatch(/meshbox\.yaml not applied: sidecar listener good-service-v1-1\/outbound\/new-service cannot listen on 127\.0\.0\.1:0: listen EMFILE/);
  expect(notices[0]!.message).toContain('the services keep running as they are');
  expect(sandbox.hotReload!.meshFile.lastOutcome).toMatchObject({ applied: false, error: expect.stringContaining('EMFILE') });

  // the same save again (nothing else changed): applied in full this time
  appendFileSync(fixture.file, '# saved again\n');
  await eventually(() => sandbox.controlPlane.mesh.services.length === 2, 20_000, 'the second save to apply');
  await sandbox.hotReload!.idle();
  await eventually(() => sandbox.registry.all().some((i) => i.id === 'new-service-v1-1' && i.healthy), 20_000, 'new-service to be healthy');
  expect(services()).toMatchObject({ sandbox: ['good-service', 'new-service'], controlPlane: ['good-service', 'new-service'], clusters: ['good-service', 'new-service'] });
  expect(readFileSync(fixture.file, 'utf8')).toContain('new-service');
}, 90_000);
