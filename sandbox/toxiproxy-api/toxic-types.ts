/**
 * Toxiproxy's toxic types as its API shows them: the attribute struct of each type (Go names and
 * integer types, for Go's error texts), and the mapping of a Toxiproxy toxic onto meshbox's own
 * toxic implementation (sandbox/proxy/toxics, the same registry the mesh's faults use).
 */
import type { ToxicSpec, ToxicType } from '../faults/fault-spec.js';
import { toxicRegistry } from '../proxy/toxics/toxic.js';
import type { GoStruct } from './go-json.js';

/** the attribute struct of each toxic type in Toxiproxy (toxics/*.go), in field order */
export const TOXIC_STRUCTS: Record<ToxicType, GoStruct> = {
  latency: { name: 'LatencyToxic', fields: [{ json: 'latency', type: 'int64' }, { json: 'jitter', type: 'int64' }] },
  bandwidth: { name: 'BandwidthToxic', fields: [{ json: 'rate', type: 'int64' }] },
  slow_close: { name: 'SlowCloseToxic', fields: [{ json: 'delay', type: 'int64' }] },
  timeout: { name: 'TimeoutToxic', fields: [{ json: 'timeout', type: 'int64' }] },
  reset_peer: { name: 'ResetToxic', fields: [{ json: 'timeout', type: 'int64' }] },
  slicer: {
    name: 'SlicerToxic',
    fields: [
      { json: 'average_size', type: 'int' },
      { json: 'size_variation', type: 'int' },
      { json: 'delay', type: 'int' },
    ],
  },
  limit_data: { name: 'LimitDataToxic', fields: [{ json: 'bytes', type: 'int64' }] },
};

export function isToxicType(type: string): type is ToxicType {
  return Object.hasOwn(toxicRegistry, type) && Object.hasOwn(TOXIC_STRUCTS, type);
}

/** A toxic as Toxiproxy's API shows it (toxics.ToxicWrapper) */
export interface ToxiproxyToxic {
  attributes: Record<string, number>;
  name: string;
  type: ToxicType;
  /** as the client wrote it (Toxiproxy keeps the case; it is matched case-insensitively) */
  stream: string;
  toxicity: number;
}

/** the zero value of a type's attributes: every field present, as Go marshals the struct */
export function zeroAttributes(type: ToxicType): Record<string, number> {
  return Object.fromEntries(TOXIC_STRUCTS[type].fields.map((f) => [f.json, 0]));
}

export function streamOf(t: ToxiproxyToxic): 'upstream' | 'downstream' {
  return t.stream.toLowerCase() === 'upstream' ? 'upstream' : 'downstream';
}

/**
 * The meshbox toxic for a Toxiproxy toxic. Toxiproxy takes any int64 and any toxicity; meshbox's
 * toxics read negative durations as 0 and a toxicity outside 0-1 as never/always, which is what
 * Toxiproxy's code does with them.
 */
export function toMeshToxic(t: ToxiproxyToxic): ToxicSpec {
  return {
    type: t.type,
    name: t.name,
    stream: streamOf(t),
    toxicity: Math.min(1, Math.max(0, t.toxicity)),
    attributes: Object.fromEntries(Object.entries(t.attributes).map(([k, v]) => [k, Math.max(0, v)])),
  };
}

/** Toxiproxy lists a proxy's upstream toxics first, then its downstream ones, each in the order added */
export function chainOrder(toxics: readonly ToxiproxyToxic[]): ToxiproxyToxic[] {
  return [...toxics.filter((t) => streamOf(t) === 'upstream'), ...toxics.filter((t) => streamOf(t) === 'downstream')];
}
