/**
 * Istio's TCP traffic-shifting task (https://istio.io/latest/docs/tasks/traffic-management/tcp-traffic-shifting/)
 * as written: a Gateway with a TCP server on 31400, a DestinationRule with subsets v1 and v2, a
 * VirtualService bound to the gateway with a `tcp` route — all to v1, then 80/20. The ingress
 * serves 31400 on a free port here (`--gateway-port 31400=0`). Also: a Gateway HTTP server on a
 * port other than 80 is served as HTTP.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';
import { GATEWAY_ID, PORT_FORWARD_ROUTE_CONFIG } from '../../../sandbox/control/compiler.js';
import type { ListenerConfig } from '../../../sandbox/control/snapshot.js';
import { startTcpEcho, tcpExchange } from '../../helpers/tcp-app.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness(
    [
      {
        name: 'tcp-echo',
        versions: { v1: 1, v2: 1 },
        ports: [
          { name: 'tcp', port: 9000 },
          { name: 'tcp-other', port: 9001 },
        ],
        serve: (instance) => startTcpEcho(instance.includes('-v1-') ? 'one' : 'two'),
      },
      { name: 'web', versions: { v1: 1 } },
    ],
    11,
    { gatewayPorts: { 31400: 0 } },
  );
});
afterAll(async () => {
  await h?.close();
});

const GATEWAY_AND_DR = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: tcp-echo-gateway
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 31400
      name: tcp
      protocol: TCP
    hosts:
    - "*"
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: tcp-echo-destination
spec:
  host: tcp-echo
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
`;

const vs = (v1: number, v2: number): string => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: tcp-echo
spec:
  hosts:
  - "*"
  gateways:
  - tcp-echo-gateway
  tcp:
  - match:
    - port: 31400
    route:
    - destination:
        host: tcp-echo
        port:
          number: 9000
        subset: v1
${v2 === 0 ? '' : `      weight: ${v1}
    - destination:
        host: tcp-echo
        port:
          number: 9000
        subset: v2
      weight: ${v2}
`}`;

async function shares(port: number, n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    // the task's client: `echo "$(date) hello" | nc $INGRESS_HOST $TCP_INGRESS_PORT`
    const r = await tcpExchange(port, `${i} hello\n`, { until: (t) => t.includes('\n') });
    const who = r.text.split(' ')[0] ?? '';
    out[who] = (out[who] ?? 0) + 1;
  }
  return out;
}

describe('ingress gateway: TCP traffic shifting (Istio task)', () => {
  it('all traffic to v1, then 80/20 to v1/v2 through the Gateway TCP server 31400', async () => {
    await h.rules(GATEWAY_AND_DR + vs(100, 0));
    const port = h.gatewayPort(31400);
    expect(port).toBeGreaterThan(0);
    expect(port).not.toBe(31400);
    const all = await shares(port, 20);
    expect(all).toEqual({ one: 20 });
    await h.rules(GATEWAY_AND_DR + vs(80, 20));
    // the listener stays where it is across the rule change
    expect(h.gatewayPort(31400)).toBe(port);
    const split = await shares(port, 200);
    expect(split['one']! + split['two']!).toBe(200);
    expect(split['one']! / 200).toBeGreaterThan(0.7);
    expect(split['one']! / 200).toBeLessThan(0.9);
    const e = h.tcpEvents.find((x) => x.type === 'mesh:tcp:close' && x.proxy === 'istio-ingressgateway' && x.upstreamCluster === 'outbound|9000|v2|tcp-echo.default.svc.cluster.local')!;
    expect(e).toMatchObject({ listener: 'gateway', reporter: 'source', responseFlags: '-' });
    expect(e.source).toMatchObject({ workload: 'istio-ingressgateway' });
    const text = await h.metrics.text();
    expect(text).toMatch(/istio_tcp_connections_opened_total\{reporter="source",source_workload="istio-ingressgateway",[^}]*destination_version="v2"[^}]*request_protocol="tcp"/);
  });

  it('a connection no tcp route takes is closed (NR); removing the Gateway closes its port', async () => {
    await h.rules(GATEWAY_AND_DR);
    const port = h.gatewayPort(31400);
    const r = await tcpExchange(port, 'hello\n', { maxMs: 3000 });
    expect(r.text).toBe('');
    const deadline = Date.now() + 3000;
    while (!h.tcpEvents.some((x) => x.type === 'mesh:tcp:close' && x.proxy === 'istio-ingressgateway' && x.responseFlags === 'NR') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
    expect(h.tcpEvents.some((x) => x.type === 'mesh:tcp:close' && x.proxy === 'istio-ingressgateway' && x.responseFlags === 'NR')).toBe(true);
    await h.rules('');
    expect(() => h.gatewayPort(31400)).toThrow();
    const gone = await tcpExchange(port, 'hello\n', { maxMs: 3000 });
    expect(gone.error).toBe('ECONNREFUSED');
  });

  it('a server port that is taken is served on a free one, and said so', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as net.AddressInfo).port;
    const notices: string[] = [];
    const off = h.bus.on('mesh:notice', (e) => notices.push(`${e.level} ${e.message}`));
    try {
      await h.rules(GATEWAY_AND_DR.replace('number: 31400', `number: ${taken}`) + vs(100, 0).replace('port: 31400', `port: ${taken}`));
      const port = h.gatewayPort(taken);
      expect(port).not.toBe(taken);
      expect((await tcpExchange(port, 'hi\n', { until: (t) => t.includes('\n') })).text).toBe('one hi\n');
      expect(notices).toContain(`warn ingress gateway: Gateway server TCP ${taken} served on 127.0.0.1:${port} (port ${taken} is taken; \`--gateway-port ${taken}=<port>\` picks one)`);
      // the mapped 31400 of this harness is said where it is, once
      await h.rules(GATEWAY_AND_DR + vs(100, 0));
      expect(notices.filter((n) => n.includes('Gateway server TCP 31400'))).toEqual([`info ingress gateway: Gateway server TCP 31400 served on 127.0.0.1:${h.gatewayPort(31400)}`]);
    } finally {
      off();
      await new Promise<void>((r) => blocker.close(() => r()));
      await h.rules('');
    }
  });

  it('a port-forward to a TCP port of the service goes through the TCP proxy with the mesh routes (as meshbox port-forward does)', async () => {
    const listener: ListenerConfig = { name: `${GATEWAY_ID}/port-forward/9`, proxyId: GATEWAY_ID, kind: 'outbound', address: '127.0.0.1', port: 0, routeConfig: PORT_FORWARD_ROUTE_CONFIG, boundHost: 'tcp-echo', servicePort: 9001, protocol: 'tcp' };
    const { bound } = await h.dataPlane.bind([listener]);
    await h.controlPlane.addListener({ ...listener, port: bound[0]!.port });
    try {
      const r = await tcpExchange(bound[0]!.port, 'pf\n', { until: (t) => t.includes('\n') });
      expect(r.text).toMatch(/^(one|two) pf\n$/);
      const found = (): boolean => h.tcpEvents.some((x) => x.type === 'mesh:tcp:close' && x.proxy === GATEWAY_ID && x.upstreamCluster === 'outbound|9001||tcp-echo.default.svc.cluster.local');
      const until = Date.now() + 3000;
      while (!found() && Date.now() < until) await new Promise((res) => setTimeout(res, 10));
      expect(found()).toBe(true);
    } finally {
      await h.controlPlane.removeListener(listener.name);
    }
  });

  it('a Gateway HTTP server on a port other than 80 is served as HTTP', async () => {
    await h.rules(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web-gateway}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8081, name: http-alt, protocol: HTTP}
    hosts: ["web.example.com"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: ["web.example.com"]
  gateways: [web-gateway]
  http:
  - route: [{destination: {host: web}}]
`);
    const port = h.gatewayPort(8081);
    const status = (host: string): Promise<number> =>
      new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/hi', headers: { host }, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject);
      });
    expect(await status('web.example.com')).toBe(200);
    expect(await status('other.example.com')).toBe(404);
    // port 80's listener (the ingress address) does not serve the 8081 server's hosts
    expect((await h.request({ host: 'web.example.com', path: '/' })).status).toBe(404);
    await h.rules('');
  });
});
