/**
 * x-forwarded-for and x-envoy-internal at the edge (the ingress gateway), as Envoy does with
 * `use_remote_address: true` and no trusted hops (Istio's gateway settings):
 * - the downstream connection's address is appended to XFF (created when absent);
 * - the request is internal if and only if it came without an XFF and from an internal
 *   (loopback, RFC 1918 or RFC 4193) address: then `x-envoy-internal: true`; otherwise a
 *   client's own `x-envoy-internal` is removed, so an outside caller cannot claim to be inside;
 * - `x-forwarded-proto` is how the client reached the gateway (its listener is plain HTTP): a
 *   downstream value is trusted only from trusted hops, and there are none.
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

/** mutates `headers` (already copied from the request) for a request arriving at the edge */
export function applyEdgeForwarding(headers: HeaderMap, remoteAddress: string): void {
  const xff = headers['x-forwarded-for'];
  const incoming = xff === undefined ? '' : Array.isArray(xff) ? xff.join(', ') : String(xff);
  headers['x-forwarded-for'] = incoming ? `${incoming}, ${remoteAddress}` : remoteAddress;
  if (!incoming && isInternalAddress(remoteAddress)) headers['x-envoy-internal'] = 'true';
  else delete headers['x-envoy-internal'];
  headers['x-forwarded-proto'] = 'http';
}
