/**
 * A step type: one entry of the registry keyed by `type` (./index.ts). Its config is a plain
 * object validated by the scenario schema (`properties` plus the common `type`, `name`,
 * `description`, `pauses`); its one required method, `run`, does the step and says what happened.
 * A step that changes the mesh registers how to undo it (`ctx.restoreLater`), which the runner
 * does after the rollbacks. A thrown error is an error of the scenario (not a failed expectation);
 * an expectation that does not hold is `{ failed: true }`.
 */
import type { Finding, SourceLocation } from '../../config/findings.js';
import type { JsonSchema } from '../../config/schemas/json-schema.js';
import type { YamlPath } from '../../config/yaml-source.js';
import type { Rng } from '../../rng.js';
import type { AssertionResult } from '../assertions/evaluate.js';
import type { RunState } from '../run-state.js';
import type { ScenarioTarget } from '../scenario-target.js';
import type { Scenario, Step, StepSpec } from '../scenario-types.js';
import type { TrafficRecorder } from '../traffic-recorder.js';

export interface StepContext {
  readonly target: ScenarioTarget;
  readonly traffic: TrafficRecorder;
  readonly state: RunState;
  readonly scenario: Scenario;
  readonly step: Step;
  /** seeded from the scenario's seed and the step's position */
  readonly rng: Rng;
  /** aborted on Ctrl-C: end waits and loads early */
  readonly signal: AbortSignal;
  /** folder that relative paths of the scenario are resolved against */
  readonly baseDir: string;
  /** a progress line under the step */
  note(message: string): void;
  /** resolves after `ms`, or early when the run is aborted */
  sleep(ms: number): Promise<void>;
  /** undo this change at the end of the run (after the rollbacks), newest first */
  restoreLater(description: string, undo: () => Promise<string | void>): void;
}

export interface StepOutcome {
  /** one line: what the step did */
  summary: string;
  /** an expectation did not hold */
  failed?: boolean;
  assertions?: AssertionResult[];
  /** facts for the JSON journal (load results, fault names, ...) */
  data?: Record<string, unknown>;
}

export interface CheckContext {
  /** the scenario file ('' for defineScenario) */
  file: string;
  baseDir: string;
  /** location of a path inside the step, e.g. `['window', 'load']` */
  at(path: YamlPath, opts?: { key?: boolean }): SourceLocation | undefined;
  /** the scenario attaches to a running sandbox */
  attached: boolean;
  /** names of loads and steps defined before this step (in run order) */
  loads: ReadonlySet<string>;
  steps: ReadonlySet<string>;
}

export interface StepType<C extends StepSpec = StepSpec> {
  type: string;
  /** one sentence for the schema and docs */
  summary: string;
  /** the fields of this type besides the common ones */
  properties: Record<string, JsonSchema>;
  required?: string[];
  rules?: JsonSchema[];
  /** checks beyond the schema, before anything starts (files exist, names resolve) */
  check?(config: C, ctx: CheckContext): Finding[];
  /** a short title for progress lines: `load 50 req/s for 3s -> ingress /caller/ping` */
  title?(config: C): string;
  run(config: C, ctx: StepContext): Promise<StepOutcome>;
}
