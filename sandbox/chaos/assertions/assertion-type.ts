/**
 * An assertion type: one entry of the registry keyed by `type` (./index.ts). Its config is a plain
 * object validated by the scenario schema (its `properties` plus the common fields below); its one
 * required method, `measure`, turns what was observed into a number, which the evaluator
 * (./evaluate.ts) checks against the tolerance (`min`, `max`, `equals` ± `tolerance`).
 *
 * Three kinds:
 * - `requests`: over the request events of a window, selected by which proxy reported them
 *   (default: the ingress gateway's own events, the end-to-end view; with `service`, the events
 *   of the sidecars that called that service); a window with fewer than `minRequests` fails;
 * - `events`: over other events of a window (outlier ejections, TCP connections);
 * - `state`: the sandbox now (healthy instances).
 */
import type { JsonSchema } from '../../config/schemas/json-schema.js';
import type { OutlierEvent, RequestEvent, TcpConnectionEvent, WorkloadEvent } from '../../events.js';
import type { InstanceView } from '../scenario-target.js';
import type { AssertionSpec } from '../scenario-types.js';
import type { Unit } from '../tolerance.js';

export interface MeasureInput {
  /** requests kind: the window's request events, selected */
  requests: RequestEvent[];
  /** the window's outlier ejections and returns */
  outliers: OutlierEvent[];
  /** the window's workload lifecycle events */
  workloadEvents: WorkloadEvent[];
  /** the sandbox's instances now */
  instances(): Promise<InstanceView[]>;
  /** where the requests were seen, for messages: `at the ingress gateway` */
  seenAt: string;
  /** events kind: every request event of the window, from every proxy (trace assertions) */
  allRequests?: RequestEvent[];
  /** events kind: the TCP connections of the window (closed), from every proxy */
  tcpConnections?: TcpConnectionEvent[];
}

export interface Measurement {
  /** undefined when there is nothing to measure (say why in `reason`) */
  value: number | undefined;
  /** what was measured: `success rate`, `p99 latency`, `share of subset v2` */
  what: string;
  /** extra facts for the report: `status 200: 281, 503: 19` */
  detail?: string;
  reason?: string;
}

export interface AssertionType<C extends AssertionSpec = AssertionSpec> {
  type: string;
  /** one sentence for the schema and `meshbox scenario ls --types` */
  summary: string;
  kind: 'requests' | 'events' | 'state';
  /** the unit of the measured value (and of the bounds) */
  unit: Unit | ((config: C) => Unit);
  /** the fields of this type besides the common ones */
  properties: Record<string, JsonSchema>;
  required?: string[];
  /** extra schema rules (exactly one of, ...) */
  rules?: JsonSchema[];
  /** requests kind: false when the assertion is about the number of requests itself */
  minRequests?: false;
  measure(config: C, input: MeasureInput): Measurement | Promise<Measurement>;
}

export function unitOf<C extends AssertionSpec>(type: AssertionType<C>, config: C): Unit {
  return typeof type.unit === 'function' ? type.unit(config) : type.unit;
}

/** `200: 281, 503: 19` for the most frequent keys */
export function countsOf<T>(items: readonly T[], key: (item: T) => string, limit = 6): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  const sorted = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = sorted.slice(0, limit).map(([k, n]) => `${k}: ${n}`);
  if (sorted.length > limit) shown.push(`${sorted.length - limit} more`);
  return shown.join(', ');
}

export function percentOf(part: number, total: number): number {
  return total === 0 ? 0 : (100 * part) / total;
}
