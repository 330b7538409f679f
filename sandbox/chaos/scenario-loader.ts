/**
 * Scenario files -> validated Scenarios, with every problem reported as `file:line:col` before
 * anything starts (the same YAML-with-positions, JSON Schema and finding machinery as the rule
 * files):
 *
 *   text -> parseYaml (syntax, duplicate keys) -> variables (`vars:` + --var, `${name}`)
 *        -> schema (unknown fields with did-you-mean, types, ranges, one-of rules)
 *        -> checks (files exist, inline rules valid, names referenced before use, attach limits)
 *        -> Scenario
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Finding, SourceLocation } from '../config/findings.js';
import { hasErrors } from '../config/findings.js';
import { schemaErrorsToFindings, type Locator } from '../config/schema-findings.js';
import { validateAgainst } from '../config/schema-validator.js';
import type { JsonSchema } from '../config/schemas/json-schema.js';
import { parseYaml, type YamlPath } from '../config/yaml-source.js';
import { makeFinding } from '../config/codes.js';
import { assertionTypes } from './assertions/index.js';
import { scenarioFinding } from './scenario-codes.js';
import { scenarioSchema, stepSchema } from './scenario-schema.js';
import type { Phase, Scenario, ScenarioSpec, Step, StepSpec, VarValue } from './scenario-types.js';
import { substituteVars } from './scenario-vars.js';
import { stepType, stepTypes } from './steps/index.js';
import type { CheckContext } from './steps/step-type.js';

export interface ScenarioLoadResult {
  file: string;
  scenario?: Scenario;
  findings: Finding[];
}

export interface ScenarioLoadOptions {
  /** `--var` values: override `vars:` */
  vars?: Record<string, VarValue>;
  /** folder relative paths are resolved against (default: the file's folder, or the cwd) */
  baseDir?: string;
}

let cache: { key: string; schema: JsonSchema } | undefined;

function registryKey(): string {
  return `${stepTypes().map((t) => t.type).join(',')}|${assertionTypes().map((t) => t.type).join(',')}`;
}

function schema(): JsonSchema {
  const key = registryKey();
  if (cache?.key !== key) cache = { key, schema: scenarioSchema() };
  return cache.schema;
}

let stepCache: { key: string; schema: JsonSchema } | undefined;

function stepSchemaCached(): JsonSchema {
  const key = registryKey();
  if (stepCache?.key !== key) stepCache = { key, schema: stepSchema() };
  return stepCache.schema;
}

type Locate = (path: YamlPath, opts?: { key?: boolean }) => SourceLocation | undefined;

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'scenario';
}

/** Validates a scenario value (from YAML or TypeScript). `locate` maps a path to its position. */
export function validateScenarioValue(input: unknown, file: string, locate: Locate, opts: ScenarioLoadOptions = {}): ScenarioLoadResult {
  const start = locate([]);
  if (!isObj(input)) {
    return { file, findings: [makeFinding('DOCUMENT_NOT_OBJECT', 'a scenario is a mapping with `title`, `method` and optionally `steadyState`, `rollbacks`, `vars`, `mesh`, `seed`', start ? { location: start } : {})] };
  }
  const findings: Finding[] = [];

  // variables: the file's, overridden by --var; a bad `vars:` is the schema's to report
  const declared = isObj(input['vars']) ? (input['vars'] as Record<string, unknown>) : {};
  const vars: Record<string, VarValue> = {};
  for (const [k, v] of Object.entries(declared)) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') vars[k] = v;
  Object.assign(vars, opts.vars ?? {});
  const sub = substituteVars(input, vars, (p) => locate(p), (p) => p.length >= 1 && p[0] === 'vars');
  findings.push(...sub.findings);
  const value = sub.value as Record<string, unknown>;

  const locator: Locator = { locate: (p, o) => locate(p, o) ?? start ?? { file, line: 1, col: 1 } };
  // a `${name}` that names no variable is reported once, not again as a value of the wrong type
  const unresolved = new Set(sub.findings.map((f) => (f.location ? `${f.location.line}:${f.location.col}` : '')));
  const schemaFindings = schemaErrorsToFindings(validateAgainst(schema(), value), value, locator);
  findings.push(...schemaFindings.filter((f) => !f.location || !unresolved.has(`${f.location.line}:${f.location.col}`)));
  const schemaValid = schemaFindings.length === 0;

  const spec = value as unknown as ScenarioSpec & { continueOnFailure?: boolean };
  const baseDir = opts.baseDir ?? (file ? path.dirname(path.resolve(file)) : process.cwd());
  const attached = isObj(spec.mesh) && spec.mesh.attach !== undefined;
  const mesh = { ...(isObj(spec.mesh) ? spec.mesh : {}) };
  for (const key of ['config', 'rules'] as const) {
    const p = mesh[key];
    if (typeof p !== 'string') continue;
    const abs = path.resolve(baseDir, p);
    if (!existsSync(abs)) findings.push(scenarioFinding('FILE_NOT_FOUND', `mesh.${key}: ${p} does not exist (looked in ${baseDir})`, locate(['mesh', key]), 'paths are relative to the scenario file'));
    mesh[key] = abs;
  }

  // steps in run order: the hypothesis (before), the method, rollbacks; a step's own checks run
  // when the step itself is valid, even if another part of the file is not
  const loads = new Set<string>();
  const named = new Map<string, YamlPath>();
  const built: Record<Phase, Step[]> = { 'steady-state-before': [], method: [], 'steady-state-after': [], rollbacks: [] };
  const walk = (list: unknown, phase: Phase, base: YamlPath): void => {
    if (!Array.isArray(list)) return;
    list.forEach((raw: unknown, index) => {
      if (!isObj(raw) || typeof raw['type'] !== 'string') return;
      const s = raw as StepSpec;
      const p = [...base, index];
      const loc = locate(p);
      const step: Step = { spec: s, phase, index };
      if (loc) step.location = loc;
      built[phase].push(step);
      const t = stepType(s.type);
      if (t && (schemaValid || validateAgainst(stepSchemaCached(), s).length === 0)) {
        const ctx: CheckContext = {
          file,
          baseDir,
          attached,
          loads,
          steps: new Set(named.keys()),
          at: (sub, o) => locate([...p, ...sub], o),
        };
        findings.push(...(t.check?.(s, ctx) ?? []));
      }
      if (typeof s.name === 'string') {
        const first = named.get(s.name);
        if (first) {
          const at = locate(first);
          findings.push(scenarioFinding('DUPLICATE_NAME', `step name "${s.name}" is used twice${at ? ` (first at line ${at.line})` : ''}`, locate([...p, 'name']), 'give every named step its own name'));
        } else {
          named.set(s.name, p);
        }
        if (s.type === 'load') loads.add(s.name);
      }
    });
  };
  walk(isObj(spec.steadyState) ? spec.steadyState.probes : undefined, 'steady-state-before', ['steadyState', 'probes']);
  walk(spec.method, 'method', ['method']);
  walk(spec.rollbacks, 'rollbacks', ['rollbacks']);
  if (hasErrors(findings)) return { file, findings: stripLocations(findings, file) };

  const scenario: Scenario = {
    file,
    baseDir,
    id: file ? path.basename(file).replace(/\.ya?ml$/i, '') : slug(spec.title),
    title: spec.title,
    tags: spec.tags ?? [],
    mesh,
    vars,
    method: built.method,
    rollbacks: built.rollbacks,
    continueOnFailure: spec.continueOnFailure === true,
  };
  if (spec.description !== undefined) scenario.description = spec.description;
  if (spec.seed !== undefined) scenario.seed = spec.seed;
  if (spec.steadyState) {
    scenario.steadyState = { probes: built['steady-state-before'] };
    if (spec.steadyState.title !== undefined) scenario.steadyState.title = spec.steadyState.title;
  }
  if (start) scenario.location = start;
  return { file, scenario, findings: stripLocations(findings, file) };
}

/** TypeScript scenarios have no positions: their findings name the path instead (already in the message). */
function stripLocations(findings: Finding[], file: string): Finding[] {
  if (file) return findings;
  return findings.map(({ location: _l, ...f }) => f);
}

/** Parses and validates scenario text (pure, apart from checking that named files exist). */
export function parseScenarioText(text: string, file: string, opts: ScenarioLoadOptions = {}): ScenarioLoadResult {
  const parsed = parseYaml(text, file);
  const lines = text.split('\n');
  // `{ min: ${rate} }`: in a flow mapping or list, `{` starts a mapping; the variable needs quotes
  const findings = parsed.findings.map((f) =>
    f.code === 'MB1001' && f.location && /\$\{/.test(lines[f.location.line - 1] ?? '') && /[{[]/.test(lines[f.location.line - 1] ?? '')
      ? { ...f, hint: "quote a `${variable}` written inside `{ }` or `[ ]`, e.g. `{ min: '${rate}' }` (in YAML `{` starts a mapping there)" }
      : f,
  );
  if (parsed.documents.length !== 1) {
    if (parsed.documents.length === 0 && findings.length === 0) findings.push(scenarioFinding('NOT_ONE_DOCUMENT', `${file} holds no scenario`, { file, line: 1, col: 1 }, 'write a mapping with `title:` and `method:`'));
    if (parsed.documents.length > 1) findings.push(scenarioFinding('NOT_ONE_DOCUMENT', `${file} holds ${parsed.documents.length} YAML documents; a scenario file holds one`, parsed.documents[1]!.start, 'put each scenario in its own file'));
    return { file, findings };
  }
  const doc = parsed.documents[0]!;
  if (doc.broken || hasErrors(findings)) return { file, findings };
  const result = validateScenarioValue(doc.value, file, (p, o) => (p.length === 0 ? doc.start : doc.locate(p, o)), opts);
  return { ...result, findings: [...findings, ...result.findings] };
}

export async function loadScenarioFile(file: string, opts: ScenarioLoadOptions = {}): Promise<ScenarioLoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      file,
      findings: [
        code === 'ENOENT'
          ? scenarioFinding('FILE_NOT_FOUND', `scenario file ${file} does not exist`, undefined, '`meshbox scenario ls` lists the shipped scenarios')
          : makeFinding('FILE_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`),
      ],
    };
  }
  return parseScenarioText(text, file, opts);
}
