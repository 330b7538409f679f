/**
 * The UI's controller of a real Sandbox (the sample mesh, process runtime): what it reads, the
 * load target and generator, faults and workload chaos as the keys use them; and `gatewayHost`
 * on rule files.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandboxController, gatewayHost } from '../../cli/tui/sandbox-controller.js';
import { shouldUseTui } from '../../cli/tui/run-tui.js';
import type { SandboxController } from '../../cli/tui/controller.js';
import { ViewStore } from '../../cli/tui/view-store.js';
import { parseRulesText } from '../../sandbox/config/rules-loader.js';
import type { MeshEvent } from '../../sandbox/events.js';
import { Sandbox } from '../../sandbox/sandbox.js';
import { freePort } from '../helpers/free-port.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

describe('gatewayHost', () => {
  const rules = (yaml: string) => parseRulesText(yaml, 'rules.yaml').resources;

  it('takes the first host of a Gateway-bound VirtualService, with its uri prefix', () => {
    const r = rules(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: inside }
spec: { hosts: [callme-service], http: [{ route: [{ destination: { host: callme-service } }] }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: edge }
spec:
  hosts: ['*.example.com', shop.example.com]
  gateways: [edge-gateway]
  http:
    - match: [{ uri: { prefix: /shop } }]
      route: [{ destination: { host: shop } }]
`);
    expect(gatewayHost(r)).toEqual({ host: 'shop.example.com', path: '/shop' });
  });

  it('falls back to a Gateway server host, and to nothing', () => {
    const r = rules(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw }
spec: { selector: { istio: ingressgateway }, servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ['*.x.com', 'ns/api.x.com'] }] }
`);
    expect(gatewayHost(r)).toEqual({ host: 'api.x.com' });
    expect(gatewayHost([])).toBeUndefined();
  });
});

describe('shouldUseTui', () => {
  it('wants a terminal, no --headless and no CI', () => {
    const tty = { isTTY: true } as NodeJS.WriteStream;
    const pipe = { isTTY: false } as NodeJS.WriteStream;
    const ci = process.env.CI;
    delete process.env.CI;
    try {
      expect(shouldUseTui({}, tty)).toBe(true);
      expect(shouldUseTui({ headless: true }, tty)).toBe(false);
      expect(shouldUseTui({}, pipe)).toBe(false);
      process.env.CI = 'true';
      expect(shouldUseTui({}, tty)).toBe(false);
      process.env.CI = 'false';
      expect(shouldUseTui({}, tty)).toBe(true);
    } finally {
      if (ci === undefined) delete process.env.CI;
      else process.env.CI = ci;
    }
  });
});

describe('the controller of a running sample mesh', () => {
  let sandbox: Sandbox;
  let controller: SandboxController;
  let store: ViewStore;
  const events: MeshEvent[] = [];
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-tui-state-'));
  const savedState = process.env.MESHBOX_STATE_DIR;

  beforeAll(async () => {
    process.env.MESHBOX_STATE_DIR = stateDir;
    sandbox = new Sandbox({ runtime: 'process', ingressPort: await freePort(), adminPort: await freePort(), accessLogDir: false, seed: 11 });
    controller = createSandboxController(sandbox);
    // reads before up() has run are safe: the UI opens before the sandbox exists
    expect(controller.info().runtime).toBeUndefined();
    expect(controller.instances()).toEqual([]);
    expect(controller.snapshotVersion()).toBe(0);
    expect(controller.load.target()).toBeUndefined();
    await expect(controller.workloads.kill('x')).rejects.toThrow(/still starting/);
    store = new ViewStore(controller);
    controller.onEvent((e) => events.push(e));
    await sandbox.up();
  });

  afterAll(async () => {
    await controller?.load.stop();
    store?.stop();
    await sandbox?.down();
    if (savedState === undefined) delete process.env.MESHBOX_STATE_DIR;
    else process.env.MESHBOX_STATE_DIR = savedState;
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('reads the sandbox: info, instances, rules, snapshot version', () => {
    const info = controller.info();
    expect(info).toMatchObject({ name: 'sample', runtime: 'process', seed: 11 });
    expect(info.ingressUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(controller.instances().map((i) => `${i.id} ${i.state} ${i.healthy}`)).toEqual([
      'caller-service-v1-1 running true',
      'callme-service-v1-1 running true',
      'callme-service-v2-1 running true',
      'callme-service-v2-2 running true',
      'greeter-service-v1-1 running true',
      'greeter-service-v2-1 running true',
    ]);
    const resources = controller.resources().map((r) => `${r.kind} ${r.name} ${path.basename(r.file)}`);
    expect(resources).toEqual(expect.arrayContaining(['Gateway caller-gateway caller-service.yaml', 'VirtualService callme-service-route callme-service.yaml', 'DestinationRule callme-service-destination callme-service.yaml', 'VirtualService greeter-service-route greeter-service.yaml', 'DestinationRule greeter-service-destination greeter-service.yaml']));
    expect(controller.resources().every((r) => r.line > 0 && r.col > 0)).toBe(true);
    expect(controller.snapshotVersion()).toBeGreaterThan(0);
    expect(controller.findings()).toEqual([]);
  });

  it('sends load to the first Gateway-bound host at the chosen rate, and stops', async () => {
    expect(controller.load.target()).toEqual({ baseUrl: controller.info().ingressUrl, host: 'caller.example.com', path: '/caller/ping' });
    controller.load.start({ rate: 50 });
    await until(() => (controller.load.status()?.completed ?? 0) >= 20);
    const status = controller.load.status()!;
    expect(status).toMatchObject({ running: true, rate: 50, host: 'caller.example.com', path: '/caller/ping' });
    expect(status.statusClasses['2xx']).toBeGreaterThan(0);
    await controller.load.stop();
    expect(controller.load.status()!.running).toBe(false);
    store.publish();
    const edge = store.getSnapshot().edges.find((e) => e.source === 'caller-service-v1' && e.destination === 'callme-service');
    expect(edge?.split.map((s) => s.version)).toEqual(['v1', 'v2']);
  });

  it('adds and clears runtime faults (events included)', () => {
    const record = controller.faults!.add({ target: { service: 'callme-service', subset: 'v2' }, http: { abort: { httpStatus: 503, percent: 50 } } });
    expect(controller.faults!.list().map((f) => f.name)).toContain(record.name);
    expect(events.some((e) => e.type === 'mesh:fault:added' && e.name === record.name)).toBe(true);
    expect(controller.faults!.clear()).toBe(1);
    expect(controller.faults!.list()).toEqual([]);
  });

  it('pauses and resumes an instance, and says so in instances()', async () => {
    await controller.workloads.pause('callme-service-v1-1');
    expect(controller.instances().find((i) => i.id === 'callme-service-v1-1')!.paused).toBe(true);
    await controller.workloads.resume('callme-service-v1-1');
    expect(controller.instances().find((i) => i.id === 'callme-service-v1-1')!.paused).toBe(false);
  });

  it('restarts an instance', async () => {
    await controller.workloads.restart('callme-service-v1-1');
    await until(() => controller.instances().find((i) => i.id === 'callme-service-v1-1')!.healthy, 20_000);
    expect(events.some((e) => e.type === 'mesh:workload:stopped' && e.instance === 'callme-service-v1-1')).toBe(true);
  }, 30_000);
});
