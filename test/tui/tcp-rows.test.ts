/**
 * TCP connections in the terminal UI: a `mesh:tcp:close` event is a row of the traffic tap
 * (method TCP, bytes each way, no status, its flags), and counts on the service's edge.
 */
import { describe, expect, it } from 'vitest';
import { ViewStore } from '../../cli/tui/view-store.js';
import { trafficLines } from '../../cli/tui/TrafficView.js';
import type { TcpConnectionEvent } from '../../sandbox/events.js';
import { FakeController, upEvents } from './helpers.js';

function tcpClose(flags = '-'): TcpConnectionEvent {
  const peer = { workload: 'caller-service-v1', namespace: 'default', app: 'caller-service', version: 'v1', principal: 'unknown', canonicalService: 'caller-service', canonicalRevision: 'v1' };
  return {
    type: 'mesh:tcp:close',
    connectionId: 'caller-service-v1-1/outbound/db#1',
    reporter: 'source',
    proxy: 'caller-service-v1-1',
    listener: 'outbound',
    startTime: Date.now(),
    durationMs: 12,
    bytesReceived: 6,
    bytesSent: 11,
    responseFlags: flags,
    upstreamCluster: 'outbound|5432||db.default.svc.cluster.local',
    ...(flags === '-' ? { upstreamHost: '127.0.0.1:41000', endpoint: 'db-v1-1' } : {}),
    downstreamLocalAddress: '127.0.0.1:40000',
    downstreamRemoteAddress: '127.0.0.1:50000',
    source: peer,
    destination: { ...peer, workload: 'db-v1', app: 'db', canonicalService: 'db', service: 'db.default.svc.cluster.local', serviceName: 'db', serviceNamespace: 'default' },
    why: ['default route of db: matched (no match conditions)'],
    snapshotVersion: 1,
  };
}

describe('TCP connections in the traffic tap', () => {
  it('a closed connection is a row: TCP, bytes each way, `-` for the code, its flags', () => {
    const c = new FakeController();
    const store = new ViewStore(c, { now: () => Date.now() });
    c.emit(...upEvents());
    c.emit(tcpClose(), tcpClose('UF'));
    store.touch();
    store.publish();
    const events = store.getSnapshot().traffic.events;
    expect(events.map((e) => [e.method, e.path, e.responseFlags])).toEqual([
      ['TCP', '6B out, 11B back', '-'],
      ['TCP', '6B out, 11B back', 'UF'],
    ]);
    const text = trafficLines({ events, total: 2, hopRps: 1, ingressRps: 0, paused: false, filter: '', selected: undefined, upstream: () => [], width: 170, height: 10 }).map((l) => l.map((s) => s.text).join(''));
    expect(text[2]).toMatch(/caller-service-v1-1 -> db-v1-1\s+TCP\s+6B out, 11B back\s+-\s/);
    expect(text[3]).toMatch(/caller-service-v1-1 -> db\s+TCP\s+6B out, 11B back\s+-\s+\S+\s+UF/);
    store.stop();
  });
});
