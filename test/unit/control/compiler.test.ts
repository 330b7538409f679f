/**
 * compile(): mesh + Istio resources + instances -> the snapshot every proxy runs on. Clusters per
 * service and subset with Istio's DestinationRule merging, routes per proxy (sourceLabels,
 * match-level gateways), the gateway's virtual hosts and the passthrough for unknown hosts.
 */
import { describe, expect, it } from 'vitest';
import { parseRulesText } from '../../../sandbox/config/rules-loader.js';
import { compile, GATEWAY_ROUTE_CONFIG, PASSTHROUGH_CLUSTER } from '../../../sandbox/control/compiler.js';
import type { Instance } from '../../../sandbox/control/registry.js';
import type { MeshSnapshot, RouteEntryConfig } from '../../../sandbox/control/snapshot.js';
import { meshDefinition, type ServiceDef } from '../../helpers/mesh-harness.js';

const SERVICES: ServiceDef[] = [
  { name: 'client', versions: { v1: 1 } },
  { name: 'backend', versions: { v1: 1, v2: 2 } },
];

function build(yaml: string, services = SERVICES, patch: (i: Instance) => Partial<Instance> = () => ({})): MeshSnapshot {
  const mesh = meshDefinition(services);
  const parsed = parseRulesText(yaml, 'rules.yaml');
  const errors = parsed.findings.filter((f) => f.severity === 'error');
  if (errors.length) throw new Error(errors.map((f) => f.message).join('\n'));
  let port = 20000;
  const instances: Instance[] = mesh.services.flatMap((s) =>
    s.workloads.flatMap((w) =>
      Array.from({ length: w.replicas }, (_, n) => {
        const inst: Instance = {
          id: `${w.workload}-${n + 1}`,
          workload: w,
          ordinal: n + 1,
          appPort: port++,
          sidecar: { inbound: port++, outbound: port++, services: {} },
          state: 'running',
          healthy: true,
          drained: false,
          restarts: 0,
        };
        return { ...inst, ...patch(inst) };
      }),
    ),
  );
  return compile({ version: 1, mesh, resources: parsed.resources, instances, ingress: { address: '127.0.0.1', port: 8080 } });
}

const FQDN = 'backend.default.svc.cluster.local';
const svcCluster = `outbound|8080||${FQDN}`;
const subsetCluster = (s: string): string => `outbound|8080|${s}|${FQDN}`;

const DR = (top: string, v1 = '', v2 = ''): string => `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: backend }
spec:
  host: backend
${top ? `  trafficPolicy:\n${top}\n` : ''}  subsets:
    - name: v1
      labels: { version: v1 }
${v1 ? `      trafficPolicy:\n${v1}\n` : ''}    - name: v2
      labels: { version: v2 }
${v2 ? `      trafficPolicy:\n${v2}\n` : ''}`;

/** the routes `proxy` has for the backend's virtual host */
function backendRoutes(snap: MeshSnapshot, proxy: string): RouteEntryConfig[] {
  const vh = snap.routeConfigs[`outbound/${proxy}`]!.virtualHosts.find((v) => v.domains.includes('backend'))!;
  return vh.routes;
}

describe('compile(): clusters', () => {
  it("Istio's cluster names, one per service, subset, inbound sidecar, plus PassthroughCluster", () => {
    const snap = build(DR(''));
    expect(Object.values(snap.clusters).map((c) => c.name).sort()).toEqual(
      [
        'PassthroughCluster',
        'inbound|8080||',
        'inbound|8080||',
        'inbound|8080||',
        'inbound|8080||',
        'outbound|8080||backend.default.svc.cluster.local',
        'outbound|8080||client.default.svc.cluster.local',
        'outbound|8080|v1|backend.default.svc.cluster.local',
        'outbound|8080|v2|backend.default.svc.cluster.local',
      ].sort(),
    );
    expect(snap.clusters[svcCluster]!.endpoints.map((e) => e.id)).toEqual(['backend-v1-1', 'backend-v2-1', 'backend-v2-2']);
    expect(snap.clusters[subsetCluster('v2')]!.endpoints.map((e) => e.id)).toEqual(['backend-v2-1', 'backend-v2-2']);
    expect(snap.clusters[subsetCluster('v1')]!.endpoints.map((e) => e.id)).toEqual(['backend-v1-1']);
  });

  it('an instance that is not serving (stopped, unhealthy, drained) is an unhealthy endpoint', () => {
    const snap = build(DR(''), SERVICES, (i) => (i.id === 'backend-v2-1' ? { healthy: false } : i.id === 'backend-v2-2' ? { drained: true } : {}));
    expect(snap.clusters[subsetCluster('v2')]!.endpoints.map((e) => [e.id, e.healthy])).toEqual([
      ['backend-v2-1', false],
      ['backend-v2-2', false],
    ]);
    expect(snap.clusters[subsetCluster('v1')]!.endpoints[0]!.healthy).toBe(true);
  });

  it('load balancer: LEAST_REQUEST by default (Istio >= 1.14) and for the deprecated LEAST_CONN; consistentHash is a ring', () => {
    expect(build('').clusters[svcCluster]!.lb).toBe('LEAST_REQUEST');
    expect(build(DR('    loadBalancer: { simple: LEAST_CONN }')).clusters[svcCluster]!.lb).toBe('LEAST_REQUEST');
    expect(build(DR('    loadBalancer: { simple: RANDOM }')).clusters[svcCluster]!.lb).toBe('RANDOM');
    expect(build(DR('    loadBalancer: { simple: ROUND_ROBIN }')).clusters[svcCluster]!.lb).toBe('ROUND_ROBIN');
    const ring = build(DR('    loadBalancer: { consistentHash: { httpHeaderName: X-User, ringHash: { minimumRingSize: 2048 } } }')).clusters[svcCluster]!;
    expect(ring.lb).toBe('RING_HASH');
    expect(ring.hashPolicy).toMatchObject({ header: 'x-user', ringSize: 2048 });
    expect(build(DR('    loadBalancer: { consistentHash: { useSourceIp: true } }')).clusters[svcCluster]!.hashPolicy).toMatchObject({ sourceIp: true, ringSize: 1024 });
  });

  it('a subset without a policy inherits the top-level one; the service cluster never gets a subset policy', () => {
    const snap = build(DR('    loadBalancer: { simple: RANDOM }\n    connectionPool: { tcp: { connectTimeout: 2s } }', '', '        loadBalancer: { simple: ROUND_ROBIN }'));
    expect(snap.clusters[subsetCluster('v1')]).toMatchObject({ lb: 'RANDOM', connectTimeoutMs: 2000 });
    expect(snap.clusters[subsetCluster('v2')]).toMatchObject({ lb: 'ROUND_ROBIN', connectTimeoutMs: 2000 });
    expect(snap.clusters[svcCluster]).toMatchObject({ lb: 'RANDOM', connectTimeoutMs: 2000 });
    expect(snap.clusters[subsetCluster('v2')]!.policySource).toBe('DestinationRule default/backend subset v2');
  });

  it("a subset's field replaces the top-level field as a whole (Istio's MergeTrafficPolicy), the other fields stay", () => {
    const snap = build(
      DR(
        '    connectionPool: { tcp: { maxConnections: 10, connectTimeout: 3s }, http: { http1MaxPendingRequests: 5 } }\n    outlierDetection: { consecutive5xxErrors: 7 }\n    loadBalancer: { consistentHash: { httpHeaderName: x-user } }',
        '',
        '        connectionPool: { http: { maxRetries: 3 } }\n        loadBalancer: { simple: ROUND_ROBIN }',
      ),
    );
    const v2 = snap.clusters[subsetCluster('v2')]!;
    expect(v2.trafficPolicy?.connectionPool).toEqual({ http: { maxRetries: 3 } });
    expect(v2.connectTimeoutMs).toBe(10_000);
    expect(v2.trafficPolicy?.outlierDetection).toEqual({ consecutive5xxErrors: 7 });
    expect(v2.lb).toBe('ROUND_ROBIN');
    expect(v2.hashPolicy).toBeUndefined();
    const v1 = snap.clusters[subsetCluster('v1')]!;
    expect(v1.lb).toBe('RING_HASH');
    expect(v1.trafficPolicy?.connectionPool?.tcp?.maxConnections).toBe(10);
  });

  it('portLevelSettings for the service port replace the top-level fields; a subset field still wins over them', () => {
    const pls = '    loadBalancer: { simple: RANDOM }\n    portLevelSettings:\n      - port: { number: 8080 }\n        loadBalancer: { simple: ROUND_ROBIN }\n        connectionPool: { tcp: { connectTimeout: 4s } }\n      - port: { number: 9090 }\n        loadBalancer: { consistentHash: { httpHeaderName: x-user } }';
    const snap = build(DR(pls, '', '        loadBalancer: { simple: LEAST_REQUEST }'));
    expect(snap.clusters[svcCluster]).toMatchObject({ lb: 'ROUND_ROBIN', connectTimeoutMs: 4000 });
    expect(snap.clusters[subsetCluster('v1')]).toMatchObject({ lb: 'ROUND_ROBIN', connectTimeoutMs: 4000 });
    expect(snap.clusters[subsetCluster('v2')]).toMatchObject({ lb: 'LEAST_REQUEST', connectTimeoutMs: 4000 });
    // and a subset's own portLevelSettings win over its fields for that port
    const own = build(DR('', '', '        loadBalancer: { simple: RANDOM }\n        portLevelSettings:\n          - port: { number: 8080 }\n            loadBalancer: { simple: ROUND_ROBIN }'));
    expect(own.clusters[subsetCluster('v2')]!.lb).toBe('ROUND_ROBIN');
    expect(own.clusters[svcCluster]!.lb).toBe('LEAST_REQUEST');
  });

  it('several DestinationRules for one host: subsets merge (first definition of a name wins), the first rule keeps its top-level policy', () => {
    const snap = build(`${DR('    loadBalancer: { simple: RANDOM }')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: backend-canary }
spec:
  host: backend.default.svc.cluster.local
  trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } }
  subsets:
    - { name: canary, labels: { version: v2 } }
    - { name: v1, labels: { version: v2 } }
`);
    expect(snap.clusters[svcCluster]!.lb).toBe('RANDOM');
    expect(snap.clusters[subsetCluster('canary')]!.endpoints.map((e) => e.id)).toEqual(['backend-v2-1', 'backend-v2-2']);
    expect(snap.clusters[subsetCluster('canary')]!.lb).toBe('RANDOM');
    expect(snap.clusters[subsetCluster('v1')]!.endpoints.map((e) => e.id)).toEqual(['backend-v1-1']);
  });
});

describe('compile(): routes per proxy', () => {
  const VS = (match: string): string => `${DR('')}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http:
    - name: special
      match: ${match}
      route: [{ destination: { host: backend, subset: v1 } }]
    - name: rest
      route: [{ destination: { host: backend, subset: v2 } }]
`;

  it('sourceLabels: a match block goes only to the sidecars of workloads carrying those labels', () => {
    const snap = build(VS('[{ sourceLabels: { app: client } }]'));
    expect(backendRoutes(snap, 'client-v1-1').map((r) => r.name)).toEqual(['special', 'rest']);
    expect(backendRoutes(snap, 'backend-v2-1').map((r) => r.name)).toEqual(['rest']);
    // the selector is gone from the compiled match: it matches every request of that proxy
    expect(backendRoutes(snap, 'client-v1-1')[0]!.match).toEqual([{}]);
  });

  it('sourceLabels must all match; other blocks of the same route stay for everyone', () => {
    const snap = build(VS('[{ sourceLabels: { app: client, version: v2 } }, { headers: { x-test: { exact: "1" } } }]'));
    expect(backendRoutes(snap, 'client-v1-1')[0]!.match).toEqual([{ headers: { 'x-test': { exact: '1' } } }]);
    const both = build(VS('[{ sourceLabels: { app: backend, version: v2 } }, { headers: { x-test: { exact: "1" } } }]'));
    expect(backendRoutes(both, 'backend-v2-2')[0]!.match).toEqual([{}, { headers: { 'x-test': { exact: '1' } } }]);
    expect(backendRoutes(both, 'backend-v1-1')[0]!.match).toEqual([{ headers: { 'x-test': { exact: '1' } } }]);
  });

  it('sourceNamespace and match-level gateways select proxies too', () => {
    expect(backendRoutes(build(VS('[{ sourceNamespace: default }]')), 'client-v1-1')[0]!.name).toBe('special');
    expect(backendRoutes(build(VS('[{ sourceNamespace: other }]')), 'client-v1-1').map((r) => r.name)).toEqual(['rest']);
    expect(backendRoutes(build(VS('[{ gateways: [mesh] }]')), 'client-v1-1')[0]!.name).toBe('special');
    expect(backendRoutes(build(VS('[{ gateways: [some-gateway] }]')), 'client-v1-1').map((r) => r.name)).toEqual(['rest']);
  });

  const GW = (match: string): string => `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*.example.com"] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: front }
spec:
  hosts: [front.example.com]
  gateways: [gw]
  http:
    - name: special
      match: ${match}
      route: [{ destination: { host: backend } }]
    - name: rest
      route: [{ destination: { host: client } }]
`;
  const gatewayRoutes = (snap: MeshSnapshot): string[] => snap.routeConfigs[GATEWAY_ROUTE_CONFIG]!.virtualHosts.find((v) => v.domains.includes('front.example.com'))!.routes.map((r) => r.name);

  it("at the gateway, sourceLabels match the gateway's own labels (Istio's sourceMatchHTTP)", () => {
    expect(gatewayRoutes(build(GW('[{ sourceLabels: { istio: ingressgateway } }]')))).toEqual(['special', 'rest']);
    expect(gatewayRoutes(build(GW('[{ sourceLabels: { app: client } }]')))).toEqual(['rest']);
  });

  it('a match block with gateways is selected by them alone: sourceLabels and sourceNamespace are then ignored', () => {
    const snap = build(VS('[{ gateways: [mesh], sourceLabels: { app: nobody }, sourceNamespace: other }]'));
    expect(backendRoutes(snap, 'client-v1-1')[0]!.name).toBe('special');
    expect(backendRoutes(snap, 'client-v1-1')[0]!.match).toEqual([{}]);
  });

  it("at the gateway, sourceNamespace is the gateway proxy's own namespace (istio-system)", () => {
    expect(gatewayRoutes(build(GW('[{ sourceNamespace: istio-system }]')))).toEqual(['special', 'rest']);
    expect(gatewayRoutes(build(GW('[{ sourceNamespace: default }]')))).toEqual(['rest']);
  });

  it('the gateway serves only VirtualServices bound to it, for hosts its servers cover; sidecars never get them', () => {
    const snap = build(GW('[{ uri: { prefix: /b } }]'));
    const vhosts = snap.routeConfigs[GATEWAY_ROUTE_CONFIG]!.virtualHosts;
    expect(vhosts.map((v) => v.domains)).toEqual([['front.example.com']]);
    expect(snap.routeConfigs['outbound/client-v1-1']!.virtualHosts.some((v) => v.domains.includes('front.example.com'))).toBe(false);
  });

  it('a sidecar has a virtual host per service (every way to write its name) and a catch-all to PassthroughCluster', () => {
    const snap = build('');
    const vhosts = snap.routeConfigs['outbound/client-v1-1']!.virtualHosts;
    const backend = vhosts.find((v) => v.name === `${FQDN}:8080`)!;
    expect(backend.domains).toEqual(expect.arrayContaining(['backend', 'backend:8080', 'backend.default', 'backend.default.svc', FQDN, `${FQDN}:8080`]));
    expect(backend.routes[0]!.action).toMatchObject({ type: 'route', destinations: [{ clusterName: svcCluster, weight: 100 }] });
    const last = vhosts.at(-1)!;
    expect(last.domains).toEqual(['*']);
    expect(last.routes[0]!.action).toMatchObject({ type: 'route', destinations: [{ clusterKey: PASSTHROUGH_CLUSTER }] });
    expect(snap.clusters[PASSTHROUGH_CLUSTER]!.kind).toBe('passthrough');
  });

  it('weights: a single destination gets 100, an unweighted one among several gets 0; a route with a fault has retries and timeout off', () => {
    const snap = build(`${DR('')}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http:
    - match: [{ uri: { prefix: /f } }]
      timeout: 1s
      retries: { attempts: 3, retryOn: 5xx }
      fault: { abort: { httpStatus: 503, percentage: { value: 10 } } }
      route: [{ destination: { host: backend, subset: v1 } }]
    - route:
        - { destination: { host: backend, subset: v1 }, weight: 70 }
        - { destination: { host: backend, subset: v2 } }
`);
    const [faulted, split] = backendRoutes(snap, 'client-v1-1');
    expect(faulted!.timeoutMs).toBeNull();
    expect(faulted!.retry.attempts).toBe(0);
    expect(faulted!.action).toMatchObject({ destinations: [{ weight: 100 }] });
    expect(split!.action).toMatchObject({ destinations: [{ subset: 'v1', weight: 70 }, { subset: 'v2', weight: 0 }] });
  });
});
