/**
 * A 5,000-route VirtualService on real sockets (issues #10.12 and #13): requests select the right
 * route, their events carry the matched route and a reference, not one string per skipped route,
 * the skipped routes are explained on demand from the snapshot the request ran on, and applying
 * the big snapshot happens in slices while the data plane keeps serving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestEvent } from '../../../sandbox/events.js';
import { RouteExplainer } from '../../../sandbox/proxy/routing/route-explainer.js';
import { parseRulesText } from '../../../sandbox/config/rules-loader.js';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';
import { manyRoutesRulesFile } from '../../helpers/many-routes.js';

const COUNT = 5000;
const client = 'client-v1-1';
let h: Harness;

beforeAll(async () => {
  h = await startHarness([
    { name: 'client', versions: { v1: 1 } },
    { name: 'backend', versions: { v1: 1, v2: 1 } },
  ], 99);
}, 60_000);
afterAll(async () => h?.close());

const source = async (requestId: string): Promise<RequestEvent> => (await h.eventsFor(requestId, 2)).find((e) => e.reporter === 'source')!;

/** applies the rules while sending requests back to back; counts event-loop turns and answers during the apply */
async function applyUnderTraffic(yaml: string): Promise<{ turns: number; answeredDuring: number }> {
  const parsed = parseRulesText(yaml, 'routes.yaml');
  expect(parsed.findings.filter((f) => f.severity === 'error')).toEqual([]);
  let applying = true;
  let turns = 0;
  let answeredDuring = 0;
  const tick = (): void => {
    if (!applying) return;
    turns++;
    setImmediate(tick);
  };
  const traffic = (async () => {
    while (applying) {
      const r = await h.request({ from: client, host: 'backend:8080', path: '/callme/ping' });
      expect(r.status).toBe(200);
      if (applying) answeredDuring++;
    }
  })();
  // the compile (main thread) runs first; the data plane's apply follows in slices
  setImmediate(tick);
  await h.controlPlane.setResources(parsed.resources, []);
  applying = false;
  await traffic;
  return { turns, answeredDuring };
}

describe('a 5,000-route VirtualService', () => {
  it('is applied in slices: the data plane serves requests while it builds the route table', async () => {
    const { turns, answeredDuring } = await applyUnderTraffic(manyRoutesRulesFile({ count: COUNT, host: 'backend' }));
    // one slice per 200 routes, each its own event-loop turn (a synchronous apply has none)
    expect(turns).toBeGreaterThanOrEqual(COUNT / 200);
    expect(answeredDuring).toBeGreaterThan(0);
  }, 60_000);

  it('routes a request to the last route, and its event carries no string per skipped route', async () => {
    const r = await h.request({ from: client, host: 'backend:8080', path: '/callme/ping', headers: { 'x-request-id': 'scale-default' } });
    expect(r.status).toBe(200);
    const e = await source('scale-default');
    expect(e.routeName).toBe('default');
    expect(e.route).toMatchObject({ config: `outbound/${client}`, authority: 'backend:8080', port: 8080, route: COUNT - 1, match: -1, skipped: COUNT - 1 });
    expect(e.why.some((w) => w.includes('skipped'))).toBe(false);
    expect(e.why[0]).toMatch(/^VirtualService default\/backend-route http\[4999\] \(routes\.yaml:\d+:\d+\): matched \(no match conditions\)$/);
    expect(e.why.length).toBeLessThan(8);
    expect(JSON.stringify(e).length).toBeLessThan(4000);
  });

  it('routes a tenant by uri prefix and header', async () => {
    const r = await h.request({ from: client, host: 'backend:8080', path: '/callme/tenant-2345/orders', headers: { 'x-tenant': 't2345', 'x-request-id': 'scale-tenant' } });
    expect(r.status).toBe(200);
    expect(String(r.json()['instance'])).toBe('backend-v1-1');
    const e = await source('scale-tenant');
    expect(e.routeName).toBe('tenant-2345');
    expect(e.route).toMatchObject({ route: 2345, match: 0, skipped: 2345 });
    expect(e.upstreamCluster).toBe('outbound|8080|v1|backend.default.svc.cluster.local');
  });

  it('explains the skipped routes on demand, from the snapshot the request ran on', async () => {
    const e = await source('scale-default');
    const explainer = new RouteExplainer((v) => h.controlPlane.snapshotAt(v));
    const why = explainer.why(e);
    expect(why).toHaveLength(COUNT - 1 + e.why.length);
    expect(why[0]).toMatch(/^VirtualService default\/backend-route http\[0\] \(routes\.yaml:\d+:\d+\): skipped, match\[0\] uri prefix "\/callme\/tenant-0\/" did not hold$/);
    expect(why.slice(COUNT - 1)).toEqual(e.why);
    const tenant = explainer.why(await source('scale-tenant'));
    expect(tenant[2344]).toContain('http[2344] (routes.yaml:');
    expect(tenant[2344]).toContain('skipped, match[0] uri prefix "/callme/tenant-2344/" did not hold');
    expect(tenant[2345]).toContain('http[2345]');
    expect(tenant[2345]).toContain('matched match[0] (uri prefix "/callme/tenant-2345/" and header x-tenant exact "t2345")');

    // a save later, the old request is still explained by its own snapshot
    const before = e.snapshotVersion;
    await applyUnderTraffic(manyRoutesRulesFile({ count: COUNT, host: 'backend', v2Weight: 100 }));
    expect(h.controlPlane.current!.version).toBeGreaterThan(before);
    const again = new RouteExplainer((v) => h.controlPlane.snapshotAt(v)).why(e);
    expect(again).toEqual(why);
    const r = await h.request({ from: client, host: 'backend:8080', path: '/callme/ping', headers: { 'x-request-id': 'scale-after' } });
    expect(String(r.json()['instance'])).toBe('backend-v2-1');

    // without the snapshot (too old), one line stands for the skipped routes
    const gone = new RouteExplainer(() => undefined).why(e);
    expect(gone[0]).toBe(`${COUNT - 1} earlier routes skipped (their match conditions did not hold; rules snapshot v${before} is no longer kept to say why for each)`);
    expect(gone.slice(1)).toEqual(e.why);
  }, 60_000);
});
