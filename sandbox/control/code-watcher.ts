/**
 * Hot reload of the services' own code (`watch:` of a service in meshbox.yaml).
 *
 *   a watched file changes ─> (action rebuild) run `build` once in the service's cwd
 *        build fails  -> nothing restarts, the running instances keep serving; the output's last
 *                        lines are reported
 *        build passes -> every workload of the service restarts (Rollout): rolling, one instance
 *                        at a time, for 2+ replicas; in place, with requests waiting, for 1
 *   more changes while building or restarting -> one more round afterwards (coalesced)
 *
 * A build that changes files it watches would rebuild forever: after three rounds in a row
 * triggered only by files that changed during the previous build, watching stops, with a hint.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { globBase, globMatcher } from '../config/glob.js';
import type { MeshDefinition, WatchSpec } from '../config/mesh-types.js';
import { FileWatcher, isEditorTempName, type FileChange, displayPath } from '../config/watcher.js';
import type { EventBus } from '../events.js';
import type { Rollout, RolloutResult } from './rollout.js';

export interface CodeWatcherOptions {
  bus: EventBus;
  rollout: Rollout;
  mesh(): MeshDefinition;
  /** quiet time before a burst of saves starts a round (default 100 ms: "save all" in an editor) */
  debounceMs?: number;
}

export interface BuildResult {
  ok: boolean;
  code: number | null;
  signal: string | null;
  /** the last lines of the build's stdout and stderr */
  output: string[];
  durationMs: number;
  error?: string;
}

export interface CodeRound {
  at: number;
  files: string[];
  ok: boolean;
  buildMs?: number;
  restartMs?: number;
  error?: string;
  results?: Array<{ workload: string; result: RolloutResult }>;
}

const BUILD_TIMEOUT_MS = 5 * 60_000;
const OUTPUT_LINES = 30;
/** changes seen this soon after a build ended still count as written by the build */
const BUILD_ECHO_MS = 300;
const MAX_BUILD_LOOPS = 3;
const ALWAYS_SKIPPED = new Set(['node_modules', '.git']);

const rel = displayPath;

function canonicalWatch(w: WatchSpec): string {
  return JSON.stringify([w.paths, w.ignore, w.action, w.build ?? null, w.cwd]);
}

/** PATH as `npm run` gives it: the node_modules/.bin of `cwd` and of every folder above it first */
export function buildPath(cwd: string, inherited = process.env.PATH ?? ''): string {
  const bins: string[] = [];
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const bin = path.join(dir, 'node_modules', '.bin');
    if (existsSync(bin)) bins.push(bin);
    if (path.dirname(dir) === dir) break;
  }
  return [...bins, inherited].filter(Boolean).join(path.delimiter);
}

/** runs a build command (argv) in `cwd`, in its own process group, with node_modules/.bin on PATH */
export function runBuild(argv: readonly string[], cwd: string, track?: (child: ChildProcess | undefined) => void): Promise<BuildResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const output: string[] = [];
    let partial = { stdout: '', stderr: '' };
    const collect = (stream: 'stdout' | 'stderr', chunk: Buffer): void => {
      const text = partial[stream] + chunk.toString('utf8');
      const lines = text.split('\n');
      partial = { ...partial, [stream]: lines.pop() ?? '' };
      output.push(...lines.filter((l) => l.trim() !== ''));
      if (output.length > OUTPUT_LINES) output.splice(0, output.length - OUTPUT_LINES);
    };
    let child: ChildProcess;
    try {
      child = spawn(argv[0]!, argv.slice(1), { cwd, env: { ...process.env, PATH: buildPath(cwd) }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      resolve({ ok: false, code: null, signal: null, output, durationMs: 0, error: (e as Error).message });
      return;
    }
    track?.(child);
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, BUILD_TIMEOUT_MS);
    child.stdout!.on('data', (c: Buffer) => collect('stdout', c));
    child.stderr!.on('data', (c: Buffer) => collect('stderr', c));
    let spawnError: string | undefined;
    child.once('error', (e) => (spawnError = `${argv[0]}: ${e.message}`));
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      track?.(undefined);
      for (const rest of [partial.stdout, partial.stderr]) if (rest.trim()) output.push(rest);
      const durationMs = Date.now() - t0;
      if (spawnError) resolve({ ok: false, code, signal, output, durationMs, error: spawnError });
      else resolve({ ok: code === 0, code, signal, output, durationMs, error: code === 0 ? undefined : signal ? `killed by ${signal}` : `exit code ${code}` });
    });
  });
}

interface ServiceWatch {
  service: string;
  spec: WatchSpec;
  key: string;
  watcher: FileWatcher;
  /** changed file -> true when it changed while a build ran (possibly written by it) */
  pending: Map<string, boolean>;
  running: Promise<void> | undefined;
  state: 'idle' | 'building' | 'restarting' | 'stopped';
  lastBuildEnd: number;
  loops: number;
  rounds: number;
  last?: CodeRound;
  build?: ChildProcess;
  closed: boolean;
}

export class CodeWatcher {
  private readonly watches = new Map<string, ServiceWatch>();
  private closed = false;

  constructor(private readonly o: CodeWatcherOptions) {}

  private notice(level: 'info' | 'warn' | 'error', message: string, hint?: string): void {
    this.o.bus.emit({ type: 'mesh:notice', time: Date.now(), level, message, hint });
  }

  /** watches the services of `mesh` that have `watch:`, and only those (call again after a meshbox.yaml reload) */
  async update(mesh: MeshDefinition): Promise<void> {
    if (this.closed) return;
    const wanted = new Map(mesh.services.filter((s) => s.watch).map((s) => [s.name, s.watch!]));
    for (const [name, w] of [...this.watches]) {
      const next = wanted.get(name);
      if (next && canonicalWatch(next) === w.key) continue;
      await this.stop(w);
      this.watches.delete(name);
    }
    for (const [name, spec] of wanted) {
      if (this.watches.has(name)) continue;
      await this.watch(name, spec);
    }
  }

  private async watch(service: string, spec: WatchSpec): Promise<void> {
    const matches = globMatcher(spec.paths);
    const ignored = globMatcher(spec.ignore, { orAncestor: true });
    const bases = [...new Set(spec.paths.map(globBase))];
    const roots = bases.filter((b) => !bases.some((o) => o !== b && b.startsWith(`${o}${path.sep}`)));
    for (const p of spec.paths) {
      const base = globBase(p);
      if (!existsSync(base)) {
        this.notice('warn', `${service}: watch path ${rel(p)} matches nothing: ${rel(base)} does not exist`, 'check `watch.paths` in meshbox.yaml (relative to it); meshbox watches it as soon as it exists');
      }
    }
    const w: ServiceWatch = {
      service,
      spec,
      key: canonicalWatch(spec),
      pending: new Map(),
      running: undefined,
      state: 'idle',
      lastBuildEnd: 0,
      loops: 0,
      rounds: 0,
      closed: false,
      watcher: new FileWatcher({
        roots,
        debounceMs: this.o.debounceMs ?? 100,
        accept: (f) => matches(f) && !ignored(f) && !isEditorTempName(path.basename(f)) && !f.split(path.sep).some((s) => ALWAYS_SKIPPED.has(s)),
        skipDir: (d) => ALWAYS_SKIPPED.has(path.basename(d)) || ignored(d),
        onChange: (changes) => this.changed(w, changes),
        onError: (e, root) =>
          this.notice('error', `${service}: cannot watch ${rel(root)}: ${e.message}`, /ENOSPC|EMFILE/.test(e.message) ? 'the system limit of watched files is reached: raise fs.inotify.max_user_watches, or narrow `watch.paths`' : undefined),
      }),
    };
    this.watches.set(service, w);
    await w.watcher.start();
  }

  private changed(w: ServiceWatch, changes: FileChange[]): void {
    if (w.closed) return;
    const duringBuild = w.state === 'building' || Date.now() - w.lastBuildEnd < BUILD_ECHO_MS;
    for (const c of changes) {
      if (c.kind === 'root-missing') continue;
      w.pending.set(c.path, duringBuild && (w.pending.get(c.path) ?? true));
    }
    if (w.pending.size > 0 && !w.running) {
      w.running = this.drain(w).finally(() => (w.running = undefined));
    }
  }

  private async drain(w: ServiceWatch): Promise<void> {
    while (w.pending.size > 0 && !w.closed) {
      const batch = [...w.pending];
      w.pending.clear();
      const fromBuild = w.spec.action === 'rebuild' && w.spec.build !== undefined && batch.every(([, during]) => during);
      w.loops = fromBuild ? w.loops + 1 : 0;
      if (w.loops >= MAX_BUILD_LOOPS) {
        const files = batch.map(([f]) => rel(f)).slice(0, 5).join(', ');
        this.notice('error', `${w.service}: each build changes files it watches (${files}): watching stopped to end the loop`, 'add the build output to `watch.ignore` in meshbox.yaml (or narrow `watch.paths`) and save it');
        await this.stop(w);
        return;
      }
      await this.round(
        w,
        batch.map(([f]) => f),
      ).catch((e: Error) => {
        w.last = { at: Date.now(), files: batch.map(([f]) => f), ok: false, error: e.message };
        if (w.closed) return; // meshbox is stopping
        w.state = 'idle';
        this.notice('error', `${w.service}: code reload failed: ${e.message}`, 'the instances that were not restarted keep serving; save again to retry');
      });
    }
  }

  private async round(w: ServiceWatch, files: string[]): Promise<void> {
    const svc = this.o.mesh().services.find((s) => s.name === w.service);
    if (!svc) return;
    w.rounds++;
    const names = `${files.slice(0, 3).map(rel).join(', ')}${files.length > 3 ? ` and ${files.length - 3} more` : ''}`;
    const round: CodeRound = { at: Date.now(), files, ok: false };
    w.last = round;
    if (w.spec.action === 'rebuild' && w.spec.build) {
      w.state = 'building';
      const cmd = w.spec.build[0] === '/bin/sh' && w.spec.build[1] === '-c' ? w.spec.build.slice(2).join(' ') : w.spec.build.join(' ');
      this.notice('info', `${w.service}: ${names} changed: building (${cmd})`);
      const b = await runBuild(w.spec.build, w.spec.cwd, (child) => (w.build = child));
      w.lastBuildEnd = Date.now();
      round.buildMs = b.durationMs;
      if (w.closed) return;
      if (!b.ok) {
        w.state = 'idle';
        round.error = `build failed (${b.error})`;
        const tail = b.output.slice(-15).join('\n      ');
        this.notice('error', `${w.service}: build failed (${b.error}) after ${(b.durationMs / 1000).toFixed(1)}s: nothing restarted, the running instances keep serving`, `${tail ? `${tail}\n  ` : ''}fix it and save again`);
        return;
      }
      this.notice('info', `${w.service}: built in ${(b.durationMs / 1000).toFixed(1)}s: restarting its instances`);
    } else {
      this.notice('info', `${w.service}: ${names} changed: restarting its instances`);
    }
    w.state = 'restarting';
    const t0 = Date.now();
    const workloads = svc.workloads.map((x) => x.workload);
    const results = await this.o.rollout.exclusive(() => Promise.all(workloads.map(async (workload) => ({ workload, result: await this.o.rollout.restartWorkload(workload) }))));
    round.restartMs = Date.now() - t0;
    round.results = results;
    if (w.closed) return;
    w.state = 'idle';
    const failed = results.filter((r) => !r.result.ok);
    round.ok = failed.length === 0;
    const secs = (round.restartMs / 1000).toFixed(1);
    if (round.ok) {
      const how = results.filter((r) => r.result.steps.length > 0).map((r) => `${r.workload} ${r.result.steps.length === 1 ? 'in place' : 'rolling'}`);
      this.notice('info', `${w.service}: restarted in ${secs}s${how.length ? ` (${how.join(', ')})` : ''}`);
    } else {
      round.error = failed.map((f) => `${f.workload}: ${f.result.error}`).join('; ');
      this.notice('error', `${w.service}: restart incomplete after ${secs}s: ${round.error}`, 'its log lines are above; fix the code and save again');
    }
  }

  private async stop(w: ServiceWatch): Promise<void> {
    w.closed = true;
    w.state = 'stopped';
    if (w.build?.pid) {
      try {
        process.kill(-w.build.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await w.watcher.close();
  }

  status(): Array<Record<string, unknown>> {
    return [...this.watches.values()].map((w) => ({
      service: w.service,
      paths: w.spec.paths,
      ignore: w.spec.ignore,
      action: w.spec.action,
      build: w.spec.build,
      state: w.state,
      rounds: w.rounds,
      missing: w.watcher.missingRoots(),
      last: w.last && { ...w.last, at: new Date(w.last.at).toISOString() },
    }));
  }

  /** resolves once no build or restart runs */
  async idle(): Promise<void> {
    for (;;) {
      const running = [...this.watches.values()].map((w) => w.running).filter(Boolean);
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.watches.values()].map((w) => this.stop(w)));
    this.watches.clear();
  }
}
