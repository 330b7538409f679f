/**
 * `pod` and `namespace` on meshbox's Istio metrics: the labels Istio's Prometheus scrape job adds
 * per scraped sidecar, which meshbox attaches itself since one admin endpoint serves every proxy.
 */
import { describe, expect, it } from 'vitest';
import type { DestinationInfo, PeerInfo, RequestEvent } from '../../../sandbox/events.js';
import { IstioMetrics, proxyInstances } from '../../../sandbox/telemetry/metrics.js';
import type { MeshDefinition } from '../../../sandbox/config/mesh-types.js';
import type { Instance } from '../../../sandbox/control/registry.js';

const peer = (workload: string, namespace: string, app: string, version: string): PeerInfo => ({
  workload,
  namespace,
  app,
  version,
  principal: 'unknown',
  canonicalService: app,
  canonicalRevision: version,
});

const caller = peer('caller-service-v1', 'default', 'caller-service', 'v1');
const callmeV2: DestinationInfo = {
  ...peer('callme-service-v2', 'shop', 'callme-service', 'v2'),
  service: 'callme-service.shop.svc.cluster.local',
  serviceName: 'callme-service',
  serviceNamespace: 'shop',
};

function event(reporter: 'source' | 'destination', proxy: string): RequestEvent {
  return {
    type: 'mesh:request:end',
    reporter,
    proxy,
    listener: reporter === 'source' ? 'outbound' : 'inbound',
    startTime: 0,
    durationMs: 3,
    method: 'GET',
    path: '/callme/ping',
    authority: 'callme-service:8080',
    protocol: 'HTTP/1.1',
    requestId: 'r',
    userAgent: 'test',
    forwardedFor: '',
    status: 200,
    responseFlags: '-',
    responseCodeDetails: 'via_upstream',
    bytesReceived: 0,
    bytesSent: 23,
    downstreamLocalAddress: '127.0.0.1:15001',
    downstreamRemoteAddress: '127.0.0.1:40000',
    attempts: 1,
    source: caller,
    destination: callmeV2,
    why: [],
    requestHeaders: {},
    snapshotVersion: 1,
  };
}

function series(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`));
}

describe('Istio metrics carry pod and namespace of the reporting proxy', () => {
  it('two replicas of one workload are two series, each with its pod; namespace is the reporter’s', async () => {
    const m = new IstioMetrics();
    m.observe(event('destination', 'callme-service-v2-1'));
    m.observe(event('destination', 'callme-service-v2-2'));
    m.observe(event('destination', 'callme-service-v2-2'));
    m.observe(event('source', 'caller-service-v1-1'));
    const lines = series(await m.text(), 'istio_requests_total');
    expect(lines).toHaveLength(3);
    expect(lines.find((l) => l.includes('pod="callme-service-v2-1"'))).toMatch(/reporter="destination",.*namespace="shop",pod="callme-service-v2-1"\} 1$/);
    expect(lines.find((l) => l.includes('pod="callme-service-v2-2"'))).toMatch(/reporter="destination",.*namespace="shop",pod="callme-service-v2-2"\} 2$/);
    expect(lines.find((l) => l.includes('pod="caller-service-v1-1"'))).toMatch(/reporter="source",.*namespace="default",pod="caller-service-v1-1"\} 1$/);
    // histograms too, with their le buckets
    expect(series(await m.text(), 'istio_request_duration_milliseconds_bucket').filter((l) => l.includes('pod="callme-service-v2-2"') && l.includes('le="5"'))[0]).toMatch(/ 2$/);
  });

  it('istio_build has one series per running proxy once the proxies are known', async () => {
    const mesh = { namespace: 'default', ingress: { host: '127.0.0.1', port: 8080, labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' } } } as unknown as MeshDefinition;
    const instances = [{ id: 'caller-service-v1-1' }, { id: 'callme-service-v2-1' }] as Instance[];
    let current = instances;
    const m = new IstioMetrics(undefined, '1.2.3', () => proxyInstances(mesh, current));
    const build = (t: string): string[] => series(t, 'istio_build');
    expect(build(await m.text())).toEqual([
      'istio_build{component="proxy",tag="meshbox-1.2.3",namespace="istio-system",pod="istio-ingressgateway"} 1',
      'istio_build{component="proxy",tag="meshbox-1.2.3",namespace="default",pod="caller-service-v1-1"} 1',
      'istio_build{component="proxy",tag="meshbox-1.2.3",namespace="default",pod="callme-service-v2-1"} 1',
    ]);
    current = instances.slice(0, 1);
    expect(build(await m.text())).toHaveLength(2);
  });
});
