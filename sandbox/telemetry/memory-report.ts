/**
 * `GET /memory`: what meshbox's process holds, per component (issue #13.4): the process's RSS
 * (shared by its threads) and peak, each thread's V8 heap (the main thread: CLI, control plane,
 * telemetry; each data-plane worker: its proxies), and the RSS of every app process it started
 * (the apps are processes of their own, outside meshbox's RSS). RSS comes from /proc (Linux);
 * elsewhere only the heaps are known.
 */
import { readFileSync } from 'node:fs';
import { threadMemory, type ThreadMemory } from '../proxy/thread-memory.js';

export interface MemoryReport {
  process: { pid: number; rssMB: number; peakRssMB?: number };
  main: ThreadMemory;
  workers: ThreadMemory[];
  apps: Array<{ instance: string; pid: number; rssMB?: number }>;
}

const round = (kb: number): number => Math.round(kb / 102.4) / 10;

/** VmRSS and VmHWM of a process, in MB, from /proc (undefined where there is none) */
export function procMemory(pid: number | 'self'): { rssMB: number; peakRssMB: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(text);
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(text);
    if (!rss) return undefined;
    return { rssMB: round(Number(rss[1])), peakRssMB: round(Number(hwm?.[1] ?? rss[1])) };
  } catch {
    return undefined;
  }
}

export async function memoryReport(workers: () => Promise<ThreadMemory[]>, apps: ReadonlyArray<{ id: string; pid?: number }>): Promise<MemoryReport> {
  const own = procMemory('self');
  return {
    process: { pid: process.pid, rssMB: own?.rssMB ?? Math.round((process.memoryUsage().rss / 1048576) * 10) / 10, ...(own ? { peakRssMB: own.peakRssMB } : {}) },
    main: threadMemory(),
    workers: await workers().catch(() => []),
    apps: apps.filter((a) => a.pid !== undefined).map((a) => ({ instance: a.id, pid: a.pid!, ...(procMemory(a.pid!) ? { rssMB: procMemory(a.pid!)!.rssMB } : {}) })),
  };
}
