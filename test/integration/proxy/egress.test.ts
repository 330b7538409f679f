/**
 * Egress on real sockets: ServiceEntry hosts (resolution STATIC, DNS, NONE) reached through the
 * caller's sidecar, with VirtualService and DestinationRule policies (timeout, retries, fault,
 * TLS origination with DestinationRule tls SIMPLE), and outboundTrafficPolicy ALLOW_ANY
 * (PassthroughCluster) / REGISTRY_ONLY (502, BlackHoleCluster), with Istio's metric labels.
 * Loopback servers stand in for the outside world; names resolve without DNS (IPs, `localhost`).
 */
import http from 'node:http';
import https from 'node:https';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';
import { parseExposition } from '../../helpers/promql.js';
import { testServerTls } from '../../helpers/test-tls.js';
import { parseRulesText } from '../../../sandbox/config/rules-loader.js';
import { analyze } from '../../../sandbox/config/analyze.js';

let h: Harness;
const client = 'client-v1-1';

interface Seen {
  host: string | undefined;
  url: string;
  sni?: string;
}
interface Outside {
  port: number;
  seen: Seen[];
  /** answers 503 to this many requests first */
  failFirst: number;
  close(): Promise<void>;
}

function handler(o: { seen: Seen[]; failFirst: number }, name: string) {
  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const sni = (req.socket as { servername?: string }).servername;
    o.seen.push({ host: req.headers.host, url: req.url ?? '', ...(sni ? { sni } : {}) });
    req.resume();
    const m = /^\/delay\/(\d+)/.exec(req.url ?? '');
    const answer = (): void => {
      if (o.failFirst > 0) {
        o.failFirst--;
        res.writeHead(503, { 'content-type': 'text/plain' }).end('busy');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ outside: name, host: req.headers.host, url: req.url }));
    };
    if (m) setTimeout(answer, Number(m[1])).unref();
    else answer();
  };
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

async function outsideHttp(name: string): Promise<Outside> {
  const o: Outside = { port: 0, seen: [], failFirst: 0, close: async () => undefined };
  const server = http.createServer(handler(o, name));
  o.port = await listen(server);
  o.close = () => new Promise((r) => { server.close(() => r()); server.closeAllConnections(); });
  return o;
}

let plain: Outside;
let secure: Outside;
let tlsDir: string;

beforeAll(async () => {
  h = await startHarness([
    { name: 'client', versions: { v1: 1 } },
    { name: 'backend', versions: { v1: 1 } },
  ], 5);
  plain = await outsideHttp('plain');
  const creds = await testServerTls(['secure.external.test']);
  tlsDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-egress-'));
  writeFileSync(path.join(tlsDir, 'ca.pem'), creds.caPem);
  const s: Outside = { port: 0, seen: [], failFirst: 0, close: async () => undefined };
  const server = https.createServer({ cert: creds.certPem, key: creds.keyPem }, handler(s, 'secure'));
  s.port = await listen(server);
  s.close = () => new Promise((r) => { server.close(() => r()); server.closeAllConnections(); });
  secure = s;
});
afterAll(async () => {
  await h?.close();
  await plain?.close();
  await secure?.close();
  if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
});
beforeEach(async () => {
  plain.seen.length = 0;
  plain.failFirst = 0;
  secure.seen.length = 0;
  await h.controlPlane.setMesh({ ...h.mesh, outboundTrafficPolicy: undefined });
  await h.rules('');
});

const se = (spec: string): string => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: outside }
spec:
${spec
  .trim()
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
`;

const STATIC = () =>
  se(`
hosts: [api.external.test]
location: MESH_EXTERNAL
resolution: STATIC
ports: [{ number: 80, name: http, protocol: HTTP, targetPort: ${plain.port} }]
endpoints: [{ address: 127.0.0.1 }]
`);

describe('ServiceEntry', () => {
  it('STATIC: a host outside the mesh reached by name through the sidecar, reported with Istio\'s labels', async () => {
    await h.rules(STATIC());
    const r = await h.request({ from: client, host: 'api.external.test', path: '/v1/items', headers: { 'x-request-id': 'eg-1' } });
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ outside: 'plain', host: 'api.external.test', url: '/v1/items' });
    const [e] = await h.eventsFor('eg-1', 1);
    expect(e).toMatchObject({ reporter: 'source', upstreamCluster: 'outbound|80||api.external.test', upstreamHost: `127.0.0.1:${plain.port}`, responseFlags: '-' });
    expect(e!.destination).toMatchObject({ service: 'api.external.test', serviceName: 'api.external.test', serviceNamespace: 'default', workload: 'unknown' });
    const sample = parseExposition(await h.metrics.text()).find((s) => s.name === 'istio_requests_total' && s.labels['destination_service'] === 'api.external.test')!;
    expect(sample.labels).toMatchObject({ reporter: 'source', destination_service_name: 'api.external.test', destination_service_namespace: 'default', destination_workload: 'unknown', source_workload: 'client-v1', response_code: '200' });
  });

  it('DNS: the host itself (localhost) or named endpoints, resolved when connecting; NONE: the address the caller asked for', async () => {
    await h.rules(se(`
hosts: [localhost]
resolution: DNS
ports: [{ number: ${plain.port}, name: http, protocol: HTTP }]
`));
    const a = await h.request({ from: client, host: `localhost:${plain.port}`, headers: { 'x-request-id': 'eg-dns' } });
    expect(a.json()).toMatchObject({ outside: 'plain', host: `localhost:${plain.port}` });
    expect((await h.eventsFor('eg-dns', 1))[0]!.upstreamCluster).toBe(`outbound|${plain.port}||localhost`);

    await h.rules(se(`
hosts: [named.external.test]
resolution: DNS
ports: [{ number: 80, name: http, protocol: HTTP }]
endpoints: [{ address: localhost, ports: { http: ${plain.port} } }]
`));
    const b = await h.request({ from: client, host: 'named.external.test', headers: { 'x-request-id': 'eg-named' } });
    expect(b.json()).toMatchObject({ outside: 'plain', host: 'named.external.test' });
    expect((await h.eventsFor('eg-named', 1))[0]!.upstreamHost).toBe(`localhost:${plain.port}`);

    await h.rules(se(`
hosts: [localhost]
resolution: NONE
ports: [{ number: ${plain.port}, name: http, protocol: HTTP }]
`));
    const c = await h.request({ from: client, host: `localhost:${plain.port}`, headers: { 'x-request-id': 'eg-none' } });
    expect(c.json()).toMatchObject({ outside: 'plain' });
    const [e] = await h.eventsFor('eg-none', 1);
    expect(e).toMatchObject({ upstreamCluster: `outbound|${plain.port}||localhost`, upstreamHost: `localhost:${plain.port}` });
    expect(e!.destination.serviceName).toBe('localhost');
  });

  it('VirtualService timeout, retries and fault apply to the external host', async () => {
    const vs = (http: string) => `${STATIC()}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: outside }
spec:
  hosts: [api.external.test]
  http:
    - ${http}
      route: [{ destination: { host: api.external.test } }]
`;
    await h.rules(vs('timeout: 100ms'));
    const slow = await h.request({ from: client, host: 'api.external.test', path: '/delay/2000', headers: { 'x-request-id': 'eg-to' } });
    expect(slow.status).toBe(504);
    expect(slow.body).toBe('upstream request timeout');
    expect((await h.eventsFor('eg-to', 1))[0]!.responseFlags).toBe('UT');

    await h.rules(vs('retries: { attempts: 3, retryOn: 5xx }'));
    plain.failFirst = 2;
    const retried = await h.request({ from: client, host: 'api.external.test', headers: { 'x-request-id': 'eg-rt' } });
    expect(retried.status).toBe(200);
    expect((await h.eventsFor('eg-rt', 1))[0]!.attempts).toBe(3);

    await h.rules(vs('fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }'));
    const aborted = await h.request({ from: client, host: 'api.external.test', headers: { 'x-request-id': 'eg-fi' } });
    expect(aborted.status).toBe(503);
    expect(aborted.body).toBe('fault filter abort');
    expect((await h.eventsFor('eg-fi', 1))[0]!.responseFlags).toBe('FI');
  });

  it('TLS origination: plain HTTP from the app, TLS from the sidecar (DestinationRule tls SIMPLE, the test CA), SNI = the host', async () => {
    await h.rules(`${se(`
hosts: [secure.external.test]
resolution: STATIC
ports: [{ number: 80, name: http, protocol: HTTP, targetPort: ${secure.port} }]
endpoints: [{ address: 127.0.0.1 }]
`)}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: secure }
spec:
  host: secure.external.test
  trafficPolicy:
    portLevelSettings:
      - port: { number: 80 }
        tls: { mode: SIMPLE, caCertificates: ${path.join(tlsDir, 'ca.pem')} }
`);
    const r = await h.request({ from: client, host: 'secure.external.test', path: '/tls', headers: { 'x-request-id': 'eg-tls' } });
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ outside: 'secure', host: 'secure.external.test', url: '/tls' });
    expect(secure.seen.at(-1)!.sni).toBe('secure.external.test');
    const [e] = await h.eventsFor('eg-tls', 1);
    expect(e!.connectionSecurity).toBe('tls');
    expect(e!.why.join('\n')).toMatch(/DestinationRule default\/secure tls\.mode SIMPLE: TLS/);
  });

  it('TLS origination against a server the CA does not vouch for fails as Envoy does: 503 UF, the original is answered', async () => {
    await h.rules(`${se(`
hosts: [wrong.external.test]
resolution: STATIC
ports: [{ number: 80, name: http, protocol: HTTP, targetPort: ${secure.port} }]
endpoints: [{ address: 127.0.0.1 }]
`)}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: wrong }
spec:
  host: wrong.external.test
  trafficPolicy: { tls: { mode: SIMPLE, caCertificates: ${path.join(tlsDir, 'ca.pem')} } }
`);
    const r = await h.request({ from: client, host: 'wrong.external.test', headers: { 'x-request-id': 'eg-bad' } });
    expect(r.status).toBe(503);
    expect((await h.eventsFor('eg-bad', 1))[0]!.responseFlags).toContain('UF');
  });
});

describe('outboundTrafficPolicy', () => {
  it('ALLOW_ANY (default): an unknown host goes to the address asked for, through PassthroughCluster', async () => {
    const r = await h.request({ from: client, host: `127.0.0.1:${plain.port}`, headers: { 'x-request-id': 'eg-any' } });
    expect(r.json()).toMatchObject({ outside: 'plain' });
    const [e] = await h.eventsFor('eg-any', 1);
    expect(e).toMatchObject({ upstreamCluster: 'PassthroughCluster', routeName: 'allow_any' });
    expect(e!.destination.serviceName).toBe('PassthroughCluster');
  });

  it('REGISTRY_ONLY (meshbox.yaml): an unknown host gets 502 through BlackHoleCluster; ServiceEntry hosts and mesh services still pass', async () => {
    await h.controlPlane.setMesh({ ...h.mesh, outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } });
    await h.rules(STATIC());
    const blocked = await h.request({ from: client, host: `127.0.0.1:${plain.port}`, headers: { 'x-request-id': 'eg-block' } });
    expect(blocked.status).toBe(502);
    expect(blocked.body).toBe('');
    expect(plain.seen).toHaveLength(0);
    const [e] = await h.eventsFor('eg-block', 1);
    expect(e).toMatchObject({ status: 502, responseFlags: '-', responseCodeDetails: 'direct_response', routeName: 'block_all', upstreamCluster: 'BlackHoleCluster' });
    expect(e!.destination).toMatchObject({ service: 'BlackHoleCluster', serviceName: 'BlackHoleCluster' });
    const sample = parseExposition(await h.metrics.text()).find((s) => s.name === 'istio_requests_total' && s.labels['destination_service_name'] === 'BlackHoleCluster')!;
    expect(sample.labels).toMatchObject({ reporter: 'source', response_code: '502', source_workload: 'client-v1' });

    expect((await h.request({ from: client, host: 'api.external.test' })).json()).toMatchObject({ outside: 'plain' });
    expect((await h.request({ from: client, host: 'backend:8080' })).status).toBe(200);
  });
});

describe('ServiceEntry validation', () => {
  it('Istio rejects STATIC without endpoints, NONE with endpoints, a non-IP STATIC address; conflicting hosts are a warning; destinations to entry hosts are known', () => {
    const bad = parseRulesText(
      `${se('hosts: [a.test]\nresolution: STATIC\nports: [{ number: 80, name: http, protocol: HTTP }]')}---
${se('hosts: [b.test]\nresolution: NONE\nports: [{ number: 80, name: http, protocol: HTTP }]\nendpoints: [{ address: 10.0.0.1 }]').replace('outside', 'b')}---
${se('hosts: [c.test]\nresolution: STATIC\nports: [{ number: 80, name: http, protocol: HTTP }]\nendpoints: [{ address: c.example }]').replace('outside', 'c')}`,
      'bad.yaml',
    );
    expect(bad.findings.filter((f) => f.code === 'MB1146').map((f) => `${f.location?.line}: ${f.message.split(' (')[0]}`)).toEqual([
      '7: resolution STATIC needs `endpoints`',
      '18: resolution NONE takes no `endpoints`',
      '28: endpoint address `c.example` is not an IP address, as resolution STATIC requires',
    ]);
    const good = parseRulesText(
      `${STATIC()}---
${STATIC().replace('name: outside', 'name: again')}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: v }
spec:
  hosts: [api.external.test]
  http: [{ route: [{ destination: { host: api.external.test } }] }]
`,
      'good.yaml',
    );
    expect(good.findings.filter((f) => f.severity === 'error')).toEqual([]);
    const findings = analyze(good.resources, h.mesh);
    expect(findings.map((f) => `${f.code} ${f.message}`)).toEqual([
      'MB2017 host `api.external.test` is also declared by ServiceEntry default/outside: that one is used, this declaration is not',
    ]);
  });
});
