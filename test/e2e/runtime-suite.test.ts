/**
 * The same behaviour suite against both runtimes, through the CLI as a user runs it: `meshbox up
 * --runtime process|docker` with the sample mesh, then routing (80/20 split), retries, an injected
 * fault, workload chaos through the WorkloadManager verbs (kill under load from the CLI and
 * recovery; pause/resume and stop/start through the admin API) and cleanup on Ctrl-C. The Docker half is skipped locally when no daemon answers (with a message) and fails in
 * CI instead.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad } from '../../sandbox/chaos/load-generator.js';
import { isPortOpen } from '../../sandbox/runtime/ports.js';
import { isAlive } from '../../sandbox/runtime/sandbox-state.js';
import { adminRequest } from '../../cli/admin-client.js';
import { httpGet, interrupt, runCli, startCli, waitForHttp, type CliRun } from '../helpers/cli.js';
import { dockerForTests, instanceContainer, sandboxContainers, testDocker } from '../helpers/docker-available.js';
import { freePort } from '../helpers/free-port.js';

const HOST = { host: 'caller.example.com' };
const docker = await dockerForTests('runtime suite on the docker runtime');

interface Status {
  sandbox: string;
  runtime: string;
  instances: Array<{ id: string; state: string; healthy: boolean; pid?: number; appPort: number; restarts: number; sidecar: { inbound: number } }>;
}

const RUNTIMES = [
  { runtime: 'process', enabled: true },
  { runtime: 'docker', enabled: docker.available },
] as const;

for (const { runtime, enabled } of RUNTIMES) {
  describe.skipIf(!enabled)(`the sample mesh on the ${runtime} runtime`, { timeout: 120_000 }, () => {
    let run: CliRun;
    let ingress = '';
    let admin = '';
    let sandbox = '';
    let stateDir = '';
    let d: Dockerode | undefined;
    const savedStateDir = process.env.MESHBOX_STATE_DIR;

    const status = async (): Promise<Status> => JSON.parse((await httpGet(`${admin}/status`)).body) as Status;
    const instance = async (id: string): Promise<Status['instances'][number]> => (await status()).instances.find((i) => i.id === id)!;
    const cli = async (...args: string[]): Promise<string> => {
      const r = await runCli([...args, '--admin', admin], { MESHBOX_STATE_DIR: stateDir });
      expect(r.code, r.output).toBe(0);
      return r.output;
    };
    /** a WorkloadManager verb through the admin API (what `meshbox workload <verb>` sends) */
    const workload = async (action: string, id: string): Promise<void> => {
      const r = await adminRequest(`${admin}/workloads/${id}/${action}`, 'POST');
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    };
    /** the process or container state of an instance: running, paused or gone */
    const osState = async (id: string): Promise<'running' | 'paused' | 'gone'> => {
      if (runtime === 'docker') {
        const c = await instanceContainer(d!, sandbox, id);
        return !c ? 'gone' : c.State === 'paused' ? 'paused' : c.State === 'running' ? 'running' : 'gone';
      }
      const pid = (await instance(id)).pid;
      if (!pid || !isAlive(pid)) return 'gone';
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0];
      return state === 'T' || state === 't' ? 'paused' : 'running';
    };

    beforeAll(async () => {
      if (runtime === 'docker') d = await testDocker();
      const [ip, ap] = [await freePort(), await freePort()];
      ingress = `http://127.0.0.1:${ip}`;
      admin = `http://127.0.0.1:${ap}`;
      stateDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-state-'));
      // the CLI and adminRequest below find the sandbox's admin token there, as the user's CLI does
      process.env.MESHBOX_STATE_DIR = stateDir;
      run = startCli(['up', '--headless', '--runtime', runtime, '--ingress-port', String(ip), '--admin-port', String(ap), '--seed', '11', '--no-logs', '--no-access-log'], { MESHBOX_STATE_DIR: stateDir });
      // cold Docker images are built here (a few seconds; see the start-time bench)
      await run.waitFor('meshbox is up', 120_000);
      await waitForHttp(`${admin}/ready`);
      sandbox = (await status()).sandbox;
    }, 150_000);

    afterAll(async () => {
      if (run) await interrupt(run);
      if (savedStateDir === undefined) delete process.env.MESHBOX_STATE_DIR;
      else process.env.MESHBOX_STATE_DIR = savedStateDir;
    });

    it('answers through the mesh: ingress -> caller -> callme', async () => {
      const s = await status();
      expect(s.runtime).toBe(runtime);
      expect(s.instances.map((i) => i.id).sort()).toEqual(['caller-service-v1-1', 'callme-service-v1-1', 'callme-service-v2-1', 'callme-service-v2-2', 'greeter-service-v1-1', 'greeter-service-v2-1']);
      const r = await httpGet(`${ingress}/caller/ping`, HOST);
      expect(r.status).toBe(200);
      expect(r.body).toMatch(/^I'm caller-service v1\. Calling\.\.\. I'm callme-service v[12]$/);
      if (runtime === 'docker') {
        // one labelled container per instance, on the host network
        expect(await sandboxContainers(sandbox, d)).toEqual(s.instances.map((i) => `meshbox-${sandbox}-${i.id}`).sort());
        const c = await instanceContainer(d!, sandbox, 'callme-service-v2-1');
        expect(c?.Labels).toMatchObject({ 'meshbox.sandbox': sandbox, 'meshbox.service': 'callme-service', 'meshbox.version': 'v2', 'meshbox.instance': 'callme-service-v2-1' });
        expect(c?.HostConfig.NetworkMode).toBe('host');
      }
    });

    it('splits callme traffic 80/20 between v2 and v1', async () => {
      const result = await runLoad({
        url: `${ingress}/caller/ping`,
        headers: HOST,
        concurrency: 8,
        maxRequests: 600,
        durationMs: 60_000,
        classify: (_res, body) => (body.endsWith('v2') ? 'v2' : body.endsWith('v1') ? 'v1' : 'other'),
      });
      expect(result.completed).toBe(600);
      const v2 = (result.classCounts['v2'] ?? 0) / result.completed;
      expect(v2).toBeGreaterThan(0.75);
      expect(v2).toBeLessThan(0.85);
    });

    it('retries turn callme’s ~50% errors into mostly successes', async () => {
      const result = await runLoad({ url: `${ingress}/caller/ping-with-random-error`, headers: HOST, concurrency: 4, maxRequests: 300, durationMs: 60_000 });
      expect((result.statusCounts['200'] ?? 0) / result.completed).toBeGreaterThan(0.85);
    });

    it('an injected abort on callme v1 fails the v1 share only, until it is removed', async () => {
      const added = await adminRequest(`${admin}/faults`, 'POST', { name: 'v1-down', target: { service: 'callme-service', subset: 'v1' }, http: { abort: { httpStatus: 503, percent: 100 } } });
      expect(added.status).toBe(201);
      const result = await runLoad({
        url: `${ingress}/caller/ping`,
        headers: HOST,
        concurrency: 4,
        maxRequests: 300,
        durationMs: 60_000,
        classify: (res, body) => `${res.statusCode} ${body.endsWith('v2') ? 'v2' : body.endsWith('v1') ? 'v1' : 'other'}`,
      });
      const failed = (result.statusCounts['503'] ?? 0) / result.completed;
      expect(failed).toBeGreaterThan(0.1);
      expect(failed).toBeLessThan(0.3);
      expect(result.classCounts['200 v1'] ?? 0).toBe(0);
      expect((await adminRequest(`${admin}/faults`, 'DELETE')).status).toBe(200);
      const after = await runLoad({ url: `${ingress}/caller/ping`, headers: HOST, concurrency: 4, maxRequests: 100, durationMs: 60_000 });
      expect(after.statusCounts['200']).toBe(100);
    });

    it('killing a callme v2 instance under load keeps requests succeeding, and it comes back', async () => {
      const before = runtime === 'docker' ? (await instanceContainer(d!, sandbox, 'callme-service-v2-1'))?.Id : (await instance('callme-service-v2-1')).pid;
      const load = runLoad({ url: `${ingress}/caller/ping`, headers: HOST, concurrency: 4, maxRequests: 400, durationMs: 60_000 });
      await new Promise((r) => setTimeout(r, 300));
      await cli('workload', 'kill', 'callme-service-v2-1');
      const result = await load;
      expect((result.statusCounts['200'] ?? 0) / result.completed).toBeGreaterThan(0.97);
      await waitForHttp(`${admin}/ready`, 200, 20_000);
      const back = await instance('callme-service-v2-1');
      expect(back).toMatchObject({ healthy: true, state: 'running' });
      expect(back.restarts).toBeGreaterThanOrEqual(1);
      const after = runtime === 'docker' ? (await instanceContainer(d!, sandbox, 'callme-service-v2-1'))?.Id : back.pid;
      expect(after).toBeDefined();
      expect(after).not.toBe(before);
      expect(await osState('callme-service-v2-1')).toBe('running');
    });

    it('pause freezes an instance and resume thaws it', async () => {
      await workload('pause', 'callme-service-v1-1');
      expect(await osState('callme-service-v1-1')).toBe('paused');
      const port = (await instance('callme-service-v1-1')).appPort;
      const frozen = await Promise.race([httpGet(`http://127.0.0.1:${port}/actuator/health`).then(() => 'answered'), new Promise((r) => setTimeout(() => r('no answer'), 500))]);
      expect(frozen).toBe('no answer');
      await workload('resume', 'callme-service-v1-1');
      expect(await osState('callme-service-v1-1')).toBe('running');
      expect((await httpGet(`http://127.0.0.1:${port}/actuator/health`)).status).toBe(200);
    });

    it('stop takes an instance away for good; start brings it back', async () => {
      await workload('stop', 'callme-service-v2-2');
      expect(await instance('callme-service-v2-2')).toMatchObject({ state: 'stopped', healthy: false });
      expect(await osState('callme-service-v2-2')).toBe('gone');
      const result = await runLoad({ url: `${ingress}/caller/ping`, headers: HOST, concurrency: 2, maxRequests: 60, durationMs: 60_000 });
      expect(result.statusCounts['200']).toBe(60);
      await workload('start', 'callme-service-v2-2');
      await waitForHttp(`${admin}/ready`, 200, 20_000);
      expect(await osState('callme-service-v2-2')).toBe('running');
    });

    it('Ctrl-C stops every workload and frees every port', async () => {
      const s = await status();
      const code = await interrupt(run);
      expect(code).toBe(0);
      for (const i of s.instances) {
        if (i.pid) expect(isAlive(i.pid)).toBe(false);
        expect(await isPortOpen(i.appPort)).toBe(false);
        expect(await isPortOpen(i.sidecar.inbound)).toBe(false);
      }
      expect(await isPortOpen(Number(new URL(ingress).port))).toBe(false);
      if (runtime === 'docker') expect(await sandboxContainers(sandbox, d)).toEqual([]);
    });
  });
}
