/**
 * Route table scale benchmark: `npm run build && node dist/test/bench/routes.js [options]`
 *
 *   --routes N     routes in callme-service's VirtualService (default 5000); `--routes 1,5000` runs each
 *   --requests N   sequential requests through the ingress (default 300)
 *   --seconds S    closed-loop throughput period (default 5)
 *   --rate R       open-loop load during the saves, requests per second (default 200)
 *   --saves N      saves of the big rules file under that load (default 3, 3 s apart)
 *
 * Rows, per route count (a request to /callme/ping skips every tenant route and takes the last):
 *   in process (no sockets): validate the rules folder, compile the snapshot, clone it whole
 *     (what one postMessage of it costs), build its route tables in one go, the longest task of a
 *     shipped apply (snapshot-shipping.ts: one slice, cloned and built, or the final apply), select
 *     one route (µs per request) and the size of the request's `why` (lines and bytes per event);
 *   `meshbox up` on a copy of the sample mesh (process runtime): time to ready, sequential latency
 *     through the ingress (ingress -> caller -> callme: the caller's sidecar selects among the
 *     routes), closed-loop throughput (16 workers), then saves of the rules file under an open-loop
 *     load: failed requests, p99 and max latency, the longest answer of a data-plane probe (a
 *     sidecar, every 10 ms: how long the data plane stalled) and of an admin probe (the main
 *     thread: how long validation and compilation blocked it), and the reload work the sandbox reports.
 * Prints a table and one `ROUTES_BENCH_JSON {...}` line; progress goes to stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { LoadGenerator, type LoadResult } from '../../sandbox/chaos/load-generator.js';
import { validatePaths } from '../../sandbox/config/validate.js';
import { parseMeshText } from '../../sandbox/config/mesh-file.js';
import { compile } from '../../sandbox/control/compiler.js';
import type { Instance } from '../../sandbox/control/registry.js';
import { compileSnapshot } from '../../sandbox/proxy/compiled-snapshot.js';
import { DataPlaneCore } from '../../sandbox/proxy/data-plane-core.js';
import { RouteTable } from '../../sandbox/proxy/routing/route-table.js';
import { SnapshotShipper } from '../../sandbox/proxy/snapshot-shipping.js';
import { packageRoot } from '../../sandbox/paths.js';
import { freePort } from '../helpers/free-port.js';
import { manyRoutesRulesFile } from '../helpers/many-routes.js';
import { copySampleMesh, type SampleCopy } from '../helpers/reload-fixture.js';

interface Options {
  routes: number[];
  requests: number;
  seconds: number;
  rate: number;
  saves: number;
}

const USAGE = 'usage: node dist/test/bench/routes.js [--routes N[,N...]] [--requests N] [--seconds S] [--rate R] [--saves N]';

function parseOptions(argv: string[]): Options {
  const o: Options = { routes: [5000], requests: 300, seconds: 5, rate: 200, saves: 3 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i];
    const raw = argv[i + 1] ?? '';
    if (key === '--routes') {
      const list = raw.split(',').map(Number);
      if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1 || n > 50_000)) usage(`--routes takes counts from 1 to 50000, got "${raw}"`);
      o.routes = list;
      continue;
    }
    const keys: Record<string, Exclude<keyof Options, 'routes'>> = { '--requests': 'requests', '--seconds': 'seconds', '--rate': 'rate', '--saves': 'saves' };
    const k = key ? keys[key] : undefined;
    const value = Number(raw);
    if (!k || !Number.isFinite(value) || value < 0 || value > 100_000) usage(`unknown option or bad value: ${key ?? ''} ${raw}`);
    o[k] = value;
  }
  return o;
}

function usage(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(64);
}

const T0 = performance.now();
function log(line: string): void {
  process.stderr.write(`[${((performance.now() - T0) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (v: number, d = 2): number => Math.round(v * 10 ** d) / 10 ** d;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function summary(values: number[]): { n: number; p50: number; p99: number; max: number; mean: number } {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN, mean: s.reduce((a, b) => a + b, 0) / (s.length || 1) };
}

/** best of `runs` (the machine is shared: the fastest run is the one least disturbed) */
function timeBest<T>(runs: number, f: () => T): { ms: number; value: T } {
  let best = Infinity;
  let value: T | undefined;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    value = f();
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, value: value as T };
}

interface InProcessRow {
  routes: number;
  routesInSnapshot: number;
  validateMs: number;
  compileMs: number;
  cloneMs: number;
  snapshotBytes: number;
  routeTablesMs: number;
  /** the data plane's longest task while a shipped snapshot is applied: the slowest slice (clone + build) or the final apply message */
  longestApplyTaskMs: number;
  slices: number;
  selectUs: number;
  whyLines: number;
  whyBytes: number;
}

/** the sample's instances (caller v1, callme v1, callme v2 x2) with made-up ports */
function sampleInstances(): Instance[] {
  const out: Instance[] = [];
  let port = 21000;
  const workloads: Array<[string, string, number]> = [
    ['caller-service', 'v1', 1],
    ['callme-service', 'v1', 1],
    ['callme-service', 'v2', 2],
  ];
  for (const [service, version, replicas] of workloads) {
    for (let ordinal = 1; ordinal <= replicas; ordinal++) {
      const workload = { service, version, workload: `${service}-${version}`, labels: { app: service, version }, replicas } as unknown as Instance['workload'];
      out.push({
        id: `${service}-${version}-${ordinal}`,
        workload,
        ordinal,
        appPort: port++,
        sidecar: { inbound: port++, outbound: port++, services: { 'caller-service': port++, 'callme-service': port++ } },
        state: 'running',
        healthy: true,
        drained: false,
        restarts: 0,
      });
    }
  }
  return out;
}

async function inProcess(count: number): Promise<InProcessRow> {
  const root = packageRoot();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-routes-'));
  try {
    writeFileSync(path.join(dir, 'callme-service.yaml'), manyRoutesRulesFile({ count }));
    writeFileSync(path.join(dir, 'caller-service.yaml'), readFileSync(path.join(root, 'sample-services', 'rules', 'caller-service.yaml'), 'utf8'));
    const meshFile = path.join(root, 'sample-services', 'meshbox.yaml');
    const mesh = parseMeshText(readFileSync(meshFile, 'utf8'), meshFile).mesh!;
    let validateMs = Infinity;
    let resources = (await validatePaths([dir], { mesh })).resources;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      resources = (await validatePaths([dir], { mesh })).resources;
      validateMs = Math.min(validateMs, performance.now() - t0);
    }
    const input = { version: 1, mesh, resources, instances: sampleInstances(), ingress: { address: '127.0.0.1', port: 8080 } };
    const compiled = timeBest(3, () => compile(input));
    const snapshot = compiled.value;
    const routesInSnapshot = new Set(Object.values(snapshot.routeConfigs).flatMap((rc) => rc.virtualHosts.flatMap((v) => v.routes))).size;
    const clone = timeBest(3, () => structuredClone(snapshot));
    const tables = timeBest(3, () => compileSnapshot(clone.value));
    const table: RouteTable = tables.value.routeTables.get('outbound/caller-service-v1-1')!;
    // the shipped path (snapshot-shipping.ts): each slice is one message and one task of the data plane
    const core = new DataPlaneCore({ seed: 1, emit: () => undefined });
    let longestApplyTaskMs = 0;
    let slices = 0;
    const shipper = new SnapshotShipper({
      stage: (slice) => {
        const t0 = performance.now();
        core.stageRoutes(structuredClone(slice));
        longestApplyTaskMs = Math.max(longestApplyTaskMs, performance.now() - t0);
        slices++;
        return Promise.resolve();
      },
      applyShipped: async (shipped) => {
        const t0 = performance.now();
        const copy = structuredClone(shipped);
        const ack = core.applyShipped(copy);
        longestApplyTaskMs = Math.max(longestApplyTaskMs, performance.now() - t0);
        return ack;
      },
    });
    await shipper.ship(snapshot);
    await core.stop(0);
    const view = { method: 'GET', path: '/callme/ping', authority: 'callme-service:8080', scheme: 'http', port: 8080, headers: { host: 'callme-service:8080' } };
    for (let i = 0; i < 200; i++) table.select(view);
    const n = 200;
    const sel = timeBest(3, () => {
      let last;
      for (let i = 0; i < n; i++) last = table.select(view);
      return last!;
    });
    const why = sel.value.why;
    return {
      routes: count,
      routesInSnapshot,
      validateMs: round(validateMs, 1),
      compileMs: round(compiled.ms, 1),
      cloneMs: round(clone.ms, 1),
      snapshotBytes: JSON.stringify(snapshot).length,
      routeTablesMs: round(tables.ms, 1),
      longestApplyTaskMs: round(longestApplyTaskMs, 1),
      slices,
      selectUs: round((sel.ms * 1000) / n, 2),
      whyLines: why.length,
      whyBytes: JSON.stringify(why).length,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function get(url: string, headers: Record<string, string> = {}, agent?: http.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: agent ?? false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

interface Sandbox {
  proc: ChildProcess;
  ingress: string;
  admin: string;
  readyMs: number;
  tail(): string[];
}

async function startSandbox(copy: SampleCopy): Promise<Sandbox> {
  const cli = path.join(packageRoot(), 'dist', 'cli', 'main.js');
  const [ingressPort, adminPort] = [await freePort(), await freePort()];
  const logFile = path.join(copy.root, 'meshbox-up.log');
  const out = openSync(logFile, 'w');
  const t0 = performance.now();
  const proc = spawn(
    process.execPath,
    [cli, 'up', '--headless', '--runtime', 'process', '--config', copy.meshFile, '--ingress-port', String(ingressPort), '--admin-port', String(adminPort), '--no-logs', '--no-access-log', '--seed', '1', '--ready-timeout', '120'],
    { env: { ...process.env, NO_COLOR: '1', ACCESS_LOG: 'off', MESHBOX_STATE_DIR: copy.stateDir }, stdio: ['ignore', out, out] },
  );
  closeSync(out);
  const tail = (): string[] => {
    try {
      return readFileSync(logFile, 'utf8').split('\n').filter((l) => !l.includes(' -> ')).slice(-30);
    } catch {
      return [];
    }
  };
  const admin = `http://127.0.0.1:${adminPort}`;
  const deadline = Date.now() + 150_000;
  for (;;) {
    const ready = await get(`${admin}/ready`).then((r) => r.status, () => 0);
    if (ready === 200) return { proc, ingress: `http://127.0.0.1:${ingressPort}`, admin, readyMs: performance.now() - t0, tail };
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`meshbox up did not get ready:\n${tail().join('\n')}`);
    await sleep(100);
  }
}

async function stopSandbox(sb: Sandbox): Promise<void> {
  if (sb.proc.exitCode !== null) return;
  sb.proc.kill('SIGINT');
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => (sb.proc.kill('SIGKILL'), resolve()), 20_000);
    sb.proc.once('exit', () => (clearTimeout(t), resolve()));
  });
}

/** GETs `url` back to back every `everyMs` until stopped; the longest answer is the stall seen */
function probe(url: string, headers: Record<string, string>, everyMs: number): { stop(): Promise<{ n: number; maxMs: number; failed: number }> } {
  let running = true;
  let maxMs = 0;
  let n = 0;
  let failed = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      const ok = await get(url, headers, agent).then((r) => r.status === 200, () => false);
      const ms = performance.now() - t0;
      n++;
      if (!ok) failed++;
      maxMs = Math.max(maxMs, ms);
      await sleep(Math.max(0, everyMs - ms));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      agent.destroy();
      return { n, maxMs, failed };
    },
  };
}

function failedOf(r: LoadResult): number {
  return r.errors + Object.entries(r.statusCounts).filter(([s]) => s !== '200').reduce((a, [, n]) => a + n, 0);
}

interface EndToEndRow {
  routes: number;
  readyMs: number;
  sequential: ReturnType<typeof summary>;
  throughputRps: number;
  throughputFailed: number;
  saves: number;
  savesApplied: number;
  load: { rate: number; sent: number; failed: number; statusCounts: Record<string, number>; errorCounts: Record<string, number>; p99Ms: number; maxMs: number };
  dataPlaneStallMs: number;
  mainThreadStallMs: number;
  reloadWorkMs: number[];
}

interface StatusView {
  snapshotVersion?: number;
  instances?: Array<{ service: string; sidecar?: { inbound?: number } }>;
  reload?: { rules?: { generation: number; last?: { durationMs: number; at: number; trigger: string[] } } };
}

async function endToEnd(count: number, o: Options): Promise<EndToEndRow> {
  const copy = copySampleMesh();
  copy.write('rules/callme-service.yaml', manyRoutesRulesFile({ count }));
  log(`${count} routes: starting meshbox up on a copy of the sample mesh in ${copy.root}`);
  const sb = await startSandbox(copy);
  try {
    const status = async (): Promise<StatusView> => JSON.parse((await get(`${sb.admin}/status`)).body) as StatusView;
    const url = `${sb.ingress}/caller/ping`;
    const headers = { host: 'caller.example.com' };
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 50; i++) await get(url, headers, agent).catch(() => undefined);
    log(`${count} routes: ${o.requests} sequential requests`);
    const latencies: number[] = [];
    for (let i = 0; i < o.requests; i++) {
      const t0 = performance.now();
      const r = await get(url, headers, agent);
      if (r.status !== 200) throw new Error(`sequential request ${i}: status ${r.status}: ${r.body.slice(0, 200)}`);
      latencies.push(performance.now() - t0);
    }
    agent.destroy();
    log(`${count} routes: closed loop, 16 workers, ${o.seconds} s`);
    const closed = await new LoadGenerator({ url, headers, concurrency: 16, durationMs: o.seconds * 1000, warmupMs: 1000, timeoutMs: 10_000 }).start();
    await sleep(1000);

    const st = await status();
    const callme = st.instances?.find((i) => i.service === 'callme-service' && i.sidecar?.inbound);
    if (!callme?.sidecar?.inbound) throw new Error('no callme-service instance with an inbound sidecar in /status');
    log(`${count} routes: ${o.saves} saves of the rules file under ${o.rate} req/s`);
    const load = new LoadGenerator({ url, headers, rate: o.rate, connections: 32, durationMs: 3_600_000, timeoutMs: 10_000 });
    const running = load.start();
    await sleep(1000);
    const dataProbe = probe(`http://127.0.0.1:${callme.sidecar.inbound}/actuator/health`, { host: 'callme-service:8080' }, 10);
    const mainProbe = probe(`${sb.admin}/`, {}, 10);
    const reloadWork: number[] = [];
    let applied = 0;
    for (let n = 1; n <= o.saves; n++) {
      const before = (await status()).reload?.rules?.generation ?? 0;
      copy.write('rules/callme-service.yaml', manyRoutesRulesFile({ count, v2Weight: n % 2 === 1 ? 70 : 80 }));
      for (let i = 0; i < 300; i++) {
        await sleep(100);
        const s = await status().catch(() => undefined);
        const rules = s?.reload?.rules;
        if (rules && rules.generation > before && rules.last) {
          reloadWork.push(round(rules.last.durationMs, 1));
          applied++;
          break;
        }
      }
      await sleep(3000);
    }
    const dp = await dataProbe.stop();
    const mp = await mainProbe.stop();
    const during = await load.stop();
    await running;
    return {
      routes: count,
      readyMs: round(sb.readyMs, 0),
      sequential: summary(latencies),
      throughputRps: round(closed.achievedRate, 0),
      throughputFailed: failedOf(closed),
      saves: o.saves,
      savesApplied: applied,
      load: {
        rate: o.rate,
        sent: during.sent,
        failed: failedOf(during),
        statusCounts: during.statusCounts,
        errorCounts: during.errorCounts,
        p99Ms: round(during.latencyMs.p99, 1),
        maxMs: round(during.latencyMs.max, 1),
      },
      dataPlaneStallMs: round(dp.maxMs, 1),
      mainThreadStallMs: round(mp.maxMs, 1),
      reloadWorkMs: reloadWork,
    };
  } catch (e) {
    process.stderr.write(`last lines of meshbox up:\n${sb.tail().join('\n')}\n`);
    throw e;
  } finally {
    await stopSandbox(sb);
    copy.cleanup();
  }
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const rows: Array<{ inProcess: InProcessRow; endToEnd?: EndToEndRow; error?: string }> = [];
  for (const count of o.routes) {
    log(`${count} routes: in-process phases`);
    const ip = await inProcess(count);
    const row: (typeof rows)[number] = { inProcess: ip };
    rows.push(row);
    try {
      row.endToEnd = await endToEnd(count, o);
    } catch (e) {
      row.error = (e as Error).message;
      log(`${count} routes: ${row.error}`);
    }
  }
  const f = (v: number, d = 1): string => (Number.isFinite(v) ? v.toFixed(d) : '-');
  const out = ['', 'meshbox route table scale: callme-service VirtualService with N routes, a request to /callme/ping takes the last one', ''];
  out.push('in process             routes  in snapshot  validate ms  compile ms  ship ms  snapshot MB  tables ms  longest apply task ms (slices)  select µs/req  why lines/event  why bytes/event');
  for (const { inProcess: r } of rows) {
    out.push(
      `                       ${String(r.routes).padStart(6)}  ${String(r.routesInSnapshot).padStart(11)}  ${f(r.validateMs).padStart(11)}  ${f(r.compileMs).padStart(10)}  ${f(r.cloneMs).padStart(7)}  ${f(r.snapshotBytes / 1e6, 2).padStart(11)}  ${f(r.routeTablesMs).padStart(9)}  ${`${f(r.longestApplyTaskMs)} (${r.slices})`.padStart(31)}  ${f(r.selectUs, 2).padStart(13)}  ${String(r.whyLines).padStart(15)}  ${String(r.whyBytes).padStart(15)}`,
    );
  }
  out.push('');
  out.push('meshbox up             routes  ready s  seq p50 ms  seq p99 ms  req/s (16 workers)  saves  load failed  load p99 ms  load max ms  data-plane stall ms  main-thread stall ms  reload work ms');
  for (const { inProcess: ip, endToEnd: r, error } of rows) {
    if (!r) {
      out.push(`                       ${String(ip.routes).padStart(6)}  failed: ${error ?? '?'}`);
      continue;
    }
    out.push(
      `                       ${String(r.routes).padStart(6)}  ${f(r.readyMs / 1000).padStart(7)}  ${f(r.sequential.p50, 2).padStart(10)}  ${f(r.sequential.p99, 2).padStart(10)}  ${String(r.throughputRps).padStart(18)}  ${`${r.savesApplied}/${r.saves}`.padStart(5)}  ${`${r.load.failed}/${r.load.sent}`.padStart(11)}  ${f(r.load.p99Ms).padStart(11)}  ${f(r.load.maxMs).padStart(11)}  ${f(r.dataPlaneStallMs).padStart(19)}  ${f(r.mainThreadStallMs).padStart(20)}  ${r.reloadWorkMs.join(' ')}`,
    );
  }
  out.push('', `load during saves: open loop ${o.rate} req/s, 32 connections; failed = no answer or not 200 (${rows.map((r) => JSON.stringify(r.endToEnd?.load.statusCounts ?? {})).join(' ')})`);
  out.push(`machine: ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`, '');
  process.stdout.write(`${out.join('\n')}\n`);
  process.stdout.write(`ROUTES_BENCH_JSON ${JSON.stringify({ options: o, rows })}\n`);
  process.exitCode = rows.some((r) => r.error) ? 1 : 0;
}

await main();
