/** Messages between the main thread (DataPlane) and the data plane worker. */
import type { MeshEvent } from '../events.js';
import type { ListenerConfig, MeshSnapshot } from '../control/snapshot.js';
import type { DownstreamLimits } from './listener.js';

export type DataPlaneCommand =
  | { type: 'bind'; listeners: ListenerConfig[] }
  | { type: 'apply'; snapshot: MeshSnapshot }
  | { type: 'clusters' }
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
