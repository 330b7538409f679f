/**
 * Options of the load generator and their validation. A run is refused (MeshError
 * MESH_ERR_USAGE, with a hint) unless it targets loopback, has exactly one traffic model
 * (open loop `rate` or closed loop `concurrency`) and at least one bound
 * (`durationMs` or `maxRequests`), so every run stops by itself and never leaves the machine.
 */
import type http from 'node:http';
import net from 'node:net';
import { MeshError } from '../errors.js';

export interface LoadOptions {
  /** target, e.g. http://127.0.0.1:8080/caller/ping; loopback only (127.0.0.0/8, localhost, ::1) */
  url: string;
  /** default GET */
  method?: string;
  /** request headers, e.g. `{ Host: 'caller.example.com' }` */
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /**
   * Open loop: requests per second, sent at fixed intervals whatever the answers do. Latency is
   * measured from each request's scheduled send time, so time spent queued behind slow answers
   * counts (wrk2-style, no coordinated omission).
   */
  rate?: number;
  /** open loop: keep-alive connections the requests share (default 32) */
  connections?: number;
  /** closed loop: workers, each sending its next request when the previous one ends */
  concurrency?: number;
  /** measured period in ms, after the warm-up */
  durationMs?: number;
  /** at most this many measured requests */
  maxRequests?: number;
  /** ms of traffic before the measured period: sent, but left out of every count (default 0) */
  warmupMs?: number;
  /** per-request timeout in ms, from the request's scheduled time (default 10000) */
  timeoutMs?: number;
  /**
   * Counts answers by a label of your choosing, e.g. which version answered:
   * `(res, body) => /callme-service (v\d)/.exec(body)?.[1]`. undefined: not counted.
   * The body is only read (as UTF-8 text) when classify is set.
   */
  classify?: (res: http.IncomingMessage, body: string) => string | undefined;
  /** ms between `progress` events and live-window rotations (default 1000) */
  progressIntervalMs?: number;
}

/** Options after validation, with defaults filled in. */
export interface ResolvedLoadOptions {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  mode: 'open' | 'closed';
  rate: number;
  connections: number;
  concurrency: number;
  durationMs: number | undefined;
  maxRequests: number | undefined;
  warmupMs: number;
  timeoutMs: number;
  classify: LoadOptions['classify'];
  progressIntervalMs: number;
}

export const DEFAULT_CONNECTIONS = 32;
export const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_RATE = 200_000;
const MAX_WORKERS = 10_000;

function refuse(message: string, hint: string): never {
  throw new MeshError('MESH_ERR_USAGE', [`load generator: ${message}`], { hint });
}

/** True for 127.0.0.0/8, ::1 (also IPv4-mapped 127.x) and `localhost`. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  if (net.isIPv6(host)) return host === '::1' || /^::ffff:127\./.test(host) || /^::ffff:7f[0-9a-f]{2}:/.test(host);
  return false;
}

function positive(name: string, value: number | undefined, integer: boolean, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max || (integer && !Number.isInteger(value))) {
    refuse(`${name} must be a ${integer ? 'whole ' : ''}number above 0${max < Number.MAX_SAFE_INTEGER ? ` and at most ${max}` : ''}, got ${String(value)}`, `fix ${name}`);
  }
  return value;
}

export function resolveLoadOptions(options: LoadOptions): ResolvedLoadOptions {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    refuse(`"${options.url}" is not a URL`, 'give a full URL such as http://127.0.0.1:8080/caller/ping');
  }
  if (url.protocol !== 'http:') refuse(`only http:// URLs are supported, got "${options.url}"`, 'use an http:// URL');
  if (!isLoopbackHost(url.hostname)) {
    refuse(
      `refusing to send load to "${url.hostname}": only loopback targets (127.0.0.0/8, localhost, ::1) are allowed`,
      'point the load at a meshbox listener on this machine (the ingress gateway or a sidecar); set a Host header to choose the virtual host',
    );
  }
  const rate = positive('rate', options.rate, false, MAX_RATE);
  const concurrency = positive('concurrency', options.concurrency, true, MAX_WORKERS);
  if (rate !== undefined && concurrency !== undefined) {
    refuse('rate and concurrency are both set', 'set rate for an open loop (fixed arrival rate) or concurrency for a closed loop, not both');
  }
  if (rate === undefined && concurrency === undefined) {
    refuse('neither rate nor concurrency is set', 'set rate (requests per second, open loop) or concurrency (workers, closed loop)');
  }
  const connections = positive('connections', options.connections, true, MAX_WORKERS);
  if (connections !== undefined && rate === undefined) {
    refuse('connections applies to the open loop only', 'drop connections: a closed loop uses one connection per worker (concurrency)');
  }
  const durationMs = positive('durationMs', options.durationMs, false);
  const maxRequests = positive('maxRequests', options.maxRequests, true);
  if (durationMs === undefined && maxRequests === undefined) {
    refuse('the run has no bound', 'set durationMs and/or maxRequests so the run stops by itself');
  }
  const warmupMs = options.warmupMs ?? 0;
  if (!Number.isFinite(warmupMs) || warmupMs < 0) refuse(`warmupMs must be 0 or more, got ${String(warmupMs)}`, 'fix warmupMs');
  const method = (options.method ?? 'GET').toUpperCase();
  if (!/^[A-Z]+$/.test(method)) refuse(`"${options.method}" is not an HTTP method`, 'use GET, POST, ...');
  return {
    url,
    method,
    headers: { ...options.headers },
    body: options.body === undefined ? undefined : Buffer.from(options.body),
    mode: rate !== undefined ? 'open' : 'closed',
    rate: rate ?? 0,
    connections: rate !== undefined ? (connections ?? DEFAULT_CONNECTIONS) : 0,
    concurrency: concurrency ?? 0,
    durationMs,
    maxRequests,
    warmupMs,
    timeoutMs: positive('timeoutMs', options.timeoutMs, false) ?? DEFAULT_TIMEOUT_MS,
    classify: options.classify,
    progressIntervalMs: positive('progressIntervalMs', options.progressIntervalMs, false) ?? 1000,
  };
}
