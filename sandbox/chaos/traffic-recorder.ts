/**
 * What a scenario observed: every request event (one per request per reporting proxy), closed
 * TCP connections, outlier
 * ejections and returns, workload lifecycle and fault changes, kept in arrival order with their
 * times, so assertions can look at any window of the run after the fact.
 *
 * Request events belong to a window by their `startTime` (when the proxy received the request):
 * a window [from, to] holds the requests that started inside it, however long they took.
 */
import type { FaultEvent, MeshEvent, OutlierEvent, RequestEvent, TcpConnectionEvent, WorkloadEvent } from '../events.js';

/** the data plane flushes request events every 20 ms; give it a few rounds */
export const SETTLE_MS = 120;

export interface TimeRange {
  from: number;
  to: number;
  /** how reports name it: `load "split"`, `the last 2s`, ... */
  label: string;
}

export class TrafficRecorder {
  readonly requests: RequestEvent[] = [];
  readonly outliers: OutlierEvent[] = [];
  readonly workloads: WorkloadEvent[] = [];
  readonly faults: FaultEvent[] = [];
  /** TCP connections, when they closed */
  readonly tcpConnections: TcpConnectionEvent[] = [];
  private lastArrival = 0;

  /** feeds one event in (give this to `onEvent`) */
  record = (e: MeshEvent): void => {
    switch (e.type) {
      case 'mesh:request:end':
        this.requests.push(e);
        this.lastArrival = Date.now();
        return;
      case 'mesh:tcp:close':
        this.tcpConnections.push(e);
        this.lastArrival = Date.now();
        return;
      case 'mesh:outlier:ejected':
      case 'mesh:outlier:returned':
        this.outliers.push(e);
        return;
      case 'mesh:fault:added':
      case 'mesh:fault:removed':
        this.faults.push(e);
        return;
      case 'mesh:workload:starting':
      case 'mesh:workload:started':
      case 'mesh:workload:healthy':
      case 'mesh:workload:unhealthy':
      case 'mesh:workload:exited':
      case 'mesh:workload:restarting':
      case 'mesh:workload:stopped':
        this.workloads.push(e);
        return;
      default:
        return;
    }
  };

  requestsIn(range: TimeRange): RequestEvent[] {
    return this.requests.filter((e) => e.startTime >= range.from && e.startTime <= range.to);
  }

  /** the TCP connections that started inside the window (and have closed) */
  tcpConnectionsIn(range: TimeRange): TcpConnectionEvent[] {
    return this.tcpConnections.filter((e) => e.startTime >= range.from && e.startTime <= range.to);
  }

  outliersIn(range: TimeRange): OutlierEvent[] {
    return this.outliers.filter((e) => e.time >= range.from && e.time <= range.to);
  }

  workloadEventsIn(range: TimeRange): WorkloadEvent[] {
    return this.workloads.filter((e) => e.time >= range.from && e.time <= range.to);
  }

  /** ms since the last request event arrived (Infinity before the first) */
  quietForMs(now = Date.now()): number {
    return this.lastArrival === 0 ? Infinity : now - this.lastArrival;
  }
}
