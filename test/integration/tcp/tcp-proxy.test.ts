/**
 * TCP through the mesh on real sockets: the caller's sidecar listener bound to tcp-echo:9000 ->
 * its TCP proxy -> mTLS -> tcp-echo's inbound sidecar -> the app; Istio's TCP metrics from both
 * reporters; tcp[] routes with weights; maxConnections; a dead upstream; a half-close.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';
import { closedPort, holdConnection, startTcpEcho, tcpExchange } from '../../helpers/tcp-app.js';

let h: Harness;
let caDir: string;
const PREFIX: Record<string, string> = { v1: 'one', v2: 'two' };

beforeAll(async () => {
  caDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-tcp-'));
  h = await startHarness(
    [
      { name: 'caller', versions: { v1: 1 } },
      {
        name: 'tcp-echo',
        versions: { v1: 1, v2: 1 },
        ports: [
          { name: 'tcp', port: 9000 },
          { name: 'tcp-other', port: 9001 },
        ],
        serve: (instance) => startTcpEcho(PREFIX[instance.split('-')[2]!]!),
      },
      { name: 'dead', versions: { v1: 1 }, ports: [{ name: 'tcp-db', port: 5432 }], serve: () => closedPort() },
    ],
    7,
    { mtls: { caDir } },
  );
});
afterAll(async () => {
  await h?.close();
  rmSync(caDir, { recursive: true, force: true });
});

const caller = (): ReturnType<Harness['instance']> => h.instance('caller-v1-1');
const echoPort = (): number => caller().sidecar.services['tcp-echo']!;

async function closeEvents(n: number, filter: (e: Harness['tcpEvents'][number]) => boolean): Promise<Harness['tcpEvents']> {
  for (let i = 0; i < 300; i++) {
    const found = h.tcpEvents.filter((e) => e.type === 'mesh:tcp:close' && filter(e));
    if (found.length >= n) return found;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`expected ${n} TCP close events, got ${h.tcpEvents.filter((e) => e.type === 'mesh:tcp:close' && filter(e)).length}`);
}

describe('TCP proxy', () => {
  it('tcp-echo through the caller sidecar, mTLS between sidecars, both reporters and Istio TCP metrics', async () => {
    const before = h.tcpEvents.length;
    const r = await tcpExchange(echoPort(), 'hello\n', { end: true });
    expect(r.text).toMatch(/^(one|two) hello\n(one|two) bye\n$/);
    const events = await closeEvents(2, (e) => h.tcpEvents.indexOf(e) >= before);
    const src = events.find((e) => e.reporter === 'source')!;
    const dst = events.find((e) => e.reporter === 'destination')!;
    expect(src).toMatchObject({ proxy: 'caller-v1-1', listener: 'outbound', responseFlags: '-', bytesReceived: 6, connectionSecurity: 'mutual_tls' });
    expect(src.upstreamCluster).toBe('outbound|9000||tcp-echo.default.svc.cluster.local');
    expect(src.destination).toMatchObject({ service: 'tcp-echo.default.svc.cluster.local', serviceName: 'tcp-echo', app: 'tcp-echo' });
    expect(src.bytesSent).toBe(r.text.length);
    // the destination learned who called from the metadata exchange preamble, and its principal from mTLS
    expect(dst).toMatchObject({ listener: 'inbound', connectionSecurity: 'mutual_tls', bytesReceived: 6 });
    expect(dst.source).toMatchObject({ workload: 'caller-v1', app: 'caller', principal: 'spiffe://cluster.local/ns/default/sa/caller' });
    expect(dst.destination.principal).toBe('spiffe://cluster.local/ns/default/sa/tcp-echo');
    expect(dst.upstreamCluster).toBe('inbound|9000||');
    const text = await h.metrics.text();
    for (const name of ['istio_tcp_connections_opened_total', 'istio_tcp_connections_closed_total', 'istio_tcp_sent_bytes_total', 'istio_tcp_received_bytes_total']) {
      expect(text).toMatch(new RegExp(`${name}\\{reporter="source",source_workload="caller-v1",[^}]*destination_service="tcp-echo.default.svc.cluster.local"[^}]*request_protocol="tcp",response_flags="-",connection_security_policy="unknown"`));
      expect(text).toMatch(new RegExp(`${name}\\{reporter="destination",source_workload="caller-v1",[^}]*source_principal="spiffe://cluster.local/ns/default/sa/caller"[^}]*request_protocol="tcp",response_flags="-",connection_security_policy="mutual_tls"`));
    }
    expect(text).not.toMatch(/istio_tcp_[a-z_]+\{[^}]*response_code=/);
  });

  it('a second port of the service has its own listener (<SERVICE>_<PORT>_ADDR) and cluster', async () => {
    const port = caller().sidecar.servicePorts?.['tcp-echo:9001'];
    expect(port).toBeGreaterThan(0);
    const r = await tcpExchange(port!, 'other\n', { until: (t) => t.includes('\n') });
    expect(r.text).toMatch(/^(one|two) other\n$/);
    const [e] = await closeEvents(1, (x) => x.reporter === 'source' && x.upstreamCluster === 'outbound|9001||tcp-echo.default.svc.cluster.local');
    expect(e!.responseFlags).toBe('-');
  });

  it('the half-close passes: the client sends and FINs, the server still answers, then FINs back', async () => {
    const r = await tcpExchange(echoPort(), 'last words\n', { end: true });
    expect(r.text).toMatch(/^(one|two) last words\n(one|two) bye\n$/);
    expect(r.ended).toBe(true);
    expect(r.error).toBeUndefined();
  });

  it('a weighted tcp route splits connections 80/20 (seeded; counted per version)', async () => {
    await h.rules(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: tcp-echo}
spec:
  host: tcp-echo
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tcp-echo}
spec:
  hosts: [tcp-echo]
  tcp:
  - match: [{port: 9000}]
    route:
    - {destination: {host: tcp-echo, subset: v1}, weight: 80}
    - {destination: {host: tcp-echo, subset: v2}, weight: 20}
`);
    const counts: Record<string, number> = { one: 0, two: 0 };
    const N = 200;
    for (let i = 0; i < N; i++) {
      const r = await tcpExchange(echoPort(), `n${i}\n`, { until: (t) => t.includes('\n') });
      const who = r.text.split(' ')[0]!;
      counts[who] = (counts[who] ?? 0) + 1;
    }
    expect(counts['one']! + counts['two']!).toBe(N);
    expect(counts['one']! / N).toBeGreaterThan(0.7);
    expect(counts['one']! / N).toBeLessThan(0.9);
    const [e] = await closeEvents(1, (x) => x.reporter === 'source' && x.upstreamCluster === 'outbound|9000|v2|tcp-echo.default.svc.cluster.local');
    expect(e!.routeName).toBe('VirtualService default/tcp-echo tcp[0]');
    expect(e!.why.join('\n')).toContain('weighted pick: tcp-echo subset v2 (weight 20 of 100)');
    // the match on port 9000 does not apply to the 9001 listener: its connections take the service's default route
    const r = await tcpExchange(caller().sidecar.servicePorts!['tcp-echo:9001']!, 'x\n', { until: (t) => t.includes('\n') });
    expect(r.text).toMatch(/^(one|two) x\n$/);
    await h.rules('');
  });

  it('maxConnections: a connection over the limit is closed at once (UO, upstream_cx_overflow)', async () => {
    await h.rules(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: tcp-echo}
spec:
  host: tcp-echo
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 1}}
`);
    const held = await holdConnection(echoPort());
    held.socket.write('hold\n');
    await new Promise<void>((r) => held.socket.once('data', () => r()));
    const over = await tcpExchange(echoPort(), 'over\n', { maxMs: 3000 });
    expect(over.text).toBe('');
    const [e] = await closeEvents(1, (x) => x.reporter === 'source' && x.responseFlags === 'UO');
    expect(e!.why.join('\n')).toContain('maxConnections');
    const clusters = (await h.dataPlane.clusters()) as { clusters: Array<{ proxy: string; name: string; circuit_breakers: Record<string, unknown> }> };
    const c = clusters.clusters.find((x) => x.proxy === 'caller-v1-1' && x.name === 'outbound|9000||tcp-echo.default.svc.cluster.local')!;
    expect(c.circuit_breakers['upstream_cx_overflow']).toBeGreaterThanOrEqual(1);
    held.close();
    await held.closed;
    // the slot is free again once the held connection closed
    let ok = '';
    for (let i = 0; i < 50 && !ok; i++) {
      ok = (await tcpExchange(echoPort(), 'again\n', { until: (t) => t.includes('\n') })).text;
      if (!ok) await new Promise((r) => setTimeout(r, 20));
    }
    expect(ok).toMatch(/again/);
    const text = await h.metrics.text();
    expect(text).toMatch(/istio_tcp_connections_closed_total\{reporter="source",[^}]*response_flags="UO"/);
    await h.rules('');
  });

  it('a dead app: its sidecar cannot connect (UF, reported by the destination) and closes the connection', async () => {
    const port = caller().sidecar.services['dead']!;
    const r = await tcpExchange(port, 'hi\n', { maxMs: 3000 });
    expect(r.text).toBe('');
    const [e] = await closeEvents(1, (x) => x.reporter === 'destination' && x.proxy === 'dead-v1-1');
    expect(e!.responseFlags).toBe('UF');
    expect(e!.why.join('\n')).toContain('ECONNREFUSED');
    expect(e!.upstreamCluster).toBe('inbound|5432||');
  });

  it('an unreachable endpoint: the caller cannot connect (UF); outlier detection counts connect failures and ejects', async () => {
    await h.rules(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dead}
spec:
  host: dead
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}
`);
    // the endpoint's sidecar goes away: its inbound listener is moved to a port something else
    // holds (so it cannot bind), then that goes too: nothing listens where the endpoint is
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const gone = (blocker.address() as net.AddressInfo).port;
    const dead = h.instance('dead-v1-1');
    h.registry.update('dead-v1-1', { sidecar: { ...dead.sidecar, inbound: gone } });
    await h.controlPlane.publish();
    await new Promise<void>((r) => blocker.close(() => r()));
    const port = caller().sidecar.services['dead']!;
    const ejected = new Promise<string>((resolve) => h.bus.on('mesh:outlier:ejected', (e) => resolve(`${e.cluster} ${e.endpoint} ${e.reason ?? ''}`)));
    for (let i = 0; i < 2; i++) {
      const r = await tcpExchange(port, 'hi\n', { maxMs: 3000 });
      expect(r.text).toBe('');
    }
    const failures = await closeEvents(2, (x) => x.reporter === 'source' && x.responseFlags === 'UF');
    expect(failures[0]!.why.join('\n')).toContain('ECONNREFUSED');
    expect(failures[0]!.upstreamCluster).toBe('outbound|5432||dead.default.svc.cluster.local');
    expect(await ejected).toBe('outbound|5432||dead.default.svc.cluster.local dead-v1-1 2 consecutive 5xx');
    // ejected: the next connection finds no healthy upstream
    await tcpExchange(port, 'hi\n', { maxMs: 3000 });
    await closeEvents(1, (x) => x.reporter === 'source' && x.responseFlags === 'UH');
    await h.rules('');
  });

  it('Toxiproxy toxics apply to TCP connections, on every port of the endpoints; connectTimeout bounds the connect (UF)', async () => {
    // the toxics act on the wire between the sidecars (mTLS here), as Toxiproxy in front of the
    // service would: `timeout` with 0 holds every byte, so the mTLS handshake never completes
    await h.rules(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: tcp-echo}
spec:
  host: tcp-echo
  trafficPolicy:
    connectionPool: {tcp: {connectTimeout: 200ms}}
`);
    await h.faults([{ name: 'hold', target: { service: 'tcp-echo' }, toxics: [{ type: 'timeout', stream: 'downstream', attributes: { timeout: 0 } }] }]);
    try {
      const proxies = ((await h.dataPlane.clusters()) as { toxicProxies: Record<string, unknown> }).toxicProxies;
      expect(Object.keys(proxies).sort()).toEqual(
        ['tcp-echo-v1-1', 'tcp-echo-v2-1'].flatMap((id) => [`${id}|${h.instance(id).sidecar.inbound}`, `${id}|${h.instance(id).sidecar.inboundPorts!['9001']}`]).sort(),
      );
      const before = h.tcpEvents.length;
      for (const port of [echoPort(), caller().sidecar.servicePorts!['tcp-echo:9001']!]) {
        const cut = await tcpExchange(port, 'hello\n', { maxMs: 3000 });
        expect(cut.text).toBe('');
      }
      const cuts = await closeEvents(2, (x) => h.tcpEvents.indexOf(x) >= before && x.reporter === 'source');
      expect(cuts.map((x) => x.responseFlags)).toEqual(['UF', 'UF']);
      expect(cuts[0]!.why.join('\n')).toContain('connect timeout after 200 ms (connectTimeout)');
    } finally {
      await h.faults([]);
      await h.rules('');
    }
    const whole = await tcpExchange(echoPort(), 'hello world\n', { until: (t) => t.includes('\n') });
    expect(whole.text).toMatch(/^(one|two) hello world\n$/);
  });

  it('AuthorizationPolicy on TCP: checked per connection; HTTP-only fields never allow, a DENY without them denies more', async () => {
    const policy = (name: string, action: string, rules: string): string => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}}
spec:
  selector: {matchLabels: {app: tcp-echo}}
  action: ${action}
  rules: ${rules}
`;
    const last = async (): Promise<Harness['tcpEvents'][number]> => (await closeEvents(1, (x) => x.reporter === 'destination' && h.tcpEvents.indexOf(x) >= mark && x.connectionTerminationDetails !== undefined)).at(-1)!;
    let mark = h.tcpEvents.length;
    // ALLOW the caller's principal: its connections pass
    await h.rules(policy('allow-caller', 'ALLOW', `[{from: [{source: {principals: ["cluster.local/ns/default/sa/caller"]}}]}]`));
    expect((await tcpExchange(echoPort(), 'hi\n', { until: (t) => t.includes('\n') })).text).toMatch(/hi/);
    // an ALLOW whose only rule is about HTTP methods matches no TCP connection: denied
    await h.rules(policy('allow-get', 'ALLOW', '[{to: [{operation: {methods: ["GET"]}}]}]'));
    mark = h.tcpEvents.length;
    expect((await tcpExchange(echoPort(), 'hi\n', { maxMs: 3000 })).text).toBe('');
    expect((await last()).connectionTerminationDetails).toBe('rbac_access_denied_matched_policy[none]');
    // a DENY on port 9001 with an HTTP path: the path is dropped for TCP, so it denies every connection to 9001
    await h.rules(policy('deny-other', 'DENY', '[{to: [{operation: {ports: ["9001"], paths: ["/admin"]}}]}]'));
    mark = h.tcpEvents.length;
    expect((await tcpExchange(caller().sidecar.servicePorts!['tcp-echo:9001']!, 'hi\n', { maxMs: 3000 })).text).toBe('');
    const denied = await last();
    expect(denied.connectionTerminationDetails).toBe('rbac_access_denied_matched_policy[ns[default]-policy[deny-other]-rule[0]]');
    const { formatTcpAccessLog } = await import('../../../sandbox/telemetry/access-log.js');
    expect(formatTcpAccessLog(denied)).toContain('"- - -" 0 - - rbac_access_denied_matched_policy[ns[default]-policy[deny-other]-rule[0]] "-"');
    expect((await tcpExchange(echoPort(), 'hi\n', { until: (t) => t.includes('\n') })).text).toMatch(/hi/);
    await h.rules('');
  });

  it('the TCP access log line has Istio\'s shape', async () => {
    const { formatTcpAccessLog } = await import('../../../sandbox/telemetry/access-log.js');
    const e = h.tcpEvents.find((x) => x.type === 'mesh:tcp:close' && x.reporter === 'source' && x.responseFlags === '-')!;
    expect(formatTcpAccessLog(e)).toMatch(
      /^\[[^\]]+\] "- - -" 0 - - - "-" \d+ \d+ \d+ - "-" "-" "-" "-" "127\.0\.0\.1:\d+" outbound\|900[01]\|[^ ]*\|tcp-echo\.default\.svc\.cluster\.local 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ - -$/,
    );
  });
});
