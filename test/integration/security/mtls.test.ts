import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';

let h: Harness;
let caDir: string;

beforeAll(async () => {
  caDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-mtls-'));
  h = await startHarness(
    [
      { name: 'caller', versions: { v1: 1 } },
      { name: 'callme', versions: { v1: 1, v2: 1 } },
    ],
    1,
    { mtls: { caDir } },
  );
});
afterAll(async () => {
  await h?.close();
  rmSync(caDir, { recursive: true, force: true });
});

/** a plaintext HTTP request straight to an inbound listener (what `curl http://127.0.0.1:<inbound>/` does) */
function direct(port: number, p = '/'): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false, headers: { host: 'callme' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
  });
}

describe('automatic mTLS between sidecars', () => {
  it('mesh traffic runs over mTLS: the destination reports mutual_tls with both principals, the app gets XFCC', async () => {
    const r = await h.request({ from: 'caller-v1-1', host: 'callme', path: '/who', headers: { 'x-request-id': 'mtls-1' } });
    expect(r.status).toBe(200);
    const seenBy = r.json()['instance'] as string;
    const app = h.apps.get(seenBy)!;
    const xfcc = String(app.requests.at(-1)!.headers['x-forwarded-client-cert']);
    expect(xfcc).toMatch(/^By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/callme;Hash=[0-9a-f]{64};Subject="";URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/caller$/);
    const events = await h.eventsFor('mtls-1', 2);
    const dest = events.find((e) => e.reporter === 'destination')!;
    const src = events.find((e) => e.reporter === 'source')!;
    expect(dest.connectionSecurity).toBe('mutual_tls');
    expect(src.connectionSecurity).toBe('mutual_tls');
    expect(dest.source.principal).toBe('spiffe://cluster.local/ns/default/sa/caller');
    expect(dest.destination.principal).toBe('spiffe://cluster.local/ns/default/sa/callme');
    const text = await h.metrics.text();
    expect(text).toMatch(/istio_requests_total\{reporter="destination",[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/caller"[^}]*connection_security_policy="mutual_tls"/);
    expect(text).toMatch(/istio_requests_total\{reporter="source",[^}]*destination_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/callme"[^}]*connection_security_policy="unknown"/);
  });

  it('PERMISSIVE (the default) still serves a plaintext client on the inbound listener, without XFCC', async () => {
    const inst = h.instance('callme-v1-1');
    const r = await direct(inst.sidecar.inbound, '/plain');
    expect('status' in r && r.status).toBe(200);
    const xfcc = h.apps.get('callme-v1-1')!.requests.at(-1)!.headers['x-forwarded-client-cert'];
    expect(xfcc).toBeUndefined();
  });

  it('a plaintext client cannot forge XFCC', async () => {
    const inst = h.instance('callme-v1-1');
    await new Promise<void>((resolve) => {
      http.get({ host: '127.0.0.1', port: inst.sidecar.inbound, path: '/forged', agent: false, headers: { 'x-forwarded-client-cert': 'URI=spiffe://cluster.local/ns/default/sa/admin' } }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
    });
    expect(h.apps.get('callme-v1-1')!.requests.at(-1)!.headers['x-forwarded-client-cert']).toBeUndefined();
  });

  it('an app cannot forge XFCC through its own sidecar: the outbound listener sanitises it', async () => {
    const r = await h.request({ from: 'caller-v1-1', host: 'callme', path: '/forged-out', headers: { 'x-forwarded-client-cert': 'URI=spiffe://cluster.local/ns/default/sa/admin' } });
    const xfcc = String(h.apps.get(r.json()['instance'] as string)!.requests.at(-1)!.headers['x-forwarded-client-cert']);
    expect(xfcc).not.toContain('sa/admin');
    expect(xfcc).toMatch(/^By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/callme;Hash=[0-9a-f]{64};Subject="";URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/caller$/);
  });

  it('keep-alive: one handshake serves many requests', async () => {
    const before = ((await h.dataPlane.secrets()) as { inbound: { handshakes: number } }).inbound.handshakes;
    for (let i = 0; i < 40; i++) expect((await h.request({ from: 'caller-v1-1', host: 'callme', path: `/ka/${i}` })).status).toBe(200);
    const after = ((await h.dataPlane.secrets()) as { inbound: { handshakes: number } }).inbound.handshakes;
    // sequential requests reuse pooled connections: at most one new connection per endpoint
    expect(after - before).toBeLessThanOrEqual(2);
  });
});
