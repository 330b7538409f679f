/**
 * VirtualService `headers: {request|response: {set, add, remove}}`: `remove` deletes, `set`
 * overwrites, `add` appends to an existing value (comma-joined). Destination-level operations are
 * applied before route-level ones, so the route's win on conflicts (Envoy's default when
 * `most_specific_header_mutations_wins` is off).
 */
import type { HeaderOperations } from '../../config/istio-types.js';

export type HeaderMap = Record<string, string | string[] | undefined>;

export function applyHeaderOps(headers: HeaderMap, ops: HeaderOperations | undefined): void {
  if (!ops) return;
  for (const name of ops.remove ?? []) delete headers[name.toLowerCase()];
  for (const [name, value] of Object.entries(ops.set ?? {})) headers[name.toLowerCase()] = value;
  for (const [rawName, value] of Object.entries(ops.add ?? {})) {
    const name = rawName.toLowerCase();
    const existing = headers[name];
    if (existing === undefined) headers[name] = value;
    else headers[name] = `${Array.isArray(existing) ? existing.join(',') : existing},${value}`;
  }
}
