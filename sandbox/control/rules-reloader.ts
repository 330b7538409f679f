/**
 * Hot reload of the rules folder: every save is validated and applied in one atomic snapshot, or
 * rejected without changing anything in the data plane.
 *
 *   chokidar (FileWatcher: debounce, settle check) ─> reload(): validatePaths(folder)  (the one validation path)
 *     per file:  no errors  -> its resources now; remembered as the file's last good version
 *                errors     -> its last good version keeps serving (nothing of the bad save is used);
 *                              `mesh:config:rejected` with file:line:col, code and hint; the errors
 *                              stay in the findings (status, /config_dump) until a good save
 *                removed    -> its resources are removed
 *     effective resources differ from the applied ones? -> controlPlane.setResources (one snapshot,
 *                              `mesh:config:applied` with its version and the changed resources)
 *
 * Reloads never overlap: changes arriving during one are coalesced into the next. A rules folder
 * that disappears keeps the applied rules (reported as an error until it is back); a folder that
 * appears later is picked up.
 */
import { lstatSync, statSync } from 'node:fs';
import path from 'node:path';
import { analyze } from '../config/analyze.js';
import { FINDING_CODES, makeFinding } from '../config/codes.js';
import type { Finding } from '../config/findings.js';
import { probeJwksUris } from '../security/jwt-jwks-probe.js';
import type { MeshDefinition } from '../config/mesh-types.js';
import { resourceKey, type LoadedResource } from '../config/resource.js';
import { dedupeResources } from '../config/resource-set.js';
import { isRuleFileName } from '../config/rule-sources.js';
import type { RulesLoadResult } from '../config/rules-loader.js';
import { validatePaths } from '../config/validate.js';
import { FileWatcher, type FileChange, displayPath } from '../config/watcher.js';
import type { EventBus } from '../events.js';
import type { ControlPlane } from './control-plane.js';
import { ReloadQueue } from './reload-queue.js';

export interface RulesReloaderOptions {
  bus: EventBus;
  controlPlane: Pick<ControlPlane, 'setResources' | 'appliedResources'>;
  /** the mesh the rules are analyzed against (it may change: meshbox.yaml reloads) */
  mesh(): MeshDefinition;
  /** every finding of the latest reload (errors that keep a file out, and warnings) */
  onFindings(findings: Finding[]): void;
  /** quiet time before a burst of saves is applied (default 20 ms) */
  debounceMs?: number;
}

export interface RulesReloadOutcome {
  /** the snapshot version pushed; undefined when the data plane did not change */
  version?: number;
  /** `added|changed|removed <kind>/<namespace>/<name>` */
  changed: string[];
  /** files whose current content has errors (their last good version, if any, keeps serving) */
  rejected: string[];
  /** what triggered the reload (file paths, `meshbox.yaml`, `startup`) */
  trigger: string[];
  /** epoch ms when the reload finished */
  at: number;
  durationMs: number;
}

interface Rejection {
  since: number;
  errors: Finding[];
}

const isAnalyzerFinding = (f: Finding): boolean => f.code.startsWith('MB20');
/** `FILE_EMPTY`: a rules file that holds no document */
const EMPTY_FILE_CODE = FINDING_CODES.FILE_EMPTY.code;
/** how long a file that was just emptied keeps its rules (a save in two writes) */
const EMPTY_GRACE_MS = 150;

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

const rel = displayPath;

/** the name is still in its folder, even when it cannot be followed (a symlink loop, a dangling link) */
function entryExists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

function fingerprint(resources: readonly LoadedResource[]): string {
  return resources
    .map((r) => `${resourceKey(r)}@${r.source.file}:${r.source.line}:${r.source.col}#${JSON.stringify(r.metadata)}#${JSON.stringify(r.spec)}`)
    .join('\n');
}

function describeChanges(before: readonly LoadedResource[], after: readonly LoadedResource[]): string[] {
  const b = new Map(before.map((r) => [resourceKey(r), JSON.stringify(r.spec)]));
  const a = new Map(after.map((r) => [resourceKey(r), JSON.stringify(r.spec)]));
  const out: string[] = [];
  for (const [k, v] of a) if (b.get(k) !== v) out.push(b.has(k) ? `changed ${k}` : `added ${k}`);
  for (const k of b.keys()) if (!a.has(k)) out.push(`removed ${k}`);
  return out;
}

function formatted(findings: readonly Finding[]): string {
  return findings.map((f) => `${f.code}@${f.location?.file}:${f.location?.line}:${f.location?.col}:${f.message}`).join('\n');
}

export class RulesReloader {
  /** completed reloads, for `meshbox apply` to see its write picked up */
  generation = 0;
  lastOutcome: RulesReloadOutcome | undefined;
  private dir: string | undefined;
  private everSeen = false;
  private folderMissing = false;
  private readonly lastGood = new Map<string, LoadedResource[]>();
  private readonly rejections = new Map<string, Rejection>();
  private readonly emptySince = new Map<string, number>();
  private recheckTimer: NodeJS.Timeout | undefined;
  private findings: Finding[] = [];
  private watcher: FileWatcher | undefined;
  private readonly queue = new ReloadQueue<RulesReloadOutcome>((t) => this.doReload(t));
  private closed = false;
  /** the watch failed (onError) and has not worked again since */
  private watchFailed = false;

  constructor(private readonly o: RulesReloaderOptions) {}

  get folder(): string | undefined {
    return this.dir;
  }

  /** the startup load (Sandbox.up): each applied file becomes that file's last good version */
  adopt(dir: string | undefined, result: RulesLoadResult | undefined): void {
    this.dir = dir ? path.resolve(dir) : undefined;
    this.everSeen = this.dir !== undefined && isDirectory(this.dir);
    if (!result) return;
    this.findings = result.findings;
    for (const f of result.files) {
      if (f.applied) this.lastGood.set(f.file, f.resources);
      else this.rejections.set(f.file, { since: Date.now(), errors: f.findings.filter((x) => x.severity === 'error') });
    }
  }

  /** watches the folder; then reloads once, for saves made while meshbox was starting */
  async start(): Promise<void> {
    if (!this.dir || this.closed) return;
    const dir = this.dir;
    this.watcher = new FileWatcher({
      roots: [dir],
      depth: 0,
      debounceMs: this.o.debounceMs ?? 20,
      accept: (file) => path.dirname(file) === dir && isRuleFileName(path.basename(file)),
      onChange: (changes) => {
        if (changes.some((c) => c.kind === 'root-restored') && this.watchFailed) {
          this.watchFailed = false;
          this.o.bus.emit({ type: 'mesh:notice', time: Date.now(), level: 'info', message: `watching the rules folder ${rel(dir)} again: applying its files` });
        }
        void this.onChanges(changes).catch(() => undefined);
      },
      onError: (e) => {
        this.watchFailed = true;
        this.o.bus.emit({
          type: 'mesh:notice',
          time: Date.now(),
          level: 'error',
          message: `stopped watching the rules folder ${rel(dir)}: ${e.message}; saves are not applied until it works again`,
          hint: /ENOSPC|EMFILE/.test(e.message)
            ? 'the system limit of watched files is reached: raise fs.inotify.max_user_watches (sysctl); meshbox tries again every few hundred ms'
            : 'meshbox tries again every few hundred ms; `meshbox apply` applies a file meanwhile',
        });
      },
    });
    await this.watcher.start();
    await this.reload(['startup']);
  }

  private onChanges(changes: FileChange[]): Promise<RulesReloadOutcome> {
    return this.reload(changes.map((c) => c.path)).catch((e: Error) => {
      this.o.bus.emit({ type: 'mesh:notice', time: Date.now(), level: 'error', message: `rules reload failed: ${e.message}`, hint: 'the data plane keeps its last good configuration; save again' });
      throw e;
    });
  }

  /** Switches to another rules folder (meshbox.yaml `rules:` changed): its files replace the old ones. */
  async setDir(dir: string | undefined): Promise<void> {
    const next = dir ? path.resolve(dir) : undefined;
    if (next === this.dir) return;
    await this.watcher?.close();
    this.watcher = undefined;
    this.dir = next;
    this.everSeen = next !== undefined && isDirectory(next);
    this.folderMissing = false;
    this.lastGood.clear();
    this.rejections.clear();
    this.o.bus.emit({ type: 'mesh:notice', time: Date.now(), level: 'info', message: next ? `rules folder is now ${rel(next)}` : 'no rules folder any more' });
    if (next) await this.start();
    else await this.reload(['meshbox.yaml']);
  }

  /** Re-reads the folder and applies it; concurrent calls are coalesced into one more reload. */
  reload(trigger: string[] = []): Promise<RulesReloadOutcome> {
    return this.queue.push(trigger);
  }

  /** resolves once no reload runs or waits */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private async doReload(trigger: string[]): Promise<RulesReloadOutcome> {
    const t0 = performance.now();
    const done = (o: Omit<RulesReloadOutcome, 'trigger' | 'at' | 'durationMs'>): RulesReloadOutcome => {
      const outcome: RulesReloadOutcome = { ...o, trigger, at: Date.now(), durationMs: performance.now() - t0 };
      this.lastOutcome = outcome;
      this.generation++;
      return outcome;
    };
    const dir = this.dir;
    if (this.closed) return done({ changed: [], rejected: [] });
    if (dir && !isDirectory(dir)) {
      if (this.everSeen) this.folderGone(dir);
      return done({ changed: [], rejected: [dir] });
    }
    if (dir && this.folderMissing) {
      this.folderMissing = false;
      this.o.bus.emit({ type: 'mesh:notice', time: Date.now(), level: 'info', message: `rules folder ${rel(dir)} is back: applying its files` });
    }
    if (dir) this.everSeen = true;

    const mesh = this.o.mesh();
    const result: RulesLoadResult = dir ? await validatePaths([dir], { mesh }) : { files: [], resources: [], findings: [] };
    const now = Date.now();
    const triggered = new Set(trigger.map((t) => path.resolve(t)));
    const present = new Set(result.files.map((f) => f.file));
    const fixed: string[] = [];
    const newlyRejected: string[] = [];
    const held = new Set<string>();

    for (const f of result.files) {
      // An editor caught between truncating a file and writing it: an empty file that had rules
      // keeps them until it stays empty a moment (then it is what the user meant).
      if (f.applied && f.resources.length === 0 && (this.lastGood.get(f.file)?.length ?? 0) > 0 && f.findings.some((x) => x.code === EMPTY_FILE_CODE)) {
        const since = this.emptySince.get(f.file) ?? now;
        this.emptySince.set(f.file, since);
        if (now - since < EMPTY_GRACE_MS) {
          held.add(f.file);
          this.recheck(f.file, EMPTY_GRACE_MS - (now - since));
          continue;
        }
      }
      this.emptySince.delete(f.file);
      if (f.applied) {
        if (this.rejections.delete(f.file)) fixed.push(f.file);
        this.lastGood.set(f.file, f.resources);
        continue;
      }
      const errors = f.findings.filter((x) => x.severity === 'error');
      const prev = this.rejections.get(f.file);
      if (!prev || triggered.has(f.file) || formatted(prev.errors) !== formatted(errors)) newlyRejected.push(f.file);
      this.rejections.set(f.file, { since: prev?.since ?? now, errors });
      if (this.lastGood.has(f.file)) held.add(f.file);
    }
    // Files that left the listing: removed (their rules go), or unreadable (the last good version stays).
    for (const file of new Set([...this.lastGood.keys(), ...this.rejections.keys()])) {
      if (present.has(file)) continue;
      if (entryExists(file)) {
        const errors = result.findings.filter((x) => x.severity === 'error' && !x.location && x.message.includes(file));
        const prev = this.rejections.get(file);
        if (!prev || triggered.has(file) || formatted(prev.errors) !== formatted(errors)) newlyRejected.push(file);
        this.rejections.set(file, { since: prev?.since ?? now, errors });
        if (this.lastGood.has(file)) held.add(file);
      } else {
        this.lastGood.delete(file);
        this.rejections.delete(file);
      }
    }

    const files = [...new Set([...present, ...held])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const byFile = new Map(result.files.map((f) => [f.file, f]));
    const loaded = files.flatMap((file) => {
      const f = byFile.get(file);
      return f?.applied && !held.has(file) ? f.resources : (this.lastGood.get(file) ?? []);
    });
    const resources = dedupeResources(loaded).kept;
    // With a file held at its last good version, the analyzer looks at what really serves.
    const findings = held.size > 0 ? [...result.findings.filter((f) => !isAnalyzerFinding(f)), ...analyze(loaded, mesh)] : result.findings;
    this.findings = findings;
    this.o.onFindings(findings);

    if (newlyRejected.length > 0) {
      const errors = newlyRejected.flatMap((f) => this.rejections.get(f)?.errors ?? []);
      this.o.bus.emit({ type: 'mesh:config:rejected', time: Date.now(), findings: errors });
      for (const file of newlyRejected) {
        const kept = this.lastGood.has(file);
        this.o.bus.emit({
          type: 'mesh:notice',
          time: Date.now(),
          level: 'error',
          message: `${rel(file)} not applied: ${kept ? 'its last good version keeps serving' : 'none of its rules are used'}`,
          hint: 'fix the errors above and save again (`meshbox validate` shows them too)',
        });
      }
    }
    const before = this.o.controlPlane.appliedResources;
    const same = fingerprint(before) === fingerprint(resources);
    for (const file of fixed) {
      this.o.bus.emit({ type: 'mesh:notice', time: Date.now(), level: 'info', message: `${rel(file)}: errors fixed${same ? ' (it is back to the rules already serving)' : ', applied'}` });
    }
    if (same) return done({ changed: [], rejected: [...this.rejections.keys()] });
    const changed = describeChanges(before, resources);
    const version = await this.o.controlPlane.setResources(
      resources,
      findings.filter((f) => f.severity === 'warning'),
    );
    void probeJwksUris(resources).then((unreachable) => {
      for (const f of unreachable) this.o.bus.emit({ type: 'mesh:notice', time: Date.now(), level: 'warn', message: `${rel(f.location!.file)}:${f.location!.line}:${f.location!.col}: ${f.message}`, hint: f.hint });
    });
    return done({ version, changed, rejected: [...this.rejections.keys()] });
  }

  /** reloads once more after `ms` (a file that was just emptied) */
  private recheck(file: string, ms: number): void {
    if (this.recheckTimer || this.closed) return;
    this.recheckTimer = setTimeout(() => {
      this.recheckTimer = undefined;
      void this.reload([file]).catch(() => undefined);
    }, ms + 5);
  }

  private folderGone(dir: string): void {
    if (this.folderMissing) return;
    this.folderMissing = true;
    const count = this.o.controlPlane.appliedResources.length;
    const f = makeFinding('PATH_NOT_FOUND', `rules folder ${dir} does not exist any more: the data plane keeps the ${count} rule${count === 1 ? '' : 's'} it has`, {
      hint: 'recreate the folder (or restore it, e.g. with git): its files are applied as soon as it is back',
    });
    this.findings = [f, ...this.findings.filter((x) => x.severity !== 'error')];
    this.o.onFindings(this.findings);
    this.o.bus.emit({ type: 'mesh:config:rejected', time: Date.now(), findings: [f] });
  }

  status(): Record<string, unknown> {
    return {
      folder: this.dir,
      watching: this.watcher !== undefined && !this.folderMissing && this.watcher.unwatchedRoots().length === 0,
      ...(this.watcher && this.watcher.unwatchedRoots().length > 0 ? { notWatched: this.watcher.unwatchedRoots()[0]!.reason } : {}),
      generation: this.generation,
      last: this.lastOutcome,
      rejected: [...this.rejections].map(([file, r]) => ({
        file,
        since: new Date(r.since).toISOString(),
        keepsLastGood: this.lastGood.has(file),
        errors: r.errors,
      })),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.recheckTimer) clearTimeout(this.recheckTimer);
    await this.watcher?.close();
    this.watcher = undefined;
  }
}
