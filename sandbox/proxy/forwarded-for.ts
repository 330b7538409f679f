/**
 * x-forwarded-for and the trusted client address, as Envoy's HTTP connection manager does them
 * (conn_manager_utility.cc, "x-forwarded-for" in Envoy's header docs).
 *
 * At the edge (the ingress gateway) Envoy runs with `use_remote_address: true` and
 * `xff_num_trusted_hops` = Istio's `gatewayTopology.numTrustedProxies` (meshbox.yaml
 * `ingress.gatewayTopology.numTrustedProxies`, default 0):
 * - the trusted client address is the Nth address from the right of the X-Forwarded-For that
 *   arrived (N trusted proxies in front), or the connection's peer when N is 0 or the header has
 *   too few valid addresses;
 * - the peer's address is appended to XFF (created when absent);
 * - the request is internal if and only if it came without an XFF and from an internal
 *   (loopback, RFC 1918 or RFC 4193) address: then `x-envoy-internal: true`; otherwise a
 *   client's own `x-envoy-internal` is removed, so an outside caller cannot claim to be inside,
 *   and `x-envoy-external-address` is set to the trusted client address;
 * - `x-forwarded-proto` is how the client reached the gateway (its listener is plain HTTP): a
 *   downstream value is trusted only when there are trusted hops.
 * A sidecar (`use_remote_address: false`, no trusted hops) leaves XFF alone; its trusted client
 * address is the last XFF address, else the peer.
 * The trusted client address is what AuthorizationPolicy `remoteIpBlocks` / `remote.ip` match
 * (Envoy RBAC's `remote_ip`); `ipBlocks` / `source.ip` match the peer (`direct_remote_ip`).
 */
import { isIP } from 'node:net';
import type { HeaderMap } from './routing/header-ops.js';

/** loopback, RFC 1918 (10/8, 172.16/12, 192.168/16) and RFC 4193 (fc00::/7), IPv4-mapped too */
export function isInternalAddress(address: string): boolean {
  const a = address.toLowerCase().replace(/^::ffff:(?=\d+\.)/, '');
  if (isIP(a) === 4) {
    const [p, q] = a.split('.').map(Number) as [number, number];
    return p === 127 || p === 10 || (p === 172 && q >= 16 && q <= 31) || (p === 192 && q === 168);
  }
  if (isIP(a) === 6) return a === '::1' || /^f[cd][0-9a-f]{0,2}:/.test(a);
  return false;
}

/** `::ffff:10.0.0.1` -> `10.0.0.1` (Node's form of an IPv4 peer on a dual-stack socket) */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

function headerText(value: string | string[] | number | undefined): string {
  return value === undefined ? '' : Array.isArray(value) ? value.join(', ') : String(value);
}

/** Envoy's getLastAddressFromXFF: the address `skip` places from the right, when it is a valid IP */
function fromRight(xff: string, skip: number): string | undefined {
  const entries = xff
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e.length > 0);
  const at = entries[entries.length - 1 - skip];
  return at !== undefined && isIP(at) ? at : undefined;
}

export interface ForwardingSettings {
  /** Envoy's use_remote_address: true at the gateway, false on sidecars */
  useRemoteAddress: boolean;
  /** Envoy's xff_num_trusted_hops (Istio's gatewayTopology.numTrustedProxies) */
  numTrustedHops: number;
}

/** the trusted client address of a request (Envoy's downstream remote address), from the XFF that arrived */
export function trustedClientAddress(xff: string | string[] | undefined, peer: string, s: ForwardingSettings): string {
  const text = headerText(xff);
  const hops = Math.max(0, Math.floor(s.numTrustedHops));
  const found = s.useRemoteAddress ? (hops > 0 ? fromRight(text, hops - 1) : undefined) : fromRight(text, hops);
  return plainAddress(found ?? peer);
}

/** mutates `headers` (already copied from the request) for a request arriving at the edge */
export function applyEdgeForwarding(headers: HeaderMap, remoteAddress: string, numTrustedHops = 0): void {
  const incoming = headerText(headers['x-forwarded-for']);
  const trusted = trustedClientAddress(incoming, remoteAddress, { useRemoteAddress: true, numTrustedHops });
  headers['x-forwarded-for'] = incoming ? `${incoming}, ${remoteAddress}` : remoteAddress;
  if (!incoming && isInternalAddress(trusted)) headers['x-envoy-internal'] = 'true';
  else {
    delete headers['x-envoy-internal'];
    if (isIP(trusted)) headers['x-envoy-external-address'] = trusted;
  }
  if (numTrustedHops <= 0 || headers['x-forwarded-proto'] === undefined) headers['x-forwarded-proto'] = 'http';
}
