/**
 * gRPC in Istio's metrics and in the access log: `request_protocol="grpc"`,
 * `grpc_response_status`, the message counters, and `HTTP/2` as %PROTOCOL%.
 */
import { describe, expect, it } from 'vitest';
import type { RequestEvent } from '../../../sandbox/events.js';
import { IstioMetrics } from '../../../sandbox/telemetry/metrics.js';
import { formatAccessLog } from '../../../sandbox/telemetry/access-log.js';
import { UNKNOWN_DESTINATION, UNKNOWN_PEER } from '../../../sandbox/proxy/request-context.js';

function event(over: Partial<RequestEvent>): RequestEvent {
  return {
    type: 'mesh:request:end',
    reporter: 'source',
    proxy: 'caller-v1-1',
    listener: 'outbound',
    startTime: Date.parse('2026-01-02T03:04:05.006Z'),
    durationMs: 3,
    method: 'POST',
    path: '/greeter.Greeter/SayHello',
    authority: 'greeter:8080',
    protocol: 'HTTP/2',
    requestId: 'r-1',
    userAgent: 'grpc-node-js/1.14.7',
    forwardedFor: '-',
    status: 200,
    responseFlags: '-',
    responseCodeDetails: 'via_upstream',
    bytesReceived: 10,
    bytesSent: 20,
    downstreamLocalAddress: '127.0.0.1:15001',
    downstreamRemoteAddress: '127.0.0.1:40000',
    attempts: 1,
    source: { ...UNKNOWN_PEER, workload: 'caller-v1', app: 'caller', version: 'v1', namespace: 'default' },
    destination: { ...UNKNOWN_DESTINATION, workload: 'greeter-v1', app: 'greeter', version: 'v1', namespace: 'default', service: 'greeter.default.svc.cluster.local', serviceName: 'greeter' },
    why: [],
    requestHeaders: {},
    snapshotVersion: 1,
    ...over,
  };
}

const series = (text: string, name: string): string[] => text.split('\n').filter((l) => l.startsWith(`${name}{`));

describe('gRPC metrics', () => {
  it('labels gRPC requests request_protocol="grpc" with their grpc-status; other requests keep http and an empty status', async () => {
    const m = new IstioMetrics();
    m.observe(event({ grpc: { status: 0, requestMessages: 1, responseMessages: 1 } }));
    m.observe(event({ grpc: { status: 14, message: 'upstream request timeout', requestMessages: 1, responseMessages: 0 }, responseFlags: 'UT' }));
    m.observe(event({ protocol: 'HTTP/1.1', path: '/x' }));
    const text = await m.text();
    const reqs = series(text, 'istio_requests_total');
    expect(reqs.some((l) => /request_protocol="grpc",response_flags="-",.*response_code="200",grpc_response_status="0"/.test(l))).toBe(true);
    expect(reqs.some((l) => /request_protocol="grpc",response_flags="UT",.*grpc_response_status="14"/.test(l))).toBe(true);
    expect(reqs.some((l) => /request_protocol="http",.*grpc_response_status=""/.test(l))).toBe(true);
  });

  it('counts messages each way; a series appears once it counts something', async () => {
    const m = new IstioMetrics();
    m.observe(event({ grpc: { status: 0, requestMessages: 1, responseMessages: 5 } }));
    m.observe(event({ grpc: { status: 0, requestMessages: 2, responseMessages: 5 } }));
    m.observe(event({ grpc: { status: 14, requestMessages: 1, responseMessages: 0 } }));
    const text = await m.text();
    const reqMsgs = series(text, 'istio_request_messages_total');
    const respMsgs = series(text, 'istio_response_messages_total');
    expect(reqMsgs.find((l) => l.includes('grpc_response_status="0"'))).toMatch(/ 3$/);
    expect(reqMsgs.find((l) => l.includes('grpc_response_status="14"'))).toMatch(/ 1$/);
    expect(respMsgs).toHaveLength(1);
    expect(respMsgs[0]).toMatch(/grpc_response_status="0".* 10$/);
  });
});

describe('access log', () => {
  it("prints HTTP/2 as Envoy's %PROTOCOL% and keeps Istio's TEXT format", () => {
    const line = formatAccessLog(event({ grpc: { status: 0, requestMessages: 1, responseMessages: 1 } }));
    expect(line).toMatch(/^\[2026-01-02T03:04:05\.006Z\] "POST \/greeter\.Greeter\/SayHello HTTP\/2" 200 - via_upstream - "-" 10 20 3 - "-" "grpc-node-js\/1\.14\.7" "r-1" "greeter:8080" /);
  });
});
