/**
 * FileWatcher: chokidar, made dependable for hot reload.
 *
 *   fs events ─> accept(file)? ─> debounce (20 ms after the last event, 250 ms at most) ─> onChange(batch)
 *                                                  └─> settle check 60 ms later: re-stat the batch's
 *                                                      files and report again any that changed since
 *
 * - Editors that save through a temp file and a rename, or write a file in several steps, give one
 *   batch; temp files never reach `accept` if the caller's predicate refuses them.
 * - chokidar drops a second `change` of one file within 50 ms (its own throttle): the settle check
 *   catches such a write, so the last save is never lost.
 * - A root (folder) that does not exist, or is removed while watched, is polled for until it is
 *   back: `root-missing` and `root-restored` arrive as changes of the root, without debounce.
 * - The watch never goes blind: a root that is gone or was replaced by another folder of the same
 *   name (deleted and recreated faster than chokidar notices: its watch then hangs on the dead
 *   folder) is watched again from scratch (`root-restored`). Its parent folder is watched for
 *   entries of the root's name coming and going (a recreated folder often gets the same inode
 *   number), and every `pollMs` each root is stat'ed (device and inode) in case the parent cannot
 *   be watched. A root chokidar reports an error for (not readable, the system's watch
 *   limit reached) is reported once through onError, counted as not watched (`unwatchedRoots`),
 *   and tried again every `pollMs` until it works (`root-restored`).
 * - An entry below a root that cannot be stat'ed (a symlink loop, a broken permission) is not a
 *   watch failure: it arrives as a `change` of that path, so the caller reads it and says why.
 *
 * Roots are absolute folders; a root that is a file is watched through its folder.
 */
import { statSync, watch as fsWatch, type FSWatcher as FsWatcher, type Stats } from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';

export type FileChangeKind = 'add' | 'change' | 'unlink' | 'settle' | 'root-missing' | 'root-restored';

export interface FileChange {
  path: string;
  kind: FileChangeKind;
}

export interface FileWatcherOptions {
  /** absolute folders (or files) to watch */
  roots: string[];
  /** true for an absolute file path whose changes matter */
  accept(file: string): boolean;
  /** folders never entered (e.g. node_modules) */
  skipDir?(dir: string): boolean;
  /** how deep below a root (0: its direct children only); default: unlimited */
  depth?: number;
  /** quiet time after the last event before a batch is reported (default 20 ms) */
  debounceMs?: number;
  /** a batch is reported at the latest this long after its first event (default 250 ms) */
  maxWaitMs?: number;
  /** how often a missing root is looked for (default 300 ms) */
  pollMs?: number;
  onChange(changes: FileChange[]): void;
  /** the watch of `root` failed (it is retried every pollMs; `root-restored` once it works again) */
  onError?(error: Error, root: string): void;
}

interface Root {
  /** the folder chokidar watches */
  dir: string;
  /** the path the caller gave */
  given: string;
  watcher?: FSWatcher;
  poll?: NodeJS.Timeout;
  missing: boolean;
  /** `dev:ino` of the folder being watched, to notice it was replaced */
  identity?: string;
  /** why the root is not watched right now (chokidar reported an error for it) */
  error?: string;
  /** a watch of the root is being set up */
  starting?: boolean;
  /** watches the root's parent for the root's own name (removed, recreated) */
  parentWatch?: FsWatcher;
  /** a look at the root is scheduled (the parent saw its name change) */
  recheck?: NodeJS.Timeout;
}

const SETTLE_MS = 60;

function signature(file: string): string {
  try {
    const s: Stats = statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

function identity(dir: string): string | undefined {
  try {
    const s = statSync(dir);
    // (not the birth time: where the system has none, Node reports the ctime, which every save moves)
    return s.isDirectory() ? `${s.dev}:${s.ino}` : undefined;
  } catch {
    return undefined;
  }
}

function errorPath(e: unknown): string | undefined {
  const p = typeof e === 'object' && e !== null && 'path' in e ? (e as { path: unknown }).path : undefined;
  return typeof p === 'string' ? path.resolve(p) : undefined;
}

function isDir(p: string): boolean | undefined {
  try {
    return statSync(p).isDirectory();
  } catch {
    return undefined;
  }
}

export class FileWatcher {
  private readonly roots: Root[];
  private readonly queue = new Map<string, FileChangeKind>();
  private debounce: NodeJS.Timeout | undefined;
  private firstQueuedAt = 0;
  private settleTimer: NodeJS.Timeout | undefined;
  private settling = new Map<string, string>();
  private closed = false;
  private guard: NodeJS.Timeout | undefined;

  constructor(private readonly o: FileWatcherOptions) {
    this.roots = [...new Set(o.roots.map((r) => path.resolve(r)))].map((given) => ({ given, dir: isDir(given) === false ? path.dirname(given) : given, missing: false }));
  }

  /** starts watching; resolves once every existing root is watched (missing ones are polled for) */
  async start(): Promise<void> {
    await Promise.all(this.roots.map((r) => this.watchRoot(r, false)));
    for (const r of this.roots) this.watchParent(r);
    if (this.closed || this.guard) return;
    this.guard = setInterval(() => this.checkRoots(), this.o.pollMs ?? 300);
    this.guard.unref();
  }

  /** the roots that do not exist right now */
  missingRoots(): string[] {
    return this.roots.filter((r) => r.missing).map((r) => r.given);
  }

  /** the roots whose changes are not seen right now (missing, or their watch failed), with why */
  unwatchedRoots(): Array<{ root: string; reason: string }> {
    return this.roots.filter((r) => r.missing || r.error !== undefined).map((r) => ({ root: r.given, reason: r.missing ? 'does not exist' : r.error! }));
  }

  /** every root watched is still the folder its watch was set up on; a failed watch is tried again */
  private checkRoots(): void {
    if (this.closed) return;
    for (const root of this.roots) this.checkRoot(root, false);
  }

  /** `renamed`: the parent saw the root's name removed or created, so the folder may be another one */
  private checkRoot(root: Root, renamed: boolean): void {
    if (root.missing || root.starting) return;
    if (root.error !== undefined) {
      void this.rewatch(root);
      return;
    }
    const now = identity(root.dir);
    if (now === undefined) this.rootMissing(root, false);
    // deleted and recreated: the old watch sees nothing of the new folder
    else if (renamed || now !== root.identity) void this.rewatch(root);
  }

  private watchParent(root: Root): void {
    if (this.closed || root.parentWatch) return;
    const parent = path.dirname(root.dir);
    const name = path.basename(root.dir);
    if (parent === root.dir) return;
    try {
      root.parentWatch = fsWatch(parent, { persistent: false }, (event, changed) => {
        if (this.closed || event !== 'rename' || (changed !== null && String(changed) !== name)) return;
        if (root.recheck) clearTimeout(root.recheck);
        root.recheck = setTimeout(() => {
          root.recheck = undefined;
          this.checkRoot(root, true);
        }, this.o.debounceMs ?? 20);
        root.recheck.unref();
      });
      // the parent itself going away is not our business: the identity check covers it
      root.parentWatch.on('error', () => {
        root.parentWatch?.close();
        root.parentWatch = undefined;
      });
    } catch {
      // a parent that cannot be watched: the stat every pollMs still finds a replaced root
    }
  }

  private async rewatch(root: Root): Promise<void> {
    root.starting = true;
    const w = root.watcher;
    root.watcher = undefined;
    if (w) await w.close().catch(() => undefined);
    root.starting = false;
    await this.watchRoot(root, true);
  }

  private async watchRoot(root: Root, restored: boolean): Promise<void> {
    if (this.closed) return;
    const id = identity(root.dir);
    if (id === undefined) {
      this.rootMissing(root, !restored);
      return;
    }
    root.missing = false;
    root.identity = id;
    root.starting = true;
    const previousError = root.error;
    root.error = undefined;
    const w = watch(root.dir, {
      ignoreInitial: true,
      persistent: false,
      // a root that is a file is watched through its folder, without descending into it
      depth: root.dir !== root.given ? 0 : this.o.depth,
      ignored: (p: string, stats?: Stats) => {
        if (p === root.dir) return false;
        if (stats?.isDirectory()) return this.o.skipDir?.(p) ?? false;
        if (stats) return !this.o.accept(p);
        return this.o.skipDir?.(p) ?? false;
      },
    });
    root.watcher = w;
    w.on('all', (event, p) => {
      if (this.closed || root.watcher !== w) return;
      const file = path.resolve(p);
      if (event === 'unlinkDir' && file === root.dir) {
        this.rootMissing(root, false);
        return;
      }
      if ((event === 'add' || event === 'change' || event === 'unlink') && this.o.accept(file)) this.enqueue(file, event);
    });
    let failed: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => {
      w.once('ready', () => resolve());
      failed = resolve;
    });
    w.on('error', (e: unknown) => {
      if (this.closed || root.watcher !== w) return;
      const at = errorPath(e);
      if (at !== undefined && at !== root.dir && at.startsWith(root.dir + path.sep)) {
        // one entry cannot be stat'ed (a symlink loop...): the caller reads it and says why
        if (this.o.accept(at)) this.enqueue(at, 'change');
        return;
      }
      const error = e instanceof Error ? e : new Error(String(e));
      // the root itself: this watch is no good; tried again every pollMs, reported once per reason
      root.watcher = undefined;
      void w.close().catch(() => undefined);
      const again = previousError === error.message;
      root.error = error.message;
      if (!again) this.o.onError?.(error, root.given);
      failed();
    });
    await ready;
    root.starting = false;
    if (this.closed || root.watcher !== w) return;
    if (restored) this.o.onChange([{ path: root.given, kind: 'root-restored' }]);
  }

  private rootMissing(root: Root, quiet: boolean): void {
    if (this.closed) return;
    const w = root.watcher;
    root.watcher = undefined;
    root.identity = undefined;
    root.error = undefined;
    if (w) void w.close().catch(() => undefined);
    const wasMissing = root.missing;
    root.missing = true;
    if (!wasMissing && !quiet) this.o.onChange([{ path: root.given, kind: 'root-missing' }]);
    if (root.poll) return;
    root.poll = setInterval(() => {
      if (isDir(root.dir) !== true) return;
      clearInterval(root.poll);
      root.poll = undefined;
      void this.watchRoot(root, true);
    }, this.o.pollMs ?? 300);
    root.poll.unref();
  }

  private enqueue(file: string, kind: FileChangeKind): void {
    if (this.queue.size === 0) this.firstQueuedAt = Date.now();
    this.queue.set(file, kind);
    if (this.debounce) clearTimeout(this.debounce);
    const waited = Date.now() - this.firstQueuedAt;
    const delay = Math.max(0, Math.min(this.o.debounceMs ?? 20, (this.o.maxWaitMs ?? 250) - waited));
    this.debounce = setTimeout(() => this.flush(), delay);
  }

  private flush(): void {
    this.debounce = undefined;
    if (this.closed || this.queue.size === 0) return;
    const changes = [...this.queue].map(([p, kind]) => ({ path: p, kind }));
    this.queue.clear();
    for (const c of changes) this.settling.set(c.path, signature(c.path));
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => this.settle(), SETTLE_MS);
    this.o.onChange(changes);
  }

  private settle(): void {
    this.settleTimer = undefined;
    const checks = this.settling;
    this.settling = new Map();
    for (const [file, sig] of checks) if (signature(file) !== sig) this.enqueue(file, 'settle');
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.guard) clearInterval(this.guard);
    if (this.debounce) clearTimeout(this.debounce);
    if (this.settleTimer) clearTimeout(this.settleTimer);
    await Promise.all(
      this.roots.map(async (r) => {
        if (r.poll) clearInterval(r.poll);
        r.poll = undefined;
        if (r.recheck) clearTimeout(r.recheck);
        r.parentWatch?.close();
        r.parentWatch = undefined;
        const w = r.watcher;
        r.watcher = undefined;
        if (w) await w.close();
      }),
    );
  }
}

/** A path for messages: relative to the working folder when inside it, else absolute. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** Names editors and tools write next to real files: `.x.swp`, `x~`, `#x#`, `.#x`, `4913`, `x.tmp`. */
export function isEditorTempName(name: string): boolean {
  return name.startsWith('.') || name.startsWith('#') || name.endsWith('~') || name === '4913' || /\.(swp|swx|swo|tmp|bak|orig)$/i.test(name) || /___jb_(tmp|old)___$/.test(name);
}
