/**
 * Snapshot shipping (issue #10.12): route lists travel ahead of the snapshot in slices, each list
 * once; a list the data plane holds is not sent again; after a failed apply every list is.
 */
import { describe, expect, it } from 'vitest';
import type { MeshSnapshot, RouteEntryConfig, VirtualHostConfig } from '../../../sandbox/control/snapshot.js';
import { RouteListInterner } from '../../../sandbox/control/route-fingerprint.js';
import { DataPlaneCore } from '../../../sandbox/proxy/data-plane-core.js';
import { routeSlices, SLICE_ROUTES, SnapshotShipper, type RouteSlice, type ShippedSnapshot } from '../../../sandbox/proxy/snapshot-shipping.js';

function entry(i: number): RouteEntryConfig {
  return {
    name: `r${i}`,
    origin: { resource: 'VirtualService default/x', index: i },
    match: [{ uri: { prefix: `/r${i}/` } }],
    action: { type: 'route', destinations: [{ clusterKey: 'c', clusterName: 'c', host: 'x', port: 80, weight: 100 }] },
    timeoutMs: null,
    retry: { attempts: 0, perTryTimeoutMs: null, retryOn: [], retriableStatusCodes: [], retryIgnorePreviousHosts: true, backoffBaseMs: 25, isDefault: false },
  };
}

function vhs(routes: number, tag = ''): VirtualHostConfig[] {
  return [
    { name: `x${tag}`, domains: ['x'], routes: Array.from({ length: routes }, (_, i) => entry(i)) },
    { name: 'allow_any', domains: ['*'], routes: [entry(-1)] },
  ];
}

function snapshot(version: number, lists: Record<string, VirtualHostConfig[]>): MeshSnapshot {
  return {
    version,
    createdAt: new Date(0).toISOString(),
    namespace: 'default',
    services: [],
    proxies: [],
    listeners: [],
    routeConfigs: Object.fromEntries(Object.entries(lists).map(([name, virtualHosts]) => [name, { name, virtualHosts }])),
    clusters: {},
    faults: [],
  };
}

function recorder(core = new DataPlaneCore({ seed: 1, emit: () => undefined })) {
  const slices: RouteSlice[] = [];
  let failNext = false;
  const shipper = new SnapshotShipper({
    stage: async (slice) => {
      slices.push(slice);
      core.stageRoutes(structuredClone(slice));
    },
    applyShipped: async (shipped: ShippedSnapshot) => {
      if (failNext) {
        failNext = false;
        throw new Error('worker gone');
      }
      return core.applyShipped(structuredClone(shipped));
    },
  });
  return { core, shipper, slices, failNext: () => (failNext = true) };
}

describe('snapshot shipping', () => {
  it('slices a route list: every route once, in order, at most SLICE_ROUTES per slice', () => {
    const list = vhs(450);
    const slices = [...routeSlices('fp', list)];
    expect(slices.map((s) => [s.virtualHost, s.offset, s.routes.length])).toEqual([
      [0, 0, SLICE_ROUTES],
      [0, 200, 200],
      [0, 400, 50],
      [1, 0, 1],
    ]);
    expect(slices.flatMap((s) => s.routes)).toEqual(list.flatMap((v) => v.routes));
  });

  it('ships a list shared by several route configurations once, and not again while the data plane holds it', async () => {
    const r = recorder();
    const shared = vhs(450);
    await r.shipper.ship(snapshot(1, { 'outbound/a': shared, 'outbound/b': shared }));
    expect(r.slices).toHaveLength(4);
    // a new snapshot with the same routes (an endpoint changed): nothing to stage
    await r.shipper.ship(snapshot(2, { 'outbound/a': vhs(450), 'outbound/b': vhs(450) }));
    expect(r.slices).toHaveLength(4);
    // changed routes: that list is shipped
    await r.shipper.ship(snapshot(3, { 'outbound/a': vhs(450), 'outbound/b': vhs(10, 'b') }));
    expect(r.slices.slice(4).map((s) => s.name)).toEqual(['xb', 'allow_any']);
    await r.core.stop(0);
  });

  it('after a failed apply, the next snapshot ships every list again', async () => {
    const r = recorder();
    await r.shipper.ship(snapshot(1, { 'outbound/a': vhs(5) }));
    r.failNext();
    await expect(r.shipper.ship(snapshot(2, { 'outbound/a': vhs(5), 'outbound/c': vhs(3, 'c') }))).rejects.toThrow('worker gone');
    const before = r.slices.length;
    await r.shipper.ship(snapshot(3, { 'outbound/a': vhs(5), 'outbound/c': vhs(3, 'c') }));
    expect(r.slices.slice(before).map((s) => s.name)).toEqual(['x', 'allow_any', 'xc', 'allow_any']);
    expect(r.core.version).toBe(3);
    await r.core.stop(0);
  });

  it('the data plane refuses a snapshot whose route list was not staged completely', async () => {
    const core = new DataPlaneCore({ seed: 1, emit: () => undefined });
    const [first] = [...routeSlices('fp1', vhs(450))];
    core.stageRoutes(first!);
    await expect(core.applyShipped({ snapshot: snapshot(1, {}), routeRefs: { 'outbound/a': 'fp1' } })).rejects.toThrow(/was not staged completely/);
    expect(core.version).toBe(0);
    await core.stop(0);
  });

  it('interning keeps the previous snapshot\'s object for an unchanged route list', () => {
    const interner = new RouteListInterner();
    const a = { x: { virtualHosts: vhs(3) } };
    interner.intern(a);
    const b = { x: { virtualHosts: vhs(3) }, y: { virtualHosts: vhs(3) }, z: { virtualHosts: vhs(2) } };
    interner.intern(b);
    expect(b.x.virtualHosts).toBe(a.x.virtualHosts);
    expect(b.y.virtualHosts).toBe(a.x.virtualHosts);
    expect(b.z.virtualHosts).not.toBe(a.x.virtualHosts);
  });
});
