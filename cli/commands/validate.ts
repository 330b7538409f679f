/**
 * `meshbox validate [paths...] [--config meshbox.yaml] [--json]`: checks rules folders, rule
 * files and a meshbox.yaml like the Kubernetes API server and `istioctl analyze` would, prints
 * every finding as `file:line:col: severity code: message` with a hint, then a summary line.
 * Folders are read with their subfolders (hidden ones and node_modules skipped), as
 * `kubectl apply -R -f DIR` and `istioctl analyze` read a tree. Exit code 1 when there is an
 * error, or when no *.yaml/*.yml file was found at all; else 0.
 *
 * Without paths: `./meshbox.yaml` and its rules folder when present, otherwise the bundled
 * sample (`sample-services/meshbox.yaml` of the meshbox package).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { validatePaths } from '../../sandbox/config/validate.js';
import { findProjectMeshFile } from '../../sandbox/config/mesh-file.js';
import { formatFinding } from '../../sandbox/config/findings.js';
import { FINDING_CODES, makeFinding } from '../../sandbox/config/codes.js';
import type { Finding } from '../../sandbox/config/findings.js';
import type { RulesLoadResult } from '../../sandbox/config/rules-loader.js';
import { MeshError } from '../../sandbox/errors.js';
import { sampleMeshFile } from '../../sandbox/paths.js';
import { autoRuntime, runtimeFindings, type RuntimeName } from '../../sandbox/runtime/runtime-support.js';

export interface ValidateCommandOptions {
  /** meshbox.yaml to validate and analyze the rules against */
  config?: string;
  /** print the result as JSON */
  json?: boolean;
  /** check that this runtime can run every service (default: the one `meshbox up` would pick) */
  runtime?: 'auto' | 'process' | 'docker';
}

export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Findings without a location first, then by file, line and column. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => {
    if (!a.location || !b.location) return a.location ? 1 : b.location ? -1 : 0;
    if (a.location.file !== b.location.file) return a.location.file < b.location.file ? -1 : 1;
    return a.location.line - b.location.line || a.location.col - b.location.col;
  });
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function summarize(result: RulesLoadResult): { files: number; resources: number; errors: number; warnings: number; infos: number; line: string } {
  const count = (s: Finding['severity']): number => result.findings.filter((f) => f.severity === s).length;
  const s = { files: result.files.length, resources: result.resources.length, errors: count('error'), warnings: count('warning'), infos: count('info') };
  const line = `${plural(s.files, 'file')}, ${plural(s.resources, 'resource')}: ${plural(s.errors, 'error')}, ${plural(s.warnings, 'warning')}${s.infos ? `, ${s.infos} info` : ''}`;
  return { ...s, line };
}

async function targets(paths: string[], opts: ValidateCommandOptions, io: CommandIo): Promise<string[]> {
  if (opts.config) {
    if (!existsSync(opts.config)) throw new MeshError('MESH_ERR_CONFIG_NOT_FOUND', [opts.config]);
    return [opts.config, ...paths];
  }
  if (paths.length > 0) return paths;
  const local = findProjectMeshFile('.');
  if (local) return [local];
  const sample = sampleMeshFile();
  io.err(`no meshbox.yaml in ${resolve('.')}: validating the bundled sample ${sample}`);
  return [sample];
}

export async function runValidate(paths: string[], opts: ValidateCommandOptions, io: CommandIo): Promise<number> {
  const given = await targets(paths, opts, io);
  // folders are read with their subfolders, as `kubectl apply -R -f DIR` and `istioctl analyze` do
  const result = await validatePaths(given, { recursive: true });
  if (result.files.length === 0) {
    // one error says it all: drop the per-folder "no *.yaml" notes it sums up
    result.findings = result.findings.filter((f) => f.code !== FINDING_CODES.FOLDER_EMPTY.code);
    result.findings.push(
      makeFinding('NOTHING_TO_VALIDATE', `no *.yaml or *.yml file found in ${given.join(', ')} (subfolders included): nothing was validated`, {
        hint: 'give the folder or the files that hold your Istio YAML and meshbox.yaml',
      }),
    );
  }
  if (result.mesh) {
    const auto = !opts.runtime || opts.runtime === 'auto' ? await autoRuntime() : undefined;
    for (const f of runtimeFindings(result.mesh, auto?.runtime ?? (opts.runtime as RuntimeName))) {
      result.findings.push(auto ? { ...f, message: `${f.message} (--runtime auto picks ${auto.runtime}: ${auto.why})` } : f);
    }
  }
  const findings = sortFindings(result.findings);
  const summary = summarize(result);
  const notApplied = result.files.filter((f) => !f.applied).map((f) => f.file);
  if (opts.json) {
    const { line: _line, ...counts } = summary;
    io.out(
      JSON.stringify(
        {
          ok: summary.errors === 0,
          summary: counts,
          files: result.files.map((f) => ({ file: f.file, applied: f.applied, resources: f.resources.length })),
          findings,
        },
        null,
        2,
      ),
    );
  } else {
    for (const f of findings) for (const line of formatFinding(f).split('\n')) io.out(line);
    io.out(summary.line);
    if (notApplied.length > 0) io.out(`not applied until their errors are fixed: ${notApplied.join(', ')}`);
  }
  return summary.errors > 0 ? 1 : 0;
}
