/**
 * Chaos: the load generator and scripted scenarios (model, loader, runner, steps, assertions,
 * reports). See scenario-types.ts for the format and README "Chaos scenarios".
 */
export { LoadGenerator, runLoad, formatLoadResult } from './load-generator.js';
export type { LoadResult, LoadStats, LoadOptions, RequestOutcome } from './load-generator.js';
export { defineScenario } from './scenario-define.js';
export type { ScenarioDefinition, DefineScenarioOptions, BuiltinStep, BuiltinAssertion } from './scenario-define.js';
export { runScenario } from './scenario-runner.js';
export type { RunScenarioOptions } from './scenario-runner.js';
export { runScenarios } from './run-scenarios.js';
export type { RunScenariosOptions } from './run-scenarios.js';
export { loadScenarioFile, parseScenarioText, validateScenarioValue } from './scenario-loader.js';
export type { ScenarioLoadResult, ScenarioLoadOptions } from './scenario-loader.js';
export { scenarioSchema, scenarioJsonSchema } from './scenario-schema.js';
export { buildReport, junitReport, jsonReport } from './scenario-report.js';
export { parseVarAssignment } from './scenario-vars.js';
export { registerStep, stepType, stepTypes } from './steps/index.js';
export type { StepType, StepContext, StepOutcome, CheckContext } from './steps/index.js';
export { registerAssertion, assertionType, assertionTypes } from './assertions/index.js';
export type { AssertionType, Measurement, MeasureInput } from './assertions/index.js';
export type { AssertionResult } from './assertions/evaluate.js';
export { SCENARIO_CODES } from './scenario-codes.js';
export { SandboxTarget } from './sandbox-target.js';
export { AttachedTarget } from './attached-target.js';
export type { ScenarioTarget, InstanceView, RulesControl } from './scenario-target.js';
export { TrafficRecorder } from './traffic-recorder.js';
export type { Scenario, ScenarioSpec, Step, StepSpec, AssertionSpec, WindowSpec, MeshSpec, SteadyStateSpec, Phase, RollbackStrategy, VarValue } from './scenario-types.js';
export { ROLLBACK_STRATEGIES } from './scenario-types.js';
export type { ScenarioResult, StepRecord, RunReport, ScenarioProgress, ScenarioStatus, StepStatus } from './scenario-result.js';
