/** `wait`: do nothing for a while (let an ejection expire, a restarted instance come back). */
import { durationField } from '../schema-parts.js';
import { formatValue, toMs } from '../tolerance.js';
import type { StepSpec } from '../scenario-types.js';
import type { StepType } from './step-type.js';

export interface WaitConfig extends StepSpec {
  duration: string;
}

export const wait: StepType<WaitConfig> = {
  type: 'wait',
  summary: 'Wait for a duration.',
  properties: { duration: durationField('How long, e.g. `2s`.') },
  required: ['duration'],
  title: (c) => `wait ${formatValue(toMs(c.duration), 'ms')}`,
  async run(config, ctx) {
    const started = Date.now();
    await ctx.sleep(toMs(config.duration));
    return { summary: `waited ${formatValue(Date.now() - started, 'ms')}` };
  },
};
