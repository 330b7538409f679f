/**
 * `workload`: chaos on workload instances: kill (a crash: meshbox restarts it with back-off),
 * stop / start, restart, pause / resume (SIGSTOP / docker pause: connections hang), drain /
 * undrain (out of load balancing, still running). Chosen by `instance`, or by `workload` /
 * `service` with `pick: first | random | all`. Stop, pause and drain are undone after the
 * rollbacks unless `restore: false`.
 */
import { bool, oneOfValues, str } from '../../config/schemas/json-schema.js';
import { WORKLOAD_ACTIONS, type WorkloadAction } from '../../admin/chaos-routes.js';
import type { InstanceView } from '../scenario-target.js';
import type { StepSpec } from '../scenario-types.js';
import type { StepType } from './step-type.js';

export interface WorkloadConfig extends StepSpec {
  action: WorkloadAction;
  instance?: string;
  workload?: string;
  service?: string;
  pick?: 'first' | 'random' | 'all';
  signal?: string;
  restore?: boolean;
}

const UNDO: Partial<Record<WorkloadAction, WorkloadAction>> = { stop: 'start', pause: 'resume', drain: 'undrain' };
const PAST: Record<WorkloadAction, string> = {
  kill: 'killed',
  stop: 'stopped',
  start: 'started',
  restart: 'restarted',
  pause: 'paused',
  resume: 'resumed',
  drain: 'drained',
  undrain: 'undrained',
};

function scope(c: WorkloadConfig): string {
  if (c.instance !== undefined) return c.instance;
  const what = c.workload ?? c.service ?? '';
  return c.pick === 'all' ? `every instance of ${what}` : c.pick === 'random' ? `a random instance of ${what}` : `the first instance of ${what}`;
}

export const workload: StepType<WorkloadConfig> = {
  type: 'workload',
  summary: 'Kill, stop, start, restart, pause, resume, drain or undrain workload instances.',
  properties: {
    action: oneOfValues(WORKLOAD_ACTIONS, 'What to do: kill (crash; meshbox restarts it), stop, start, restart, pause, resume, drain (out of load balancing), undrain.'),
    instance: str('The instance, e.g. `callme-service-v2-1`.'),
    workload: str('Instances of this workload, e.g. `callme-service-v2` (see `pick`).'),
    service: str('Instances of this service, e.g. `callme-service` (see `pick`).'),
    pick: oneOfValues(['first', 'random', 'all'], 'With `workload` or `service`: the first instance (default), a random one (seeded), or all.'),
    signal: str('kill: the signal (default SIGKILL).', { pattern: '^SIG[A-Z0-9]+$' }),
    restore: bool('Undo stop, pause and drain after the rollbacks (default true).'),
  },
  required: ['action'],
  rules: [{ oneOf: [{ required: ['instance'] }, { required: ['workload'] }, { required: ['service'] }] }],
  title: (c) => `${c.action} ${scope(c)}`,
  async run(config, ctx) {
    const all = await ctx.target.instances();
    let chosen: InstanceView[];
    if (config.instance !== undefined) {
      chosen = all.filter((i) => i.id === config.instance);
      if (chosen.length === 0) throw new Error(`no instance ${config.instance} (instances: ${all.map((i) => i.id).join(', ')})`);
    } else {
      const pool = all.filter((i) => (config.workload !== undefined ? i.workload === config.workload : i.service === config.service)).sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
      if (pool.length === 0) throw new Error(`no instance of ${config.workload ?? config.service} (instances: ${all.map((i) => i.id).join(', ')})`);
      chosen = config.pick === 'all' ? pool : config.pick === 'random' ? [pool[ctx.rng.int(pool.length)]!] : [pool[0]!];
    }
    for (const inst of chosen) {
      await ctx.target.workloadAction(inst.id, config.action, config.signal ? { signal: config.signal } : {});
      // an explicit resume / start / undrain does what a pending restore would have done
      ctx.state.pendingWorkloadUndo.delete(`${config.action} ${inst.id}`);
      const undo = UNDO[config.action];
      if (undo && config.restore !== false) {
        const key = `${undo} ${inst.id}`;
        ctx.state.pendingWorkloadUndo.add(key);
        ctx.restoreLater(key, async () => {
          if (!ctx.state.pendingWorkloadUndo.delete(key)) return 'already done by a step';
          await ctx.target.workloadAction(inst.id, undo);
        });
      }
    }
    const ids = chosen.map((i) => i.id);
    const signal = config.action === 'kill' ? ` (${config.signal ?? 'SIGKILL'})` : '';
    return { summary: `${PAST[config.action]} ${ids.join(', ')}${signal}`, data: { action: config.action, instances: ids } };
  },
};
