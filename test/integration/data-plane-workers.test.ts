/**
 * The data plane in several worker threads (issue #13.3), on a copy of the sample mesh (real
 * processes, auto mTLS): proxies spread across two workers still serve the sample path, a
 * snapshot reaches every worker, the admin API merges what each worker holds, and the Toxiproxy
 * API's standalone proxies run in a worker too.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRulesText } from '../../sandbox/config/rules-loader.js';
import type { RequestEvent } from '../../sandbox/events.js';
import { Sandbox } from '../../sandbox/sandbox.js';
import { httpGet } from '../helpers/cli.js';
import { copySampleMesh, eventually, type SampleCopy } from '../helpers/reload-fixture.js';

const HOST = { host: 'caller.example.com' };
const FULL = /^I'm caller-service v1\. Calling\.\.\. I'm callme-service v[12]$/;

let copy: SampleCopy;
let sb: Sandbox;
const events: RequestEvent[] = [];
const savedStateDir = process.env.MESHBOX_STATE_DIR;

beforeAll(async () => {
  copy = copySampleMesh();
  process.env.MESHBOX_STATE_DIR = copy.stateDir;
  sb = new Sandbox({ config: copy.meshFile, runtime: 'process', ingressPort: 0, adminPort: 0, accessLogDir: false, watch: false, seed: 5, dataPlaneWorkers: 2, toxiproxy: { port: 0, explicitPort: true } });
  sb.bus.on('mesh:request:end', (e) => events.push(e));
  await sb.up();
}, 60_000);

afterAll(async () => {
  await sb?.down();
  copy?.cleanup();
  if (savedStateDir === undefined) delete process.env.MESHBOX_STATE_DIR;
  else process.env.MESHBOX_STATE_DIR = savedStateDir;
});

/** the proxies of each worker */
function byWorker(): string[][] {
  const out: string[][] = [[], []];
  for (const [proxy, w] of Object.entries(sb.dataPlane.placement().proxies)) out[w]!.push(proxy);
  return out;
}

async function applyRules(yaml: string): Promise<number> {
  const parsed = parseRulesText(yaml, 'inline.yaml');
  const errors = parsed.findings.filter((f) => f.severity === 'error');
  if (errors.length) throw new Error(errors.map((f) => f.message).join('\n'));
  const base = sb.controlPlane.appliedResources.filter((r) => !parsed.resources.some((p) => p.kind === r.kind && p.metadata.name === r.metadata.name));
  return sb.controlPlane.setResources([...base, ...parsed.resources], []);
}

describe('a data plane of two workers', () => {
  it('places whole proxies on both workers, each in its own thread', () => {
    const workers = byWorker();
    expect(sb.dataPlane.workers).toBe(2);
    expect(workers[0]!.length).toBeGreaterThan(0);
    expect(workers[1]!.length).toBeGreaterThan(0);
    // every proxy of the mesh is placed once: the gateway and one sidecar per instance
    expect(workers.flat().sort()).toEqual(['istio-ingressgateway', ...sb.registry.all().map((i) => i.id)].sort());
    const threads = sb.dataPlane.placement().threads;
    expect(new Set(threads).size).toBe(2);
    expect(threads.every((t) => typeof t === 'number')).toBe(true);
  });

  it('serves the sample path across the workers, with one event per proxy leg', async () => {
    for (let i = 0; i < 6; i++) {
      const r = await httpGet(`${sb.ingressUrl}/caller/ping`, HOST);
      expect(r.status).toBe(200);
      expect(r.body).toMatch(FULL);
      expect(r.headers['server']).toBe('istio-envoy');
    }
    const id = (await httpGet(`${sb.ingressUrl}/caller/ping`, { ...HOST, 'x-request-id': 'spread-1' })).status;
    expect(id).toBe(200);
    const legs = await eventually(() => {
      const found = events.filter((e) => e.requestId === 'spread-1');
      return found.length >= 4 && found;
    }, 5_000, 'the 4 events of one request');
    const placement = sb.dataPlane.placement().proxies;
    // gateway, caller inbound + outbound, callme inbound: reported by proxies of both workers
    expect(legs.map((e) => `${e.proxy}/${e.listener}`).sort()).toEqual(
      expect.arrayContaining(['istio-ingressgateway/gateway', 'caller-service-v1-1/inbound', 'caller-service-v1-1/outbound']),
    );
    expect(new Set(legs.map((e) => placement[e.proxy])).size).toBe(2);
    // the mesh hops ran mutual TLS between proxies of different workers
    expect(legs.filter((e) => e.listener === 'inbound').every((e) => e.connectionSecurity === 'mutual_tls')).toBe(true);
  });

  it('applies a snapshot on every worker: the gateway and the caller sidecar both follow the new rules', async () => {
    const workers = byWorker();
    // placed in order, on the least loaded worker: the gateway first, the caller's sidecar next
    expect(workers[0]).toContain('istio-ingressgateway');
    expect(workers[1]).toContain('caller-service-v1-1');
    const version = await applyRules(`
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: caller-service-route }
spec:
  hosts: [caller.example.com]
  gateways: [caller-gateway]
  http:
    - headers:
        response:
          add: { x-rule: gateway-v2 }
      route:
        - destination: { host: caller-service, subset: v1 }
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: callme-service-route }
spec:
  hosts: [callme-service]
  http:
    - fault:
        abort: { percentage: { value: 100 }, httpStatus: 418 }
      route:
        - destination: { host: callme-service }
`);
    // every worker acknowledged it: the merged view reports the oldest version a worker runs
    expect(((await sb.dataPlane.clusters()) as { version: number }).version).toBe(version);
    const r = await httpGet(`${sb.ingressUrl}/caller/ping`, HOST);
    // the gateway's route (worker 1) added its header; the caller's outbound (worker 2) aborted
    expect(r.headers['x-rule']).toBe('gateway-v2');
    expect(r.status).toBe(418);
    await applyRules(`
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: callme-service-route }
spec:
  hosts: [callme-service]
  http:
    - route:
        - destination: { host: callme-service }
`);
    expect((await httpGet(`${sb.ingressUrl}/caller/ping`, HOST)).status).toBe(200);
  });

  it('merges the admin views: clusters of every proxy, secrets once each, handshakes summed', async () => {
    const clusters = JSON.parse((await httpGet(`${sb.adminUrl}/clusters?format=json`)).body) as { clusters: Array<{ proxy: string; name: string }> };
    const proxies = new Set(clusters.clusters.map((c) => c.proxy));
    for (const p of ['istio-ingressgateway', ...sb.registry.all().map((i) => i.id)]) expect(proxies).toContain(p);
    // one instance of a cluster per proxy, as with one worker
    const keys = clusters.clusters.map((c) => `${c.proxy} ${c.name}`);
    expect(new Set(keys).size).toBe(keys.length);
    const text = (await httpGet(`${sb.adminUrl}/clusters`)).body;
    expect(text).toMatch(/^istio-ingressgateway\/outbound\|8080\|v1\|caller-service\.default\.svc\.cluster\.local::127\.0\.0\.1:\d+::/m);

    const secrets = (await sb.dataPlane.secrets()) as { secrets: Array<{ proxyId: string }>; inbound: { handshakes: number }; upstream: { handshakes: number } };
    const ids = secrets.secrets.map((s) => s.proxyId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(['istio-ingressgateway', ...sb.registry.all().map((i) => i.id)].sort());
    // every mTLS connection has a client (upstream) and a server (inbound) side, in some worker
    expect(secrets.inbound.handshakes).toBeGreaterThan(0);
    expect(secrets.upstream.handshakes).toBe(secrets.inbound.handshakes);

    const metrics = (await httpGet(`${sb.adminUrl}/metrics`)).body;
    expect(metrics).toMatch(/istio_requests_total\{reporter="source",[^}]*pod="istio-ingressgateway"\} \d+/);
    expect(metrics).toMatch(/istio_requests_total\{reporter="destination",[^}]*pod="callme-service-v\d-1"\} \d+/);
  });

  it('reports memory per component: the process, the main thread, each worker, each app', async () => {
    const m = JSON.parse((await httpGet(`${sb.adminUrl}/memory`)).body) as {
      process: { pid: number; rssMB: number };
      main: { heapUsedMB: number; spacesMB: Record<string, number> };
      workers: Array<{ heapUsedMB: number; heapTotalMB: number }>;
      apps: Array<{ instance: string; pid: number; rssMB?: number }>;
    };
    expect(m.process.pid).toBe(process.pid);
    expect(m.process.rssMB).toBeGreaterThan(0);
    expect(m.main.heapUsedMB).toBeGreaterThan(0);
    expect(m.main.spacesMB['old_space']).toBeGreaterThan(0);
    expect(m.workers).toHaveLength(2);
    for (const w of m.workers) expect(w.heapTotalMB).toBeGreaterThanOrEqual(w.heapUsedMB);
    expect(m.apps.map((a) => a.instance).sort()).toEqual(sb.registry.all().map((i) => i.id).sort());
    if (process.platform === 'linux') for (const a of m.apps) expect(a.rssMB).toBeGreaterThan(0);
  });

  it('runs the Toxiproxy API\'s standalone proxies in a worker', async () => {
    const upstream = net.createServer((s) => s.end('pong'));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as net.AddressInfo).port;
    try {
      const created = await fetch(`${sb.toxiproxyUrl}/proxies`, {
        method: 'POST',
        body: JSON.stringify({ name: 'standalone-echo', listen: '127.0.0.1:0', upstream: `127.0.0.1:${port}` }),
      });
      expect(created.status).toBe(201);
      const listen = ((await created.json()) as { listen: string }).listen;
      const answer = await new Promise<string>((resolve, reject) => {
        const [h, p] = [listen.slice(0, listen.lastIndexOf(':')), Number(listen.slice(listen.lastIndexOf(':') + 1))];
        const c = net.connect(p, h);
        let got = '';
        c.on('data', (d) => (got += d.toString()));
        c.on('end', () => resolve(got));
        c.on('error', reject);
      });
      expect(answer).toBe('pong');
      expect((await fetch(`${sb.toxiproxyUrl}/proxies/standalone-echo`, { method: 'DELETE' })).status).toBe(204);
    } finally {
      upstream.close();
    }
  });
});
