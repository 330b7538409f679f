/**
 * The scenario model: what a scenario file (YAML) or `defineScenario(...)` (TypeScript) says.
 *
 * The shape follows Chaos Toolkit's experiment (a steady-state hypothesis checked before and
 * after, a method, rollbacks) with Litmus-style probes, in meshbox's vocabulary:
 *
 * ```yaml
 * title: Retries mask a flaky callme
 * description: with callme failing half the time, the caller's retries keep success high
 * tags: [retries, faults]
 * seed: 42                       # every random choice; --seed overrides it
 * mesh: {}                       # default: the bundled sample; or {config: meshbox.yaml} or {attach: http://127.0.0.1:15000}
 * vars: { rate: 50 }             # ${rate} anywhere below; --var rate=100 overrides
 * steadyState:                   # checked before the method and again after it
 *   title: the caller answers
 *   probes:
 *     - { type: probe, path: /caller/ping, count: 5, expect: { status: 200 } }
 * method:                        # ordered steps
 *   - { type: fault, target: { service: callme-service }, http: { abort: { httpStatus: 503, percent: 50 } } }
 *   - { type: load, name: flaky, rate: '${rate}', duration: 3s, path: /caller/ping }
 *   - type: expect
 *     assertions:
 *       - { type: success-rate, min: 90 }
 * rollbacks:                     # always run (see RollbackStrategy); what steps changed is restored after them
 *   - { type: remove-fault, all: true }
 * ```
 *
 * Step and assertion configs are plain validated objects; their types live with their
 * implementations in ./steps and ./assertions (registries keyed by `type`).
 */
import type { SourceLocation } from '../config/findings.js';

/** Chaos Toolkit's `--rollback-strategy`. */
export type RollbackStrategy = 'default' | 'always' | 'never' | 'deviated';
export const ROLLBACK_STRATEGIES: readonly RollbackStrategy[] = ['default', 'always', 'never', 'deviated'];

/** A value from `vars:` or `--var`: what `${name}` is replaced with. */
export type VarValue = string | number | boolean;

export interface MeshSpec {
  /** meshbox.yaml to start, relative to the scenario file (default: the bundled sample) */
  config?: string;
  /** rules folder (default: the one meshbox.yaml names) */
  rules?: string;
  /** admin URL of a running sandbox to use instead of starting one */
  attach?: string;
  /** Host header for traffic through the ingress gateway (default: the first host a Gateway serves) */
  host?: string;
  /** how long the sandbox may take to be ready (default 60s) */
  readyTimeout?: string;
}

/** Common fields of every step; the rest depends on `type`. */
export interface StepSpec {
  type: string;
  /** names the step in the journal; `load` names are also windows for `expect` */
  name?: string;
  description?: string;
  /** Chaos Toolkit's pauses: wait before / after the step */
  pauses?: { before?: string; after?: string };
  [key: string]: unknown;
}

/** Which traffic an assertion looks at. Default: the last load run (or the phase so far). */
export interface WindowSpec {
  /** the traffic of the named load run */
  load?: string;
  /** the traffic while the named step ran */
  step?: string;
  /** the traffic since the named step started */
  since?: string;
  /** the traffic of the last N (duration) */
  last?: string;
}

/** Common fields of every assertion; the rest depends on `type`. */
export interface AssertionSpec {
  type: string;
  /** replaces the generated description in reports */
  description?: string;
  [key: string]: unknown;
}

export interface SteadyStateSpec {
  title?: string;
  probes: StepSpec[];
}

/** A scenario as written (YAML or TypeScript), before validation. */
export interface ScenarioSpec {
  title: string;
  description?: string;
  tags?: string[];
  seed?: number;
  mesh?: MeshSpec;
  vars?: Record<string, VarValue>;
  steadyState?: SteadyStateSpec;
  method: StepSpec[];
  rollbacks?: StepSpec[];
  /** run the remaining method steps after a failed expectation (default false) */
  continueOnFailure?: boolean;
}

export type Phase = 'steady-state-before' | 'method' | 'steady-state-after' | 'rollbacks';

export const PHASE_TITLES: Record<Phase, string> = {
  'steady-state-before': 'steady state (before)',
  method: 'method',
  'steady-state-after': 'steady state (after)',
  rollbacks: 'rollbacks',
};

/** A validated step with where it was written. */
export interface Step {
  spec: StepSpec;
  phase: Phase;
  /** 0-based within its phase */
  index: number;
  location?: SourceLocation;
}

/** A validated scenario, ready to run. */
export interface Scenario {
  /** the file it was read from ('' for defineScenario) */
  file: string;
  /** folder the scenario's relative paths are resolved against */
  baseDir: string;
  /** stable id: the file name without extension, or a slug of the title */
  id: string;
  title: string;
  description?: string;
  tags: string[];
  seed?: number;
  mesh: MeshSpec;
  /** the variables after CLI overrides */
  vars: Record<string, VarValue>;
  steadyState?: { title?: string; probes: Step[] };
  method: Step[];
  rollbacks: Step[];
  continueOnFailure: boolean;
  /** where the scenario starts (its file, line 1) */
  location?: SourceLocation;
}
