/**
 * The terminal UI's view store: the only subscriber to the sandbox's event stream on the UI side,
 * outside React. It folds events into counters and bounded buffers as they arrive (O(1) per
 * event), and publishes an immutable ViewSnapshot at most every `intervalMs` (100 ms: ten frames a
 * second) and only when something the UI shows has changed. Under heavy traffic (more than
 * `busyEventsPerSecond`) it publishes at most every `busyIntervalMs` (200 ms): nobody reads a tap
 * faster than that, and the CPU goes to the mesh; an action's result still shows at the next tick. React components read snapshots
 * through `useViewSnapshot`; they never see individual events, so the UI never renders per
 * request, whatever the request rate.
 *
 *   sandbox events ──> ViewStore.handle()      counters: sliding windows per instance, version,
 *                        │                     service and edge; rings: tap, logs; request index
 *                        └─ every 100 ms, if dirty: build snapshot ─ deep-compare ─> subscribers
 *
 * Where the numbers come from (as Istio's reporters split them):
 * - service and version rows, and graph edges: reporter=source events, what callers experience
 *   (after retries, timeouts and client-side faults);
 * - instance rows: reporter=destination events at the instance's own inbound sidecar, what the
 *   instance answered (faults applied at the inbound sidecar show up here first).
 */
import type { Finding } from '../../sandbox/config/findings.js';
import type { MeshEvent, RequestEvent, UpgradeEvent } from '../../sandbox/events.js';
import type { FaultRecord } from '../../sandbox/faults/fault-spec.js';
import type { InstanceInfo, LoadStatus, RuleResource, SandboxController } from './controller.js';
import { RingBuffer } from './ring-buffer.js';
import { latencyBucket, SlidingWindow, type WindowOptions, type WindowSummary } from './sliding-window.js';
import { isTcpRow, tcpRow, upstreamOf } from './traffic.js';

export type SandboxPhase = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface Rates {
  rps: number;
  /** 0-100, undefined without traffic */
  success: number | undefined;
  p50: number | undefined;
  p99: number | undefined;
}

export interface InstanceRow extends InstanceInfo {
  rates: Rates;
  /** ejected by outlier detection: the reason */
  ejected: string | undefined;
}

export interface VersionRow {
  service: string;
  version: string;
  rates: Rates;
  /** requests per second answered 503 UO (circuit breaker overflow) */
  overflowRps: number;
  instances: InstanceRow[];
}

export interface ServiceRow {
  service: string;
  rates: Rates;
  versions: VersionRow[];
}

export interface EdgeSplit {
  version: string;
  /** share of the edge's requests in the window, 0-100 */
  share: number;
  rps: number;
  /** 0-100, undefined without traffic */
  errorRate: number | undefined;
}

export interface EdgeRow {
  /** the calling workload (`caller-service-v1`, `istio-ingressgateway`) */
  source: string;
  /** the called service (`callme-service`) */
  destination: string;
  rates: Rates;
  split: EdgeSplit[];
  /** share of the edge's requests in the window that reached the callee over mutual TLS, 0-100 (undefined when none says) */
  mtls: number | undefined;
}

export interface LogLine {
  seq: number;
  time: number;
  /** instance id, or `meshbox` for the sandbox's own lifecycle lines */
  source: string;
  stream: 'stdout' | 'stderr' | 'meshbox';
  level: 'info' | 'warn' | 'error';
  text: string;
}

export interface ConfigView {
  /** version of the snapshot the data plane serves (it also moves when endpoints or faults change) */
  snapshotVersion: number;
  /** the snapshot version the rules were last applied in (what the header shows as `rules vN`) */
  rulesVersion: number;
  /** the last rules version applied: when, and how many resources changed */
  lastApplied: { time: number; changed: number } | undefined;
  /** when rule files were last rejected */
  lastRejected: number | undefined;
  /** errors and warnings in the rule files now (errors: those files, or their new versions, are not applied) */
  errors: number;
  warnings: number;
}

export interface Notice {
  time: number;
  level: 'info' | 'warn' | 'error';
  message: string;
  hint?: string;
}

/** an upgraded stream (WebSocket) open now, as its caller's side reported it */
export interface OpenStream {
  proxy: string;
  /** the answering instance (or the service) */
  destination: string;
  method: string;
  path: string;
  /** the protocol switched to (`websocket`) */
  upgrade: string;
  requestId: string;
  /** epoch ms of the switch */
  since: number;
}

export interface ViewSnapshot {
  /** increases with every published snapshot */
  seq: number;
  time: number;
  sandbox: {
    phase: SandboxPhase;
    id: string;
    name: string;
    runtime: string | undefined;
    ingressUrl: string;
    adminUrl: string;
    toxiproxyUrl: string;
    seed: number;
    rulesDir: string | undefined;
    startedAt: number;
    healthy: number;
    instances: number;
    /** every instance was healthy at some point */
    wasReady: boolean;
    /** why the sandbox failed, or what it is doing */
    message: string | undefined;
  };
  config: ConfigView;
  services: ServiceRow[];
  edges: EdgeRow[];
  traffic: {
    /** reporter=source events, one per hop, oldest first (bounded) */
    events: readonly RequestEvent[];
    /** upgraded streams (WebSocket) open now, oldest first (bounded); each becomes a hop when it closes */
    open: readonly OpenStream[];
    /** requests per second through the ingress gateway */
    ingressRps: number;
    /** hops per second (reporter=source events) */
    hopRps: number;
    total: number;
  };
  logs: readonly LogLine[];
  rules: { resources: RuleResource[]; findings: Finding[] };
  faults: { available: boolean; list: FaultRecord[]; firedRps: Record<string, number> };
  load: LoadStatus | undefined;
  lastNotice: Notice | undefined;
}

export interface ViewStoreOptions {
  /** epoch ms; injected for tests */
  now?: () => number;
  /** minimum time between two snapshots; @default 100 */
  intervalMs?: number;
  /** hops kept for the tap; @default 500 */
  tapCapacity?: number;
  /** log lines kept; @default 1000 */
  logCapacity?: number;
  /** request ids whose events are kept for the detail view; @default 1500 */
  requestCapacity?: number;
  /** events kept per request id (a client may reuse one id forever): the newest; @default 64 */
  eventsPerRequest?: number;
  /** events kept in the request index in all; @default 10000 */
  indexedEvents?: number;
  /** counters (sliding windows: per instance, version, service, edge, fault); @default 1024 */
  seriesCapacity?: number;
  /** graph edges; @default 256 */
  edgeCapacity?: number;
  /** an edge without traffic for this long leaves the graph; @default 300000 (5 min) */
  edgeIdleMs?: number;
  /** characters kept of one log line; @default 2000 */
  logLineChars?: number;
  /** collect the workloads' own output; @default true */
  logs?: boolean;
  /** above this many sandbox events a second, publish at most every busyIntervalMs; @default 2000 */
  busyEventsPerSecond?: number;
  /** @default 200 */
  busyIntervalMs?: number;
  window?: WindowOptions;
}

const round = (value: number | undefined, digits: number): number | undefined => {
  if (value === undefined) return undefined;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

/** latency rounded to what the UI prints (0.1 ms under 10 ms, then whole ms) */
const roundMs = (value: number | undefined): number | undefined => (value === undefined ? undefined : value < 10 ? round(value, 1) : Math.round(value));

function rates(s: WindowSummary): Rates {
  return { rps: round(s.rps, 1)!, success: round(s.successRate, 1), p50: roundMs(s.p50), p99: roundMs(s.p99) };
}

/** The version a hop ended at: the answering endpoint's label, else the routed subset. */
function versionOf(e: RequestEvent): string | undefined {
  if (e.destination.version !== 'unknown') return e.destination.version;
  return e.destination.subset;
}

/** plain-data deep equality, short-circuiting on identity */
export function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!sameData((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

/** keeps the previous value when equal, so unchanged sections keep their identity */
function keep<T>(prev: T | undefined, next: T): T {
  return prev !== undefined && sameData(prev, next) ? prev : next;
}

type BufferName = 'requestIds' | 'indexedEvents' | 'eventsPerRequest' | 'series' | 'edges' | 'edgeVersions' | 'ejected' | 'tap' | 'logs' | 'openStreams';

/** ejected endpoints remembered at most (more than any mesh on one machine has instances) */
const EJECTED_CAPACITY = 512;
/** open upgraded streams remembered at most (the oldest is forgotten: its end event may never come, if its proxy went away) */
const OPEN_STREAM_CAPACITY = 256;

const streamKey = (e: { proxy: string; requestId: string; startTime: number }): string => `${e.proxy}|${e.requestId}|${e.startTime}`;

export class ViewStore {
  private readonly now: () => number;
  private readonly intervalMs: number;
  private readonly busyEventsPerSecond: number;
  private readonly busyIntervalMs: number;
  /** events seen, and the rate measured over the last second */
  private events = 0;
  private rateSample = { at: 0, events: 0 };
  private eventRate = 0;
  private lastPublishAt = -Infinity;
  /** something the user did changed: publish at the next tick, busy or not */
  private urgent = false;
  private readonly windowOptions: WindowOptions;
  private readonly collectLogs: boolean;
  /**
   * Every buffer is bounded (bufferSizes() <= bufferLimits()): counters idle for a window are
   * dropped (and the oldest when there are too many), edges idle for edgeIdleMs leave the graph,
   * the request index keeps at most requestCapacity ids, eventsPerRequest events per id and
   * indexedEvents events in all, rings keep their capacity, log lines are cut at logLineChars.
   * (The subscriber set holds one entry per mounted component; each leaves on unmount.)
   */
  private readonly windows = new Map<string, SlidingWindow>();
  /** edge key -> versions with traffic on it in the window */
  private readonly edgeVersions = new Map<string, Set<string>>();
  private readonly edges = new Map<string, { source: string; destination: string; lastAt: number }>();
  private readonly tap: RingBuffer<RequestEvent>;
  private readonly logRing: RingBuffer<LogLine>;
  /** request id -> its events, oldest first; the Map's order: least recently seen id first */
  private readonly requests = new Map<string, RequestEvent[]>();
  private readonly requestCapacity: number;
  private readonly eventsPerRequest: number;
  private readonly indexBudget: number;
  private indexedEvents = 0;
  private readonly seriesCapacity: number;
  private readonly edgeCapacity: number;
  private readonly edgeIdleMs: number;
  private readonly logLineChars: number;
  private lastSweepAt = -Infinity;
  /** ejected endpoints -> why; at most ejectedCapacity, those no longer in the mesh are forgotten */
  private readonly ejected = new Map<string, string>();
  /** upgraded streams open now (caller's side), by proxy, request id and start; oldest first */
  private readonly openStreams = new Map<string, OpenStream>();
  private readonly listeners = new Set<() => void>();
  private readonly unsubscribe: () => void;
  private timer: NodeJS.Timeout | undefined;
  private snapshot: ViewSnapshot;
  private dirty = true;
  private lastRequestAt = -Infinity;
  private logSeq = 0;
  private phase: SandboxPhase = 'starting';
  private phaseMessage: string | undefined;
  private startedAt: number;
  private wasReady = false;
  private lastApplied: ConfigView['lastApplied'];
  /** the version of the last `mesh:config:applied`; before one, the first snapshot seen */
  private rulesVersion: number | undefined;
  private lastRejected: number | undefined;
  private lastNotice: Notice | undefined;
  /** snapshots published, for the benchmark */
  published = 0;

  constructor(
    private readonly controller: SandboxController,
    options: ViewStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.intervalMs = options.intervalMs ?? 100;
    this.busyEventsPerSecond = options.busyEventsPerSecond ?? 2000;
    this.busyIntervalMs = options.busyIntervalMs ?? 200;
    this.windowOptions = options.window ?? {};
    this.collectLogs = options.logs ?? true;
    this.tap = new RingBuffer(options.tapCapacity ?? 500);
    this.logRing = new RingBuffer(options.logCapacity ?? 1000);
    this.requestCapacity = options.requestCapacity ?? 1500;
    this.eventsPerRequest = options.eventsPerRequest ?? 64;
    this.indexBudget = options.indexedEvents ?? 10_000;
    this.seriesCapacity = options.seriesCapacity ?? 1024;
    this.edgeCapacity = options.edgeCapacity ?? 256;
    this.edgeIdleMs = options.edgeIdleMs ?? 300_000;
    this.logLineChars = options.logLineChars ?? 2000;
    this.startedAt = this.now();
    this.snapshot = this.build(undefined);
    this.unsubscribe = controller.onEvent((e) => this.handle(e));
  }

  /** starts publishing (every intervalMs, when something changed) */
  start(): this {
    this.timer ??= setInterval(() => this.publish(), this.intervalMs);
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): ViewSnapshot => this.snapshot;

  /** something outside the event stream changed (an action's result): publish at the next tick */
  touch(): void {
    this.dirty = true;
    this.urgent = true;
  }

  /** the sandbox failed to start, or is shutting down: shown in the header */
  setPhase(phase: SandboxPhase, message?: string): void {
    this.phase = phase;
    this.phaseMessage = message;
    this.dirty = true;
  }

  /** a line in the logs view from the UI itself (action results, console output) */
  note(level: LogLine['level'], text: string): void {
    this.pushLog('meshbox', 'meshbox', level, text, this.now());
    this.dirty = true;
  }

  /** how much each buffer holds now (the same keys as bufferLimits) */
  bufferSizes(): Record<BufferName, number> {
    let versions = 0;
    for (const v of this.edgeVersions.values()) versions += v.size;
    return {
      requestIds: this.requests.size,
      indexedEvents: this.indexedEvents,
      eventsPerRequest: Math.max(0, ...[...this.requests.values()].map((l) => l.length)),
      series: this.windows.size,
      edges: this.edges.size,
      edgeVersions: versions,
      ejected: this.ejected.size,
      tap: this.tap.length,
      logs: this.logRing.length,
      openStreams: this.openStreams.size,
    };
  }

  /** the most each buffer may hold */
  bufferLimits(): Record<BufferName, number> {
    return {
      requestIds: this.requestCapacity,
      indexedEvents: this.indexBudget,
      eventsPerRequest: this.eventsPerRequest,
      series: this.seriesCapacity,
      edges: this.edgeCapacity,
      // each edge's versions have their own counters
      edgeVersions: this.seriesCapacity,
      ejected: EJECTED_CAPACITY,
      tap: this.tap.capacity,
      logs: this.logRing.capacity,
      openStreams: OPEN_STREAM_CAPACITY,
    };
  }

  /** every event still kept for a request id (both reporters, every hop and attempt), oldest first */
  requestEvents(requestId: string): RequestEvent[] {
    return this.requests.get(requestId) ?? [];
  }

  /** the destination-side events of the hop `e` made (one per attempt that reached a sidecar) */
  upstreamEvents(e: RequestEvent): RequestEvent[] {
    return upstreamOf(e, this.requestEvents(e.requestId));
  }

  /** Builds and publishes a snapshot now if anything changed; returns whether it published. */
  publish(): boolean {
    const now = this.now();
    if (now - this.rateSample.at >= 1000) {
      this.eventRate = ((this.events - this.rateSample.events) * 1000) / (now - this.rateSample.at);
      this.rateSample = { at: now, events: this.events };
    }
    const interval = this.eventRate > this.busyEventsPerSecond ? this.busyIntervalMs : this.intervalMs;
    // (a tick may fire a little early: 10 % slack)
    if (!this.urgent && now - this.lastPublishAt < interval * 0.9) return false;
    const live = now - this.lastRequestAt < this.windowMs() + this.intervalMs;
    if (!this.dirty && !live && !this.controller.load.status()?.running) return false;
    this.dirty = false;
    this.urgent = false;
    this.lastPublishAt = now;
    if (now - this.lastSweepAt >= this.windowMs()) this.sweep(now);
    const next = this.build(this.snapshot);
    if (next === this.snapshot) return false;
    this.snapshot = next;
    this.published++;
    for (const l of this.listeners) l();
    return true;
  }

  private windowMs(): number {
    return (this.windowOptions.bucketMs ?? 500) * (this.windowOptions.buckets ?? 10);
  }

  private window(key: string): SlidingWindow {
    let w = this.windows.get(key);
    if (!w) {
      if (this.windows.size >= this.seriesCapacity) this.evictSeries();
      this.windows.set(key, (w = new SlidingWindow(this.windowOptions)));
    }
    return w;
  }

  /** too many counters at once: the one recorded into longest ago goes (its rows show no traffic) */
  private evictSeries(): void {
    let oldest: string | undefined;
    let oldestAt = Infinity;
    for (const [key, w] of this.windows) {
      if (w.lastAt < oldestAt) {
        oldestAt = w.lastAt;
        oldest = key;
      }
    }
    if (oldest !== undefined) this.dropSeries(oldest);
  }

  private dropSeries(key: string): void {
    this.windows.delete(key);
    // a version's counter on an edge: the version leaves the edge's split
    if (key.startsWith('ev:')) {
      const cut = key.lastIndexOf('|');
      const edge = key.slice(3, cut);
      const versions = this.edgeVersions.get(edge);
      versions?.delete(key.slice(cut + 1));
      if (versions?.size === 0) this.edgeVersions.delete(edge);
    }
  }

  /** drops counters without traffic in the window, edges idle for edgeIdleMs, ejections of endpoints gone */
  private sweep(now: number): void {
    this.lastSweepAt = now;
    for (const [key, w] of [...this.windows]) if (w.idle(now)) this.dropSeries(key);
    for (const [key, edge] of [...this.edges]) {
      if (now - edge.lastAt < this.edgeIdleMs) continue;
      this.edges.delete(key);
      this.edgeVersions.delete(key);
    }
    if (this.ejected.size > 0) {
      const known = new Set(this.controller.instances().map((i) => i.id));
      if (known.size > 0) for (const endpoint of [...this.ejected.keys()]) if (!known.has(endpoint)) this.ejected.delete(endpoint);
    }
  }

  handle(e: MeshEvent): void {
    this.events++;
    switch (e.type) {
      case 'mesh:request:end':
        this.onRequest(e);
        return;
      case 'mesh:request:upgraded':
        this.onUpgraded(e);
        break;
      case 'mesh:tcp:close':
        // a TCP connection is a row of the tap too (method TCP, bytes each way)
        this.onRequest(tcpRow(e));
        return;
      case 'mesh:workload:log':
        if (this.collectLogs) this.pushLog(e.instance, e.stream, e.stream === 'stderr' ? 'warn' : 'info', e.line, e.time);
        break;
      case 'mesh:workload:starting':
        this.pushLog('meshbox', 'meshbox', 'info', `${e.instance} starting on port ${e.port}`, e.time);
        break;
      case 'mesh:workload:started':
        this.pushLog('meshbox', 'meshbox', 'info', `${e.instance} started (pid ${e.pid})`, e.time);
        break;
      case 'mesh:workload:healthy':
        this.pushLog('meshbox', 'meshbox', 'info', `${e.instance} healthy`, e.time);
        break;
      case 'mesh:workload:unhealthy':
        this.pushLog('meshbox', 'meshbox', 'warn', `${e.instance} unhealthy${e.reason ? `: ${e.reason}` : ''}`, e.time);
        break;
      case 'mesh:workload:exited':
        this.pushLog('meshbox', 'meshbox', 'error', `${e.instance} exited (${e.signal ? `signal ${e.signal}` : `code ${e.exitCode}`})`, e.time);
        break;
      case 'mesh:workload:restarting':
        this.pushLog('meshbox', 'meshbox', 'warn', `${e.instance} restarting in ${(e.delayMs ?? 0) / 1000}s (${e.reason})`, e.time);
        break;
      case 'mesh:workload:stopped':
        this.pushLog('meshbox', 'meshbox', 'info', `${e.instance} stopped`, e.time);
        break;
      case 'mesh:config:applied':
        this.lastApplied = { time: e.time, changed: e.changed.length };
        this.rulesVersion = e.version;
        this.pushLog('meshbox', 'meshbox', 'info', `rules v${e.version} applied${e.changed.length ? `: ${e.changed.join(', ')}` : ''}`, e.time);
        break;
      case 'mesh:config:rejected':
        this.lastRejected = e.time;
        this.pushLog('meshbox', 'meshbox', 'error', `rules rejected (${e.findings.length} finding${e.findings.length === 1 ? '' : 's'}): the data plane keeps its last good configuration`, e.time);
        break;
      case 'mesh:sandbox:starting':
        this.phase = 'starting';
        this.startedAt = e.time;
        this.pushLog('meshbox', 'meshbox', 'info', e.message, e.time);
        break;
      case 'mesh:sandbox:ready':
        if (this.phase === 'starting') this.phase = 'running';
        this.pushLog('meshbox', 'meshbox', 'info', e.message, e.time);
        break;
      case 'mesh:sandbox:stopping':
        this.phase = 'stopping';
        this.phaseMessage = e.message;
        this.pushLog('meshbox', 'meshbox', 'info', e.message, e.time);
        break;
      case 'mesh:sandbox:stopped':
        this.phase = 'stopped';
        this.phaseMessage = undefined;
        this.pushLog('meshbox', 'meshbox', 'info', e.message, e.time);
        break;
      case 'mesh:notice':
        this.lastNotice = { time: e.time, level: e.level, message: e.message, hint: e.hint };
        this.pushLog('meshbox', 'meshbox', e.level, e.hint ? `${e.message} (hint: ${e.hint})` : e.message, e.time);
        break;
      case 'mesh:fault:added':
        this.pushLog('meshbox', 'meshbox', 'warn', `fault ${e.name} added: ${e.summary}`, e.time);
        break;
      case 'mesh:fault:removed':
        this.pushLog('meshbox', 'meshbox', 'info', `fault ${e.name} removed (${e.reason ?? 'deleted'})`, e.time);
        break;
      case 'mesh:outlier:ejected':
        this.ejected.delete(e.endpoint);
        this.ejected.set(e.endpoint, e.reason ?? 'outlier detection');
        if (this.ejected.size > EJECTED_CAPACITY) this.ejected.delete(this.ejected.keys().next().value!);
        this.pushLog('meshbox', 'meshbox', 'warn', `${e.endpoint} ejected from ${e.cluster}${e.reason ? `: ${e.reason}` : ''}`, e.time);
        break;
      case 'mesh:outlier:returned':
        this.ejected.delete(e.endpoint);
        this.pushLog('meshbox', 'meshbox', 'info', `${e.endpoint} returned to ${e.cluster}`, e.time);
        break;
      case 'mesh:image:build':
        if (e.phase === 'start' || e.phase === 'progress') {
          if (this.phase === 'starting') this.phaseMessage = `building image ${e.image}`;
          this.pushLog('meshbox', 'meshbox', 'info', `image ${e.image}: ${e.message}`, e.time);
        } else {
          if (this.phase === 'starting') this.phaseMessage = undefined;
          const took = e.durationMs !== undefined ? ` (${(e.durationMs / 1000).toFixed(1)}s)` : '';
          this.pushLog('meshbox', 'meshbox', e.phase === 'failed' ? 'error' : 'info', `image ${e.image} ${e.phase === 'cached' ? 'up to date' : e.phase}${took}: ${e.message}`, e.time);
        }
        break;
      case 'mesh:listener:ready':
        return;
      default: {
        // a kind of event this UI does not know yet: it still shows in the logs
        const other = e as { type: string; time?: number; message?: unknown };
        this.pushLog('meshbox', 'meshbox', 'info', typeof other.message === 'string' ? `${other.type}: ${other.message}` : other.type, other.time ?? this.now());
      }
    }
    this.dirty = true;
  }

  private onUpgraded(e: UpgradeEvent): void {
    if (e.reporter !== 'source') return;
    if (this.openStreams.size >= OPEN_STREAM_CAPACITY) this.openStreams.delete(this.openStreams.keys().next().value!);
    this.openStreams.set(streamKey(e), {
      proxy: e.proxy,
      destination: e.endpoint ? e.endpoint.replace(/\/app$/, '') : e.destination.serviceName,
      method: e.method,
      path: e.path,
      upgrade: e.upgrade,
      requestId: e.requestId,
      since: e.time,
    });
  }

  private onRequest(e: RequestEvent): void {
    const now = this.now();
    if (e.upgrade && e.reporter === 'source') this.openStreams.delete(streamKey(e));
    this.lastRequestAt = now;
    const ok = isTcpRow(e) ? e.responseFlags === '-' : e.status > 0 && e.status < 500;
    const bucket = latencyBucket(e.durationMs);
    this.index(e);
    if (e.reporter === 'destination') {
      this.window(`i:${e.proxy}`).record(now, ok, bucket);
      for (const line of e.why) {
        const fired = /^fault (\S+): /.exec(line);
        if (fired) this.window(`f:${fired[1]}`).record(now, true, 0);
      }
      // a mirrored copy has no source-side event (as in Istio): its row in the tap is the mirror's own
      if (e.shadowOf) this.tap.push(e);
      return;
    }
    this.tap.push(e);
    this.window('hops').record(now, ok, bucket);
    if (e.listener === 'gateway') this.window('ingress').record(now, ok, bucket);
    const service = e.destination.serviceName;
    if (service === 'unknown') return;
    const version = versionOf(e);
    this.window(`s:${service}`).record(now, ok, bucket);
    if (version) {
      this.window(`v:${service}|${version}`).record(now, ok, bucket);
      if (e.responseFlags.includes('UO')) this.window(`uo:${service}|${version}`).record(now, false, bucket);
    }
    const edge = `${e.source.workload}|${service}`;
    const known = this.edges.get(edge);
    if (known) known.lastAt = now;
    else {
      if (this.edges.size >= this.edgeCapacity) this.evictEdge();
      this.edges.set(edge, { source: e.source.workload, destination: service, lastAt: now });
    }
    this.window(`e:${edge}`).record(now, ok, bucket);
    // the calling side's event says whether its upstream connection was mTLS (a local reply, such
    // as an injected abort, made no connection; an event of an older sandbox does not say)
    if (e.connectionSecurity !== undefined && e.upstreamHost) {
      this.window(`es:${edge}`).record(now, ok, bucket);
      if (e.connectionSecurity === 'mutual_tls') this.window(`em:${edge}`).record(now, ok, bucket);
    }
    if (version) {
      // the counter first: making room for it may drop a version of this very edge
      this.window(`ev:${edge}|${version}`).record(now, ok, bucket);
      let versions = this.edgeVersions.get(edge);
      if (!versions) this.edgeVersions.set(edge, (versions = new Set()));
      versions.add(version);
    }
  }

  private evictEdge(): void {
    let oldest: string | undefined;
    let oldestAt = Infinity;
    for (const [key, edge] of this.edges) {
      if (edge.lastAt < oldestAt) {
        oldestAt = edge.lastAt;
        oldest = key;
      }
    }
    if (oldest === undefined) return;
    this.edges.delete(oldest);
    this.edgeVersions.delete(oldest);
  }

  private index(e: RequestEvent): void {
    const id = e.requestId;
    let list = this.requests.get(id);
    // the most recently seen id goes last, so a request being looked at is the last to go
    if (list) this.requests.delete(id);
    else list = [];
    list.push(e);
    this.indexedEvents++;
    if (list.length > this.eventsPerRequest) {
      list.shift();
      this.indexedEvents--;
    }
    this.requests.set(id, list);
    while (this.requests.size > this.requestCapacity || this.indexedEvents > this.indexBudget) {
      const [oldestId, oldest] = this.requests.entries().next().value!;
      if (oldestId === id) break;
      this.requests.delete(oldestId);
      this.indexedEvents -= oldest.length;
    }
  }

  private pushLog(source: string, stream: LogLine['stream'], level: LogLine['level'], text: string, time: number): void {
    const cut = text.length > this.logLineChars ? `${text.slice(0, this.logLineChars)} … (${text.length - this.logLineChars} more characters)` : text;
    this.logRing.push({ seq: ++this.logSeq, time, source, stream, level, text: cut });
  }

  private summary(key: string, now: number): WindowSummary {
    const w = this.windows.get(key);
    if (!w) return { count: 0, rps: 0, successRate: undefined, p50: undefined, p99: undefined };
    return w.summary(now);
  }

  private build(prev: ViewSnapshot | undefined): ViewSnapshot {
    const now = this.now();
    const c = this.controller;
    const info = c.info();
    const instances = c.instances();
    const healthy = instances.filter((i) => i.healthy && i.state === 'running').length;
    if (instances.length > 0 && healthy === instances.length) this.wasReady = true;

    const sandbox: ViewSnapshot['sandbox'] = keep(prev?.sandbox, {
      phase: this.phase,
      id: info.id,
      name: info.name,
      runtime: info.runtime,
      ingressUrl: info.ingressUrl,
      adminUrl: info.adminUrl,
      toxiproxyUrl: info.toxiproxyUrl ?? '',
      seed: info.seed,
      rulesDir: info.rulesDir,
      startedAt: this.startedAt,
      healthy,
      instances: instances.length,
      wasReady: this.wasReady,
      message: this.phaseMessage,
    });
    // the sandbox's current findings are the truth: a file fixed back to what is serving emits no `applied`
    const findings = [...c.findings()];
    const snapshotVersion = c.snapshotVersion();
    if (this.rulesVersion === undefined && snapshotVersion > 0) this.rulesVersion = snapshotVersion;
    const config = keep(prev?.config, {
      snapshotVersion,
      rulesVersion: this.rulesVersion ?? 0,
      lastApplied: this.lastApplied,
      lastRejected: this.lastRejected,
      errors: findings.filter((f) => f.severity === 'error').length,
      warnings: findings.filter((f) => f.severity === 'warning').length,
    });
    const services = keep(prev?.services, this.buildServices(instances, now));
    const edges = keep(prev?.edges, this.buildEdges(now));
    const tapEvents = prev && prev.traffic.total === this.tap.total ? prev.traffic.events : this.tap.last();
    const traffic = keep(prev?.traffic, {
      events: tapEvents,
      open: [...this.openStreams.values()],
      ingressRps: round(this.summary('ingress', now).rps, 1)!,
      hopRps: round(this.summary('hops', now).rps, 1)!,
      total: this.tap.total,
    });
    const logs = prev && prev.logs.length > 0 && prev.logs[prev.logs.length - 1]!.seq === this.logSeq ? prev.logs : this.logRing.last();
    const rules = keep(prev?.rules, { resources: c.resources(), findings });
    const faultList = c.faults?.list() ?? [];
    const firedRps: Record<string, number> = {};
    for (const f of faultList) {
      const r = round(this.summary(`f:${f.name}`, now).rps, 1)!;
      if (r > 0) firedRps[f.name] = r;
    }
    const faults = keep(prev?.faults, { available: c.faults !== undefined, list: faultList, firedRps });
    const load = keep(prev?.load, roundLoad(c.load.status()));
    const lastNotice = this.lastNotice;

    if (
      prev &&
      sandbox === prev.sandbox &&
      config === prev.config &&
      services === prev.services &&
      edges === prev.edges &&
      traffic === prev.traffic &&
      logs === prev.logs &&
      rules === prev.rules &&
      faults === prev.faults &&
      load === prev.load &&
      lastNotice === prev.lastNotice
    ) {
      return prev;
    }
    return { seq: (prev?.seq ?? 0) + 1, time: now, sandbox, config, services, edges, traffic, logs, rules, faults, load, lastNotice };
  }

  private buildServices(instances: InstanceInfo[], now: number): ServiceRow[] {
    const byService = new Map<string, Map<string, InstanceInfo[]>>();
    for (const i of instances) {
      let versions = byService.get(i.service);
      if (!versions) byService.set(i.service, (versions = new Map()));
      let list = versions.get(i.version);
      if (!list) versions.set(i.version, (list = []));
      list.push(i);
    }
    const rows: ServiceRow[] = [];
    for (const [service, versions] of [...byService].sort(([a], [b]) => a.localeCompare(b))) {
      const versionRows: VersionRow[] = [];
      for (const [version, list] of [...versions].sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }))) {
        versionRows.push({
          service,
          version,
          rates: rates(this.summary(`v:${service}|${version}`, now)),
          overflowRps: round(this.summary(`uo:${service}|${version}`, now).rps, 1)!,
          instances: list
            .sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }))
            .map((i) => ({ ...i, rates: rates(this.summary(`i:${i.id}`, now)), ejected: this.ejected.get(i.id) })),
        });
      }
      rows.push({ service, rates: rates(this.summary(`s:${service}`, now)), versions: versionRows });
    }
    return rows;
  }

  private buildEdges(now: number): EdgeRow[] {
    const rows: EdgeRow[] = [];
    for (const [key, edge] of this.edges) {
      const total = this.summary(`e:${key}`, now);
      const split: EdgeSplit[] = [];
      for (const version of [...(this.edgeVersions.get(key) ?? [])].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))) {
        const s = this.summary(`ev:${key}|${version}`, now);
        // a subset without traffic in the window (removed, or no longer routed to) is not on the graph
        if (s.count === 0) continue;
        split.push({
          version,
          share: total.count > 0 ? round((s.count * 100) / total.count, 1)! : 0,
          rps: round(s.rps, 1)!,
          errorRate: s.successRate === undefined ? undefined : round(100 - s.successRate, 1),
        });
      }
      const connected = this.summary(`es:${key}`, now).count;
      const mtls = connected > 0 ? round((this.summary(`em:${key}`, now).count * 100) / connected, 1) : undefined;
      rows.push({ source: edge.source, destination: edge.destination, rates: rates(total), split, mtls });
    }
    // the ingress gateway first, then by caller and callee
    const rank = (s: string): number => (s === 'istio-ingressgateway' ? 0 : 1);
    return rows.sort((a, b) => rank(a.source) - rank(b.source) || a.source.localeCompare(b.source) || a.destination.localeCompare(b.destination));
  }
}

function roundLoad(s: LoadStatus | undefined): LoadStatus | undefined {
  if (!s) return undefined;
  return { ...s, achievedRps: round(s.achievedRps, 0)!, p50: roundMs(s.p50), p99: roundMs(s.p99) };
}
