/**
 * Host names as rules use them, and how they relate to mesh services and Gateway servers.
 *
 * A host in a rule of namespace `ns` names a mesh service when it is `svc`, `svc.ns`,
 * `svc.ns.svc` or `svc.ns.svc.cluster.local` (Istio expands the short `svc` with the rule's
 * namespace; meshbox also accepts the partial forms the Kubernetes DNS search path resolves).
 * Anything else is taken as written (lowercased).
 */
import type { MeshDefinition, ServiceSpec } from './mesh-types.js';

export const CLUSTER_DOMAIN = 'cluster.local';

/** `callme-service.default.svc.cluster.local` */
export function serviceFqdn(name: string, namespace: string): string {
  return `${name}.${namespace}.svc.${CLUSTER_DOMAIN}`;
}

/** The fully qualified form of `host` in a rule of namespace `ruleNamespace`. */
export function resolveHost(host: string, ruleNamespace: string): string {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === '*' || h.startsWith('*.') || /^[\d.]+$/.test(h) || h.includes(':')) return h;
  const parts = h.split('.');
  if (parts.length === 1) return serviceFqdn(h, ruleNamespace);
  if (parts.length === 2) return serviceFqdn(parts[0]!, parts[1]!);
  if (parts.length === 3 && parts[2] === 'svc') return serviceFqdn(parts[0]!, parts[1]!);
  return h;
}

/** The mesh service `host` names, if any. */
export function meshServiceForHost(mesh: MeshDefinition, host: string, ruleNamespace: string): ServiceSpec | undefined {
  const fqdn = resolveHost(host, ruleNamespace);
  return mesh.services.find((s) => serviceFqdn(s.name, mesh.namespace) === fqdn);
}

/** True when the wildcard-or-plain `pattern` covers `host` (`*.example.com` covers `a.example.com`). */
export function hostCovers(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  if (p === '*' || p === h) return true;
  if (p.startsWith('*.')) {
    const suffix = p.slice(1);
    return h.endsWith(suffix) || (h.startsWith('*.') && h.slice(1).endsWith(suffix));
  }
  return false;
}

/** True when some host could match both `a` and `b` (wildcards on either side). */
export function hostsIntersect(a: string, b: string): boolean {
  return hostCovers(a, b) || hostCovers(b, a);
}

/**
 * Whether a Gateway server host (`[namespace/]dnsName`, namespace `*`, `.` or a name) admits
 * VirtualService host `vsHost` of a VirtualService in `vsNamespace`, for a Gateway in
 * `gatewayNamespace`.
 */
export function gatewayHostAdmits(serverHost: string, vsHost: string, vsNamespace: string, gatewayNamespace: string): boolean {
  const slash = serverHost.indexOf('/');
  const ns = slash >= 0 ? serverHost.slice(0, slash) : '*';
  const name = slash >= 0 ? serverHost.slice(slash + 1) : serverHost;
  if (ns === '.' && vsNamespace !== gatewayNamespace) return false;
  if (ns !== '*' && ns !== '.' && ns !== vsNamespace) return false;
  return hostsIntersect(name, vsHost);
}

/** `ns/name` of a gateway reference in a VirtualService of namespace `vsNamespace`. */
export function gatewayKey(ref: string, vsNamespace: string): string {
  return ref.includes('/') ? ref : `${vsNamespace}/${ref}`;
}
