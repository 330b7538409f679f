/**
 * The order and identity rules of a set of loaded resources, shared by the loader, the analyzer
 * and the snapshot compiler so they all agree on "which one wins":
 *
 * - Resources are ordered by load order: paths in the order given, the files of a folder sorted
 *   by name, documents in file order. Where Istio picks the oldest resource (conflicting
 *   VirtualServices for one host, the trafficPolicy of merged DestinationRules), meshbox picks the
 *   first in this order.
 * - The same kind/namespace/name defined twice is one resource, as with `kubectl apply -R` of both
 *   files: the later definition replaces the earlier one and takes its place in the order (an
 *   update keeps the creation time).
 */
import type { LoadedResource } from './resource.js';
import { resourceKey } from './resource.js';

export interface Replacement {
  /** the definition that is no longer in effect */
  earlier: LoadedResource;
  /** the definition that replaced it */
  later: LoadedResource;
}

export function dedupeResources(resources: readonly LoadedResource[]): { kept: LoadedResource[]; replaced: Replacement[] } {
  const index = new Map<string, number>();
  const kept: LoadedResource[] = [];
  const replaced: Replacement[] = [];
  for (const r of resources) {
    const key = resourceKey(r);
    const at = index.get(key);
    if (at === undefined) {
      index.set(key, kept.length);
      kept.push(r);
    } else {
      replaced.push({ earlier: kept[at]!, later: r });
      kept[at] = r;
    }
  }
  return { kept, replaced };
}

/** `VirtualService default/reviews (rules/a.yaml:3)` */
export function describeResource(r: LoadedResource): string {
  return `${r.kind} ${r.metadata.namespace}/${r.metadata.name} (${r.source.file}:${r.source.line})`;
}
