/**
 * Docker workloads that cannot start, against a real daemon: a command the image does not have
 * (`/bin/sh: python3: not found`, exit 127) and an image that is not present with pulls off are
 * one clear error each, never an endless restart loop. Skipped with a message without a daemon,
 * failed in CI.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MeshError } from '../../sandbox/errors.js';
import type { MeshEvent } from '../../sandbox/events.js';
import { Sandbox } from '../../sandbox/sandbox.js';
import { dockerEndpoint } from '../../sandbox/runtime/docker/daemon.js';
import { DockerRuntime } from '../../sandbox/runtime/docker-runtime.js';
import { isAlive } from '../../sandbox/runtime/sandbox-state.js';
import { dockerForTests, sandboxContainers } from '../helpers/docker-available.js';
import { writeDockerProject, type DockerProject } from '../helpers/docker-fixture.js';
import { eventually } from '../helpers/reload-fixture.js';

const docker = await dockerForTests('Docker start failures');
const savedStateDir = process.env.MESHBOX_STATE_DIR;

describe.skipIf(!docker.available)('Docker workloads that cannot start', { timeout: 180_000 }, () => {
  let project: DockerProject | undefined;
  let sandbox: Sandbox | undefined;
  let stateDir: string | undefined;
  const events: MeshEvent[] = [];

  function sandboxFor(yaml: string, readyTimeoutMs = 120_000): Sandbox {
    project = writeDockerProject({ withBuilt: false, name: 'dockerfail' });
    writeFileSync(project.meshFile, yaml);
    stateDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-state-'));
    process.env.MESHBOX_STATE_DIR = stateDir;
    sandbox = new Sandbox({ config: project.meshFile, runtime: 'docker', ingressPort: 0, adminPort: 0, accessLogDir: false, readyTimeoutMs });
    sandbox.onEvent((e) => events.push(e));
    return sandbox;
  }

  const restarting = (): MeshEvent[] => events.filter((e) => e.type === 'mesh:workload:restarting');

  afterEach(async () => {
    const id = sandbox?.id;
    await sandbox?.down();
    if (id) expect(await sandboxContainers(id)).toEqual([]);
    if (project) rmSync(project.dir, { recursive: true, force: true });
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
    sandbox = project = stateDir = undefined;
    events.length = 0;
    if (savedStateDir === undefined) delete process.env.MESHBOX_STATE_DIR;
    else process.env.MESHBOX_STATE_DIR = savedStateDir;
  });

  it('a command the image does not have (exit 127) fails up with the shell\'s message, not a restart loop', async () => {
    const sb = sandboxFor(`name: dockerfail
services:
  web:
    port: 8080
    command: [node, web/main.js]
    health: /healthz
  py:
    port: 8080
    command: "exec python3 app.py"
    health: /health
`);
    const error = (await sb.up().then(
      () => undefined,
      (e: unknown) => e,
    )) as MeshError;
    expect(error).toBeInstanceOf(MeshError);
    expect(error.code).toBe('MESH_ERR_WORKLOAD_START');
    expect(error.message).toContain('workload py-v1-1 could not start: /bin/sh -c exec python3 app.py: command not found (exit code 127)');
    expect(error.message).toMatch(/python3: not found/);
    expect(error.hint).toContain('inside the image');
    expect(restarting()).toEqual([]);
    expect(events.some((e) => e.type === 'mesh:workload:started' && e.instance === 'py-v1-1' && e.pid === undefined)).toBe(false);
  });

  it('an image that is not present, met on a restart: one MESH_ERR_IMAGE_MISSING, no restart loop', async () => {
    const sb = sandboxFor(`name: dockerfail
services:
  web:
    port: 8080
    command: [node, web/main.js]
    health: /healthz
`);
    await sb.up();
    const reloader = sb.hotReload!.meshFile;
    const generation = reloader.generation;
    // the service moves to an image nobody pulled: the in-place restart cannot create its container
    writeFileSync(project!.meshFile, `name: dockerfail
services:
  web:
    port: 8080
    image: meshbox-test/not-present:1
    command: [node, web/main.js]
    health: /healthz
`);
    await eventually(() => reloader.generation > generation, 60_000, 'the meshbox.yaml reload');
    const missing = (e: MeshEvent): boolean => JSON.stringify(e).includes('meshbox-test/not-present:1 is not present locally');
    await eventually(() => events.some((e) => e.type === 'mesh:notice' && missing(e)) || restarting().filter(missing).length >= 2, 30_000, 'a failure or a loop');
    expect(restarting().filter(missing)).toEqual([]);
    const notices = events.filter((e) => e.type === 'mesh:notice' && e.level === 'error' && missing(e) && e.message.includes('MESH_ERR_IMAGE_MISSING'));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ message: expect.stringContaining('MESH_ERR_IMAGE_MISSING'), hint: expect.stringContaining('docker pull meshbox-test/not-present:1') });
    expect(sb.registry.get('web-v1-1')).toMatchObject({ state: 'exited', failure: expect.stringContaining('not present locally') });
    // the reload's own report says it is not retried
    await eventually(() => events.some((e) => e.type === 'mesh:notice' && e.message.includes('applied in')), 30_000, 'the reload report');
    expect(events.find((e) => e.type === 'mesh:notice' && e.message.includes('applied in'))).toMatchObject({ message: expect.stringContaining('web-v1-1 did not become healthy (image meshbox-test/not-present:1 is not present locally and pulls are off; not restarted)') });
  });

  it('a program the image does not have in its PATH, met on a restart: one error, no restart loop', async () => {
    const sb = sandboxFor(`name: dockerfail
services:
  web:
    port: 8080
    command: [node, web/main.js]
    health: /healthz
`);
    await sb.up();
    const base = (await (sb.runtime as DockerRuntime).images.nodeBase()).image;
    const reloader = sb.hotReload!.meshFile;
    const generation = reloader.generation;
    writeFileSync(project!.meshFile, `name: dockerfail
services:
  web:
    port: 8080
    image: ${base}
    command: [python3-not-here, app.py]
    health: /healthz
`);
    await eventually(() => reloader.generation > generation, 60_000, 'the meshbox.yaml reload');
    const notFound = (e: MeshEvent): boolean => /python3-not-here/.test(JSON.stringify(e));
    await eventually(() => sb.workloads.failureOf('web-v1-1') ?? (restarting().filter(notFound).length >= 2 ? 'looping' : undefined), 30_000, 'a failure or a loop');
    expect(restarting().filter(notFound)).toEqual([]);
    // Docker's init (tini) reports the failed exec and exits 127; without an init the daemon refuses the start
    expect(sb.workloads.failureOf('web-v1-1')?.message).toMatch(/web-v1-1 could not start: (python3-not-here app\.py: command not found \(exit code 127\): .*exec python3-not-here failed: No such file or directory|the container's command cannot run: .*python3-not-here.*executable file not found)/);
    expect(events.filter((e) => e.type === 'mesh:notice' && e.level === 'error' && notFound(e) && e.message.includes('MESH_ERR_WORKLOAD_START'))).toHaveLength(1);
  });

  it('a final container sweep that fails is said, and the watchdog is kept to do it', async () => {
    // the runtime talks to the daemon through a socket proxy the test can take away
    const dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-proxy-'));
    const proxyPath = path.join(dir, 'docker.sock');
    const target = dockerEndpoint();
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((client) => {
      const upstream = target.socketPath ? net.connect(target.socketPath) : net.connect(target.port ?? 2375, target.host);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => proxy.listen(proxyPath, r));
    const notices: MeshEvent[] = [];
    const runtime = await DockerRuntime.connect({ endpoint: dockerEndpoint({ DOCKER_HOST: `unix://${proxyPath}` }), onEvent: (e) => notices.push(e) });
    const sandboxId = `sweep-${process.pid}-${Date.now().toString(36)}`;
    // a start that fails at once still makes the runtime own a sandbox and a watchdog
    await expect(
      runtime.start({
        id: 'web-v1-1',
        workload: { service: 'web', version: 'v1', workload: 'web-v1', replicas: 1, image: 'meshbox-test/not-present:1', cwd: dir, env: {}, labels: { app: 'web', version: 'v1' }, health: { path: '/', intervalMs: 1000, timeoutMs: 500, unhealthyThreshold: 3 }, startTimeoutMs: 5000 },
        env: { MESHBOX_SANDBOX: sandboxId },
        port: 1,
      }),
    ).rejects.toMatchObject({ code: 'MESH_ERR_IMAGE_MISSING' });
    const watchdog = (runtime as unknown as { watchdog?: { pid?: number; release(): void } }).watchdog;
    expect(watchdog?.pid).toBeGreaterThan(0);
    // the daemon goes away before the final sweep
    await new Promise<void>((r) => {
      proxy.close(() => r());
      for (const s of sockets) s.destroy();
    });
    try {
      await runtime.stopAll(1_000);
      const errors = notices.filter((e) => e.type === 'mesh:notice' && e.level === 'error');
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ message: expect.stringContaining(`could not remove the containers of sandbox ${sandboxId}`), hint: expect.stringContaining(`the watchdog (pid ${watchdog!.pid}) removes them when meshbox exits`) });
      // kept: a released watchdog sweeps (finding nothing) and exits within moments
      await new Promise((r) => setTimeout(r, 3_000));
      expect(isAlive(watchdog!.pid!)).toBe(true);
    } finally {
      // what meshbox exiting does: the pipe closes, the watchdog sweeps through the real daemon and exits
      watchdog?.release();
      await eventually(() => !isAlive(watchdog!.pid!), 15_000, 'the watchdog to finish');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
