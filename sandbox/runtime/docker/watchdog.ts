/**
 * The watchdog: a small detached process per Docker sandbox that removes the sandbox's
 * containers as soon as its meshbox is gone, however it went (kill -9, a crash, an OOM kill).
 *
 * meshbox holds the write end of the watchdog's stdin; the kernel closes it when meshbox dies,
 * the watchdog reads end-of-file, removes every container labelled with the sandbox id and
 * exits. It runs in its own process group, so Ctrl-C in meshbox's terminal does not reach it. On
 * a clean `down` meshbox closes the pipe itself after removing its containers: the watchdog finds
 * nothing left and exits.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../../paths.js';

export interface Watchdog {
  pid: number | undefined;
  /** closes the pipe: the watchdog sweeps (finding nothing after a clean down) and exits */
  release(): void;
}

function script(): string {
  const sibling = path.join(path.dirname(fileURLToPath(import.meta.url)), 'watchdog-main.js');
  if (existsSync(sibling)) return sibling;
  // running from TypeScript sources (tests): the compiled copy
  return path.join(packageRoot(), 'dist', 'sandbox', 'runtime', 'docker', 'watchdog-main.js');
}

export function startWatchdog(sandboxId: string): Watchdog {
  const child = spawn(process.execPath, [script(), sandboxId], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
    env: process.env,
  });
  child.on('error', () => undefined);
  child.unref();
  const stdin = child.stdin as (NodeJS.WritableStream & Partial<Pick<Socket, 'unref'>>) | null;
  stdin?.on('error', () => undefined);
  stdin?.unref?.();
  return {
    pid: child.pid,
    release: () => {
      stdin?.end();
    },
  };
}
