/**
 * Workloads that cannot start, crash at once or never pass their health check, on real processes:
 * a failed start stops everything it started (starts in flight included), a failure no retry can
 * heal is said once and not restarted, and "not ready" says what was seen.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseMeshText } from '../../sandbox/config/mesh-file.js';
import { readFileSync } from 'node:fs';
import { WorkloadManager } from '../../sandbox/control/workload-manager.js';
import { instanceId, Registry } from '../../sandbox/control/registry.js';
import { MeshError } from '../../sandbox/errors.js';
import { EventBus, type MeshEvent } from '../../sandbox/events.js';
import { ProcessRuntime } from '../../sandbox/runtime/process-runtime.js';
import { allocatePort } from '../../sandbox/runtime/ports.js';
import { isAlive } from '../../sandbox/runtime/sandbox-state.js';
import { Sandbox } from '../../sandbox/sandbox.js';
import { meshFixture, type MeshFixture } from '../helpers/lifecycle-fixture.js';
import { eventually } from '../helpers/reload-fixture.js';

const savedStateDir = process.env.MESHBOX_STATE_DIR;
let fixture: MeshFixture | undefined;
let sandbox: Sandbox | undefined;
let manager: WorkloadManager | undefined;

afterEach(async () => {
  await manager?.stopAll(500);
  await sandbox?.down();
  fixture?.cleanup();
  manager = sandbox = fixture = undefined;
  if (savedStateDir === undefined) delete process.env.MESHBOX_STATE_DIR;
  else process.env.MESHBOX_STATE_DIR = savedStateDir;
});

function use(yaml: string): MeshFixture {
  fixture = meshFixture(yaml);
  process.env.MESHBOX_STATE_DIR = fixture.stateDir;
  return fixture;
}

/** a WorkloadManager over the fixture's mesh with real processes (no sidecars) */
async function managerFor(f: MeshFixture): Promise<{ wm: WorkloadManager; registry: Registry; bus: EventBus; events: MeshEvent[] }> {
  const loaded = parseMeshText(readFileSync(f.file, 'utf8'), f.file);
  expect(loaded.findings.filter((x) => x.severity === 'error')).toEqual([]);
  const mesh = loaded.mesh!;
  const registry = new Registry();
  const bus = new EventBus();
  const events: MeshEvent[] = [];
  bus.onAny((e) => events.push(e));
  for (const svc of mesh.services) {
    for (const w of svc.workloads) {
      for (let n = 1; n <= w.replicas; n++) {
        registry.add({ id: instanceId(w, n), workload: w, ordinal: n, appPort: await allocatePort(), sidecar: { inbound: 0, outbound: 0, services: {} }, state: 'pending', healthy: false, drained: false, restarts: 0 });
      }
    }
  }
  const wm = new WorkloadManager({ registry, runtime: new ProcessRuntime(), bus, mesh, sandboxId: 'test', seed: 1 });
  manager = wm;
  return { wm, registry, bus, events };
}

const GOOD = `
  good-service:
    port: 8080
    command: [node, app.cjs]
    health: /health
    env: { MODE: ok, PID_DIR: '{{PID_DIR}}' }
    versions:
      v1: { replicas: 3 }`;

describe('a failed start', () => {
  it('waits for the starts in flight and leaves no process running after stopAll', async () => {
    const f = use(`name: inflight
services:${GOOD}
  image-only:
    port: 8080
    image: example/not-a-command:1
`);
    const { wm, events } = await managerFor(f);
    // what Sandbox.up does: start everything; on an error stop everything
    const error = await wm.startAll().then(
      () => undefined,
      (e: unknown) => e,
    );
    await wm.stopAll(2_000);
    expect(error).toBeInstanceOf(MeshError);
    expect((error as MeshError).code).toBe('MESH_ERR_WORKLOAD_START');
    // the three good instances were launched (in flight when the image-only one failed) ...
    const started = (): number[] => events.flatMap((e) => (e.type === 'mesh:workload:started' && e.pid ? [e.pid] : []));
    await eventually(() => started().length === 3, 5_000, 'the good instances to be launched');
    // ... and none of them is left running
    await eventually(() => started().every((pid) => !isAlive(pid)), 5_000, 'every launched process to be gone');
    expect(wm.runtime.isRunning('good-service-v1-1')).toBe(false);
  });
});

describe('a failure that retrying cannot heal', () => {
  it('a program that does not exist stops the instance with one error instead of a restart loop', async () => {
    const f = use(`name: noprogram
services:${GOOD.replace('replicas: 3', 'replicas: 1')}
`);
    const { wm, registry, events } = await managerFor(f);
    await wm.startAll();
    const id = 'good-service-v1-1';
    await eventually(() => registry.get(id)!.healthy, 10_000, 'healthy');
    // the program disappears (an uninstalled interpreter); then the app crashes
    registry.update(id, { workload: { ...registry.get(id)!.workload, command: ['/nonexistent/python3', 'app.py'] } });
    await wm.kill(id, 'SIGKILL');
    const failed = await eventually(
      () => (wm as unknown as { failureOf?: (id: string) => MeshError | undefined }).failureOf?.(id) ?? (events.filter((e) => e.type === 'mesh:workload:restarting').length >= 3 ? 'looping' : undefined),
      10_000,
      'the instance to fail for good, or to loop',
    );
    expect(failed).toBeInstanceOf(MeshError);
    expect((failed as MeshError).message).toContain('/nonexistent/python3');
    const restarts = events.filter((e) => e.type === 'mesh:workload:restarting');
    // the crash is restarted once; the start that cannot work is not retried
    expect(restarts).toHaveLength(1);
    const notices = events.filter((e) => e.type === 'mesh:notice' && e.level === 'error');
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ message: expect.stringContaining('MESH_ERR_WORKLOAD_START') });
    expect(registry.get(id)).toMatchObject({ state: 'exited', failure: expect.stringContaining('ENOENT') });
  });

  it('a command the shell cannot find (exit 127) fails `up` at once with the shell\'s message', async () => {
    const f = use(`name: notfound
services:
  py-service:
    port: 8080
    command: "exec python3-not-installed app.py"
    health: /health
`);
    sandbox = new Sandbox({ config: f.file, runtime: 'process', ingressPort: 0, adminPort: 0, accessLogDir: false, watch: false, readyTimeoutMs: 20_000 });
    const restarting: MeshEvent[] = [];
    sandbox.bus.on('mesh:workload:restarting', (e) => restarting.push(e));
    const error = (await sandbox.up().then(
      () => undefined,
      (e: unknown) => e,
    )) as MeshError;
    expect(error).toBeInstanceOf(MeshError);
    expect(error.code).toBe('MESH_ERR_WORKLOAD_START');
    expect(error.message).toContain('command not found (exit code 127)');
    expect(error.message).toMatch(/python3-not-installed: .*not found/);
    expect(restarting).toEqual([]);
  }, 30_000);
});

describe('not ready says what it saw', () => {
  const seen: MeshEvent[] = [];
  async function notReady(yaml: string, readyTimeoutMs = 3_000): Promise<MeshError> {
    const f = use(yaml);
    seen.length = 0;
    sandbox = new Sandbox({ config: f.file, runtime: 'process', ingressPort: 0, adminPort: 0, accessLogDir: false, watch: false, readyTimeoutMs });
    sandbox.onEvent((e) => seen.push(e));
    const error = (await sandbox.up().then(
      () => undefined,
      (e: unknown) => e,
    )) as MeshError;
    expect(error).toBeInstanceOf(MeshError);
    expect(error.code).toBe('MESH_ERR_NOT_READY');
    return error;
  }

  it('an app that exits at once is crash-looping, with its exit code and last log line', async () => {
    const e = await notReady(`name: crashloop
services:
  crash-service:
    port: 8080
    command: [node, app.cjs]
    health: /health
    env: { MODE: exit, EXIT_CODE: '3', EXIT_MESSAGE: 'DATABASE_URL is not set' }
`, 8_000);
    expect(e.message).toContain('crash-service-v1-1 (crash-looping: exited');
    expect(e.message).toContain('exit code 3');
    expect(e.message).toContain('boom: DATABASE_URL is not set');
    expect(e.hint).not.toContain('health path');
    // the restarts say so too, from the third exit in a row
    const reasons = seen.flatMap((x) => (x.type === 'mesh:workload:restarting' ? [x.reason ?? ''] : []));
    expect(reasons.slice(0, 2)).toEqual(['exited with code 3', 'exited with code 3']);
    expect(reasons[2]).toBe('crash-looping: exited 3 times in a row before becoming healthy, last with code 3; last log line: boom: DATABASE_URL is not set');
  }, 30_000);

  it('a health check answering 500 says so', async () => {
    const e = await notReady(`name: sick
services:
  sick-service:
    port: 8080
    command: [node, app.cjs]
    health: /health
    env: { MODE: fail500 }
`);
    expect(e.message).toMatch(/sick-service-v1-1 \(health check GET \/health on 127\.0\.0\.1:\d+ never passed: HTTP 500\)/);
  }, 30_000);

  it('an app that never listens: connection refused', async () => {
    const e = await notReady(`name: deaf
services:
  deaf-service:
    port: 8080
    command: [node, app.cjs]
    health: /health
    env: { MODE: silent }
`);
    expect(e.message).toMatch(/deaf-service-v1-1 \(health check GET \/health on 127\.0\.0\.1:(\d+) never passed: connection refused on 127\.0\.0\.1:\1\)/);
    expect(e.hint).toContain('must listen on PORT');
  }, 30_000);
});
