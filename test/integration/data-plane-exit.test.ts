/**
 * The data-plane worker dies while the sandbox runs (every sidecar and the ingress gateway with
 * it): meshbox says so with MESH_ERR_INTERNAL, /ready answers 503, and the sandbox stops what it
 * started instead of carrying on with apps nobody can reach.
 */
import { afterEach, expect, it } from 'vitest';
import { Sandbox } from '../../sandbox/sandbox.js';
import { isAlive } from '../../sandbox/runtime/sandbox-state.js';
import { httpGet } from '../helpers/cli.js';
import { meshFixture, type MeshFixture } from '../helpers/lifecycle-fixture.js';
import { eventually } from '../helpers/reload-fixture.js';

const savedStateDir = process.env.MESHBOX_STATE_DIR;
let fixture: MeshFixture | undefined;
let sandbox: Sandbox | undefined;

afterEach(async () => {
  await sandbox?.down();
  fixture?.cleanup();
  if (savedStateDir === undefined) delete process.env.MESHBOX_STATE_DIR;
  else process.env.MESHBOX_STATE_DIR = savedStateDir;
});

it.each([
  { which: 'the only worker', workers: 1, dies: 0, message: /^MESH_ERR_INTERNAL: internal error: the data plane worker exited with code 1: every sidecar and the ingress gateway are gone$/ },
  // any worker of several: its proxies are gone, so the sandbox cannot go on either
  { which: 'worker 2 of 2', workers: 2, dies: 1, message: /^MESH_ERR_INTERNAL: internal error: data plane worker 2 of 2 exited with code 1: the proxies it ran are gone \(good-service-v1-1\)$/ },
])('a dead data plane ($which) is reported, turns /ready to 503 and stops the sandbox', async ({ workers, dies, message }) => {
  fixture = meshFixture(`name: dpexit
services:
  good-service:
    port: 8080
    command: [node, app.cjs]
    health: /health
    env: { MODE: ok, PID_DIR: '{{PID_DIR}}' }
    versions:
      v1: { replicas: 2 }
`);
  process.env.MESHBOX_STATE_DIR = fixture.stateDir;
  sandbox = new Sandbox({ config: fixture.file, runtime: 'process', ingressPort: 0, adminPort: 0, accessLogDir: false, watch: false, dataPlaneWorkers: workers });
  await sandbox.up();
  expect((await httpGet(`${sandbox.adminUrl}/ready`)).status).toBe(200);
  const pids = sandbox.registry.all().map((i) => i.pid!);
  expect(pids.every((p) => isAlive(p))).toBe(true);

  let ready: Promise<{ status: number; body: string }> | undefined;
  const notices: string[] = [];
  sandbox.bus.on('mesh:notice', (e) => {
    if (e.level !== 'error') return;
    notices.push(e.message);
    // asked the moment meshbox says so, before the sandbox is stopped
    ready ??= httpGet(`${sandbox!.adminUrl}/ready`);
  });

  // a worker goes away without being asked (as a crash in it would)
  await sandbox.dataPlane.terminateWorker(dies);

  await eventually(() => notices.length > 0, 5_000, 'an error notice about the data plane');
  expect(notices[0]).toMatch(message);
  const r = await ready!;
  expect(r.status).toBe(503);
  expect(r.body).toContain(`data plane: internal error: ${workers === 1 ? 'the data plane worker' : 'data plane worker 2 of 2'} exited`);
  expect(sandbox.isReady()).toBe(false);
  // the sandbox stopped itself: no app keeps running without its sidecars
  await eventually(() => pids.every((p) => !isAlive(p)), 10_000, 'the workloads to be stopped');
  expect(sandbox.fatal?.code).toBe('MESH_ERR_INTERNAL');
}, 60_000);
