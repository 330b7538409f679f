/**
 * A mesh without processes, for data plane tests on real sockets: fake apps stand in for the
 * workloads, the data plane runs in-process (one core; MESHBOX_TEST_DATA_PLANE_WORKERS=N spreads
 * the proxies over N cores, MESHBOX_TEST_WORKER=1 runs them in worker threads), rules are written
 * inline as YAML.
 */
import http from 'node:http';
import { parseRulesText } from '../../sandbox/config/rules-loader.js';
import type { IngressSpec, MeshDefinition, ServiceSpec, WorkloadSpec } from '../../sandbox/config/mesh-types.js';
import { DEFAULT_HEALTH, DEFAULT_INGRESS } from '../../sandbox/config/mesh-types.js';
import { ControlPlane } from '../../sandbox/control/control-plane.js';
import { GATEWAY_ID, listenersFor } from '../../sandbox/control/compiler.js';
import { Registry, type Instance } from '../../sandbox/control/registry.js';
import { EventBus, type RequestEvent, type TcpConnectionEvent } from '../../sandbox/events.js';
import { recordListenerPorts } from '../../sandbox/control/sidecar-ports.js';
import { servicePort } from '../../sandbox/config/service-ports.js';
import { createDataPlane, type DataPlane } from '../../sandbox/proxy/data-plane.js';
import type { DownstreamLimits } from '../../sandbox/proxy/listener.js';
import { IstioMetrics } from '../../sandbox/telemetry/metrics.js';
import type { FaultSpec } from '../../sandbox/faults/fault-spec.js';
import { startFakeApp, type FakeApp } from './fake-app.js';
import { Tracing, type TracingOptions } from '../../sandbox/telemetry/tracing/tracer.js';
import { IdentityProvider } from '../../sandbox/security/identity-provider.js';
import type { SelectedProtocol } from '../../sandbox/config/protocol-selection.js';

export interface ServiceDef {
  name: string;
  port?: number;
  versions: Record<string, number>;
  /** the port's protocol (default `http`); `grpc` services get gRPC apps when the harness has `startApp` */
  protocol?: SelectedProtocol;
  /** several ports, as meshbox.yaml `ports:` (protocols selected as Istio does); default: one http port `port` */
  ports?: Array<{ name?: string; port: number; appProtocol?: string }>;
  /** what serves the app's port number `index` of an instance (default: the fake HTTP app, first port only) */
  serve?: (instance: string, index: number) => Promise<{ port: number; close(): Promise<void> }>;
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
        port: s.ports?.[0]?.port ?? s.port ?? 8080,
        protocol: s.ports ? servicePort(s.ports[0]!).protocol : (s.protocol ?? 'http'),
        ...(s.ports ? { ports: s.ports.map(servicePort) } : {}),
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
  /** TCP connection events (open and close) */
  tcpEvents: TcpConnectionEvent[];
  metrics: IstioMetrics;
  bus: EventBus;
  /** present when the harness was started with `tracing` */
  tracing?: Tracing;
  ingressPort: number;
  /** where the ingress serves a Gateway server port (other than HTTP 80), once rules made it */
  gatewayPort(serverPort: number): number;
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
  opts: {
    limits?: Partial<DownstreamLimits>;
    mtls?: { caDir: string; ttlMs?: number };
    tracing?: TracingOptions;
    /** starts the app of one instance (default: the HTTP fake app) */
    startApp?: (id: string, service: ServiceDef) => Promise<FakeApp>;
    ingress?: Partial<IngressSpec>;
    /** meshbox.yaml's mesh-wide settings (trustDomain, trustDomainAliases, ...) */
    mesh?: Partial<Pick<MeshDefinition, 'trustDomain' | 'trustDomainAliases' | 'outboundTrafficPolicy'>>;
    /** Gateway server port -> the port it is bound on (`--gateway-port`) */
    gatewayPorts?: Record<number, number>;
  } = {},
): Promise<Harness> {
  const mesh: MeshDefinition = { ...meshDefinition(services), ...opts.mesh };
  if (opts.ingress) mesh.ingress = { ...mesh.ingress, ...opts.ingress };
  const registry = new Registry();
  const apps = new Map<string, FakeApp>();
  const servers: Array<{ close(): Promise<void> }> = [];
  for (const [i, svc] of mesh.services.entries()) {
    const def = services[i]!;
    for (const w of svc.workloads) {
      for (let n = 1; n <= w.replicas; n++) {
        const id = `${w.workload}-${n}`;
        const appPorts: number[] = [];
        for (let k = 0; k < (def.ports?.length ?? 1); k++) {
          if (def.serve) {
            const server = await def.serve(id, k);
            servers.push(server);
            appPorts.push(server.port);
          } else if (k === 0) {
            const app = opts.startApp ? await opts.startApp(id, def) : await startFakeApp(id);
            apps.set(id, app);
            appPorts.push(app.port);
          } else {
            appPorts.push(appPorts[0]!);
          }
        }
        registry.add({ id, workload: w, ordinal: n, appPort: appPorts[0]!, ...(appPorts.length > 1 ? { appPorts } : {}), sidecar: { inbound: 0, outbound: 0, services: {} }, state: 'running', healthy: true, drained: false, restarts: 0 });
      }
    }
  }
  const bus = new EventBus();
  const events: RequestEvent[] = [];
  const tcpEvents: TcpConnectionEvent[] = [];
  const metrics = new IstioMetrics();
  bus.on('mesh:request:end', (e) => {
    events.push(e);
    metrics.observe(e);
  });
  bus.on('mesh:tcp:open', (e) => {
    tcpEvents.push(e);
    metrics.observeTcp(e);
  });
  bus.on('mesh:tcp:close', (e) => {
    tcpEvents.push(e);
    metrics.observeTcp(e);
  });
  // MESHBOX_TEST_WORKER=1: real worker threads; MESHBOX_TEST_DATA_PLANE_WORKERS=N: proxies spread over N cores
  const workers = Number(process.env.MESHBOX_TEST_DATA_PLANE_WORKERS ?? 1);
  const dataPlane = createDataPlane({ seed, limits: opts.limits, workers, inProcess: process.env.MESHBOX_TEST_WORKER !== '1', onEvents: (es) => es.forEach((e) => bus.emit(e)) });
  const { bound, errors } = await dataPlane.bind(listenersFor(mesh, registry.all(), { address: '127.0.0.1', port: 0 }));
  if (errors.length) throw new Error(JSON.stringify(errors));
  const ingressPort = bound.find((b) => b.name === `${GATEWAY_ID}/http.80`)?.port ?? 0;
  recordListenerPorts(bound, (id) => registry.get(id));
  const controlPlane = new ControlPlane(mesh, registry, dataPlane, bus, { address: '127.0.0.1', port: ingressPort, ...(opts.gatewayPorts ? { gatewayPorts: opts.gatewayPorts } : {}) });
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
    tcpEvents,
    metrics,
    bus,
    tracing,
    ingressPort,
    gatewayPort(serverPort) {
      const l = controlPlane.gatewayListeners().find((g) => g.serverPort === serverPort);
      if (!l) throw new Error(`the ingress serves no Gateway server port ${serverPort}`);
      return l.port;
    },
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
      await Promise.all(servers.map((sv) => sv.close()));
    },
  };
  return h;
}
