/**
 * Gateway rules beyond the schema, as Istio's validation enforces them: unique port names,
 * TLS settings on HTTPS/TLS servers, no `targetPort`; and servers meshbox's ingress does not
 * serve (it serves port-80 HTTP, HTTP2 and GRPC servers), recognised but not applied.
 */
import type { Finding } from '../findings.js';
import { makeFinding } from '../codes.js';
import type { Locator } from '../schema-findings.js';
import { isObj, listAt, objAt, strAt } from './guards.js';
import { notAppliedFinding } from '../not-applied.js';

/** the server protocols the ingress serves on port 80 (as the snapshot compiler reads them) */
export const SERVED_PROTOCOLS = ['HTTP', 'HTTP2', 'GRPC'];

export function checkGateway(spec: unknown, locator: Locator): Finding[] {
  const out: Finding[] = [];
  if (!isObj(spec)) return out;
  const names = new Map<string, number>();
  listAt(spec, 'servers').forEach((server, i) => {
    const base = ['spec', 'servers', i];
    const port = objAt(server, 'port');
    const name = strAt(port, 'name');
    if (name !== undefined) {
      const first = names.get(name);
      if (first !== undefined) {
        out.push(
          makeFinding('DUPLICATE_PORT_NAME', `spec.servers[${i}].port.name: port name \`${name}\` is already used by spec.servers[${first}]`, {
            hint: 'port names must be unique across the servers of a Gateway, e.g. `http-2`',
            location: locator.locate([...base, 'port', 'name']),
          }),
        );
      } else {
        names.set(name, i);
      }
    }
    if (port?.['targetPort'] !== undefined) {
      out.push(
        makeFinding('UNSUPPORTED_VALUE', `spec.servers[${i}].port.targetPort has no effect on a Gateway (Istio rejects it)`, {
          hint: 'remove `targetPort`',
          location: locator.locate([...base, 'port', 'targetPort'], { key: true }),
        }),
      );
    }
    const protocol = strAt(port, 'protocol')?.toUpperCase();
    const number = port?.['number'];
    if (typeof number === 'number' && number !== 80) {
      out.push(notAppliedFinding([...base, 'port', 'number'], 'the ingress serves port-80 servers only (on --ingress-port): this server gets no traffic', locator, `\`${number}\``));
    } else if (protocol !== undefined && !SERVED_PROTOCOLS.includes(protocol)) {
      out.push(notAppliedFinding([...base, 'port', 'protocol'], `the ingress serves ${SERVED_PROTOCOLS.join(', ')} servers only: this server gets no traffic`, locator, `\`${strAt(port, 'protocol')}\``));
    }
    if ((protocol === 'HTTPS' || protocol === 'TLS') && !isObj((server as Record<string, unknown>)['tls'])) {
      out.push(
        makeFinding('GATEWAY_TLS_REQUIRED', `spec.servers[${i}]: a ${protocol} server needs \`tls\` settings`, {
          hint: 'add `tls: {mode: SIMPLE, credentialName: <secret>}` (or PASSTHROUGH), or use protocol HTTP',
          location: locator.locate([...base, 'port', 'protocol']),
        }),
      );
    }
  });
  return out;
}
