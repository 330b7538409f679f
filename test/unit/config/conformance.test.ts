/**
 * Real-world Istio and Kubernetes YAML must validate without errors. The first test rebuilds the
 * trickiest shapes of Istio's samples inline; the second runs over test/fixtures/conformance,
 * written for these tests in the shapes of real projects (storefront with versions, header
 * routing, canaries and faults; Kubernetes workloads and a CRD; Gateway API; TCP; gRPC; Istio
 * security; a front/back pair). Both run from a fresh clone: nothing outside the repository.
 */
import { describe, expect, it } from 'vitest';
import { parseRulesText } from '../../../sandbox/config/rules-loader.js';
import { analyze } from '../../../sandbox/config/analyze.js';
import { validatePaths } from '../../../sandbox/config/validate.js';
import { runValidate } from '../../../cli/commands/validate.js';
import { code, errors } from './helpers.js';

const TRICKY = `
# header match + deprecated integer percent on an abort, then a default route
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: stars
spec:
  hosts:
  - stars
  http:
  - match:
    - headers:
        end-user:
          exact: alice
    fault:
      abort:
        percent: 100
        httpStatus: 500
      delay:
        percent: 50
        fixedDelay: 7s
    route:
    - destination:
        host: stars
        subset: v1
  - route:
    - destination:
        host: stars
        subset: v1
---
# a catch-all route with a fault (percentage 100.0), followed by a route it hides
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: info
spec:
  hosts:
  - info
  http:
  - fault:
      abort:
        httpStatus: 555
        percentage:
          value: 100.0
    route:
    - destination:
        host: info
        subset: v1
  - route:
    - destination:
        host: info
        subset: v1
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: stars
spec:
  host: stars
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2-db
    labels:
      version: v2-db
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: info
spec:
  host: info
  subsets:
  - name: v1
    labels:
      version: v1
---
# a gateway for every host, and a VirtualService bound to it by name with uri matches
apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata:
  name: shop-gateway
spec:
  selector:
    istio: ingressgateway # the default ingress gateway
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - "*"
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: shop
spec:
  hosts:
  - "*"
  gateways:
  - shop-gateway
  http:
  - match:
    - uri:
        exact: /front
    - uri:
        prefix: /assets
    route:
    - destination:
        host: front
        port:
          number: 9080
---
# egress entry with a lowercase protocol
apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata:
  name: external-api
spec:
  hosts:
  - api.example.org
  ports:
  - number: 443
    name: https
    protocol: http
  location: MESH_EXTERNAL
  resolution: DNS
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: post-only
  namespace: default
spec:
  selector:
    matchLabels:
      app: front
      version: v2
  action: ALLOW
  rules:
  - to:
    - operation:
        methods: ["POST"]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: front-v1
spec:
  replicas: 1
  template:
    metadata:
      labels: {app: front, version: v1}
---
apiVersion: v1
kind: Service
metadata:
  name: front
spec:
  ports:
  - port: 9080
    name: http
---
`;

describe('conformance', () => {
  it('accepts the trickiest shapes of real Istio samples, with the expected warnings only', () => {
    const r = parseRulesText(TRICKY, 'tricky.yaml');
    expect(errors(r.findings)).toEqual([]);
    expect(r.applied).toBe(true);
    expect(r.resources.map((x) => `${x.kind}/${x.metadata.name}`)).toEqual([
      'VirtualService/stars',
      'VirtualService/info',
      'DestinationRule/stars',
      'DestinationRule/info',
      'Gateway/shop-gateway',
      'VirtualService/shop',
      'ServiceEntry/external-api',
      'AuthorizationPolicy/post-only',
    ]);
    const loader = r.findings.map((f) => [f.severity, f.code]);
    expect(loader).toEqual([
      ['warning', code('DEPRECATED_FIELD')],
      ['warning', code('DEPRECATED_FIELD')],
      ['info', code('KUBERNETES_KIND_IGNORED')],
      ['info', code('KUBERNETES_KIND_IGNORED')],
    ]);
    const analyzer = analyze(r.resources);
    expect(analyzer.map((f) => [f.code, f.message])).toEqual([[code('UNREACHABLE_ROUTE'), 'spec.http[1] is never used: spec.http[0] (no match) before it matches every request']]);
  });

  const FIXTURES = 'test/fixtures/conformance';

  it('gives no error on the conformance fixtures: Kubernetes kinds are notes, unapplied Istio kinds and fields warnings', async () => {
    const r = await validatePaths([FIXTURES], { recursive: true });
    expect(errors(r.findings)).toEqual([]);
    expect(r.files.map((f) => f.file.slice(FIXTURES.length + 1))).toEqual([
      'gateway-api/checkout.yaml',
      'grpc/greeter.yaml',
      'kubernetes/crd.yaml',
      'kubernetes/inventory.yaml',
      'security/policies.yaml',
      'storefront/destination-rules.yaml',
      'storefront/egress.yaml',
      'storefront/faults.yaml',
      'storefront/gateway.yaml',
      'storefront/routes.yaml',
      'tcp/ledger.yaml',
      'two-services/deployments.yaml',
      'two-services/rules.yaml',
    ]);
    expect(r.files.every((f) => f.applied)).toBe(true);
    const counts: Record<string, number> = {};
    for (const f of r.findings) counts[`${f.severity} ${f.code}`] = (counts[`${f.severity} ${f.code}`] ?? 0) + 1;
    expect(counts).toEqual({
      [`info ${code('KUBERNETES_KIND_IGNORED')}`]: 13,
      [`warning ${code('KIND_NOT_APPLIED')}`]: 3,
      [`warning ${code('DEPRECATED_FIELD')}`]: 1,
      [`warning ${code('UNREACHABLE_ROUTE')}`]: 1,
      // the storefront's ServiceEntry is applied; its HTTPS port (TLS passthrough) is not (tcp/tls routes are)
      [`warning ${code('FIELD_NOT_APPLIED')}`]: 1,
    });
    const kinds = new Set(r.findings.filter((f) => f.code === code('KUBERNETES_KIND_IGNORED')).map((f) => f.resource?.kind));
    expect([...kinds].sort()).toEqual(['CustomResourceDefinition', 'Deployment', 'Service', 'ServiceAccount']);
    expect(r.resources.map((x) => `${x.kind}/${x.metadata.name}`)).toContain('VirtualService/storefront');
    expect(r.resources).toHaveLength(23);
  });

  it('meshbox validate on the fixture tree exits 0', async () => {
    const out: string[] = [];
    expect(await runValidate([FIXTURES], {}, { out: (l) => out.push(l), err: (l) => out.push(l) })).toBe(0);
    expect(out.at(-1)).toBe('13 files, 23 resources: 0 errors, 6 warnings, 13 info');
  });
});
