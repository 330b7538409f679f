/**
 * The codec choices: downstream by the connection preface (Envoy's codec AUTO), upstream by the
 * port's protocol and the DestinationRule (Istio's cluster protocol options).
 */
import { describe, expect, it } from 'vitest';
import { classifyClientPreface, classifyPreface, goawayFrame, HTTP2_PREFACE } from '../../../sandbox/proxy/codec-sniffer.js';
import { upstreamCodec } from '../../../sandbox/proxy/upstream/attempt-factory.js';
import type { ClusterConfig } from '../../../sandbox/control/snapshot.js';

const SETTINGS = Buffer.from([0, 0, 6, 0x4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100]);

describe('the HTTP/2 connection preface', () => {
  it('needs the whole magic; any other first byte is HTTP/1.1', () => {
    expect(classifyPreface(Buffer.from('GET / HTTP/1.1\r\n'))).toBe('http1');
    expect(classifyPreface(Buffer.from('PRI * HTTP/2.0'))).toBe('more');
    expect(classifyPreface(Buffer.from('PRI * HTTP/1.1\r\n'))).toBe('http1');
    expect(classifyPreface(HTTP2_PREFACE)).toBe('http2');
  });
  it('then a SETTINGS frame; anything else is a bad preface', () => {
    expect(classifyClientPreface(HTTP2_PREFACE)).toBe('more');
    expect(classifyClientPreface(Buffer.concat([HTTP2_PREFACE, SETTINGS]))).toBe('http2');
    expect(classifyClientPreface(Buffer.concat([HTTP2_PREFACE, Buffer.from([0, 0, 0, 0x1, 0, 0, 0, 0, 1])]))).toBe('bad-preface');
    expect(classifyClientPreface(Buffer.concat([HTTP2_PREFACE, Buffer.from([0, 0, 5, 0x4, 0, 0, 0, 0, 0])]))).toBe('bad-preface');
    expect(classifyClientPreface(Buffer.concat([HTTP2_PREFACE, Buffer.from([0, 0, 0, 0x4, 0x1, 0, 0, 0, 0])]))).toBe('bad-preface');
    expect(classifyClientPreface(Buffer.from('POST /x HTTP/1.1\r\n'))).toBe('http1');
  });
  it('GOAWAY is RFC 9113 framed', () => {
    const f = goawayFrame(1);
    expect(f.readUIntBE(0, 3)).toBe(8);
    expect(f[3]).toBe(7);
    expect(f.readUInt32BE(13)).toBe(1);
  });
});

function cluster(p: Partial<ClusterConfig>): ClusterConfig {
  return { key: 'k', name: 'outbound|8080||a.default.svc.cluster.local', kind: 'outbound', endpoints: [], lb: 'ROUND_ROBIN', connectTimeoutMs: 1000, ...p };
}

describe('upstream codec (Istio cluster protocol)', () => {
  it('http2, grpc and grpc-web ports are HTTP/2; http stays HTTP/1.1 even for an HTTP/2 client', () => {
    for (const protocol of ['http2', 'grpc', 'grpc-web'] as const) expect(upstreamCodec(cluster({ protocol }), 'HTTP/1.1').codec).toBe('http2');
    expect(upstreamCodec(cluster({}), 'HTTP/2').codec).toBe('http1');
    expect(upstreamCodec(cluster({ protocol: 'http' }), 'HTTP/2').codec).toBe('http1');
  });
  it('h2UpgradePolicy UPGRADE upgrades an http port; DO_NOT_UPGRADE does not', () => {
    const tp = (h2UpgradePolicy: 'UPGRADE' | 'DO_NOT_UPGRADE') => ({ connectionPool: { http: { h2UpgradePolicy } } });
    expect(upstreamCodec(cluster({ trafficPolicy: tp('UPGRADE') }), 'HTTP/1.1').codec).toBe('http2');
    expect(upstreamCodec(cluster({ trafficPolicy: tp('DO_NOT_UPGRADE') }), 'HTTP/1.1').codec).toBe('http1');
  });
  it("useClientProtocol follows the client's protocol, whatever the port", () => {
    const tp = { connectionPool: { http: { useClientProtocol: true } } };
    expect(upstreamCodec(cluster({ trafficPolicy: tp }), 'HTTP/2').codec).toBe('http2');
    expect(upstreamCodec(cluster({ trafficPolicy: tp, protocol: 'grpc' }), 'HTTP/1.1').codec).toBe('http1');
  });
  it("an inbound cluster speaks the port's protocol to the app and is never upgraded", () => {
    const tp = { connectionPool: { http: { h2UpgradePolicy: 'UPGRADE' as const } } };
    expect(upstreamCodec(cluster({ kind: 'inbound', trafficPolicy: tp }), 'HTTP/2').codec).toBe('http1');
    expect(upstreamCodec(cluster({ kind: 'inbound', protocol: 'grpc' }), 'HTTP/1.1').codec).toBe('http2');
  });
  it("PassthroughCluster uses the client's protocol", () => {
    expect(upstreamCodec(cluster({ kind: 'passthrough' }), 'HTTP/2').codec).toBe('http2');
    expect(upstreamCodec(cluster({ kind: 'passthrough' }), 'HTTP/1.1').codec).toBe('http1');
  });
});
