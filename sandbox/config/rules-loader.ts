/**
 * Rules loading: files of Istio YAML -> validated resources and findings.
 *
 * A file with any `error` finding is not applied: none of its resources are used (a bad save
 * never half-applies). Only VirtualService, DestinationRule and Gateway are applied; other Istio
 * kinds are recognised with a warning, Kubernetes kinds noted as info, unknown kinds warned
 * about. `resources` is in load order with duplicates resolved (see ./resource-set.ts).
 */
import type { Finding } from './findings.js';
import { hasErrors } from './findings.js';
import { makeFinding } from './codes.js';
import type { LoadedResource } from './resource.js';
import type { MeshDefinition } from './mesh-types.js';
import { parseYaml } from './yaml-source.js';
import type { YamlParseResult } from './yaml-source.js';
import { loadDocument } from './document-loader.js';
import { expandRulePaths, readRuleSources } from './rule-sources.js';
import { looksLikeMeshDocument } from './mesh-file.js';
import { dedupeResources } from './resource-set.js';
import { analyze } from './analyze.js';

export interface FileLoadResult {
  file: string;
  /** false when the file has an error: its resources are not used */
  applied: boolean;
  resources: LoadedResource[];
  findings: Finding[];
}

export interface RulesLoadResult {
  files: FileLoadResult[];
  /** resources of applied files only, in load order, duplicates resolved */
  resources: LoadedResource[];
  /** every finding: paths, files, documents and the analyzer */
  findings: Finding[];
  /** the mesh definition found among the paths (validatePaths), or the one analysis used */
  mesh?: MeshDefinition;
}

export interface LoadRulesOptions {
  /** the mesh for host, subset and workload checks; without it those checks are skipped */
  mesh?: MeshDefinition;
  /** run the analyzer (default true) */
  analyze?: boolean;
}

/** Parses one rules file's text (pure, no disk access). */
export function parseRulesText(text: string, file: string): FileLoadResult {
  return rulesFromParsed(parseYaml(text, file), file);
}

export function rulesFromParsed(parsed: YamlParseResult, file: string): FileLoadResult {
  const findings: Finding[] = [...parsed.findings];
  const resources: LoadedResource[] = [];
  for (const doc of parsed.documents) {
    const r = loadDocument(doc);
    findings.push(...r.findings);
    if (r.resource) resources.push(r.resource);
  }
  if (parsed.documents.length === 0 && parsed.findings.length === 0) {
    findings.push(makeFinding('FILE_EMPTY', `${file} holds no document`, { hint: 'add a resource, or remove the file', location: { file, line: 1, col: 1 } }));
  }
  const applied = !hasErrors(findings);
  return { file, applied, resources: applied ? resources : [], findings };
}

/** Combines file results: applied resources (deduplicated), all findings, analyzer findings. */
export function assembleRules(files: FileLoadResult[], pathFindings: Finding[], opts: LoadRulesOptions): RulesLoadResult {
  const loaded = files.flatMap((f) => f.resources);
  const findings = [...pathFindings, ...files.flatMap((f) => f.findings)];
  if (opts.analyze !== false) findings.push(...analyze(loaded, opts.mesh));
  const result: RulesLoadResult = { files, resources: dedupeResources(loaded).kept, findings };
  if (opts.mesh) result.mesh = opts.mesh;
  return result;
}

/**
 * Loads rules from folders (their `*.yaml`/`*.yml` files, sorted by name) and files. A file
 * holding a meshbox.yaml mesh definition is skipped (validatePaths reads those).
 */
export async function loadRules(paths: string[], opts: LoadRulesOptions = {}): Promise<RulesLoadResult> {
  const expanded = await expandRulePaths(paths);
  const read = await readRuleSources(expanded.files);
  const files: FileLoadResult[] = [];
  for (const { file, text } of read.sources) {
    const parsed = parseYaml(text, file);
    if (parsed.documents.length === 1 && parsed.findings.length === 0 && looksLikeMeshDocument(parsed.documents[0]!.value)) continue;
    files.push(rulesFromParsed(parsed, file));
  }
  return assembleRules(files, [...expanded.findings, ...read.findings], opts);
}
