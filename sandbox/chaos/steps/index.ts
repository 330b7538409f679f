/**
 * The step registry, keyed by `type`. Built-in types are registered here; more can be added with
 * `registerStep` (before scenarios are loaded, so the schema knows them).
 *
 * Scaling a workload (replicas) is not a step: the sandbox offers no API for it outside a
 * meshbox.yaml reload.
 */
import type { StepSpec } from '../scenario-types.js';
import type { StepType } from './step-type.js';
import { connect } from './connect.js';
import { expect } from './expect.js';
import { fault } from './fault.js';
import { load } from './load.js';
import { probe } from './probe.js';
import { removeFault } from './remove-fault.js';
import { rules } from './rules.js';
import { stopLoad } from './stop-load.js';
import { wait } from './wait.js';
import { workload } from './workload.js';

export type { StepType, StepContext, StepOutcome, CheckContext } from './step-type.js';

const registry = new Map<string, StepType>();

export function registerStep<C extends StepSpec>(type: StepType<C>): void {
  registry.set(type.type, type as unknown as StepType);
}

export function stepType(name: string): StepType | undefined {
  return registry.get(name);
}

export function stepTypes(): StepType[] {
  return [...registry.values()];
}

for (const t of [rules, fault, removeFault, workload, load, stopLoad, wait, probe, connect, expect]) registerStep(t as unknown as StepType);
