/** `wait`: do nothing for a while (let an ejection expire, a restarted instance come back). */
import { duration } from '../../config/schemas/json-schema.js';
import { formatValue, toMs } from '../tolerance.js';
import type { StepSpec } from '../scenario-types.js';
import type { StepType } from './step-type.js';

export interface WaitConfig extends StepSpec {
  duration: string | number;
}

export const wait: StepType<WaitConfig> = {
  type: 'wait',
  summary: 'Wait for a duration.',
  properties: { duration: { ...duration('How long, e.g. `2s`.'), type: ['string', 'number'] } },
  required: ['duration'],
  title: (c) => `wait ${formatValue(toMs(c.duration), 'ms')}`,
  async run(config, ctx) {
    const started = Date.now();
    await ctx.sleep(toMs(config.duration));
    return { summary: `waited ${formatValue(Date.now() - started, 'ms')}` };
  },
};
