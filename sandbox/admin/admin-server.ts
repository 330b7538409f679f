/**
 * The admin API (Envoy admin style) on loopback, default 127.0.0.1:15000:
 *   GET /ready               200 once every workload is healthy, else 503 with what is not
 *   GET /metrics             Istio standard metrics (Prometheus text); also /stats/prometheus
 *   GET /config_dump         the active snapshot and its version, the applied rules, findings
 *   GET /clusters            clusters and endpoints with health and counters (?format=json)
 *   GET /status              the sandbox at a glance (what `meshbox status` prints)
 * Routes are a table; later capabilities add entries with `route()`.
 *
 * Before any route runs, admin-guard.ts decides who may ask: loopback `Host` only, no other
 * site's web page (`Origin`, `Sec-Fetch-Site`), and for every route that changes the sandbox (any
 * method but GET and HEAD) the admin token, a JSON body and at most 1 MiB of it. Mutating routes
 * also refuse browsers (`Mozilla/` user agents), as toxiproxy does.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MeshError } from '../errors.js';
import { isLoopbackHostname } from './loopback.js';
import { bodyTooLarge, MAX_ADMIN_BODY_BYTES, refuse, REFUSAL_STATUS, type GuardOptions } from './admin-guard.js';

export interface AdminRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  params: string[];
  body: unknown;
}

export interface AdminResponse {
  status?: number;
  /** JSON-serialisable value, or a string sent as text */
  body: unknown;
  contentType?: string;
  /** a streaming answer (tap, port-forward): takes over the response instead of `body` */
  stream?: (res: http.ServerResponse, req: http.IncomingMessage) => void;
}

type Handler = (req: AdminRequest) => AdminResponse | Promise<AdminResponse>;

interface RouteEntry {
  method: string;
  pattern: RegExp;
  handler: Handler;
  description: string;
}

export class AdminServer {
  private readonly routes: RouteEntry[] = [];
  private server: http.Server | undefined;
  private guard: GuardOptions | undefined;
  url = '';

  route(method: string, path: string | RegExp, description: string, handler: Handler): this {
    const pattern = typeof path === 'string' ? new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : path;
    this.routes.push({ method, pattern, handler, description });
    return this;
  }

  /** `auth`: the token every route that changes the sandbox requires, and the file it is kept in */
  async listen(host: string, port: number, auth: GuardOptions): Promise<string> {
    // the Host check would refuse every request sent to another address anyway
    if (!isLoopbackHostname(host)) throw new MeshError('MESH_ERR_LISTEN', ['the admin API', `${host}:${port}`, 'it listens on loopback only (127.0.0.0/8, ::1, localhost)']);
    this.guard = auth;
    this.route('GET', '/', 'this list', () => ({
      body: this.routes.map((r) => `${r.method.padEnd(6)} ${r.pattern.source.replace(/^\^|\$$/g, '').replace(/\\/g, '')}  ${r.description}`).join('\n') + '\n',
    }));
    const server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') reject(new MeshError('MESH_ERR_PORT_IN_USE', ['the admin API', `${host}:${port}`, '--admin-port']));
        else reject(new MeshError('MESH_ERR_LISTEN', ['the admin API', `${host}:${port}`, err.message]));
      });
      server.listen({ host, port, exclusive: true }, () => resolve());
    });
    this.server = server;
    const addr = server.address() as AddressInfo;
    this.url = `http://${host}:${addr.port}`;
    return this.url;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const method = req.method ?? 'GET';
    const send = (status: number, body: unknown, contentType?: string, headers: Record<string, string> = {}): void => {
      const text = typeof body === 'string' ? body : `${JSON.stringify(body, null, 2)}\n`;
      res.writeHead(status, { 'content-type': contentType ?? (typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json'), ...headers });
      res.end(text);
    };
    /** refused before its body was read: answer at once, and throw the rest of the body away */
    const sendRefusal = (e: MeshError): void => {
      const status = REFUSAL_STATUS[e.code] ?? 400;
      const headers: Record<string, string> = {};
      // even when the client asked to close: closing with its body unread would reset the connection and lose this answer
      if (!req.complete) res.shouldKeepAlive = true;
      if (status === 401) headers['www-authenticate'] = `Bearer realm="meshbox admin"${e.code === 'MESH_ERR_ADMIN_TOKEN_INVALID' ? ', error="invalid_token"' : ''}`;
      const tokenFile = status === 401 ? { tokenFile: this.guard?.tokenFile } : {};
      send(status, { error: e.message, hint: e.hint, code: e.code, status, ...tokenFile }, undefined, headers);
      discardRest(req, res);
    };
    const limit = this.guard?.maxBodyBytes ?? MAX_ADMIN_BODY_BYTES;
    try {
      const refusal = this.guard ? refuse(req, this.guard) : new MeshError('MESH_ERR_INTERNAL', ['the admin API has no token']);
      if (refusal) {
        sendRefusal(refusal);
        return;
      }
      if (method !== 'GET' && /Mozilla\//.test(req.headers['user-agent'] ?? '')) {
        if (!req.complete) res.shouldKeepAlive = true;
        send(403, { error: 'browsers may not change a meshbox sandbox', status: 403 });
        discardRest(req, res);
        return;
      }
      let matchedPath = false;
      for (const r of this.routes) {
        const m = r.pattern.exec(url.pathname);
        if (!m) continue;
        matchedPath = true;
        if (r.method !== method) continue;
        let raw: string;
        try {
          raw = method === 'GET' || method === 'DELETE' ? '' : await readText(req, limit);
        } catch (e) {
          if (e instanceof MeshError) {
            sendRefusal(e);
            return;
          }
          throw e;
        }
        let body: unknown = undefined;
        if (raw.trim()) {
          try {
            body = JSON.parse(raw);
          } catch {
            send(400, { error: 'request body is not valid JSON', status: 400 });
            return;
          }
        }
        const out = await r.handler({ method, path: url.pathname, query: url.searchParams, params: m.slice(1), body });
        if (out.stream) out.stream(res, req);
        else send(out.status ?? 200, out.body, out.contentType);
        return;
      }
      send(matchedPath ? 405 : 404, { error: matchedPath ? `${method} not allowed on ${url.pathname}` : `no admin route ${url.pathname}; GET / lists them`, status: matchedPath ? 405 : 404 });
    } catch (e) {
      if (e instanceof MeshError) {
        const status = e.code === 'MESH_ERR_USAGE' ? 400 : 409;
        send(status, { error: e.message, hint: e.hint, code: e.code, status });
      } else send(500, { error: (e as Error).message, status: 500 });
    }
  }

  close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return Promise.resolve();
    // answers in flight (a `/ready` asked as the sandbox stops itself) are written first; idle
    // keep-alive connections close now, long-lived ones (`/tap`, `/logs` streams) after a grace
    return new Promise((resolve) => {
      const grace = setTimeout(() => s.closeAllConnections(), 1_000);
      grace.unref();
      s.close(() => {
        clearTimeout(grace);
        resolve();
      });
      s.closeIdleConnections();
    });
  }
}

/** the body as text; rejects with MESH_ERR_ADMIN_BODY_TOO_LARGE as soon as more than `limit` bytes came */
function readText(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume(); // the rest is thrown away (discardRest)
        chunks.length = 0;
        reject(bodyTooLarge(limit));
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** how long the rest of a refused request's body is read (and thrown away) before the connection is closed */
const DISCARD_MS = 2_000;

/**
 * After a refusal the rest of the body is read and thrown away (Node does it for a body not yet
 * read; readText does it past the limit), so the client can read the answer: closing at once
 * would reset the connection under the client's feet and lose the answer. A body still coming
 * DISCARD_MS after the answer has its connection closed.
 */
function discardRest(req: http.IncomingMessage, res: http.ServerResponse): void {
  res.once('finish', () => {
    if (req.complete) return;
    const socket = req.socket;
    const timer = setTimeout(() => socket.destroy(), DISCARD_MS);
    timer.unref();
    const clear = (): void => clearTimeout(timer);
    req.once('end', clear);
    socket.once('close', clear);
  });
}
