/** Finding the daemon and telling why it does not answer; auto falling back to processes. */
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { classifyConnectError, daemonError, dockerEndpoint, probeDaemon } from '../../../sandbox/runtime/docker/daemon.js';
import { selectRuntime } from '../../../sandbox/runtime/select-runtime.js';
import { MeshError } from '../../../sandbox/errors.js';

const saved = process.env.DOCKER_HOST;
afterEach(() => {
  if (saved === undefined) delete process.env.DOCKER_HOST;
  else process.env.DOCKER_HOST = saved;
});

function socketServer(handler: http.RequestListener): Promise<{ path: string; close: () => void }> {
  const p = path.join(mkdtempSync(path.join(os.tmpdir(), 'meshbox-sock-')), 'docker.sock');
  const server = http.createServer(handler);
  return new Promise((resolve) => server.listen(p, () => resolve({ path: p, close: () => server.close() })));
}

describe('docker endpoint', () => {
  it('reads DOCKER_HOST like the docker CLI', () => {
    expect(dockerEndpoint({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' })).toMatchObject({ socketPath: '/run/user/1000/docker.sock', tls: false });
    expect(dockerEndpoint({ DOCKER_HOST: 'tcp://127.0.0.1:2375' })).toMatchObject({ host: '127.0.0.1', port: 2375, tls: false });
    expect(dockerEndpoint({ DOCKER_HOST: 'tcp://127.0.0.1:2376', DOCKER_TLS_VERIFY: '1' })).toMatchObject({ port: 2376, tls: true });
    if (process.platform !== 'win32') expect(dockerEndpoint({}).description).toMatch(/^unix:\/\/.*docker\.sock$/);
  });
});

describe('probing the daemon', () => {
  it('no socket: unreachable, as MESH_ERR_DOCKER_UNAVAILABLE with what to do', async () => {
    const probe = await probeDaemon({ description: 'unix:///nonexistent/docker.sock', socketPath: '/nonexistent/docker.sock', tls: false }, 500);
    expect(probe).toMatchObject({ ok: false, kind: 'unreachable' });
    if (probe.ok) return;
    const err = daemonError(probe);
    expect(err.code).toBe('MESH_ERR_DOCKER_UNAVAILABLE');
    expect(err.message).toBe('no Docker daemon answers at unix:///nonexistent/docker.sock (ENOENT: the socket does not exist)');
    expect(err.hint).toContain('--runtime process');
  });

  it('permission denied on the socket: MESH_ERR_DOCKER_PERMISSION with the docker group hint', () => {
    const c = classifyConnectError(Object.assign(new Error('connect EACCES /var/run/docker.sock'), { code: 'EACCES' }));
    expect(c.kind).toBe('permission');
    const err = daemonError({ ok: false, endpoint: { description: 'unix:///var/run/docker.sock', tls: false }, ...c });
    expect(err.code).toBe('MESH_ERR_DOCKER_PERMISSION');
    expect(err.message).toBe('permission denied on the Docker socket unix:///var/run/docker.sock');
    expect(err.hint).toContain('usermod -aG docker');
  });

  it('a daemon answering /_ping is ok; an error status is reported with its body', async () => {
    const good = await socketServer((req, res) => res.end(req.url === '/_ping' ? 'OK' : ''));
    const bad = await socketServer((_req, res) => {
      res.statusCode = 500;
      res.end('daemon is starting');
    });
    try {
      expect(await probeDaemon({ description: 'good', socketPath: good.path, tls: false })).toMatchObject({ ok: true });
      expect(await probeDaemon({ description: 'bad', socketPath: bad.path, tls: false })).toMatchObject({ ok: false, kind: 'error', reason: 'the daemon answered HTTP 500: daemon is starting' });
    } finally {
      good.close();
      bad.close();
    }
  });

  it('a daemon that never answers times out as unreachable', async () => {
    const hang = await socketServer(() => undefined);
    try {
      expect(await probeDaemon({ description: 'hang', socketPath: hang.path, tls: false }, 200)).toMatchObject({ ok: false, kind: 'unreachable' });
    } finally {
      hang.close();
    }
  });
});

describe('runtime selection without a daemon', () => {
  it('auto falls back to processes and says why; docker is an error', async () => {
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    const auto = await selectRuntime('auto');
    expect(auto.runtime.name).toBe('process');
    expect(auto.notice).toBe('no Docker daemon answers at unix:///nonexistent/docker.sock (ENOENT: the socket does not exist): running workloads as processes (--runtime auto)');
    const err = await selectRuntime('docker').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshError);
    expect((err as MeshError).code).toBe('MESH_ERR_DOCKER_UNAVAILABLE');
    expect((await selectRuntime('process')).runtime.name).toBe('process');
  });
});
