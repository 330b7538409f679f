/**
 * Throughput of the sample path with 1 and with 2 data-plane workers, nothing pinned (issue
 * #13.3 and .5): `meshbox up --data-plane-workers N`, its apps and wrk free on every allowed cpu,
 * closed loop on the full path after a warm-up, with the CPU meshbox used per request and how it
 * spread over its threads. On a 2-core machine the apps and wrk share the cores with meshbox, so
 * the gain is bounded by them; the CPU per request says what the extra worker costs.
 */
import { closedLoop, warmUp, type ClosedLoopResult, type MeasureContext } from './measure.js';
import { readThreadCpuSeconds } from './proc-stats.js';
import { startMeshbox, type StartContext } from './topology.js';

export interface WorkersRow {
  workers: number;
  rps: number;
  cpuUsPerRequest: number | undefined;
  /** meshbox's CPU over the run, in cores */
  proxyCores: number;
  /** the busiest threads of meshbox over the run, in cores (main thread first) */
  threadCores: number[];
  latencyMs: ClosedLoopResult['latencyMs'];
  errors: number;
  non2xx: number;
  error?: string;
}

/** one meshbox per worker count, each measured and stopped before the next starts */
export async function measureWorkers(ctx: StartContext, mctx: Omit<MeasureContext, 'proxyPids' | 'appPids' | 'threadPid'>, allCpus: string, counts: readonly number[]): Promise<WorkersRow[]> {
  const rows: WorkersRow[] = [];
  for (const workers of counts) {
    if (mctx.signal.aborted) break;
    mctx.log(`bench: workers ${workers} (unpinned): starting`);
    const topology = await startMeshbox(ctx, { workers, unpinnedCpus: allCpus, label: `meshbox-workers-${workers}` });
    try {
      const m: MeasureContext = { ...mctx, proxyPids: topology.proxyPids, appPids: topology.appPids, threadPid: topology.threadPid!, wrkCpus: allCpus };
      await warmUp(m, topology.full, mctx.durations.warmupNextMs + 1000);
      const before = readThreadCpuSeconds(topology.threadPid!);
      mctx.log(`  workers ${workers}: closed loop ${mctx.durations.connections} connections, ${(mctx.durations.measureMs / 1000).toFixed(1)} s`);
      const closed = await closedLoop(m, topology.full);
      const after = readThreadCpuSeconds(topology.threadPid!);
      const wall = closed.cpu.windowSeconds;
      const perThread = [...after].map(([tid, s]) => ({ tid, cores: Math.max(0, s - (before.get(tid) ?? 0)) / wall }));
      const main = perThread.find((t) => t.tid === topology.threadPid)?.cores ?? 0;
      const others = perThread.filter((t) => t.tid !== topology.threadPid).map((t) => t.cores).sort((a, b) => b - a).slice(0, workers);
      rows.push({
        workers,
        rps: closed.rps,
        cpuUsPerRequest: closed.cpu.proxyUsPerRequest,
        proxyCores: closed.cpu.proxyCores,
        threadCores: [main, ...others],
        latencyMs: closed.latencyMs,
        errors: closed.errors,
        non2xx: closed.non2xx,
      });
    } catch (err) {
      rows.push({ workers, rps: 0, cpuUsPerRequest: undefined, proxyCores: 0, threadCores: [], latencyMs: {}, errors: 0, non2xx: 0, error: (err as Error).message });
    } finally {
      await topology.stop();
    }
  }
  return rows;
}
