/**
 * `meshbox dev -f k8s`: a change in one image's watched folder restarts only that service,
 * rolling, with zero failed requests through the ingress under steady load; the other service is
 * not touched; a save of the manifests' Istio rules applies at once, a bad save keeps the last
 * good rules and says where the error is.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, httpGet, interrupt, type CliRun } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'meshbox-k8s-dev-'));
const project = path.join(work, 'dev');
cpSync(path.join(ROOT, 'test', 'fixtures', 'kubernetes', 'dev'), project, { recursive: true });
let run: CliRun | undefined;

afterAll(async () => {
  if (run) await interrupt(run);
  rmSync(work, { recursive: true, force: true });
});

function start(args: string[]): CliRun {
  const proc = spawn(process.execPath, [CLI, ...args], { cwd: project, env: { ...process.env, NO_COLOR: '1', CI: 'true', MESHBOX_STATE_DIR: path.join(work, 'state') }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    output: () => out,
    exited,
    async waitFor(text, timeoutMs = 45_000) {
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

describe('meshbox dev', () => {
  it('rebuilds and rolls only the changed service with zero failed requests, and hot-reloads the rules', async () => {
    const ip = await freePort();
    run = start(['dev', '--headless', '--runtime', 'process', '--ingress-port', String(ip), '--admin-port', String(await freePort()), '--no-access-log', '--no-toxiproxy-api', '-f', 'k8s']);
    await run.waitFor('meshbox is up');
    await run.waitFor('dev: watching greeter (greeter), other (other)');
    const ingress = `http://127.0.0.1:${ip}`;
    const other = await httpGet(ingress, { host: 'other.test' });
    expect(other.body).toMatch(/^other from other pid \d+$/);

    writeFileSync(path.join(project, 'greeter', 'greeting.txt'), 'bonjour\n');
    // steady load until the new code answers (bounded: 30 s, at most 3000 requests)
    const statuses = new Map<number, number>();
    let sawNew = false;
    const deadline = Date.now() + 30_000;
    for (let i = 0; i < 3000 && Date.now() < deadline && !sawNew; i++) {
      const res = await httpGet(ingress, { host: 'greeter.test' });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      sawNew = res.body.startsWith('bonjour');
    }
    await run.waitFor('greeter: restarted in');
    // after the roll every instance is new
    for (let i = 0; i < 6; i++) expect((await httpGet(ingress, { host: 'greeter.test' })).body).toMatch(/^bonjour from greeter/);
    expect(sawNew).toBe(true);
    expect([...statuses.keys()]).toEqual([200]);
    expect(run.output()).toContain('(greeter rolling)');
    // only greeter was rolled: other answers from the same process
    expect((await httpGet(ingress, { host: 'other.test' })).body).toBe(other.body);
    expect(run.output()).not.toContain('other: ');

    // rules: a save applies at once; a bad save keeps the last good rules, with the error's location
    const rules = path.join(project, 'k8s', 'istio.yaml');
    const text = readFileSync(rules, 'utf8');
    writeFileSync(rules, text.replace('    - route:\n        - destination: { host: greeter }', '    - fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }\n      route:\n        - destination: { host: greeter }'));
    await run.waitFor('dev: rules of k8s/istio.yaml applied');
    expect((await httpGet(ingress, { host: 'greeter.test' })).status).toBe(418);
    writeFileSync(rules, readFileSync(rules, 'utf8').replace('httpStatus: 418', 'httpStatus: "x"'));
    await run.waitFor(/k8s\/istio\.yaml:19:37: error MB1101/);
    expect((await httpGet(ingress, { host: 'greeter.test' })).status).toBe(418);
    expect(await interrupt(run)).toBe(0);
    run = undefined;
  }, 120_000);
});
