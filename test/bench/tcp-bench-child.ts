/**
 * The processes of the TCP benchmark (./tcp.ts), one role each:
 *   echo <port?>               a TCP echo server (every byte read is written back)
 *   sidecar <upstream port>    meshbox's data plane with one sidecar: an outbound listener of a
 *                              `tcp` service port whose default route goes to the echo server
 *                              (Envoy tcp_proxy; plaintext, as toward a workload without sidecar)
 * Each prints `{"port":N}` on stdout once it listens, and runs until killed.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createDataPlane } from '../../sandbox/proxy/data-plane.js';
import type { MeshSnapshot, WorkloadMeta } from '../../sandbox/control/snapshot.js';

const [role, arg] = process.argv.slice(2);

function ready(port: number): void {
  process.stdout.write(`${JSON.stringify({ port })}\n`);
}

function meta(workload: string, app: string): WorkloadMeta {
  return { workload, namespace: 'default', app, version: 'v1', service: app, canonicalService: app, canonicalRevision: 'v1', principal: 'unknown', labels: { app, version: 'v1' } };
}

async function sidecar(upstreamPort: number): Promise<void> {
  const cluster = 'outbound|9000||echo.default.svc.cluster.local';
  const snapshot: MeshSnapshot = {
    version: 1,
    createdAt: new Date().toISOString(),
    namespace: 'default',
    services: [{ name: 'echo', namespace: 'default', fqdn: 'echo.default.svc.cluster.local', port: 9000, ports: [{ port: 9000, name: 'tcp', protocol: 'tcp' }] }],
    proxies: [{ id: 'bench-v1-1', kind: 'sidecar', meta: meta('bench-v1', 'bench') }],
    listeners: [
      {
        name: 'bench-v1-1/outbound/echo',
        proxyId: 'bench-v1-1',
        kind: 'outbound',
        address: '127.0.0.1',
        port: 0,
        boundHost: 'echo',
        servicePort: 9000,
        protocol: 'tcp',
        tcpRoutes: [
          {
            origin: { resource: 'default route of echo', index: -1 },
            list: 'tcp',
            match: [],
            destinations: [{ clusterKey: cluster, clusterName: cluster, host: 'echo', port: 9000, weight: 100 }],
          },
        ],
      },
    ],
    routeConfigs: {},
    clusters: {
      [cluster]: {
        key: cluster,
        name: cluster,
        kind: 'outbound',
        service: { name: 'echo', namespace: 'default', fqdn: 'echo.default.svc.cluster.local', port: 9000 },
        endpoints: [{ id: 'echo-v1-1', address: '127.0.0.1', port: upstreamPort, healthy: true, meta: meta('echo-v1', 'echo') }],
        lb: 'LEAST_REQUEST',
        connectTimeoutMs: 10_000,
        protocol: 'tcp',
      },
    },
    faults: [],
  };
  // the data plane on this thread (the process is the sidecar); its events are dropped, as they
  // are counted on meshbox's main thread, off the data plane's
  const dp = createDataPlane({ seed: 1, inProcess: true, onEvents: () => undefined });
  const ack = await dp.apply(snapshot);
  const bound = ack.listeners.find((l) => l.name === 'bench-v1-1/outbound/echo');
  if (!bound) throw new Error(`the sidecar listener did not bind: ${JSON.stringify(ack.errors)}`);
  ready(bound.port);
}

function echo(port: number): void {
  const server = net.createServer({ noDelay: true }, (s) => {
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
  server.listen(port, '127.0.0.1', () => ready((server.address() as AddressInfo).port));
}

if (role === 'echo') echo(Number(arg ?? 0));
else if (role === 'sidecar') void sidecar(Number(arg)).catch((e: Error) => {
  process.stderr.write(`${e.stack ?? e.message}\n`);
  process.exit(1);
});
else {
  process.stderr.write('usage: tcp-bench-child echo [port] | sidecar <upstream port>\n');
  process.exit(2);
}
