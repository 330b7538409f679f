import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';

let h: Harness;
let caDir: string;

beforeAll(async () => {
  caDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-pa-'));
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
beforeEach(async () => {
  await h.rules('');
});

/** a plaintext request straight to an inbound listener, as `curl http://127.0.0.1:<inbound>/` */
function plaintext(port: number): Promise<{ status: number } | { error: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, headers: { host: 'callme' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
  });
}

const strictMesh = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec:
  mtls: {mode: STRICT}
`;

describe('PeerAuthentication on real sockets', () => {
  it('STRICT: a plaintext client is reset (curl exit 56), mesh traffic still flows over mTLS', async () => {
    await h.rules(strictMesh);
    const inbound = h.instance('callme-v1-1').sidecar.inbound;
    expect(await plaintext(inbound)).toEqual({ error: 'ECONNRESET' });
    const r = await h.request({ from: 'caller-v1-1', host: 'callme', headers: { 'x-request-id': 'strict-1' } });
    expect(r.status).toBe(200);
    const dest = (await h.eventsFor('strict-1', 2)).find((e) => e.reporter === 'destination')!;
    expect(dest.connectionSecurity).toBe('mutual_tls');
  });

  it('PERMISSIVE: plaintext and mTLS are both served', async () => {
    await h.rules(strictMesh.replace('STRICT', 'PERMISSIVE'));
    expect(await plaintext(h.instance('callme-v1-1').sidecar.inbound)).toEqual({ status: 200 });
    expect((await h.request({ from: 'caller-v1-1', host: 'callme' })).status).toBe(200);
  });

  it('a workload policy beats the mesh policy, and portLevelMtls beats both for its port', async () => {
    await h.rules(`${strictMesh}---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: callme-v2, namespace: default}
spec:
  selector: {matchLabels: {app: callme, version: v2}}
  mtls: {mode: STRICT}
  portLevelMtls:
    '8080': {mode: PERMISSIVE}
`);
    expect(await plaintext(h.instance('callme-v1-1').sidecar.inbound)).toEqual({ error: 'ECONNRESET' });
    expect(await plaintext(h.instance('callme-v2-1').sidecar.inbound)).toEqual({ status: 200 });
  });

  it('DISABLE: auto mTLS sends plaintext to it (no XFCC), and the destination reports none', async () => {
    await h.rules(strictMesh.replace('STRICT', 'DISABLE'));
    const r = await h.request({ from: 'caller-v1-1', host: 'callme', headers: { 'x-request-id': 'disable-1' } });
    expect(r.status).toBe(200);
    const app = h.apps.get(r.json()['instance'] as string)!;
    expect(app.requests.at(-1)!.headers['x-forwarded-client-cert']).toBeUndefined();
    const dest = (await h.eventsFor('disable-1', 2)).find((e) => e.reporter === 'destination')!;
    expect(dest.connectionSecurity).toBe('none');
    expect(dest.source.principal).toBe('unknown');
  });

  it('DestinationRule tls DISABLE toward a STRICT server: 503, as Istio', async () => {
    await h.rules(`${strictMesh}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: callme}
spec:
  host: callme
  trafficPolicy:
    tls: {mode: DISABLE}
`);
    const r = await h.request({ from: 'caller-v1-1', host: 'callme', headers: { 'x-request-id': 'dr-disable-1' } });
    expect(r.status).toBe(503);
    expect(r.body).toBe('upstream connect error or disconnect/reset before headers. reset reason: connection termination');
    const src = (await h.eventsFor('dr-disable-1', 1)).find((e) => e.reporter === 'source')!;
    expect(src.responseFlags).toBe('UC');
    expect(src.responseCodeDetails).toBe('upstream_reset_before_response_started{connection_termination}');
  });

  it('DestinationRule tls per subset: ISTIO_MUTUAL to v2 while the top level says DISABLE', async () => {
    await h.rules(`${strictMesh}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: callme}
spec:
  host: callme
  trafficPolicy:
    tls: {mode: DISABLE}
  subsets:
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      tls: {mode: ISTIO_MUTUAL}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: callme}
spec:
  hosts: [callme]
  http:
  - route:
    - destination: {host: callme, subset: v2}
`);
    const r = await h.request({ from: 'caller-v1-1', host: 'callme' });
    expect(r.status).toBe(200);
    expect(r.json()['instance']).toBe('callme-v2-1');
  });
});

describe('DestinationRule tls SIMPLE and MUTUAL with files', () => {
  it('MUTUAL with certificate files is accepted by a STRICT sidecar (the file identity reaches the app); SIMPLE, without a client certificate, is refused: 503', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-files-'));
    try {
      const issued = await h.identity!.ca.issue('spiffe://cluster.local/ns/default/sa/from-files', 60_000);
      writeFileSync(path.join(dir, 'cert.pem'), issued.certChainPem);
      writeFileSync(path.join(dir, 'key.pem'), issued.keyPem);
      writeFileSync(path.join(dir, 'ca.pem'), h.identity!.ca.rootCertPem);
      const dr = (tls: string): string => `${strictMesh}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: callme}
spec:
  host: callme
  trafficPolicy:
    tls: ${tls}
`;
      await h.rules(dr(`{mode: MUTUAL, clientCertificate: ${dir}/cert.pem, privateKey: ${dir}/key.pem, caCertificates: ${dir}/ca.pem, subjectAltNames: ['spiffe://cluster.local/ns/default/sa/callme']}`));
      const ok = await h.request({ from: 'caller-v1-1', host: 'callme', path: '/files' });
      expect(ok.status).toBe(200);
      const xfcc = String(h.apps.get(ok.json()['instance'] as string)!.requests.at(-1)!.headers['x-forwarded-client-cert']);
      expect(xfcc).toContain('URI=spiffe://cluster.local/ns/default/sa/from-files');
      await h.rules(dr(`{mode: SIMPLE, caCertificates: ${dir}/ca.pem}`));
      expect((await h.request({ from: 'caller-v1-1', host: 'callme', path: '/simple' })).status).toBe(503);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a policy change on open connections', () => {
  it('a plaintext keep-alive connection opened under PERMISSIVE is reset at its next request once STRICT applies', async () => {
    await h.rules(strictMesh.replace('STRICT', 'PERMISSIVE'));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const port = h.instance('callme-v1-1').sidecar.inbound;
    const get = (): Promise<number | string> =>
      new Promise((resolve) => {
        http.get({ host: '127.0.0.1', port, path: '/ka', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        }).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
    try {
      expect(await get()).toBe(200);
      await h.rules(strictMesh);
      expect(await get()).toBe('ECONNRESET');
    } finally {
      agent.destroy();
    }
  });
});

describe('mTLS identity feeds AuthorizationPolicy principals', () => {
  it('ALLOW from the caller principal: the caller over mTLS gets 200, a plaintext client 403 RBAC: access denied', async () => {
    await h.rules(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: callme-from-caller, namespace: default}
spec:
  selector: {matchLabels: {app: callme}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: [cluster.local/ns/default/sa/caller]}
`);
    expect((await h.request({ from: 'caller-v1-1', host: 'callme', path: '/authz' })).status).toBe(200);
    const body = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: h.instance('callme-v1-1').sidecar.inbound, path: '/authz', agent: false }, (res) => {
        let b = '';
        res.on('data', (c: Buffer) => (b += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      }).on('error', reject);
    });
    expect(body).toEqual({ status: 403, body: 'RBAC: access denied' });
  });
});
