/**
 * Stable codes of the findings about scenario files (MB40xx), beside the shared YAML and schema
 * codes (MB10xx, MB11xx) the scenario loader reuses from sandbox/config.
 */
import type { Finding, SourceLocation } from '../config/findings.js';

export const SCENARIO_CODES = {
  NOT_ONE_DOCUMENT: { code: 'MB4001', title: 'a scenario file must hold exactly one YAML document' },
  UNKNOWN_VARIABLE: { code: 'MB4002', title: '`${name}` names no variable of `vars:` or `--var`' },
  FILE_NOT_FOUND: { code: 'MB4003', title: 'a file the scenario names (meshbox.yaml, rules) does not exist' },
  UNKNOWN_NAME: { code: 'MB4004', title: 'a window or step refers to a load or step name defined nowhere before it' },
  DUPLICATE_NAME: { code: 'MB4005', title: 'two steps with the same name' },
  NOT_WHEN_ATTACHED: { code: 'MB4006', title: 'a step an attached sandbox cannot do (rules)' },
  BAD_VARIABLE: { code: 'MB4007', title: 'a `--var` that is not `name=value`, or a variable that is not a scalar' },
  INVALID_VALUE: { code: 'MB4008', title: 'a value the schema allows but the step cannot use (a regular expression that does not compile, ...)' },
} as const;

export type ScenarioCodeName = keyof typeof SCENARIO_CODES;

export function scenarioFinding(name: ScenarioCodeName, message: string, location?: SourceLocation, hint?: string): Finding {
  const f: Finding = { severity: 'error', code: SCENARIO_CODES[name].code, message };
  if (hint) f.hint = hint;
  if (location) f.location = location;
  return f;
}
