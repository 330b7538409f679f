/**
 * Warms every data-plane worker before the sandbox reports ready (issue #13.1): for the first
 * seconds after "ready" the request path ran in V8's interpreter and baseline code, and a load
 * test started at once saw p50 reach 0.67 s at 300 req/s while the JIT caught up.
 *
 * Each worker gets a private mesh of two services behind the gateway, compiled here with the
 * real compiler (auto mTLS between the proxies, tracing on, certificates from the sandbox CA),
 * and drives requests through it in its own DataPlaneCore (../proxy/warm-up-site.ts):
 * gateway -> warm-a sidecar -> app -> warm-a outbound -> warm-b sidecar -> app, the legs of the
 * sample path. None of it is seen outside: no user app is called, no event, metric, trace or
 * admin entry is made, and every listener of it is closed before ready.
 *
 * `MESHBOX_DATA_PLANE_WARMUP`: requests per worker (default 200, at most 2 s; 0 turns the
 * warm-up off).
 */
import { DEFAULT_HEALTH } from '../config/mesh-types.js';
import type { MeshDefinition, WorkloadSpec } from '../config/mesh-types.js';
import { parseRulesText } from '../config/rules-loader.js';
import type { DataPlane } from '../proxy/data-plane.js';
import type { BoundListener, ListenError } from '../proxy/listener.js';
import type { WarmUpRun } from '../proxy/warm-up-site.js';
import type { MeshCA } from '../security/ca.js';
import { IdentityProvider } from '../security/identity-provider.js';
import type { ProxySecret } from '../security/tls-secrets.js';
import { compile, GATEWAY_ID, listenersFor } from './compiler.js';
import type { Instance } from './registry.js';

export const DEFAULT_WARM_UP_REQUESTS = 200;
const NAMESPACE = 'meshbox-warm-up';
const HOST = 'warm-up.meshbox.invalid';
const PORT = 8080;

const RULES = `
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: { name: warm-up, namespace: ${NAMESPACE} }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: [${HOST}]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: warm-up, namespace: ${NAMESPACE} }
spec:
  hosts: [${HOST}]
  gateways: [warm-up]
  http:
    - route:
        - destination: { host: warm-a }
`;

export interface WarmUpOptions {
  /** requests per worker (default: MESHBOX_DATA_PLANE_WARMUP, else DEFAULT_WARM_UP_REQUESTS) */
  requests?: number;
  /** in flight at a time, per worker */
  concurrency?: number;
  /** longest a worker's warm-up runs */
  maxMs?: number;
  /** issues the warm-up proxies' certificates, so the mTLS path is warmed too */
  ca?: MeshCA;
}

export interface WarmUpReport {
  requests: number;
  ms: number;
  /** per worker: what ran, or why it could not */
  workers: Array<WarmUpRun | { error: string }>;
}

/** requests per worker from MESHBOX_DATA_PLANE_WARMUP (a whole number; 0 is off) */
export function warmUpRequestsFromEnv(value = process.env.MESHBOX_DATA_PLANE_WARMUP): number {
  if (value === undefined || value.trim() === '') return DEFAULT_WARM_UP_REQUESTS;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? Math.min(n, 20_000) : DEFAULT_WARM_UP_REQUESTS;
}

function workload(service: string): WorkloadSpec {
  return {
    service,
    version: 'v1',
    workload: `${service}-v1`,
    replicas: 1,
    command: ['true'],
    cwd: '/',
    env: {},
    labels: { app: service, version: 'v1' },
    health: { ...DEFAULT_HEALTH, path: '/' },
    startTimeoutMs: 1000,
  };
}

function warmMesh(): MeshDefinition {
  return {
    file: '/meshbox-warm-up/meshbox.yaml',
    name: 'meshbox-warm-up',
    namespace: NAMESPACE,
    ingress: { host: '127.0.0.1', port: 0, labels: { istio: 'ingressgateway' } },
    services: ['warm-a', 'warm-b'].map((name) => ({ name, port: PORT, protocol: 'http' as const, workloads: [workload(name)] })),
  };
}

async function secretsFor(mesh: MeshDefinition, instances: readonly Instance[], ca: MeshCA | undefined): Promise<ProxySecret[]> {
  if (!ca) return [];
  return Promise.all(
    IdentityProvider.workloads(mesh, instances).map(async (r) => {
      const c = await ca.issue(r.identity, 10 * 60_000);
      return { proxyId: r.proxyId, identity: r.identity, certChainPem: c.certChainPem, keyPem: c.keyPem, rootCertPem: ca.rootCertPem, serial: c.serial, notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString() };
    }),
  );
}

async function warmWorker(dp: DataPlane, index: number, o: Required<Omit<WarmUpOptions, 'ca'>>, secrets: (mesh: MeshDefinition, instances: Instance[]) => Promise<ProxySecret[]>): Promise<WarmUpRun> {
  const step = (s: Parameters<DataPlane['warmUpStep']>[1]): Promise<unknown> => dp.warmUpStep(index, s);
  try {
    const { appPort } = (await step({ step: 'prepare' })) as { appPort: number };
    const mesh = warmMesh();
    const instances: Instance[] = mesh.services.map((s) => ({
      id: `${s.name}-v1-1`,
      workload: s.workloads[0]!,
      ordinal: 1,
      appPort,
      sidecar: { inbound: 0, outbound: 0, services: {} },
      state: 'running',
      healthy: true,
      drained: false,
      restarts: 0,
    }));
    const { bound, errors } = (await step({ step: 'bind', listeners: listenersFor(mesh, instances, { address: '127.0.0.1', port: 0 }) })) as { bound: BoundListener[]; errors: ListenError[] };
    if (errors.length) throw new Error(`${errors[0]!.listener}: ${errors[0]!.message}`);
    let gatewayPort = 0;
    for (const b of bound) {
      const [proxyId, kind, service] = b.name.split('/');
      if (proxyId === GATEWAY_ID) gatewayPort = b.port;
      const inst = instances.find((i) => i.id === proxyId);
      if (!inst) continue;
      if (kind === 'inbound') inst.sidecar.inbound = b.port;
      else if (service) inst.sidecar.services[service] = b.port;
      else inst.sidecar.outbound = b.port;
    }
    const rules = parseRulesText(RULES, '(warm-up)');
    const snapshot = compile({ version: 1, mesh, resources: rules.resources, instances, ingress: { address: '127.0.0.1', port: gatewayPort }, tracing: { samplingPercent: 100 } });
    await step({ step: 'apply', snapshot, secrets: await secrets(mesh, instances), outbound: instances[0]!.sidecar.outbound, nextHost: `warm-b:${PORT}` });
    return (await step({ step: 'run', port: gatewayPort, host: HOST, requests: o.requests, concurrency: o.concurrency, maxMs: o.maxMs })) as WarmUpRun;
  } finally {
    await step({ step: 'close' }).catch(() => undefined);
  }
}

/** Warms every worker at once; never throws (a worker that cannot warm up says why in the report). */
export async function warmUpDataPlane(dp: DataPlane, opts: WarmUpOptions = {}): Promise<WarmUpReport> {
  const o = { requests: opts.requests ?? warmUpRequestsFromEnv(), concurrency: opts.concurrency ?? 8, maxMs: opts.maxMs ?? 2_000 };
  const started = performance.now();
  if (o.requests === 0) return { requests: 0, ms: 0, workers: [] };
  // the certificates are the same for every worker: issued once
  let issued: Promise<ProxySecret[]> | undefined;
  const secrets = (mesh: MeshDefinition, instances: Instance[]): Promise<ProxySecret[]> => (issued ??= secretsFor(mesh, instances, opts.ca));
  const workers = await Promise.all(
    Array.from({ length: dp.workers }, (_, i) => warmWorker(dp, i, o, secrets).catch((e: Error): { error: string } => ({ error: e.message }))),
  );
  return { requests: o.requests, ms: performance.now() - started, workers };
}
