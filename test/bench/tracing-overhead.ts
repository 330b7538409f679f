/**
 * `node dist/test/bench/tracing-overhead.js [--requests N] [--rounds R] [--rate RPS] [--exporters otlp|zipkin|both]`: the CPU meshbox itself
 * spends per request (its own process: data plane worker and main thread, not the apps) with
 * tracing off (`--no-tracing`) and with tracing at 100 % exporting to a local OTLP and Zipkin
 * collector, on the sample mesh (ingress -> caller -> callme: four spans a request), at the same
 * open-loop rate both ways. The collector is a child process that drains and counts (so its own
 * parsing costs neither side). Rounds alternate off/on so a machine that slows down hurts both
 * alike; the median round counts.
 * Target (issue #14): at most 15 % more CPU per request with tracing on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLoad } from '../../sandbox/chaos/load-generator.js';
import { allocatePort } from '../../sandbox/runtime/ports.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CLK_TCK = 100;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** utime + stime of a process (all its threads), in ms */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

async function waitFor(url: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not ready in ${ms} ms`);
}

/** a collector in its own process: answers every POST with 200 after reading it, counts bytes */
async function startCollector(): Promise<{ url: string; bytes(): Promise<number>; child: ChildProcess }> {
  const port = await allocatePort();
  const code = `let bytes=0;require('http').createServer((q,s)=>{if(q.method==='GET'){s.end(String(bytes));return}q.on('data',c=>bytes+=c.length);q.on('end',()=>{s.writeHead(200);s.end('{}')})}).listen(${port},'127.0.0.1',()=>process.send('up'))`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise((r) => child.once('message', r));
  const url = `http://127.0.0.1:${port}`;
  return { url, child, bytes: async () => Number(await (await fetch(url)).text()) };
}

type Collector = Awaited<ReturnType<typeof startCollector>>;

async function round(tracing: boolean, requests: number, rate: number, collector: Collector): Promise<{ cpuPerRequestMs: number; rps: number; exportedBytes: number }> {
  const ip = await allocatePort();
  const ap = await allocatePort();
  const state = mkdtempSync(path.join(os.tmpdir(), 'meshbox-bench-'));
  const args = [path.join(ROOT, 'dist/cli/main.js'), 'up', '--headless', '--runtime', 'process', '--no-logs', '--no-access-log', '--no-toxiproxy-api', '--no-watch',
    '--ingress-port', String(ip), '--admin-port', String(ap), '--seed', '1',
    ...(tracing ? exporterArgs(collector.url) : ['--no-tracing'])];
  const child: ChildProcess = spawn(process.execPath, args, { env: { ...process.env, MESHBOX_STATE_DIR: state, CI: '1' }, stdio: ['ignore', 'ignore', 'inherit'] });
  running.add(child);
  try {
    await waitFor(`http://127.0.0.1:${ap}/ready`, 60_000);
    const load = (n: number) => runLoad({ url: `http://127.0.0.1:${ip}/caller/ping`, headers: { host: 'caller.example.com' }, rate, connections: 16, maxRequests: n, durationMs: 120_000 });
    await load(Math.min(1000, requests)); // JIT warm-up
    await new Promise((r) => setTimeout(r, 1500));
    const before = cpuMs(child.pid!);
    const bytesBefore = await collector.bytes();
    const result = await load(requests);
    await new Promise((r) => setTimeout(r, 1500)); // the last batches
    const used = cpuMs(child.pid!) - before;
    return { cpuPerRequestMs: used / result.completed, rps: result.achievedRate, exportedBytes: (await collector.bytes()) - bytesBefore };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    running.delete(child);
    rmSync(state, { recursive: true, force: true });
  }
}

const EXPORTERS = (() => {
  const i = process.argv.indexOf('--exporters');
  return i >= 0 ? process.argv[i + 1]! : 'both';
})();

function exporterArgs(url: string): string[] {
  const otlp = ['--otlp-endpoint', `${url}/v1/traces`];
  const zipkin = ['--zipkin', `${url}/api/v2/spans`];
  return EXPORTERS === 'otlp' ? otlp : EXPORTERS === 'zipkin' ? zipkin : [...otlp, ...zipkin];
}

/** what this bench started and has not stopped yet: stopped on Ctrl-C / SIGTERM too */
const running = new Set<ChildProcess>();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const c of running) c.kill('SIGTERM');
    process.exit(130);
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const requests = arg('--requests', 4000);
  const rounds = arg('--rounds', 3);
  const rate = arg('--rate', 200);
  const collector = await startCollector();
  running.add(collector.child);
  const off: number[] = [];
  const on: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const a = await round(false, requests, rate, collector);
      off.push(a.cpuPerRequestMs);
      const b = await round(true, requests, rate, collector);
      on.push(b.cpuPerRequestMs);
      process.stderr.write(`round ${i + 1}: off ${a.cpuPerRequestMs.toFixed(3)} ms/req (${a.rps.toFixed(0)} req/s), on ${b.cpuPerRequestMs.toFixed(3)} ms/req (${b.rps.toFixed(0)} req/s, ${(b.exportedBytes / 1024).toFixed(0)} KiB exported)\n`);
    }
  } finally {
    collector.child.kill();
  }
  const mOff = median(off);
  const mOn = median(on);
  const overhead = (mOn / mOff - 1) * 100;
  console.log(`tracing off: ${mOff.toFixed(3)} ms CPU per request (median of ${rounds})`);
  console.log(`tracing 100 % + export (${EXPORTERS}): ${mOn.toFixed(3)} ms CPU per request`);
  console.log(`overhead: ${overhead.toFixed(1)} % (target <= 15 %)`);
  console.log(`BENCH_JSON ${JSON.stringify({ tracingOffCpuMsPerRequest: mOff, tracingOnCpuMsPerRequest: mOn, overheadPercent: overhead, off, on, requests, rate, exporters: EXPORTERS })}`);
}

void main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
