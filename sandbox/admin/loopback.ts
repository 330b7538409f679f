/**
 * Loopback names and addresses, as the admin API accepts them in `Host` and `Origin`:
 * `localhost`, any `*.localhost` name (RFC 6761 section 6.3: always loopback; browsers resolve
 * them to loopback themselves and never ask DNS, so DNS rebinding cannot use them), 127.0.0.0/8,
 * `::1` and IPv4-mapped `::ffff:127.x.x.x`; with or without a port.
 */
import net from 'node:net';

const loopback = new net.BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6'); // IPv4-mapped 127.x.x.x matches the ipv4 subnet

/** a URL's hostname (`localhost`, `127.0.0.1`, `[::1]`, as `new URL()` gives it) that is loopback */
export function isLoopbackHostname(hostname: string): boolean {
  const h = hostname.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const ip = h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
  const family = net.isIP(ip);
  return family !== 0 && loopback.check(ip, family === 6 ? 'ipv6' : 'ipv4');
}

/** host[:port] only: no user info, path or anything a URL parser would read past */
const HOST_SYNTAX = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

/** `Host` (or an authority) that names a loopback address; `new URL` normalises 127.1, 0x7f.1, ... */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host || !HOST_SYNTAX.test(host)) return false;
  try {
    return isLoopbackHostname(new URL(`http://${host}/`).hostname);
  } catch {
    return false;
  }
}

