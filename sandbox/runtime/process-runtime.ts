/**
 * Process runtime: each workload instance is a child process in its own process group (so a
 * `sh -c` command and everything it forks stop together), with its output captured line by line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import { MeshError } from '../errors.js';
import { permanentFailure, type LaunchSpec, type Runtime, type RuntimeExit } from './runtime.js';

interface Child {
  proc: ChildProcess;
  expectedExit: boolean;
  exited: Promise<void>;
  paused: boolean;
}

export class ProcessRuntime extends EventEmitter implements Runtime {
  readonly name = 'process' as const;
  private readonly children = new Map<string, Child>();

  async start(spec: LaunchSpec): Promise<{ pid?: number }> {
    if (this.children.has(spec.id)) throw new MeshError('MESH_ERR_WORKLOAD_START', [spec.id, 'already running']);
    const argv = spec.workload.command;
    if (!argv || argv.length === 0) {
      throw permanentFailure(
        new MeshError('MESH_ERR_WORKLOAD_START', [spec.id, 'no command to run'], {
          hint: 'give the service a `command` in meshbox.yaml (the process runtime cannot run an image or a build), or run it with --runtime docker',
        }),
      );
    }
    const proc = spawn(argv[0]!, argv.slice(1), {
      cwd: spec.workload.cwd,
      env: spec.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const spawnError = await new Promise<Error | undefined>((resolve) => {
      proc.once('spawn', () => resolve(undefined));
      proc.once('error', (e) => resolve(e));
    });
    if (spawnError) {
      const err = new MeshError('MESH_ERR_WORKLOAD_START', [spec.id, `${argv[0]}: ${spawnError.message}`], {
        hint: `check \`command\` in meshbox.yaml: ${argv[0]} must be a program on PATH or a path relative to the service's cwd (${spec.workload.cwd})`,
      });
      // a program that does not exist (or may not be run) is not there on the next try either
      const code = (spawnError as NodeJS.ErrnoException).code;
      throw code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR' ? permanentFailure(err) : err;
    }
    let resolveExit!: () => void;
    const child: Child = { proc, expectedExit: false, exited: new Promise((r) => (resolveExit = r)), paused: false };
    this.children.set(spec.id, child);
    for (const [stream, source] of [
      ['stdout', proc.stdout],
      ['stderr', proc.stderr],
    ] as const) {
      if (!source) continue;
      createInterface({ input: source }).on('line', (line) => this.emit('log', { id: spec.id, stream, line }));
    }
    proc.once('exit', (code, signal) => {
      this.children.delete(spec.id);
      const exit: RuntimeExit = { id: spec.id, code, signal, expected: child.expectedExit };
      resolveExit();
      this.emit('exit', exit);
    });
    return { pid: proc.pid };
  }

  private group(child: Child, signal: NodeJS.Signals): void {
    const pid = child.proc.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        child.proc.kill(signal);
      } catch {
        // already gone
      }
    }
  }

  async stop(id: string, graceMs: number): Promise<void> {
    const child = this.children.get(id);
    if (!child) return;
    child.expectedExit = true;
    if (child.paused) this.group(child, 'SIGCONT');
    this.group(child, 'SIGTERM');
    const timer = setTimeout(() => this.group(child, 'SIGKILL'), graceMs);
    await child.exited;
    clearTimeout(timer);
  }

  async signal(id: string, signal: NodeJS.Signals): Promise<void> {
    const child = this.children.get(id);
    if (!child) throw new MeshError('MESH_ERR_USAGE', [`instance ${id} is not running`]);
    if (child.paused && signal !== 'SIGKILL') this.group(child, 'SIGCONT');
    this.group(child, signal);
  }

  async pause(id: string): Promise<void> {
    const child = this.children.get(id);
    if (!child) throw new MeshError('MESH_ERR_USAGE', [`instance ${id} is not running`]);
    this.group(child, 'SIGSTOP');
    child.paused = true;
  }

  async resume(id: string): Promise<void> {
    const child = this.children.get(id);
    if (!child) throw new MeshError('MESH_ERR_USAGE', [`instance ${id} is not running`]);
    this.group(child, 'SIGCONT');
    child.paused = false;
  }

  isRunning(id: string): boolean {
    return this.children.has(id);
  }

  async stopAll(graceMs: number): Promise<void> {
    await Promise.all([...this.children.keys()].map((id) => this.stop(id, graceMs)));
  }
}
