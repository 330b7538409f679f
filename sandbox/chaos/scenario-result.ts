/**
 * What a run produces: a journal of every step with its timings (the JSON report, like Chaos
 * Toolkit's journal.json), the scenario's verdict with the seed to replay it, and the progress
 * events a CLI or UI shows live.
 */
import type { AssertionResult } from './assertions/evaluate.js';
import type { Phase, RollbackStrategy, Scenario } from './scenario-types.js';

export type StepStatus = 'passed' | 'failed' | 'error' | 'skipped';
export type ScenarioStatus = 'passed' | 'failed' | 'error';

export interface StepRecord {
  phase: Phase | 'restore';
  /** 0-based within its phase */
  index: number;
  type: string;
  name?: string;
  /** `load 50 req/s for 3s`, `expect success-rate` */
  title: string;
  /** file:line:col of the step in the scenario */
  location?: string;
  status: StepStatus;
  /** ISO time */
  startedAt: string;
  durationMs: number;
  /** what happened, one line */
  summary: string;
  /** for status error: what went wrong */
  error?: string;
  /** progress lines the step printed (rule warnings, ...) */
  notes?: string[];
  assertions?: AssertionResult[];
  data?: Record<string, unknown>;
}

export type HypothesisState = 'met' | 'deviated' | 'not run';

export interface ScenarioResult {
  file: string;
  id: string;
  title: string;
  description?: string;
  tags: string[];
  seed: number;
  status: ScenarioStatus;
  /** why it did not pass, in one line */
  reason?: string;
  startedAt: string;
  durationMs: number;
  /** time to start (or attach to) the sandbox */
  setupMs: number;
  target?: { kind: 'sandbox' | 'attached'; id: string; runtime?: string; ingressUrl: string; adminUrl: string };
  steadyState: { before: HypothesisState; after: HypothesisState };
  rollbackStrategy: RollbackStrategy;
  rollbacksRun: boolean;
  interrupted: boolean;
  vars: Record<string, string | number | boolean>;
  steps: StepRecord[];
  /** the command that replays this run */
  replay: string;
}

export interface RunReport {
  meshbox: string;
  startedAt: string;
  durationMs: number;
  status: ScenarioStatus;
  scenarios: ScenarioResult[];
}

export type ScenarioProgress =
  | { type: 'scenario:start'; scenario: Scenario; seed: number; index: number; total: number }
  | { type: 'scenario:target'; message: string }
  | { type: 'phase'; phase: Phase | 'restore'; title: string }
  | { type: 'step:start'; phase: Phase | 'restore'; index: number; title: string }
  | { type: 'step:note'; message: string }
  | { type: 'step:end'; record: StepRecord }
  | { type: 'scenario:end'; result: ScenarioResult };
