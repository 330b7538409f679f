/**
 * Gateway rules beyond the schema, as Istio's validation enforces them: unique port names,
 * TLS settings on HTTPS/TLS servers, no `targetPort`; and servers meshbox's ingress does not
 * serve, recognised but not applied: it serves HTTP, HTTP2, GRPC and GRPC-WEB servers (port 80
 * on the ingress address, others on their own port), TCP and MONGO servers, and TLS/HTTPS
 * servers in `PASSTHROUGH` mode; it terminates no TLS.
 */
import type { Finding } from '../findings.js';
import { makeFinding } from '../codes.js';
import type { Locator } from '../schema-findings.js';
import { isObj, listAt, objAt, strAt } from './guards.js';
import { notAppliedFinding } from '../not-applied.js';

/** the server protocols the ingress serves (as the snapshot compiler reads them: gatewayServerProtocol) */
export const SERVED_PROTOCOLS = ['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB', 'TCP', 'MONGO', 'TLS', 'HTTPS'];

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
    const mode = strAt(objAt(server, 'tls'), 'mode');
    if (protocol !== undefined && !SERVED_PROTOCOLS.includes(protocol)) {
      out.push(notAppliedFinding([...base, 'port', 'protocol'], `the ingress serves ${SERVED_PROTOCOLS.join(', ')} servers only: this server gets no traffic`, locator, `\`${strAt(port, 'protocol')}\``));
    } else if ((protocol === 'HTTPS' || protocol === 'TLS') && mode !== undefined && mode !== 'PASSTHROUGH') {
      out.push(notAppliedFinding([...base, 'tls', 'mode'], 'the ingress terminates no TLS (it serves PASSTHROUGH servers, routed by SNI): this server gets no traffic', locator, `\`${mode}\``));
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
