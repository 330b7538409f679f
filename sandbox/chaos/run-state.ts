/**
 * The state of one scenario run that steps share: background loads by name, when each named step
 * ran, what to restore at the end, and the traffic windows assertions ask for.
 */
import type { LoadGenerator, LoadResult } from './load-generator.js';
import type { WindowSpec } from './scenario-types.js';
import { toMs, formatValue } from './tolerance.js';
import type { TimeRange } from './traffic-recorder.js';

export interface LoadRun {
  name: string;
  /** `50 req/s for 3s -> ingress /caller/ping` */
  description: string;
  startedAt: number;
  endedAt?: number;
  generator: LoadGenerator;
  done: Promise<LoadResult>;
  result?: LoadResult;
}

export interface Restore {
  description: string;
  /** resolves with what it did when that is not simply "done" (`already removed`) */
  undo: () => Promise<string | void>;
}

export class RunState {
  readonly loads = new Map<string, LoadRun>();
  /** named steps: when they started and ended */
  readonly steps = new Map<string, { startedAt: number; endedAt?: number }>();
  /** what steps changed, undone in reverse order after the rollbacks */
  readonly restores: Restore[] = [];
  /** runtime faults this run added and that are still active */
  readonly faults = new Set<string>();
  /** workload undos still to do, as `<action> <instance>` (`resume callme-service-v2-1`) */
  readonly pendingWorkloadUndo = new Set<string>();
  phaseStartedAt = Date.now();
  /** the last step that made traffic (a load or a probe): the default window */
  lastTraffic: { label: string; startedAt: number; endedAt?: number } | undefined;
  private counter = 0;

  constructor(private readonly now: () => number = Date.now) {}

  nextLoadName(): string {
    let name: string;
    do name = `load-${++this.counter}`;
    while (this.loads.has(name));
    return name;
  }

  /** background loads still running */
  running(): LoadRun[] {
    return [...this.loads.values()].filter((l) => l.endedAt === undefined);
  }

  window(spec: WindowSpec | undefined): TimeRange {
    const now = this.now();
    if (spec?.load !== undefined) {
      const load = this.loads.get(spec.load);
      if (!load) throw new Error(`no load named "${spec.load}" has run yet${this.loads.size ? ` (loads: ${[...this.loads.keys()].join(', ')})` : ''}`);
      return { from: load.startedAt, to: load.endedAt ?? now, label: `load "${load.name}"${load.endedAt === undefined ? ' (still running)' : ''}` };
    }
    if (spec?.step !== undefined || spec?.since !== undefined) {
      const name = (spec.step ?? spec.since)!;
      const step = this.steps.get(name);
      if (!step) throw new Error(`no step named "${name}" has run yet`);
      if (spec.since !== undefined) return { from: step.startedAt, to: now, label: `since step "${name}"` };
      return { from: step.startedAt, to: step.endedAt ?? now, label: `step "${name}"` };
    }
    if (spec?.last !== undefined) {
      const ms = toMs(spec.last);
      return { from: now - ms, to: now, label: `the last ${formatValue(ms, 'ms')}` };
    }
    if (this.lastTraffic) return { from: this.lastTraffic.startedAt, to: this.lastTraffic.endedAt ?? now, label: this.lastTraffic.label };
    return { from: this.phaseStartedAt, to: now, label: 'this phase so far' };
  }
}
