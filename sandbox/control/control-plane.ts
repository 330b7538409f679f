/**
 * The control plane: keeps the applied rules and the registry, compiles a new immutable snapshot
 * when either changes (changes arriving together are coalesced into one push) and pushes it to
 * the data plane.
 */
import type { LoadedResource } from '../config/resource.js';
import type { FaultRecord } from '../faults/fault-spec.js';
import { resourceKey } from '../config/resource.js';
import type { Finding } from '../config/findings.js';
import type { MeshDefinition } from '../config/mesh-types.js';
import type { EventBus } from '../events.js';
import type { DataPlane } from '../proxy/data-plane.js';
import { compile, GATEWAY_ID } from './compiler.js';
import type { BoundListener } from '../proxy/listener.js';
import type { Registry } from './registry.js';
import { RouteListInterner } from './route-fingerprint.js';
import type { ListenerConfig, MeshSnapshot } from './snapshot.js';
import type { TracingDefaults } from '../telemetry/tracing/telemetry-resource.js';

/** snapshots kept after they were replaced, for explanations of the requests that ran on them */
export const SNAPSHOT_HISTORY = 5;

export class ControlPlane {
  private version = 0;
  private readonly history = new Map<number, MeshSnapshot>();
  private readonly routeLists = new RouteListInterner();
  private resources: readonly LoadedResource[] = [];
  private runtimeFaults: readonly FaultRecord[] = [];
  /** listeners added at runtime (port-forward), by name */
  private readonly extraListeners = new Map<string, ListenerConfig>();
  private snapshot: MeshSnapshot | undefined;
  private pending: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  /** tracing defaults (`--trace-sampling`); undefined: tracing off */
  private tracing: TracingDefaults | undefined;
  /** the ingress gateway's listeners for Gateway server ports, as bound (`/status`) */
  private readonly gatewayBound = new Map<string, BoundListener>();
  /** listener errors already said (see pushNow) */
  private readonly listenErrors = new Set<string>();

  constructor(
    private meshDef: MeshDefinition,
    private readonly registry: Registry,
    private readonly dataPlane: DataPlane,
    private readonly bus: EventBus,
    private readonly ingress: { address: string; port: number; gatewayPorts?: Record<number, number> },
  ) {
    registry.on('change', () => this.schedule());
  }

  /** the mesh definition snapshots are compiled from (meshbox.yaml; replaced by hot reload) */
  get mesh(): MeshDefinition {
    return this.meshDef;
  }

  /** Replaces the mesh definition (meshbox.yaml reloaded) and pushes; resolves once applied. */
  async setMesh(mesh: MeshDefinition): Promise<MeshSnapshot> {
    this.meshDef = mesh;
    return this.publish();
  }

  get current(): MeshSnapshot | undefined {
    return this.snapshot;
  }

  /** the snapshot of `version`, while it is the current one or one of the last SNAPSHOT_HISTORY */
  snapshotAt(version: number): MeshSnapshot | undefined {
    return this.history.get(version);
  }

  get appliedResources(): readonly LoadedResource[] {
    return this.resources;
  }

  /** Replaces the applied rules and pushes them; resolves once the data plane has them. */
  async setResources(resources: readonly LoadedResource[], warnings: Finding[]): Promise<number> {
    const before = new Map(this.resources.map((r) => [resourceKey(r), JSON.stringify(r.spec)]));
    const after = new Map(resources.map((r) => [resourceKey(r), JSON.stringify(r.spec)]));
    const changed: string[] = [];
    for (const [k, v] of after) if (before.get(k) !== v) changed.push(before.has(k) ? `changed ${k}` : `added ${k}`);
    for (const k of before.keys()) if (!after.has(k)) changed.push(`removed ${k}`);
    this.resources = resources;
    await this.publish();
    this.bus.emit({ type: 'mesh:config:applied', time: Date.now(), version: this.version, changed, warnings });
    return this.version;
  }

  /** Replaces the runtime faults (layered on the rule files' faults) and pushes them. */
  async setRuntimeFaults(faults: readonly FaultRecord[]): Promise<void> {
    this.runtimeFaults = faults;
    await this.publish();
  }

  /** Adds (or replaces) a runtime listener and pushes; the data plane binds it with the snapshot. */
  async addListener(listener: ListenerConfig): Promise<MeshSnapshot> {
    this.extraListeners.set(listener.name, listener);
    return this.publish();
  }

  /** Removes a runtime listener and pushes; the data plane closes it. */
  async removeListener(name: string): Promise<boolean> {
    if (!this.extraListeners.delete(name)) return false;
    await this.publish();
    return true;
  }

  /** the runtime listeners (port-forward) */
  get runtimeListeners(): readonly ListenerConfig[] {
    return [...this.extraListeners.values()];
  }

  /** coalesces registry changes arriving together into one push */
  private schedule(): void {
    if (this.closed) return;
    this.dirty = true;
    if (this.pending) return;
    this.pending = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      while (this.dirty && !this.closed) {
        this.dirty = false;
        await this.push().catch((e: Error) =>
          this.bus.emit({ type: 'mesh:notice', time: Date.now(), level: 'error', message: `snapshot push failed: ${e.message}` }),
        );
      }
      this.pending = undefined;
    });
  }

  /**
   * Resolves once every registry change made so far is in a snapshot the data plane applied (a
   * workload that just turned healthy is routable, not only marked healthy).
   */
  async settled(): Promise<void> {
    while (this.pending) await this.pending;
    await this.pushing;
  }

  /** compiles and pushes now (waiting for any push in progress) */
  async publish(): Promise<MeshSnapshot> {
    if (this.pending) await this.pending;
    await this.push();
    return this.snapshot!;
  }

  /**
   * One push at a time, in call order: a push that overtook one still being applied (a toxic
   * proxy still binding) would leave the data plane on the older snapshot.
   */
  private pushing: Promise<void> = Promise.resolve();

  private push(): Promise<void> {
    const next = this.pushing.then(() => this.pushNow());
    this.pushing = next.catch(() => undefined);
    return next;
  }

  private async pushNow(): Promise<void> {
    const snapshot = compile({
      version: ++this.version,
      mesh: this.meshDef,
      resources: this.resources,
      instances: this.registry.all(),
      ingress: this.ingress,
      runtimeFaults: this.runtimeFaults,
      extraListeners: [...this.extraListeners.values()],
      ...(this.tracing ? { tracing: this.tracing } : {}),
    });
    // unchanged route lists stay the same objects: kept once in the history, shipped once
    this.routeLists.intern(snapshot.routeConfigs);
    const ack = await this.dataPlane.apply(snapshot);
    this.snapshot = snapshot;
    this.history.set(snapshot.version, snapshot);
    for (const v of this.history.keys()) if (this.history.size > SNAPSHOT_HISTORY + 1) this.history.delete(v);
    // a listener that cannot bind is retried with every snapshot: said once, until it binds
    const failing = new Set(ack.errors.map((e) => `${e.listener}|${e.address}:${e.port}|${e.code}`));
    for (const key of [...this.listenErrors]) if (!failing.has(key)) this.listenErrors.delete(key);
    for (const e of ack.errors) {
      const key = `${e.listener}|${e.address}:${e.port}|${e.code}`;
      if (this.listenErrors.has(key)) continue;
      this.listenErrors.add(key);
      const gateway = e.listener.startsWith(`${GATEWAY_ID}/`) && e.listener !== `${GATEWAY_ID}/http.80`;
      this.bus.emit({
        type: 'mesh:notice',
        time: Date.now(),
        level: 'error',
        message: `listener ${e.listener} on ${e.address}:${e.port}: ${e.message}`,
        ...(gateway ? { hint: `the Gateway server port is not served; map it to a free port with \`meshbox up --gateway-port ${e.port}=<free port>\`` } : {}),
      });
    }
    this.noteGatewayListeners(snapshot, ack.listeners);
  }

  /** says where each Gateway server port is served, once, when its listener is bound (or closed) */
  private noteGatewayListeners(snapshot: MeshSnapshot, bound: readonly BoundListener[]): void {
    const wanted = new Map(snapshot.listeners.filter((l) => l.proxyId === GATEWAY_ID && l.name !== `${GATEWAY_ID}/http.80`).map((l) => [l.name, l]));
    for (const b of bound) {
      const l = wanted.get(b.name);
      if (!l || this.gatewayBound.get(b.name)?.port === b.port) continue;
      this.gatewayBound.set(b.name, b);
      const what = `Gateway server ${b.name.slice(GATEWAY_ID.length + 1).replace('.', ' ').toUpperCase()}`;
      const moved = b.requestedPort !== undefined ? ` (port ${b.requestedPort} is taken; \`--gateway-port ${l.servicePort}=<port>\` picks one)` : '';
      this.bus.emit({ type: 'mesh:notice', time: Date.now(), level: b.requestedPort !== undefined ? 'warn' : 'info', message: `ingress gateway: ${what} served on ${b.address}:${b.port}${moved}` });
    }
    for (const name of [...this.gatewayBound.keys()]) if (!wanted.has(name)) this.gatewayBound.delete(name);
  }

  /** the ingress gateway's listeners of Gateway server ports (other than HTTP on 80): where each is served */
  gatewayListeners(): Array<{ listener: string; serverPort: number; protocol: string; address: string; port: number }> {
    const configs = new Map((this.snapshot?.listeners ?? []).map((l) => [l.name, l]));
    return [...this.gatewayBound.values()].map((b) => {
      const [protocol = 'http'] = b.name.slice(GATEWAY_ID.length + 1).split('.');
      return { listener: b.name, serverPort: configs.get(b.name)?.servicePort ?? 0, protocol, address: b.address, port: b.port };
    });
  }

  /** Turns tracing on (with its default sampling) or off; pushes a new snapshot. */
  async setTracing(tracing: TracingDefaults | undefined): Promise<void> {
    this.tracing = tracing;
    if (this.snapshot) await this.publish();
  }

  close(): void {
    this.closed = true;
  }
}
