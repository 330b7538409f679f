/**
 * Hot reload of the services' own code, end to end through the CLI on a copy of the sample mesh
 * (its meshbox.yaml unchanged: `watch:` on callme and caller with a per-service tsc build):
 * editing callme/routes.ts rebuilds callme and restarts its v2 instances one at a time, with zero
 * failed requests through the ingress under steady load; a build that fails restarts nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoadGenerator } from '../../sandbox/chaos/load-generator.js';
import { httpGet, interrupt, startCli, waitForHttp, type CliRun } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { copySampleMesh, eventually, type SampleCopy } from '../helpers/reload-fixture.js';

const HOST = { host: 'caller.example.com' };
const ORIGINAL = "const hello = `I'm callme-service ${ctx.version}`;";
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Status {
  instances: Array<{ id: string; pid?: number; healthy: boolean }>;
  reload: { code: Array<{ service: string; state: string; rounds: number; last?: { ok: boolean; error?: string } }> };
}

describe('meshbox up: hot reload of service code', () => {
  let copy: SampleCopy;
  let run: CliRun;
  let ingress = '';
  let admin = '';

  const status = async (): Promise<Status> => JSON.parse((await httpGet(`${admin}/status`)).body) as Status;
  const pids = async (): Promise<Record<string, number | undefined>> => Object.fromEntries((await status()).instances.map((i) => [i.id, i.pid]));

  beforeAll(async () => {
    copy = copySampleMesh();
    const [ip, ap] = [await freePort(), await freePort()];
    ingress = `http://127.0.0.1:${ip}`;
    admin = `http://127.0.0.1:${ap}`;
    run = startCli(
      ['up', '--headless', '--runtime', 'process', '--config', copy.meshFile, '--ingress-port', String(ip), '--admin-port', String(ap), '--seed', '7', '--no-logs', '--no-access-log'],
      { MESHBOX_STATE_DIR: copy.stateDir },
    );
    await run.waitFor('meshbox is up', 45_000);
    await waitForHttp(`${admin}/ready`);
  });

  afterAll(async () => {
    if (run) await interrupt(run);
    copy?.cleanup();
  });

  it('editing callme/routes.ts rebuilds callme and restarts v2 one instance at a time, with zero failed requests through the ingress', async () => {
    const before = await pids();
    const load = new LoadGenerator({
      url: `${ingress}/caller/ping`,
      headers: HOST,
      rate: 100,
      connections: 16,
      durationMs: 120_000,
      timeoutMs: 15_000,
      classify: (_res, body) => (body.includes('(edited)') ? 'new' : 'old'),
    });
    const running = load.start();
    await sleep(1000);
    const mark = run.output().length;
    copy.edit('callme/routes.ts', ORIGINAL, "const hello = `I'm callme-service ${ctx.version} (edited)`;");
    await run.waitFor(/callme-service: restarted in/, 90_000);
    await eventually(async () => (await httpGet(`${ingress}/caller/ping`, HOST)).body.includes('(edited)'), 10_000, 'the edited answer');
    await sleep(1000);
    const result = await load.stop();
    await running;

    // zero failed requests: every request answered, every answer a 200
    expect(result.errors, JSON.stringify(result.errorCounts)).toBe(0);
    expect(result.statusCounts, JSON.stringify(result.statusCounts)).toEqual({ '200': result.completed });
    expect(result.classCounts['new'] ?? 0).toBeGreaterThan(0);

    // one v2 instance at a time: the new one is healthy before an old one is stopped
    const out = run.output().slice(mark);
    const at = (re: RegExp): number => {
      const m = re.exec(out);
      if (!m) throw new Error(`${String(re)} not in output:\n${out}`);
      return m.index;
    };
    expect(out).toMatch(/callme-service: \S*callme\/routes\.ts changed: building/);
    const surge1 = at(/callme-service-v2-3 healthy/);
    const stop1 = at(/callme-service-v2-1 stopped/);
    const stop2 = at(/callme-service-v2-2 stopped/);
    const surge2 = out.indexOf('callme-service-v2-1 healthy', stop1);
    expect(surge1).toBeLessThan(stop1);
    expect(stop1).toBeLessThan(surge2);
    expect(surge2).toBeLessThan(stop2);

    // callme restarted (v1 in place: same id, new pid), caller untouched
    const after = await pids();
    expect(after['caller-service-v1-1']).toBe(before['caller-service-v1-1']);
    expect(after['callme-service-v1-1']).not.toBe(before['callme-service-v1-1']);
    expect(Object.keys(after).sort()).toEqual(['caller-service-v1-1', 'callme-service-v1-1', 'callme-service-v2-1', 'callme-service-v2-3', 'greeter-service-v1-1', 'greeter-service-v2-1']);
    const code = (await status()).reload.code.find((c) => c.service === 'callme-service');
    expect(code?.last?.ok).toBe(true);
  }, 150_000);

  it('a build that fails restarts nothing: the running instances keep serving', async () => {
    const before = await pids();
    const mark = run.output().length;
    copy.edit('callme/routes.ts', '(edited)`;', '(edited)` +;');
    await run.waitFor(/callme-service: build failed/, 60_000);
    const out = run.output().slice(mark);
    expect(out).toMatch(/nothing restarted, the running instances keep serving/);
    expect(out).toMatch(/routes\.ts\(\d+,\d+\): error TS\d+/);
    expect(await pids()).toEqual(before);
    const r = await httpGet(`${ingress}/caller/ping`, HOST);
    expect(r.status).toBe(200);
    expect(r.body).toContain('(edited)');
    const code = (await status()).reload.code.find((c) => c.service === 'callme-service');
    expect(code?.last?.ok).toBe(false);
    expect(code?.last?.error).toMatch(/build failed/);

    // fixing it rebuilds and restarts again
    copy.edit('callme/routes.ts', '(edited)` +;', '(fixed)`;');
    await run.waitFor(/callme-service: restarted in/, 90_000);
    await eventually(async () => (await httpGet(`${ingress}/caller/ping`, HOST)).body.includes('(fixed)'), 10_000, 'the fixed answer');
  }, 150_000);

  it('editor temp files and files outside the watched paths do not trigger a build', async () => {
    const rounds = (await status()).reload.code.find((c) => c.service === 'callme-service')!.rounds;
    copy.write('callme/.routes.ts.swp', 'swap');
    copy.write('callme/routes.ts~', 'backup');
    copy.write('callme/notes.md', 'not code');
    copy.write('README.md', `${copy.read('README.md')}\n`);
    await sleep(1000);
    expect((await status()).reload.code.find((c) => c.service === 'callme-service')!.rounds).toBe(rounds);
    expect(run.output().slice(-2000)).not.toContain('.routes.ts.swp');
  }, 30_000);
});
