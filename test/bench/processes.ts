/**
 * Every process the benchmark starts, tracked by pid so that each one is stopped, on success, on
 * error and on Ctrl-C alike, and none is left behind.
 *
 * Children run in their own process group (`detached`), so a Ctrl-C in the terminal reaches the
 * benchmark only and the benchmark stops them in order (meshbox first gets SIGINT, as a user's
 * Ctrl-C, and stops its own workloads). Their output goes to log files in the run's temp folder
 * (a pipe would make the benchmark read meshbox's per-request lines on the load generator's core);
 * the tail of a log is shown when a step fails. Processes started by a child (meshbox's workloads)
 * can be `adopt`ed: they are killed if still alive, with the same command line, after their parent
 * stopped. When a process does not stop within its grace period, its whole process group is killed.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { isAlive, readCmdline } from './proc-stats.js';

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** signal that asks the process to stop cleanly (default SIGTERM) */
  stopSignal?: NodeJS.Signals;
  /** ms to wait after stopSignal before SIGKILL (default 10000) */
  graceMs?: number;
}

export interface Tracked {
  name: string;
  pid: number;
  logPath: string;
  exited: Promise<number | null>;
  /** the process has exited */
  done(): boolean;
  /** the last `bytes` of its output */
  tail(bytes?: number): string;
}

interface Entry extends Tracked {
  proc: ChildProcess;
  stopSignal: NodeJS.Signals;
  graceMs: number;
  adopted: Array<{ pid: number; cmdline: string }>;
  stopping?: Promise<void>;
}

export class ProcessSet {
  private readonly entries: Entry[] = [];
  private readonly logDir: string;
  private exitHookInstalled = false;
  private sequence = 0;

  constructor(logDir: string) {
    this.logDir = logDir;
  }

  start(opts: StartOptions): Tracked {
    const logPath = path.join(this.logDir, `${String(++this.sequence).padStart(2, '0')}-${opts.name.replace(/[^a-z0-9.-]+/gi, '_')}.log`);
    const fd = openSync(logPath, 'a');
    let proc: ChildProcess;
    try {
      proc = spawn(opts.command, opts.args, {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        stdio: ['ignore', fd, fd],
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    if (proc.pid === undefined) {
      // spawn failures (ENOENT) arrive as an 'error' event; report them synchronously enough
      throw new Error(`cannot start ${opts.name} (${opts.command}): no pid`);
    }
    let finished = false;
    const exited = new Promise<number | null>((resolve) => {
      proc.once('exit', (code, signal) => {
        finished = true;
        resolve(code ?? (signal ? 128 : null));
      });
      proc.once('error', () => {
        finished = true;
        resolve(null);
      });
    });
    const entry: Entry = {
      name: opts.name,
      pid: proc.pid,
      logPath,
      exited,
      proc,
      stopSignal: opts.stopSignal ?? 'SIGTERM',
      graceMs: opts.graceMs ?? 10_000,
      adopted: [],
      done: () => finished,
      tail: (bytes = 2000) => tailOf(logPath, bytes),
    };
    this.entries.push(entry);
    this.installExitHook();
    return entry;
  }

  /** Processes started by `parent` (not by us) to kill after `parent` stopped, if still there. */
  adopt(parent: Tracked, pids: number[]): void {
    const entry = this.entries.find((e) => e.pid === parent.pid);
    if (!entry) return;
    for (const pid of pids) {
      const cmdline = readCmdline(pid);
      if (cmdline !== undefined) entry.adopted.push({ pid, cmdline });
    }
  }

  /**
   * Stops one process: its stop signal, then SIGKILL after its grace period; then its adoptees.
   * Concurrent calls for the same process share one stop.
   */
  stop(tracked: Tracked): Promise<void> {
    const entry = this.entries.find((e) => e.pid === tracked.pid);
    if (!entry) return Promise.resolve();
    entry.stopping ??= this.stopEntry(entry);
    return entry.stopping;
  }

  private async stopEntry(entry: Entry): Promise<void> {
    if (!entry.done()) {
      signal(entry.pid, entry.stopSignal);
      const timer = setTimeout(() => killGroup(entry.pid), entry.graceMs);
      await entry.exited;
      clearTimeout(timer);
    }
    for (const child of entry.adopted) {
      if (isAlive(child.pid) && readCmdline(child.pid) === child.cmdline) signal(child.pid, 'SIGKILL');
    }
    const index = this.entries.indexOf(entry);
    if (index >= 0) this.entries.splice(index, 1);
  }

  /** Stops everything still running, newest first. */
  async stopAll(): Promise<void> {
    for (const entry of [...this.entries].reverse()) await this.stop(entry);
  }

  /** Names and pids of what is still tracked (for messages). */
  running(): Array<{ name: string; pid: number }> {
    return this.entries.filter((e) => !e.done()).map((e) => ({ name: e.name, pid: e.pid }));
  }

  /** Last resort when the benchmark exits without having stopped everything: SIGKILL by pid. */
  private installExitHook(): void {
    if (this.exitHookInstalled) return;
    this.exitHookInstalled = true;
    process.once('exit', () => {
      for (const entry of this.entries) {
        if (!entry.done()) killGroup(entry.pid);
        for (const child of entry.adopted) {
          if (isAlive(child.pid) && readCmdline(child.pid) === child.cmdline) signal(child.pid, 'SIGKILL');
        }
      }
    });
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** SIGKILL to a child's whole process group (it leads one: started detached), then to itself. */
function killGroup(pid: number): void {
  signal(-pid, 'SIGKILL');
  signal(pid, 'SIGKILL');
}

function tailOf(file: string, bytes: number): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text.length > bytes ? `...${text.slice(-bytes)}` : text;
  } catch {
    return '';
  }
}

let tasksetChecked: boolean | undefined;

/** True when `taskset` (util-linux) can be run. */
export function hasTaskset(): boolean {
  if (tasksetChecked === undefined) {
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore', timeout: 2000 });
      tasksetChecked = true;
    } catch {
      tasksetChecked = false;
    }
  }
  return tasksetChecked;
}

/** Pins every thread of a running process to a CPU list such as "0" or "1". */
export function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore', timeout: 2000 });
}

/** Finds an executable by name on PATH, then in the sbin folders Debian puts daemons in. */
export function findExecutable(name: string, extraDirs: string[] = ['/usr/sbin', '/usr/local/sbin', '/sbin']): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...extraDirs];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
