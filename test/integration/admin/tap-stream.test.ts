/**
 * The admin API's /tap stream on a real socket: a client that reads gets every matching event,
 * in order; a client that stops reading is dropped with a `tap:dropped` line once its unread
 * buffer passes the bound, and the bus stops writing to it (traffic is never slowed).
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminServer } from '../../../sandbox/admin/admin-server.js';
import { installObserveRoutes } from '../../../sandbox/admin/observe-routes.js';
import { Registry } from '../../../sandbox/control/registry.js';
import { EventBus, type RequestEvent } from '../../../sandbox/events.js';
import type { FaultStore } from '../../../sandbox/faults/fault-store.js';
import type { MeshDefinition } from '../../../sandbox/config/mesh-types.js';

const peer = { workload: 'caller-service-v1', namespace: 'default', app: 'caller-service', version: 'v1', principal: '', canonicalService: 'caller-service', canonicalRevision: 'v1' };

function event(n: number, path = '/callme/ping'): RequestEvent {
  return {
    type: 'mesh:request:end',
    reporter: 'destination',
    proxy: 'callme-service-v2-1',
    listener: 'inbound',
    startTime: Date.now(),
    durationMs: 1.5,
    method: 'GET',
    path,
    authority: 'callme-service:8080',
    protocol: 'HTTP/1.1',
    requestId: `req-${n}`,
    userAgent: 'test',
    forwardedFor: '',
    status: 200,
    responseFlags: '-',
    responseCodeDetails: 'via_upstream',
    bytesReceived: 0,
    bytesSent: 21,
    downstreamLocalAddress: '127.0.0.1:1',
    downstreamRemoteAddress: '127.0.0.1:2',
    attempts: 1,
    source: peer,
    destination: { ...peer, workload: 'callme-service-v2', app: 'callme-service', version: 'v2', canonicalService: 'callme-service', service: 'callme-service.default.svc.cluster.local', serviceName: 'callme-service', serviceNamespace: 'default' },
    why: ['x'.repeat(800)],
    requestHeaders: {},
    snapshotVersion: 1,
  };
}

const mesh = { file: '', name: 't', namespace: 'default', ingress: { host: '127.0.0.1', port: 0, labels: {} }, services: [] } as unknown as MeshDefinition;

describe('admin /tap stream', () => {
  let admin: AdminServer;
  afterEach(async () => admin?.close());

  async function start(tapBufferBytes: number): Promise<{ bus: EventBus; url: string }> {
    const bus = new EventBus();
    admin = new AdminServer();
    installObserveRoutes(admin, {
      bus,
      registry: new Registry(),
      faults: { list: () => [] } as unknown as FaultStore,
      mesh: () => mesh,
      controlPlane: () => {
        throw new Error('not used');
      },
      dataPlane: () => {
        throw new Error('not used');
      },
      tapBufferBytes,
    });
    const url = await admin.listen('127.0.0.1', 0, { token: 'test-token', tokenFile: '/nonexistent/test.token' });
    return { bus, url };
  }

  function open(url: string): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      http.get(url, { agent: false }, resolve).on('error', reject);
    });
  }

  it('a reading client gets every matching event, filtered by path prefix, in order', async () => {
    const { bus, url } = await start(64 * 1024);
    const res = await open(`${url}/tap?path=/callme`);
    const lines: Array<Record<string, unknown>> = [];
    let rest = '';
    res.on('data', (c: Buffer) => {
      rest += c.toString();
      const parts = rest.split('\n');
      rest = parts.pop()!;
      for (const p of parts) lines.push(JSON.parse(p) as Record<string, unknown>);
    });
    for (let i = 0; i < 300; i++) {
      bus.emit(event(i, i % 3 === 0 ? '/caller/ping' : '/callme/ping'));
      if (i % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    const deadline = Date.now() + 10_000;
    while (lines.length < 201 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    res.destroy();
    expect(lines[0]!['type']).toBe('tap:start');
    const events = lines.slice(1);
    expect(events).toHaveLength(200);
    expect(events.every((e) => e['type'] === 'mesh:request:end' && e['path'] === '/callme/ping')).toBe(true);
    expect(events.map((e) => e['requestId'])).toEqual(Array.from({ length: 300 }, (_, i) => i).filter((i) => i % 3 !== 0).map((i) => `req-${i}`));
  });

  it('a client that stops reading is dropped with a message once its buffer is full', async () => {
    const { bus, url } = await start(64 * 1024);
    const res = await open(`${url}/tap`);
    res.pause();
    res.socket.pause();
    const emitted = 20_000;
    for (let i = 0; i < emitted; i++) {
      bus.emit(event(i));
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    }
    // now read what was buffered: the stream ends with the drop message
    let text = '';
    res.on('data', (c: Buffer) => (text += c.toString()));
    res.socket.resume();
    res.resume();
    await new Promise<void>((resolve) => res.on('end', () => resolve()));
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const last = lines[lines.length - 1]!;
    expect(last['type']).toBe('tap:dropped');
    expect(String(last['message'])).toMatch(/tap client too slow: more than 65536 bytes unread, dropped/);
    const delivered = lines.filter((l) => l['type'] === 'mesh:request:end').length;
    expect(delivered).toBeGreaterThan(0);
    expect(delivered).toBeLessThan(emitted);
  });
});
