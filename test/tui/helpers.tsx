/**
 * Test doubles and a harness for the terminal UI: a fake SandboxController (an in-memory mesh
 * whose events the test emits), request event factories, and `mount()`, which renders the App
 * with ink-testing-library at a fixed size and presses keys.
 */
import { EventEmitter } from 'node:events';
import { render } from 'ink-testing-library';
import type { Finding } from '../../sandbox/config/findings.js';
import type { MeshEvent, RequestEvent } from '../../sandbox/events.js';
import type { FaultRecord, FaultSpec } from '../../sandbox/faults/fault-spec.js';
import { App } from '../../cli/tui/App.js';
import type { InstanceInfo, LoadControl, LoadStatus, LoadTarget, RuleResource, SandboxController } from '../../cli/tui/controller.js';
import type { ViewName } from '../../cli/tui/keymap.js';
import { ViewStore } from '../../cli/tui/view-store.js';

export const KEYS = {
  up: '\u001b[A',
  down: '\u001b[B',
  left: '\u001b[D',
  right: '\u001b[C',
  enter: '\r',
  escape: '\u001b',
  tab: '\t',
  shiftTab: '\u001b[Z',
  space: ' ',
  backspace: '\u007f',
  ctrlC: '\u0003',
} as const;

export function instance(id: string, patch: Partial<InstanceInfo> = {}): InstanceInfo {
  const m = /^(.*)-(v\d+)-(\d+)$/.exec(id)!;
  return { id, service: m[1]!, version: m[2]!, workload: `${m[1]}-${m[2]}`, state: 'running', healthy: true, drained: false, paused: false, pid: 1000, restarts: 0, ...patch };
}

export const SAMPLE_INSTANCES = (): InstanceInfo[] => [instance('caller-service-v1-1'), instance('callme-service-v1-1'), instance('callme-service-v2-1'), instance('callme-service-v2-2')];

let requestCounter = 0;

export interface HopOptions {
  proxy?: string;
  reporter?: 'source' | 'destination';
  listener?: RequestEvent['listener'];
  source?: string;
  service?: string;
  version?: string;
  subset?: string;
  endpoint?: string;
  status?: number;
  flags?: string;
  durationMs?: number;
  attempts?: number;
  path?: string;
  requestId?: string;
  startTime?: number;
  why?: string[];
  headers?: Record<string, string>;
  /** the hop's connection security (absent by default) */
  security?: 'mutual_tls' | 'none';
}

/** A RequestEvent as a sidecar reports it; defaults: caller -> callme v2, 200 in 5 ms. */
export function hop(o: HopOptions = {}): RequestEvent {
  const service = o.service ?? 'callme-service';
  const version = o.version ?? 'v2';
  const source = o.source ?? 'caller-service-v1';
  const reporter = o.reporter ?? 'source';
  const endpoint = o.endpoint ?? `${service}-${version}-1`;
  const peer = (workload: string, app: string, v: string) => ({ workload, namespace: 'default', app, version: v, principal: 'unknown', canonicalService: app, canonicalRevision: v });
  return {
    type: 'mesh:request:end',
    reporter,
    proxy: o.proxy ?? (reporter === 'source' ? `${source}-1` : endpoint),
    listener: o.listener ?? (reporter === 'source' ? 'outbound' : 'inbound'),
    startTime: o.startTime ?? Date.UTC(2026, 0, 1, 12, 0, 0),
    durationMs: o.durationMs ?? 5,
    method: 'GET',
    path: o.path ?? '/callme/ping',
    authority: `${service}:8080`,
    protocol: 'HTTP/1.1',
    requestId: o.requestId ?? `req-${++requestCounter}`,
    userAgent: '-',
    forwardedFor: '-',
    status: o.status ?? 200,
    responseFlags: o.flags ?? '-',
    responseCodeDetails: 'via_upstream',
    bytesReceived: 0,
    bytesSent: 21,
    upstreamCluster: `outbound|8080|${version}|${service}.default.svc.cluster.local`,
    upstreamHost: '127.0.0.1:40000',
    downstreamLocalAddress: '127.0.0.1:41000',
    downstreamRemoteAddress: '127.0.0.1:42000',
    routeName: 'default',
    attempts: o.attempts ?? 1,
    source: peer(source, source.replace(/-v\d+$/, ''), source.match(/v\d+$/)?.[0] ?? 'unknown'),
    destination: { ...peer(`${service}-${version}`, service, version), service: `${service}.default.svc.cluster.local`, serviceName: service, serviceNamespace: 'default', subset: o.subset ?? version },
    endpoint,
    why: o.why ?? [
      `VirtualService default/${service}-route http[0] (/work/rules/${service}.yaml:44:7): matched (no match conditions)`,
      `weighted pick: ${service} subset ${version} (weight ${version === 'v2' ? 80 : 20} of 100)`,
      `attempt 1 to ${endpoint}: ${o.status ?? 200}`,
    ],
    requestHeaders: o.headers ?? { host: `${service}:8080`, 'x-request-id': o.requestId ?? 'x' },
    snapshotVersion: 3,
    ...(o.security ? { connectionSecurity: o.security } : {}),
  };
}

class FakeLoad implements LoadControl {
  running: LoadStatus | undefined;
  started: Array<{ rate: number; path?: string }> = [];
  stops = 0;
  constructor(private readonly targetValue: LoadTarget | undefined) {}
  target(): LoadTarget | undefined {
    return this.targetValue;
  }
  start(options: { rate: number; path?: string }): void {
    this.started.push(options);
    this.running = { running: true, rate: options.rate, host: this.targetValue?.host ?? '-', path: options.path ?? '/', sent: 0, completed: 0, errors: 0, achievedRps: options.rate, p50: 2, p99: 9, statusClasses: {} };
  }
  async stop(): Promise<void> {
    this.stops++;
    if (this.running) this.running = { ...this.running, running: false };
  }
  status(): LoadStatus | undefined {
    return this.running;
  }
}

/** An in-memory sandbox: tests emit its events and read what the UI asked it to do. */
export class FakeController implements SandboxController {
  private readonly bus = new EventEmitter();
  instanceList: InstanceInfo[] = SAMPLE_INSTANCES();
  resourceList: RuleResource[] = [
    { kind: 'Gateway', namespace: 'default', name: 'caller-gateway', file: '/work/rules/caller-service.yaml', line: 5, col: 1 },
    { kind: 'VirtualService', namespace: 'default', name: 'callme-service-route', file: '/work/rules/callme-service.yaml', line: 30, col: 1 },
  ];
  findingList: Finding[] = [];
  version = 3;
  faultRecords: FaultRecord[] = [];
  /** calls to workloads.*: `kill callme-service-v2-1` */
  calls: string[] = [];
  downCalls = 0;
  readonly loadFake: FakeLoad;
  /** the Traces view's store (a real TraceStore in tests that trace); undefined: tracing off */
  traces: SandboxController['traces'];
  traceStats: SandboxController['traceStats'];

  constructor(options: { faults?: boolean; target?: LoadTarget | null } = {}) {
    this.loadFake = new FakeLoad(options.target === null ? undefined : (options.target ?? { baseUrl: 'http://127.0.0.1:8080', host: 'caller.example.com', path: '/caller/ping' }));
    if (options.faults === false) this.faults = undefined;
  }

  emit(...events: MeshEvent[]): void {
    for (const e of events) this.bus.emit('event', e);
  }

  onEvent(listener: (event: MeshEvent) => void): () => void {
    this.bus.on('event', listener);
    return () => this.bus.off('event', listener);
  }

  info() {
    return { id: 'sample-abc123', name: 'sample', runtime: 'process', ingressUrl: 'http://127.0.0.1:8080', adminUrl: 'http://127.0.0.1:15000', seed: 42, rulesDir: '/work/rules' };
  }

  instances(): InstanceInfo[] {
    return this.instanceList.map((i) => ({ ...i }));
  }

  snapshotVersion(): number {
    return this.version;
  }

  resources(): RuleResource[] {
    return this.resourceList;
  }

  findings(): readonly Finding[] {
    return this.findingList;
  }

  faults: SandboxController['faults'] = {
    add: (spec: FaultSpec): FaultRecord => {
      const name = spec.name ?? `${spec.target.service}${spec.target.subset ? `-${spec.target.subset}` : ''}-${spec.http ? Object.keys(spec.http)[0] : spec.toxics?.[0]?.type}-${this.faultRecords.length + 1}`;
      const record: FaultRecord = { name, spec: { ...spec, name }, origin: 'runtime', createdAt: Date.now() };
      this.faultRecords.push(record);
      this.emit({ type: 'mesh:fault:added', time: Date.now(), name, origin: 'runtime', summary: name });
      return record;
    },
    remove: (name: string): boolean => {
      const before = this.faultRecords.length;
      this.faultRecords = this.faultRecords.filter((f) => f.name !== name);
      return this.faultRecords.length < before;
    },
    clear: (): number => {
      const n = this.faultRecords.length;
      this.faultRecords = [];
      return n;
    },
    list: (): FaultRecord[] => [...this.faultRecords],
  };

  workloads = {
    kill: async (id: string) => void this.calls.push(`kill ${id}`),
    pause: async (id: string) => {
      this.calls.push(`pause ${id}`);
      this.instanceList = this.instanceList.map((i) => (i.id === id ? { ...i, paused: true } : i));
    },
    resume: async (id: string) => {
      this.calls.push(`resume ${id}`);
      this.instanceList = this.instanceList.map((i) => (i.id === id ? { ...i, paused: false } : i));
    },
    restart: async (id: string) => void this.calls.push(`restart ${id}`),
  };

  get load(): LoadControl {
    return this.loadFake;
  }

  async down(): Promise<void> {
    this.downCalls++;
  }
}

/** the sandbox came up: starting, ready, every instance healthy */
export function upEvents(): MeshEvent[] {
  const t = Date.UTC(2026, 0, 1, 12, 0, 0);
  return [
    { type: 'mesh:sandbox:starting', time: t, message: 'starting sample (seed 42)' },
    { type: 'mesh:config:applied', time: t + 10, version: 3, changed: ['added VirtualService/default/callme-service-route'], warnings: [] },
    { type: 'mesh:sandbox:ready', time: t + 20, message: 'ingress http://127.0.0.1:8080, admin http://127.0.0.1:15000' },
  ];
}

export const tick = (ms = 15): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface Mounted {
  controller: FakeController;
  store: ViewStore;
  /** the screen as text, without styles */
  frame(): string;
  /** the screen as written, with styles */
  rawFrame(): string;
  /** writes keys (one write each) and lets React and Ink flush */
  press(...keys: string[]): Promise<void>;
  /** publishes the store's snapshot now and lets the UI render it */
  publish(): Promise<void>;
  quits: number;
  unmount(): void;
}

export interface MountOptions {
  controller?: FakeController;
  view?: ViewName;
  columns?: number;
  rows?: number;
  color?: boolean;
  now?: () => number;
}

/** Renders the App against a fake controller at a fixed size (100x30 by default). */
export async function mount(options: MountOptions = {}): Promise<Mounted> {
  const controller = options.controller ?? new FakeController();
  const store = new ViewStore(controller, { now: options.now });
  let quits = 0;
  const app = render(
    <App store={store} controller={controller} onQuit={() => void quits++} color={options.color ?? false} size={{ columns: options.columns ?? 100, rows: options.rows ?? 30 }} initialView={options.view} />,
  );
  await tick();
  const mounted: Mounted = {
    controller,
    store,
    // bold and inverse stay without colours (NO_COLOR); the text is what tests read
    // eslint-disable-next-line no-control-regex
    frame: () => (app.lastFrame() ?? '').replace(/\u001b\[[0-9;]*m/g, ''),
    rawFrame: () => app.lastFrame() ?? '',
    async press(...keys) {
      for (const k of keys) {
        // wait for the frame the key causes (most keys change the screen), at most 200 ms
        const before = app.frames.length;
        app.stdin.write(k);
        for (let waited = 0; waited < 200 && app.frames.length === before; waited += 5) await tick(5);
        await tick(5);
      }
    },
    async publish() {
      const before = app.frames.length;
      store.touch();
      store.publish();
      for (let waited = 0; waited < 200 && app.frames.length === before; waited += 5) await tick(5);
      await tick(5);
    },
    get quits() {
      return quits;
    },
    unmount: () => {
      app.unmount();
      store.stop();
    },
  };
  return mounted;
}

/** `count` ingress requests that each make one caller -> callme hop: 80 % to v2, 20 % to v1 */
export function sampleTraffic(count: number, opts: { failV2?: number } = {}): RequestEvent[] {
  const events: RequestEvent[] = [];
  for (let i = 0; i < count; i++) {
    const id = `sample-${i}`;
    const version = i % 5 === 0 ? 'v1' : 'v2';
    const fail = version === 'v2' && opts.failV2 !== undefined && i % Math.round(100 / opts.failV2) === 1;
    const status = fail ? 503 : 200;
    const endpoint = `callme-service-${version}-${version === 'v2' ? (i % 2) + 1 : 1}`;
    const start = Date.UTC(2026, 0, 1, 12, 0, 0) + i;
    events.push(hop({ requestId: id, reporter: 'destination', source: 'caller-service-v1', version, endpoint, status, flags: fail ? 'FI' : '-', startTime: start + 1, durationMs: 2, why: fail ? [`inbound to ${endpoint}: local app`, 'fault callme-service-v2-abort-1: abort 503'] : [`inbound to ${endpoint}: local app`] }));
    events.push(hop({ requestId: id, source: 'caller-service-v1', version, endpoint, status, startTime: start, durationMs: 4, flags: fail ? 'URX' : '-', attempts: fail ? 4 : 1 }));
    events.push(hop({ requestId: id, reporter: 'destination', proxy: 'caller-service-v1-1', source: 'istio-ingressgateway', service: 'caller-service', version: 'v1', endpoint: 'caller-service-v1-1', status, startTime: start - 1, durationMs: 8, path: '/caller/ping' }));
    events.push(hop({ requestId: id, proxy: 'istio-ingressgateway', listener: 'gateway', source: 'istio-ingressgateway', service: 'caller-service', version: 'v1', endpoint: 'caller-service-v1-1', status, startTime: start - 2, durationMs: 10, path: '/caller/ping' }));
  }
  return events;
}
