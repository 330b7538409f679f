/**
 * Mesh services (and versions) as Toxiproxy proxies: toxics added with toxiproxy-node-client act
 * on the links from calling sidecars to the service's endpoints (through the runtime fault store,
 * like every meshbox toxic), on real sockets through a running mesh.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Toxiproxy, type ICreateToxicBody, type Latency } from 'toxiproxy-node-client';
import { FaultStore } from '../../../sandbox/faults/fault-store.js';
import { meshViewOf, startToxiproxyApi } from '../../../sandbox/toxiproxy-api/toxiproxy-api.js';
import type { ToxiproxyServer } from '../../../sandbox/toxiproxy-api/toxiproxy-server.js';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';

let h: Harness;
let faults: FaultStore;
let api: ToxiproxyServer;
let toxiproxy: Toxiproxy;

beforeAll(async () => {
  h = await startHarness(
    [
      { name: 'caller', versions: { v1: 1 } },
      { name: 'callme', versions: { v1: 1, v2: 1 } },
    ],
    11,
  );
  // as the Sandbox's fault targets: the mesh's services and versions, and the standalone proxies
  faults = new FaultStore(
    h.bus,
    () => [],
    () => new Map([...h.mesh.services.map((s) => [s.name, new Set(s.workloads.map((w) => w.version))] as const), ...(api?.proxies.standaloneTargets() ?? []).map((n) => [n, new Set<string>()] as const)]),
  );
  // as the Sandbox wires it: every change of the store is pushed
  faults.onChange(() => void h.controlPlane.setRuntimeFaults(faults.runtimeFaults()));
  api = await startToxiproxyApi({
    port: 0,
    seed: 11,
    inProcess: true,
    mesh: meshViewOf(() => h.mesh, h.registry),
    faults,
    syncFaults: () => h.controlPlane.setRuntimeFaults(faults.runtimeFaults()),
  });
  toxiproxy = new Toxiproxy(api.url);
});

afterAll(async () => {
  await api?.close();
  faults?.close();
  await h?.close();
});

beforeEach(async () => {
  await toxiproxy.reset();
});

/** the median time of 7 requests from the caller to callme, and which versions answered */
async function measure(path = '/x'): Promise<{ p50: number; statuses: number[]; instances: string[] }> {
  const times: number[] = [];
  const statuses: number[] = [];
  const instances: string[] = [];
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    const r = await h.request({ from: 'caller-v1-1', host: 'callme', path });
    times.push(performance.now() - t);
    statuses.push(r.status);
    instances.push(String(r.headers['x-instance'] ?? ''));
  }
  return { p50: times.sort((a, b) => a - b)[3]!, statuses, instances };
}

describe('mesh proxies', () => {
  it('every service and version is a proxy, named <service> and <service>-<version>', async () => {
    const all = await toxiproxy.getAll();
    expect(Object.keys(all)).toEqual(['caller', 'caller-v1', 'callme', 'callme-v1', 'callme-v2']);
    const v2 = h.instance('callme-v2-1');
    const v1 = h.instance('callme-v1-1');
    expect(all['callme']!.toJson()).toEqual({ name: 'callme', listen: 'callme:8080', upstream: `127.0.0.1:${v1.sidecar.inbound},127.0.0.1:${v2.sidecar.inbound}`, enabled: true });
    expect(all['callme-v2']!.upstream).toBe(`127.0.0.1:${v2.sidecar.inbound}`);
  });

  it('a latency toxic on a service delays its answers through the mesh, and goes when removed', async () => {
    const base = await measure();
    const proxy = await toxiproxy.get('callme');
    const toxic = await proxy.addToxic({ type: 'latency', attributes: { latency: 250, jitter: 0 } } as ICreateToxicBody<Latency>);
    expect(toxic.name).toBe('latency_downstream');
    expect(faults.runtimeFaults().map((f) => f.name)).toEqual(['toxiproxy-callme']);
    const slow = await measure();
    expect(slow.statuses.every((s) => s === 200)).toBe(true);
    // every answer waits 250 ms on its link: never less, however loaded the machine
    expect(slow.p50).toBeGreaterThanOrEqual(245);
    expect(slow.p50 - base.p50).toBeGreaterThanOrEqual(200);
    await toxic.remove();
    expect(faults.runtimeFaults()).toEqual([]);
    expect((await measure()).p50).toBeLessThan(base.p50 + 150);
  });

  it('a toxic on a version proxy hits only that version', async () => {
    const proxy = await toxiproxy.get('callme-v2');
    await proxy.addToxic({ type: 'latency', attributes: { latency: 250 } } as ICreateToxicBody<Latency>);
    const times: Record<string, number[]> = {};
    for (let i = 0; i < 12; i++) {
      const t = performance.now();
      const r = await h.request({ from: 'caller-v1-1', host: 'callme', path: '/x' });
      (times[String(r.headers['x-instance'])] ??= []).push(performance.now() - t);
    }
    expect(Math.min(...times['callme-v2-1']!)).toBeGreaterThanOrEqual(245);
    const v1 = times['callme-v1-1']!.sort((a, b) => a - b);
    expect(v1[Math.floor(v1.length / 2)]).toBeLessThan(200);
  });

  it('a disabled mesh proxy refuses its links (503 from the calling sidecar); enabling brings it back', async () => {
    const proxy = await toxiproxy.get('callme');
    const off = await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
    expect(off.enabled).toBe(false);
    const down = await measure();
    expect(down.statuses.every((s) => s === 503)).toBe(true);
    const r = await h.request({ from: 'caller-v1-1', host: 'callme', path: '/x' });
    expect(r.body).toBe('upstream connect error or disconnect/reset before headers. reset reason: connection termination');
    const on = await off.update({ enabled: true, listen: proxy.listen, upstream: proxy.upstream });
    expect(on.enabled).toBe(true);
    expect((await measure()).statuses.every((s) => s === 200)).toBe(true);
  });

  it('DELETE of a mesh proxy resets it (the service stays in the mesh); reset clears every mesh toxic', async () => {
    await (await toxiproxy.get('callme-v1')).addToxic({ type: 'latency', attributes: { latency: 250 } } as ICreateToxicBody<Latency>);
    await (await toxiproxy.get('callme-v2')).addToxic({ type: 'latency', attributes: { latency: 250 } } as ICreateToxicBody<Latency>);
    await (await toxiproxy.get('callme-v1')).remove();
    expect(faults.runtimeFaults().map((f) => f.name)).toEqual(['toxiproxy-callme-v2']);
    expect(Object.keys(await toxiproxy.getAll())).toContain('callme-v1');
    await toxiproxy.reset();
    expect(faults.runtimeFaults()).toEqual([]);
    expect((await measure()).p50).toBeLessThan(200);
  });

  it('a toxic added and removed at once leaves the data plane without it', async () => {
    const proxy = await toxiproxy.get('callme');
    const base = await measure();
    for (let i = 0; i < 5; i++) {
      const toxic = await proxy.addToxic({ type: 'latency', name: `burst-${i}`, attributes: { latency: 400 } } as ICreateToxicBody<Latency>);
      await toxic.remove();
    }
    expect(faults.runtimeFaults()).toEqual([]);
    expect((await measure()).p50).toBeLessThan(base.p50 + 150);
  });

  it('when the fault is removed elsewhere (UI, CLI, scenario), the proxy shows no toxic', async () => {
    await (await toxiproxy.get('callme')).addToxic({ type: 'latency', attributes: { latency: 100 } } as ICreateToxicBody<Latency>);
    faults.remove('toxiproxy-callme');
    const res = (await (await fetch(`${api.url}/proxies/callme`)).json()) as { toxics: unknown[] };
    expect(res.toxics).toEqual([]);
  });

  it("mesh proxies keep their listen and upstream, and their names can't be taken", async () => {
    const r = await fetch(`${api.url}/proxies/callme`, { method: 'POST', body: JSON.stringify({ listen: '127.0.0.1:0' }) });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toMatch(/mesh service.*meshbox\.yaml/);
    const dup = await fetch(`${api.url}/proxies`, { method: 'POST', body: JSON.stringify({ name: 'callme', listen: '127.0.0.1:0', upstream: '127.0.0.1:1' }) });
    expect(dup.status).toBe(409);
  });
});

describe('standalone proxies in the fault store', () => {
  let echo: net.Server;
  let echoPort = 0;
  const echoSockets = new Set<net.Socket>();
  beforeAll(async () => {
    echo = net.createServer((c) => {
      echoSockets.add(c);
      c.on('close', () => echoSockets.delete(c));
      c.on('data', (d) => c.write(d));
      c.on('error', () => undefined);
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoPort = (echo.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await toxiproxy.reset();
    for (const name of ['redis_master']) await fetch(`${api.url}/proxies/${name}`, { method: 'DELETE' });
    for (const c of echoSockets) c.destroy();
    await new Promise((r) => echo.close(r));
  });

  /** one round trip through the proxy on a fresh connection, ms */
  const rtt = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const t = performance.now();
      const c = net.connect(port, '127.0.0.1', () => c.write('x'));
      c.once('data', () => {
        resolve(performance.now() - t);
        c.destroy();
      });
      c.once('error', reject);
    });

  it("its API toxics are a runtime fault on its name, and a scenario's fault on that name acts on it", async () => {
    const proxy = await toxiproxy.createProxy({ name: 'redis_master', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echoPort}` });
    const port = Number(proxy.listen.split(':')[1]);
    await proxy.addToxic({ type: 'latency', attributes: { latency: 150 } } as ICreateToxicBody<Latency>);
    const record = faults.runtimeFaults().find((f) => f.name === 'toxiproxy-redis_master');
    expect(record?.spec).toEqual({ name: 'toxiproxy-redis_master', target: { service: 'redis-master' }, toxics: [{ type: 'latency', name: 'latency_downstream', stream: 'downstream', toxicity: 1, attributes: { latency: 150, jitter: 0 } }] });
    expect(await rtt(port)).toBeGreaterThanOrEqual(148);

    // a fault added elsewhere (scenario step, `meshbox fault add redis-master --toxic ...`) stacks on it
    faults.add({ name: 'scenario-slow-redis', target: { service: 'redis-master' }, toxics: [{ type: 'latency', attributes: { latency: 200 } }] });
    await new Promise((r) => setTimeout(r, 50));
    expect(await rtt(port)).toBeGreaterThanOrEqual(345);
    faults.remove('scenario-slow-redis');
    await new Promise((r) => setTimeout(r, 50));
    const back = await rtt(port);
    expect(back).toBeGreaterThanOrEqual(148);
    expect(back).toBeLessThan(340);

    // the API's fault removed elsewhere (the UI, `meshbox fault rm`): the toxic is gone for the API too
    faults.remove('toxiproxy-redis_master');
    await new Promise((r) => setTimeout(r, 50));
    expect(await rtt(port)).toBeLessThan(140);
    expect(((await (await fetch(`${api.url}/proxies/redis_master/toxics`)).json()) as unknown[]).length).toBe(0);
  });
});
