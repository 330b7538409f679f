/**
 * `meshbox apply -f FILE [--rules DIR | --config meshbox.yaml] [--admin URL] [--dry-run] [--no-wait]`:
 * validates a rule file the way `meshbox validate` does (the same validatePaths, as the folder
 * would be with the file in it) and writes it into the rules folder, so the folder stays the
 * source of truth; the running sandbox's watcher then applies it. An invalid file is refused
 * (exit 1, findings printed) and nothing is written.
 *
 * As `kubectl apply` updates a resource whatever file it came from, a resource (kind, namespace,
 * name) already defined in another file of the folder is updated in that file, document by
 * document; only the rest goes into a file of the applied file's name. The verdicts (created,
 * configured, unchanged, removed) are computed on the folder as it will be, and "applied" is
 * said only when the sandbox's data plane serves every resource of the file as written.
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
import { DEFAULT_NAMESPACE, resourceKey, type LoadedResource } from '../../sandbox/config/resource.js';
import { assembleRules, rulesFromParsed, type RulesLoadResult } from '../../sandbox/config/rules-loader.js';
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

/** `VirtualService/default/shop` -> `VirtualService default/shop` */
function describeKey(key: string): string {
  const [kind, ...rest] = key.split('/');
  return `${kind} ${rest.join('/')}`;
}

interface ConfigDump {
  version: number;
  rules: Array<{ kind: string; name: string; namespace: string; source: string; spec: unknown }>;
}

async function configDump(admin: string): Promise<ConfigDump | undefined> {
  try {
    const r = await adminRequest(`${admin}/config_dump`, 'GET', undefined, 3000);
    const body = r.body as Partial<ConfigDump> | undefined;
    return r.status === 200 && body && Array.isArray(body.rules) ? { version: body.version ?? 0, rules: body.rules } : undefined;
  } catch {
    return undefined;
  }
}

/** atomic: a temp file the watcher ignores (leading dot), then a rename over the old one */
function writeAtomically(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.meshbox-apply-${process.pid}`);
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (e) {
    if (existsSync(tmp)) unlinkSync(tmp);
    throw new MeshError('MESH_ERR_USAGE', [`cannot write ${file}: ${(e as Error).message}`], { hint: 'check the permissions of the rules folder' });
  }
}

interface PlannedWrite {
  file: string;
  text: string;
}

interface ApplyPlan {
  writes: PlannedWrite[];
  /** resources updated in another file of the folder: key -> that file */
  homes: Map<string, string>;
}

/** The documents of a rules file with the key of the resource each one defines. */
function documentsOf(text: string, file: string): Array<{ key?: string; start: number; end: number }> {
  return parseYaml(text, file).documents.map((d) => {
    const v = d.value as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | undefined;
    const name = v?.metadata?.name;
    const key =
      typeof v?.kind === 'string' && typeof name === 'string'
        ? resourceKey({ kind: v.kind, metadata: { name, namespace: typeof v.metadata?.namespace === 'string' ? v.metadata.namespace : DEFAULT_NAMESPACE } })
        : undefined;
    return { key, start: d.range?.start ?? 0, end: d.range?.end ?? text.length };
  });
}

/**
 * Which files to write: each resource defined in another file of the folder is replaced there,
 * document by document (the file's other documents and comments stay); the rest of the applied
 * file goes to `dest` (the whole text when nothing moved).
 */
function planApply(o: { dir: string; dest: string; name: string; text: string; file: string; mine: readonly LoadedResource[]; before: { resources: readonly LoadedResource[] } }): ApplyPlan {
  const homeOf = new Map(o.before.resources.map((r) => [resourceKey(r), r.source.file]));
  const homes = new Map<string, string>();
  for (const r of o.mine) {
    const home = homeOf.get(resourceKey(r));
    if (home && !sameFile(home, o.dest)) homes.set(resourceKey(r), home);
  }
  if (homes.size === 0) return { writes: [{ file: o.dest, text: o.text }], homes };
  const docs = documentsOf(o.text, o.file);
  const slice = (d: { start: number; end: number }): string => o.text.slice(d.start, d.end);
  const writes: PlannedWrite[] = [];
  const byHome = new Map<string, string[]>();
  for (const [key, home] of homes) byHome.set(home, [...(byHome.get(home) ?? []), key]);
  for (const [home, keys] of byHome) {
    let text = readFileSync(home, 'utf8');
    const theirs = documentsOf(text, home).filter((d) => d.key !== undefined && keys.includes(d.key)).sort((a, b) => b.start - a.start);
    for (const d of theirs) {
      const mineDoc = docs.find((m) => m.key === d.key);
      if (!mineDoc) continue;
      const replacement = slice(mineDoc).replace(/\n*$/, '\n');
      text = text.slice(0, d.start) + replacement + text.slice(d.end);
    }
    writes.push({ file: home, text });
  }
  const rest = docs.filter((d) => d.key === undefined || !homes.has(d.key));
  if (rest.length > 0) writes.push({ file: o.dest, text: rest.map((d) => slice(d).replace(/\n*$/, '\n')).join('---\n') });
  return { writes, homes };
}

/** The folder's rules as they will be after `writes` (the same loader and analyzer, on the texts). */
function folderAfter(dir: string, writes: readonly PlannedWrite[], mesh: MeshDefinition | undefined): RulesLoadResult {
  const texts = new Map<string, string>();
  for (const f of ruleFilesOf(dir)) texts.set(path.resolve(f), readFileSync(f, 'utf8'));
  for (const w of writes) texts.set(path.resolve(w.file), w.text);
  const names = [...texts.keys()].sort((a, b) => (path.basename(a) < path.basename(b) ? -1 : path.basename(a) > path.basename(b) ? 1 : 0));
  const files = [];
  for (const f of names) {
    const parsed = parseYaml(texts.get(f)!, f);
    if (parsed.documents.length === 1 && looksLikeMeshDocument(parsed.documents[0]!.value)) continue;
    files.push(rulesFromParsed(parsed, f));
  }
  return assembleRules(files, [], mesh ? { mesh } : {});
}

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
  // errors of this file; an error of another file about the same resource is shown, and dealt with below
  const errors = relevant.filter((f) => f.severity === 'error' && (!f.location || sameFile(f.location.file, file)));
  if (errors.length > 0 || !mine) {
    io.err(`${c('red', 'not applied')}: ${file} has ${errors.length} error${errors.length === 1 ? '' : 's'}; nothing was written to ${target.dir}`);
    return 1;
  }

  // Where each resource goes, as `kubectl apply` sees it: a resource already defined in another
  // file of the folder is updated there (a second definition would lose or win by file order);
  // the others go into `name`. The verdicts come from the folder as it will be.
  const before = await validatePaths(ruleFilesOf(target.dir), target.mesh ? { mesh: target.mesh } : {});
  const plan = planApply({ dir: target.dir, dest, name, text, file, mine: mine.resources, before });
  // defined in a file that does not apply now (it has errors): a copy here would fight it once fixed
  for (const other of ruleFilesOf(target.dir)) {
    if (sameFile(other, dest) || before.files.find((f) => sameFile(f.file, other))?.applied !== false) continue;
    const clash = documentsOf(readFileSync(other, 'utf8'), other).find((d) => d.key !== undefined && myKeys.has(d.key) && !plan.homes.has(d.key));
    if (clash) {
      io.err(`${c('red', 'not applied')}: ${describeKey(clash.key!)} is also defined in ${other}, which has errors; nothing was written to ${target.dir}`);
      io.err(`  hint: fix ${other} (\`meshbox validate ${other}\`), then apply again; or put the change in that file`);
      return 1;
    }
  }
  const after = folderAfter(target.dir, plan.writes, target.mesh);
  const inEffect = new Map(after.resources.map((r) => [resourceKey(r), r]));
  const previous = new Map<string, LoadedResource>(before.resources.map((r) => [resourceKey(r), r]));
  const verdicts: string[] = [];
  /** keys this apply says the data plane gets (created or configured) */
  const claimed: string[] = [];
  for (const r of mine.resources) {
    const key = resourceKey(r);
    const now = inEffect.get(key);
    if (!now || JSON.stringify(now.spec) !== JSON.stringify(r.spec)) {
      const other = now ? ` (${now.source.file}:${now.source.line} is in effect instead)` : '';
      io.err(`${c('red', 'not applied')}: ${r.kind} ${r.metadata.namespace}/${r.metadata.name} would not take effect${other}; nothing was written to ${target.dir}`);
      return 1;
    }
    const p = previous.get(key);
    const verdict = !p ? 'created' : JSON.stringify(p.spec) === JSON.stringify(r.spec) ? 'unchanged' : 'configured';
    if (verdict !== 'unchanged') claimed.push(key);
    const home = plan.homes.get(key);
    verdicts.push(`${r.kind} ${r.metadata.namespace}/${r.metadata.name} ${verdict}${home ? ` in ${home}, where it is defined` : ''}`);
  }
  for (const r of before.resources) {
    if (!inEffect.has(resourceKey(r))) verdicts.push(`${r.kind} ${r.metadata.namespace}/${r.metadata.name} removed (no longer in ${name})`);
  }

  const writes = plan.writes.filter((w) => !existsSync(w.file) || readFileSync(w.file, 'utf8') !== w.text);
  if (opts.dryRun) {
    for (const v of verdicts) io.out(`${v} (dry run)`);
    for (const w of writes) io.out(`would write ${w.file}`);
    if (writes.length === 0) io.out(`would write nothing: ${target.dir} already holds it`);
    return 0;
  }

  const unchanged = writes.length === 0;
  const generation = target.status?.reload?.rules?.generation ?? 0;
  const written = Date.now();
  if (!existsSync(target.dir) && writes.length > 0) {
    mkdirSync(target.dir, { recursive: true });
    io.out(`created the rules folder ${target.dir}`);
  }
  for (const w of writes) writeAtomically(w.file, w.text);
  for (const v of verdicts) io.out(v);
  if (unchanged) io.out(`${plan.writes[0]?.file ?? dest} is already up to date`);
  for (const w of writes) io.out(`wrote ${w.file}`);

  if (!target.admin || opts.wait === false || unchanged) return 0;
  // The running sandbox picks the files up (in one reload or several). "applied" is said only
  // when its data plane serves every resource of the file as written (its /config_dump), after a
  // reload since the write; a written file it rejected is reported as such.
  const wanted = new Map(mine.resources.map((r) => [resourceKey(r), JSON.stringify(r.spec)]));
  const deadline = Date.now() + (opts.waitMs ?? 5000);
  while (Date.now() < deadline) {
    await sleep(50);
    const s = await sandboxStatus(target.admin);
    const rules = s?.reload?.rules;
    const last = rules?.last;
    if (!rules || !last || (rules.generation ?? 0) <= generation || (last.at ?? 0) < written) continue;
    const rejected = (rules.rejected ?? []).find((r) => writes.some((w) => sameFile(r.file, w.file)));
    if (rejected) {
      for (const f of rejected.errors) for (const line of formatFinding(f).split('\n')) io.out(c('red', line));
      io.err(`${c('red', 'rejected')} by the sandbox ${s?.sandbox ?? ''}: its previous rules keep serving`);
      return 1;
    }
    const dump = await configDump(target.admin);
    if (!dump) continue;
    const serving = new Map(dump.rules.map((r) => [`${r.kind}/${r.namespace}/${r.name}`, JSON.stringify(r.spec)]));
    if ([...wanted].some(([key, spec]) => serving.get(key) !== spec)) continue;
    io.out(claimed.length > 0 ? `${c('green', 'applied')} by sandbox ${s?.sandbox ?? ''} in snapshot v${dump.version}` : `sandbox ${s?.sandbox ?? ''} has it (nothing changed in its data plane)`);
    return 0;
  }
  const dump = await configDump(target.admin);
  if (dump) {
    const serving = new Map(dump.rules.map((r) => [`${r.kind}/${r.namespace}/${r.name}`, r]));
    const stale = [...wanted].filter(([key, spec]) => serving.has(key) && JSON.stringify(serving.get(key)!.spec) !== spec).map(([key]) => `${key} (serving ${serving.get(key)!.source})`);
    if (stale.length > 0) {
      io.err(`${c('red', 'not in effect')}: the sandbox ${target.status?.sandbox ?? target.admin} still serves another definition of ${stale.join(', ')}`);
      return 1;
    }
  }
  io.out(`the sandbox at ${target.admin} has not picked it up within ${((opts.waitMs ?? 5000) / 1000).toFixed(0)}s (is it still starting?); it applies the file when it does`);
  return 0;
}
