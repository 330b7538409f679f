/**
 * DockerRuntime against a real daemon, below the CLI: containers from a generated image, labels
 * and host networking, the environment a container gets, logs per stream, exits (on its own, by
 * signal, by stop), pause/resume, a port in use, and stopAll leaving nothing behind.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkloadSpec } from '../../sandbox/config/mesh-types.js';
import { MeshError } from '../../sandbox/errors.js';
import type { MeshEvent } from '../../sandbox/events.js';
import { DockerRuntime } from '../../sandbox/runtime/docker-runtime.js';
import { allocatePort } from '../../sandbox/runtime/ports.js';
import type { LaunchSpec, RuntimeExit } from '../../sandbox/runtime/runtime.js';
import { httpGet } from '../helpers/cli.js';
import { dockerForTests, sandboxContainers, testDocker } from '../helpers/docker-available.js';
import { writeDockerProject, type DockerProject } from '../helpers/docker-fixture.js';

const docker = await dockerForTests('DockerRuntime integration tests');

async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out${last ? `: ${(last as Error).message}` : ''}`);
}

describe.skipIf(!docker.available)('DockerRuntime', { timeout: 120_000 }, () => {
  const sandbox = `rt-${randomBytes(3).toString('hex')}`;
  let runtime: DockerRuntime;
  let project: DockerProject;
  const events: MeshEvent[] = [];
  const logs: Array<{ id: string; stream: string; line: string }> = [];
  const exits: RuntimeExit[] = [];

  const workload = (): WorkloadSpec => ({
    service: 'web',
    version: 'v1',
    workload: 'web-v1',
    replicas: 1,
    command: ['node', 'web/main.js'],
    cwd: project.dir,
    env: { USER_SETTING: 'from-meshbox-yaml' },
    labels: { app: 'web', version: 'v1' },
    health: { path: '/healthz', intervalMs: 2000, timeoutMs: 1000, unhealthyThreshold: 3 },
    startTimeoutMs: 30_000,
  });

  const launch = async (n: number, port?: number): Promise<LaunchSpec> => {
    const p = port ?? (await allocatePort());
    const id = `web-v1-${n}`;
    return {
      id,
      workload: workload(),
      port: p,
      env: {
        PATH: '/host/only/bin',
        LEAK_CHECK: 'inherited-from-meshbox',
        PORT: String(p),
        HOST: '127.0.0.1',
        HTTP_PROXY: 'http://127.0.0.1:15999',
        NO_PROXY: 'localhost,127.0.0.1,::1',
        CALLME_SERVICE_URL: 'http://127.0.0.1:15998',
        USER_SETTING: 'from-meshbox-yaml',
        MESHBOX_SANDBOX: sandbox,
        MESHBOX_INSTANCE: id,
        MESHBOX_SERVICE: 'web',
        MESHBOX_VERSION: 'v1',
      },
    };
  };

  const nextExit = (id: string): Promise<RuntimeExit> =>
    new Promise((resolve) => {
      const on = (e: RuntimeExit): void => {
        if (e.id !== id) return;
        runtime.off('exit', on);
        resolve(e);
      };
      runtime.on('exit', on);
    });

  const answer = async (port: number): Promise<Record<string, unknown>> =>
    eventually(async () => {
      const r = await httpGet(`http://127.0.0.1:${port}/`);
      return r.status === 200 ? (JSON.parse(r.body) as Record<string, unknown>) : undefined;
    });

  beforeAll(async () => {
    project = writeDockerProject({ withBuilt: false });
    runtime = await DockerRuntime.connect({ onEvent: (e) => events.push(e), watchdog: false });
    runtime.on('log', (l: { id: string; stream: string; line: string }) => logs.push(l));
    runtime.on('exit', (e: RuntimeExit) => exits.push(e));
  }, 120_000);

  afterAll(async () => {
    await runtime?.stopAll(2_000);
  });

  it('runs an instance as a labelled host-network container with the contract env only', async () => {
    const spec = await launch(1);
    const { pid } = await runtime.start(spec);
    expect(pid).toBeGreaterThan(0);
    const body = await answer(spec.port);
    expect(body).toMatchObject({ message: 'hello from web', instance: 'web-v1-1', host: '127.0.0.1', port: spec.port, proxy: 'http://127.0.0.1:15999', user: 'from-meshbox-yaml', leak: null, cwd: '/app' });
    expect(runtime.isRunning('web-v1-1')).toBe(true);
    const d = await testDocker();
    const info = await d.getContainer(runtime.containerName('web-v1-1')!).inspect();
    expect(info.HostConfig.NetworkMode).toBe('host');
    expect(info.Config.Labels).toMatchObject({ 'meshbox.sandbox': sandbox, 'meshbox.service': 'web', 'meshbox.version': 'v1', 'meshbox.instance': 'web-v1-1', 'meshbox.workload': 'web-v1' });
    expect(info.Config.Env).not.toContain('PATH=/host/only/bin');
    expect(info.Config.Env).toContain('CALLME_SERVICE_URL=http://127.0.0.1:15998');
    expect(info.Config.Cmd).toEqual(['node', 'main.js']);
    expect(info.State.Pid).toBe(pid);
    const built = events.filter((e) => e.type === 'mesh:image:build').map((e) => (e as { message: string }).message);
    expect(built.some((m) => /image meshbox\/web:[0-9a-f]{12}/.test(m))).toBe(true);
  });

  it('streams stdout and stderr lines as log events', async () => {
    await eventually(async () => (logs.some((l) => l.id === 'web-v1-1' && l.line.startsWith('listening on 127.0.0.1:')) ? true : undefined));
    const port = (await runtime.docker.getContainer(runtime.containerName('web-v1-1')!).inspect()).Config.Env.find((e) => e.startsWith('PORT='))!.slice(5);
    await httpGet(`http://127.0.0.1:${port}/log`);
    await eventually(async () => (logs.some((l) => l.stream === 'stdout' && l.line === 'stdout line from web-v1-1') ? true : undefined));
    await eventually(async () => (logs.some((l) => l.stream === 'stderr' && l.line === 'stderr line from web-v1-1') ? true : undefined));
  });

  it('pause freezes the container and resume thaws it', async () => {
    const port = Number((await runtime.docker.getContainer(runtime.containerName('web-v1-1')!).inspect()).Config.Env.find((e) => e.startsWith('PORT='))!.slice(5));
    await runtime.pause('web-v1-1');
    const d = await testDocker();
    expect((await d.getContainer(runtime.containerName('web-v1-1')!).inspect()).State.Paused).toBe(true);
    const frozen = await Promise.race([httpGet(`http://127.0.0.1:${port}/`).then(() => 'answered'), new Promise((r) => setTimeout(() => r('no answer'), 700))]);
    expect(frozen).toBe('no answer');
    await runtime.resume('web-v1-1');
    expect((await d.getContainer(runtime.containerName('web-v1-1')!).inspect()).State.Paused).toBe(false);
    expect((await answer(port)).instance).toBe('web-v1-1');
  });

  it('a container that exits by itself is an unexpected exit with its code, and is removed', async () => {
    const port = Number((await runtime.docker.getContainer(runtime.containerName('web-v1-1')!).inspect()).Config.Env.find((e) => e.startsWith('PORT='))!.slice(5));
    const exited = nextExit('web-v1-1');
    await httpGet(`http://127.0.0.1:${port}/exit/3`);
    expect(await exited).toEqual({ id: 'web-v1-1', code: 3, signal: null, expected: false });
    expect(runtime.isRunning('web-v1-1')).toBe(false);
    await eventually(async () => ((await sandboxContainers(sandbox)).length === 0 ? true : undefined));
  });

  it('a kill by signal reads as killed by that signal; a restart reuses the cached image', async () => {
    const spec = await launch(2);
    const before = events.length;
    await runtime.start(spec);
    await answer(spec.port);
    expect(events.slice(before).some((e) => e.type === 'mesh:image:build' && e.phase === 'cached')).toBe(true);
    expect(events.slice(before).some((e) => e.type === 'mesh:image:build' && e.phase === 'start')).toBe(false);
    const exited = nextExit('web-v1-2');
    await runtime.signal('web-v1-2', 'SIGKILL');
    expect(await exited).toEqual({ id: 'web-v1-2', code: null, signal: 'SIGKILL', expected: false });
  });

  it('stop is graceful and expected; the container is gone when it resolves', async () => {
    const spec = await launch(3);
    await runtime.start(spec);
    await answer(spec.port);
    const exited = nextExit('web-v1-3');
    await runtime.stop('web-v1-3', 5_000);
    expect(await exited).toMatchObject({ id: 'web-v1-3', code: 0, expected: true });
    expect(logs.some((l) => l.id === 'web-v1-3' && l.line === 'SIGTERM: bye')).toBe(true);
    expect(await sandboxContainers(sandbox)).toEqual([]);
  });

  it('a port already in use is one clear error and leaves no container', async () => {
    const blocker = net.createServer();
    const port = await allocatePort();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    try {
      const err = await runtime.start(await launch(4, port)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MeshError);
      expect((err as MeshError).code).toBe('MESH_ERR_PORT_IN_USE');
      expect((err as MeshError).message).toContain(`127.0.0.1:${port}`);
    } finally {
      blocker.close();
    }
    expect(runtime.isRunning('web-v1-4')).toBe(false);
    expect(await sandboxContainers(sandbox)).toEqual([]);
  });

  it('stopAll stops and removes every container of the sandbox', async () => {
    await runtime.start(await launch(5));
    await runtime.start(await launch(6));
    expect((await sandboxContainers(sandbox)).length).toBe(2);
    await runtime.stopAll(2_000);
    expect(await sandboxContainers(sandbox)).toEqual([]);
    const late = await runtime.start(await launch(7)).catch((e: unknown) => e);
    expect((late as MeshError).code).toBe('MESH_ERR_WORKLOAD_START');
  });
});
