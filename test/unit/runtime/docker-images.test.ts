/** Image planning without a daemon: how a command maps into an image, base image choice, FROM lines, build errors. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { describe, expect, it } from 'vitest';
import { MeshError } from '../../../sandbox/errors.js';
import { nearestPackageType, planAppImage, planCommand } from '../../../sandbox/runtime/docker/app-image.js';
import { labelInstruction, parseLdd, pickLocalNodeImage, sameArch } from '../../../sandbox/runtime/docker/base-image.js';
import { buildImage, jsonMessages } from '../../../sandbox/runtime/docker/image-build.js';
import { baseImagesOf, usesNodeImageArg } from '../../../sandbox/runtime/docker/user-build.js';
import { packageRoot } from '../../../sandbox/paths.js';

function project(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-plan-'));
  writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
  mkdirSync(path.join(dir, 'dist', 'svc'), { recursive: true });
  mkdirSync(path.join(dir, 'svc'));
  writeFileSync(path.join(dir, 'dist', 'svc', 'main.js'), 'export {}');
  writeFileSync(path.join(dir, 'dist', 'svc', 'config.json'), '{}');
  writeFileSync(path.join(dir, 'svc', 'server'), '#!/bin/sh\n', { mode: 0o755 });
  return dir;
}

const w = (command: string[], cwd: string) => ({ service: 'svc', version: 'v1', command, cwd });

describe('a process-style command in a generated image', () => {
  it('node <script>: the script folder is the image’s /app, paths inside it become relative', () => {
    const dir = project();
    const plan = planCommand(w(['node', '--enable-source-maps', 'dist/svc/main.js', '--config', 'dist/svc/config.json', 'plain'], dir));
    expect(plan.folder).toBe(path.join(dir, 'dist', 'svc'));
    expect(plan.cmd).toEqual(['node', '--enable-source-maps', 'main.js', '--config', 'config.json', 'plain']);
    expect(planCommand(w([process.execPath, '-r', 'x', path.join(dir, 'dist/svc/main.js')], dir)).cmd).toEqual(['node', '-r', 'x', 'main.js']);
  });

  it('the bundled sample services map to their compiled folders', () => {
    const sample = path.join(packageRoot(), 'sample-services');
    const plan = planCommand(w(['node', '../dist/sample-services/callme/main.js'], sample));
    expect(plan.folder).toBe(path.join(packageRoot(), 'dist', 'sample-services', 'callme'));
    expect(plan.cmd).toEqual(['node', 'main.js']);
  });

  it('sh -c and programs inside the folder run from the service cwd; other programs are refused', () => {
    const dir = project();
    expect(planCommand(w(['/bin/sh', '-c', 'node dist/svc/main.js'], dir))).toEqual({ folder: dir, cmd: ['/bin/sh', '-c', 'node dist/svc/main.js'] });
    expect(planCommand(w(['./svc/server', '--port', '1'], dir)).cmd).toEqual(['./svc/server', '--port', '1']);
    const err = (() => {
      try {
        planCommand(w(['python3', 'app.py'], dir));
      } catch (e) {
        return e as MeshError;
      }
      return undefined;
    })();
    expect(err?.code).toBe('MESH_ERR_WORKLOAD_START');
    expect(err?.hint).toMatch(/image.*build/);
  });

  it('adds {"type":"module"} when the folder has no package.json and the project is ESM', async () => {
    const dir = project();
    expect(nearestPackageType(path.join(dir, 'dist', 'svc'))).toBe('module');
    const plan = await planAppImage({ ...w(['node', 'dist/svc/main.js'], dir), workload: 'svc-v1', replicas: 1, env: {}, labels: {}, health: { path: '/', intervalMs: 1, timeoutMs: 1, unhealthyThreshold: 1 }, startTimeoutMs: 1 });
    expect(plan.packageJson).toBe('{"type":"module"}\n');
    expect(plan.files.map((f) => f.rel)).toEqual(['config.json', 'main.js']);
  });
});

describe('the Node base image', () => {
  it('prefers a local node image of the host’s major version, then the newest, never < 20', () => {
    expect(pickLocalNodeImage(['node:18', 'node:22-slim', 'node:20', 'nginx:1'], 20)).toBe('node:20');
    expect(pickLocalNodeImage(['node:18', 'node:22-slim', 'node:22'], 20)).toBe('node:22-slim');
    expect(pickLocalNodeImage(['docker.io/library/node:lts-alpine'], 20)).toBe('docker.io/library/node:lts-alpine');
    expect(pickLocalNodeImage(['node:18-slim', 'mynode:20'], 20)).toBeUndefined();
  });

  it('reads ldd output, loader included; a missing library is an error', () => {
    const out = `\tlinux-vdso.so.1 (0x00007ffd)\n\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n`;
    expect(parseLdd(out)).toEqual(['/lib/x86_64-linux-gnu/libdl.so.2', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
    expect(parseLdd('\t/lib/ld-musl-x86_64.so.1 (0x7f)\n\tlibc.musl-x86_64.so.1 => /lib/ld-musl-x86_64.so.1 (0x7f)\n')).toEqual(['/lib/ld-musl-x86_64.so.1']);
    expect(() => parseLdd('\tlibfoo.so.1 => not found\n')).toThrow(/libfoo/);
  });

  it('matches Node and Docker architecture names', () => {
    expect(sameArch('x64', 'x86_64')).toBe(true);
    expect(sameArch('arm64', 'aarch64')).toBe(true);
    expect(sameArch('x64', 'aarch64')).toBe(false);
  });

  it('writes all labels in one quoted LABEL instruction', () => {
    expect(labelInstruction({ 'meshbox.kind': 'app', 'meshbox.source': '/a b/"c"' })).toBe('LABEL "meshbox.kind"="app" "meshbox.source"="/a b/\\"c\\""');
  });
});

describe('a service’s own Dockerfile', () => {
  it('names the images its FROM lines need (ARGs resolved, stages and scratch left out)', () => {
    const df = `# syntax comment\nARG BASE=node:20-slim\nARG TAG\nFROM \${BASE} AS deps\nRUN echo hi\nFROM deps AS build\nFROM --platform=linux/amd64 busybox:\${TAG:-1.36}\nFROM scratch\nCOPY --from=build /a /a\nFROM alpine:\${MISSING}\n`;
    expect(baseImagesOf(df, {})).toEqual(['node:20-slim', 'busybox:1.36']);
    expect(baseImagesOf(df, { BASE: 'node:22', TAG: '1.37' })).toEqual(['node:22', 'busybox:1.37']);
    expect(usesNodeImageArg('ARG MESHBOX_NODE_IMAGE\nFROM ${MESHBOX_NODE_IMAGE}\n')).toBe(true);
    expect(usesNodeImageArg('FROM node:20\n')).toBe(false);
  });
});

describe('build progress', () => {
  it('parses JSON messages split anywhere', async () => {
    const text = '{"stream":"Step 1/2 : FROM scratch\\n"}\r\n{"stream":" ---> abc\\n"}\r\n{"aux":{"ID":"sha256:1"}}\r\n';
    const chunks = [text.slice(0, 10), text.slice(10, 50), text.slice(50)];
    const messages = [];
    for await (const m of jsonMessages(Readable.from(chunks.map((c) => Buffer.from(c))))) messages.push(m);
    expect(messages).toEqual([{ stream: 'Step 1/2 : FROM scratch\n' }, { stream: ' ---> abc\n' }, { aux: { ID: 'sha256:1' } }]);
  });

  it('a failing step is one MESH_ERR_IMAGE_BUILD naming the step and the output before it', async () => {
    const lines = [
      { stream: 'Step 1/3 : FROM meshbox/node:20\n' },
      { stream: ' ---> 1234\n' },
      { stream: 'Step 2/3 : RUN ./configure && make\n' },
      { stream: ' ---> Running in 99\n' },
      { stream: 'checking for gcc... no\n' },
      { errorDetail: { message: "The command '/bin/sh -c ./configure && make' returned a non-zero code: 2" }, error: 'The command ...' },
    ];
    const fake = { buildImage: async () => Readable.from(lines.map((l) => `${JSON.stringify(l)}\r\n`)) } as unknown as Dockerode;
    const progress: string[] = [];
    const err = (await buildImage(fake, { tag: 'meshbox/web:1', context: Readable.from([]), contextDir: '/src/web' }, (phase, _i, m) => progress.push(`${phase}:${m}`)).catch((e: unknown) => e)) as MeshError;
    expect(err).toBeInstanceOf(MeshError);
    expect(err.code).toBe('MESH_ERR_IMAGE_BUILD');
    expect(err.message).toContain('building image meshbox/web:1 failed at step 2/3 (RUN ./configure && make)');
    expect(err.message).toContain('returned a non-zero code: 2');
    expect(err.message).toContain('checking for gcc... no');
    expect(err.hint).toContain('/src/web/Dockerfile');
    expect(progress).toContain('progress:Step 2/3 : RUN ./configure && make');
    expect(progress.some((p) => p.includes('--->'))).toBe(false);
  });
});

describe('named images and --pull (fake daemon: no registry is reachable here)', () => {
  const fakeDocker = (present: Set<string>, pullLines: object[] | Error) =>
    ({
      getImage: (name: string) => ({
        inspect: async () => {
          if (present.has(name)) return { Id: `sha256:${name}`, Config: { Labels: {} } };
          throw Object.assign(new Error('no such image'), { statusCode: 404 });
        },
      }),
      pull: async (name: string) => {
        if (pullLines instanceof Error) throw pullLines;
        present.add(name);
        return Readable.from(pullLines.map((l) => `${JSON.stringify(l)}\r\n`));
      },
    }) as unknown as Dockerode;

  it('uses a local image, refuses a missing one with pulls off, pulls it with --pull', async () => {
    const { ImageManager } = await import('../../../sandbox/runtime/docker/images.js');
    const events: string[] = [];
    const report = (phase: string, image: string, message: string): void => void events.push(`${phase} ${image}: ${message}`);
    const present = new Set(['redis:7']);
    const lines = [{ status: 'Pulling from library/nginx', id: '1.27' }, { status: 'Downloading', id: 'abc', progress: '[=>  ]' }, { status: 'Pull complete', id: 'abc' }, { status: 'Status: Downloaded newer image for nginx:1.27' }];
    const off = new ImageManager(fakeDocker(present, lines), { pull: false, report, daemonOs: 'linux', daemonArch: 'x86_64' });
    await expect(off.ensurePresent('redis:7')).resolves.toBeUndefined();
    const err = (await off.ensurePresent('nginx:1.27').catch((e: unknown) => e)) as MeshError;
    expect(err.code).toBe('MESH_ERR_IMAGE_MISSING');
    expect(err.message).toBe('image nginx:1.27 is not present locally and pulls are off');
    const on = new ImageManager(fakeDocker(present, lines), { pull: true, report, daemonOs: 'linux', daemonArch: 'x86_64' });
    await on.ensurePresent('nginx:1.27');
    expect(events).toEqual(['start nginx:1.27: pulling nginx:1.27 (--pull)', 'progress nginx:1.27: 1.27: Pulling from library/nginx', 'progress nginx:1.27: abc: Pull complete', 'progress nginx:1.27: Status: Downloaded newer image for nginx:1.27', expect.stringMatching(/^done nginx:1.27: pulled nginx:1.27/)]);
  });

  it('a failed pull is one MESH_ERR_DOCKER with what to check', async () => {
    const { ImageManager } = await import('../../../sandbox/runtime/docker/images.js');
    const unreachable = new ImageManager(fakeDocker(new Set(), Object.assign(new Error('(HTTP code 500) server error - Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host '), { statusCode: 500 })), { pull: true, report: () => undefined, daemonOs: 'linux', daemonArch: 'x86_64' });
    const err = (await unreachable.ensurePresent('nginx:1.27').catch((e: unknown) => e)) as MeshError;
    expect(err.code).toBe('MESH_ERR_DOCKER');
    expect(err.message).toBe('Docker could not pull nginx:1.27: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host');
    expect(err.hint).toContain('registry is reachable');
    const failing = new ImageManager(fakeDocker(new Set(), [{ errorDetail: { message: 'manifest unknown' }, error: 'manifest unknown' }]), { pull: true, report: () => undefined, daemonOs: 'linux', daemonArch: 'x86_64' });
    expect(((await failing.ensurePresent('nginx:0').catch((e: unknown) => e)) as MeshError).message).toBe('Docker could not pull nginx:0: manifest unknown');
  });
});
