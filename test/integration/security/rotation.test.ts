import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';

let h: Harness;
let caDir: string;
const TTL_MS = 1_200;

beforeAll(async () => {
  caDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-rot-'));
  h = await startHarness(
    [
      { name: 'caller', versions: { v1: 1 } },
      { name: 'callme', versions: { v1: 1 } },
    ],
    1,
    { mtls: { caDir, ttlMs: TTL_MS } },
  );
});
afterAll(async () => {
  await h?.close();
  rmSync(caDir, { recursive: true, force: true });
});

describe('workload certificate rotation', () => {
  it('short-lived certificates are replaced before they expire and no request fails', async () => {
    // one request per connection, so every request makes a handshake with the certificates of the moment
    await h.rules(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: callme}
spec:
  host: callme
  trafficPolicy:
    connectionPool: {http: {maxRequestsPerConnection: 1}}
`);
    const first = h.identity!.certs.secrets().find((s) => s.proxyId === 'callme-v1-1')!;
    const statuses: number[] = [];
    const until = Date.now() + TTL_MS * 3;
    // bounded: by time (3 TTLs) and by count
    while (Date.now() < until && statuses.length < 2_000) {
      statuses.push((await h.request({ from: 'caller-v1-1', host: 'callme', path: `/r/${statuses.length}` })).status);
    }
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // the first certificate has expired by now; the one held is another, still valid
    expect(Date.now()).toBeGreaterThan(Date.parse(first.notAfter));
    expect(h.identity!.certs.rotations('callme-v1-1')).toBeGreaterThanOrEqual(2);
    const now = h.identity!.certs.secrets().find((s) => s.proxyId === 'callme-v1-1')!;
    expect(now.serial).not.toBe(first.serial);
    expect(new Date(new X509Certificate(now.certChainPem).validTo).getTime()).toBeGreaterThan(Date.now() - 1_000);
    // a fresh handshake (no session to resume) with the caller's current certificate: the server's
    // certificate must be valid now, and the server must accept the client's
    const caller = h.identity!.certs.secrets().find((s) => s.proxyId === 'caller-v1-1')!;
    const handshake = await new Promise<{ ok: true; serial: string } | { ok: false; error: string }>((resolve) => {
      const sock = tls.connect({
        host: '127.0.0.1',
        port: h.instance('callme-v1-1').sidecar.inbound,
        key: caller.keyPem,
        cert: caller.certChainPem,
        ca: caller.rootCertPem,
        servername: 'outbound_.8080_._.callme.default.svc.cluster.local',
        ALPNProtocols: ['istio'],
        checkServerIdentity: () => undefined,
      });
      sock.once('secureConnect', () => {
        const serial = sock.getPeerX509Certificate()!.serialNumber;
        sock.end();
        resolve({ ok: true, serial });
      });
      sock.once('error', (e: NodeJS.ErrnoException) => resolve({ ok: false, error: e.code ?? e.message }));
    });
    expect(handshake).toEqual({ ok: true, serial: expect.stringMatching(/.+/) });
    if (handshake.ok) expect(handshake.serial.toLowerCase()).toBe(h.identity!.certs.secrets().find((s) => s.proxyId === 'callme-v1-1')!.serial.toLowerCase());
    // and the data plane serves the new one
    const held = (await h.dataPlane.secrets()) as { secrets: Array<{ proxyId: string; serial: string }> };
    expect(held.secrets.find((s) => s.proxyId === 'callme-v1-1')!.serial).toBe(now.serial);
  });
});
