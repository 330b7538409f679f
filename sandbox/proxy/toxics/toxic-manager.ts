/**
 * Keeps one ToxicProxy per endpoint address that has toxics (an endpoint of a service with
 * several ports has one per port), and tells the snapshot where the clusters
 * must send that endpoint's traffic. Proxies stay up while their endpoint keeps toxics, so open
 * connections see toxics change live; when the last toxic goes, the endpoint's traffic goes
 * straight to it again and the proxy closes.
 */
import type { MeshSnapshot } from '../../control/snapshot.js';
import type { Rng } from '../../rng.js';
import { configureToxic, type ConfiguredToxic } from './toxic.js';
import { ToxicProxy } from './toxic-proxy.js';

export class ToxicManager {
  private readonly proxies = new Map<string, ToxicProxy>();

  constructor(private readonly rng: Rng) {}

  /**
   * Starts/updates/stops proxies for this snapshot and returns a copy of the snapshot whose
   * outbound cluster endpoints point at the proxies.
   */
  async apply(snapshot: MeshSnapshot): Promise<MeshSnapshot> {
    const wanted = new Map<string, ConfiguredToxic[]>();
    for (const f of snapshot.faults) {
      for (const spec of f.toxics ?? []) {
        const toxic = configureToxic(spec);
        for (const id of f.endpoints) wanted.set(id, [...(wanted.get(id) ?? []), { ...toxic, name: `${f.name}/${toxic.name}` }]);
      }
    }
    // an endpoint of a service with several ports is several addresses (one inbound listener
    // per port): one proxy for each, keyed `<endpoint id>|<port>`
    const addresses = new Map<string, { id: string; host: string; port: number }>();
    for (const c of Object.values(snapshot.clusters)) {
      if (c.kind !== 'outbound') continue;
      for (const e of c.endpoints) addresses.set(`${e.id}|${e.port}`, { id: e.id, host: e.address, port: e.port });
    }
    for (const [key, proxy] of this.proxies) {
      const target = addresses.get(key);
      if (!target || !wanted.has(target.id)) {
        this.proxies.delete(key);
        await proxy.close();
      }
    }
    const override = new Map<string, number>();
    for (const [key, target] of addresses) {
      const toxics = wanted.get(target.id);
      if (!toxics) continue;
      let proxy = this.proxies.get(key);
      if (!proxy) {
        proxy = new ToxicProxy(target.id, { host: target.host, port: target.port }, this.rng);
        await proxy.listen();
        this.proxies.set(key, proxy);
      }
      // keep the configured objects stable across snapshots when unchanged, so links keep their rolls
      proxy.setToxics(this.reuse(proxy, toxics), { host: target.host, port: target.port });
      override.set(key, proxy.port);
    }
    if (override.size === 0) return snapshot;
    const clusters = Object.fromEntries(
      Object.entries(snapshot.clusters).map(([key, c]) => [
        key,
        c.kind !== 'outbound'
          ? c
          : { ...c, endpoints: c.endpoints.map((e) => (override.has(`${e.id}|${e.port}`) ? { ...e, address: '127.0.0.1', port: override.get(`${e.id}|${e.port}`)! } : e)) },
      ]),
    );
    return { ...snapshot, clusters };
  }

  private readonly last = new Map<ToxicProxy, ConfiguredToxic[]>();

  private reuse(proxy: ToxicProxy, next: ConfiguredToxic[]): ConfiguredToxic[] {
    const prev = this.last.get(proxy) ?? [];
    const merged = next.map((t) => prev.find((p) => p.name === t.name && JSON.stringify(p.spec) === JSON.stringify(t.spec)) ?? t);
    this.last.set(proxy, merged);
    return merged;
  }

  /** toxic proxies by endpoint (and its port, for an endpoint of several ports), for /clusters */
  describe(): Record<string, { port: number }> {
    const ids = [...this.proxies.values()].map((p) => p.endpointId);
    return Object.fromEntries([...this.proxies].map(([key, p]) => [ids.filter((i) => i === p.endpointId).length > 1 ? key : p.endpointId, { port: p.port }]));
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    this.proxies.clear();
  }
}
