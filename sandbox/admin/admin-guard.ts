/**
 * Who may talk to the admin API. Every request, before any route runs:
 *   1. Host must be a loopback name or address (with or without a port): `localhost`, any
 *      `*.localhost` name (RFC 6761: always loopback, browsers never ask DNS for them), 127.0.0.0/8,
 *      `[::1]` (and `[::ffff:127.x.x.x]`). Anything else is DNS rebinding (a web page whose name now
 *      points at 127.0.0.1): 403.
 *   2. A browser's request from another site is refused: an `Origin` other than the admin API
 *      itself (http, loopback name, this port) or `Sec-Fetch-Site: cross-site | same-site`: 403.
 * Every request that is not a GET or HEAD (every route that changes the sandbox) also needs:
 *   3. the sandbox's admin token, `Authorization: Bearer <token>` (admin-token.ts): 401 without
 *      it or with another one, so no other local user, no web page (CSRF) and no app behind a
 *      sidecar (its passthrough reaches loopback) can change the sandbox;
 *   4. a body, if any, sent as `Content-Type: application/json` (a browser's "simple" text/plain
 *      POST is refused): 415;
 *   5. a body of at most MAX_ADMIN_BODY_BYTES, by Content-Length before reading anything and by
 *      counting what streams in (admin-server.ts): 413.
 * GET routes (/ready, /metrics, /stats/prometheus, /status, /config_dump, /clusters, /faults,
 * /workloads) change nothing and need no token, so Prometheus can scrape /metrics.
 */
import type http from 'node:http';
import { MeshError } from '../errors.js';
import { bearerToken, tokenMatches } from './admin-token.js';
import { isLoopbackHost } from './loopback.js';

/** 1 MiB: a fault spec or a workload action is a few hundred bytes */
export const MAX_ADMIN_BODY_BYTES = 1024 * 1024;

/** the HTTP status of each refusal */
export const REFUSAL_STATUS: Record<string, number> = {
  MESH_ERR_ADMIN_HOST: 403,
  MESH_ERR_ADMIN_ORIGIN: 403,
  MESH_ERR_ADMIN_TOKEN_MISSING: 401,
  MESH_ERR_ADMIN_TOKEN_INVALID: 401,
  MESH_ERR_ADMIN_CONTENT_TYPE: 415,
  MESH_ERR_ADMIN_BODY_TOO_LARGE: 413,
};

function isJson(contentType: string): boolean {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && Number(length) > 0) || req.headers['transfer-encoding'] !== undefined;
}

export interface GuardOptions {
  token: string;
  /** where the token is kept, named in the hints */
  tokenFile: string;
  maxBodyBytes?: number;
}

/** MeshError saying why the request is refused, or undefined to let it through */
export function refuse(req: http.IncomingMessage, opts: GuardOptions): MeshError | undefined {
  const host = req.headers.host;
  const port = req.socket.localPort ?? 0;
  const here = `http://127.0.0.1:${port}`;
  if (!isLoopbackHost(host)) return new MeshError('MESH_ERR_ADMIN_HOST', [host ?? '(none)', here]);

  const origin = req.headers.origin;
  if (origin !== undefined && !isOwnOrigin(origin, port)) return new MeshError('MESH_ERR_ADMIN_ORIGIN', [`Origin ${origin}`]);
  const site = String(req.headers['sec-fetch-site'] ?? '').toLowerCase();
  if (site === 'cross-site' || site === 'same-site') return new MeshError('MESH_ERR_ADMIN_ORIGIN', [`a ${site} web page (Sec-Fetch-Site: ${site})`]);

  const method = req.method ?? 'GET';
  if (method === 'GET' || method === 'HEAD') return undefined;
  const path = (req.url ?? '/').split('?')[0]!;
  const presented = bearerToken(req.headers.authorization);
  if (presented === undefined) return new MeshError('MESH_ERR_ADMIN_TOKEN_MISSING', [`${method} ${path}`, opts.tokenFile]);
  if (!tokenMatches(opts.token, presented)) return new MeshError('MESH_ERR_ADMIN_TOKEN_INVALID', [opts.tokenFile]);

  const type = req.headers['content-type'];
  if ((type !== undefined || hasBody(req)) && !isJson(type ?? '')) return new MeshError('MESH_ERR_ADMIN_CONTENT_TYPE', [type ?? '(none)']);
  const limit = opts.maxBodyBytes ?? MAX_ADMIN_BODY_BYTES;
  const length = Number(req.headers['content-length'] ?? 0);
  if (length > limit) return bodyTooLarge(limit);
  return undefined;
}

export function bodyTooLarge(limit: number): MeshError {
  return new MeshError('MESH_ERR_ADMIN_BODY_TOO_LARGE', [String(limit)]);
}

/** an Origin that is the admin API itself: http, a loopback name, this port */
function isOwnOrigin(origin: string, port: number): boolean {
  const m = /^http:\/\/([^/]+)$/i.exec(origin); // not `null` (sandboxed frames, file: pages), no path
  if (!m || !isLoopbackHost(m[1])) return false;
  return Number(new URL(origin).port || 80) === port;
}
