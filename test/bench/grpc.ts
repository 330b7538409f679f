/**
 * `node dist/test/bench/grpc.js [--rate RPS] [--seconds S] [--rounds R]`: gRPC unary calls
 * (@grpc/grpc-js client and server, JSON messages) straight to the app, through one meshbox
 * sidecar (the app's inbound listener: HTTP/2 in, HTTP/2 to the app), and through nginx's
 * `grpc_pass` (when nginx is installed with the HTTP/2 module), in the same run.
 *
 * Each target gets the same open-loop rate (calls start on a fixed schedule; latency is timed from
 * the scheduled start, so a stalled proxy is not hidden by the client waiting), after a warm-up.
 * The app, the proxy and nginx are child processes; the client is this process. Reported: p50 and
 * p99, what the proxy adds to the direct path, and the proxy's CPU per call (its process, all
 * threads, from /proc). Rounds alternate the targets; the median round is reported.
 *
 * Standalone (not part of run.ts). Every process it starts is stopped when it ends.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { greeterClient, sayHello, startGrpcApp } from '../helpers/grpc-app.js';
import { findNginx, nginxArgs, tempPathDirectives } from './nginx.js';
import { ProcessSet } from './processes.js';
import { childPids, readCpuSeconds } from './proc-stats.js';

const SELF = fileURLToPath(import.meta.url);

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** child mode: the gRPC app */
async function serveApp(): Promise<void> {
  const app = await startGrpcApp('bench-app');
  // the benchmark must not grow the app's request log without bound
  app.requests.push = () => 0;
  console.log(`PORT ${app.port}`);
}

/** child mode: one meshbox sidecar in front of the app (its inbound listener), data plane in a worker as in `meshbox up` */
async function serveSidecar(appPort: number): Promise<void> {
  process.env['MESHBOX_TEST_WORKER'] = '1';
  const { startHarness } = await import('../helpers/mesh-harness.js');
  const h = await startHarness([{ name: 'greeter', protocol: 'grpc', versions: { v1: 1 } }], 1, {
    startApp: async (id) => ({ instance: id, port: appPort, requests: [], requestsWithId: () => [], server: undefined as never, close: async () => undefined }),
  });
  // keep the events flowing to the metrics (as meshbox does) but not in an ever-growing array
  h.events.push = () => 0;
  console.log(`PORT ${h.instance('greeter-v1-1').sidecar.inbound}`);
}

async function portFrom(logPath: string, ms: number): Promise<number> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const m = /PORT (\d+)/.exec(readFileSync(logPath, 'utf8'));
    if (m) return Number(m[1]);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no port in ${logPath}: ${readFileSync(logPath, 'utf8').slice(-500)}`);
}

interface Target {
  name: string;
  port: number;
  /** the proxy's pids (none for the direct path) */
  pids: () => number[];
}

interface RoundResult {
  p50: number;
  p99: number;
  calls: number;
  errors: number;
  cpuUsPerCall: number | undefined;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** open loop: a call every 1/rate s for `seconds`; latency from the scheduled start */
async function openLoop(client: grpc.Client, rate: number, seconds: number): Promise<{ latencies: number[]; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const total = Math.round(rate * seconds);
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      sayHello(client, { name: 'bench' }).then((r) => {
        if (r.status?.code === grpc.status.OK) latencies.push(performance.now() - due);
        else errors++;
      }),
    );
    if (inflight.length > 2_000) await Promise.all(inflight.splice(0, 1_000));
  }
  await Promise.all(inflight);
  return { latencies, errors };
}

async function measure(target: Target, rate: number, seconds: number): Promise<RoundResult> {
  const client = greeterClient(`127.0.0.1:${target.port}`, 'greeter:8080');
  try {
    await openLoop(client, rate, Math.min(2, seconds));
    const pids = target.pids();
    const cpu0 = pids.reduce((s, p) => s + (readCpuSeconds(p) ?? 0), 0);
    const { latencies, errors } = await openLoop(client, rate, seconds);
    const cpu1 = pids.reduce((s, p) => s + (readCpuSeconds(p) ?? 0), 0);
    latencies.sort((a, b) => a - b);
    return {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      calls: latencies.length,
      errors,
      cpuUsPerCall: pids.length > 0 && latencies.length > 0 ? ((cpu1 - cpu0) * 1e6) / latencies.length : undefined,
    };
  } finally {
    client.close();
  }
}

function nginxGrpcConfig(prefix: string, listenPort: number, appPort: number, configure: string): string {
  return [
    '# generated by meshbox test/bench/grpc.ts: nginx grpc_pass in front of the gRPC app',
    'worker_processes 1;',
    `pid ${prefix}/nginx.pid;`,
    `error_log ${prefix}/error.log warn;`,
    'events { worker_connections 4096; }',
    'http {',
    '  access_log off;',
    '  keepalive_requests 1000000;',
    ...tempPathDirectives(configure).map((d) => `  ${d} ${prefix}/tmp/${d.replace(/_temp_path$/, '')};`),
    '  upstream grpc_app {',
    `    server 127.0.0.1:${appPort};`,
    '    keepalive 128;',
    '  }',
    '  server {',
    `    listen 127.0.0.1:${listenPort} http2;`,
    '    http2_max_requests 1000000;',
    '    location / { grpc_pass grpc://grpc_app; }',
    '  }',
    '}',
    '',
  ].join('\n');
}

async function freeTcpPort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function main(): Promise<void> {
  const rate = arg('--rate', 500);
  const seconds = arg('--seconds', 8);
  const rounds = arg('--rounds', 3);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-bench-grpc-'));
  const procs = new ProcessSet(dir);
  try {
    const app = procs.start({ name: 'grpc-app', command: process.execPath, args: [SELF, '--serve-app'] });
    const appPort = await portFrom(app.logPath, 15_000);
    const sidecar = procs.start({ name: 'meshbox-sidecar', command: process.execPath, args: [SELF, '--serve-sidecar', String(appPort)] });
    const sidecarPort = await portFrom(sidecar.logPath, 30_000);
    const targets: Target[] = [
      { name: 'direct', port: appPort, pids: () => [] },
      { name: 'meshbox sidecar', port: sidecarPort, pids: () => [sidecar.pid] },
    ];
    const nginx = findNginx();
    if (!nginx) {
      console.log('nginx is not installed: the nginx grpc_pass row is skipped (apt-get install nginx-light).');
    } else if (!nginx.configure.includes('--with-http_v2_module') || nginx.configure.includes('--without-http_grpc_module')) {
      console.log(`nginx ${nginx.version} has no HTTP/2 or gRPC proxy module: the nginx row is skipped.`);
    } else {
      const prefix = path.join(dir, 'nginx');
      mkdirSync(path.join(prefix, 'tmp'), { recursive: true });
      const listen = await freeTcpPort();
      const conf = path.join(prefix, 'nginx.conf');
      writeFileSync(conf, nginxGrpcConfig(prefix, listen, appPort, nginx.configure));
      const check = spawnSync(nginx.path, nginxArgs(nginx, prefix, conf, true), { encoding: 'utf8' });
      if (check.status !== 0) throw new Error(`nginx -t failed: ${check.stderr}`);
      const ng = procs.start({ name: 'nginx', command: nginx.path, args: nginxArgs(nginx, prefix, conf), stopSignal: 'SIGQUIT' });
      await new Promise((r) => setTimeout(r, 500));
      targets.push({ name: `nginx ${nginx.version} grpc_pass`, port: listen, pids: () => [ng.pid, ...childPids(ng.pid)] });
    }
    const results = new Map<string, RoundResult[]>(targets.map((t) => [t.name, []]));
    for (let r = 0; r < rounds; r++) {
      for (const t of targets) results.get(t.name)!.push(await measure(t, rate, seconds));
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const direct = results.get('direct')!;
    const d50 = median(direct.map((x) => x.p50));
    const d99 = median(direct.map((x) => x.p99));
    console.log(`\ngRPC unary, ${rate} calls/s open loop, ${seconds} s x ${rounds} rounds (median round), ${os.cpus().length} cores, Node ${process.version}`);
    console.log('| target | p50 ms | p99 ms | added p50 ms | added p99 ms | proxy CPU µs/call | errors |');
    console.log('|---|---|---|---|---|---|---|');
    for (const t of targets) {
      const rs = results.get(t.name)!;
      const p50 = median(rs.map((x) => x.p50));
      const p99 = median(rs.map((x) => x.p99));
      const cpu = rs[0]!.cpuUsPerCall === undefined ? '-' : median(rs.map((x) => x.cpuUsPerCall!)).toFixed(0);
      const added = t.name === 'direct' ? ['-', '-'] : [(p50 - d50).toFixed(3), (p99 - d99).toFixed(3)];
      console.log(`| ${t.name} | ${p50.toFixed(3)} | ${p99.toFixed(3)} | ${added[0]} | ${added[1]} | ${cpu} | ${rs.reduce((s, x) => s + x.errors, 0)} |`);
    }
  } finally {
    await procs.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

const mode = process.argv[2];
if (mode === '--serve-app') void serveApp();
else if (mode === '--serve-sidecar') void serveSidecar(Number(process.argv[3]));
else
  main().catch((e: Error) => {
    console.error(e.message);
    process.exitCode = 1;
  });
