/**
 * Workload identity and mTLS end to end: `meshbox up` on the sample mesh (process runtime) runs
 * every sidecar-to-sidecar hop over mTLS by default; `meshbox certs` shows the certificates; a
 * corrupt CA file is replaced with a notice.
 */
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet, interrupt, runCli, startCli, waitForHttp, type CliRun } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';

const HOST = { host: 'caller.example.com' };

describe('meshbox up: identity and mTLS', () => {
  let run: CliRun;
  let ingress = '';
  let admin = '';
  let stateDir = '';

  beforeAll(async () => {
    const [ip, ap] = [await freePort(), await freePort()];
    ingress = `http://127.0.0.1:${ip}`;
    admin = `http://127.0.0.1:${ap}`;
    stateDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-sec-'));
    // a CA file that is not a certificate: meshbox must replace it and say so
    mkdirSync(path.join(stateDir, 'ca'), { recursive: true });
    writeFileSync(path.join(stateDir, 'ca', 'root-cert.pem'), 'garbage\n');
    writeFileSync(path.join(stateDir, 'ca', 'root-key.pem'), 'garbage\n');
    run = startCli(['up', '--headless', '--runtime', 'process', '--ingress-port', String(ip), '--admin-port', String(ap), '--seed', '7', '--no-logs'], { MESHBOX_STATE_DIR: stateDir });
    await run.waitFor('meshbox is up', 45_000);
    await waitForHttp(`${admin}/ready`);
  });

  afterAll(async () => {
    if (run) await interrupt(run);
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('replaced the corrupt CA with a new P-256 root and said so', () => {
    expect(run.output()).toMatch(/the sandbox CA could not be used \(.*root-cert\.pem is not a PEM certificate\): a new root CA was created in/);
    const root = new X509Certificate(readFileSync(path.join(stateDir, 'ca', 'root-cert.pem')));
    expect(root.ca).toBe(true);
    expect(root.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('mesh hops are mTLS: destination metrics say mutual_tls with SPIFFE principals', async () => {
    for (let i = 0; i < 5; i++) expect((await httpGet(`${ingress}/caller/ping`, HOST)).status).toBe(200);
    const text = (await httpGet(`${admin}/metrics`)).body;
    const dest = text.split('\n').filter((l) => l.startsWith('istio_requests_total{reporter="destination"') && l.includes('destination_app="callme-service"'));
    expect(dest.length).toBeGreaterThan(0);
    for (const l of dest) {
      expect(l).toContain('connection_security_policy="mutual_tls"');
      expect(l).toContain('source_principal="spiffe://cluster.local/ns/default/sa/caller-service"');
      expect(l).toContain('destination_principal="spiffe://cluster.local/ns/default/sa/callme-service"');
    }
    // the gateway's hop to caller too
    expect(text).toMatch(/istio_requests_total\{reporter="destination",[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\/istio-ingressgateway-service-account"[^}]*connection_security_policy="mutual_tls"/);
  });

  it('a plaintext client is still served by an inbound listener (PERMISSIVE by default)', async () => {
    const status = JSON.parse((await httpGet(`${admin}/status`)).body) as { instances: Array<{ id: string; sidecar: { inbound: number } }> };
    const callme = status.instances.find((i) => i.id === 'callme-service-v1-1')!;
    const r = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: callme.sidecar.inbound, path: '/callme/ping', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(r).toBe(200);
  });

  it('meshbox certs shows identity, serial and expiry of each workload, like istioctl proxy-config secret', async () => {
    const cli = await runCli(['certs', 'callme-service-v2-1', '--admin', admin], { MESHBOX_STATE_DIR: stateDir });
    expect(cli.code).toBe(0);
    expect(cli.output).toContain('callme-service-v2-1  spiffe://cluster.local/ns/default/sa/callme-service');
    expect(cli.output).toMatch(/RESOURCE NAME\s+TYPE\s+STATUS\s+VALID CERT\s+SERIAL NUMBER\s+NOT AFTER\s+NOT BEFORE/);
    expect(cli.output).toMatch(/default\s+Cert Chain\s+ACTIVE\s+true\s+[0-9a-f]+\s+\d{4}-/);
    expect(cli.output).toMatch(/ROOTCA\s+CA\s+ACTIVE\s+true\s+[0-9a-f]+/);
    const json = JSON.parse((await httpGet(`${admin}/certs`)).body) as { secrets: Array<{ proxy: string; identity: string; certChain: string[] }> };
    expect(json.secrets.map((s) => s.proxy).sort()).toEqual(['caller-service-v1-1', 'callme-service-v1-1', 'callme-service-v2-1', 'callme-service-v2-2', 'greeter-service-v1-1', 'greeter-service-v2-1', 'istio-ingressgateway']);
    const leaf = new X509Certificate(json.secrets.find((s) => s.proxy === 'caller-service-v1-1')!.certChain[0]!);
    expect(leaf.subjectAltName).toBe('URI:spiffe://cluster.local/ns/default/sa/caller-service');
    expect(leaf.verify(new X509Certificate(readFileSync(path.join(stateDir, 'ca', 'root-cert.pem'))).publicKey)).toBe(true);
    expect(JSON.stringify(json)).not.toContain('PRIVATE KEY');
  });
});
