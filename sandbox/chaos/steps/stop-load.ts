/** `stop-load`: end a background load now (or, with `wait: true`, wait until it ends by itself). */
import { bool, str } from '../../config/schemas/json-schema.js';
import type { LoadRun } from '../run-state.js';
import type { StepSpec } from '../scenario-types.js';
import { scenarioFinding } from '../scenario-codes.js';
import type { StepType } from './step-type.js';
import { loadData, summarizeLoad } from './load.js';

export interface StopLoadConfig extends StepSpec {
  load?: string;
  wait?: boolean;
}

export const stopLoad: StepType<StopLoadConfig> = {
  type: 'stop-load',
  summary: 'End a background load now, or wait for it to end by itself (`wait: true`); without `load`, every background load.',
  properties: {
    load: str('Name of the background load (default: all of them).'),
    wait: bool('Wait for the load to reach its duration or request bound instead of stopping it (default false).'),
  },
  title: (c) => `${c.wait ? 'wait for' : 'stop'} ${c.load ? `load "${c.load}"` : 'background loads'}`,
  check(config, ctx) {
    if (config.load !== undefined && !ctx.loads.has(config.load)) {
      return [scenarioFinding('UNKNOWN_NAME', `no load named "${config.load}" runs before this step`, ctx.at(['load']), ctx.loads.size ? `loads: ${[...ctx.loads].join(', ')}` : 'name a load step with `name:`')];
    }
    return [];
  },
  async run(config, ctx) {
    let runs: LoadRun[];
    if (config.load !== undefined) {
      const run = ctx.state.loads.get(config.load);
      if (!run) throw new Error(`no load named "${config.load}" has started`);
      runs = [run];
    } else {
      runs = ctx.state.running();
    }
    if (runs.length === 0) return { summary: 'no background load was running' };
    const results = await Promise.all(runs.map((r) => (config.wait ? r.done : r.generator.stop())));
    await ctx.target.settle();
    const end = await ctx.target.mark();
    for (const r of runs) r.endedAt = end;
    if (ctx.state.lastTraffic && runs.some((r) => ctx.state.lastTraffic!.label === `load "${r.name}"`)) ctx.state.lastTraffic.endedAt = end;
    return {
      summary: runs.map((r, i) => `load "${r.name}" ${config.wait ? 'ended' : 'stopped'}: ${summarizeLoad(results[i]!)}`).join('; '),
      data: Object.fromEntries(runs.map((r, i) => [r.name, loadData(results[i]!)])),
    };
  },
};
