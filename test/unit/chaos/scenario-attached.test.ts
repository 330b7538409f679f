/**
 * Attaching to a running sandbox: request events rebuilt from Istio metrics deltas, ejections
 * from /clusters, faults and workload actions through the admin API (a fake one here).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AttachedTarget, eventsBetween, parseIstioMetrics } from '../../../sandbox/chaos/attached-target.js';
import type { MeshEvent, RequestEvent } from '../../../sandbox/events.js';

const LABELS = (code: number, flags = '-', reporter = 'source', src = 'istio-ingressgateway', dst = 'caller-service-v1') =>
  `reporter="${reporter}",source_workload="${src}",source_version="unknown",destination_workload="${dst}",destination_version="v1",destination_service="caller-service.default.svc.cluster.local",destination_service_name="caller-service",response_code="${code}",response_flags="${flags}"`;

function exposition(counts: { ok: number; failed: number }, buckets: { ok: Record<string, number> }): string {
  const lines = [
    '# HELP istio_requests_total Total requests.',
    '# TYPE istio_requests_total counter',
    `istio_requests_total{${LABELS(200)}} ${counts.ok}`,
    `istio_requests_total{${LABELS(503, 'UO')}} ${counts.failed}`,
    '# TYPE istio_request_duration_milliseconds histogram',
    ...Object.entries(buckets.ok).map(([le, n]) => `istio_request_duration_milliseconds_bucket{le="${le}",${LABELS(200)}} ${n}`),
    `istio_request_duration_milliseconds_sum{${LABELS(200)}} 123`,
    `istio_request_duration_milliseconds_count{${LABELS(200)}} ${counts.ok}`,
    `istio_requests_total{${LABELS(200, '-', 'destination', 'istio-ingressgateway', 'caller-service-v1')},connection_security_policy="mutual_tls"} ${counts.ok}`,
  ];
  return `${lines.join('\n')}\n`;
}

describe('metrics to request events', () => {
  it('turns counter increases into events with the Istio labels, durations spread over their buckets', () => {
    const a = parseIstioMetrics(exposition({ ok: 10, failed: 0 }, { ok: { '5': 10, '10': 10, '25': 10, '+Inf': 10 } }), 1000);
    const b = parseIstioMetrics(exposition({ ok: 14, failed: 2 }, { ok: { '5': 10, '10': 12, '25': 14, '+Inf': 14 } }), 1250);
    expect(eventsBetween(undefined, a)).toHaveLength(10 + 10);
    const events = eventsBetween(a, b);
    const gateway = events.filter((e) => e.proxy === 'istio-ingressgateway');
    expect(gateway.map((e) => [e.status, e.responseFlags])).toEqual([
      [200, '-'],
      [200, '-'],
      [200, '-'],
      [200, '-'],
      [503, 'UO'],
      [503, 'UO'],
    ]);
    expect(gateway.every((e) => e.startTime === 1001 && e.reporter === 'source' && e.listener === 'gateway')).toBe(true);
    expect(gateway.slice(0, 4).map((e) => e.durationMs)).toEqual([6.25, 8.75, 13.75, 21.25]);
    expect(gateway[0]!.destination).toMatchObject({ workload: 'caller-service-v1', version: 'v1', serviceName: 'caller-service' });
    const inbound = events.filter((e) => e.reporter === 'destination');
    expect(inbound).toHaveLength(4);
    expect(inbound[0]).toMatchObject({ proxy: 'caller-service-v1', listener: 'inbound' });
    // connection_security_policy: the destination side's mutual_tls / none; the source side's unknown is left out
    expect(inbound[0]!.connectionSecurity).toBe('mutual_tls');
    expect(gateway.every((e) => e.connectionSecurity === undefined)).toBe(true);
  });
});

describe('AttachedTarget against an admin API', () => {
  let server: http.Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  it('reads the sandbox, rebuilds events and ejections while polling, drives faults and workloads', async () => {
    let counts = { ok: 0, failed: 0 };
    let ejected = false;
    const calls: string[] = [];
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        const json = (status: number, value: unknown): void => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(value));
        };
        const url = req.url ?? '/';
        if (req.method !== 'GET') calls.push(`${req.method} ${url} ${body}`);
        if (url === '/status') return json(200, { sandbox: 'sample-aa11bb', seed: 77, runtime: 'process', ingress: 'http://127.0.0.1:8080', admin: 'x', instances: [{ id: 'caller-service-v1-1', service: 'caller-service', version: 'v1', state: 'running', healthy: true, sidecar: { inbound: 4343, services: { 'callme-service': 4242 } } }] });
        if (url === '/config_dump') return json(200, { rules: [{ kind: 'VirtualService', spec: { hosts: ['caller.example.com'], gateways: ['caller-gateway'] } }] });
        if (url === '/metrics') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          return res.end(exposition(counts, { ok: { '5': counts.ok, '+Inf': counts.ok } }));
        }
        if (url === '/clusters?format=json') return json(200, { clusters: [{ name: 'outbound|8080|v1|callme-service.default.svc.cluster.local', hosts: [{ id: 'callme-service-v1-1', ejected, times_ejected: ejected ? 1 : 0 }] }] });
        if (url === '/workloads' && req.method === 'GET') return json(200, { instances: [{ id: 'caller-service-v1-1', service: 'caller-service', version: 'v1', state: 'running', healthy: true, drained: false }] });
        if (url === '/faults' && req.method === 'POST') return json(201, { name: 'f1', spec: JSON.parse(body) as unknown, origin: 'runtime', createdAt: 1 });
        if (url === '/faults/f1') return json(200, { removed: 'f1' });
        if (url === '/faults/ghost') return json(404, { error: 'no runtime fault named ghost', status: 404 });
        if (url.startsWith('/workloads/')) return json(200, { done: true });
        json(404, { error: 'not found' });
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const admin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    counts = { ok: 5, failed: 0 };
    const target = await AttachedTarget.connect(`${admin}/`);
    try {
      expect(target).toMatchObject({ kind: 'attached', id: 'sample-aa11bb', seed: 77, runtime: 'process', ingressUrl: 'http://127.0.0.1:8080', adminUrl: admin, rules: undefined });
      expect(target.defaultHost()).toBe('caller.example.com');
      const events: MeshEvent[] = [];
      target.onEvent((e) => events.push(e));
      // what happened before attaching does not count
      counts = { ok: 8, failed: 1 };
      ejected = true;
      await target.settle();
      const requests = events.filter((e): e is RequestEvent => e.type === 'mesh:request:end' && e.reporter === 'source');
      expect(requests.map((e) => e.status).sort()).toEqual([200, 200, 200, 503]);
      expect(events.filter((e) => e.type === 'mesh:outlier:ejected')).toEqual([{ type: 'mesh:outlier:ejected', time: expect.any(Number), cluster: 'outbound|8080|v1|callme-service.default.svc.cluster.local', endpoint: 'callme-service-v1-1', ejections: 1 }]);
      ejected = false;
      await target.settle();
      expect(events.filter((e) => e.type === 'mesh:outlier:returned')).toHaveLength(1);

      expect(await target.instances()).toEqual([{ id: 'caller-service-v1-1', service: 'caller-service', version: 'v1', workload: 'caller-service-v1', state: 'running', healthy: true, drained: false, serviceListeners: { 'callme-service': 4242 }, inboundPort: 4343 }]);
      expect((await target.addFault({ target: { service: 'callme-service' }, http: { delay: { fixedDelayMs: 5 } } })).name).toBe('f1');
      expect(await target.removeFault('f1')).toBe(true);
      expect(await target.removeFault('ghost')).toBe(false);
      await target.workloadAction('caller-service-v1-1', 'kill', { signal: 'SIGTERM' });
      expect(calls).toEqual(['POST /faults {"target":{"service":"callme-service"},"http":{"delay":{"fixedDelayMs":5}}}', 'DELETE /faults/f1 ', 'DELETE /faults/ghost ', 'POST /workloads/caller-service-v1-1/kill {"signal":"SIGTERM"}']);
    } finally {
      await target.close();
    }
    await expect(AttachedTarget.connect('http://127.0.0.1:1')).rejects.toThrow(/no meshbox sandbox answers at http:\/\/127\.0\.0\.1:1/);
  });

  it("sends the sandbox's admin token (from its token file in the state folder) with every request that changes the sandbox", async () => {
    const seen: string[] = [];
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
        const url = req.url ?? '/';
        res.writeHead(url === '/faults' ? 201 : 200, { 'content-type': url === '/metrics' ? 'text/plain' : 'application/json' });
        if (url === '/metrics') return res.end('');
        if (url === '/status') return res.end(JSON.stringify({ sandbox: 'sample-cc33dd', instances: [] }));
        if (url === '/faults') return res.end(JSON.stringify({ name: 'f1' }));
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const admin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const saved = process.env.MESHBOX_STATE_DIR;
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-attach-'));
    process.env.MESHBOX_STATE_DIR = stateDir;
    // what `meshbox up` leaves in the state folder: the record (this process as its owner) and the token
    mkdirSync(path.join(stateDir, 'sandboxes'), { mode: 0o700 });
    writeFileSync(path.join(stateDir, 'sandboxes', 'sample-cc33dd.json'), JSON.stringify({ id: 'sample-cc33dd', ownerPid: process.pid, startedAt: '', config: '/x', adminUrl: admin, processes: {} }));
    writeFileSync(path.join(stateDir, 'sandboxes', 'sample-cc33dd.token'), 'attach-token\n', { mode: 0o600 });
    try {
      const target = await AttachedTarget.connect(`http://localhost:${new URL(admin).port}`, { host: 'h' });
      try {
        await target.addFault({ target: { service: 'callme-service' }, http: { abort: { httpStatus: 503 } } });
        await target.workloadAction('caller-service-v1-1', 'stop');
      } finally {
        await target.close();
      }
      expect(seen.filter((l) => !l.startsWith('GET '))).toEqual(['POST /faults Bearer attach-token', 'POST /workloads/caller-service-v1-1/stop Bearer attach-token']);
      // the readings (GET) need no token and are sent without it
      expect(seen.filter((l) => l.startsWith('GET ')).every((l) => l.endsWith(' -'))).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.MESHBOX_STATE_DIR;
      else process.env.MESHBOX_STATE_DIR = saved;
    }
  });

  it('without a token, says where it looked and how to give it one', async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.method === 'GET') {
          res.writeHead(200, { 'content-type': req.url === '/metrics' ? 'text/plain' : 'application/json' });
          return res.end(req.url === '/metrics' ? '' : '{"sandbox":"sample-dd44ee"}');
        }
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'POST /faults changes the sandbox and needs its admin token', hint: 'send it', code: 'MESH_ERR_ADMIN_TOKEN_MISSING', status: 401, tokenFile: '/s/sandboxes/sample-dd44ee.token' }));
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const admin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const saved = process.env.MESHBOX_STATE_DIR;
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-attach-'));
    process.env.MESHBOX_STATE_DIR = stateDir;
    const target = await AttachedTarget.connect(admin, { host: 'h' });
    try {
      const err = await target.addFault({ target: { service: 'callme-service' }, http: { abort: { httpStatus: 503 } } }).catch((e: unknown) => e);
      expect(err).toMatchObject({ message: 'POST /faults: POST /faults changes the sandbox and needs its admin token' });
      expect((err as { hint: string }).hint).toBe(
        `meshbox found no admin token for 127.0.0.1:${new URL(admin).port} under ${path.join(stateDir, 'sandboxes')}: run this with the MESHBOX_STATE_DIR the sandbox was started with, or set MESHBOX_ADMIN_TOKEN to the token in /s/sandboxes/sample-dd44ee.token`,
      );
    } finally {
      await target.close();
      if (saved === undefined) delete process.env.MESHBOX_STATE_DIR;
      else process.env.MESHBOX_STATE_DIR = saved;
    }
  });
});
