/**
 * Network toxics with Toxiproxy's names and semantics, on the byte streams of a connection.
 *
 *   client sidecar ──> ToxicProxy ──upstream link: [toxic, toxic, ...]──> endpoint (inbound sidecar)
 *                                <──downstream link: [toxic, ...]───────
 *
 * A toxic is one small object per type (registry below), with one required method:
 * `process(chunk)` gives the chunks to pass on (possibly after waiting, split, or none); an async
 * generator passes each piece down the rest of the chain before making the next (pacing).
 * Optional: `start(link)` when the toxic becomes active on a link (timers), `beforeEnd()` when
 * the stream ends (slow_close). Every wait must end when the link closes.
 */
import type { ToxicSpec, ToxicStream, ToxicType } from '../../faults/fault-spec.js';
import type { Rng } from '../../rng.js';
import { bandwidth } from './bandwidth.js';
import { latency } from './latency.js';
import { limitData } from './limit-data.js';
import { resetPeer } from './reset-peer.js';
import { slicer } from './slicer.js';
import { slowClose } from './slow-close.js';
import { timeout } from './timeout.js';

export interface Chunk {
  data: Buffer;
  /** when the bytes arrived (ms, performance.now) */
  at: number;
}

/** What a toxic may do to the link it runs on. */
export interface LinkControl {
  readonly stream: ToxicStream;
  readonly rng: Rng;
  /** resolves after ms, or early (false) when the link closes */
  sleep(ms: number): Promise<boolean>;
  /** closes the connection (both directions) with a FIN */
  close(): void;
  /** resets the connection (both directions) with a TCP RST */
  reset(): void;
  /** registers a timer cleared when the link closes */
  timer(ms: number, fn: () => void): void;
}

export interface Toxic {
  process(chunk: Chunk, link: LinkControl): Iterable<Chunk> | AsyncIterable<Chunk> | Promise<Iterable<Chunk>>;
  start?(link: LinkControl): void;
  beforeEnd?(link: LinkControl): Promise<void>;
}

export type ToxicFactory = (attributes: Record<string, number>) => Toxic;

export const toxicRegistry = {
  latency,
  bandwidth,
  slow_close: slowClose,
  timeout,
  reset_peer: resetPeer,
  slicer,
  limit_data: limitData,
} satisfies Record<ToxicType, ToxicFactory>;

/** a toxic as configured on a proxy: spec defaults resolved, implementation created */
export interface ConfiguredToxic {
  name: string;
  type: ToxicType;
  stream: ToxicStream;
  toxicity: number;
  spec: ToxicSpec;
  /** one implementation per link (toxics may keep per-connection state) */
  create(): Toxic;
}

export function configureToxic(spec: ToxicSpec): ConfiguredToxic {
  const stream = spec.stream ?? 'downstream';
  const factory: ToxicFactory = toxicRegistry[spec.type];
  return {
    name: spec.name ?? `${spec.type}_${stream}`,
    type: spec.type,
    stream,
    toxicity: spec.toxicity ?? 1,
    spec,
    create: () => factory(spec.attributes ?? {}),
  };
}
