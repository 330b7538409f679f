/**
 * Keeps one ToxicProxy per endpoint that has toxics, and tells the snapshot where the clusters
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
    const addresses = new Map<string, { host: string; port: number }>();
    for (const c of Object.values(snapshot.clusters)) {
      if (c.kind !== 'outbound') continue;
      for (const e of c.endpoints) addresses.set(e.id, { host: e.address, port: e.port });
    }
    for (const [id, proxy] of this.proxies) {
      if (!wanted.has(id) || !addresses.has(id)) {
        this.proxies.delete(id);
        await proxy.close();
      }
    }
    const override = new Map<string, number>();
    for (const [id, toxics] of wanted) {
      const target = addresses.get(id);
      if (!target) continue;
      let proxy = this.proxies.get(id);
      if (!proxy) {
        proxy = new ToxicProxy(id, target, this.rng);
        await proxy.listen();
        this.proxies.set(id, proxy);
      }
      // keep the configured objects stable across snapshots when unchanged, so links keep their rolls
      proxy.setToxics(this.reuse(proxy, toxics), target);
      override.set(id, proxy.port);
    }
    if (override.size === 0) return snapshot;
    const clusters = Object.fromEntries(
      Object.entries(snapshot.clusters).map(([key, c]) => [
        key,
        c.kind !== 'outbound' ? c : { ...c, endpoints: c.endpoints.map((e) => (override.has(e.id) ? { ...e, address: '127.0.0.1', port: override.get(e.id)! } : e)) },
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

  /** toxic proxies by endpoint, for /clusters */
  describe(): Record<string, { port: number }> {
    return Object.fromEntries([...this.proxies].map(([id, p]) => [id, { port: p.port }]));
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    this.proxies.clear();
  }
}
