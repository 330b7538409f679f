/**
 * Scenarios in TypeScript, for users who prefer code to YAML:
 *
 * ```ts
 * import { defineScenario, runScenario } from 'meshbox/sandbox';
 * const canary = defineScenario({
 *   title: 'Canary split 80/20',
 *   seed: 42,
 *   method: [
 *     { type: 'load', name: 'split', rate: 100, duration: '3s', path: '/caller/ping' },
 *     { type: 'expect', assertions: [{ type: 'share', service: 'callme-service', subset: 'v2', equals: 80, tolerance: 6 }] },
 *   ],
 * });
 * const result = await runScenario(canary, { runtime: 'process' });
 * ```
 *
 * The object is validated with the same schema and checks as a scenario file, at once: a
 * malformed scenario throws MESH_ERR_CONFIG_INVALID with its findings (paths instead of
 * line:col), before anything starts.
 */
import { MeshError } from '../errors.js';
import type { AssertionSpec, MeshSpec, Scenario, SteadyStateSpec, StepSpec, VarValue, WindowSpec } from './scenario-types.js';
import { validateScenarioValue } from './scenario-loader.js';
import type { ExpectConfig } from './steps/expect.js';
import type { FaultConfig } from './steps/fault.js';
import type { LoadConfig } from './steps/load.js';
import type { ProbeConfig } from './steps/probe.js';
import type { RemoveFaultConfig } from './steps/remove-fault.js';
import type { RulesConfig } from './steps/rules.js';
import type { StopLoadConfig } from './steps/stop-load.js';
import type { WaitConfig } from './steps/wait.js';
import type { WorkloadConfig } from './steps/workload.js';
import type { BoundsSpec } from './tolerance.js';
import type { Selection } from './assertions/select.js';

/** The built-in steps, by `type`, for completion in editors. */
export type BuiltinStep =
  | (RulesConfig & { type: 'rules' })
  | (FaultConfig & { type: 'fault' })
  | (RemoveFaultConfig & { type: 'remove-fault' })
  | (WorkloadConfig & { type: 'workload' })
  | (LoadConfig & { type: 'load' })
  | (StopLoadConfig & { type: 'stop-load' })
  | (WaitConfig & { type: 'wait' })
  | (ProbeConfig & { type: 'probe' })
  | (Omit<ExpectConfig, 'assertions'> & { type: 'expect'; assertions: BuiltinAssertion[] });

type Common = AssertionSpec & BoundsSpec & { window?: WindowSpec; baseline?: WindowSpec };
type Traffic = Common & Selection & { minRequests?: number };

/** The built-in assertions, by `type`. */
export type BuiltinAssertion =
  | (Traffic & { type: 'success-rate' })
  | (Traffic & { type: 'error-rate'; status?: number | string | Array<number | string>; flag?: string | string[] })
  | (Traffic & { type: 'latency'; percentile: number })
  | (Traffic & { type: 'share'; subset?: string; version?: string; workload?: string; instance?: string })
  | (Traffic & { type: 'attempts'; stat?: 'mean' | 'max' | 'retried' | 'retries' })
  | (Traffic & { type: 'requests' })
  | (Common & { type: 'ejections'; event?: 'ejected' | 'returned'; service?: string; subset?: string; instance?: string })
  | (AssertionSpec & BoundsSpec & { type: 'healthy'; service?: string; workload?: string; instance?: string });

export interface ScenarioDefinition {
  title: string;
  description?: string;
  tags?: string[];
  seed?: number;
  mesh?: MeshSpec;
  vars?: Record<string, VarValue>;
  steadyState?: Omit<SteadyStateSpec, 'probes'> & { probes: Array<BuiltinStep | StepSpec> };
  method: Array<BuiltinStep | StepSpec>;
  rollbacks?: Array<BuiltinStep | StepSpec>;
  continueOnFailure?: boolean;
}

export interface DefineScenarioOptions {
  /** folder that `mesh.config`, `mesh.rules` and rules `file`s are relative to (default: the cwd) */
  baseDir?: string;
  /** override `vars` (as --var does) */
  vars?: Record<string, VarValue>;
}

/** Validates a scenario written in TypeScript; throws MESH_ERR_CONFIG_INVALID with the findings. */
export function defineScenario(definition: ScenarioDefinition, options: DefineScenarioOptions = {}): Scenario {
  const r = validateScenarioValue(definition, '', () => undefined, options);
  if (!r.scenario) {
    throw new MeshError('MESH_ERR_CONFIG_INVALID', [`scenario "${definition.title ?? '(untitled)'}"`], { findings: r.findings, hint: 'fix the fields named above (see scenarios/scenario.schema.json for every field)' });
  }
  return r.scenario;
}
