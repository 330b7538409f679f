/**
 * Helpers for config tests: build resource documents from a spec, parse them, and look at
 * findings by code with their `line:col`.
 */
import { parseRulesText } from '../../../sandbox/config/rules-loader.js';
import type { FileLoadResult } from '../../../sandbox/config/rules-loader.js';
import type { Finding } from '../../../sandbox/config/findings.js';
import { FINDING_CODES } from '../../../sandbox/config/codes.js';
import type { FindingCodeName } from '../../../sandbox/config/codes.js';
import type { MeshDefinition } from '../../../sandbox/config/mesh-types.js';
import { DEFAULT_HEALTH, DEFAULT_INGRESS } from '../../../sandbox/config/mesh-types.js';

/** Indents every line of `text` by `n` spaces. */
export function indent(text: string, n: number): string {
  const pad = ' '.repeat(n);
  return text
    .split('\n')
    .map((l) => (l.trim() === '' ? l : pad + l))
    .join('\n');
}

/**
 * A whole document of `kind` whose spec is `spec` (YAML, unindented). The spec starts on line 6,
 * so a spec line `n` (1-based) is file line `n + 5`, and its columns shift by 2.
 */
export function doc(kind: string, spec: string, name = 'test', apiVersion = 'networking.istio.io/v1'): string {
  return `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n${indent(spec.replace(/^\n/, ''), 2)}\n`;
}

export const SPEC_LINE_OFFSET = 5;
export const SPEC_COL_OFFSET = 2;

export function parse(text: string, file = 'rules.yaml'): FileLoadResult {
  return parseRulesText(text, file);
}

export function code(name: FindingCodeName): string {
  return FINDING_CODES[name].code;
}

export function withCode(findings: readonly Finding[], name: FindingCodeName): Finding[] {
  return findings.filter((f) => f.code === code(name));
}

/** `line:col` of a finding. */
export function at(f: Finding | undefined): string {
  return f?.location ? `${f.location.line}:${f.location.col}` : '-';
}

export function errors(findings: readonly Finding[]): Finding[] {
  return findings.filter((f) => f.severity === 'error');
}

/** A mesh definition as meshbox.yaml would give it, for analyzer tests. */
export function meshOf(services: Record<string, string[]>, namespace = 'default'): MeshDefinition {
  return {
    file: '/tmp/meshbox.yaml',
    name: 'test',
    namespace,
    rulesDir: '/tmp/rules',
    ingress: { ...DEFAULT_INGRESS, labels: { ...DEFAULT_INGRESS.labels } },
    services: Object.entries(services).map(([name, versions]) => ({
      name,
      port: 8080,
      protocol: 'http' as const,
      workloads: versions.map((version) => ({
        service: name,
        version,
        workload: `${name}-${version}`,
        replicas: 1,
        command: ['node', 'main.js'],
        cwd: '/tmp',
        env: {},
        labels: { app: name, version },
        health: { path: '/', ...DEFAULT_HEALTH },
        startTimeoutMs: 30_000,
      })),
    })),
  };
}

/** `line:col` (1-based) of the `occurrence`-th `needle` in `text`. */
export function pos(text: string, needle: string, occurrence = 1): string {
  let index = -1;
  for (let i = 0; i < occurrence; i++) {
    index = text.indexOf(needle, index + 1);
    if (index < 0) throw new Error(`${needle} not found ${occurrence} times`);
  }
  const before = text.slice(0, index).split('\n');
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

export interface Expectation {
  /** exact `line:col`, or a needle whose first occurrence in the text is the place */
  at?: string;
  atText?: string;
  message?: string;
  hint?: string;
}

/** Parses `text`, asserts exactly one finding of `name` and its place, message and hint. */
export function expectOne(text: string, name: FindingCodeName, e: Expectation = {}): Finding {
  const r = parse(text);
  const found = withCode(r.findings, name);
  if (found.length !== 1) {
    throw new Error(`expected one ${name} (${code(name)}), got:\n${r.findings.map((f) => `${f.code} ${at(f)} ${f.message}`).join('\n') || '(no findings)'}`);
  }
  const f = found[0]!;
  if (e.at) expectEqual(at(f), e.at, 'location');
  if (e.atText) expectEqual(at(f), pos(text, e.atText), `location of ${e.atText}`);
  if (e.message && !f.message.includes(e.message)) throw new Error(`message ${JSON.stringify(f.message)} lacks ${JSON.stringify(e.message)}`);
  if (e.hint && !(f.hint ?? '').includes(e.hint)) throw new Error(`hint ${JSON.stringify(f.hint)} lacks ${JSON.stringify(e.hint)}`);
  return f;
}

function expectEqual(actual: string, expected: string, what: string): void {
  if (actual !== expected) throw new Error(`${what}: expected ${expected}, got ${actual}`);
}

/** Parses `text` and asserts it has no error (warnings allowed). */
export function expectValid(text: string): FileLoadResult {
  const r = parse(text);
  const errs = errors(r.findings);
  if (errs.length > 0) throw new Error(`expected no error, got:\n${errs.map((f) => `${f.code} ${at(f)} ${f.message}`).join('\n')}`);
  return r;
}
