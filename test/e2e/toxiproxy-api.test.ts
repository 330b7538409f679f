/**
 * `meshbox up` serves Toxiproxy's API: a Toxiproxy suite (toxiproxy-node-client) points at it
 * unchanged, the mesh's services are its proxies, and a port conflict is handled as documented.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Toxiproxy, type ICreateToxicBody, type Latency } from 'toxiproxy-node-client';
import { httpGet, interrupt, runCli, startCli, waitForHttp, type CliRun } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';

const HOST = { host: 'caller.example.com' };

async function p50(url: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 9; i++) {
    const t = performance.now();
    const r = await httpGet(url, HOST);
    expect(r.status).toBe(200);
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[4]!;
}

describe('meshbox up --toxiproxy-port', () => {
  let run: CliRun;
  let ingress = '';
  let admin = '';
  let toxiproxyUrl = '';
  let stateDir = '';

  beforeAll(async () => {
    const [ip, ap, tp] = [await freePort(), await freePort(), await freePort()];
    ingress = `http://127.0.0.1:${ip}`;
    admin = `http://127.0.0.1:${ap}`;
    toxiproxyUrl = `http://localhost:${tp}`;
    stateDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-state-'));
    run = startCli(['up', '--headless', '--runtime', 'process', '--ingress-port', String(ip), '--admin-port', String(ap), '--toxiproxy-port', String(tp), '--seed', '5', '--no-logs', '--no-watch'], {
      MESHBOX_STATE_DIR: stateDir,
    });
    await run.waitFor('meshbox is up', 45_000);
    await waitForHttp(`${admin}/ready`);
  });

  afterAll(async () => {
    if (run) await interrupt(run);
  });

  it('prints where the API is, and lists the mesh services and versions as proxies', async () => {
    expect(run.output()).toMatch(new RegExp(`toxiproxy http://127\\.0\\.0\\.1:${toxiproxyUrl.split(':').at(-1)}`));
    const all = await new Toxiproxy(toxiproxyUrl).getAll();
    expect(Object.keys(all)).toEqual(['caller-service', 'caller-service-v1', 'callme-service', 'callme-service-v1', 'callme-service-v2', 'greeter-service', 'greeter-service-v1', 'greeter-service-v2']);
    expect(all['callme-service']!.listen).toBe('callme-service:8080');
  });

  it('a latency toxic on callme-service slows the ingress answers by about that much, and is a fault in /faults', async () => {
    const toxiproxy = new Toxiproxy(toxiproxyUrl);
    await toxiproxy.reset();
    const base = await p50(`${ingress}/caller/ping`);
    const toxic = await (await toxiproxy.get('callme-service')).addToxic({ type: 'latency', attributes: { latency: 200, jitter: 0 } } as ICreateToxicBody<Latency>);
    const faults = JSON.parse((await httpGet(`${admin}/faults`)).body) as { faults: Array<{ name: string }> };
    expect(faults.faults.map((f) => f.name)).toContain('toxiproxy-callme-service');
    const slow = await p50(`${ingress}/caller/ping`);
    // every answer from callme waits 200 ms at its link: never less, whatever the machine's load
    expect(slow).toBeGreaterThanOrEqual(199);
    expect(slow - base).toBeGreaterThanOrEqual(170);
    await toxic.remove();
    expect(await p50(`${ingress}/caller/ping`)).toBeLessThan(slow - 120);
    await toxiproxy.reset();
  });

  it('a standalone proxy forwards to a local server through its toxics', async () => {
    const toxiproxy = new Toxiproxy(toxiproxyUrl);
    const proxy = await toxiproxy.createProxy({ name: 'admin_api', listen: '127.0.0.1:0', upstream: admin.replace('http://', '') });
    const through = `http://${proxy.listen}`;
    expect((await httpGet(`${through}/ready`)).body).toBe('LIVE\n');
    await proxy.addToxic({ type: 'latency', attributes: { latency: 300 } } as ICreateToxicBody<Latency>);
    const t = performance.now();
    await httpGet(`${through}/ready`);
    expect(performance.now() - t).toBeGreaterThanOrEqual(295);
    // the proxy is the fault target admin-api: `meshbox fault add` stacks a toxic on it
    const added = await runCli(['fault', 'add', 'admin-api', '--name', 'slower', '--toxic', 'latency', '--attr', 'latency=200', '--admin', admin], { MESHBOX_STATE_DIR: stateDir });
    expect(added.code).toBe(0);
    const t2 = performance.now();
    await httpGet(`${through}/ready`);
    expect(performance.now() - t2).toBeGreaterThanOrEqual(495);
    expect((await runCli(['fault', 'rm', 'slower', '--admin', admin], { MESHBOX_STATE_DIR: stateDir })).code).toBe(0);
    const metrics = (await httpGet(`${admin}/metrics`)).body;
    expect(metrics).toMatch(/istio_tcp_connections_opened_total\{[^}]*destination_service="admin_api"[^}]*request_protocol="tcp"[^}]*\} 3/);
    await proxy.remove();
    await expect(httpGet(`${through}/ready`)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('a Toxiproxy API port that is taken', () => {
  it('given with --toxiproxy-port, the start fails with MESH_ERR_PORT_IN_USE and the flag to use', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as AddressInfo).port;
    try {
      const [ip, ap] = [await freePort(), await freePort()];
      const stateDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-state-'));
      const r = await runCli(['up', '--headless', '--runtime', 'process', '--ingress-port', String(ip), '--admin-port', String(ap), '--toxiproxy-port', String(port), '--no-logs', '--no-watch'], { MESHBOX_STATE_DIR: stateDir });
      expect(r.code).toBe(2);
      expect(r.output).toContain(`error MESH_ERR_PORT_IN_USE: the Toxiproxy API cannot listen on 127.0.0.1:${port}: the port is already in use`);
      expect(r.output).toContain('--toxiproxy-port');
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });
});
