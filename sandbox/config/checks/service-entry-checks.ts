/**
 * ServiceEntry rules Istio's validation enforces beyond the schema: STATIC needs endpoints whose
 * addresses are IPs; NONE takes no endpoints; DNS for a wildcard host needs endpoints; port
 * protocols are Istio's (any case). Ports whose protocol meshbox does not route (TCP, TLS, HTTPS,
 * MONGO: it routes HTTP, HTTP2, GRPC) are recognised, not applied.
 */
import { isIP } from 'node:net';
import type { Finding } from '../findings.js';
import { makeFinding } from '../codes.js';
import type { Locator } from '../schema-findings.js';
import { notAppliedFinding } from '../not-applied.js';
import { isObj, listAt, strAt } from './guards.js';

export const SERVICE_ENTRY_PROTOCOLS = ['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'MONGO', 'TCP', 'TLS', 'UDP', 'REDIS', 'MYSQL'];
/** the protocols meshbox routes on a ServiceEntry port */
export const ROUTED_PROTOCOLS = ['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB'];

export function checkServiceEntry(spec: unknown, locator: Locator): Finding[] {
  const out: Finding[] = [];
  if (!isObj(spec)) return out;
  const resolution = strAt(spec, 'resolution') ?? 'NONE';
  const endpoints = listAt(spec, 'endpoints');
  const hosts = listAt(spec, 'hosts').filter((h): h is string => typeof h === 'string');
  const bad = (path: Array<string | number>, message: string, hint: string): void => {
    out.push(makeFinding('INVALID_SERVICE_ENTRY', message, { hint, location: locator.locate(path) }));
  };
  if (resolution === 'STATIC' && endpoints.length === 0) {
    bad(['spec', 'resolution'], 'resolution STATIC needs `endpoints` (Istio: "endpoints must be provided if service entry discovery mode is static")', 'add `endpoints: [{address: <ip>}]`, or use resolution DNS');
  }
  if (resolution === 'NONE' && endpoints.length > 0) {
    bad(['spec', 'endpoints'], 'resolution NONE takes no `endpoints` (Istio: "no endpoints should be provided for resolution type none")', 'remove `endpoints`, or use resolution STATIC or DNS');
  }
  if ((resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') && endpoints.length === 0) {
    hosts.forEach((h, i) => {
      if (h.startsWith('*')) bad(['spec', 'hosts', i], `host \`${h}\`: a wildcard host cannot be resolved by DNS without \`endpoints\``, 'use resolution NONE for wildcard hosts, or give endpoints');
    });
  }
  if (resolution === 'STATIC') {
    endpoints.forEach((e, i) => {
      const address = strAt(e, 'address');
      if (address !== undefined && isIP(address) === 0 && !address.startsWith('unix://')) {
        bad(['spec', 'endpoints', i, 'address'], `endpoint address \`${address}\` is not an IP address, as resolution STATIC requires`, 'use the IP address, or resolution DNS for host names');
      }
    });
  }
  listAt(spec, 'ports').forEach((p, i) => {
    const protocol = strAt(p, 'protocol');
    if (protocol === undefined) return;
    const upper = protocol.toUpperCase();
    if (!SERVICE_ENTRY_PROTOCOLS.includes(upper)) {
      bad(['spec', 'ports', i, 'protocol'], `port protocol \`${protocol}\` is not one Istio knows (${SERVICE_ENTRY_PROTOCOLS.join(', ')})`, 'use HTTP for plain HTTP, HTTPS or TLS for TLS passthrough');
    } else if (!ROUTED_PROTOCOLS.includes(upper)) {
      out.push(notAppliedFinding(['spec', 'ports', i, 'protocol'], `meshbox routes ${ROUTED_PROTOCOLS.join(', ')} ports of a ServiceEntry: requests to this port go by the outbound traffic policy (for TLS origination, declare an HTTP port with targetPort 443 and a DestinationRule tls SIMPLE)`, locator, `\`${protocol}\``));
    }
  });
  return out;
}
