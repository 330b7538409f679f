/**
 * The TCP benchmark: one TCP proxy hop on loopback, meshbox's sidecar (Envoy's tcp_proxy model:
 * ../../sandbox/proxy/tcp/) against the same echo server reached directly and through nginx's
 * `stream` proxy_pass (1 worker) in the same run.
 *
 *   node dist/test/bench/tcp.js [--seconds N] [--no-nginx]       (after `npm run build`)
 *
 * Per target, after a warm-up:
 *   latency   one connection, sequential 64-byte round trips: p50 / p99 (added latency = the
 *             target's p50 minus direct's)
 *   rr        8 connections, closed loop of 64-byte round trips: round trips/s and the proxy's
 *             CPU per round trip
 *   bulk      4 connections streaming 64 KiB writes that the echo returns: MB/s each way and the
 *             proxy's CPU per MB (a MB crosses the proxy twice: to the echo and back)
 * The proxy runs alone on core 0, the echo server and this load generator on core 1 (taskset), as
 * in reference/perf-baseline.md; before and after each target every core is probed for speed and
 * a target measured on a slowed core is marked noisy. Prints a table on stdout and one
 * `BENCH_TCP_JSON {...}` line; progress on stderr. Every process it starts is stopped.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bestByCore, NOISY_RATIO, probeCores, slowestRatio, type ProbeResult } from './cpu-probe.js';
import { findNginx, nginxArgs, type NginxInfo } from './nginx.js';
import { allowedCpus, childPids, readCpuSeconds } from './proc-stats.js';
import { hasTaskset, pin, ProcessSet, type Tracked } from './processes.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(HERE, 'tcp-bench-child.js');
const T0 = performance.now();
const MESSAGE = Buffer.alloc(64, 0x61);
const CHUNK = Buffer.alloc(64 * 1024, 0x62);

export interface TcpBenchOptions {
  /** seconds per measured phase (latency, rr, bulk) */
  seconds: number;
  nginx: boolean;
}

export interface TcpTargetResult {
  target: 'direct' | 'meshbox' | 'nginx';
  latency: { p50Ms: number; p99Ms: number; roundTrips: number };
  rr: { roundTripsPerSecond: number; cpuUsPerRoundTrip?: number };
  bulk: { mbPerSecond: number; cpuMsPerMb?: number };
  noisy: boolean;
  probeRatio: number;
  error?: string;
}

export interface TcpBenchResult {
  options: TcpBenchOptions;
  pinned: boolean;
  nginx?: string;
  skipped?: string;
  targets: TcpTargetResult[];
}

function log(line: string): void {
  process.stderr.write(`[${((performance.now() - T0) / 1000).toFixed(1).padStart(5)}s] tcp: ${line}\n`);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** waits for the `{"port":N}` line a child prints in its log */
async function portOf(t: Tracked, maxMs = 10_000): Promise<number> {
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    const m = /\{"port":(\d+)\}/.exec(readFileSync(t.logPath, 'utf8'));
    if (m) return Number(m[1]);
    if (t.done()) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${t.name} did not start: ${t.tail()}`);
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** closed loop of 64-byte round trips on `connections` sockets for `ms`; latencies when asked */
async function roundTrips(port: number, connections: number, ms: number, latencies?: number[]): Promise<number> {
  const sockets = await Promise.all(Array.from({ length: connections }, () => connect(port)));
  const until = performance.now() + ms;
  let count = 0;
  await Promise.all(
    sockets.map(
      (s) =>
        new Promise<void>((resolve, reject) => {
          let got = 0;
          let sent = 0;
          const send = (): void => {
            if (performance.now() >= until) return resolve();
            got = 0;
            sent = performance.now();
            s.write(MESSAGE);
          };
          s.on('data', (d: Buffer) => {
            got += d.length;
            if (got < MESSAGE.length) return;
            count++;
            latencies?.push(performance.now() - sent);
            send();
          });
          s.once('error', reject);
          send();
        }),
    ),
  );
  for (const s of sockets) s.destroy();
  return count;
}

/** 64 KiB writes on `connections` sockets for `ms`, with back-pressure; bytes echoed back */
async function bulk(port: number, connections: number, ms: number): Promise<number> {
  const sockets = await Promise.all(Array.from({ length: connections }, () => connect(port)));
  let received = 0;
  const until = performance.now() + ms;
  await Promise.all(
    sockets.map(
      (s) =>
        new Promise<void>((resolve, reject) => {
          s.on('data', (d: Buffer) => (received += d.length));
          s.once('error', reject);
          const pump = (): void => {
            while (performance.now() < until) {
              if (!s.write(CHUNK)) {
                s.once('drain', pump);
                return;
              }
            }
            resolve();
          };
          pump();
        }),
    ),
  );
  for (const s of sockets) s.destroy();
  return received;
}

function cpuOf(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + (readCpuSeconds(pid) ?? 0), 0);
}

async function measure(target: TcpTargetResult['target'], port: number, proxyPids: number[], seconds: number, probe: () => Promise<ProbeResult>): Promise<Omit<TcpTargetResult, 'noisy' | 'probeRatio'> & { probes: ProbeResult[] }> {
  const ms = seconds * 1000;
  const probes = [await probe()];
  log(`${target}: warm-up`);
  await roundTrips(port, 8, Math.min(2000, ms));
  await bulk(port, 4, Math.min(1000, ms));
  log(`${target}: latency (1 connection, ${seconds}s)`);
  const lat: number[] = [];
  await roundTrips(port, 1, ms, lat);
  lat.sort((a, b) => a - b);
  log(`${target}: round trips (8 connections, ${seconds}s)`);
  let cpu0 = cpuOf(proxyPids);
  let t0 = performance.now();
  const rt = await roundTrips(port, 8, ms);
  let wall = (performance.now() - t0) / 1000;
  const rrCpu = cpuOf(proxyPids) - cpu0;
  log(`${target}: bulk (4 connections, ${seconds}s)`);
  cpu0 = cpuOf(proxyPids);
  t0 = performance.now();
  const bytes = await bulk(port, 4, ms);
  const bulkWall = (performance.now() - t0) / 1000;
  const bulkCpu = cpuOf(proxyPids) - cpu0;
  probes.push(await probe());
  const mb = bytes / (1024 * 1024);
  wall = Math.max(wall, 1e-9);
  return {
    target,
    probes,
    latency: { p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), roundTrips: lat.length },
    rr: { roundTripsPerSecond: rt / wall, ...(proxyPids.length ? { cpuUsPerRoundTrip: (rrCpu * 1e6) / Math.max(1, rt) } : {}) },
    bulk: { mbPerSecond: mb / bulkWall, ...(proxyPids.length ? { cpuMsPerMb: (bulkCpu * 1000) / Math.max(1e-9, mb) } : {}) },
  };
}

/** nginx's `stream` module: built in, or a dynamic module Debian ships as libnginx-mod-stream */
function streamModule(info: NginxInfo): { load?: string } | undefined {
  if (/--with-stream(\s|$)/.test(info.configure)) return {};
  const candidates = ['/usr/lib/nginx/modules/ngx_stream_module.so', '/usr/share/nginx/modules/ngx_stream_module.so'];
  const found = candidates.find((c) => existsSync(c));
  return found ? { load: found } : undefined;
}

function nginxStreamConfig(prefix: string, load: string | undefined, listen: number, upstream: number): string {
  return [
    '# generated by meshbox test/bench/tcp.ts: one stream proxy_pass hop',
    ...(load ? [`load_module ${load};`] : []),
    'worker_processes 1;',
    `pid ${prefix}/nginx.pid;`,
    `error_log ${prefix}/error.log warn;`,
    'events { worker_connections 1024; }',
    'stream {',
    '  server {',
    `    listen 127.0.0.1:${listen};`,
    `    proxy_pass 127.0.0.1:${upstream};`,
    '    tcp_nodelay on;',
    '  }',
    '}',
    '',
  ].join('\n');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function runTcpBench(options: TcpBenchOptions): Promise<TcpBenchResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-bench-tcp-'));
  const procs = new ProcessSet(dir);
  const cpus = allowedCpus();
  const pinned = hasTaskset() && cpus.length >= 2;
  const [proxyCore, appCore] = pinned ? [String(cpus[0]), String(cpus[1])] : ['', ''];
  const start = (name: string, args: string[], command = process.execPath): Tracked =>
    pinned ? procs.start({ name, command: 'taskset', args: ['-c', name === 'echo' ? appCore : proxyCore, command, ...args], graceMs: 3000 }) : procs.start({ name, command, args, graceMs: 3000 });
  const probe = (): Promise<ProbeResult> => probeCores(pinned ? [Number(proxyCore), Number(appCore)] : [], 500, pinned, T0);
  const result: TcpBenchResult = { options, pinned, targets: [] };
  const measured: Array<Omit<TcpTargetResult, 'noisy' | 'probeRatio'> & { probes: ProbeResult[] }> = [];
  try {
    if (pinned) pin(process.pid, appCore);
    const echo = start('echo', [CHILD, 'echo', '0']);
    const echoPort = await portOf(echo);
    measured.push(await measure('direct', echoPort, [], options.seconds, probe));

    const side = start('sidecar', [CHILD, 'sidecar', String(echoPort)]);
    const sidePort = await portOf(side);
    measured.push(await measure('meshbox', sidePort, [side.pid], options.seconds, probe));
    await procs.stop(side);

    const info = options.nginx ? findNginx() : undefined;
    const module = info ? streamModule(info) : undefined;
    if (!options.nginx) result.skipped = 'nginx: --no-nginx';
    else if (!info) result.skipped = 'nginx is not installed (apt-get install nginx-light libnginx-mod-stream)';
    else if (!module) result.skipped = `nginx ${info.version} has no stream module (apt-get install libnginx-mod-stream)`;
    else {
      result.nginx = info.version;
      const listen = await freePort();
      const conf = path.join(dir, 'nginx-stream.conf');
      writeFileSync(conf, nginxStreamConfig(dir, module.load, listen, echoPort));
      const check = spawnSync(info.path, nginxArgs(info, dir, conf, true), { encoding: 'utf8', timeout: 10_000 });
      if (check.status !== 0) throw new Error(`nginx -t: ${check.stderr}`);
      const nginx = procs.start({ name: 'nginx', command: pinned ? 'taskset' : info.path, args: pinned ? ['-c', proxyCore, info.path, ...nginxArgs(info, dir, conf)] : nginxArgs(info, dir, conf), graceMs: 3000, stopSignal: 'SIGQUIT' });
      const until = Date.now() + 10_000;
      while (Date.now() < until && !(await connect(listen).then((s) => (s.destroy(), true), () => false))) await new Promise((r) => setTimeout(r, 50));
      // nginx's master (a shell-less exec under taskset keeps the pid) and its worker
      const pids = [nginx.pid, ...childPids(nginx.pid)];
      measured.push(await measure('nginx', listen, pids, options.seconds, probe));
      await procs.stop(nginx);
    }
    await procs.stop(echo);
  } finally {
    await procs.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
  const best = bestByCore(measured.flatMap((m) => m.probes));
  result.targets = measured.map(({ probes, ...m }) => {
    const ratio = slowestRatio(probes, best);
    return { ...m, probeRatio: ratio, noisy: ratio < NOISY_RATIO };
  });
  return result;
}

const fmt = (v: number | undefined, digits = 1): string => (v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits));

/** the table: one row per target, added latency over direct */
export function formatTcpReport(r: TcpBenchResult): string {
  const direct = r.targets.find((t) => t.target === 'direct');
  const lines = [
    `TCP, one proxy hop on loopback (64-byte round trips, 64 KiB bulk writes; ${r.options.seconds}s per phase${r.pinned ? '; proxy on core 0, echo and load on core 1' : '; not pinned'})`,
    '| target | p50 / p99 round trip (1 conn) | added p50 | round trips/s (8 conns) | CPU per round trip | bulk MB/s each way | CPU per MB |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const t of r.targets) {
    const added = direct && t !== direct ? `+${fmt((t.latency.p50Ms - direct.latency.p50Ms) * 1000, 0)} µs` : '—';
    lines.push(
      `| ${t.target === 'meshbox' ? 'meshbox sidecar (tcp_proxy)' : t.target === 'nginx' ? `nginx ${r.nginx ?? ''} stream, 1 worker` : 'direct, no proxy'}${t.noisy ? ' (noisy)' : ''} | ${fmt(t.latency.p50Ms * 1000, 0)} / ${fmt(t.latency.p99Ms * 1000, 0)} µs | ${added} | ${fmt(t.rr.roundTripsPerSecond / 1000, 1)}k | ${t.rr.cpuUsPerRoundTrip === undefined ? '—' : `${fmt(t.rr.cpuUsPerRoundTrip, 1)} µs`} | ${fmt(t.bulk.mbPerSecond, 0)} | ${t.bulk.cpuMsPerMb === undefined ? '—' : `${fmt(t.bulk.cpuMsPerMb, 2)} ms`} |`,
    );
  }
  if (r.skipped) lines.push('', r.skipped);
  return lines.join('\n');
}

export function parseTcpBenchArgs(argv: string[]): TcpBenchOptions {
  const o: TcpBenchOptions = { seconds: 3, nginx: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--seconds') o.seconds = Math.max(0.5, Math.min(60, Number(argv[++i]) || 3));
    else if (a === '--no-nginx') o.nginx = false;
    else throw new Error(`unknown option ${a} (usage: tcp.js [--seconds N] [--no-nginx])`);
  }
  return o;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const options = parseTcpBenchArgs(process.argv.slice(2));
  runTcpBench(options).then(
    (r) => {
      process.stdout.write(`${formatTcpReport(r)}\n`);
      process.stdout.write(`BENCH_TCP_JSON ${JSON.stringify(r)}\n`);
    },
    (e: Error) => {
      process.stderr.write(`tcp bench failed: ${e.stack ?? e.message}\n`);
      process.exitCode = 1;
    },
  );
}
