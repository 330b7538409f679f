/**
 * `listen` and `upstream` addresses of standalone proxies. meshbox stays on loopback: a proxy
 * listens on 127.0.0.1 or ::1 (a wildcard such as `0.0.0.0:6380`, which Toxiproxy setups often
 * use inside containers, binds the loopback address instead) and forwards to a loopback address.
 * Errors read like Go's net package, as Toxiproxy passes them on.
 */
import net from 'node:net';
import { ToxiproxyApiError } from './api-error.js';
import type { HostPort } from './tcp-proxy-host.js';

const WILDCARDS = new Set(['', '0.0.0.0', '::', '[::]']);

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return net.isIPv4(host) && host.startsWith('127.');
}

/** Go's net.SplitHostPort, with its error text; undefined port = missing */
function splitHostPort(addr: string): { host: string; port: string } {
  const missing = new ToxiproxyApiError(`address ${addr}: missing port in address`, 500);
  if (addr.startsWith('[')) {
    const end = addr.indexOf(']');
    if (end < 0) throw new ToxiproxyApiError(`address ${addr}: missing ']' in address`, 500);
    if (addr[end + 1] !== ':') throw missing;
    return { host: addr.slice(1, end), port: addr.slice(end + 2) };
  }
  const i = addr.lastIndexOf(':');
  if (i < 0) throw missing;
  const host = addr.slice(0, i);
  if (host.includes(':')) throw new ToxiproxyApiError(`address ${addr}: too many colons in address`, 500);
  return { host, port: addr.slice(i + 1) };
}

function parsePort(port: string, addr: string, op: string): number {
  if (port === '') return 0;
  const n = Number(port);
  if (!/^\d+$/.test(port)) throw new ToxiproxyApiError(`${op}: lookup tcp/${port}: unknown port`, 500);
  if (n > 65535) throw new ToxiproxyApiError(`${op}: address ${addr}: invalid port`, 500);
  return n;
}

/** how Go prints a TCP address: `127.0.0.1:8080`, `[::1]:8080` */
export function formatAddr(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** where a standalone proxy listens: always a loopback address */
export function parseListen(listen: string): HostPort {
  if (listen === '') return { host: '127.0.0.1', port: 0 };
  let parts: { host: string; port: string };
  try {
    parts = splitHostPort(listen);
  } catch (e) {
    throw new ToxiproxyApiError(`listen tcp: ${(e as Error).message}`, 500);
  }
  const port = parsePort(parts.port, listen, 'listen tcp');
  let host = parts.host;
  if (WILDCARDS.has(host)) host = host.includes(':') ? '::1' : '127.0.0.1';
  if (host === 'localhost') host = '127.0.0.1';
  if (!isLoopback(host)) {
    throw new ToxiproxyApiError(`listen tcp ${listen}: meshbox listens on loopback only (use 127.0.0.1, ::1 or localhost)`, 400);
  }
  return { host, port };
}

/** the address the proxy forwards to: a loopback host and a port */
export function parseUpstream(upstream: string): HostPort {
  let parts: { host: string; port: string };
  try {
    parts = splitHostPort(upstream);
  } catch (e) {
    throw new ToxiproxyApiError(`upstream ${upstream}: ${(e as Error).message}`, 400);
  }
  const host = parts.host === '' ? '127.0.0.1' : parts.host;
  if (!isLoopback(host)) {
    throw new ToxiproxyApiError(`upstream ${upstream}: meshbox proxies to loopback addresses only (127.0.0.1, ::1 or localhost); run the server locally or publish its port on 127.0.0.1`, 400);
  }
  const port = Number(parts.port);
  if (!/^\d+$/.test(parts.port) || port < 1 || port > 65535) throw new ToxiproxyApiError(`upstream ${upstream}: invalid port`, 400);
  return { host, port };
}

/** Go's net error text for a failed listen, as Toxiproxy answers it (HTTP 500) */
export function listenError(addr: string, code: string, message: string): ToxiproxyApiError {
  const reason: Record<string, string> = {
    EADDRINUSE: 'bind: address already in use',
    EACCES: 'bind: permission denied',
    EADDRNOTAVAIL: 'bind: cannot assign requested address',
  };
  return new ToxiproxyApiError(`listen tcp ${addr}: ${reason[code] ?? message}`, 500);
}
