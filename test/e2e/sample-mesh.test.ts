/**
 * The sample mesh end to end, as a new user runs it: `meshbox up` (process runtime), requests
 * through the ingress gateway, metrics, Ctrl-C.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad } from '../../sandbox/chaos/load-generator.js';
import { isAlive } from '../../sandbox/runtime/sandbox-state.js';
import { isPortOpen } from '../../sandbox/runtime/ports.js';
import { httpGet, interrupt, runCli, startCli, waitForHttp, type CliRun } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';

const HOST = { host: 'caller.example.com' };

describe('meshbox up with the sample mesh', () => {
  let run: CliRun;
  let ingress = '';
  let admin = '';
  let stateDir = '';

  beforeAll(async () => {
    const [ip, ap] = [await freePort(), await freePort()];
    ingress = `http://127.0.0.1:${ip}`;
    admin = `http://127.0.0.1:${ap}`;
    stateDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-state-'));
    run = startCli(['up', '--headless', '--runtime', 'process', '--ingress-port', String(ip), '--admin-port', String(ap), '--seed', '42', '--no-logs'], { MESHBOX_STATE_DIR: stateDir });
    await run.waitFor('meshbox is up', 45_000);
    await waitForHttp(`${admin}/ready`);
  });

  afterAll(async () => {
    if (run) await interrupt(run);
  });

  it('answers through the mesh: ingress -> caller -> callme', async () => {
    const r = await httpGet(`${ingress}/caller/ping`, HOST);
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/^I'm caller-service v1\. Calling\.\.\. I'm callme-service v[12]$/);
    expect(r.headers['x-envoy-upstream-service-time']).toBeDefined();
  });

  it('sends 80% ± 4 of 1000 requests to callme v2', async () => {
    const result = await runLoad({
      url: `${ingress}/caller/ping`,
      headers: HOST,
      concurrency: 8,
      maxRequests: 1000,
      durationMs: 60_000,
      classify: (_res, body) => (body.endsWith('v2') ? 'v2' : body.endsWith('v1') ? 'v1' : 'other'),
    });
    expect(result.completed).toBe(1000);
    const v2 = (result.classCounts['v2'] ?? 0) / result.completed;
    expect(v2).toBeGreaterThan(0.76);
    expect(v2).toBeLessThan(0.84);
  });

  it('retries turn callme’s ~50% 504s into mostly successes', async () => {
    const result = await runLoad({ url: `${ingress}/caller/ping-with-random-error`, headers: HOST, concurrency: 4, maxRequests: 400, durationMs: 60_000 });
    const ok = (result.statusCounts['200'] ?? 0) / result.completed;
    // four attempts each failing with p=0.5: ~94% succeed
    expect(ok).toBeGreaterThan(0.85);
  });

  it('slow callme calls hit the 0.5 s route timeout: 504 upstream request timeout', async () => {
    const result = await runLoad({
      url: `${ingress}/caller/ping-with-random-delay`,
      headers: HOST,
      concurrency: 10,
      maxRequests: 60,
      durationMs: 60_000,
      classify: (res, body) => `${res.statusCode} ${body}`,
    });
    const timeouts = result.classCounts["504 I'm caller-service v1. Calling... upstream request timeout"] ?? 0;
    // delays are uniform in 0-3 s, so ~83% exceed 0.5 s
    expect(timeouts / result.completed).toBeGreaterThan(0.6);
    expect(result.statusCounts['200'] ?? 0).toBeGreaterThan(0);
  });

  it('exports Istio metrics from both reporters with workload labels', async () => {
    const text = (await httpGet(`${admin}/metrics`)).body;
    expect(text).toMatch(/istio_requests_total\{reporter="source",source_workload="caller-service-v1",[^}]*destination_workload="callme-service-v2",[^}]*destination_app="callme-service",destination_version="v2",destination_service="callme-service\.default\.svc\.cluster\.local"[^}]*response_code="200"/);
    expect(text).toMatch(/istio_requests_total\{reporter="destination",source_workload="caller-service-v1",[^}]*destination_workload="callme-service-v1"/);
    expect(text).toMatch(/istio_requests_total\{reporter="source",source_workload="istio-ingressgateway",[^}]*destination_workload="caller-service-v1"/);
    expect(text).toMatch(/response_flags="URX"|response_flags="UT"/);
  });

  it('status, config_dump and clusters describe the running mesh', async () => {
    const status = JSON.parse((await httpGet(`${admin}/status`)).body) as { instances: Array<{ id: string; healthy: boolean }> };
    expect(status.instances.map((i) => i.id).sort()).toEqual(['caller-service-v1-1', 'callme-service-v1-1', 'callme-service-v2-1', 'callme-service-v2-2', 'greeter-service-v1-1', 'greeter-service-v2-1']);
    expect(status.instances.every((i) => i.healthy)).toBe(true);
    const dump = JSON.parse((await httpGet(`${admin}/config_dump`)).body) as { version: number; rules: Array<{ name: string }> };
    expect(dump.version).toBeGreaterThan(0);
    expect(dump.rules.map((r) => r.name)).toContain('callme-service-route');
    const clusters = (await httpGet(`${admin}/clusters`)).body;
    expect(clusters).toContain('outbound|8080|v2|callme-service.default.svc.cluster.local::127.0.0.1:');
    const cli = await runCli(['status', '--admin', admin], { MESHBOX_STATE_DIR: stateDir });
    expect(cli.code).toBe(0);
    expect(cli.output).toContain('callme-service-v2-2');
  });

  it('runtime faults from the CLI: a 50% abort on callme v2 is masked by the retries, then removed', async () => {
    const add = await runCli(['fault', 'add', 'callme-service', '--subset', 'v2', '--abort', '503', '--percent', '50', '--name', 'flaky-v2', '--admin', admin], { MESHBOX_STATE_DIR: stateDir });
    expect(add.code).toBe(0);
    expect(add.output).toContain('added fault flaky-v2: callme-service subset v2: abort 503 50%');
    const ls = await runCli(['fault', 'ls', '--admin', admin], { MESHBOX_STATE_DIR: stateDir });
    expect(ls.output).toContain('flaky-v2');
    const result = await runLoad({ url: `${ingress}/caller/ping`, headers: HOST, concurrency: 4, maxRequests: 200, durationMs: 60_000 });
    expect((result.statusCounts['200'] ?? 0) / result.completed).toBeGreaterThan(0.9);
    const rm = await runCli(['fault', 'rm', 'flaky-v2', '--admin', admin], { MESHBOX_STATE_DIR: stateDir });
    expect(rm.code).toBe(0);
    expect((await runCli(['fault', 'ls', '--admin', admin], { MESHBOX_STATE_DIR: stateDir })).output).toContain('no active faults');
  });

  it('a latency toxic on callme raises the p50 through the mesh by the injected amount', async () => {
    const latency = async () => (await runLoad({ url: `${ingress}/caller/ping`, headers: HOST, concurrency: 2, maxRequests: 60, durationMs: 60_000 })).latencyMs;
    const before = await latency();
    expect(before.min).toBeLessThan(100);
    const add = await runCli(['fault', 'add', 'callme-service', '--toxic', 'latency', '--attr', 'latency=150', '--ttl', '60s', '--admin', admin], { MESHBOX_STATE_DIR: stateDir });
    expect(add.code).toBe(0);
    const after = await latency();
    // every answer from callme now waits 150 ms in the toxic: no request can be faster than that
    expect(after.min).toBeGreaterThanOrEqual(148);
    expect(after.p50).toBeGreaterThan(before.p50);
    expect((await runCli(['fault', 'rm', '--all', '--admin', admin], { MESHBOX_STATE_DIR: stateDir })).output).toContain('removed 1 runtime fault');
  });

  it('killing a callme v2 instance keeps requests succeeding, and it comes back', async () => {
    const kill = await runCli(['workload', 'kill', 'callme-service-v2-1', '--admin', admin], { MESHBOX_STATE_DIR: stateDir });
    expect(kill.code).toBe(0);
    const result = await runLoad({ url: `${ingress}/caller/ping`, headers: HOST, concurrency: 4, maxRequests: 200, durationMs: 60_000 });
    expect((result.statusCounts['200'] ?? 0) / result.completed).toBeGreaterThan(0.97);
    await waitForHttp(`${admin}/ready`, 200, 20_000);
    const status = JSON.parse((await httpGet(`${admin}/status`)).body) as { instances: Array<{ id: string; healthy: boolean; restarts: number }> };
    expect(status.instances.find((i) => i.id === 'callme-service-v2-1')).toMatchObject({ healthy: true, restarts: 1 });
    const bad = await runCli(['workload', 'kill', 'nope-1', '--admin', admin], { MESHBOX_STATE_DIR: stateDir });
    expect(bad.code).toBe(64);
    expect(bad.output).toContain('no workload instance nope-1');
  });

  it('Ctrl-C stops every process and frees every port', async () => {
    const status = JSON.parse((await httpGet(`${admin}/status`)).body) as { instances: Array<{ pid: number; appPort: number; sidecar: { inbound: number } }> };
    const code = await interrupt(run);
    expect(code).toBe(0);
    for (const i of status.instances) {
      expect(isAlive(i.pid)).toBe(false);
      expect(await isPortOpen(i.appPort)).toBe(false);
      expect(await isPortOpen(i.sidecar.inbound)).toBe(false);
    }
    expect(await isPortOpen(Number(new URL(ingress).port))).toBe(false);
    expect(await isPortOpen(Number(new URL(admin).port))).toBe(false);
    // the on-disk record used to clean up after a crash is gone too
    expect(readdirSync(path.join(stateDir, 'sandboxes')).filter((f) => f.endsWith('.json'))).toEqual([]);
  });
});

describe('meshbox up with bad input', () => {
  it('reports a config error with its location and starts nothing', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-bad-'));
    const file = path.join(dir, 'meshbox.yaml');
    writeFileSync(file, 'services:\n  web:\n    port: 8080\n    comand: [node, x.js]\n');
    const r = await runCli(['up', '--headless', '--config', file, '--ingress-port', String(await freePort()), '--admin-port', String(await freePort())]);
    expect(r.code).toBe(1);
    expect(r.output).toContain(`${file}:4:5`);
    expect(r.output).toMatch(/comand/);
    expect(r.output).toContain('MESH_ERR_CONFIG_INVALID');
  });

  it('says which port is in use and which flag changes it', async () => {
    const net = await import('node:net');
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    try {
      const r = await runCli(['up', '--headless', '--ingress-port', String(port), '--admin-port', String(await freePort())]);
      expect(r.code).toBe(2);
      expect(r.output).toContain(`the ingress gateway cannot listen on 127.0.0.1:${port}: the port is already in use`);
      expect(r.output).toContain('--ingress-port');
    } finally {
      blocker.close();
    }
  });

  it('a missing config file is one clear message', async () => {
    const r = await runCli(['up', '--config', '/nonexistent/meshbox.yaml']);
    expect(r.code).toBe(1);
    expect(r.output).toContain('MESH_ERR_CONFIG_NOT_FOUND');
    expect(r.output).not.toMatch(/at .*\.js:\d+/);
  });
});

describe('meshbox killed with -9 (process runtime)', () => {
  it('its watchdog stops every workload process at once, and the record goes away', async () => {
    const [ip, ap] = [await freePort(), await freePort()];
    const admin = `http://127.0.0.1:${ap}`;
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-state-'));
    const run = startCli(['up', '--headless', '--runtime', 'process', '--ingress-port', String(ip), '--admin-port', String(ap), '--no-logs', '--no-access-log'], { MESHBOX_STATE_DIR: stateDir });
    try {
      await run.waitFor('meshbox is up', 45_000);
      const status = JSON.parse((await httpGet(`${admin}/status`)).body) as { instances: Array<{ pid: number; appPort: number }> };
      expect(status.instances.every((i) => isAlive(i.pid))).toBe(true);
      const records = path.join(stateDir, 'sandboxes');
      expect(readdirSync(records).filter((f) => f.endsWith('.token'))).toHaveLength(1);
      run.proc.kill('SIGKILL');
      await run.exited;
      // a busy machine may take a moment to schedule the watchdog
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && status.instances.some((i) => isAlive(i.pid))) await new Promise((r) => setTimeout(r, 100));
      for (const i of status.instances) {
        expect(isAlive(i.pid)).toBe(false);
        expect(await isPortOpen(i.appPort)).toBe(false);
      }
      // the record and the admin token go with them (the watchdog removes them right after)
      while (Date.now() < deadline && readdirSync(records).length > 0) await new Promise((r) => setTimeout(r, 100));
      expect(readdirSync(records)).toEqual([]);
    } finally {
      if (run.proc.exitCode === null) run.proc.kill('SIGKILL');
    }
  });
});
