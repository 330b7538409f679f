/**
 * Hot reload benchmark: `npm run build && node dist/test/bench/reload.js [options]`
 *
 *   --saves N          rule saves (default 100)
 *   --invalid-every K  every K-th save has a validation error (default 10: 10 of 100)
 *   --rate R           open-loop load through the ingress, requests per second (default 300)
 *   --gap MS           pause between the end of one save's measurement and the next save (default 100)
 *   --baseline S       seconds of the same load before the saves, after a 3 s warm-up, for comparison (default 5)
 *
 * `meshbox up` runs a copy of the sample mesh (process runtime, as a user runs it). Each save
 * rewrites rules/callme-service.yaml, flipping the VirtualService weights between 100 % v1 and
 * 100 % v2; an invalid save has a typo (`wieght`). Measured:
 *   - write -> applied: from the file write to the end of the sandbox's reload (its /status);
 *   - write -> observed: from the file write to the first response through the ingress that comes
 *     from the new version (two keep-alive probes, back to back), and whether any later response
 *     still came from the old one;
 *   - invalid saves: write -> rejected, and whether the data plane changed (it must not);
 *   - a steady open-loop load through the ingress: failed requests (no answer or not 200) during
 *     the saves, next to the same load without saves.
 * Prints a table and one `RELOAD_BENCH_JSON {...}` line; progress goes to stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { LoadGenerator, type LoadResult } from '../../sandbox/chaos/load-generator.js';
import { packageRoot } from '../../sandbox/paths.js';
import { freePort } from '../helpers/free-port.js';
import { copySampleMesh, type SampleCopy } from '../helpers/reload-fixture.js';

interface Options {
  saves: number;
  invalidEvery: number;
  rate: number;
  gapMs: number;
  baselineS: number;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { saves: 100, invalidEvery: 10, rate: 300, gapMs: 100, baselineS: 5 };
  const keys: Record<string, keyof Options> = { '--saves': 'saves', '--invalid-every': 'invalidEvery', '--rate': 'rate', '--gap': 'gapMs', '--baseline': 'baselineS' };
  for (let i = 0; i < argv.length; i++) {
    const key = keys[argv[i]!];
    const value = Number(argv[i + 1]);
    if (!key || !Number.isFinite(value) || value < 0) {
      process.stderr.write(`usage: node dist/test/bench/reload.js [--saves N] [--invalid-every K] [--rate R] [--gap MS] [--baseline S]\n`);
      process.exit(64);
    }
    o[key] = value;
    i++;
  }
  return o;
}

const T0 = performance.now();
function log(line: string): void {
  process.stderr.write(`[${((performance.now() - T0) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function summary(values: number[]): { n: number; p50: number; p90: number; p99: number; max: number; mean: number } {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN, mean: s.reduce((a, b) => a + b, 0) / (s.length || 1) };
}

function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(body));
          } catch (e) {
            reject(e as Error);
          }
        });
      })
      .on('error', reject);
  });
}

interface RulesStatus {
  snapshotVersion: number;
  reload?: { rules?: { generation: number; last?: { version?: number; rejected: string[]; trigger: string[]; at: number; durationMs: number } } };
}

/**
 * `meshbox up` on the copy, its output to a file (printing a line per request costs the same
 * wherever it goes, but nobody has to read it). The apps run with ACCESS_LOG=off, as in
 * `npm run bench`: their own per-request log lines are not what is measured here.
 */
async function startSandbox(copy: SampleCopy): Promise<{ proc: ChildProcess; ingress: string; admin: string; tail: () => string[] }> {
  const cli = path.join(packageRoot(), 'dist', 'cli', 'main.js');
  const [ingressPort, adminPort] = [await freePort(), await freePort()];
  const logFile = path.join(copy.root, 'meshbox-up.log');
  const out = openSync(logFile, 'w');
  const proc = spawn(
    process.execPath,
    [cli, 'up', '--headless', '--runtime', 'process', '--config', copy.meshFile, '--ingress-port', String(ingressPort), '--admin-port', String(adminPort), '--no-logs', '--no-access-log', '--seed', '1'],
    { env: { ...process.env, NO_COLOR: '1', ACCESS_LOG: 'off', MESHBOX_STATE_DIR: copy.stateDir }, stdio: ['ignore', out, out] },
  );
  closeSync(out);
  const tail = (): string[] => {
    try {
      return readFileSync(logFile, 'utf8').split('\n').filter((l) => !l.includes(' -> ')).slice(-40);
    } catch {
      return [];
    }
  };
  const admin = `http://127.0.0.1:${adminPort}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    const ready = await new Promise<number>((resolve) => http.get(`${admin}/ready`, { agent: false }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', () => resolve(0)));
    if (ready === 200) return { proc, ingress: `http://127.0.0.1:${ingressPort}`, admin, tail };
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`meshbox up did not get ready:\n${tail().join('\n')}`);
    await sleep(100);
  }
}

/**
 * Which version answered each request of the load (its body ends with `callme-service v1|v2`),
 * with when it was sent (its scheduled time) and when its answer arrived: the load itself is the
 * probe, so measuring adds no traffic (resolution: one request every 1000/rate ms).
 */
class Observer {
  private readonly listeners = new Set<(at: number, version: string, sentAt: number) => void>();

  constructor(load: LoadGenerator, start: number) {
    load.on('outcome', (o) => {
      if (o.warmup) return;
      const sentAt = start + o.scheduledMs;
      const at = sentAt + o.latencyMs;
      const version = o.label ?? (o.error ? 'error' : `status ${o.status}`);
      for (const l of this.listeners) l(at, version, sentAt);
    });
  }

  on(listener: (at: number, version: string, sentAt: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** the arrival time of the first answer from `version` after `since` */
  first(version: string, since: number, timeoutMs = 10_000): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no answer from ${version} within ${timeoutMs}ms`));
      }, timeoutMs);
      const off = this.on((at, v) => {
        if (v !== version || at < since) return;
        clearTimeout(timer);
        off();
        resolve(at);
      });
    });
  }
}

function rulesText(base: string, target: 'v1' | 'v2', n: number, invalid: boolean): string {
  const weights = base.replace(/weight: \d+\n(\s+- destination:\n\s+host: callme-service\n\s+subset: v1\n\s+)weight: \d+/, `weight: ${target === 'v2' ? 100 : 0}\n$1weight: ${target === 'v1' ? 100 : 0}`);
  if (weights === base) throw new Error('rules/callme-service.yaml does not have the expected v2/v1 weights');
  const text = `# reload benchmark, save ${n}\n${weights}`;
  return invalid ? text.replace(`weight: ${target === 'v1' ? 100 : 0}`, `wieght: ${target === 'v1' ? 100 : 0}`) : text;
}

function loadLine(name: string, r: LoadResult): string {
  const failed = r.errors + Object.entries(r.statusCounts).filter(([s]) => s !== '200').reduce((a, [, n]) => a + n, 0);
  const statuses = Object.entries(r.statusCounts).map(([s, n]) => `${s}:${n}`).join(' ');
  const errors = Object.entries(r.errorCounts).map(([e, n]) => `${e}:${n}`).join(' ');
  return `  ${name.padEnd(16)} ${(r.durationMs / 1000).toFixed(1).padStart(5)}s  sent ${String(r.sent).padStart(6)}  ok ${String(r.statusCounts['200'] ?? 0).padStart(6)}  failed ${String(failed).padStart(4)}  (${statuses}${errors ? `; ${errors}` : ''})  latency p50 ${r.latencyMs.p50.toFixed(1)} ms  p99 ${r.latencyMs.p99.toFixed(1)} ms  max ${r.latencyMs.max.toFixed(0)} ms`;
}

function failedOf(r: LoadResult): number {
  return r.errors + Object.entries(r.statusCounts).filter(([s]) => s !== '200').reduce((a, [, n]) => a + n, 0);
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const copy = copySampleMesh();
  const file = path.join(copy.rulesDir, 'callme-service.yaml');
  const base = copy.read('rules/callme-service.yaml');
  log(`starting meshbox up on a copy of the sample mesh in ${copy.root}`);
  const sb = await startSandbox(copy);
  try {
    const status = (): Promise<RulesStatus> => getJson(`${sb.admin}/status`) as Promise<RulesStatus>;
    // a known start: 100 % v1
    const g0 = (await status()).reload?.rules?.generation ?? 0;
    copy.write('rules/callme-service.yaml', rulesText(base, 'v1', 0, false));
    for (let i = 0; ((await status()).reload?.rules?.generation ?? 0) <= g0; i++) {
      if (i > 500) throw new Error('the first save was not picked up');
      await sleep(10);
    }
    await sleep(300);

    const loadOptions = {
      url: `${sb.ingress}/caller/ping`,
      headers: { host: 'caller.example.com' },
      rate: o.rate,
      connections: 32,
      timeoutMs: 10_000,
      classify: (res: http.IncomingMessage, body: string) => (res.statusCode === 200 ? (/callme-service (v\d)$/.exec(body)?.[1] ?? 'other') : undefined),
    };
    log(`baseline: ${o.rate} req/s for ${o.baselineS}s without saves`);
    // 3 s of warm-up first (JIT, connection pools), left out of the baseline's counts
    const baseline = await new LoadGenerator({ ...loadOptions, warmupMs: 3000, durationMs: o.baselineS * 1000 }).start();

    log(`${o.saves} saves (every ${o.invalidEvery}th invalid) under ${o.rate} req/s`);
    const load = new LoadGenerator({ ...loadOptions, durationMs: 3_600_000 });
    const observer = new Observer(load, performance.now());
    const running = load.start();
    await sleep(500);

    const applied: number[] = [];
    const reloadWork: number[] = [];
    const observed: number[] = [];
    const rejected: number[] = [];
    let staleAfterObserved = 0;
    let invalidChanged = 0;
    let missed = 0;
    let current: 'v1' | 'v2' = 'v1';
    let lastObservedAt = 0;
    // a request sent after the new version was observed must never get the old one
    const offStale = observer.on((_at, v, sentAt) => {
      if (lastObservedAt && sentAt > lastObservedAt && (v === 'v1' || v === 'v2') && v !== current) staleAfterObserved++;
    });

    for (let n = 1; n <= o.saves; n++) {
      const invalid = o.invalidEvery > 0 && n % o.invalidEvery === 0;
      const target: 'v1' | 'v2' = current === 'v1' ? 'v2' : 'v1';
      const before = await status();
      const generation = before.reload?.rules?.generation ?? 0;
      const text = rulesText(base, target, n, invalid);
      const epoch = Date.now();
      const t0 = performance.now();
      copy.write('rules/callme-service.yaml', text);
      try {
        if (!invalid) {
          lastObservedAt = 0;
          const seen = observer.first(target, t0);
          const at = await seen;
          current = target;
          lastObservedAt = at;
          observed.push(at - t0);
        }
        // the reload, as the sandbox reports it
        for (let i = 0; ; i++) {
          const s = await status();
          const last = s.reload?.rules?.last;
          if (last && (s.reload?.rules?.generation ?? 0) > generation && last.at >= epoch && last.trigger.includes(file)) {
            if (invalid) {
              rejected.push(last.at - epoch);
              if (!last.rejected.includes(file) || s.snapshotVersion !== before.snapshotVersion) invalidChanged++;
            } else {
              applied.push(last.at - epoch);
            }
            reloadWork.push(last.durationMs);
            break;
          }
          if (i > 500) throw new Error(`save ${n}: the sandbox did not reload within 5 s`);
          await sleep(10);
        }
        if (invalid) {
          // nothing may change: the probes keep answering from the current version
          const wrong = await new Promise<number>((resolve) => {
            let bad = 0;
            const off = observer.on((at, v) => {
              if (v === target && at > t0) bad++;
            });
            setTimeout(() => (off(), resolve(bad)), 100);
          });
          if (wrong > 0) invalidChanged++;
        }
      } catch (e) {
        missed++;
        log(`save ${n}: ${(e as Error).message}`);
      }
      if (n % 10 === 0) log(`${n}/${o.saves} saves`);
      await sleep(o.gapMs);
    }
    offStale();
    await sleep(500);
    const during = await load.stop();
    await running;

    const a = summary(applied);
    const ob = summary(observed);
    const rj = summary(rejected);
    const work = summary(reloadWork);
    const fmt = (s: ReturnType<typeof summary>): string =>
      `p50 ${s.p50.toFixed(1).padStart(6)} ms  p90 ${s.p90.toFixed(1).padStart(6)} ms  p99 ${s.p99.toFixed(1).padStart(6)} ms  max ${s.max.toFixed(1).padStart(6)} ms  (n=${s.n})`;
    const cpus = os.cpus().length;
    const out = [
      '',
      `meshbox hot reload: ${o.saves} saves of rules/callme-service.yaml (${o.invalidEvery ? Math.floor(o.saves / o.invalidEvery) : 0} invalid), sample mesh, process runtime`,
      `  write -> applied        ${fmt(a)}`,
      `  write -> observed       ${fmt(ob)}   (first answer through the ingress from the new version, ±${(1000 / o.rate).toFixed(1)} ms)`,
      `  write -> rejected       ${fmt(rj)}`,
      `  reload work             ${fmt(work)}   (validate, diff, compile, push to the data plane: part of the above)`,
      `  requests sent after the new version was observed that got the old one: ${staleAfterObserved}`,
      `  invalid saves that changed the data plane: ${invalidChanged}`,
      `  saves not measured (timeout): ${missed}`,
      `open-loop load through the ingress, ${o.rate} req/s:`,
      loadLine('without saves', baseline),
      loadLine('during saves', during),
      `machine: ${cpus} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
      ...(baseline.latencyMs.p50 > 100 || baseline.completed < baseline.sent * 0.99
        ? [`note: without any save the mesh already answered slowly (p50 ${baseline.latencyMs.p50.toFixed(0)} ms) or not at all: the machine is busy; these numbers are the machine's more than hot reload's (rerun on a quiet machine, or lower --rate)`]
        : []),
      '',
    ];
    process.stdout.write(`${out.join('\n')}\n`);
    const round = (v: number): number => Math.round(v * 100) / 100;
    const json = {
      saves: o.saves,
      invalid: rejected.length,
      rate: o.rate,
      writeToAppliedMs: Object.fromEntries(Object.entries(a).map(([k, v]) => [k, round(v)])),
      writeToObservedMs: Object.fromEntries(Object.entries(ob).map(([k, v]) => [k, round(v)])),
      writeToRejectedMs: Object.fromEntries(Object.entries(rj).map(([k, v]) => [k, round(v)])),
      reloadWorkMs: Object.fromEntries(Object.entries(work).map(([k, v]) => [k, round(v)])),
      staleAfterObserved,
      invalidChanged,
      missed,
      load: {
        baseline: { sent: baseline.sent, failed: failedOf(baseline), statusCounts: baseline.statusCounts, errorCounts: baseline.errorCounts, p99Ms: round(baseline.latencyMs.p99) },
        duringSaves: { sent: during.sent, failed: failedOf(during), statusCounts: during.statusCounts, errorCounts: during.errorCounts, p99Ms: round(during.latencyMs.p99) },
      },
      machine: { cores: cpus, loadavg: os.loadavg().map(round) },
    };
    process.stdout.write(`RELOAD_BENCH_JSON ${JSON.stringify(json)}\n`);
    process.exitCode = missed > 0 || invalidChanged > 0 ? 1 : 0;
  } catch (e) {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\nlast lines of meshbox up:\n${sb.tail().join('\n')}\n`);
    process.exitCode = 1;
  } finally {
    sb.proc.kill('SIGINT');
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => (sb.proc.kill('SIGKILL'), resolve()), 15_000);
      sb.proc.once('exit', () => (clearTimeout(t), resolve()));
      if (sb.proc.exitCode !== null) resolve();
    });
    copy.cleanup();
  }
}

await main();
