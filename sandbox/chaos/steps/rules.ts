/**
 * `rules`: change the Istio rules of the sandbox for the rest of the run: `apply` resources written
 * inline (VirtualService, DestinationRule, Gateway, Fault) and/or the resources of a `file`
 * (relative to the scenario), replacing applied ones of the same kind, namespace and name; and
 * `remove` applied ones (from the rules folder too). Validated like a rules file before anything
 * starts, with positions in the scenario. The rules as they were are restored after the
 * rollbacks. Not available when attached to a running sandbox (its rules folder is the source of
 * truth there).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Finding, SourceLocation } from '../../config/findings.js';
import { hasErrors } from '../../config/findings.js';
import { loadDocument } from '../../config/document-loader.js';
import { DEFAULT_NAMESPACE, resourceKey, type LoadedResource } from '../../config/resource.js';
import { parseRulesText } from '../../config/rules-loader.js';
import { fmt, list, obj, str } from '../../config/schemas/json-schema.js';
import type { YamlDocument, YamlPath } from '../../config/yaml-source.js';
import { scenarioFinding } from '../scenario-codes.js';
import type { StepSpec } from '../scenario-types.js';
import type { StepType } from './step-type.js';

export interface ResourceRef {
  kind: string;
  name: string;
  namespace?: string;
}

export interface RulesConfig extends StepSpec {
  apply?: Array<Record<string, unknown>>;
  file?: string;
  remove?: ResourceRef[];
}

/** Validates inline resources as documents of a rules file, located inside the scenario. */
export function inlineResources(items: readonly unknown[], file: string, at: (path: YamlPath, opts?: { key?: boolean }) => SourceLocation | undefined): { resources: LoadedResource[]; findings: Finding[] } {
  const resources: LoadedResource[] = [];
  const findings: Finding[] = [];
  items.forEach((value, index) => {
    const start = at(['apply', index]) ?? { file, line: 1, col: 1 };
    const doc: YamlDocument = {
      file,
      index,
      value,
      broken: false,
      start,
      locate: (p, opts) => at(['apply', index, ...p], opts) ?? start,
      has: () => true,
    };
    const r = loadDocument(doc);
    findings.push(...r.findings);
    if (r.resource) resources.push(r.resource);
  });
  return { resources, findings };
}

function readFile(config: RulesConfig, baseDir: string): { resources: LoadedResource[]; findings: Finding[]; file: string } | undefined {
  if (config.file === undefined) return undefined;
  const file = path.resolve(baseDir, config.file);
  if (!existsSync(file)) return undefined;
  const shown = path.relative(process.cwd(), file) || file;
  const r = parseRulesText(readFileSync(file, 'utf8'), shown);
  return { resources: r.resources, findings: r.findings, file: shown };
}

function sameRef(r: LoadedResource, ref: ResourceRef): boolean {
  return r.kind === ref.kind && r.metadata.name === ref.name && r.metadata.namespace === (ref.namespace ?? DEFAULT_NAMESPACE);
}

function refText(ref: ResourceRef): string {
  return `${ref.kind} ${ref.namespace ?? DEFAULT_NAMESPACE}/${ref.name}`;
}

export const rules: StepType<RulesConfig> = {
  type: 'rules',
  summary: 'Apply Istio rules (inline or from a file) and/or remove applied ones, for the rest of the run; restored after the rollbacks.',
  properties: {
    apply: list(
      { type: 'object', title: 'Resource', description: 'An Istio resource as in a rules file: apiVersion, kind (VirtualService, DestinationRule, Gateway or meshbox Fault), metadata, spec.', required: ['apiVersion', 'kind', 'metadata'] },
      'Resources to apply; one with the kind, namespace and name of an applied resource replaces it.',
      { minItems: 1 },
    ),
    file: str('A rules file to apply (relative to the scenario file).', { minLength: 1 }),
    remove: list(
      obj('ResourceRef', 'An applied resource.', { kind: str('Kind, e.g. `VirtualService`.'), name: str('metadata.name.'), namespace: fmt('dns1123-label', 'metadata.namespace (default `default`).') }, { required: ['kind', 'name'] }),
      'Applied resources to remove (also those of the rules folder).',
      { minItems: 1 },
    ),
  },
  rules: [{ anyOf: [{ required: ['apply'] }, { required: ['file'] }, { required: ['remove'] }] }],
  title: (c) =>
    `rules ${[c.apply ? `apply ${c.apply.map((r) => `${String(r['kind'])} ${String((r['metadata'] as { name?: string } | undefined)?.name ?? '?')}`).join(', ')}` : '', c.file ? `apply ${c.file}` : '', c.remove ? `remove ${c.remove.map(refText).join(', ')}` : ''].filter(Boolean).join('; ')}`,
  check(config, ctx) {
    const out: Finding[] = [];
    if (ctx.attached) {
      out.push(scenarioFinding('NOT_WHEN_ATTACHED', 'a `rules` step needs a sandbox the scenario starts: an attached sandbox takes its rules from its rules folder', ctx.at(['type']), 'remove `mesh.attach` (the scenario then starts its own sandbox), or apply the rules with `meshbox apply` before the run'));
    }
    if (config.apply) out.push(...inlineResources(config.apply, ctx.file, ctx.at).findings);
    if (config.file !== undefined) {
      const read = readFile(config, ctx.baseDir);
      if (!read) out.push(scenarioFinding('FILE_NOT_FOUND', `rules file ${config.file} does not exist (looked in ${ctx.baseDir})`, ctx.at(['file']), 'paths are relative to the scenario file'));
      else out.push(...read.findings.filter((f) => f.severity === 'error'));
    }
    return out;
  },
  async run(config, ctx) {
    const control = ctx.target.rules;
    if (!control) throw new Error('this sandbox was attached to: its rules cannot be changed by a scenario');
    const where = (): SourceLocation | undefined => ctx.step.location;
    const adding: LoadedResource[] = [];
    if (config.apply) {
      const r = inlineResources(config.apply, ctx.scenario.file, () => where());
      if (hasErrors(r.findings)) throw new Error(`invalid rules: ${r.findings.map((f) => f.message).join('; ')}`);
      adding.push(...r.resources);
    }
    if (config.file !== undefined) {
      const r = readFile(config, ctx.baseDir);
      if (!r) throw new Error(`rules file ${config.file} does not exist`);
      if (hasErrors(r.findings)) throw new Error(`invalid rules in ${r.file}: ${r.findings.filter((f) => f.severity === 'error').map((f) => f.message).join('; ')}`);
      adding.push(...r.resources);
    }
    const before = control.applied();
    let next = [...before];
    const changes: string[] = [];
    for (const ref of config.remove ?? []) {
      if (!next.some((r) => sameRef(r, ref))) throw new Error(`cannot remove ${refText(ref)}: it is not applied (applied: ${next.map((r) => `${r.kind} ${r.metadata.namespace}/${r.metadata.name}`).join(', ')})`);
      next = next.filter((r) => !sameRef(r, ref));
      changes.push(`removed ${refText(ref)}`);
    }
    for (const res of adding) {
      const key = resourceKey(res);
      const i = next.findIndex((r) => resourceKey(r) === key);
      if (i >= 0) next[i] = res;
      else next.push(res);
      changes.push(`${i >= 0 ? 'replaced' : 'added'} ${res.kind} ${res.metadata.namespace}/${res.metadata.name}`);
    }
    const { version, warnings } = await control.set(next);
    ctx.restoreLater(`restore the rules as they were before ${ctx.step.spec.name ? `step "${ctx.step.spec.name}"` : `${ctx.step.phase} step ${ctx.step.index + 1}`}`, async () => {
      await control.set(before);
    });
    for (const w of warnings) ctx.note(`warning ${w.code}${w.istioCode ? `/${w.istioCode}` : ''}: ${w.message}`);
    return { summary: `${changes.join(', ')} (snapshot v${version})`, data: { changes, version, warnings: warnings.map((w) => w.message) } };
  },
};
