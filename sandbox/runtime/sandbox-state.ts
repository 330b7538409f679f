/**
 * On-disk record of running sandboxes, so a sandbox whose meshbox died (kill -9, crash) leaves
 * nothing behind: the next `meshbox up` finds the record, sees the owner is gone, and stops the
 * processes it started (checked by the MESHBOX_SANDBOX variable in their environment, so a reused
 * PID is never killed by mistake).
 *
 * Location: $MESHBOX_STATE_DIR, else $XDG_STATE_HOME/meshbox, else ~/.local/state/meshbox.
 * Beside each record, `<sandbox>.token` holds the sandbox's admin token (admin/admin-token.ts):
 * mode 0600 in the 0700 `sandboxes` folder, so only this user reads it; removed at stop.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { MeshError } from '../errors.js';
import os from 'node:os';
import path from 'node:path';

export interface SandboxRecord {
  id: string;
  ownerPid: number;
  startedAt: string;
  config: string;
  adminUrl?: string;
  ingressUrl?: string;
  /** instance id -> pid (process group leader) */
  processes: Record<string, number>;
}

export function stateDir(): string {
  if (process.env.MESHBOX_STATE_DIR) return process.env.MESHBOX_STATE_DIR;
  const base = process.env.XDG_STATE_HOME ?? path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'meshbox');
}

function recordsDir(): string {
  return path.join(stateDir(), 'sandboxes');
}

/** where the admin token of sandbox `id` is kept */
export function tokenFileOf(id: string): string {
  return path.join(recordsDir(), `${id}.token`);
}

/** the records folder, created 0700 (and made so if it was not): it holds the admin tokens */
function privateRecordsDir(): string {
  const dir = recordsDir();
  mkdirSync(stateDir(), { recursive: true, mode: 0o700 });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw new MeshError('MESH_ERR_STATE_DIR', [dir, `it belongs to another user (uid ${st.uid}) and would hold this sandbox's admin token`]);
  }
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
  return dir;
}

/** true while the process runs (a zombie, dead but not yet reaped by its parent, is not alive) */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** true when /proc says the process carries our sandbox id (Linux); elsewhere trust the pid */
function belongsTo(pid: number, sandboxId: string): boolean {
  try {
    const env = readFileSync(`/proc/${pid}/environ`, 'latin1');
    return env.split('\0').includes(`MESHBOX_SANDBOX=${sandboxId}`);
  } catch {
    return process.platform !== 'linux' && isAlive(pid);
  }
}

export class SandboxState {
  readonly file: string;
  private record: SandboxRecord;

  readonly tokenFile: string;

  constructor(id: string, config: string) {
    this.file = path.join(privateRecordsDir(), `${id}.json`);
    this.tokenFile = tokenFileOf(id);
    this.record = { id, ownerPid: process.pid, startedAt: new Date().toISOString(), config, processes: {} };
    this.save();
  }

  set(patch: Partial<Pick<SandboxRecord, 'adminUrl' | 'ingressUrl'>>): void {
    Object.assign(this.record, patch);
    this.save();
  }

  addProcess(instance: string, pid: number): void {
    this.record.processes[instance] = pid;
    this.save();
  }

  removeProcess(instance: string): void {
    delete this.record.processes[instance];
    this.save();
  }

  /** writes the admin token, readable by this user only (created 0600, then renamed into place) */
  writeToken(token: string): void {
    const tmp = `${this.tokenFile}.tmp`;
    rmSync(tmp, { force: true });
    writeFileSync(tmp, `${token}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.tokenFile);
  }

  remove(): void {
    rmSync(this.tokenFile, { force: true });
    rmSync(this.file, { force: true });
  }

  private save(): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.record, null, 2));
    renameSync(tmp, this.file);
  }
}

export function listSandboxes(): SandboxRecord[] {
  let files: string[] = [];
  try {
    files = readdirSync(recordsDir()).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const out: SandboxRecord[] = [];
  for (const f of files) {
    try {
      out.push(JSON.parse(readFileSync(path.join(recordsDir(), f), 'utf8')) as SandboxRecord);
    } catch {
      // a half-written record of a crashed run: nothing to learn from it
    }
  }
  return out;
}

export interface Reaped {
  sandbox: string;
  ownerPid: number;
  killed: string[];
}

/** Kills (SIGKILL, whole process group) the recorded processes that still carry the sandbox's id. */
export function killRecordedProcesses(rec: SandboxRecord): string[] {
  const killed: string[] = [];
  for (const [instance, pid] of Object.entries(rec.processes)) {
    if (!belongsTo(pid, rec.id)) continue;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        continue;
      }
    }
    killed.push(`${instance} (pid ${pid})`);
  }
  return killed;
}

export function readRecord(file: string): SandboxRecord | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as SandboxRecord;
  } catch {
    return undefined;
  }
}

/** Stops the processes of sandboxes whose meshbox is gone and forgets them. */
export function reapLeftovers(): Reaped[] {
  const reaped: Reaped[] = [];
  for (const rec of listSandboxes()) {
    if (rec.ownerPid === process.pid || isAlive(rec.ownerPid)) continue;
    const killed = killRecordedProcesses(rec);
    rmSync(tokenFileOf(rec.id), { force: true });
    rmSync(path.join(recordsDir(), `${rec.id}.json`), { force: true });
    reaped.push({ sandbox: rec.id, ownerPid: rec.ownerPid, killed });
  }
  // admin tokens left without their record (a meshbox that died between removing one and the other)
  try {
    for (const f of readdirSync(recordsDir())) {
      if (f.endsWith('.token') && !existsSync(path.join(recordsDir(), f.replace(/\.token$/, '.json')))) rmSync(path.join(recordsDir(), f), { force: true });
    }
  } catch {
    // no records folder yet
  }
  return reaped;
}
