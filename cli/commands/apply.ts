/**
 * `meshbox apply -f FILE [--rules DIR | --config meshbox.yaml] [--admin URL] [--dry-run] [--no-wait]`:
 * validates a rule file the way `meshbox validate` does (the same validatePaths, as the folder
 * would be with the file in it) and writes it into the rules folder, so the folder stays the
 * source of truth; the running sandbox's watcher then applies it. An invalid file is refused
 * (exit 1, findings printed) and nothing is written.
 *
 * The rules folder: --rules, else the one --config names, else the running sandbox's (its admin
 * API `/status`). With a running sandbox watching that folder, apply waits (up to 5 s) until the
 * sandbox has applied the file and says in which snapshot version.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatFinding, type Finding } from '../../sandbox/config/findings.js';
import { loadMeshFile } from '../../sandbox/config/mesh-file.js';
import type { MeshDefinition } from '../../sandbox/config/mesh-types.js';
import { resourceKey, type LoadedResource } from '../../sandbox/config/resource.js';
import { isRuleFileName } from '../../sandbox/config/rule-sources.js';
import { looksLikeMeshDocument } from '../../sandbox/config/mesh-file.js';
import { parseYaml } from '../../sandbox/config/yaml-source.js';
import { validatePaths } from '../../sandbox/config/validate.js';
import { MeshError } from '../../sandbox/errors.js';
import { adminRequest, resolveAdmin } from '../admin-client.js';
import { paint, useColor, type Io } from '../output.js';
import { sortFindings } from './validate.js';

export interface ApplyOptions {
  file: string;
  rules?: string;
  config?: string;
  admin?: string;
  dryRun?: boolean;
  /** wait for the running sandbox to apply the file (default true) */
  wait?: boolean;
  /** how long to wait for it (default 5000 ms) */
  waitMs?: number;
}

interface SandboxStatus {
  sandbox?: string;
  config?: string;
  rules?: string;
  reload?: {
    rules?: {
      folder?: string;
      generation?: number;
      last?: { version?: number; changed?: string[]; rejected?: string[]; trigger?: string[]; at?: number };
      rejected?: Array<{ file: string; errors: Finding[] }>;
    };
  };
}

interface Target {
  dir: string;
  mesh?: MeshDefinition;
  /** admin URL of a running sandbox that watches `dir` */
  admin?: string;
  status?: SandboxStatus;
}

async function sandboxStatus(admin: string): Promise<SandboxStatus | undefined> {
  try {
    const r = await adminRequest(`${admin}/status`, 'GET', undefined, 3000);
    return r.status === 200 && typeof r.body === 'object' ? (r.body as SandboxStatus) : undefined;
  } catch {
    return undefined;
  }
}

async function meshOf(config: string): Promise<MeshDefinition> {
  if (!existsSync(config)) throw new MeshError('MESH_ERR_CONFIG_NOT_FOUND', [config]);
  const loaded = await loadMeshFile(config);
  if (!loaded.mesh) throw new MeshError('MESH_ERR_CONFIG_INVALID', [config], { findings: loaded.findings });
  return loaded.mesh;
}

async function resolveTarget(opts: ApplyOptions): Promise<Target> {
  const admin = resolveAdmin(opts.admin);
  if (opts.rules || opts.config) {
    const mesh = opts.config ? await meshOf(opts.config) : undefined;
    const dir = path.resolve(opts.rules ?? mesh?.rulesDir ?? '');
    // a running sandbox watching this very folder: its mesh for the analysis, and a confirmation
    const status = await sandboxStatus(admin);
    const watching = status?.rules && path.resolve(status.rules) === dir;
    return {
      dir,
      mesh: mesh ?? (watching && status.config ? await meshOf(status.config).catch(() => undefined) : undefined),
      admin: watching ? admin : undefined,
      status: watching ? status : undefined,
    };
  }
  const status = await sandboxStatus(admin);
  if (!status) {
    throw new MeshError('MESH_ERR_ADMIN_UNREACHABLE', [admin, 'no answer'], {
      hint: 'start one with `meshbox up`, pass --admin with its admin address, or say where the rules go with --rules DIR or --config meshbox.yaml',
    });
  }
  if (!status.rules) {
    throw new MeshError('MESH_ERR_USAGE', [`the sandbox at ${admin} has no rules folder`], { hint: 'pass --rules DIR' });
  }
  return { dir: path.resolve(status.rules), mesh: status.config ? await meshOf(status.config).catch(() => undefined) : undefined, admin, status };
}

function ruleFilesOf(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter(isRuleFileName)
    .map((n) => path.join(dir, n))
    .filter((f) => {
      try {
        return statSync(f).isFile();
      } catch {
        return false;
      }
    });
}

function sameFile(a: string, b: string): boolean {
  return path.resolve(a) === path.resolve(b);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runApply(opts: ApplyOptions, io: Io): Promise<number> {
  const c = paint(useColor());
  const file = opts.file;
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new MeshError('MESH_ERR_USAGE', [`${file} does not exist or is not a file`], { hint: 'give the Istio YAML file to apply with -f FILE' });
  }
  const name = path.basename(file);
  if (!isRuleFileName(name)) {
    throw new MeshError('MESH_ERR_USAGE', [`${name} is not a rule file name: the rules folder only reads *.yaml and *.yml files that do not start with a dot`], {
      hint: `rename it, e.g. ${name.replace(/^[.#]+/, '').replace(/\.[^.]*$/, '')}.yaml`,
    });
  }
  const text = readFileSync(file, 'utf8');
  const parsed = parseYaml(text, file);
  if (parsed.documents.length === 1 && looksLikeMeshDocument(parsed.documents[0]!.value)) {
    throw new MeshError('MESH_ERR_USAGE', [`${file} is a mesh definition (meshbox.yaml), not a rule file`], {
      hint: 'a running sandbox watches its meshbox.yaml itself: edit and save it',
    });
  }

  const target = await resolveTarget(opts);
  const dest = path.join(target.dir, name);
  // Validate the folder as it will be: the other rule files, and this file in place of `name`.
  const others = ruleFilesOf(target.dir).filter((f) => path.basename(f) !== name);
  const files = [...others, path.resolve(file)].sort((a, b) => {
    const na = sameFile(a, file) ? name : path.basename(a);
    const nb = sameFile(b, file) ? name : path.basename(b);
    return na < nb ? -1 : na > nb ? 1 : 0;
  });
  const result = await validatePaths(files, target.mesh ? { mesh: target.mesh } : {});
  const mine = result.files.find((f) => sameFile(f.file, file));
  const myKeys = new Set(parsed.documents.length ? (mine?.resources ?? []).map((r) => resourceKey(r)) : []);
  const relevant = sortFindings(
    result.findings.filter(
      (f) =>
        (f.location && sameFile(f.location.file, file)) ||
        (!f.location && f.message.includes(file)) ||
        (f.resource && myKeys.has(`${f.resource.kind}/${f.resource.namespace}/${f.resource.name}`)),
    ),
  );
  for (const f of relevant) for (const line of formatFinding(f).split('\n')) io.out(f.severity === 'error' ? c('red', line) : f.severity === 'warning' ? c('yellow', line) : line);
  const errors = relevant.filter((f) => f.severity === 'error');
  if (errors.length > 0 || !mine) {
    io.err(`${c('red', 'not applied')}: ${file} has ${errors.length} error${errors.length === 1 ? '' : 's'}; nothing was written to ${target.dir}`);
    return 1;
  }

  // What changes, kubectl-style: created / configured / unchanged per resource, against the
  // folder as it is now; resources only the old version of this file had are removed.
  const before = await validatePaths(ruleFilesOf(target.dir), target.mesh ? { mesh: target.mesh } : {});
  const previous = new Map<string, LoadedResource>(before.resources.map((r) => [resourceKey(r), r]));
  const verdicts = mine.resources.map((r) => {
    const p = previous.get(resourceKey(r));
    const verdict = !p ? 'created' : JSON.stringify(p.spec) === JSON.stringify(r.spec) ? 'unchanged' : 'configured';
    return `${r.kind} ${r.metadata.namespace}/${r.metadata.name} ${verdict}`;
  });
  const destBefore = before.files.find((f) => sameFile(f.file, dest))?.resources ?? [];
  for (const r of destBefore) {
    if (!mine.resources.some((m) => resourceKey(m) === resourceKey(r))) verdicts.push(`${r.kind} ${r.metadata.namespace}/${r.metadata.name} removed (no longer in ${name})`);
  }

  if (opts.dryRun) {
    for (const v of verdicts) io.out(`${v} (dry run)`);
    io.out(`would write ${dest}`);
    return 0;
  }

  const unchanged = existsSync(dest) && readFileSync(dest, 'utf8') === text;
  const generation = target.status?.reload?.rules?.generation ?? 0;
  const written = Date.now();
  if (!unchanged) {
    if (!existsSync(target.dir)) {
      mkdirSync(target.dir, { recursive: true });
      io.out(`created the rules folder ${target.dir}`);
    }
    // atomic: a temp file the watcher ignores (leading dot), then a rename over the old one
    const tmp = path.join(target.dir, `.${name}.meshbox-apply-${process.pid}`);
    try {
      writeFileSync(tmp, text);
      renameSync(tmp, dest);
    } catch (e) {
      if (existsSync(tmp)) unlinkSync(tmp);
      throw new MeshError('MESH_ERR_USAGE', [`cannot write ${dest}: ${(e as Error).message}`], { hint: 'check the permissions of the rules folder' });
    }
  }
  for (const v of verdicts) io.out(v);
  io.out(unchanged ? `${dest} is already up to date` : `wrote ${dest}`);

  if (!target.admin || opts.wait === false || unchanged) return 0;
  // The running sandbox picks the file up: wait for the reload that covered it.
  const deadline = Date.now() + (opts.waitMs ?? 5000);
  while (Date.now() < deadline) {
    await sleep(50);
    const s = await sandboxStatus(target.admin);
    const rules = s?.reload?.rules;
    const last = rules?.last;
    if (!rules || !last || (rules.generation ?? 0) <= generation || (last.at ?? 0) < written) continue;
    if (!(last.trigger ?? []).some((t) => sameFile(t, dest))) continue;
    const rejected = (rules.rejected ?? []).find((r) => sameFile(r.file, dest));
    if (rejected) {
      for (const f of rejected.errors) for (const line of formatFinding(f).split('\n')) io.out(c('red', line));
      io.err(`${c('red', 'rejected')} by the sandbox ${s?.sandbox ?? ''}: its previous rules keep serving`);
      return 1;
    }
    io.out(last.version !== undefined ? `${c('green', 'applied')} by sandbox ${s?.sandbox ?? ''} in snapshot v${last.version}` : `sandbox ${s?.sandbox ?? ''} has it (nothing changed in its data plane)`);
    return 0;
  }
  io.out(`the sandbox at ${target.admin} has not picked it up within ${((opts.waitMs ?? 5000) / 1000).toFixed(0)}s (is it still starting?); it applies the file when it does`);
  return 0;
}
