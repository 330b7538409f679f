/**
 * Start times of the sample mesh: `meshbox up` until it is ready (every instance healthy, the
 * "meshbox is up" line), for each runtime, and how long Ctrl-C takes to stop it.
 *
 *   process        workloads as child processes (nothing to build: one kind of start)
 *   docker cold    every meshbox image removed first (label meshbox.kind): the Node base image is
 *                  built FROM scratch from the host's node, then the service images on it
 *   docker warm    the images are present and their content hashes match: no build
 *
 *   npm run build && node dist/test/bench/start-times.js [--runs N] [--runtimes process,docker]
 *
 * Prints a table, then one `START_TIMES_JSON {...}` line. Cold Docker runs need the meshbox images
 * to be removable: no other meshbox sandbox may be running containers from them.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectDocker, dockerEndpoint, probeDaemon } from '../../sandbox/runtime/docker/daemon.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

interface Options {
  runs: number;
  runtimes: Array<'process' | 'docker'>;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { runs: 3, runtimes: ['process', 'docker'] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--runs') o.runs = Math.max(1, Number(argv[++i]));
    else if (a === '--runtimes') o.runtimes = argv[++i]!.split(',').filter((r): r is 'process' | 'docker' => r === 'process' || r === 'docker');
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: node dist/test/bench/start-times.js [--runs N] [--runtimes process,docker]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

interface Sample {
  readyMs: number;
  stopMs: number;
}

/** one `meshbox up` until ready, then Ctrl-C until it exited */
async function startOnce(runtime: 'process' | 'docker'): Promise<Sample> {
  const [ingress, admin] = [await freePort(), await freePort()];
  const state = mkdtempSync(path.join(os.tmpdir(), 'meshbox-bench-state-'));
  const t0 = performance.now();
  const proc = spawn(process.execPath, [CLI, 'up', '--headless', '--runtime', runtime, '--ingress-port', String(ingress), '--admin-port', String(admin), '--no-logs', '--no-access-log', '--seed', '1'], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', MESHBOX_STATE_DIR: state },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const readyMs = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready within 180 s:\n${out}`)), 180_000);
    const onData = (c: Buffer): void => {
      out += c.toString('utf8');
      if (out.includes('meshbox is up')) {
        clearTimeout(timer);
        resolve(performance.now() - t0);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`meshbox exited before it was ready:\n${out}`));
    });
  });
  const t1 = performance.now();
  proc.kill('SIGINT');
  const code = await exited;
  const stopMs = performance.now() - t1;
  rmSync(state, { recursive: true, force: true });
  if (code !== 0) throw new Error(`meshbox exited with ${code} after Ctrl-C:\n${out}`);
  return { readyMs, stopMs };
}

/** removes every meshbox image (service images before the base they are built on) */
async function removeMeshboxImages(): Promise<number> {
  const docker = await connectDocker(dockerEndpoint());
  const users = await docker.listContainers({ filters: JSON.stringify({ label: ['meshbox.sandbox'] }) });
  if (users.length > 0) {
    const sandboxes = [...new Set(users.map((c) => c.Labels['meshbox.sandbox']))].join(', ');
    throw new Error(`cold starts need the meshbox images removed, but sandbox ${sandboxes} runs containers from them: stop it (meshbox down --all) and run the bench again`);
  }
  const images = await docker.listImages({ filters: JSON.stringify({ label: ['meshbox.kind'] }) });
  const order = (i: (typeof images)[number]): number => (i.Labels?.['meshbox.kind'] === 'base' ? 1 : 0);
  images.sort((a, b) => order(a) - order(b));
  for (const img of images) await docker.getImage(img.Id).remove({ force: true });
  return images.length;
}

function stats(values: number[]): { median: number; min: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s[s.length - 1]! };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const results: Record<string, Sample[]> = {};
  if (o.runtimes.includes('docker')) {
    const probe = await probeDaemon(dockerEndpoint(), 5_000);
    if (!probe.ok) {
      log(`docker: no daemon answers (${probe.reason}); measuring the process runtime only`);
      o.runtimes = o.runtimes.filter((r) => r !== 'docker');
    }
  }
  if (o.runtimes.includes('process')) {
    results['process'] = [];
    await startOnce('process'); // warms the OS file cache and the JIT-independent parts once
    for (let i = 0; i < o.runs; i++) {
      const s = await startOnce('process');
      log(`process      run ${i + 1}: ready ${(s.readyMs / 1000).toFixed(2)} s, stop ${(s.stopMs / 1000).toFixed(2)} s`);
      results['process'].push(s);
    }
  }
  if (o.runtimes.includes('docker')) {
    results['docker cold'] = [];
    results['docker warm'] = [];
    for (let i = 0; i < o.runs; i++) {
      const removed = await removeMeshboxImages();
      const s = await startOnce('docker');
      log(`docker cold  run ${i + 1}: ready ${(s.readyMs / 1000).toFixed(2)} s, stop ${(s.stopMs / 1000).toFixed(2)} s (${removed} images removed first)`);
      results['docker cold'].push(s);
    }
    for (let i = 0; i < o.runs; i++) {
      const s = await startOnce('docker');
      log(`docker warm  run ${i + 1}: ready ${(s.readyMs / 1000).toFixed(2)} s, stop ${(s.stopMs / 1000).toFixed(2)} s`);
      results['docker warm'].push(s);
    }
  }
  const rows = Object.entries(results).map(([name, samples]) => ({ name, ready: stats(samples.map((s) => s.readyMs)), stop: stats(samples.map((s) => s.stopMs)), runs: samples.length }));
  const f = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  process.stdout.write(`\nmeshbox up -> ready, sample mesh (4 instances), ${os.cpus().length} CPUs, node ${process.version}\n`);
  process.stdout.write(`${'runtime'.padEnd(13)} ${'ready median'.padEnd(13)} ${'min-max'.padEnd(16)} ${'Ctrl-C stop'.padEnd(12)} runs\n`);
  for (const r of rows) {
    process.stdout.write(`${r.name.padEnd(13)} ${f(r.ready.median).padEnd(13)} ${`${f(r.ready.min)}-${f(r.ready.max)}`.padEnd(16)} ${f(r.stop.median).padEnd(12)} ${r.runs}\n`);
  }
  process.stdout.write(`START_TIMES_JSON ${JSON.stringify(Object.fromEntries(rows.map((r) => [r.name, { readyMs: Math.round(r.ready.median), readyMinMs: Math.round(r.ready.min), readyMaxMs: Math.round(r.ready.max), stopMs: Math.round(r.stop.median), runs: r.runs }])))}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
