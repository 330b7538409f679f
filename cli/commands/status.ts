/** `meshbox status`: what a running sandbox looks like, from its admin API. */
import { adminRequest, resolveAdmin } from '../admin-client.js';
import { paint, useColor, type Io } from '../output.js';
import { outputFormat, printData } from '../output-format.js';

interface StatusBody {
  sandbox: string;
  config: string;
  rules?: string;
  runtime: string;
  seed: number;
  ingress: string;
  /** the ingress gateway's Gateway server ports other than HTTP 80, where each is served */
  gatewayPorts?: Array<{ serverPort: number; protocol: string; address: string; port: number }>;
  admin: string;
  ready: boolean;
  snapshotVersion: number;
  findings: Array<{ severity: string }>;
  instances: Array<{ id: string; state: string; healthy: boolean; pid?: number; appPort: number; restarts: number; sidecar: { inbound: number; outbound: number } }>;
}

export async function runStatus(opts: { admin?: string; json?: boolean; output?: string }, io: Io): Promise<number> {
  const format = outputFormat(opts, ['table', 'json', 'yaml']);
  const admin = resolveAdmin(opts.admin);
  const { body } = await adminRequest(`${admin}/status`);
  if (format === 'json' || format === 'yaml') {
    printData(io, body, format);
    return 0;
  }
  const s = body as StatusBody;
  const c = paint(useColor());
  io.out(`sandbox ${c('bold', s.sandbox)}  ${s.ready ? c('green', 'ready') : c('yellow', 'not ready')}  runtime ${s.runtime}  seed ${s.seed}`);
  io.out(`config  ${s.config}`);
  io.out(`rules   ${s.rules ?? '(none)'}  snapshot v${s.snapshotVersion}  ${s.findings.filter((f) => f.severity === 'error').length} errors, ${s.findings.filter((f) => f.severity === 'warning').length} warnings`);
  io.out(`ingress ${s.ingress}   admin ${s.admin}`);
  for (const g of s.gatewayPorts ?? []) io.out(`gateway ${g.protocol.toUpperCase()} ${g.serverPort} -> ${g.address}:${g.port}`);
  io.out('');
  io.out(`${'INSTANCE'.padEnd(28)} ${'STATE'.padEnd(9)} ${'HEALTH'.padEnd(9)} ${'PID'.padEnd(8)} ${'APP'.padEnd(6)} ${'INBOUND'.padEnd(8)} ${'OUTBOUND'.padEnd(9)} RESTARTS`);
  for (const i of s.instances) {
    const health = i.healthy ? c('green', 'healthy'.padEnd(9)) : c('yellow', 'unhealthy'.padEnd(9));
    io.out(`${i.id.padEnd(28)} ${i.state.padEnd(9)} ${health} ${String(i.pid ?? '-').padEnd(8)} ${String(i.appPort).padEnd(6)} ${String(i.sidecar.inbound).padEnd(8)} ${String(i.sidecar.outbound).padEnd(9)} ${i.restarts}`);
  }
  return 0;
}
