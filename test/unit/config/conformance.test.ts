/**
 * Real-world Istio YAML must validate without errors: Istio's Bookinfo networking samples and
 * the sample-istio-services manifests. The first test rebuilds their trickiest shapes inline (the
 * project's tests run from a fresh clone); the second runs over the shared conformance folder
 * when it is there.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseRulesText } from '../../../sandbox/config/rules-loader.js';
import { analyze } from '../../../sandbox/config/analyze.js';
import { validatePaths } from '../../../sandbox/config/validate.js';
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
    ]);
    const loader = r.findings.map((f) => [f.severity, f.code]);
    expect(loader).toEqual([
      ['warning', code('DEPRECATED_FIELD')],
      ['warning', code('DEPRECATED_FIELD')],
      ['warning', code('KIND_NOT_APPLIED')],
      ['warning', code('KIND_NOT_APPLIED')],
      ['info', code('KUBERNETES_KIND_IGNORED')],
      ['info', code('KUBERNETES_KIND_IGNORED')],
    ]);
    const analyzer = analyze(r.resources);
    expect(analyzer.map((f) => [f.code, f.message])).toEqual([[code('UNREACHABLE_ROUTE'), 'spec.http[1] is never used: spec.http[0] (no match) before it matches every request']]);
  });

  const shared = [resolve('../shared/conformance'), '/work/shared/conformance'].find((p) => existsSync(p));

  it.skipIf(!shared)('gives no error on the shared conformance inputs', async () => {
    for (const dir of ['istio-bookinfo', 'sample-istio-services/caller-service', 'sample-istio-services/callme-service']) {
      const r = await validatePaths([`${shared}/${dir}`]);
      expect(errors(r.findings), dir).toEqual([]);
      expect(r.files.every((f) => f.applied), dir).toBe(true);
    }
  });
});
