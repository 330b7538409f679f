/**
 * The recent requests of a sandbox, for `meshbox stat` (linkerd viz stat): one small record per
 * request seen by a destination sidecar (reporter=destination, as linkerd's inbound stats),
 * kept for a bounded time and count, and aggregated on demand over a window.
 *
 *   SUCCESS      share of requests answered with a status below 500 (a reset, status 0, fails)
 *   RPS          requests / window (the window is cut to the time the sandbox has been observed)
 *   LATENCY_Pnn  nearest-rank percentile of the request durations at the destination sidecar
 *   TCP_CONN     distinct client connections that carried requests in the window
 */
import type { RequestEvent } from '../events.js';

export interface WindowRecord {
  time: number;
  service: string;
  workload: string;
  instance: string;
  status: number;
  durationMs: number;
  connection: string;
}

export interface StatRow {
  name: string;
  requests: number;
  success: number | null;
  rps: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  latencyP99Ms: number | null;
  tcpConnections: number;
}

export type StatGroup = 'service' | 'workload' | 'instance';

export const MAX_WINDOW_MS = 10 * 60_000;

export class RequestWindow {
  private records: WindowRecord[] = [];
  private head = 0;
  readonly startedAt: number;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxRecords = 200_000,
  ) {
    this.startedAt = now();
  }

  observe(e: RequestEvent): void {
    if (e.reporter !== 'destination') return;
    this.records.push({
      time: e.startTime + e.durationMs,
      service: e.destination.serviceName,
      workload: e.destination.workload,
      instance: e.proxy,
      status: e.status,
      durationMs: e.durationMs,
      connection: e.downstreamRemoteAddress,
    });
    const cutoff = this.now() - MAX_WINDOW_MS;
    while (this.head < this.records.length && (this.records.length - this.head > this.maxRecords || this.records[this.head]!.time < cutoff)) this.head++;
    if (this.head > 4096 && this.head * 2 > this.records.length) {
      this.records = this.records.slice(this.head);
      this.head = 0;
    }
  }

  /** one row per name (every name in `names` gets a row, with no requests when none were seen) */
  stat(group: StatGroup, windowMs: number, names: readonly string[]): StatRow[] {
    const now = this.now();
    const from = now - windowMs;
    const seconds = Math.max(0.001, Math.min(windowMs, now - this.startedAt) / 1000);
    const byName = new Map<string, WindowRecord[]>(names.map((n) => [n, []]));
    for (let i = this.head; i < this.records.length; i++) {
      const r = this.records[i]!;
      if (r.time < from) continue;
      const key = group === 'service' ? r.service : group === 'workload' ? r.workload : r.instance;
      const list = byName.get(key);
      if (list) list.push(r);
      else byName.set(key, [r]);
    }
    return [...byName.entries()].map(([name, rs]) => {
      const latencies = rs.map((r) => r.durationMs).sort((a, b) => a - b);
      return {
        name,
        requests: rs.length,
        success: rs.length ? rs.filter((r) => r.status > 0 && r.status < 500).length / rs.length : null,
        rps: rs.length / seconds,
        latencyP50Ms: percentile(latencies, 0.5),
        latencyP95Ms: percentile(latencies, 0.95),
        latencyP99Ms: percentile(latencies, 0.99),
        tcpConnections: new Set(rs.map((r) => r.connection)).size,
      };
    });
  }
}

/** nearest-rank percentile of sorted values, or null without values */
export function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1]!;
}
