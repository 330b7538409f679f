/** What a container looks like: env, labels, host and bridge networking. */
import { describe, expect, it } from 'vitest';
import type { WorkloadSpec } from '../../../sandbox/config/mesh-types.js';
import { containerCreateOptions, containerEnv, containerName, defaultNetworkMode } from '../../../sandbox/runtime/docker/container-spec.js';
import { exitOf } from '../../../sandbox/runtime/docker-runtime.js';
import { commandOf } from '../../../sandbox/runtime/docker/images.js';
import type { LaunchSpec } from '../../../sandbox/runtime/runtime.js';

const workload: WorkloadSpec = {
  service: 'callme-service',
  version: 'v2',
  workload: 'callme-service-v2',
  replicas: 2,
  command: ['node', 'main.js'],
  cwd: '/tmp',
  env: { VERSION: 'v2', HTTP_PROXY: 'http://corp-proxy:3128' },
  labels: { app: 'callme-service', version: 'v2' },
  health: { path: '/actuator/health', intervalMs: 2000, timeoutMs: 1000, unhealthyThreshold: 3 },
  startTimeoutMs: 30_000,
};

const spec: LaunchSpec = {
  id: 'callme-service-v2-1',
  workload,
  port: 41000,
  env: {
    PATH: '/usr/bin',
    HOME: '/home/me',
    SECRET_TOKEN: 'do-not-copy',
    OTHER_URL: 'https://example.com',
    PORT: '41000',
    HOST: '127.0.0.1',
    HTTP_PROXY: 'http://corp-proxy:3128',
    http_proxy: 'http://127.0.0.1:42001',
    MESHBOX_OUTBOUND: 'http://127.0.0.1:42001',
    NO_PROXY: 'localhost,127.0.0.1,::1',
    no_proxy: 'localhost,127.0.0.1,::1',
    CALLER_SERVICE_URL: 'http://127.0.0.1:42002',
    CALLME_SERVICE_URL: 'http://127.0.0.1:42003',
    VERSION: 'v2',
    MESHBOX_SANDBOX: 'sample-abc123',
    MESHBOX_INSTANCE: 'callme-service-v2-1',
    MESHBOX_SEED: '42',
  },
};

const owner = { pid: 1234, started: '98765', host: 'laptop' };

describe('containerEnv', () => {
  it('keeps the contract and the user’s env, never meshbox’s own environment', () => {
    const env = containerEnv(spec, 'host');
    expect(env).toEqual({
      PORT: '41000',
      HOST: '127.0.0.1',
      HTTP_PROXY: 'http://corp-proxy:3128',
      http_proxy: 'http://127.0.0.1:42001',
      MESHBOX_OUTBOUND: 'http://127.0.0.1:42001',
      NO_PROXY: 'localhost,127.0.0.1,::1',
      no_proxy: 'localhost,127.0.0.1,::1',
      CALLER_SERVICE_URL: 'http://127.0.0.1:42002',
      CALLME_SERVICE_URL: 'http://127.0.0.1:42003',
      VERSION: 'v2',
      MESHBOX_SANDBOX: 'sample-abc123',
      MESHBOX_INSTANCE: 'callme-service-v2-1',
      MESHBOX_SEED: '42',
    });
  });

  it('bridge mode: listens on all interfaces and reaches the sidecars through host.docker.internal', () => {
    const env = containerEnv(spec, 'bridge');
    expect(env.HOST).toBe('0.0.0.0');
    expect(env.http_proxy).toBe('http://host.docker.internal:42001');
    expect(env.MESHBOX_OUTBOUND).toBe('http://host.docker.internal:42001');
    expect(env.CALLME_SERVICE_URL).toBe('http://host.docker.internal:42003');
    expect(env.HTTP_PROXY).toBe('http://corp-proxy:3128');
    expect(env.NO_PROXY).toBe('localhost,127.0.0.1,::1');
  });
});

describe('containerCreateOptions', () => {
  it('host mode: labels, host network, init, the image command', () => {
    const o = containerCreateOptions({ spec, sandboxId: 'sample-abc123', image: 'meshbox/callme-service:0123456789ab', cmd: ['node', 'main.js'], workingDir: '/app', mode: 'host', owner, init: true });
    expect(o.name).toBe('meshbox-sample-abc123-callme-service-v2-1');
    expect(o.Labels).toEqual({
      'meshbox.sandbox': 'sample-abc123',
      'meshbox.service': 'callme-service',
      'meshbox.version': 'v2',
      'meshbox.instance': 'callme-service-v2-1',
      'meshbox.workload': 'callme-service-v2',
      'meshbox.owner-pid': '1234',
      'meshbox.owner-started': '98765',
      'meshbox.owner-host': 'laptop',
    });
    expect(o.HostConfig).toMatchObject({ NetworkMode: 'host', Init: true, RestartPolicy: { Name: 'no' } });
    expect(o.HostConfig?.PortBindings).toBeUndefined();
    expect(o.Cmd).toEqual(['node', 'main.js']);
    expect(o.WorkingDir).toBe('/app');
    expect(o.Env).toContain('PORT=41000');
    expect(o.Env).not.toContain('SECRET_TOKEN=do-not-copy');
  });

  it('bridge mode: the app port published on 127.0.0.1 only, the host gateway added', () => {
    const o = containerCreateOptions({ spec, sandboxId: 's', image: 'img', mode: 'bridge', owner, init: false });
    expect(o.HostConfig?.NetworkMode).toBe('bridge');
    expect(o.HostConfig?.PortBindings).toEqual({ '41000/tcp': [{ HostIp: '127.0.0.1', HostPort: '41000' }] });
    expect(o.HostConfig?.ExtraHosts).toEqual(['host.docker.internal:host-gateway']);
    expect(o.ExposedPorts).toEqual({ '41000/tcp': {} });
    expect(o.Cmd).toBeUndefined();
  });

  it("a manifest's container command/args: `command` is the ENTRYPOINT, `args` the CMD; meshbox.yaml's `command` of an image is its CMD", () => {
    expect(commandOf({ container: { command: ['node', 'alt.mjs'] } })).toEqual({ entrypoint: ['node', 'alt.mjs'] });
    expect(commandOf({ container: { args: ['--verbose'] } })).toEqual({ cmd: ['--verbose'] });
    expect(commandOf({ container: { command: ['node'], args: ['a.mjs'] } })).toEqual({ entrypoint: ['node'], cmd: ['a.mjs'] });
    // the manifest gives neither: the image's own, even when the process runtime's command is set
    expect(commandOf({ container: {}, command: ['/bin/sh', '-c', 'node main.js'] })).toEqual({});
    expect(commandOf({ command: ['postgres', '-c', 'fsync=off'] })).toEqual({ cmd: ['postgres', '-c', 'fsync=off'] });
    const o = containerCreateOptions({ spec, sandboxId: 's', image: 'img', entrypoint: ['node', 'alt.mjs'], mode: 'host', owner, init: false });
    expect([o.Entrypoint, o.Cmd]).toEqual([['node', 'alt.mjs'], undefined]);
  });

  it('network mode by platform: host on a Linux engine, bridge on Docker Desktop and elsewhere', () => {
    expect(defaultNetworkMode('Debian GNU/Linux 12 (bookworm)', 'linux')).toBe('host');
    expect(defaultNetworkMode('Docker Desktop', 'linux')).toBe('bridge');
    expect(defaultNetworkMode('Docker Desktop', 'darwin')).toBe('bridge');
    expect(defaultNetworkMode('', 'win32')).toBe('bridge');
  });

  it('names are valid Docker names', () => {
    expect(containerName('my mesh-1', 'web-v1-1')).toBe('meshbox-my-mesh-1-web-v1-1');
  });
});

describe('exit status', () => {
  it('reads 128+n as killed by signal n, like a process', () => {
    expect(exitOf(137)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(exitOf(143)).toEqual({ code: null, signal: 'SIGTERM' });
    expect(exitOf(3)).toEqual({ code: 3, signal: null });
    expect(exitOf(0)).toEqual({ code: 0, signal: null });
    expect(exitOf(null)).toEqual({ code: null, signal: null });
  });
});
