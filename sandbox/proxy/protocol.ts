/** Messages between the main thread (DataPlane) and a data plane worker. */
import type { MeshEvent } from '../events.js';
import type { ListenerConfig } from '../control/snapshot.js';
import type { DownstreamLimits } from './listener.js';
import type { ProxySecret } from '../security/tls-secrets.js';
import type { RouteSlice, ShippedSnapshot } from './snapshot-shipping.js';
import type { HostCommand, TcpConnectionRecord } from '../toxiproxy-api/tcp-proxy-host.js';
import type { WarmUpStep } from './warm-up-site.js';

export type DataPlaneCommand =
  | { type: 'bind'; listeners: ListenerConfig[] }
  /** a slice of a route list for the next shipped snapshot (see snapshot-shipping.ts) */
  | { type: 'stage'; slice: RouteSlice }
  | { type: 'apply-shipped'; shipped: ShippedSnapshot }
  | { type: 'clusters' }
  /** SDS: every proxy's workload certificate (../security/tls-secrets.ts) */
  | { type: 'secrets'; secrets: ProxySecret[] }
  | { type: 'secrets-dump' }
  /** the Toxiproxy API's standalone proxies this worker runs (../toxiproxy-api/tcp-proxy-host.ts) */
  | { type: 'tcp-proxy'; command: HostCommand }
  /** the worker's V8 heap (./thread-memory.ts) */
  | { type: 'memory' }
  /** a step of the warm-up before ready (./warm-up-site.ts) */
  | { type: 'warm'; step: WarmUpStep }
  | { type: 'stop'; graceMs: number };

export type ToWorker = { id: number; command: DataPlaneCommand };

export type FromWorker =
  | { type: 'reply'; id: number; ok: true; data: unknown }
  | { type: 'reply'; id: number; ok: false; error: string }
  | { type: 'events'; events: MeshEvent[] }
  /** a connection of a standalone Toxiproxy proxy opened or closed (Istio's TCP metrics) */
  | { type: 'tcp-connection'; record: TcpConnectionRecord };

export interface WorkerInit {
  seed: number;
  limits?: Partial<DownstreamLimits>;
  /** this worker's position among the data plane's workers (0-based), for messages */
  index?: number;
}
