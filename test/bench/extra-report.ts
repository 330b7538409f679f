/**
 * The report sections of the cold-start and workers measurements (cold-start.ts, scaling.ts):
 * pure formatting, beside report.ts's main table.
 */
import type { ColdStartResult } from './cold-start.js';
import type { WorkersRow } from './scaling.js';
import { httpGet } from './topology.js';

/** meshbox's GET /memory (sandbox/telemetry/memory-report.ts) */
export interface MemorySnapshot {
  process: { rssMB: number; peakRssMB?: number };
  main: { heapUsedMB: number; heapTotalMB: number };
  workers: Array<{ heapUsedMB: number; heapTotalMB: number }>;
  apps: Array<{ instance: string; rssMB?: number }>;
}

export interface MemoryReading {
  atReady?: MemorySnapshot;
  afterLoad?: MemorySnapshot;
  idle?: MemorySnapshot;
  idleAfterMs: number;
}

export async function readMemory(admin: string): Promise<MemorySnapshot | undefined> {
  try {
    const r = await httpGet(`${admin}/memory`);
    return r.status === 200 ? (JSON.parse(r.body) as MemorySnapshot) : undefined;
  } catch {
    return undefined;
  }
}

export function formatMemory(m: MemoryReading | undefined): string {
  if (!m) return '';
  const rows: Array<[string, MemorySnapshot | undefined]> = [
    ['at ready', m.atReady],
    ['after the cold-start load', m.afterLoad],
    [`idle ${m.idleAfterMs / 1000} s later`, m.idle],
  ];
  const lines = [
    'memory of `meshbox up` (the cold-start sandbox: sample path, 1 caller, 1 callme), per component (heap used / reserved, MB):',
    `${'when'.padEnd(28)}  ${'RSS MB'.padStart(6)}  ${'main heap'.padStart(11)}  ${'workers heap'.padEnd(24)}  apps RSS MB (own processes)`,
    `${'-'.repeat(28)}  ${'-'.repeat(6)}  ${'-'.repeat(11)}  ${'-'.repeat(24)}  ---------------------------`,
  ];
  for (const [when, s] of rows) {
    if (!s) continue;
    const heap = (h: { heapUsedMB: number; heapTotalMB: number }): string => `${h.heapUsedMB.toFixed(0)}/${h.heapTotalMB.toFixed(0)}`;
    lines.push(`${when.padEnd(28)}  ${s.process.rssMB.toFixed(0).padStart(6)}  ${heap(s.main).padStart(11)}  ${s.workers.map(heap).join(', ').padEnd(24)}  ${s.apps.map((a) => `${a.instance} ${a.rssMB?.toFixed(0) ?? '?'}`).join(', ')}`);
  }
  return lines.join('\n');
}

const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

export interface ColdRun {
  /** what ran: `warm-up on (400 requests per worker)`, `warm-up off` */
  label: string;
  result?: ColdStartResult;
  error?: string;
}

export function formatCold(runs: readonly ColdRun[]): string {
  if (runs.length === 0) return '';
  const first = runs.find((r) => r.result)?.result;
  const lines = [
    `first seconds after /ready (meshbox full path, open loop ${first?.rate ?? 300} req/s from the moment /ready answered, latency by scheduled send time):`,
    `${'run'.padEnd(44)}  ${'p50 / p99 ms, 1st s'.padStart(20)}  ${'p50 / p99, first 4 s'.padStart(20)}  ${'worst 0.5 s p50'.padStart(15)}  ${'p50 / p99, last 2 s'.padStart(19)}  failed`,
    `${'-'.repeat(44)}  ${'-'.repeat(20)}  ${'-'.repeat(20)}  ${'-'.repeat(15)}  ${'-'.repeat(19)}  ------`,
  ];
  for (const r of runs) {
    if (!r.result) {
      lines.push(`${r.label.padEnd(44)}  failed: ${r.error ?? 'no result'}`);
      continue;
    }
    const c = r.result;
    lines.push(
      `${r.label.padEnd(44)}  ${`${ms(c.firstSecond.p50)} / ${ms(c.firstSecond.p99)}`.padStart(20)}  ${`${ms(c.firstFourSeconds.p50)} / ${ms(c.firstFourSeconds.p99)}`.padStart(20)}  ${ms(c.worstP50).padStart(15)}  ${`${ms(c.lastTwoSeconds.p50)} / ${ms(c.lastTwoSeconds.p99)}`.padStart(19)}  ${String(c.failed).padStart(6)}`,
    );
  }
  return lines.join('\n');
}

export function formatWorkers(rows: readonly WorkersRow[]): string {
  if (rows.length === 0) return '';
  const lines = [
    'data-plane workers, nothing pinned (meshbox full path, closed loop; apps and wrk share the same cores):',
    `${'workers'.padEnd(8)}  ${'max req/s'.padStart(9)}  ${'CPU µs/req'.padStart(10)}  ${'meshbox cores'.padStart(13)}  ${'threads: main, workers (cores)'.padEnd(30)}  p50 / p99 ms`,
    `${'-'.repeat(8)}  ${'-'.repeat(9)}  ${'-'.repeat(10)}  ${'-'.repeat(13)}  ${'-'.repeat(30)}  ------------`,
  ];
  for (const r of rows) {
    if (r.error) {
      lines.push(`${String(r.workers).padEnd(8)}  failed: ${r.error}`);
      continue;
    }
    lines.push(
      `${String(r.workers).padEnd(8)}  ${Math.round(r.rps).toLocaleString('en-US').padStart(9)}  ${(r.cpuUsPerRequest !== undefined ? Math.round(r.cpuUsPerRequest).toLocaleString('en-US') : '-').padStart(10)}  ${r.proxyCores.toFixed(2).padStart(13)}  ${r.threadCores.map((c) => c.toFixed(2)).join(', ').padEnd(30)}  ${r.latencyMs.p50 !== undefined ? ms(r.latencyMs.p50) : '-'} / ${r.latencyMs.p99 !== undefined ? ms(r.latencyMs.p99) : '-'}`,
    );
  }
  const one = rows.find((r) => r.workers === 1 && !r.error);
  const two = rows.find((r) => r.workers === 2 && !r.error);
  if (one && two && one.rps > 0) lines.push(`2 workers vs 1: ${(two.rps / one.rps).toFixed(2)}x the throughput`);
  return lines.join('\n');
}
