/**
 * A mesh without processes, for data plane tests on real sockets: fake apps stand in for the
 * workloads, the data plane runs in-process (one core; MESHBOX_TEST_DATA_PLANE_WORKERS=N spreads
 * the proxies over N cores, MESHBOX_TEST_WORKER=1 runs them in worker threads), rules are written
 * inline as YAML.
 */
import http from 'node:http';
import { parseRulesText } from '../../sandbox/config/rules-loader.js';
import type { MeshDefinition, ServiceSpec, WorkloadSpec } from '../../sandbox/config/mesh-types.js';
import { DEFAULT_HEALTH, DEFAULT_INGRESS } from '../../sandbox/config/mesh-types.js';
import { ControlPlane } from '../../sandbox/control/control-plane.js';
import { GATEWAY_ID, listenersFor } from '../../sandbox/control/compiler.js';
import { Registry, type Instance } from '../../sandbox/control/registry.js';
import { EventBus, type RequestEvent } from '../../sandbox/events.js';
import { createDataPlane, type DataPlane } from '../../sandbox/proxy/data-plane.js';
import type { DownstreamLimits } from '../../sandbox/proxy/listener.js';
import { IstioMetrics } from '../../sandbox/telemetry/metrics.js';
import type { FaultSpec } from '../../sandbox/faults/fault-spec.js';
import { startFakeApp, type FakeApp } from './fake-app.js';
import { Tracing, type TracingOptions } from '../../sandbox/telemetry/tracing/tracer.js';
import { IdentityProvider } from '../../sandbox/security/identity-provider.js';

export interface ServiceDef {
  name: string;
  port?: number;
  versions: Record<string, number>;
}

export function meshDefinition(services: ServiceDef[]): MeshDefinition {
  return {
    file: '/test/meshbox.yaml',
    name: 'test',
    namespace: 'default',
    ingress: { ...DEFAULT_INGRESS, port: 0 },
    services: services.map(
      (s): ServiceSpec => ({
        name: s.name,
        port: s.port ?? 8080,
        protocol: 'http',
        workloads: Object.entries(s.versions).map(
          ([version, replicas]): WorkloadSpec => ({
            service: s.name,
            version,
            workload: `${s.name}-${version}`,
            replicas,
            command: ['true'],
            cwd: '/',
            env: {},
            labels: { app: s.name, version },
            health: { ...DEFAULT_HEALTH, path: '/' },
            startTimeoutMs: 1000,
          }),
        ),
      }),
    ),
  };
}

export interface Harness {
  mesh: MeshDefinition;
  registry: Registry;
  controlPlane: ControlPlane;
  dataPlane: DataPlane;
  apps: Map<string, FakeApp>;
  events: RequestEvent[];
  metrics: IstioMetrics;
  bus: EventBus;
  /** present when the harness was started with `tracing` */
  tracing?: Tracing;
  ingressPort: number;
  /** set with `mtls`: the sandbox CA and workload certificates */
  identity?: IdentityProvider;
  instance(id: string): Instance;
  /** applies inline YAML rules (throws on validation errors) */
  rules(yaml: string): Promise<void>;
  /** replaces the runtime faults */
  faults(specs: FaultSpec[]): Promise<void>;
  /** an HTTP request through `from`'s outbound listener (Host-routed), or through the ingress */
  request(opts: { from?: string; host: string; path?: string; method?: string; headers?: Record<string, string>; body?: string }): Promise<Reply>;
  /** waits until the request events for one request id have arrived */
  eventsFor(requestId: string, count: number): Promise<RequestEvent[]>;
  close(): Promise<void>;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json(): Record<string, unknown>;
}

export async function startHarness(
  services: ServiceDef[],
  seed = 1,
  opts: { limits?: Partial<DownstreamLimits>; mtls?: { caDir: string; ttlMs?: number }; tracing?: TracingOptions } = {},
): Promise<Harness> {
  const mesh = meshDefinition(services);
  const registry = new Registry();
  const apps = new Map<string, FakeApp>();
  for (const svc of mesh.services) {
    for (const w of svc.workloads) {
      for (let n = 1; n <= w.replicas; n++) {
        const id = `${w.workload}-${n}`;
        const app = await startFakeApp(id);
        apps.set(id, app);
        registry.add({ id, workload: w, ordinal: n, appPort: app.port, sidecar: { inbound: 0, outbound: 0, services: {} }, state: 'running', healthy: true, drained: false, restarts: 0 });
      }
    }
  }
  const bus = new EventBus();
  const events: RequestEvent[] = [];
  const metrics = new IstioMetrics();
  bus.on('mesh:request:end', (e) => {
    events.push(e);
    metrics.observe(e);
  });
  // MESHBOX_TEST_WORKER=1: real worker threads; MESHBOX_TEST_DATA_PLANE_WORKERS=N: proxies spread over N cores
  const workers = Number(process.env.MESHBOX_TEST_DATA_PLANE_WORKERS ?? 1);
  const dataPlane = createDataPlane({ seed, limits: opts.limits, workers, inProcess: process.env.MESHBOX_TEST_WORKER !== '1', onEvents: (es) => es.forEach((e) => bus.emit(e)) });
  const { bound, errors } = await dataPlane.bind(listenersFor(mesh, registry.all(), { address: '127.0.0.1', port: 0 }));
  if (errors.length) throw new Error(JSON.stringify(errors));
  let ingressPort = 0;
  for (const b of bound) {
    const [proxyId, kind, service] = b.name.split('/');
    if (proxyId === GATEWAY_ID) {
      ingressPort = b.port;
      continue;
    }
    const inst = registry.get(proxyId!)!;
    if (kind === 'inbound') inst.sidecar.inbound = b.port;
    else if (service) inst.sidecar.services[service] = b.port;
    else inst.sidecar.outbound = b.port;
  }
  const controlPlane = new ControlPlane(mesh, registry, dataPlane, bus, { address: '127.0.0.1', port: ingressPort });
  let identity: IdentityProvider | undefined;
  if (opts.mtls) {
    identity = await IdentityProvider.start({ caDir: opts.mtls.caDir, ttlMs: opts.mtls.ttlMs, push: (s) => dataPlane.setSecrets(s), notice: () => undefined });
    await identity.ensure(mesh, registry.all());
  }
  let tracing: Tracing | undefined;
  if (opts.tracing) {
    tracing = new Tracing(opts.tracing, () => controlPlane.current?.tracing);
    tracing.attach(bus);
    await controlPlane.setTracing({ samplingPercent: opts.tracing.samplingPercent ?? 100 });
  }
  await controlPlane.setResources([], []);
  const agent = new http.Agent({ keepAlive: true });

  const h: Harness = {
    mesh,
    registry,
    controlPlane,
    dataPlane,
    apps,
    events,
    metrics,
    bus,
    tracing,
    ingressPort,
    identity,
    instance: (id) => registry.get(id)!,
    async rules(yaml) {
      const res = parseRulesText(yaml, 'inline.yaml');
      const errs = res.findings.filter((f) => f.severity === 'error');
      if (errs.length) throw new Error(errs.map((f) => f.message).join('\n'));
      await controlPlane.setResources(res.resources, []);
    },
    async faults(specs) {
      await controlPlane.setRuntimeFaults(specs.map((spec, i) => ({ name: spec.name ?? `fault-${i}`, spec, origin: 'runtime' as const, createdAt: Date.now() })));
    },
    request(o) {
      const port = o.from ? registry.get(o.from)!.sidecar.outbound : ingressPort;
      return new Promise<Reply>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port, path: o.path ?? '/', method: o.method ?? 'GET', agent, headers: { host: o.host, ...o.headers } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const body = Buffer.concat(chunks).toString('utf8');
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) as Record<string, unknown> });
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(o.body);
      });
    },
    async eventsFor(requestId, count) {
      for (let i = 0; i < 200; i++) {
        const found = events.filter((e) => e.requestId === requestId);
        if (found.length >= count) return found;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`expected ${count} events for ${requestId}, got ${events.filter((e) => e.requestId === requestId).length}`);
    },
    async close() {
      agent.destroy();
      identity?.close();
      controlPlane.close();
      await tracing?.close();
      await dataPlane.stop(100);
      await Promise.all([...apps.values()].map((a) => a.close()));
    },
  };
  return h;
}
