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
 *
 * Roots are absolute folders; a root that is a file is watched through its folder.
 */
import { statSync, type Stats } from 'node:fs';
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

  constructor(private readonly o: FileWatcherOptions) {
    this.roots = [...new Set(o.roots.map((r) => path.resolve(r)))].map((given) => ({ given, dir: isDir(given) === false ? path.dirname(given) : given, missing: false }));
  }

  /** starts watching; resolves once every existing root is watched (missing ones are polled for) */
  async start(): Promise<void> {
    await Promise.all(this.roots.map((r) => this.watchRoot(r, false)));
  }

  /** the roots that do not exist right now */
  missingRoots(): string[] {
    return this.roots.filter((r) => r.missing).map((r) => r.given);
  }

  private async watchRoot(root: Root, restored: boolean): Promise<void> {
    if (this.closed) return;
    if (isDir(root.dir) !== true) {
      this.rootMissing(root, !restored);
      return;
    }
    root.missing = false;
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
    w.on('error', (e: unknown) => {
      if (!this.closed) this.o.onError?.(e instanceof Error ? e : new Error(String(e)), root.given);
    });
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
    if (restored && !this.closed) this.o.onChange([{ path: root.given, kind: 'root-restored' }]);
  }

  private rootMissing(root: Root, quiet: boolean): void {
    if (this.closed) return;
    const w = root.watcher;
    root.watcher = undefined;
    if (w) void w.close();
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
    if (this.debounce) clearTimeout(this.debounce);
    if (this.settleTimer) clearTimeout(this.settleTimer);
    await Promise.all(
      this.roots.map(async (r) => {
        if (r.poll) clearInterval(r.poll);
        r.poll = undefined;
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
