/**
 * The proxies the Toxiproxy API shows, with Toxiproxy's semantics (proxy_collection.go,
 * proxy.go, toxic_collection.go):
 *
 *   standalone   created with `POST /proxies` / `POST /populate`: a ToxicProxy listening on a
 *                loopback port, forwarding to a loopback upstream (a local Redis, Postgres...).
 *                Its toxics are also a runtime fault targeting the proxy's name, so they show in
 *                the UI and the fault list like the mesh's; and a meshbox fault with toxics
 *                targeting that name (from a scenario, `meshbox fault add`) acts on it too;
 *   mesh         one per mesh service (`callme-service`) and per version
 *                (`callme-service-v2`): its toxics become a runtime fault on that service or
 *                subset (FaultStore), so they act on the links from the calling sidecars to its
 *                endpoints, like every other meshbox toxic, and show in the UI, the fault list
 *                and scenarios. Disabling it resets every connection to those endpoints.
 *
 * Every change is applied (and, for mesh proxies, pushed to the data plane) before the API
 * answers, as Toxiproxy's changes are in place when its API returns. Changes run one at a time.
 */
import type { FaultStore } from '../faults/fault-store.js';
import type { FaultSpec, ToxicSpec } from '../faults/fault-spec.js';
import { ApiErrors, ToxiproxyApiError } from './api-error.js';
import { formatAddr, listenError, parseListen, parseUpstream } from './addresses.js';
import type { ProxyInput } from './decode.js';
import type { TcpProxyHost } from './tcp-proxy-host.js';
import { chainOrder, toMeshToxic, type ToxiproxyToxic } from './toxic-types.js';

/** what the mesh looks like, for its proxies */
export interface MeshView {
  services(): Array<{
    name: string;
    port: number;
    /** version label values, in meshbox.yaml order */
    versions: string[];
    /** the endpoints (inbound sidecars) the toxics sit in front of */
    endpoints: Array<{ version: string; address: string }>;
  }>;
}

export interface ProxyCollectionDeps {
  host: TcpProxyHost;
  mesh?: MeshView;
  faults?: FaultStore;
  /** resolves once the data plane runs the current runtime faults */
  syncFaults?: () => Promise<void>;
  /** a line for the log (terminal UI, headless output) when a standalone proxy starts or stops */
  onNotice?: (message: string) => void;
}

/** Toxiproxy's proxy JSON (api.go proxyWithToxics) */
export interface ProxyJson {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: ToxiproxyToxic[];
}

interface Standalone {
  kind: 'standalone';
  name: string;
  /** as given while disabled; the bound address once listening (as Toxiproxy reports it) */
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: ToxiproxyToxic[];
  /** its toxics are in the fault store as `toxiproxy-<name>` */
  mirrored?: boolean;
}

interface MeshProxy {
  kind: 'mesh';
  name: string;
  service: string;
  version?: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: ToxiproxyToxic[];
}

type AnyProxy = Standalone | MeshProxy;

/**
 * The fault target standing for a standalone proxy: its name as a DNS-1123 label, as every fault
 * target is (`redis_master` -> `redis-master`).
 */
export function faultTargetOf(proxy: string): string {
  const label = proxy
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return label || 'proxy';
}

/** the runtime fault carrying the toxics a proxy got from the Toxiproxy API */
export function faultNameOf(proxy: string): string {
  return `toxiproxy-${proxy}`;
}

/**
 * What a disabled mesh proxy does to its links, with meshbox's own toxics: no byte gets through
 * (`timeout` 0) and every connection, open or new, is reset at once (`reset_peer` 0), so callers
 * see the service's endpoints refuse them.
 */
const DISABLED_TOXICS: ToxicSpec[] = [
  { type: 'timeout', name: 'meshbox:proxy-disabled:drop', stream: 'upstream', toxicity: 1, attributes: { timeout: 0 } },
  { type: 'reset_peer', name: 'meshbox:proxy-disabled:reset', stream: 'upstream', toxicity: 1, attributes: { timeout: 0 } },
];

export class ProxyCollection {
  private readonly standalone = new Map<string, Standalone>();
  /** toxics and enabled flag of mesh proxies that have any */
  private readonly meshState = new Map<string, { enabled: boolean; toxics: ToxiproxyToxic[] }>();
  private queue: Promise<unknown> = Promise.resolve();

  private readonly unsubscribe: () => void;

  constructor(private readonly deps: ProxyCollectionDeps) {
    // faults targeting a standalone proxy may come from elsewhere (a scenario, the CLI, the UI)
    this.unsubscribe = deps.faults?.onChange(() => void this.refreshStandalone().catch(() => undefined)) ?? (() => undefined);
  }

  /** the fault targets standing for the standalone proxies, besides the mesh's services */
  standaloneTargets(): string[] {
    return [...new Set([...this.standalone.keys()].map(faultTargetOf))];
  }

  /** runs changes one at a time, in arrival order */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  // ---- reading

  private meshProxies(): MeshProxy[] {
    const out: MeshProxy[] = [];
    for (const s of this.deps.mesh?.services() ?? []) {
      const listen = `${s.name}:${s.port}`;
      const all = s.endpoints.map((e) => e.address).join(',');
      out.push(this.withMeshState({ kind: 'mesh', name: s.name, service: s.name, listen, upstream: all, enabled: true, toxics: [] }));
      for (const v of s.versions) {
        const name = `${s.name}-${v}`;
        const upstream = s.endpoints.filter((e) => e.version === v).map((e) => e.address).join(',');
        out.push(this.withMeshState({ kind: 'mesh', name, service: s.name, version: v, listen, upstream, enabled: true, toxics: [] }));
      }
    }
    return out.filter((p) => !this.standalone.has(p.name));
  }

  /** a mesh proxy's toxics live in its runtime fault: if that was removed elsewhere (UI, CLI, scenario), so are they */
  private withMeshState(p: MeshProxy): MeshProxy {
    const state = this.meshState.get(p.name);
    if (!state) return p;
    if (this.deps.faults && !this.deps.faults.runtimeFaults().some((f) => f.name === faultNameOf(p.name))) {
      this.meshState.delete(p.name);
      return p;
    }
    return { ...p, enabled: state.enabled, toxics: state.toxics };
  }

  /** a standalone proxy's API toxics are its runtime fault: if that was removed elsewhere, so are they */
  private reconciled(p: Standalone): Standalone {
    if (p.mirrored && this.deps.faults && !this.deps.faults.runtimeFaults().some((f) => f.name === faultNameOf(p.name))) {
      p.toxics = [];
      p.mirrored = false;
    }
    return p;
  }

  private all(): AnyProxy[] {
    return [...[...this.standalone.values()].map((p) => this.reconciled(p)), ...this.meshProxies()];
  }

  get(name: string): AnyProxy {
    const s = this.standalone.get(name);
    const p = s ? this.reconciled(s) : this.meshProxies().find((m) => m.name === name);
    if (!p) throw ApiErrors.proxyNotFound;
    return p;
  }

  static json(p: AnyProxy): ProxyJson {
    return { name: p.name, listen: p.listen, upstream: p.upstream, enabled: p.enabled, toxics: chainOrder(p.toxics) };
  }

  /** GET /proxies: name -> proxy, names sorted as Go marshals a map */
  index(): Record<string, ProxyJson> {
    const all = this.all().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return Object.fromEntries(all.map((p) => [p.name, ProxyCollection.json(p)]));
  }

  toxic(proxy: string, name: string): ToxiproxyToxic {
    const t = this.get(proxy).toxics.find((x) => x.name === name);
    if (!t) throw ApiErrors.toxicNotFound;
    return t;
  }

  // ---- standalone proxies

  private async start(p: Standalone): Promise<void> {
    const listen = parseListen(p.listen);
    const upstream = parseUpstream(p.upstream);
    const r = await this.deps.host.start(p.name, listen, upstream, this.effectiveToxics(p));
    if (!r.ok) throw listenError(formatAddr(listen.host, listen.port), r.code, r.message);
    p.listen = formatAddr(listen.host, r.port);
    p.enabled = true;
    this.deps.onNotice?.(`Toxiproxy API: proxy ${p.name} listens on ${p.listen}, forwarding to ${p.upstream}`);
  }

  private async stop(p: Standalone): Promise<void> {
    if (!p.enabled) return;
    p.enabled = false;
    await this.deps.host.stop(p.name);
    this.deps.onNotice?.(`Toxiproxy API: proxy ${p.name} stopped listening on ${p.listen}`);
  }

  /** POST /proxies */
  async create(input: ProxyInput): Promise<ProxyJson> {
    if (this.standalone.has(input.name) || this.meshProxies().some((m) => m.name === input.name)) throw ApiErrors.proxyAlreadyExists;
    parseUpstream(input.upstream);
    const p: Standalone = { kind: 'standalone', name: input.name, listen: input.listen, upstream: input.upstream, enabled: false, toxics: [] };
    if (input.enabled) await this.start(p);
    this.standalone.set(p.name, p);
    return ProxyCollection.json(p);
  }

  /** POST|PATCH /proxies/{name} (proxy.go Update): a new listen/upstream restarts it; enabled starts/stops it */
  async update(name: string, input: ProxyInput): Promise<ProxyJson> {
    const p = this.get(name);
    if (p.kind === 'mesh') {
      if (input.listen !== p.listen || input.upstream !== p.upstream) {
        throw new ToxiproxyApiError(`${p.name} is a mesh ${p.version ? 'workload' : 'service'}: its listen and upstream come from meshbox.yaml and cannot be changed here`, 400);
      }
      if (input.enabled !== p.enabled) await this.setMesh(p.name, { enabled: input.enabled, toxics: p.toxics });
      return ProxyCollection.json(this.get(name));
    }
    if (input.listen !== p.listen || input.upstream !== p.upstream) {
      if (input.upstream !== p.upstream && input.enabled) parseUpstream(input.upstream);
      await this.stop(p);
      p.listen = input.listen;
      p.upstream = input.upstream;
    }
    if (input.enabled !== p.enabled) {
      if (input.enabled) await this.start(p);
      else await this.stop(p);
    }
    return ProxyCollection.json(p);
  }

  /** DELETE /proxies/{name}; a mesh proxy cannot go away (the service is in meshbox.yaml): it is reset */
  async remove(name: string): Promise<void> {
    const p = this.get(name);
    if (p.kind === 'mesh') {
      await this.setMesh(p.name, { enabled: true, toxics: [] });
      return;
    }
    await this.stop(p);
    this.standalone.delete(name);
    this.mirror(p, []);
  }

  /**
   * POST /populate: creates each proxy, or replaces the one of that name when its listen or
   * upstream differ (an identical one is kept, with its toxics). Stops at the first failure and
   * returns what it did so far with the error, as Toxiproxy does.
   */
  async populate(inputs: ProxyInput[]): Promise<{ proxies: ProxyJson[]; error?: ToxiproxyApiError }> {
    const done: ProxyJson[] = [];
    try {
      for (const input of inputs) {
        if (this.meshProxies().some((m) => m.name === input.name)) {
          throw new ToxiproxyApiError(`proxy already exists: ${input.name} is a mesh proxy (a service or version in meshbox.yaml); choose another name`, 409);
        }
        const existing = this.standalone.get(input.name);
        if (existing) {
          const wanted = parseListen(input.listen);
          const differs = existing.listen !== formatAddr(wanted.host, wanted.port) || existing.upstream !== input.upstream;
          if (!differs) {
            done.push(ProxyCollection.json(existing));
            continue;
          }
          await this.stop(existing);
          this.standalone.delete(input.name);
          this.mirror(existing, []);
        }
        done.push(await this.create(input));
      }
      return { proxies: done };
    } catch (e) {
      if (e instanceof ToxiproxyApiError) return { proxies: done, error: e };
      throw e;
    }
  }

  /** POST /reset: every proxy enabled, every toxic gone */
  async reset(): Promise<void> {
    for (const p of this.standalone.values()) {
      if (p.toxics.length) {
        p.toxics = [];
        this.mirror(p, []);
      }
      if (!p.enabled) await this.start(p);
      else await this.deps.host.setToxics(p.name, this.effectiveToxics(p));
    }
    const names = [...this.meshState.keys()];
    for (const n of names) this.meshState.delete(n);
    let changed = false;
    for (const n of names) changed = (this.deps.faults?.remove(faultNameOf(n)) ?? false) || changed;
    if (changed) await this.deps.syncFaults?.();
  }

  // ---- toxics

  async addToxic(proxy: string, toxic: ToxiproxyToxic): Promise<ToxiproxyToxic> {
    const p = this.get(proxy);
    if (p.toxics.some((t) => t.name === toxic.name)) throw ApiErrors.toxicAlreadyExists;
    await this.setToxics(p, [...p.toxics, toxic]);
    return toxic;
  }

  async updateToxic(proxy: string, toxic: ToxiproxyToxic): Promise<ToxiproxyToxic> {
    const p = this.get(proxy);
    await this.setToxics(
      p,
      p.toxics.map((t) => (t.name === toxic.name ? toxic : t)),
    );
    return toxic;
  }

  async removeToxic(proxy: string, name: string): Promise<void> {
    const p = this.get(proxy);
    if (!p.toxics.some((t) => t.name === name)) throw ApiErrors.toxicNotFound;
    await this.setToxics(
      p,
      p.toxics.filter((t) => t.name !== name),
    );
  }

  private async setToxics(p: AnyProxy, toxics: ToxiproxyToxic[]): Promise<void> {
    if (p.kind === 'mesh') return this.setMesh(p.name, { enabled: p.enabled, toxics });
    p.toxics = toxics;
    this.mirror(p, toxics);
    if (p.enabled) await this.deps.host.setToxics(p.name, this.effectiveToxics(p));
  }

  /**
   * A standalone proxy's API toxics as its runtime fault (target: the proxy's name as a label), so
   * the UI and the fault list show them; the proxy runs them whether or not that worked.
   */
  private mirror(p: Standalone, toxics: ToxiproxyToxic[]): void {
    const faults = this.deps.faults;
    if (!faults) return;
    const faultName = faultNameOf(p.name);
    try {
      if (toxics.length) {
        faults.add({ name: faultName, target: { service: faultTargetOf(p.name) }, toxics: chainOrder(toxics).map(toMeshToxic) });
        p.mirrored = true;
      } else if (faults.runtimeFaults().some((f) => f.name === faultName)) {
        faults.remove(faultName);
        p.mirrored = false;
      }
    } catch {
      p.mirrored = false;
    }
  }

  /**
   * What a standalone proxy runs: its API toxics, then the toxics of every other meshbox fault
   * targeting its name (named `<fault>/<toxic>`, as on the mesh's links).
   */
  private effectiveToxics(p: Standalone): ToxicSpec[] {
    const own = chainOrder(p.toxics).map(toMeshToxic);
    const faults = this.deps.faults;
    if (!faults) return own;
    const others = faults
      .list()
      .filter((f) => f.name !== faultNameOf(p.name) && f.spec.target.service === faultTargetOf(p.name) && !(f.spec as { disabled?: boolean }).disabled)
      .flatMap((f) => (f.spec.toxics ?? []).map((t) => ({ ...t, name: `${f.name}/${t.name ?? `${t.type}_${t.stream ?? 'downstream'}`}` })));
    return [...own, ...others];
  }

  private async refreshStandalone(): Promise<void> {
    for (const p of this.standalone.values()) if (p.enabled) await this.deps.host.setToxics(p.name, this.effectiveToxics(this.reconciled(p)));
  }

  /** a mesh proxy's state as a runtime fault on its service (or version), pushed before returning */
  private async setMesh(name: string, state: { enabled: boolean; toxics: ToxiproxyToxic[] }): Promise<void> {
    const p = this.get(name);
    if (p.kind !== 'mesh') return;
    const faults = this.deps.faults;
    if (!faults) throw new ToxiproxyApiError('mesh proxies need a running sandbox', 500);
    const faultName = faultNameOf(name);
    if (state.enabled && state.toxics.length === 0) {
      this.meshState.delete(name);
      if (!faults.runtimeFaults().some((f) => f.name === faultName)) return;
      faults.remove(faultName);
    } else {
      const toxics = chainOrder(state.toxics).map((t) => toMeshToxic(t));
      if (!state.enabled) toxics.unshift(...DISABLED_TOXICS);
      const spec: FaultSpec = { name: faultName, target: { service: p.service, ...(p.version ? { subset: p.version } : {}) }, toxics };
      faults.add(spec);
      this.meshState.set(name, { enabled: state.enabled, toxics: state.toxics });
    }
    await this.deps.syncFaults?.();
  }

  async close(): Promise<void> {
    this.unsubscribe();
    await this.deps.host.close();
  }
}
