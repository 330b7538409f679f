/**
 * `meshbox fault` and `meshbox workload` output, against a stand-in admin API on a real socket:
 * header rows on `ls`, `fault rm` of an unknown name pointing at `fault ls`, and toxics whose
 * Toxiproxy defaults do nothing refused, the others showing the defaults they use.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faultSpecFromFlags, runFaultAdd, runFaultList, runFaultRemove } from '../../../cli/commands/fault.js';
import { runWorkloadList } from '../../../cli/commands/workload.js';
import { MeshError } from '../../../sandbox/errors.js';
import type { FaultRecord } from '../../../sandbox/faults/fault-spec.js';

const FAULTS: FaultRecord[] = [
  { name: 'callme-abort', spec: { name: 'callme-abort', target: { service: 'callme-service', subset: 'v2' }, http: { abort: { httpStatus: 503, percent: 50 } } }, origin: 'runtime', createdAt: 1 },
  { name: 'slow-db', spec: { name: 'slow-db', target: { service: 'db' }, toxics: [{ type: 'latency', attributes: { latency: 300 } }] }, origin: 'file', source: 'rules/faults.yaml:3:1', createdAt: 2 },
];

let server: http.Server;
let admin = '';
const posted: unknown[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/faults') return send(200, { faults: FAULTS });
      if (req.method === 'POST' && req.url === '/faults') {
        const spec = JSON.parse(text) as FaultRecord['spec'];
        posted.push(spec);
        return send(200, { name: 'f-1', spec, origin: 'runtime', createdAt: 3 });
      }
      if (req.method === 'DELETE' && req.url === '/faults/callme-abort') return send(200, { removed: 'callme-abort' });
      if (req.method === 'DELETE' && req.url?.startsWith('/faults/')) return send(404, { error: `no runtime fault named ${decodeURIComponent(req.url.slice(8))}`, status: 404 });
      if (req.method === 'GET' && req.url === '/workloads') {
        return send(200, {
          instances: [
            { id: 'callme-service-v1-1', state: 'running', healthy: true, drained: false, pid: 4242 },
            { id: 'callme-service-v2-1', state: 'stopped', healthy: false, drained: true },
          ],
        });
      }
      send(404, { error: 'no route' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  admin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

function capture(): { lines: string[]; io: { out: (l: string) => void; err: (l: string) => void } } {
  const lines: string[] = [];
  return { lines, io: { out: (l) => lines.push(l), err: (l) => lines.push(l) } };
}

describe('meshbox fault / workload output', () => {
  it('fault ls prints a header row over aligned columns', async () => {
    const c = capture();
    expect(await runFaultList({ admin }, c.io)).toBe(0);
    expect(c.lines[0]).toMatch(/^NAME\s+ORIGIN\s+EXPIRES\s+FAULT$/);
    expect(c.lines).toHaveLength(3);
    expect(c.lines[1]).toMatch(/^callme-abort\s+runtime\s+-\s+/);
    expect(c.lines[2]).toMatch(/^slow-db\s+file rules\/faults\.yaml:3:1\s+-\s+/);
    // columns line up under their header
    expect(c.lines[1]!.indexOf('runtime')).toBe(c.lines[0]!.indexOf('ORIGIN'));
  });

  it('workload ls prints a header row over aligned columns', async () => {
    const c = capture();
    expect(await runWorkloadList({ admin }, c.io)).toBe(0);
    expect(c.lines).toEqual([
      'INSTANCE             STATE    HEALTH     DRAINED  PID',
      'callme-service-v1-1  running  healthy    -        4242',
      'callme-service-v2-1  stopped  unhealthy  drained  -',
    ]);
  });

  it('fault rm of an unknown name says so and points at fault ls', async () => {
    const c = capture();
    const err = await runFaultRemove(['nosuch'], { admin }, c.io).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshError);
    expect((err as MeshError).message).toBe('no runtime fault named nosuch');
    expect((err as MeshError).hint).toContain('`meshbox fault ls`');
    expect(await runFaultRemove(['callme-abort'], { admin }, c.io)).toBe(0);
    expect(c.lines).toEqual(['removed callme-abort']);
  });

  it('refuses a toxic whose Toxiproxy defaults do nothing, and a misspelt attribute', () => {
    const refuse = (o: Parameters<typeof faultSpecFromFlags>[1]): MeshError => {
      try {
        faultSpecFromFlags('callme-service', o);
      } catch (e) {
        return e as MeshError;
      }
      throw new Error('accepted');
    };
    const latency = refuse({ toxic: 'latency' });
    expect(latency.message).toBe("--toxic latency without --attr does nothing: Toxiproxy's defaults are latency=0 (no added delay), jitter=0 (no jitter)");
    expect(latency.hint).toContain('--attr latency=200');
    expect(refuse({ toxic: 'bandwidth', attr: ['rate=0'] }).message).toContain('--toxic bandwidth without --attr does nothing');
    const typo = refuse({ toxic: 'latency', attr: ['latancy=100'] });
    expect(typo.message).toBe('--attr latancy: a latency toxic has no attribute latancy');
    expect(typo.hint).toContain('did you mean --attr latency=...?');
    expect(faultSpecFromFlags('callme-service', { toxic: 'latency', attr: ['jitter=20'] }).toxics).toEqual([{ type: 'latency', attributes: { jitter: 20 } }]);
  });

  it('a toxic that acts with its defaults is added, and says which defaults it uses', async () => {
    const c = capture();
    expect(await runFaultAdd('callme-service', { admin, toxic: 'timeout' }, c.io)).toBe(0);
    expect(posted.at(-1)).toMatchObject({ toxics: [{ type: 'timeout', attributes: {} }] });
    expect(c.lines[1]).toBe("  timeout uses Toxiproxy's defaults for timeout=0 (hold the connection forever, dropping its data)");
    const d = capture();
    await runFaultAdd('callme-service', { admin, toxic: 'latency', attr: ['latency=100'] }, d.io);
    expect(d.lines[1]).toBe("  latency uses Toxiproxy's defaults for jitter=0 (no jitter)");
  });
});
