/**
 * meshbox installed like other CLIs: `npm pack`, then `npm install -g` of the tarball into a fresh
 * prefix with a fresh npm cache (as on a new machine: the dependencies come from the npm
 * registry, no TypeScript, no clone), and `npx` of the same tarball. The installed `meshbox` must
 * print its version, validate and run the bundled sample (process runtime), answer through its
 * ingress gateway, and stop cleanly on Ctrl-C.
 *
 * The tarball is packed with --ignore-scripts from the dist/ that `npm test` has just built
 * (`prepare` would run the same build).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet, ROOT, waitForHttp } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';

const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';

interface Run {
  code: number | null;
  out: string;
  ms: number;
}

/** the environment of a fresh shell: no npm_* variables inherited from `npm test` */
function freshEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, NO_COLOR: '1', ...extra };
}

function exec(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; onOutput?: (all: string) => void }): Promise<Run> & { pid?: number; kill(sig: NodeJS.Signals): void } {
  const started = Date.now();
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const onData = (c: Buffer): void => {
    out += c.toString('utf8');
    opts.onOutput?.(out);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
  const done = new Promise<Run>((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, ms: Date.now() - started });
    }),
  );
  return Object.assign(done, { pid: child.pid, kill: (sig: NodeJS.Signals) => void child.kill(sig) });
}

describe('npm pack + npm install -g / npx on a fresh machine', () => {
  let work = '';
  let tarball = '';
  let prefix = '';
  let cache = '';
  let bin = '';
  let home = '';
  let packed: { files: Array<{ path: string }> } = { files: [] };

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'meshbox-pack-'));
    prefix = path.join(work, 'prefix');
    cache = path.join(work, 'npm-cache');
    home = path.join(work, 'home');
    mkdirSync(home);
    const pack = await exec(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, env: freshEnv({}), timeoutMs: 60_000 });
    expect(pack.code, pack.out).toBe(0);
    const info = (JSON.parse(pack.out.slice(pack.out.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>)[0]!;
    packed = info;
    tarball = path.join(work, info.filename);
    expect(existsSync(tarball)).toBe(true);
  }, 90_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the tarball ships the built CLI, the sample and the scenarios, and no sources or tests of meshbox itself', () => {
    const files = packed.files.map((f) => f.path);
    for (const f of ['package.json', 'README.md', 'LICENSE', 'dist/cli/main.js', 'dist/sandbox/index.js', 'dist/sample-services/caller/main.js', 'dist/sample-services/callme/main.js', 'sample-services/meshbox.yaml', 'sample-services/rules/callme-service.yaml', 'scenarios/canary-split.yaml']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => /^(cli|sandbox|test)\//.test(f) || f.startsWith('dist/test/') || f.endsWith('.map') || f.startsWith('node_modules/'))).toEqual([]);
  });

  it('npm install -g of the tarball into a fresh prefix and cache gives a working meshbox: --version, validate, up + a request through the ingress, Ctrl-C', async () => {
    const install = await exec(NPM, ['install', '-g', tarball, '--prefix', prefix, '--cache', cache, '--no-audit', '--no-fund', '--loglevel', 'error'], { cwd: work, env: freshEnv({ HOME: home }), timeoutMs: 240_000 });
    expect(install.code, install.out).toBe(0);
    console.log(`npm install -g of the tarball with an empty cache: ${(install.ms / 1000).toFixed(1)} s`);
    bin = process.platform === 'win32' ? path.join(prefix, 'meshbox.cmd') : path.join(prefix, 'bin', 'meshbox');
    expect(existsSync(bin)).toBe(true);
    const installed = process.platform === 'win32' ? path.join(prefix, 'node_modules', 'meshbox') : path.join(prefix, 'lib', 'node_modules', 'meshbox');
    // no compiler needed or installed: only the runtime dependencies come along
    expect(existsSync(path.join(installed, 'node_modules', 'typescript'))).toBe(false);
    expect(existsSync(path.join(installed, 'node_modules', 'commander'))).toBe(true);

    const cwd = mkdtempSync(path.join(work, 'project-'));
    const env = freshEnv({ HOME: home, MESHBOX_STATE_DIR: path.join(work, 'state') });
    const version = await exec(bin, ['--version'], { cwd, env, timeoutMs: 30_000 });
    expect(version).toMatchObject({ code: 0 });
    expect(version.out.trim()).toBe(VERSION);

    const validate = await exec(bin, ['validate'], { cwd, env, timeoutMs: 30_000 });
    expect(validate.code, validate.out).toBe(0);
    expect(validate.out).toContain(path.join(installed, 'sample-services', 'meshbox.yaml'));
    expect(validate.out).toMatch(/0 errors/);

    const [ip, ap] = [await freePort(), await freePort()];
    let ready: () => void = () => undefined;
    const isUp = new Promise<void>((resolve) => (ready = resolve));
    const up = exec(bin, ['up', '--headless', '--runtime', 'process', '--ingress-port', String(ip), '--admin-port', String(ap), '--no-logs', '--no-access-log'], {
      cwd,
      env,
      timeoutMs: 90_000,
      onOutput: (all) => {
        if (all.includes('meshbox is up')) ready();
      },
    });
    try {
      await Promise.race([isUp, up.then((r) => Promise.reject(new Error(`meshbox up exited ${r.code}:\n${r.out}`)))]);
      await waitForHttp(`http://127.0.0.1:${ap}/ready`);
      const r = await httpGet(`http://127.0.0.1:${ip}/caller/ping`, { host: 'caller.example.com' });
      expect(r.status).toBe(200);
      expect(r.body).toMatch(/^I'm caller-service v1\. Calling\.\.\. I'm callme-service v[12]$/);
    } finally {
      up.kill('SIGINT');
    }
    const stopped = await up;
    expect(stopped.code, stopped.out).toBe(0);
    expect(stopped.out).toContain(path.join(installed, 'sample-services', 'meshbox.yaml'));
  }, 300_000);

  it('npx runs the same tarball without installing it globally', async () => {
    const cwd = mkdtempSync(path.join(work, 'npx-'));
    const r = await exec(NPX, ['--yes', '--package', tarball, '--cache', cache, 'meshbox', '--version'], { cwd, env: freshEnv({ HOME: home }), timeoutMs: 180_000 });
    expect(r.code, r.out).toBe(0);
    expect(r.out.trim().split('\n').at(-1)).toBe(VERSION);
    console.log(`npx --package <tarball> meshbox --version: ${(r.ms / 1000).toFixed(1)} s`);
  }, 200_000);
});
