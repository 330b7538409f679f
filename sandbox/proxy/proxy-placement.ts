/**
 * Which data-plane worker runs which proxy (issue #13.3). A worker owns whole proxies: every
 * listener of a sidecar (inbound, outbound, per-service outbound ports) and of the gateway runs
 * in the worker of its proxy, so a proxy's clusters (circuit breakers, load balancers, outlier
 * detection, connection pools) live in one event loop, as in one Envoy.
 *
 * A proxy is placed the first time it is seen, on the worker that runs the fewest proxies (the
 * lowest index on a tie: the same mesh is placed the same way every run), and stays there for
 * the life of the data plane, so a listener bound ahead of a snapshot (its port decided) is
 * always shipped to the worker that bound it. The Toxiproxy API's standalone proxies count too.
 */
export class ProxyPlacement {
  private readonly owners = new Map<string, number>();
  private readonly standalone = new Map<string, number>();
  private readonly load: number[];

  constructor(readonly workers: number) {
    this.load = new Array<number>(workers).fill(0);
  }

  private leastLoaded(): number {
    let best = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[best]!) best = i;
    return best;
  }

  /** the worker of a mesh proxy (sidecar or gateway), placing it when new */
  ownerOf(proxyId: string): number {
    let w = this.owners.get(proxyId);
    if (w === undefined) {
      w = this.leastLoaded();
      this.owners.set(proxyId, w);
      this.load[w]!++;
    }
    return w;
  }

  /** the proxies placed on worker `index` */
  ownedBy(index: number): string[] {
    return [...this.owners].filter(([, w]) => w === index).map(([id]) => id);
  }

  /** items by the worker of their proxy (one list per worker, each in the given order) */
  split<T>(items: readonly T[], proxyOf: (item: T) => string): T[][] {
    const out = Array.from({ length: this.workers }, () => [] as T[]);
    for (const item of items) out[this.ownerOf(proxyOf(item))]!.push(item);
    return out;
  }

  /** the worker of a standalone Toxiproxy proxy, placing it when new */
  placeStandalone(name: string): number {
    let w = this.standalone.get(name);
    if (w === undefined) {
      w = this.leastLoaded();
      this.standalone.set(name, w);
      this.load[w]!++;
    }
    return w;
  }

  /** where a standalone proxy runs, if it does */
  standaloneOf(name: string): number | undefined {
    return this.standalone.get(name);
  }

  releaseStandalone(name: string): void {
    const w = this.standalone.get(name);
    if (w === undefined) return;
    this.standalone.delete(name);
    this.load[w]!--;
  }

  releaseAllStandalone(): void {
    for (const name of [...this.standalone.keys()]) this.releaseStandalone(name);
  }

  /** every mesh proxy with its worker */
  entries(): Array<[string, number]> {
    return [...this.owners];
  }
}
