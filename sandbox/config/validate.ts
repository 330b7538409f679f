/**
 * The one validation entry point, shared by `meshbox validate`, hot reload and `meshbox apply`:
 * loader + analyzer in one call.
 *
 * `paths` are rules folders, rule files and optionally a meshbox.yaml, recognised by its name
 * (`meshbox.yaml`/`meshbox.yml`) or its content (one mapping with `services:` and no
 * `apiVersion`). A valid meshbox.yaml becomes the mesh the analyzer checks hosts and workloads
 * against (unless `opts.mesh` is given); when only meshbox.yaml files are given, the rules folder
 * each one names is validated too, if it exists.
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import type { Finding } from './findings.js';
import { hasErrors } from './findings.js';
import type { MeshDefinition } from './mesh-types.js';
import { parseYaml } from './yaml-source.js';
import type { YamlParseResult } from './yaml-source.js';
import { looksLikeMeshDocument, parseMeshDocument, parseMeshText } from './mesh-file.js';
import { expandRulePaths, readRuleSources } from './rule-sources.js';
import type { RuleSource } from './rule-sources.js';
import { assembleRules, rulesFromParsed } from './rules-loader.js';
import type { FileLoadResult, RulesLoadResult } from './rules-loader.js';

export interface ValidateOptions {
  /** the mesh to analyze against; default: a meshbox.yaml among `paths` */
  mesh?: MeshDefinition;
  /**
   * read the subfolders of the folders in `paths` (`meshbox validate DIR`, like `kubectl apply
   * -R`); the rules folder a meshbox.yaml names is always read as the sandbox reads it, flat
   */
  recursive?: boolean;
}

function isMeshSource(source: RuleSource, parsed: YamlParseResult): boolean {
  if (/^meshbox\.ya?ml$/i.test(basename(source.file))) return true;
  return parsed.documents.length === 1 && looksLikeMeshDocument(parsed.documents[0]!.value);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export async function validatePaths(paths: string[], opts: ValidateOptions = {}): Promise<RulesLoadResult> {
  const expanded = await expandRulePaths(paths, { recursive: opts.recursive === true });
  const read = await readRuleSources(expanded.files);
  const pathFindings: Finding[] = [...expanded.findings, ...read.findings];
  const files: FileLoadResult[] = [];
  let found: MeshDefinition | undefined;
  /** the rules folder of `found`, written relative to the meshbox.yaml path as the user gave it */
  let foundRules: string | undefined;
  let rulesFiles = 0;

  const addRules = (source: RuleSource, parsed: YamlParseResult): void => {
    rulesFiles++;
    files.push(rulesFromParsed(parsed, source.file));
  };

  for (const source of read.sources) {
    const parsed = parseYaml(source.text, source.file);
    if (!isMeshSource(source, parsed)) {
      addRules(source, parsed);
      continue;
    }
    const mesh = parsed.documents.length === 1 && parsed.findings.length === 0 ? parseMeshDocument(parsed.documents[0]!, source.file) : parseMeshText(source.text, source.file);
    files.push({ file: source.file, applied: !hasErrors(mesh.findings), resources: [], findings: mesh.findings });
    if (mesh.mesh && !found) {
      found = mesh.mesh;
      if (found.rulesDir) foundRules = join(dirname(source.file), relative(dirname(found.file), found.rulesDir));
    }
  }

  const folderGiven = (await Promise.all(paths.map(isDirectory))).some(Boolean);
  if (rulesFiles === 0 && !folderGiven && foundRules && (await isDirectory(foundRules))) {
    const more = await expandRulePaths([foundRules]);
    const moreRead = await readRuleSources(more.files);
    pathFindings.push(...more.findings, ...moreRead.findings);
    for (const source of moreRead.sources) {
      const parsed = parseYaml(source.text, source.file);
      if (isMeshSource(source, parsed)) continue;
      addRules(source, parsed);
    }
  }

  const mesh = opts.mesh ?? found;
  const result = assembleRules(files, pathFindings, mesh ? { mesh } : {});
  if (mesh) result.mesh = mesh;
  return result;
}
