/**
 * MB2017: protocol-specific fields on a port of another protocol (never applied), with their
 * file:line:col, from the mesh's port protocols (meshbox.yaml `ports:`).
 */
import { describe, expect, it } from 'vitest';
import { analyze } from '../../../sandbox/config/analyze.js';
import { parseMeshText } from '../../../sandbox/config/mesh-file.js';
import { parseRulesText } from '../../../sandbox/config/rules-loader.js';
import { withCode } from './helpers.js';

const mesh = parseMeshText(
  `services:
  web:
    ports:
    - {name: http-web, port: 8080}
    - {name: grpc-api, port: 9090}
    - {name: tcp-admin, port: 7000}
    command: node web.js
  db:
    ports: [{name: tcp-pg, port: 5432}]
    command: node db.js
  plain:
    port: 3000
    command: node plain.js
`,
  '/project/meshbox.yaml',
).mesh!;

function findings(yaml: string): string[] {
  const r = parseRulesText(yaml, 'rules.yaml');
  expect(r.findings.filter((f) => f.severity === 'error')).toEqual([]);
  return withCode(analyze(r.resources, mesh), 'PROTOCOL_MISMATCH').map((f) => `${f.location!.line}:${f.location!.col} ${f.message}`);
}

describe('protocol-specific fields on the wrong protocol (MB2017)', () => {
  it('a tcp route on an HTTP port, an http match on a TCP port, a tls route on a TCP port', () => {
    expect(
      findings(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
  - match: [{port: 7000}]
    route: [{destination: {host: web}}]
  - match: [{port: 8080}]
    route: [{destination: {host: web}}]
  tcp:
  - match: [{port: 9090}]
    route: [{destination: {host: web, port: {number: 7000}}}]
  - match: [{port: 7000}]
    route: [{destination: {host: web, port: {number: 7000}}}]
  tls:
  - match: [{port: 7000, sniHosts: [a.example.com]}]
    route: [{destination: {host: web, port: {number: 7000}}}]
`),
    ).toEqual([
      '12:20 spec.tcp[0].match[0].port 9090: port grpc-api (9090) is served as GRPC of web: a tcp route never applies to an HTTP port',
      '17:20 spec.tls[0].match[0].port 7000: port tcp-admin (7000) is served as TCP of web: a tls route applies to TLS ports only (routed by SNI)',
      '7:20 spec.http[0].match[0].port 7000: port tcp-admin (7000) is served as TCP of web: an http match never applies to a TCP port',
    ]);
  });

  it('a tcp route on a service with HTTP ports only; a detected port takes tcp routes', () => {
    const mismatches = findings(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: only-http}
spec:
  hosts: [plain]
  tcp:
  - route: [{destination: {host: plain}}]
`);
    // plain's port is unnamed: detected per connection, so TCP traffic on it is proxied as TCP
    expect(mismatches).toEqual([]);
  });

  it('HTTP connection pool and hash settings on a TCP-only service, or on a TCP port', () => {
    expect(
      findings(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db}
spec:
  host: db
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 10}
      http: {h2UpgradePolicy: UPGRADE}
    loadBalancer:
      consistentHash: {httpHeaderName: x-user}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web
  trafficPolicy:
    connectionPool: {http: {http1MaxPendingRequests: 1}}
    portLevelSettings:
    - port: {number: 7000}
      connectionPool: {http: {maxRequestsPerConnection: 1}}
`),
    ).toEqual([
      '9:31 spec.trafficPolicy.connectionPool.http.h2UpgradePolicy: port tcp-pg (5432) is served as TCP: HTTP connection pool settings have no effect on TCP traffic',
      '11:40 spec.trafficPolicy.loadBalancer.consistentHash.httpHeaderName: port tcp-pg (5432) is served as TCP: TCP connections carry no HTTP header to hash',
      '22:57 spec.trafficPolicy.portLevelSettings[0].connectionPool.http.maxRequestsPerConnection: port tcp-admin (7000) is served as TCP: HTTP connection pool settings have no effect on TCP traffic',
    ]);
  });

  it('a Gateway-bound tcp route on the port of an HTTP server', () => {
    expect(
      findings(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
  - port: {number: 31400, name: tcp, protocol: TCP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge}
spec:
  hosts: ["*"]
  gateways: [gw]
  tcp:
  - match: [{port: 80}]
    route: [{destination: {host: db}}]
  - match: [{port: 31400}]
    route: [{destination: {host: db}}]
`),
    ).toEqual(['19:20 spec.tcp[0].match[0].port 80: Gateway default/gw server port 80 is HTTP: a tcp route never applies to an HTTP port']);
  });
});
