/**
 * The admin API (Envoy admin style) on loopback, default 127.0.0.1:15000:
 *   GET /ready               200 once every workload is healthy, else 503 with what is not
 *   GET /metrics             Istio standard metrics (Prometheus text); also /stats/prometheus
 *   GET /config_dump         the active snapshot and its version, the applied rules, findings
 *   GET /clusters            clusters and endpoints with health and counters (?format=json)
 *   GET /status              the sandbox at a glance (what `meshbox status` prints)
 * Routes are a table; later capabilities add entries with `route()`.
 *
 * Mutating routes refuse browsers (`Mozilla/` user agents), as toxiproxy does, so a web page
 * cannot drive a developer's sandbox.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MeshError } from '../errors.js';

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
  url = '';

  route(method: string, path: string | RegExp, description: string, handler: Handler): this {
    const pattern = typeof path === 'string' ? new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : path;
    this.routes.push({ method, pattern, handler, description });
    return this;
  }

  async listen(host: string, port: number): Promise<string> {
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
    const send = (status: number, body: unknown, contentType?: string): void => {
      const text = typeof body === 'string' ? body : `${JSON.stringify(body, null, 2)}\n`;
      res.writeHead(status, { 'content-type': contentType ?? (typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json') });
      res.end(text);
    };
    try {
      if (method !== 'GET' && /Mozilla\//.test(req.headers['user-agent'] ?? '')) {
        send(403, { error: 'browsers may not change a meshbox sandbox', status: 403 });
        return;
      }
      let matchedPath = false;
      for (const r of this.routes) {
        const m = r.pattern.exec(url.pathname);
        if (!m) continue;
        matchedPath = true;
        if (r.method !== method) continue;
        const raw = method === 'GET' || method === 'DELETE' ? '' : await readText(req);
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
      if (e instanceof MeshError) send(e.code === 'MESH_ERR_USAGE' ? 400 : 409, { error: e.message, hint: e.hint, code: e.code, status: 400 });
      else send(500, { error: (e as Error).message, status: 500 });
    }
  }

  close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }
}

function readText(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
