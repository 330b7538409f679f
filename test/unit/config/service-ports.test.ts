/**
 * The ports model (issue 12, item 2): meshbox.yaml `port:` (one unnamed port, detected per
 * connection) and `ports:` (named, protocol by appProtocol or name prefix), what the app is told
 * (PORT, PORT_<NAME>, <SERVICE>_<PORT>_ADDR / _URL), what the compiler makes of them (a listener and
 * a cluster per port), Kubernetes Services with several ports, and containers in bridge mode.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMeshText } from '../../../sandbox/config/mesh-file.js';
import { compile, listenersFor } from '../../../sandbox/control/compiler.js';
import type { Instance } from '../../../sandbox/control/registry.js';
import { instanceEnv } from '../../../sandbox/runtime/contract.js';
import { containerCreateOptions, containerEnv } from '../../../sandbox/runtime/docker/container-spec.js';
import { importManifests } from '../../../sandbox/kubernetes/import-mesh.js';
import { withCode } from './helpers.js';

const MESH = `services:
  shop:
    ports:
    - {name: http-web, port: 8080}
    - {name: grpc-api, port: 9090, targetPort: 50051}
    - {name: db, port: 5432, appProtocol: tcp}
    command: node shop.js
  legacy:
    port: 3000
    command: node legacy.js
`;

function mesh() {
  const r = parseMeshText(MESH, '/project/meshbox.yaml');
  expect(r.findings.filter((f) => f.severity === 'error')).toEqual([]);
  return r.mesh!;
}

function instance(m: ReturnType<typeof mesh>, service: string, appPorts: number[], sidecar: Instance['sidecar']): Instance {
  const w = m.services.find((s) => s.name === service)!.workloads[0]!;
  return { id: `${w.workload}-1`, workload: w, ordinal: 1, appPort: appPorts[0]!, ...(appPorts.length > 1 ? { appPorts } : {}), sidecar, state: 'running', healthy: true, drained: false, restarts: 0 };
}

describe('meshbox.yaml ports', () => {
  it('selects each port\'s protocol as Istio does; `port:` is one unnamed port, detected per connection', () => {
    const m = mesh();
    const shop = m.services.find((s) => s.name === 'shop')!;
    expect(shop.port).toBe(8080);
    expect(shop.protocol).toBe('http');
    expect(shop.ports!.map((p) => [p.name, p.port, p.protocol, p.protocolSource])).toEqual([
      ['http-web', 8080, 'http', 'port name http-web'],
      ['grpc-api', 9090, 'grpc', 'port name grpc-api'],
      ['db', 5432, 'tcp', 'appProtocol tcp'],
    ]);
    expect(shop.ports![1]!.targetPort).toBe(50051);
    // the first port is HTTP: the default health check is a GET
    expect(shop.workloads[0]!.health.kind).toBeUndefined();
    const tcpFirst = parseMeshText('services:\n  db:\n    ports: [{name: tcp-pg, port: 5432}]\n    command: x\n  web:\n    ports: [{name: tcp-x, port: 1}]\n    health: /ready\n    command: x\n', '/p/meshbox.yaml').mesh!;
    expect(tcpFirst.services[0]!.workloads[0]!.health).toMatchObject({ kind: 'tcp' });
    expect(tcpFirst.services[1]!.workloads[0]!.health).toMatchObject({ path: '/ready' });
    expect(tcpFirst.services[1]!.workloads[0]!.health.kind).toBeUndefined();
    const legacy = m.services.find((s) => s.name === 'legacy')!;
    expect(legacy).toMatchObject({ port: 3000, protocol: 'unknown' });
    expect(legacy.ports).toBeUndefined();
  });

  it('rejects duplicate numbers and names, unnamed ports among several, and `port` with `ports`', () => {
    const bad = parseMeshText(
      `services:
  a:
    ports:
    - {name: tcp-a, port: 1000}
    - {port: 1001}
    - {name: tcp-a, port: 1000}
    command: x
`,
      '/p/meshbox.yaml',
    );
    expect(withCode(bad.findings, 'MESH_UNNAMED_PORT').map((f) => f.location?.line)).toEqual([5]);
    expect(withCode(bad.findings, 'MESH_DUPLICATE_PORT').map((f) => f.message)).toEqual([
      'services.a.ports.2: port 1000 is also ports[0]',
      "services.a.ports.2: the name `tcp-a` is also ports[0]'s",
    ]);
    expect(bad.mesh).toBeUndefined();
    const schema = parseMeshText(
      `services:
  a:
    ports: [{name: tcp_a, port: 1002}]
    command: x
  b:
    port: 1
    ports: [{name: http, port: 2}]
    command: x
`,
      '/p/meshbox.yaml',
    );
    expect(withCode(schema.findings, 'CONFLICTING_FIELDS')).toHaveLength(1);
    // \`tcp_a\` is not a DNS-1123 label
    expect(withCode(schema.findings, 'INVALID_NAME')).toHaveLength(1);
  });
});

describe('the addressing contract', () => {
  it('PORT is the first port, PORT_<NAME> each named one; <SERVICE>_<PORT>_ADDR (and _URL for HTTP-family ports) per port of every service', () => {
    const m = mesh();
    const shop = instance(m, 'shop', [41001, 41002, 41003], {
      inbound: 42001,
      inboundPorts: { 9090: 42002, 5432: 42003 },
      outbound: 43000,
      services: { shop: 43001, legacy: 43010 },
      servicePorts: { 'shop:9090': 43002, 'shop:5432': 43003 },
    });
    const env = instanceEnv(m, shop, 'sb', 1, {});
    expect(env).toMatchObject({
      PORT: '41001',
      PORT_HTTP_WEB: '41001',
      PORT_GRPC_API: '41002',
      PORT_DB: '41003',
      SHOP_URL: 'http://127.0.0.1:43001',
      SHOP_ADDR: '127.0.0.1:43001',
      SHOP_HTTP_WEB_ADDR: '127.0.0.1:43001',
      SHOP_HTTP_WEB_URL: 'http://127.0.0.1:43001',
      SHOP_GRPC_API_ADDR: '127.0.0.1:43002',
      SHOP_GRPC_API_URL: 'http://127.0.0.1:43002',
      SHOP_DB_ADDR: '127.0.0.1:43003',
      LEGACY_URL: 'http://127.0.0.1:43010',
      LEGACY_ADDR: '127.0.0.1:43010',
    });
    expect(env['SHOP_DB_URL']).toBeUndefined();
    // a container in bridge mode: the same contract, its loopback addresses through the host gateway
    const c = containerEnv({ id: shop.id, workload: shop.workload, env, port: 41001, ports: [41001, 41002, 41003] }, 'bridge');
    expect(c).toMatchObject({ PORT: '41001', PORT_GRPC_API: '41002', SHOP_DB_ADDR: 'host.docker.internal:43003', SHOP_GRPC_API_URL: 'http://host.docker.internal:43002', HOST: '0.0.0.0' });
    // and every port of the app is published on 127.0.0.1
    const opts = containerCreateOptions({ spec: { id: shop.id, workload: shop.workload, env, port: 41001, ports: [41001, 41002, 41003] }, sandboxId: 'sb', image: 'x', mode: 'bridge', owner: { pid: 1, started: '1', host: 'h' }, init: false });
    expect(Object.keys(opts.HostConfig!.PortBindings as object)).toEqual(['41001/tcp', '41002/tcp', '41003/tcp']);
    expect(Object.keys(opts.ExposedPorts!)).toEqual(['41001/tcp', '41002/tcp', '41003/tcp']);
  });
});

describe('the compiler, per port', () => {
  it('an inbound listener and cluster per workload port, an outbound listener per service port, clusters outbound|<port>||<fqdn> with their protocol', () => {
    const m = mesh();
    const shop = instance(m, 'shop', [41001, 41002, 41003], { inbound: 42001, inboundPorts: { 9090: 42002, 5432: 42003 }, outbound: 43000, services: { shop: 43001, legacy: 43010 }, servicePorts: { 'shop:9090': 43002, 'shop:5432': 43003 } });
    const legacy = instance(m, 'legacy', [41100], { inbound: 42100, outbound: 43100, services: { shop: 43101, legacy: 43110 }, servicePorts: { 'shop:9090': 43102, 'shop:5432': 43103 } });
    const names = listenersFor(m, [shop, legacy], { address: '127.0.0.1', port: 0 }).map((l) => `${l.name} ${l.port} ${l.protocol ?? 'http'}`);
    expect(names).toEqual([
      'istio-ingressgateway/http.80 0 http',
      'shop-v1-1/inbound 42001 http',
      'shop-v1-1/inbound/9090 42002 grpc',
      'shop-v1-1/inbound/5432 42003 tcp',
      'shop-v1-1/outbound 43000 http',
      'shop-v1-1/outbound/shop 43001 http',
      'shop-v1-1/outbound/shop/9090 43002 grpc',
      'shop-v1-1/outbound/shop/5432 43003 tcp',
      'shop-v1-1/outbound/legacy 43010 unknown',
      'legacy-v1-1/inbound 42100 unknown',
      'legacy-v1-1/outbound 43100 http',
      'legacy-v1-1/outbound/shop 43101 http',
      'legacy-v1-1/outbound/shop/9090 43102 grpc',
      'legacy-v1-1/outbound/shop/5432 43103 tcp',
      'legacy-v1-1/outbound/legacy 43110 unknown',
    ]);
    const snap = compile({ version: 1, mesh: m, resources: [], instances: [shop, legacy], ingress: { address: '127.0.0.1', port: 8080 } });
    const c = snap.clusters;
    expect(c['outbound|9090||shop.default.svc.cluster.local']).toMatchObject({ protocol: 'grpc', service: { port: 9090 }, endpoints: [{ port: 42002 }] });
    expect(c['outbound|5432||shop.default.svc.cluster.local']).toMatchObject({ protocol: 'tcp', endpoints: [{ port: 42003 }] });
    expect(c['outbound|8080||shop.default.svc.cluster.local']!.protocol).toBeUndefined();
    expect(c['outbound|3000||legacy.default.svc.cluster.local']!.protocol).toBe('unknown');
    expect(c['shop-v1-1|inbound|5432']).toMatchObject({ name: 'inbound|5432||', protocol: 'tcp', endpoints: [{ port: 41003 }] });
    // TCP listeners get the service's default route last; HTTP-family ports get a virtual host each
    const db = snap.listeners.find((l) => l.name === 'legacy-v1-1/outbound/shop/5432')!;
    expect(db.tcpRoutes!.map((r) => r.destinations[0]!.clusterName)).toEqual(['outbound|5432||shop.default.svc.cluster.local']);
    const hosts = snap.routeConfigs['outbound/legacy-v1-1']!.virtualHosts.map((v) => v.name);
    expect(hosts).toEqual(['shop.default.svc.cluster.local:8080', 'shop.default.svc.cluster.local:9090', 'legacy.default.svc.cluster.local:3000', 'allow_any']);
  });
});

describe('Kubernetes Services with several ports', () => {
  it('maps every port with its name, appProtocol and targetPort (a named one resolved); UDP is reported and left out', async () => {
    const r = await importManifests([join(__dirname, '../../fixtures/kubernetes/two-ports')], { runtime: 'process', images: { 'docker.io/istio/tcp-echo-server': { command: ['node', 'echo.js'], cwd: '/srv' } } });
    const svc = r.mesh!.services.find((s) => s.name === 'tcp-echo')!;
    expect(svc.ports!.map((p) => [p.name, p.port, p.targetPort, p.protocol])).toEqual([
      ['tcp', 9000, undefined, 'tcp'],
      ['tcp-other', 9001, 9011, 'tcp'],
      ['metrics', 9100, undefined, 'http'],
    ]);
    expect(svc).toMatchObject({ port: 9000, protocol: 'tcp' });
    // no probe, a TCP first port: the health check is a TCP connect
    expect(svc.workloads[0]!.health).toMatchObject({ kind: 'tcp' });
    const udp = withCode(r.findings, 'K8S_NOT_HONOURED').find((f) => f.message.includes('port 53'))!;
    expect(udp.message).toBe('Service tcp-echo: port 53 is UDP: Istio does not proxy it, and meshbox does not serve it');
    expect(udp.location?.line).toBe(20);
  });
});
