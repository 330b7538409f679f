/**
 * Fakes for scenario tests: request events, a ScenarioTarget whose "ingress" is a small HTTP
 * server on port 0 that reports one gateway event per request it answers (status and destination
 * subset chosen by a function), and step contexts over it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Finding } from '../../../sandbox/config/findings.js';
import type { LoadedResource } from '../../../sandbox/config/resource.js';
import type { MeshDefinition } from '../../../sandbox/config/mesh-types.js';
import type { MeshEvent, OutlierEvent, RequestEvent } from '../../../sandbox/events.js';
import type { FaultRecord, FaultSpec } from '../../../sandbox/faults/fault-spec.js';
import { Rng } from '../../../sandbox/rng.js';
import { RunState } from '../../../sandbox/chaos/run-state.js';
import type { InstanceView, ScenarioTarget, WorkloadAction } from '../../../sandbox/chaos/scenario-target.js';
import type { Scenario, Step, StepSpec } from '../../../sandbox/chaos/scenario-types.js';
import type { StepContext } from '../../../sandbox/chaos/steps/step-type.js';
import { TrafficRecorder } from '../../../sandbox/chaos/traffic-recorder.js';
import { sleep } from '../../../sandbox/chaos/sleep.js';

export function requestEvent(over: Partial<Omit<RequestEvent, 'destination'>> & { destination?: Partial<RequestEvent['destination']> } = {}): RequestEvent {
  const { destination, ...rest } = over;
  return {
    type: 'mesh:request:end',
    reporter: 'source',
    proxy: 'istio-ingressgateway',
    listener: 'gateway',
    startTime: Date.now(),
    durationMs: 5,
    method: 'GET',
    path: '/caller/ping',
    authority: 'caller.example.com',
    protocol: 'HTTP/1.1',
    requestId: 'r',
    userAgent: 'test',
    forwardedFor: '',
    status: 200,
    responseFlags: '-',
    responseCodeDetails: 'via_upstream',
    bytesReceived: 0,
    bytesSent: 10,
    downstreamLocalAddress: '',
    downstreamRemoteAddress: '',
    attempts: 1,
    source: { workload: 'istio-ingressgateway', namespace: 'default', app: 'istio-ingressgateway', version: 'unknown', principal: 'unknown', canonicalService: 'istio-ingressgateway', canonicalRevision: 'latest' },
    destination: {
      workload: 'caller-service-v1',
      namespace: 'default',
      app: 'caller-service',
      version: 'v1',
      principal: 'unknown',
      canonicalService: 'caller-service',
      canonicalRevision: 'v1',
      service: 'caller-service.default.svc.cluster.local',
      serviceName: 'caller-service',
      serviceNamespace: 'default',
      subset: 'v1',
      ...destination,
    },
    why: [],
    requestHeaders: {},
    snapshotVersion: 1,
    ...rest,
  };
}

/** the caller's sidecar calling callme-service (reporter source) */
export function callmeEvent(subset: string, over: Partial<RequestEvent> = {}): RequestEvent {
  return requestEvent({
    proxy: 'caller-service-v1-1',
    listener: 'outbound',
    source: { workload: 'caller-service-v1', namespace: 'default', app: 'caller-service', version: 'v1', principal: 'unknown', canonicalService: 'caller-service', canonicalRevision: 'v1' },
    destination: { workload: `callme-service-${subset}`, app: 'callme-service', version: subset, canonicalService: 'callme-service', canonicalRevision: subset, service: 'callme-service.default.svc.cluster.local', serviceName: 'callme-service', subset },
    endpoint: `callme-service-${subset}-1`,
    ...over,
  });
}

export function outlierEvent(type: OutlierEvent['type'], endpoint: string, cluster = 'outbound|8080||callme-service.default.svc.cluster.local', time = Date.now()): OutlierEvent {
  return { type, time, cluster, endpoint, reason: '3 consecutive 5xx' };
}

export interface FakeAnswer {
  status: number;
  subset?: string;
  flags?: string;
  delayMs?: number;
}

export class FakeTarget implements ScenarioTarget {
  readonly kind = 'sandbox' as const;
  readonly id = 'fake-123456';
  readonly adminUrl = 'http://127.0.0.1:1';
  readonly seed = 7;
  readonly runtime = 'fake';
  ingressUrl = '';
  readonly listeners = new Set<(e: MeshEvent) => void>();
  readonly faults = new Map<string, FaultRecord>();
  readonly actions: string[] = [];
  readonly requests: Array<{ path: string; headers: http.IncomingHttpHeaders }> = [];
  closed = false;
  instanceList: InstanceView[] = [
    { id: 'caller-service-v1-1', service: 'caller-service', version: 'v1', workload: 'caller-service-v1', state: 'running', healthy: true, drained: false, serviceListeners: { 'callme-service': 0 } },
    { id: 'callme-service-v1-1', service: 'callme-service', version: 'v1', workload: 'callme-service-v1', state: 'running', healthy: true, drained: false, serviceListeners: {} },
    { id: 'callme-service-v2-1', service: 'callme-service', version: 'v2', workload: 'callme-service-v2', state: 'running', healthy: true, drained: false, serviceListeners: {} },
    { id: 'callme-service-v2-2', service: 'callme-service', version: 'v2', workload: 'callme-service-v2', state: 'running', healthy: true, drained: false, serviceListeners: {} },
  ];
  applied: LoadedResource[] = [];
  rulesSets = 0;
  private server: http.Server | undefined;
  private counter = 0;

  /** `answer(n, req)` decides the n-th request's answer (n from 0) */
  constructor(private answer: (n: number, req: http.IncomingMessage) => FakeAnswer = () => ({ status: 200, subset: 'v1' })) {}

  setAnswer(answer: (n: number, req: http.IncomingMessage) => FakeAnswer): void {
    this.answer = answer;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const n = this.counter++;
      const a = this.answer(n, req);
      const started = Date.now();
      this.requests.push({ path: req.url ?? '/', headers: req.headers });
      const reply = (): void => {
        res.writeHead(a.status, { 'content-type': 'text/plain' });
        res.end(`answer ${n} from ${a.subset ?? 'v1'}`);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
        this.emit(requestEvent({ startTime: started, durationMs: Date.now() - started, status: a.status, responseFlags: a.flags ?? '-', path: req.url ?? '/', requestHeaders: headers, destination: { subset: a.subset ?? 'v1' } }));
      };
      if (a.delayMs) setTimeout(reply, a.delayMs);
      else reply();
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.ingressUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.instanceList[0]!.serviceListeners['callme-service'] = (this.server.address() as AddressInfo).port;
    return this;
  }

  emit(e: MeshEvent): void {
    for (const l of this.listeners) l(e);
  }

  onEvent(listener: (e: MeshEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  defaultHost(): string {
    return 'caller.example.com';
  }

  async addFault(spec: FaultSpec): Promise<FaultRecord> {
    const name = spec.name ?? `fault-${this.faults.size + 1}`;
    const record: FaultRecord = { name, spec: { ...spec, name }, origin: 'runtime', createdAt: Date.now() };
    this.faults.set(name, record);
    return record;
  }

  async removeFault(name: string): Promise<boolean> {
    return this.faults.delete(name);
  }

  async instances(): Promise<InstanceView[]> {
    return this.instanceList.map((i) => ({ ...i, serviceListeners: { ...i.serviceListeners } }));
  }

  async workloadAction(id: string, action: WorkloadAction, opts: { signal?: string } = {}): Promise<void> {
    if (!this.instanceList.some((i) => i.id === id)) throw new Error(`no workload instance ${id}`);
    this.actions.push(`${action} ${id}${opts.signal ? ` ${opts.signal}` : ''}`);
  }

  readonly rules = {
    applied: () => this.applied,
    mesh: () => ({ name: 'fake', namespace: 'default', services: [] }) as unknown as MeshDefinition,
    set: async (resources: readonly LoadedResource[]): Promise<{ version: number; warnings: Finding[] }> => {
      this.applied = [...resources];
      this.rulesSets++;
      return { version: 10 + this.rulesSets, warnings: [] };
    },
  };

  async settle(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }

  async mark(): Promise<number> {
    return Date.now();
  }

  async close(): Promise<void> {
    this.closed = true;
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
  }
}

export function scenarioOf(over: Partial<Scenario> = {}): Scenario {
  return { file: 'test.yaml', baseDir: process.cwd(), id: 'test', title: 'test', tags: [], mesh: {}, vars: {}, method: [], rollbacks: [], continueOnFailure: false, ...over };
}

export interface FakeContext extends StepContext {
  notes: string[];
}

export function stepContext(target: ScenarioTarget, spec: StepSpec, over: { state?: RunState; traffic?: TrafficRecorder; signal?: AbortSignal } = {}): FakeContext {
  const state = over.state ?? new RunState();
  const traffic = over.traffic ?? new TrafficRecorder();
  const notes: string[] = [];
  const signal = over.signal ?? new AbortController().signal;
  const step: Step = { spec, phase: 'method', index: 0 };
  return {
    target,
    traffic,
    state,
    scenario: scenarioOf(),
    step,
    rng: new Rng(1),
    signal,
    baseDir: process.cwd(),
    notes,
    note: (m) => void notes.push(m),
    sleep: (ms) => sleep(ms, signal),
    restoreLater: (description, undo) => state.restores.push({ description, undo }),
  };
}
