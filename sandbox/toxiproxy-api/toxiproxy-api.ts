/**
 * The Toxiproxy-compatible API of a sandbox: the HTTP server, its proxy collection, the worker
 * running the standalone proxies, and the view of the mesh its mesh proxies come from.
 */
import type { Registry as MetricsRegistry } from 'prom-client';
import type { MeshDefinition } from '../config/mesh-types.js';
import type { Registry } from '../control/registry.js';
import type { FaultStore } from '../faults/fault-store.js';
import { MeshError } from '../errors.js';
import { ProxyCollection, type MeshView } from './proxy-collection.js';
import { InProcessTcpProxyHost, WorkerTcpProxyHost, type TcpConnectionRecord, type TcpProxyHost } from './tcp-proxy-host.js';
import { TcpMetrics } from './tcp-metrics.js';
import { ToxiproxyServer } from './toxiproxy-server.js';

export const DEFAULT_TOXIPROXY_PORT = 8474;

export interface ToxiproxyApiOptions {
  host?: string;
  port?: number;
  seed: number;
  /** run the standalone proxies on this thread (tests) instead of a worker */
  inProcess?: boolean;
  /**
   * where the standalone proxies run: the sandbox gives its data plane's workers
   * (DataPlane.standaloneProxies); default a worker thread of their own (or this thread, `inProcess`)
   */
  proxyHost?: (onConnection?: (c: TcpConnectionRecord) => void) => TcpProxyHost;
  mesh?: MeshView;
  faults?: FaultStore;
  syncFaults?: () => Promise<void>;
  onNotice?: (message: string) => void;
  /** where the standalone proxies' Istio TCP metrics go (the sandbox's /metrics registry) */
  metrics?: MetricsRegistry;
  /** the mesh's namespace, for the metrics' destination_service_namespace */
  namespace?: string;
}

/** the mesh's services, versions and endpoints, as the mesh proxies show them */
export function meshViewOf(mesh: () => MeshDefinition | undefined, registry: Registry): MeshView {
  return {
    services: () =>
      (mesh()?.services ?? []).map((s) => ({
        name: s.name,
        port: s.port,
        versions: [...new Set(s.workloads.map((w) => w.labels['version'] ?? w.version))],
        endpoints: registry
          .all()
          .filter((i) => i.workload.service === s.name)
          .map((i) => ({ version: i.workload.labels['version'] ?? i.workload.version, address: `127.0.0.1:${i.sidecar.inbound}` })),
      })),
  };
}

/** starts the API; throws MESH_ERR_PORT_IN_USE / MESH_ERR_LISTEN when it cannot listen */
export async function startToxiproxyApi(opts: ToxiproxyApiOptions): Promise<ToxiproxyServer> {
  const tcp = opts.metrics ? new TcpMetrics(opts.metrics, opts.namespace) : undefined;
  const onConnection = tcp ? (c: TcpConnectionRecord): void => tcp.observe(c) : undefined;
  const host = opts.proxyHost ? opts.proxyHost(onConnection) : opts.inProcess ? new InProcessTcpProxyHost(opts.seed, onConnection) : new WorkerTcpProxyHost(opts.seed, onConnection);
  const server = new ToxiproxyServer(new ProxyCollection({ host, mesh: opts.mesh, faults: opts.faults, syncFaults: opts.syncFaults, onNotice: opts.onNotice }));
  try {
    await server.listen(opts.host ?? '127.0.0.1', opts.port ?? DEFAULT_TOXIPROXY_PORT);
  } catch (e) {
    await server.close();
    throw e;
  }
  return server;
}

export interface SandboxToxiproxyOptions {
  host?: string;
  /** default 8474 */
  port?: number;
  /** the port was asked for (`--toxiproxy-port`): failing to listen fails the start */
  explicitPort?: boolean;
}

/**
 * The API as `meshbox up` starts it: when the default port is taken (another Toxiproxy, most
 * likely) the mesh starts without it and says so; a port given explicitly must be free.
 */
export async function startSandboxToxiproxyApi(
  o: SandboxToxiproxyOptions,
  deps: Omit<ToxiproxyApiOptions, 'host' | 'port'>,
  notice: (level: 'info' | 'warn', message: string, hint?: string) => void,
): Promise<ToxiproxyServer | undefined> {
  try {
    const server = await startToxiproxyApi({ ...deps, host: o.host, port: o.port, onNotice: (m) => notice('info', m) });
    // its URL is in the banner and the terminal UI's header; a notice would hide the UI's `try:` hint
    return server;
  } catch (e) {
    if (o.explicitPort || !(e instanceof MeshError && e.code === 'MESH_ERR_PORT_IN_USE')) throw e;
    const addr = `${o.host ?? '127.0.0.1'}:${o.port ?? DEFAULT_TOXIPROXY_PORT}`;
    notice('warn', `the Toxiproxy API is off: ${addr} is already in use`, 'another Toxiproxy may be running there; give the API another port with --toxiproxy-port N, or leave it off with --no-toxiproxy-api');
    return undefined;
  }
}
