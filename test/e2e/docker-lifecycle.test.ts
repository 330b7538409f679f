/**
 * The Docker runtime from the CLI: nothing left behind (`meshbox down`, kill -9 with the
 * watchdog, kill -9 of meshbox and its watchdog followed by a new `up`, two sandboxes side by
 * side), offline images (generated and Dockerfile-built, cached by content, rebuilt on change),
 * and one clear error for each failure (no daemon, a missing image with pulls off, a failing build
 * step, a FROM image that is not there).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Dockerode from 'dockerode';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../sandbox/runtime/sandbox-state.js';
import { httpGet, interrupt, runCli, startCli, waitForHttp, type CliRun } from '../helpers/cli.js';
import { runLoad } from '../../sandbox/chaos/load-generator.js';
import { dockerForTests, instanceContainer, sandboxContainers, testDocker } from '../helpers/docker-available.js';
import { appSource, writeDockerProject } from '../helpers/docker-fixture.js';
import { freePort } from '../helpers/free-port.js';

const docker = await dockerForTests('Docker lifecycle e2e tests');
const NO_DAEMON = { DOCKER_HOST: 'unix:///nonexistent/docker.sock' };

interface Status {
  sandbox: string;
  runtime: string;
  instances: Array<{ id: string; healthy: boolean; appPort: number; sidecar: { inbound: number } }>;
}

const runs: CliRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) if (r.proc.exitCode === null && r.proc.signalCode === null) await interrupt(r);
});

async function up(args: string[], env: Record<string, string>): Promise<{ run: CliRun; admin: string; ingress: string; status: () => Promise<Status> }> {
  const [ip, ap] = [await freePort(), await freePort()];
  const run = startCli(['up', '--headless', '--ingress-port', String(ip), '--admin-port', String(ap), '--no-access-log', ...args], env);
  runs.push(run);
  const admin = `http://127.0.0.1:${ap}`;
  await run.waitFor('meshbox is up', 120_000);
  await waitForHttp(`${admin}/ready`);
  return { run, admin, ingress: `http://127.0.0.1:${ip}`, status: async () => JSON.parse((await httpGet(`${admin}/status`)).body) as Status };
}

function stateDir(): Record<string, string> {
  return { MESHBOX_STATE_DIR: mkdtempSync(path.join(os.tmpdir(), 'meshbox-state-')) };
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`condition not met within ${timeoutMs}ms`);
}

/** the pid of a sandbox's watchdog process (Linux /proc) */
function watchdogPid(sandbox: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => a.endsWith('watchdog-main.js')) && argv.includes(sandbox)) return Number(entry);
    } catch {
      // gone
    }
  }
  return undefined;
}

describe('without a Docker daemon', () => {
  it('--runtime docker is one clear error', async () => {
    const r = await runCli(['up', '--headless', '--runtime', 'docker', '--ingress-port', String(await freePort()), '--admin-port', String(await freePort())], { ...NO_DAEMON, ...stateDir() });
    expect(r.code).toBe(3);
    expect(r.output).toContain('error MESH_ERR_DOCKER_UNAVAILABLE: no Docker daemon answers at unix:///nonexistent/docker.sock (ENOENT: the socket does not exist)');
    expect(r.output).toContain('hint: start Docker');
    expect(r.output).not.toMatch(/at .*\.js:\d+/);
  });

  it('--runtime auto falls back to processes and says so', async () => {
    const { run, status } = await up(['--no-logs'], { ...NO_DAEMON, ...stateDir() });
    expect(run.output()).toContain('no Docker daemon answers at unix:///nonexistent/docker.sock (ENOENT: the socket does not exist): running workloads as processes (--runtime auto)');
    expect((await status()).runtime).toBe('process');
    expect(await interrupt(run)).toBe(0);
  });
});

describe.skipIf(!docker.available)('the Docker runtime from the CLI', { timeout: 120_000 }, () => {
  let d: Dockerode;
  beforeAll(async () => {
    d = await testDocker();
  });

  it('auto picks Docker when a daemon answers; a container killed outside meshbox comes back; meshbox down leaves no container', async () => {
    const env = stateDir();
    const { run, status, ingress, admin } = await up(['--no-logs'], env);
    expect((await status()).runtime).toBe('docker');
    expect(run.output()).toContain('workloads run as Docker containers (daemon at');
    const sandbox = (await status()).sandbox;
    expect((await sandboxContainers(sandbox, d)).length).toBe(6);

    // `docker kill` from another terminal: meshbox sees the container die and restarts it
    const before = await instanceContainer(d, sandbox, 'callme-service-v2-1');
    await d.getContainer(before!.Id).kill({ signal: 'SIGKILL' });
    const load = await runLoad({ url: `${ingress}/caller/ping`, headers: { host: 'caller.example.com' }, concurrency: 4, maxRequests: 200, durationMs: 60_000 });
    expect((load.statusCounts['200'] ?? 0) / load.completed).toBeGreaterThan(0.97);
    await run.waitFor('callme-service-v2-1 exited (signal SIGKILL)');
    await run.waitFor(/callme-service-v2-1 restarting in 0\.5s \(killed by SIGKILL\)/);
    await waitForHttp(`${admin}/ready`, 200, 20_000);
    const after = await instanceContainer(d, sandbox, 'callme-service-v2-1');
    expect(after?.State).toBe('running');
    expect(after?.Id).not.toBe(before!.Id);
    const down = await runCli(['down'], env);
    expect(down.code).toBe(0);
    expect(down.output).toContain(`stopping sandbox ${sandbox}`);
    expect(down.output).toContain(`sandbox ${sandbox} stopped`);
    expect(await run.exited).toBe(0);
    expect(await sandboxContainers(sandbox, d)).toEqual([]);
    expect((await runCli(['down'], env)).output).toContain('no meshbox sandbox is running');
  });

  it('kill -9 of meshbox: its watchdog removes the containers at once', async () => {
    const { run, status } = await up(['--runtime', 'docker', '--no-logs'], stateDir());
    const sandbox = (await status()).sandbox;
    expect(watchdogPid(sandbox)).toBeDefined();
    run.proc.kill('SIGKILL');
    await run.exited;
    await until(async () => (await sandboxContainers(sandbox, d)).length === 0, 15_000);
    await until(async () => watchdogPid(sandbox) === undefined, 5_000);
  });

  it('kill -9 of meshbox and its watchdog: the next up removes the leftovers and says so; another sandbox is untouched', async () => {
    const envA = stateDir();
    const a = await up(['--runtime', 'docker', '--no-logs'], envA);
    const sandboxA = (await a.status()).sandbox;
    // B runs with another state folder: only the owner recorded in its containers' labels protects it
    const b = await up(['--runtime', 'docker', '--no-logs'], stateDir());
    const sandboxB = (await b.status()).sandbox;
    const wd = watchdogPid(sandboxA)!;
    process.kill(wd, 'SIGKILL');
    await until(async () => !isAlive(wd), 5_000);
    a.run.proc.kill('SIGKILL');
    await a.run.exited;
    expect((await sandboxContainers(sandboxA, d)).length).toBe(6);

    const c = await up(['--runtime', 'docker', '--no-logs'], envA);
    expect(c.run.output()).toMatch(new RegExp(`sandbox ${sandboxA} was left behind by a meshbox that died \\(pid \\d+\\): removed its containers meshbox-${sandboxA}-caller-service-v1-1, meshbox-${sandboxA}-callme-service-v1-1`));
    expect(await sandboxContainers(sandboxA, d)).toEqual([]);
    expect((await sandboxContainers(sandboxB, d)).length).toBe(6);
    const viaB = await httpGet(`${b.ingress}/caller/ping`, { host: 'caller.example.com' });
    expect(viaB.status).toBe(200);
    expect(await interrupt(c.run)).toBe(0);
    expect((await sandboxContainers(sandboxB, d)).length).toBe(6);
    expect(await interrupt(b.run)).toBe(0);
    expect(await sandboxContainers(sandboxB, d)).toEqual([]);
  });

  it('builds images offline, reuses them while the sources are unchanged, rebuilds what changed', async () => {
    const nonce = randomBytes(4).toString('hex');
    const project = writeDockerProject({ message: `hello ${nonce}` });
    const env = { ...stateDir(), LEAK_CHECK: 'from-the-shell' };
    const ask = async (s: Status, id: string): Promise<Record<string, unknown>> => {
      const inst = s.instances.find((i) => i.id === id)!;
      // through the instance's inbound sidecar, as any caller in the mesh
      const r = await httpGet(`http://127.0.0.1:${inst.sidecar.inbound}/`);
      expect(r.status).toBe(200);
      return JSON.parse(r.body) as Record<string, unknown>;
    };

    const first = await up(['--runtime', 'docker', '--config', project.meshFile], env);
    expect(first.run.output()).toMatch(/building image meshbox\/web:[0-9a-f]{12} for web from .*\/web \(1 files\)/);
    expect(first.run.output()).toMatch(/building image meshbox\/built:[0-9a-f]{12} for built from .*\/built\/Dockerfile/);
    expect(first.run.output()).toMatch(/Step \d+\/\d+ : RUN echo built-by-dockerfile > \/srv\/marker/);
    const s1 = await first.status();
    expect(await ask(s1, 'web-v1-1')).toMatchObject({ message: `hello ${nonce}`, cwd: '/app', host: '127.0.0.1', leak: null, user: 'from-meshbox-yaml' });
    expect(await ask(s1, 'built-v1-1')).toMatchObject({ message: `hello ${nonce} from built`, cwd: '/srv', marker: 'built-by-dockerfile' });
    await first.run.waitFor('web-v1-1 | listening on 127.0.0.1:');
    expect(await interrupt(first.run)).toBe(0);

    const second = await up(['--runtime', 'docker', '--config', project.meshFile], env);
    expect(second.run.output()).toMatch(/image meshbox\/web:[0-9a-f]{12} for web is up to date/);
    expect(second.run.output()).toMatch(/image meshbox\/built:[0-9a-f]{12} for built is up to date/);
    expect(second.run.output()).not.toContain('building image');
    expect(await interrupt(second.run)).toBe(0);

    writeFileSync(project.webMain, appSource(`changed ${nonce}`));
    const third = await up(['--runtime', 'docker', '--config', project.meshFile], env);
    expect(third.run.output()).toMatch(/building image meshbox\/web:[0-9a-f]{12} for web/);
    expect(third.run.output()).toMatch(/image meshbox\/built:[0-9a-f]{12} for built is up to date/);
    expect(await ask(await third.status(), 'web-v1-1')).toMatchObject({ message: `changed ${nonce}` });
    expect(await interrupt(third.run)).toBe(0);

    // these images hold this run's nonce: nobody will use them again
    const tags = new Set([first, third].flatMap((r) => [...r.run.output().matchAll(/building image (meshbox\/(?:web|built):[0-9a-f]{12})/g)].map((m) => m[1]!)));
    expect(tags.size).toBe(3);
    for (const tag of tags) await d.getImage(tag).remove({ force: true });
  });

  describe('failures are one clear message each, and leave no container', () => {
    const failing = (services: string, files: Record<string, string> = {}): string => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-docker-fail-'));
      for (const [rel, text] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        writeFileSync(path.join(dir, rel), text);
      }
      writeFileSync(path.join(dir, 'meshbox.yaml'), `name: failtest\nservices:\n${services}`);
      return path.join(dir, 'meshbox.yaml');
    };
    const upFails = async (config: string): Promise<{ code: number | null; output: string }> =>
      runCli(['up', '--headless', '--runtime', 'docker', '--config', config, '--ingress-port', String(await freePort()), '--admin-port', String(await freePort())], stateDir());
    const noFailtestContainers = async (): Promise<void> => {
      const all = await d.listContainers({ all: true, filters: JSON.stringify({ label: ['meshbox.sandbox'] }) });
      expect(all.filter((c) => c.Labels['meshbox.sandbox']?.startsWith('failtest-'))).toEqual([]);
    };

    it('an image that is not present locally, with pulls off', async () => {
      const r = await upFails(failing('  web:\n    port: 8080\n    image: meshbox-test/absent:1\n'));
      expect(r.code).toBe(5);
      expect(r.output).toContain('error MESH_ERR_IMAGE_MISSING: image meshbox-test/absent:1 is not present locally and pulls are off');
      expect(r.output).toContain('`docker pull meshbox-test/absent:1`');
      expect(r.output).toContain('meshbox up --pull');
      await noFailtestContainers();
    });

    it('a Dockerfile FROM an image that is not there', async () => {
      const r = await upFails(failing('  web:\n    port: 8080\n    build: ./web\n', { 'web/Dockerfile': 'FROM busybox:1.36\nCMD ["true"]\n' }));
      expect(r.code).toBe(5);
      expect(r.output).toContain('error MESH_ERR_IMAGE_MISSING: image busybox:1.36 is not present locally and pulls are off');
      expect(r.output).toContain('ARG MESHBOX_NODE_IMAGE');
      await noFailtestContainers();
    });

    it('a failing build step, with the step and its output', async () => {
      const r = await upFails(
        failing('  web:\n    port: 8080\n    build: ./web\n', { 'web/Dockerfile': `ARG MESHBOX_NODE_IMAGE\nFROM \${MESHBOX_NODE_IMAGE}\nRUN echo checking-${randomBytes(3).toString('hex')} && exit 3\n` }),
      );
      expect(r.code).toBe(5);
      expect(r.output).toMatch(/error MESH_ERR_IMAGE_BUILD: building image meshbox\/web:[0-9a-f]{12} failed at step \d+\/\d+ \(RUN echo checking-[0-9a-f]+ && exit 3\): The command '\/bin\/sh -c echo checking-[0-9a-f]+ && exit 3' returned a non-zero code: 3/);
      expect(r.output).toMatch(/last output:\n\s+checking-[0-9a-f]+/);
      expect(r.output).toMatch(/hint: fix that step in .*\/web\/Dockerfile/);
      await noFailtestContainers();
    });
  });
});
