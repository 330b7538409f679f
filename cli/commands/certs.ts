/**
 * `meshbox certs [instance]`: each proxy's workload certificate, like `istioctl proxy-config
 * secret`: identity (SPIFFE id), serial, validity and next rotation, from the admin API.
 */
import { adminRequest, resolveAdmin } from '../admin-client.js';
import { paint, useColor, type Io } from '../output.js';
import type { SecretView } from '../../sandbox/admin/security-routes.js';

interface CertsBody {
  ca: { file: string; serialNumber: string; notAfter: string };
  secrets: SecretView[];
}

export async function runCerts(instance: string | undefined, opts: { admin?: string; json?: boolean; pem?: boolean }, io: Io): Promise<number> {
  const admin = resolveAdmin(opts.admin);
  const q = instance ? `?proxy=${encodeURIComponent(instance)}` : '';
  const { body } = await adminRequest(`${admin}/certs${q}`);
  const b = body as CertsBody;
  if (opts.json) {
    io.out(JSON.stringify(b, null, 2));
    return 0;
  }
  const c = paint(useColor());
  io.out(`root CA ${b.ca.file}  serial ${b.ca.serialNumber}  not after ${b.ca.notAfter}`);
  for (const s of b.secrets) {
    io.out('');
    io.out(`${c('bold', s.proxy)}  ${s.identity}  rotations ${s.rotations}${s.nextRotation ? `  next rotation ${s.nextRotation}` : ''}`);
    io.out(`${'RESOURCE NAME'.padEnd(14)} ${'TYPE'.padEnd(11)} ${'STATUS'.padEnd(7)} ${'VALID CERT'.padEnd(11)} ${'SERIAL NUMBER'.padEnd(33)} ${'NOT AFTER'.padEnd(25)} NOT BEFORE`);
    for (const r of s.resources) {
      const valid = r.validCert ? c('green', 'true'.padEnd(11)) : c('red', 'false'.padEnd(11));
      io.out(`${r.name.padEnd(14)} ${r.type.padEnd(11)} ${r.status.padEnd(7)} ${valid} ${r.serialNumber.padEnd(33)} ${r.notAfter.padEnd(25)} ${r.notBefore}`);
    }
    if (opts.pem) for (const pem of s.certChain) io.out(pem);
  }
  return 0;
}
