/**
 * `meshbox up -f` runs Kubernetes manifests as they are (the images given a process command by
 * the meshbox.yaml beside them), and `meshbox export --k8s` + `meshbox up -f <export>` gives the
 * same observable mesh: the same answers through the ingress, both callme versions reached.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CLI, ROOT, httpGet, interrupt, runCli, type CliRun } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'kubernetes', 'sample-shape');
const work = mkdtempSync(path.join(os.tmpdir(), 'meshbox-k8s-e2e-'));

function startIn(cwd: string, args: string[]): CliRun {
  const proc = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', CI: 'true', MESHBOX_STATE_DIR: path.join(work, 'state') }, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** 40 requests through the ingress: every answer, counted */
async function answers(ingress: string): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < 40; i++) {
    const res = await httpGet(`${ingress}/caller/ping`, { host: 'caller.test' });
    const key = `${res.status} ${res.body}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return seen;
}

async function upAndAsk(cwd: string, files: string[]): Promise<{ seen: Map<string, number>; output: string }> {
  const [ip, ap] = [await freePort(), await freePort()];
  const run = startIn(cwd, ['up', '--headless', '--runtime', 'process', '--ingress-port', String(ip), '--admin-port', String(ap), '--no-logs', '--no-access-log', '--no-toxiproxy-api', ...files.flatMap((f) => ['-f', f])]);
  running = run;
  await run.waitFor('meshbox is up');
  const seen = await answers(`http://127.0.0.1:${ip}`);
  const code = await interrupt(run);
  running = undefined;
  expect(code).toBe(0);
  return { seen, output: run.output() };
}

let running: CliRun | undefined;
afterEach(async () => {
  if (running) await interrupt(running);
  running = undefined;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('Kubernetes manifests in and out', () => {
  it('up -f runs the manifests unchanged; export --k8s and up -f of the export answer the same', async () => {
    const original = await upAndAsk(FIXTURE, ['callme', 'caller']);
    expect(original.output).toContain('using the `images:` of');
    expect(original.output).toContain('the Istio kinds of 2 manifest file(s)');
    const expected = new Set(["200 I'm caller-service v1. Calling... I'm callme-service v1", "200 I'm caller-service v1. Calling... I'm callme-service v2"]);
    expect(new Set(original.seen.keys())).toEqual(expected);

    const out = path.join(work, 'export');
    const exported = await runCli(['export', '--k8s', out, '-f', path.join(FIXTURE, 'callme'), '-f', path.join(FIXTURE, 'caller'), '-c', path.join(FIXTURE, 'meshbox.yaml')]);
    expect(exported.code, exported.output).toBe(0);
    expect(exported.output).toMatch(/wrote \d+ files to/);

    const back = await upAndAsk(work, [out]);
    expect(new Set(back.seen.keys())).toEqual(expected);
    // the 50/50 split of the rules holds both times (40 requests: each version well inside 5..35)
    for (const seen of [original.seen, back.seen]) for (const k of expected) expect(seen.get(k)).toBeGreaterThan(5);
  }, 120_000);

  it('bad manifests: each problem once with its location, the rest comes up; nothing runnable: exit 1', async () => {
    const r = await runCli(['up', '--headless', '--runtime', 'process', '--no-toxiproxy-api', '-f', path.join(ROOT, 'test', 'fixtures', 'kubernetes', 'bad')]);
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/bad\/broken\.yaml:8:1: error MB1001/);
    expect(r.output).toMatch(/bad\/apps\.yaml:6:3: error MB4002: Deployment mismatch/);
    expect(r.output).toMatch(/cannot run as a process: no command given\n\s+hint: the process runtime needs a command: add the pod annotation `meshbox\.dev\/command/);
    expect(r.output).toContain('nothing to run: fix the errors above');
    expect(r.output).not.toMatch(/at .*\.js:\d+/); // no stack trace
    // a meshbox.yaml with only `images:` says to give the manifests
    const alone = await runCli(['up', '--headless', '--runtime', 'process', '--no-toxiproxy-api', '-c', path.join(FIXTURE, 'meshbox.yaml')]);
    expect(alone.code).toBe(1);
    expect(alone.output).toContain("has `images:` but no `services:` and no `kubernetes:`: nothing to run");
  }, 60_000);
});
