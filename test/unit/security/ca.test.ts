import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MeshCA } from '../../../sandbox/security/ca.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'meshbox-ca-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('MeshCA', () => {
  it('creates an ECDSA P-256 root, keeps it on disk and loads the same one again', async () => {
    const dir = tmp();
    const first = await MeshCA.loadOrCreate(dir);
    expect(first.created).toBe(true);
    expect(first.regenerated).toBeUndefined();
    const root = new X509Certificate(readFileSync(path.join(dir, 'root-cert.pem')));
    expect(root.ca).toBe(true);
    expect(root.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(statSync(path.join(dir, 'root-key.pem')).mode & 0o077).toBe(0);
    const again = await MeshCA.loadOrCreate(dir);
    expect(again.created).toBe(false);
    expect(again.ca.serial).toBe(first.ca.serial);
  });

  it('issues workload certificates with the SPIFFE id as URI SAN, an empty subject, signed by the root', async () => {
    const { ca } = await MeshCA.loadOrCreate(tmp());
    const issued = await ca.issue('spiffe://cluster.local/ns/default/sa/caller-service', 60_000);
    const leaf = new X509Certificate(issued.certChainPem);
    expect(leaf.subjectAltName).toBe('URI:spiffe://cluster.local/ns/default/sa/caller-service');
    expect(leaf.subject ?? '').toBe('');
    expect(leaf.verify(new X509Certificate(ca.rootCertPem).publicKey)).toBe(true);
    expect(leaf.serialNumber.toLowerCase()).toBe(issued.serial.toLowerCase());
    expect(new Date(leaf.validTo).getTime() - Date.now()).toBeLessThanOrEqual(61_000);
    expect(issued.keyPem).toContain('BEGIN PRIVATE KEY');
  });

  it('regenerates a corrupt CA file and says why', async () => {
    const dir = tmp();
    const first = await MeshCA.loadOrCreate(dir);
    writeFileSync(path.join(dir, 'root-cert.pem'), '-----BEGIN CERTIFICATE-----\nnot a cert\n-----END CERTIFICATE-----\n');
    const next = await MeshCA.loadOrCreate(dir);
    expect(next.created).toBe(true);
    expect(next.regenerated).toMatch(/root-cert\.pem is not a PEM certificate/);
    expect(next.ca.serial).not.toBe(first.ca.serial);
    // and the new files load cleanly
    expect((await MeshCA.loadOrCreate(dir)).created).toBe(false);
  });

  it('regenerates when the key file is missing or belongs to another root', async () => {
    const a = tmp();
    const b = tmp();
    await MeshCA.loadOrCreate(a);
    await MeshCA.loadOrCreate(b);
    writeFileSync(path.join(a, 'root-key.pem'), readFileSync(path.join(b, 'root-key.pem')));
    expect((await MeshCA.loadOrCreate(a)).regenerated).toMatch(/does not belong to/);
    rmSync(path.join(a, 'root-key.pem'));
    expect((await MeshCA.loadOrCreate(a)).regenerated).toMatch(/root-key\.pem is missing/);
  });
});
