import type { ObjectMeta, IstioSpecs, SupportedKind } from './istio-types.js';
import type { SourceLocation } from './findings.js';

/** The namespace every resource without `metadata.namespace` lives in, as `kubectl apply` does. */
export const DEFAULT_NAMESPACE = 'default';

/**
 * One Kubernetes-style document read from a rules file, validated, with where it came from.
 * `spec` has passed schema validation for `kind` when `kind` is a SupportedKind.
 */
export interface LoadedResource<K extends string = string, S = unknown> {
  apiVersion: string;
  kind: K;
  metadata: ObjectMeta & { namespace: string };
  spec: S;
  /** where the document starts; `docIndex` is 0-based within the file */
  source: SourceLocation & { docIndex: number };
  /**
   * Location of a path inside this document, e.g. `['spec', 'http', 0, 'route']`.
   * Falls back to the nearest existing ancestor, then to the document start.
   */
  locate(path: ReadonlyArray<string | number>): SourceLocation;
}

export type ResourceOf<K extends SupportedKind> = LoadedResource<K, IstioSpecs[K]>;
export type VirtualService = ResourceOf<'VirtualService'>;
export type DestinationRule = ResourceOf<'DestinationRule'>;
export type Gateway = ResourceOf<'Gateway'>;

export function resourceKey(r: { kind: string; metadata: { name: string; namespace: string } }): string {
  return `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
}

export function isKind<K extends SupportedKind>(r: LoadedResource, kind: K): r is ResourceOf<K> {
  return r.kind === kind;
}
