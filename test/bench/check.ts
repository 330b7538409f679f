/**
 * `npm run bench:check -- [file] [--strict]`: the targets of issue #13 against a benchmark run's
 * `BENCH_JSON` line (from `file`, the saved output of `npm run bench`, or stdin), one line per
 * target: met, NOT met (with the figure), or not measured (and why). Exit code 0 unless
 * `--strict` is given and a measured target is not met; 2 on unusable input.
 *
 *   npm run bench | tee bench.txt && npm run bench:check -- bench.txt
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** issue #13's targets (benchmark goals, not test assertions) */
export const TARGETS = {
  /** one sidecar hop: CPU per request at most this many times nginx's */
  singleCpuRatioMax: 2,
  /** one sidecar hop: added p50 at 1000 req/s at most this many times nginx's */
  singleAddedP50RatioMax: 2,
  /** the sample path sustains this open-loop rate on one core ... */
  fullRate: 1000,
  /** ... with p99 under this */
  fullP99MsMax: 15,
  /** the sample path's capacity: at least this many times the issue's 551 req/s */
  fullCapacityFactor: 2.5,
  fullCapacityBaseline: 551,
  /** RSS of `meshbox up` with the sample mesh */
  rssMBMax: 100,
} as const;

export type Verdict = 'met' | 'not met' | 'not measured';

export interface CheckLine {
  target: string;
  verdict: Verdict;
  detail: string;
}

interface Scenario {
  id: string;
  error?: string;
  noisy?: boolean;
  rps?: number;
  rssMB?: number;
  overloadedRates?: number[];
  latency?: Record<string, { p50: number; p99: number; achievedRate: number }>;
  cpuUsPerRequest?: { max?: number };
}

interface Comparison {
  path: 'full' | 'single';
  cpuPerRequestRatio?: number;
  addedLatencyRatioByRate?: Record<string, { p50?: number }>;
  noisy?: boolean;
}

interface MemorySnap {
  process?: { rssMB?: number };
}

export interface BenchJsonLike {
  revision?: string | null;
  scenarios?: Scenario[];
  comparisons?: Comparison[];
  memory?: { atReady?: MemorySnap; afterLoad?: MemorySnap; idle?: MemorySnap } | null;
  coldStart?: Array<{ label: string; result?: { firstSecond: { p50: number }; lastTwoSeconds: { p50: number } } }>;
  workers?: Array<{ workers: number; rps: number; error?: string }>;
}

const f = (v: number, digits = 2): string => (Number.isInteger(v) ? String(v) : v.toFixed(digits));

/** the BENCH_JSON object from a bench run's output (the last such line), or the JSON itself */
export function parseBenchOutput(text: string): BenchJsonLike {
  const lines = text.split('\n').filter((l) => l.startsWith('BENCH_JSON '));
  const raw = lines.length ? lines[lines.length - 1]!.slice('BENCH_JSON '.length) : text.trim();
  const parsed = JSON.parse(raw) as unknown;
  if (!parsed || typeof parsed !== 'object' || !Array.isArray((parsed as BenchJsonLike).scenarios)) {
    throw new Error('no BENCH_JSON line with scenarios in the input');
  }
  return parsed as BenchJsonLike;
}

function scenario(b: BenchJsonLike, id: string): Scenario | undefined {
  const s = b.scenarios?.find((x) => x.id === id);
  return s && !s.error ? s : undefined;
}

const noisy = (n: boolean | undefined): string => (n ? ' (NOISY run)' : '');

export function checkTargets(b: BenchJsonLike): CheckLine[] {
  const out: CheckLine[] = [];
  const single = b.comparisons?.find((c) => c.path === 'single');
  const rate = String(TARGETS.fullRate);

  // 1. one sidecar hop: CPU per request
  {
    const target = `one sidecar hop: CPU per request <= ${TARGETS.singleCpuRatioMax}x nginx's`;
    const r = single?.cpuPerRequestRatio;
    if (r === undefined) out.push({ target, verdict: 'not measured', detail: 'needs the meshbox and nginx single-hop rows (nginx installed, throughput runs)' });
    else out.push({ target, verdict: r <= TARGETS.singleCpuRatioMax ? 'met' : 'not met', detail: `${f(r)}x${noisy(single?.noisy)}` });
  }
  // 2. one sidecar hop: added p50 at 1000 req/s
  {
    const target = `one sidecar hop: added p50 at ${rate} req/s <= ${TARGETS.singleAddedP50RatioMax}x nginx's`;
    const r = single?.addedLatencyRatioByRate?.[rate]?.p50;
    if (r === undefined) out.push({ target, verdict: 'not measured', detail: single ? "nginx's added p50 was within noise of direct: no ratio" : 'needs the meshbox and nginx single-hop rows' });
    else out.push({ target, verdict: r <= TARGETS.singleAddedP50RatioMax ? 'met' : 'not met', detail: `${f(r)}x${noisy(single?.noisy)}` });
  }
  // 3. the sample path sustains 1000 req/s with p99 under 15 ms, on one core
  const full = scenario(b, 'meshbox-full');
  {
    const target = `sample path (4 legs): sustains ${rate} req/s open loop, p99 < ${TARGETS.fullP99MsMax} ms, on one core`;
    const l = full?.latency?.[rate];
    if (!full || !l) out.push({ target, verdict: 'not measured', detail: 'no meshbox full-path row at that rate' });
    else {
      const overloaded = full.overloadedRates?.includes(TARGETS.fullRate) ?? false;
      const met = !overloaded && l.p99 < TARGETS.fullP99MsMax;
      out.push({ target, verdict: met ? 'met' : 'not met', detail: `${overloaded ? `overloaded (${f(l.achievedRate, 0)} req/s done), ` : ''}p50 ${f(l.p50)} ms, p99 ${f(l.p99)} ms${noisy(full.noisy)}` });
    }
  }
  // 4. capacity of the sample path
  {
    const min = TARGETS.fullCapacityFactor * TARGETS.fullCapacityBaseline;
    const target = `sample path: max throughput >= ${TARGETS.fullCapacityFactor}x ${TARGETS.fullCapacityBaseline} = ${f(min, 0)} req/s (one core)`;
    if (full?.rps === undefined) out.push({ target, verdict: 'not measured', detail: 'no meshbox full-path throughput run' });
    else out.push({ target, verdict: full.rps >= min ? 'met' : 'not met', detail: `${f(full.rps, 0)} req/s (${f(full.rps / TARGETS.fullCapacityBaseline)}x)${noisy(full.noisy)}` });
  }
  // 5. RSS, idle and under load
  {
    const target = `RSS of \`meshbox up\` with the sample mesh <= ${TARGETS.rssMBMax} MB, idle and under load`;
    const idle = b.memory?.idle?.process?.rssMB;
    const load = full?.rssMB ?? b.memory?.afterLoad?.process?.rssMB;
    if (idle === undefined && load === undefined) out.push({ target, verdict: 'not measured', detail: 'no RSS reading' });
    else {
      const worst = Math.max(idle ?? 0, load ?? 0);
      const parts = [idle !== undefined ? `idle ${f(idle, 0)} MB` : 'idle not measured', load !== undefined ? `under load ${f(load, 0)} MB` : 'under load not measured'];
      const verdict: Verdict = worst > TARGETS.rssMBMax ? 'not met' : idle === undefined || load === undefined ? 'not measured' : 'met';
      out.push({ target, verdict, detail: parts.join(', ') });
    }
  }
  // 6. what this run does not measure
  out.push({ target: 'TUI within its render budget at 1000 req/s', verdict: 'not measured', detail: 'run `node dist/test/bench/tui-render.js`' });
  out.push({ target: 'reload benchmark: zero failed requests', verdict: 'not measured', detail: 'run `node dist/test/bench/reload.js`' });
  return out;
}

/** beside the targets: the warm-up and the workers rows, for information */
export function infoLines(b: BenchJsonLike): string[] {
  const lines: string[] = [];
  for (const c of b.coldStart ?? []) {
    if (c.result) lines.push(`first second after ready, ${c.label}: p50 ${f(c.result.firstSecond.p50)} ms (steady ${f(c.result.lastTwoSeconds.p50)} ms)`);
  }
  const one = b.workers?.find((w) => w.workers === 1 && !w.error);
  const two = b.workers?.find((w) => w.workers === 2 && !w.error);
  if (one && two) lines.push(`data-plane workers, unpinned: 1 -> ${f(one.rps, 0)} req/s, 2 -> ${f(two.rps, 0)} req/s (${f(two.rps / Math.max(1, one.rps))}x)`);
  return lines;
}

export function formatCheck(b: BenchJsonLike, lines: CheckLine[]): string {
  const width = Math.max(...lines.map((l) => l.target.length));
  const mark: Record<Verdict, string> = { met: 'met         ', 'not met': 'NOT met     ', 'not measured': 'not measured' };
  return [
    `issue #13 targets, bench of ${b.revision ?? 'an unknown commit'}:`,
    ...lines.map((l) => `  ${mark[l.verdict]}  ${l.target.padEnd(width)}  ${l.detail}`),
    ...infoLines(b).map((l) => `  info          ${l}`),
  ].join('\n');
}

function main(argv: string[]): number {
  const strict = argv.includes('--strict');
  const files = argv.filter((a) => !a.startsWith('--'));
  let text: string;
  try {
    text = files[0] ? readFileSync(files[0], 'utf8') : readFileSync(0, 'utf8');
  } catch (e) {
    process.stderr.write(`bench:check: cannot read ${files[0] ?? 'stdin'}: ${(e as Error).message}\n`);
    return 2;
  }
  let bench: BenchJsonLike;
  try {
    bench = parseBenchOutput(text);
  } catch (e) {
    process.stderr.write(`bench:check: ${(e as Error).message}\nusage: npm run bench:check -- <saved output of npm run bench> [--strict]\n`);
    return 2;
  }
  const lines = checkTargets(bench);
  process.stdout.write(`${formatCheck(bench, lines)}\n`);
  return strict && lines.some((l) => l.verdict === 'not met') ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) process.exitCode = main(process.argv.slice(2));
