/** `remove-fault`: remove runtime faults this scenario added, by name or all of them. */
import { bool, exactlyOneOf, str } from '../../config/schemas/json-schema.js';
import type { StepSpec } from '../scenario-types.js';
import type { StepType } from './step-type.js';

export interface RemoveFaultConfig extends StepSpec {
  fault?: string;
  all?: boolean;
}

export const removeFault: StepType<RemoveFaultConfig> = {
  type: 'remove-fault',
  summary: 'Remove a runtime fault by name (`fault:`), or every fault this scenario added (`all: true`).',
  properties: {
    fault: str('Name of the fault (the `name` of its fault step).'),
    all: bool('Every fault this scenario added.'),
  },
  rules: [exactlyOneOf('fault', 'all')],
  title: (c) => `remove ${c.fault !== undefined ? `fault ${c.fault}` : 'all faults'}`,
  async run(config, ctx) {
    const names = config.fault !== undefined ? [config.fault] : [...ctx.state.faults];
    const removed: string[] = [];
    for (const name of names) {
      if (await ctx.target.removeFault(name)) removed.push(name);
      ctx.state.faults.delete(name);
    }
    if (config.fault !== undefined && removed.length === 0) throw new Error(`no runtime fault named ${config.fault} is active`);
    return { summary: removed.length ? `removed ${removed.join(', ')}` : 'no fault was active', data: { removed } };
  },
};
