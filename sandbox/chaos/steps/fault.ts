/**
 * `fault`: add a runtime fault, meshbox's Fault spec inline: HTTP faults at the target's inbound
 * sidecar (`http`: abort, delay, reset, slowBody) and/or Toxiproxy network toxics on the
 * connections to it (`toxics`: latency, bandwidth, timeout, reset_peer, ...). Removed after the
 * rollbacks (or earlier by `remove-fault`, or by its `ttl`).
 */
import { faultSpecSchema } from '../../config/schemas/fault.js';
import { describeFault } from '../../faults/describe-fault.js';
import type { FaultSpec } from '../../faults/fault-spec.js';
import type { StepSpec } from '../scenario-types.js';
import { durationField } from '../schema-parts.js';
import { toMs } from '../tolerance.js';
import type { StepType } from './step-type.js';

export interface FaultConfig extends StepSpec {
  target: FaultSpec['target'];
  match?: FaultSpec['match'];
  http?: FaultSpec['http'];
  toxics?: FaultSpec['toxics'];
  ttl?: string;
}

const { name: _name, ttlMs: _ttl, disabled: _disabled, ...faultProperties } = faultSpecSchema.properties!;

export function faultSpecOf(config: FaultConfig): FaultSpec {
  const spec: FaultSpec = { target: config.target };
  if (config.name !== undefined) spec.name = config.name;
  if (config.match !== undefined) spec.match = config.match;
  if (config.http !== undefined) spec.http = config.http;
  if (config.toxics !== undefined) spec.toxics = config.toxics;
  if (config.ttl !== undefined) spec.ttlMs = Math.max(1, Math.round(toMs(config.ttl)));
  return spec;
}

export const fault: StepType<FaultConfig> = {
  type: 'fault',
  summary: "Add a runtime fault: HTTP faults at the target's inbound sidecar and/or network toxics on the connections to it (meshbox's Fault spec); removed after the rollbacks.",
  properties: { ...faultProperties, ttl: durationField('Remove the fault by itself after this long.') },
  required: ['target'],
  rules: [{ anyOf: [{ required: ['http'] }, { required: ['toxics'] }] }],
  title: (c) => `fault ${describeFault(faultSpecOf(c))}`,
  async run(config, ctx) {
    const record = await ctx.target.addFault(faultSpecOf(config));
    ctx.state.faults.add(record.name);
    ctx.restoreLater(`remove fault ${record.name}`, async () => {
      if (!ctx.state.faults.has(record.name)) return 'already removed';
      ctx.state.faults.delete(record.name);
      return (await ctx.target.removeFault(record.name)) ? undefined : 'already gone (expired)';
    });
    return { summary: `added fault ${record.name}: ${describeFault(record.spec)}`, data: { fault: record.name, spec: record.spec } };
  },
};
