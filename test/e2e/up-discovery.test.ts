/**
 * `meshbox up` in a folder with a meshbox.yaml runs that mesh (not the bundled sample), says
 * which file it loaded, and its banner's `try:` line comes from the mesh's own Gateway routes;
 * the line it prints works.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, httpGet, interrupt, type CliRun } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';

function startIn(cwd: string, args: string[], env: Record<string, string>): CliRun {
  const proc = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', CI: 'true', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    output: () => out,
    exited,
    async waitFor(text, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      const has = (): boolean => (typeof text === 'string' ? out.includes(text) : text.test(out));
      while (!has()) {
        if (proc.exitCode !== null) throw new Error(`meshbox exited before ${String(text)}; output:\n${out}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(text)}; output so far:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

describe('meshbox up finds ./meshbox.yaml', () => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'meshbox-up-own-'));
  const project = path.join(work, 'own-mesh');
  cpSync(path.join(ROOT, 'test', 'fixtures', 'own-mesh'), project, { recursive: true });
  let run: CliRun | undefined;

  afterAll(async () => {
    if (run) await interrupt(run);
    rmSync(work, { recursive: true, force: true });
  });

  it('runs the mesh of the current folder, names the file, and its try line reaches the mesh', async () => {
    const [ip, ap] = [await freePort(), await freePort()];
    run = startIn(project, ['up', '--headless', '--runtime', 'process', '--ingress-port', String(ip), '--admin-port', String(ap), '--no-logs', '--no-access-log'], {
      MESHBOX_STATE_DIR: path.join(work, 'state'),
    });
    await run.waitFor('meshbox is up', 45_000);
    const out = run.output();
    expect(out).toContain(`using ${path.join(project, 'meshbox.yaml')} (found in the current folder`);
    expect(out).not.toContain('sample-services');
    const ingress = `http://127.0.0.1:${ip}`;
    expect(out).toContain(`try: curl -H 'Host: shop.local' ${ingress}/store`);
    expect(out).not.toContain('caller.example.com');
    const res = await httpGet(`${ingress}/store`, { host: 'shop.local' });
    expect(res.status).toBe(200);
    expect(res.body).toBe('shop v1 at /store');
    // the sandbox's rule findings (what the terminal UI's Rules view shows) name the field that
    // is accepted but not applied, with its location
    const status = await httpGet(`http://127.0.0.1:${ap}/status`);
    const findings = (JSON.parse(status.body) as { findings: Array<{ code: string; message: string; location?: { file: string; line: number; col: number } }> }).findings;
    expect(findings.filter((f) => f.code === 'MB1117')).toEqual([
      expect.objectContaining({
        message: 'spec.http[0].retries.retryRemoteLocalities is recognised but not applied by this meshbox version: meshbox has a single locality',
        location: { file: path.join(project, 'rules', 'shop.yaml'), line: 26, col: 7 },
      }),
    ]);
  }, 60_000);
});
