/**
 * Zero-drop swaps on real sockets: a request in flight finishes on the snapshot it started on,
 * keep-alive connections pick up new rules on their next request, listeners are never closed or
 * reopened for a rule change, rule reloads under load fail no request, and while meshbox restarts
 * a cluster's only instance requests wait for it (bounded) instead of failing.
 */
import http from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LoadGenerator } from '../../../sandbox/chaos/load-generator.js';
import { listenersFor } from '../../../sandbox/control/compiler.js';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';

const DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: backend }
spec:
  host: backend
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
`;

function rules(subset: string, tag: string, extra = ''): string {
  return `${DR}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http:
    - headers: { response: { set: { x-rule: "${tag}" } } }
      route:
        - destination: { host: backend, subset: ${subset} }
${extra}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let h: Harness;
let seq = 0;
const client = 'client-v1-1';

interface Got {
  status: number;
  instance: string;
  rule: string | undefined;
  requestId: string;
  localPort: number;
  reused: boolean;
  body: string;
}

/** a GET through the client's outbound sidecar, on `agent` */
function get(path: string, agent: http.Agent | false = false): Promise<Got> {
  const port = h.instance(client).sidecar.outbound;
  const requestId = `zero-drop-${++seq}`;
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, headers: { host: 'backend:8080', 'x-request-id': requestId } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        let instance = '';
        try {
          instance = String((JSON.parse(body) as { instance?: string }).instance ?? '');
        } catch {
          instance = '';
        }
        resolve({
          status: res.statusCode ?? 0,
          instance,
          rule: res.headers['x-rule'] as string | undefined,
          requestId,
          localPort: res.socket?.localPort ?? req.socket?.localPort ?? 0,
          reused: req.reusedSocket,
          body,
        });
      });
    });
    req.on('error', reject);
  });
}

beforeAll(async () => {
  h = await startHarness([
    { name: 'client', versions: { v1: 1 } },
    { name: 'backend', versions: { v1: 1, v2: 1 } },
  ]);
});
afterAll(async () => h?.close());
beforeEach(async () => {
  for (const i of h.registry.all()) h.registry.update(i.id, { healthy: true, state: 'running', drained: false, restarting: false });
  await h.rules(rules('v1', 'old'));
});

describe('zero-drop rule swaps', () => {
  it('a request in flight finishes on the snapshot it started on', async () => {
    const oldVersion = h.controlPlane.current!.version;
    const inFlight = get('/delay/400');
    await sleep(100);
    await h.rules(rules('v2', 'new'));
    expect(h.controlPlane.current!.version).toBeGreaterThan(oldVersion);
    const after = await get('/x');
    expect([after.instance, after.rule]).toEqual(['backend-v2-1', 'new']);
    const r = await inFlight;
    expect([r.status, r.instance, r.rule]).toEqual([200, 'backend-v1-1', 'old']);
    const [source] = (await h.eventsFor(r.requestId, 2)).filter((e) => e.reporter === 'source');
    expect(source!.snapshotVersion).toBe(oldVersion);
  });

  it('a keep-alive connection picks up the new rules on its next request', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await get('/x', agent);
      expect([first.instance, first.rule]).toEqual(['backend-v1-1', 'old']);
      await h.rules(rules('v2', 'new'));
      const second = await get('/x', agent);
      expect(second.reused).toBe(true);
      expect(second.localPort).toBe(first.localPort);
      expect([second.instance, second.rule]).toEqual(['backend-v2-1', 'new']);
    } finally {
      agent.destroy();
    }
  });

  it('listeners are never closed or reopened for a rule change', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await get('/x', agent);
      const socket = Object.values(agent.freeSockets)[0]![0]!;
      let closed = false;
      socket.once('close', () => (closed = true));
      const ports = h.registry.all().map((i) => ({ ...i.sidecar, services: { ...i.sidecar.services } }));
      for (let i = 0; i < 20; i++) await h.rules(rules(i % 2 ? 'v1' : 'v2', `swap-${i}`));
      expect(closed).toBe(false);
      const last = await get('/x', agent);
      expect(last.localPort).toBe(first.localPort);
      expect(last.rule).toBe('swap-19');
      // binding the same listeners again finds every one of them where it was
      const { bound, errors } = await h.dataPlane.bind(listenersFor(h.mesh, h.registry.all(), { address: '127.0.0.1', port: h.ingressPort }));
      expect(errors).toEqual([]);
      expect(h.registry.all().map((i) => i.sidecar)).toEqual(ports);
      for (const b of bound) {
        const [proxy, kind] = b.name.split('/');
        if (proxy === 'istio-ingressgateway') expect(b.port).toBe(h.ingressPort);
        else if (kind === 'inbound') expect(b.port).toBe(h.instance(proxy!).sidecar.inbound);
      }
    } finally {
      agent.destroy();
    }
  });

  it('rule reloads under steady open-loop load fail no request', async () => {
    const port = h.instance(client).sidecar.outbound;
    const load = new LoadGenerator({ url: `http://127.0.0.1:${port}/x`, headers: { host: 'backend:8080' }, rate: 200, connections: 8, durationMs: 3000, classify: (res) => String(res.headers['x-rule'] ?? '-') });
    const done = load.start();
    let swaps = 0;
    while (load.stats().phase !== 'done' && swaps < 40) {
      await h.rules(rules(swaps % 2 ? 'v1' : 'v2', swaps % 2 ? 'odd' : 'even'));
      swaps++;
      await sleep(50);
    }
    const result = await done;
    expect(swaps).toBeGreaterThanOrEqual(20);
    expect(result.errors, JSON.stringify(result.errorCounts)).toBe(0);
    expect(result.statusCounts).toEqual({ '200': result.completed });
    expect(result.classCounts['odd']).toBeGreaterThan(0);
    expect(result.classCounts['even']).toBeGreaterThan(0);
  });
});

describe('requests during a restart by meshbox', () => {
  it('wait for the cluster’s only instance to come back instead of failing; the wait is not counted in the route timeout', async () => {
    await h.rules(rules('v1', 'restart', '      timeout: 150ms\n'));
    h.registry.update('backend-v1-1', { restarting: true, drained: true });
    await h.controlPlane.publish();
    const t0 = Date.now();
    const waiting = get('/x');
    await sleep(400);
    h.registry.update('backend-v1-1', { drained: false });
    const r = await waiting;
    expect([r.status, r.instance, r.rule]).toEqual([200, 'backend-v1-1', 'restart']);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
    const [source] = (await h.eventsFor(r.requestId, 2)).filter((e) => e.reporter === 'source');
    expect(source!.why.join('\n')).toMatch(/waited \d+ms for an endpoint of outbound\|8080\|v1\|backend/);
  });

  it('without a restart by meshbox, no healthy endpoint is 503 UH at once', async () => {
    h.registry.update('backend-v1-1', { drained: true });
    await h.controlPlane.publish();
    const t0 = Date.now();
    const r = await get('/x');
    expect([r.status, r.body]).toEqual([503, 'no healthy upstream']);
    // at once, not after the 10 s a restart by meshbox would wait
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('the wait is bounded: 503 UH when the instance does not come back in time', async () => {
    h.registry.update('backend-v1-1', { restarting: true, drained: true });
    const snapshot = await h.controlPlane.publish();
    const key = 'outbound|8080|v1|backend.default.svc.cluster.local';
    expect(snapshot.clusters[key]!.awaitEndpointsMs).toBe(10_000);
    // the same snapshot with a short bound, straight to the data plane
    await h.dataPlane.apply({ ...snapshot, version: snapshot.version + 1000, clusters: { ...snapshot.clusters, [key]: { ...snapshot.clusters[key]!, awaitEndpointsMs: 300 } } });
    const t0 = Date.now();
    const r = await get('/x');
    const took = Date.now() - t0;
    expect([r.status, r.body]).toEqual([503, 'no healthy upstream']);
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(3000);
  });
});
