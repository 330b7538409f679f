/**
 * From measurements to the report: derived figures (added latency per proxy leg, CPU per request,
 * ratios to nginx, the goals of the issue), the table, and the one JSON line. Pure functions, so
 * the arithmetic and the formatting are unit tested.
 *
 * Definitions:
 * - added latency per leg at a rate = (scenario pX - direct pX of the same path) / proxy legs, with
 *   direct = the same apps without any proxy, measured in the same run;
 * - CPU per request = CPU seconds of the proxy processes (meshbox up: every thread; nginx: master
 *   and worker) over the measured window / requests completed in it;
 * - capacity = 1e6 / CPU µs per request at max throughput: the req/s the proxy would do on one
 *   full core, which is the fair throughput comparison when a proxy did not saturate its core
 *   (reference/perf-baseline.md: nginx was limited by the shared apps/load core).
 */
import type { LatencySummary } from '../../sandbox/chaos/load-generator.js';
import type { ProbeResult } from './cpu-probe.js';
import type { TargetResult, TlsUsage } from './measure.js';
import type { TopologyKind } from './topology.js';

export type PathKind = 'full' | 'single';

/** the issue's goals (not test assertions) */
export const GOALS = { addedLatencyRatioMax: 1.5, throughputRatioMin: 0.8, mtlsCpuIncreaseMax: 0.25 } as const;
/** a proxy whose core was busier than this during the throughput run was saturated */
export const SATURATED_CORES = 0.9;
/** machine work of other processes above this (in cores) during a window marks it noisy */
export const FOREIGN_CORES_MAX = 0.25;
/** an open loop completing fewer than this fraction of the offered rate could not keep up */
export const OVERLOAD_RATIO = 0.97;

export interface Noise {
  noisy: boolean;
  reasons: string[];
  /** slowest CPU probe around the phase relative to that core's best of the run (1 = normal) */
  probeRatio: number;
  /** most work by other processes during one of the target's windows, in cores */
  foreignCoresMax: number;
}

export interface ScenarioRun {
  topology: TopologyKind;
  path: PathKind;
  legs: number;
  result?: TargetResult;
  error?: string;
  noise: Noise;
}

export interface Derived {
  id: string;
  label: string;
  topology: TopologyKind;
  path: PathKind;
  legs: number;
  error?: string;
  noisy: boolean;
  noiseReasons: string[];
  /** closed-loop requests per second */
  rps?: number;
  throughputTool?: string;
  /** latency at each open-loop rate, keyed by rate */
  latency: Record<string, Pick<LatencySummary, 'p50' | 'p90' | 'p99' | 'p999' | 'max' | 'mean'> & { achievedRate: number; errors: number; non2xx: number }>;
  /** added latency per proxy leg vs direct, keyed by rate */
  addedPerLegMs: Record<string, { p50: number; p90: number; p99: number }>;
  /** open-loop rates the path could not sustain (completed < 97 % of the offered rate): queueing */
  overloadedRates: number[];
  /** steps that began while the processes were still working off an earlier step's backlog */
  busyAfter: string[];
  cpuUsPerRequest: { max?: number; byRate: Record<string, number> };
  /** user-space part of cpuUsPerRequest.max */
  userUsPerRequestAtMax?: number;
  /** proxy cores busy during the throughput run */
  proxyCoresAtMax?: number;
  /** req/s on one full core, from CPU per request at max throughput */
  capacityRps?: number;
  rssMB?: number;
  hwmMB?: number;
  threadsAtMax?: { mainCores: number; busiestCores: number; otherCores: number };
  /** TLS handshakes of the proxy per open-loop rate and during the throughput run (meshbox) */
  tls?: { byRate: Record<string, TlsUsage>; max?: TlsUsage };
  errorsTotal: number;
}

/** meshbox's full path with mTLS against the same with mTLS off (mesh-wide PeerAuthentication DISABLE), same run */
export interface MtlsCost {
  /** CPU per request with mTLS / without; keyed by open-loop rate, and at max throughput */
  cpuRatioByRate: Record<string, number>;
  cpuRatioAtMax?: number;
  /** latency with mTLS minus without, ms (whole path), keyed by rate */
  addedMsByRate: Record<string, { p50: number; p99: number }>;
  /** closed-loop req/s with mTLS / without */
  throughputRatio?: number;
  /** the mTLS phase's handshakes (per rate, and during the throughput run) */
  handshakesByRate: Record<string, TlsUsage>;
  handshakesAtMax?: TlsUsage;
  /** handshakes in the mTLS-off phase (0 when mTLS was really off) */
  handshakesWhenOff: number;
  /** rates either phase could not sustain */
  overloadedRates: number[];
  noisy: boolean;
}

export interface Comparison {
  path: PathKind;
  /** meshbox added latency per leg / nginx's, p50 at the headline rate */
  addedLatencyRatioP50?: number;
  addedLatencyRatioP90?: number;
  /** the same ratios at every measured rate */
  addedLatencyRatioByRate: Record<string, { p50?: number; p90?: number }>;
  /** meshbox could not sustain the headline rate on this path: its latency there is queueing */
  meshboxOverloaded: boolean;
  /** meshbox req/s / nginx req/s, closed loop */
  throughputRatio?: number;
  /** meshbox CPU per request / nginx's, at max throughput */
  cpuPerRequestRatio?: number;
  /** meshbox capacity / nginx capacity (= nginx CPU per request / meshbox's) */
  capacityRatio?: number;
  nginxSaturated?: boolean;
  noisy: boolean;
}

export interface Goals {
  /** full path, p50 at the headline rate: meshbox's added latency per hop within 1.5x nginx's */
  /** ratio undefined: nginx's added latency was within noise of direct (no ratio can be formed) */
  addedLatency?: { ratio?: number; max: number; met?: boolean; meshboxOverloaded: boolean; otherRates: Record<string, number> };
  /** single hop: the lower of measured throughput ratio and capacity ratio, at least 0.8 */
  throughput?: { ratio: number; measuredRatio?: number; capacityRatio?: number; min: number; met: boolean };
  /** mTLS adds at most 25 % CPU per request to a sidecar hop: at the headline rate (at max throughput when that rate was overloaded) */
  mtls?: { increase: number; max: number; met: boolean; basis: string };
}

export const LABELS: Record<string, string> = {
  'direct-full': 'direct: caller -> callme',
  'meshbox-full': 'meshbox: ingress..callme (4 legs)',
  'meshbox-no-mtls-full': 'meshbox, mTLS off: ingress..callme (4 legs)',
  'nginx-full': 'nginx: ingress..callme (4 legs)',
  'direct-single': 'direct: callme',
  'meshbox-single': 'meshbox: 1 sidecar -> callme',
  'nginx-single': 'nginx: 1 server -> callme',
};

function ratio(a: number | undefined, b: number | undefined, minDenominator = 0): number | undefined {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b <= minDenominator) return undefined;
  return a / b;
}

export function derive(runs: ScenarioRun[]): Derived[] {
  const direct = new Map<PathKind, ScenarioRun>();
  for (const run of runs) if (run.topology === 'direct') direct.set(run.path, run);
  return runs.map((run) => {
    const id = `${run.topology}-${run.path}`;
    const r = run.result;
    const d: Derived = {
      id,
      label: LABELS[id] ?? id,
      topology: run.topology,
      path: run.path,
      legs: run.legs,
      noisy: run.noise.noisy,
      noiseReasons: run.noise.reasons,
      latency: {},
      addedPerLegMs: {},
      overloadedRates: [],
      busyAfter: [],
      cpuUsPerRequest: { byRate: {} },
      errorsTotal: 0,
    };
    if (run.error !== undefined) d.error = run.error;
    if (!r) return d;
    const base = direct.get(run.path)?.result;
    d.busyAfter = r.busyAfter ?? [];
    for (const open of r.open) {
      const key = String(open.rate);
      const l = open.latencyMs;
      d.latency[key] = { p50: l.p50, p90: l.p90, p99: l.p99, p999: l.p999, max: l.max, mean: l.mean, achievedRate: open.achievedRate, errors: open.errors, non2xx: open.non2xx };
      d.errorsTotal += open.errors + open.non2xx;
      if (open.achievedRate < OVERLOAD_RATIO * open.rate) d.overloadedRates.push(open.rate);
      if (open.cpu.proxyUsPerRequest !== undefined) d.cpuUsPerRequest.byRate[key] = open.cpu.proxyUsPerRequest;
      const b = base?.open.find((o) => o.rate === open.rate)?.latencyMs;
      if (b && run.legs > 0) {
        d.addedPerLegMs[key] = { p50: (l.p50 - b.p50) / run.legs, p90: (l.p90 - b.p90) / run.legs, p99: (l.p99 - b.p99) / run.legs };
      }
      if (open.tls) (d.tls ??= { byRate: {} }).byRate[key] = open.tls;
    }
    if (r.closed?.tls) (d.tls ??= { byRate: {} }).max = r.closed.tls;
    if (r.closed) {
      d.rps = r.closed.rps;
      d.throughputTool = r.closed.tool;
      d.errorsTotal += r.closed.errors + r.closed.non2xx;
      if (r.closed.cpu.proxyUsPerRequest !== undefined) {
        d.cpuUsPerRequest.max = r.closed.cpu.proxyUsPerRequest;
        if (r.closed.cpu.proxyUserUsPerRequest !== undefined) d.userUsPerRequestAtMax = r.closed.cpu.proxyUserUsPerRequest;
        d.capacityRps = 1e6 / r.closed.cpu.proxyUsPerRequest;
        d.proxyCoresAtMax = r.closed.cpu.proxyCores;
      }
      if (r.closed.cpu.threads) d.threadsAtMax = r.closed.cpu.threads;
    }
    if (r.memory) {
      d.rssMB = r.memory.rssMB;
      d.hwmMB = r.memory.hwmMB;
    }
    return d;
  });
}

export function compare(derived: Derived[], headlineRate: number): Comparison[] {
  const key = String(headlineRate);
  const out: Comparison[] = [];
  for (const path of ['full', 'single'] as const) {
    const m = derived.find((d) => d.topology === 'meshbox' && d.path === path);
    const n = derived.find((d) => d.topology === 'nginx' && d.path === path);
    if (!m || !n || m.error || n.error) continue;
    const c: Comparison = {
      path,
      addedLatencyRatioByRate: {},
      meshboxOverloaded: m.overloadedRates.includes(headlineRate),
      noisy: m.noisy || n.noisy || derived.some((d) => d.topology === 'direct' && d.path === path && d.noisy),
    };
    // an nginx figure under 10 µs per leg is within clock noise: no ratio
    for (const rate of Object.keys(m.addedPerLegMs)) {
      const r50 = ratio(m.addedPerLegMs[rate]?.p50, n.addedPerLegMs[rate]?.p50, 0.01);
      const r90 = ratio(m.addedPerLegMs[rate]?.p90, n.addedPerLegMs[rate]?.p90, 0.01);
      c.addedLatencyRatioByRate[rate] = { ...(r50 !== undefined ? { p50: r50 } : {}), ...(r90 !== undefined ? { p90: r90 } : {}) };
    }
    const lat50 = c.addedLatencyRatioByRate[key]?.p50;
    const lat90 = c.addedLatencyRatioByRate[key]?.p90;
    const thr = ratio(m.rps, n.rps);
    const cpu = ratio(m.cpuUsPerRequest.max, n.cpuUsPerRequest.max);
    const cap = ratio(n.cpuUsPerRequest.max, m.cpuUsPerRequest.max);
    if (lat50 !== undefined) c.addedLatencyRatioP50 = lat50;
    if (lat90 !== undefined) c.addedLatencyRatioP90 = lat90;
    if (thr !== undefined) c.throughputRatio = thr;
    if (cpu !== undefined) c.cpuPerRequestRatio = cpu;
    if (cap !== undefined) c.capacityRatio = cap;
    if (n.proxyCoresAtMax !== undefined) c.nginxSaturated = n.proxyCoresAtMax >= SATURATED_CORES;
    out.push(c);
  }
  return out;
}

export function mtlsCost(derived: Derived[]): MtlsCost | undefined {
  const on = derived.find((d) => d.topology === 'meshbox' && d.path === 'full');
  const off = derived.find((d) => d.topology === 'meshbox-no-mtls' && d.path === 'full');
  if (!on || !off || on.error || off.error) return undefined;
  const c: MtlsCost = {
    cpuRatioByRate: {},
    addedMsByRate: {},
    handshakesByRate: { ...on.tls?.byRate },
    handshakesWhenOff: Object.values(off.tls?.byRate ?? {}).reduce((n, t) => n + t.handshakes, 0) + (off.tls?.max?.handshakes ?? 0),
    overloadedRates: [...new Set([...on.overloadedRates, ...off.overloadedRates])].sort((a, b) => b - a),
    noisy: on.noisy || off.noisy,
  };
  for (const rate of Object.keys(on.latency)) {
    const cpu = ratio(on.cpuUsPerRequest.byRate[rate], off.cpuUsPerRequest.byRate[rate]);
    if (cpu !== undefined) c.cpuRatioByRate[rate] = cpu;
    const a = on.latency[rate]!;
    const b = off.latency[rate];
    if (b) c.addedMsByRate[rate] = { p50: a.p50 - b.p50, p99: a.p99 - b.p99 };
  }
  const atMax = ratio(on.cpuUsPerRequest.max, off.cpuUsPerRequest.max);
  if (atMax !== undefined) c.cpuRatioAtMax = atMax;
  const thr = ratio(on.rps, off.rps);
  if (thr !== undefined) c.throughputRatio = thr;
  if (on.tls?.max) c.handshakesAtMax = on.tls.max;
  return c;
}

export function goals(comparisons: Comparison[], mtls?: MtlsCost, headlineRate?: number): Goals {
  const g: Goals = {};
  if (mtls) {
    const head = headlineRate !== undefined ? String(headlineRate) : Object.keys(mtls.cpuRatioByRate)[0];
    const atRate = head !== undefined && !mtls.overloadedRates.includes(Number(head)) ? mtls.cpuRatioByRate[head] : undefined;
    const r = atRate ?? mtls.cpuRatioAtMax;
    const basis = atRate !== undefined ? `@${head} req/s` : `at max throughput${head !== undefined && mtls.overloadedRates.includes(Number(head)) ? ` (${head} req/s was overloaded)` : ''}`;
    if (r !== undefined) g.mtls = { increase: r - 1, max: GOALS.mtlsCpuIncreaseMax, met: r - 1 <= GOALS.mtlsCpuIncreaseMax, basis };
  }
  const full = comparisons.find((c) => c.path === 'full');
  const single = comparisons.find((c) => c.path === 'single');
  if (full) {
    const ratio = full.addedLatencyRatioP50;
    g.addedLatency = { max: GOALS.addedLatencyRatioMax, meshboxOverloaded: full.meshboxOverloaded, otherRates: {} };
    if (ratio !== undefined) g.addedLatency.ratio = ratio;
    if (full.meshboxOverloaded) g.addedLatency.met = false;
    else if (ratio !== undefined) g.addedLatency.met = ratio <= GOALS.addedLatencyRatioMax;
    for (const [rate, r] of Object.entries(full.addedLatencyRatioByRate)) {
      if (r.p50 !== undefined && r.p50 !== ratio) g.addedLatency.otherRates[rate] = r.p50;
    }
  }
  if (single && (single.throughputRatio !== undefined || single.capacityRatio !== undefined)) {
    const values = [single.throughputRatio, single.capacityRatio].filter((v): v is number => v !== undefined);
    const r = Math.min(...values);
    g.throughput = { ratio: r, min: GOALS.throughputRatioMin, met: r >= GOALS.throughputRatioMin };
    if (single.throughputRatio !== undefined) g.throughput.measuredRatio = single.throughputRatio;
    if (single.capacityRatio !== undefined) g.throughput.capacityRatio = single.capacityRatio;
  }
  return g;
}

// ---------------------------------------------------------------------------------------------
// formatting

/** Renders rows as a text table; columns whose header starts with '>' are right-aligned. */
export function renderTable(headers: string[], rows: string[][]): string {
  const right = headers.map((h) => h.startsWith('>'));
  const names = headers.map((h) => h.replace(/^>/, ''));
  const widths = names.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(names), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(names.map((_, i) => r[i] ?? '')))].join('\n');
}

export function fmtMs(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  const abs = Math.abs(v);
  return abs >= 100 ? v.toFixed(0) : abs >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function fmtInt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  return Math.round(v).toLocaleString('en-US');
}

export function fmtRatio(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? '-' : `${v.toFixed(2)}x`;
}

export interface ReportMeta {
  header: string[];
  headlineRate: number;
  rates: number[];
  notes: string[];
}

function fmtPct(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? '-' : `${v >= 0 ? '+' : ''}${(v * 100).toFixed(0)}%`;
}

function fmtHandshakes(t: TlsUsage | undefined): [string, string, string] {
  if (!t) return ['-', '-', '-'];
  return [t.perSecond.toFixed(1), t.perRequest.toFixed(4), `${t.resumed} of ${t.handshakes}`];
}

export function formatReport(meta: ReportMeta, derived: Derived[], comparisons: Comparison[], g: Goals, mtls?: MtlsCost): string {
  const head = String(meta.headlineRate);
  const other = meta.rates.filter((r) => r !== meta.headlineRate);
  const headers = [
    'scenario',
    '>max req/s',
    `>p50/p90/p99 ms @${head}`,
    ...other.map((r) => `>p50/p99 @${r}`),
    `>added ms/leg p50 (p99) @${head}`,
    '>CPU µs/req max|@' + head,
    '>RSS MB',
    'note',
  ];
  const rows = derived.map((d) => {
    if (d.error) return [d.label, '-', '-', ...other.map(() => '-'), '-', '-', '-', `FAILED: ${d.error.split('\n')[0]!.slice(0, 80)}`];
    const l = d.latency[head];
    const added = d.addedPerLegMs[head];
    const notes: string[] = [];
    if (d.noisy) notes.push(`NOISY (${d.noiseReasons.join('; ')})`);
    if (d.errorsTotal > 0) notes.push(`${d.errorsTotal} errors/non-2xx`);
    if (d.busyAfter.length) notes.push(`still busy with a backlog before: ${d.busyAfter.join(', ')}`);
    if (d.overloadedRates.length) notes.push(`OVERLOADED at ${d.overloadedRates.join(', ')} req/s (latency is queueing)`);
    return [
      (d.noisy ? '* ' : '') + d.label,
      fmtInt(d.rps),
      l ? `${fmtMs(l.p50)} / ${fmtMs(l.p90)} / ${fmtMs(l.p99)}` : '-',
      ...other.map((r) => {
        const o = d.latency[String(r)];
        return o ? `${fmtMs(o.p50)} / ${fmtMs(o.p99)}` : '-';
      }),
      added ? `${fmtMs(added.p50)} (${fmtMs(added.p99)})` : d.legs === 0 ? 'baseline' : '-',
      d.cpuUsPerRequest.max !== undefined || d.cpuUsPerRequest.byRate[head] !== undefined ? `${fmtInt(d.cpuUsPerRequest.max)} | ${fmtInt(d.cpuUsPerRequest.byRate[head])}` : '-',
      d.rssMB !== undefined ? d.rssMB.toFixed(1) : '-',
      notes.join(', '),
    ];
  });
  const out = [...meta.header, '', renderTable(headers, rows)];
  const proxies = derived.filter((d) => !d.error && d.cpuUsPerRequest.max !== undefined);
  if (proxies.length) {
    const pct = (v: number | undefined): string => (v === undefined ? '-' : `${(v * 100).toFixed(0)}%`);
    const pRows = proxies.map((d) => {
      const total = d.cpuUsPerRequest.max!;
      const user = d.userUsPerRequestAtMax;
      const t = d.threadsAtMax;
      return [
        (d.noisy ? '* ' : '') + d.label,
        fmtInt(total),
        fmtInt(user),
        user === undefined ? '-' : fmtInt(total - user),
        fmtInt(d.capacityRps),
        pct(d.proxyCoresAtMax),
        t ? `${pct(t.mainCores)} / ${pct(t.busiestCores)} / ${pct(t.otherCores)}` : '-',
        d.throughputTool ?? '-',
      ];
    });
    out.push(
      '',
      'proxy CPU during the throughput run:',
      renderTable(['scenario', '>µs/req', '>user µs', '>kernel µs', '>req/s per core', '>proxy cpu busy', '>threads main / busiest / other', 'load'], pRows),
    );
  }
  if (comparisons.length) {
    const cRows = comparisons.map((c) => [
      (c.noisy ? '* ' : '') + (c.path === 'full' ? 'full path (per leg)' : 'single hop'),
      fmtRatio(c.addedLatencyRatioP50) + (c.meshboxOverloaded ? ' (overloaded)' : ''),
      fmtRatio(c.addedLatencyRatioP90),
      ...other.map((r) => fmtRatio(c.addedLatencyRatioByRate[String(r)]?.p50)),
      fmtRatio(c.throughputRatio),
      fmtRatio(c.capacityRatio),
      fmtRatio(c.cpuPerRequestRatio),
      c.nginxSaturated === undefined ? '-' : c.nginxSaturated ? 'yes' : 'no',
    ]);
    out.push(
      '',
      'meshbox relative to nginx (same run):',
      renderTable(['path', `>added latency p50 @${head}`, `>added p90 @${head}`, ...other.map((r) => `>added p50 @${r}`), '>throughput', '>capacity/core', '>CPU per req', 'nginx core saturated'], cRows),
    );
  }
  if (mtls) {
    const on = derived.find((d) => d.topology === 'meshbox' && d.path === 'full')!;
    const off = derived.find((d) => d.topology === 'meshbox-no-mtls' && d.path === 'full')!;
    const mark = mtls.noisy ? '* ' : '';
    const rows = meta.rates.map((rate) => {
      const k = String(rate);
      const added = mtls.addedMsByRate[k];
      return [
        `${mark}open loop @${rate} req/s${mtls.overloadedRates.includes(rate) ? ' (overloaded)' : ''}`,
        `${fmtInt(on.cpuUsPerRequest.byRate[k])} | ${fmtInt(off.cpuUsPerRequest.byRate[k])}`,
        fmtPct(mtls.cpuRatioByRate[k] !== undefined ? mtls.cpuRatioByRate[k]! - 1 : undefined),
        added ? `${fmtMs(added.p50)} / ${fmtMs(added.p99)}` : '-',
        '-',
        ...fmtHandshakes(mtls.handshakesByRate[k]),
      ];
    });
    rows.push([
      `${mark}throughput (closed loop)`,
      `${fmtInt(on.cpuUsPerRequest.max)} | ${fmtInt(off.cpuUsPerRequest.max)}`,
      fmtPct(mtls.cpuRatioAtMax !== undefined ? mtls.cpuRatioAtMax - 1 : undefined),
      '-',
      `${fmtInt(on.rps)} | ${fmtInt(off.rps)}`,
      ...fmtHandshakes(mtls.handshakesAtMax),
    ]);
    out.push(
      '',
      `mTLS on vs off (meshbox full path, same run; ${mtls.handshakesWhenOff} handshakes with mTLS off):`,
      renderTable(['step', '>CPU µs/req on | off', '>CPU/req', '>added p50 / p99 ms', '>req/s on | off', '>handshakes/s', '>handshakes/req', '>resumed'], rows),
    );
  }
  const goalLines: string[] = [];
  if (g.addedLatency) {
    const a = g.addedLatency;
    const verdict = a.met === undefined ? 'cannot be judged (nginx added less than 0.01 ms over direct: within noise)' : a.met ? 'met' : 'NOT met';
    goalLines.push(
      `  added latency per hop @${head} req/s (full path, p50): ${fmtRatio(a.ratio)} of nginx, goal <= ${fmtRatio(a.max)}: ${verdict}${a.meshboxOverloaded ? ` (meshbox cannot sustain ${head} req/s on this path here)` : ''}` +
        Object.entries(a.otherRates)
          .map(([rate, r]) => `; at ${rate} req/s: ${fmtRatio(r)}`)
          .join(''),
    );
  }
  if (g.throughput) {
    goalLines.push(
      `  sidecar throughput (single hop, lower of measured ${fmtRatio(g.throughput.measuredRatio)} and per-core capacity ${fmtRatio(g.throughput.capacityRatio)}): ${fmtRatio(g.throughput.ratio)} of nginx, goal >= ${fmtRatio(g.throughput.min)}: ${g.throughput.met ? 'met' : 'NOT met'}`,
    );
  }
  if (g.mtls) {
    goalLines.push(`  mTLS CPU per request (meshbox full path ${g.mtls.basis}): ${fmtPct(g.mtls.increase)} over mTLS off, goal <= ${fmtPct(g.mtls.max)}: ${g.mtls.met ? 'met' : 'NOT met'}`);
  }
  if (goalLines.length) out.push('', 'goals (from the issue; not assertions):', ...goalLines);
  if (meta.notes.length) out.push('', ...meta.notes.map((n) => `note: ${n}`));
  return out.join('\n');
}

export interface BenchJson {
  version: 1;
  [key: string]: unknown;
}

/** The one machine-readable line: `BENCH_JSON {...}` (numbers rounded to 4 significant digits). */
export function jsonLine(data: BenchJson): string {
  return `BENCH_JSON ${JSON.stringify(data, (_key, value: unknown) => (typeof value === 'number' ? roundSignificant(value) : value))}`;
}

export function roundSignificant(v: number, digits = 4): number {
  if (!Number.isFinite(v) || v === 0 || Number.isInteger(v)) return v;
  const magnitude = Math.floor(Math.log10(Math.abs(v)));
  const factor = 10 ** (digits - 1 - magnitude);
  return Math.round(v * factor) / factor;
}

/** The noise verdict of one scenario from its probes and CPU windows. */
export function noiseVerdict(probeRatio: number, foreignCores: number[], noisyRatio: number): Noise {
  const reasons: string[] = [];
  const foreignCoresMax = foreignCores.length ? Math.max(...foreignCores) : 0;
  if (probeRatio < noisyRatio) reasons.push(`cpu probe at ${(probeRatio * 100).toFixed(0)}% of best`);
  if (foreignCoresMax > FOREIGN_CORES_MAX) reasons.push(`other processes used ${foreignCoresMax.toFixed(2)} cores`);
  return { noisy: reasons.length > 0, reasons, probeRatio, foreignCoresMax };
}

export type { ProbeResult };
