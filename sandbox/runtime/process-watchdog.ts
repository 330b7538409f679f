/**
 * The process runtime's watchdog: a small detached process per sandbox that stops the sandbox's
 * workload processes as soon as its meshbox is gone, however it went (kill -9, a crash, an OOM
 * kill), so nothing keeps running or holding ports until the next `meshbox up`.
 *
 * meshbox holds the write end of the watchdog's stdin; the kernel closes it when meshbox dies;
 * the watchdog reads end-of-file, kills the process groups recorded in the sandbox record (only
 * those whose environment carries the sandbox id), removes the record and exits. On a clean
 * `down` meshbox removes the record first and closes the pipe: the watchdog finds nothing to do.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../paths.js';

export interface ProcessWatchdog {
  pid: number | undefined;
  release(): void;
}

function script(): string {
  const sibling = path.join(path.dirname(fileURLToPath(import.meta.url)), 'process-watchdog-main.js');
  if (existsSync(sibling)) return sibling;
  return path.join(packageRoot(), 'dist', 'sandbox', 'runtime', 'process-watchdog-main.js');
}

export function startProcessWatchdog(recordFile: string): ProcessWatchdog {
  const child = spawn(process.execPath, [script(), recordFile], { detached: true, stdio: ['pipe', 'ignore', 'ignore'], env: process.env });
  child.on('error', () => undefined);
  child.unref();
  const stdin = child.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null;
  stdin?.on('error', () => undefined);
  stdin?.unref?.();
  return { pid: child.pid, release: () => stdin?.end() };
}
