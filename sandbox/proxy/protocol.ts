/** Messages between the main thread (DataPlane) and the data plane worker. */
import type { MeshEvent } from '../events.js';
import type { ListenerConfig } from '../control/snapshot.js';
import type { DownstreamLimits } from './listener.js';
import type { ProxySecret } from '../security/tls-secrets.js';
import type { RouteSlice, ShippedSnapshot } from './snapshot-shipping.js';

export type DataPlaneCommand =
  | { type: 'bind'; listeners: ListenerConfig[] }
  /** a slice of a route list for the next shipped snapshot (see snapshot-shipping.ts) */
  | { type: 'stage'; slice: RouteSlice }
  | { type: 'apply-shipped'; shipped: ShippedSnapshot }
  | { type: 'clusters' }
  /** SDS: every proxy's workload certificate (../security/tls-secrets.ts) */
  | { type: 'secrets'; secrets: ProxySecret[] }
  | { type: 'secrets-dump' }
  | { type: 'stop'; graceMs: number };

export type ToWorker = { id: number; command: DataPlaneCommand };

export type FromWorker =
  | { type: 'reply'; id: number; ok: true; data: unknown }
  | { type: 'reply'; id: number; ok: false; error: string }
  | { type: 'events'; events: MeshEvent[] };

export interface WorkerInit {
  seed: number;
  limits?: Partial<DownstreamLimits>;
}
