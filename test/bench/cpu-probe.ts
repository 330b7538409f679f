/**
 * The machine noise check of reference/perf-baseline.md: the host sometimes slows a core by 30-45 %
 * for minutes without reporting steal time, and medians over such runs are off by up to 2x. Before
 * and after every phase the benchmark spins a short fixed loop on each core it uses (pinned with
 * taskset) and records its speed; a phase whose probes ran below NOISY_RATIO of the fastest probe
 * of that core in the whole run is marked noisy, never silently averaged in.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** a probe below this fraction of the core's best probe of the run marks the phase noisy */
export const NOISY_RATIO = 0.85;

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cpu-probe-child.js');

export interface ProbeResult {
  /** when, in ms since the run started */
  atMs: number;
  /** loop iterations per ms, by core ("0", "1", ...); missing when the probe failed */
  opsPerMs: Record<string, number>;
}

/**
 * Probes the given cores at the same time, one pinned process each, for `ms` ms. Without taskset
 * (`pinned` false) it probes once, unpinned, under the key "any".
 */
export async function probeCores(cores: number[], ms: number, pinned: boolean, runStart: number): Promise<ProbeResult> {
  const atMs = performance.now() - runStart;
  const keys = pinned ? cores.map(String) : ['any'];
  const results = await Promise.all(
    keys.map(
      (key) =>
        new Promise<[string, number | undefined]>((resolve) => {
          const [command, args] = pinned ? ['taskset', ['-c', key, process.execPath, CHILD, String(ms)]] : [process.execPath, [CHILD, String(ms)]];
          execFile(command, args as string[], { timeout: ms + 10_000 }, (err, stdout) => {
            if (err) return resolve([key, undefined]);
            try {
              const value = (JSON.parse(stdout) as { opsPerMs?: unknown }).opsPerMs;
              resolve([key, typeof value === 'number' && value > 0 ? value : undefined]);
            } catch {
              resolve([key, undefined]);
            }
          });
        }),
    ),
  );
  const opsPerMs: Record<string, number> = {};
  for (const [key, value] of results) if (value !== undefined) opsPerMs[key] = value;
  return { atMs, opsPerMs };
}

/** The fastest probe of each core over a run: the run's "normal" speed of that core. */
export function bestByCore(probes: ProbeResult[]): Record<string, number> {
  const best: Record<string, number> = {};
  for (const probe of probes) {
    for (const [core, value] of Object.entries(probe.opsPerMs)) best[core] = Math.max(best[core] ?? 0, value);
  }
  return best;
}

/**
 * The slowest probe of the given probes relative to its core's best (1 = as fast as the best run
 * of that core); 1 when there is nothing to compare.
 */
export function slowestRatio(probes: ProbeResult[], best: Record<string, number>): number {
  let ratio = 1;
  for (const probe of probes) {
    for (const [core, value] of Object.entries(probe.opsPerMs)) {
      const reference = best[core];
      if (reference) ratio = Math.min(ratio, value / reference);
    }
  }
  return ratio;
}
