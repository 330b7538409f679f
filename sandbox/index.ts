/**
 * meshbox's public API: run a mesh from code, inject faults, script chaos scenarios.
 *
 * ```ts
 * import { Sandbox, defineScenario, runScenario } from 'meshbox/dist/sandbox/index.js';
 * const sandbox = new Sandbox({ runtime: 'process', ingressPort: 0, adminPort: 0 });
 * await sandbox.up();
 * ...
 * await sandbox.down();
 * ```
 */
export { Sandbox } from './sandbox.js';
export type { SandboxOptions, RuntimeChoice } from './sandbox.js';
export { MeshError } from './errors.js';
export type { MeshErrorCode } from './errors.js';
export { EventBus } from './events.js';
export type { MeshEvent, MeshEventType, RequestEvent, TcpConnectionEvent, RouteRef, WorkloadEvent, FaultEvent, OutlierEvent, ConfigAppliedEvent, ConfigRejectedEvent, NoticeEvent } from './events.js';
export type { FaultSpec, FaultRecord, FaultTarget, HttpFaultSpec, ToxicSpec } from './faults/fault-spec.js';
export { validatePaths } from './config/validate.js';
export type { Finding, SourceLocation } from './config/findings.js';
export { formatFinding } from './config/findings.js';
export {
  defineScenario,
  runScenario,
  runScenarios,
  loadScenarioFile,
  parseScenarioText,
  scenarioJsonSchema,
  junitReport,
  jsonReport,
  registerStep,
  registerAssertion,
  LoadGenerator,
  runLoad,
} from './chaos/index.js';
export type {
  Scenario,
  ScenarioDefinition,
  ScenarioResult,
  RunReport,
  RunScenarioOptions,
  ScenarioProgress,
  StepRecord,
  AssertionResult,
  StepType,
  AssertionType,
  LoadOptions,
  LoadResult,
} from './chaos/index.js';
