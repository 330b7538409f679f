/**
 * Runs the built CLI as a user would (`node dist/cli/main.js ...`), for e2e tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

export interface CliRun {
  proc: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** resolves when the output contains `text` (rejects after timeoutMs) */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
}

export function startCli(args: string[], env: Record<string, string> = {}): CliRun {
  const proc = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (c: Buffer): void => {
    out += c.toString('utf8');
    for (const l of listeners) l();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    output: () => out,
    exited,
    waitFor(text, timeoutMs = 30_000) {
      const has = (): boolean => (typeof text === 'string' ? out.includes(text) : text.test(out));
      if (has()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting for ${String(text)}; output so far:\n${out}`));
        }, timeoutMs);
        const check = (): void => {
          if (has()) {
            clearTimeout(timer);
            listeners.delete(check);
            resolve();
          }
        };
        listeners.add(check);
        void exited.then(() => {
          if (!has()) {
            clearTimeout(timer);
            listeners.delete(check);
            reject(new Error(`meshbox exited before ${String(text)}; output:\n${out}`));
          }
        });
      });
    },
  };
}

export async function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  const run = startCli(args, env);
  const code = await run.exited;
  return { code, output: run.output() };
}

export function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
  });
}

export async function waitForHttp(url: string, status = 200, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const r = await httpGet(url);
      if (r.status === status) return;
      last = `${r.status} ${r.body}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs}ms (last: ${last})`);
}

/** stops a CLI run with SIGINT (as Ctrl-C does) and waits for it; SIGKILL after graceMs */
export async function interrupt(run: CliRun, graceMs = 15_000): Promise<number | null> {
  if (run.proc.exitCode !== null) return run.proc.exitCode;
  run.proc.kill('SIGINT');
  const timer = setTimeout(() => run.proc.kill('SIGKILL'), graceMs);
  const code = await run.exited;
  clearTimeout(timer);
  return code;
}
