/**
 * Toxiproxy's HTTP API (default 127.0.0.1:8474), compatible with its clients (toxiproxy-node-client,
 * the Go client, toxiproxy-cli): same routes, JSON shapes, status codes and error bodies as
 * Shopify/toxiproxy's api.go.
 *
 *   GET    /version                            {"version": "2.12.0"}
 *   GET    /proxies                            name -> proxy
 *   POST   /proxies                            201 proxy        (409 proxy already exists)
 *   POST   /populate                           201 {"proxies": [...]}
 *   GET    /proxies/{proxy}                    proxy            (404 proxy not found)
 *   POST   /proxies/{proxy}  (or PATCH)        proxy            (listen, upstream, enabled)
 *   DELETE /proxies/{proxy}                    204
 *   GET    /proxies/{proxy}/toxics             [toxic]
 *   POST   /proxies/{proxy}/toxics             200 toxic        (409 toxic already exists)
 *   GET    /proxies/{proxy}/toxics/{toxic}     toxic            (404 toxic not found)
 *   POST   /proxies/{proxy}/toxics/{toxic}     toxic            (attributes, toxicity; or PATCH)
 *   DELETE /proxies/{proxy}/toxics/{toxic}     204
 *   POST   /reset                              204              every proxy enabled, no toxics
 *
 * Errors are `{"error": "...", "status": N}` as Go's http.Error sends them. Loopback only, and
 * no token (Toxiproxy's clients cannot send one): instead, like the admin API, it answers only
 * requests whose Host is a loopback name, refuses requests carrying an Origin (a web page) and,
 * as Toxiproxy does, browsers' `Mozilla/` user agents, so a web page cannot drive it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MeshError } from '../errors.js';
import { packageVersion } from '../paths.js';
import { ToxiproxyApiError } from './api-error.js';
import { decodePopulate, decodeProxyCreate, decodeProxyUpdate, decodeToxicCreate, decodeToxicUpdate } from './decode.js';
import { ProxyCollection } from './proxy-collection.js';

/** the Toxiproxy release whose API this one follows */
export const TOXIPROXY_API_VERSION = '2.12.0';

const MAX_BODY = 1024 * 1024;

interface Reply {
  status: number;
  /** a value sent as JSON, or undefined for no body */
  body?: unknown;
  contentType?: string;
  /** Go's http.Error: text/plain, nosniff, a newline after the body */
  goError?: boolean;
}

type Handler = (params: string[], body: () => Promise<string>) => Promise<Reply>;

interface Route {
  pattern: RegExp;
  methods: Record<string, Handler>;
}

function errorReply(e: ToxiproxyApiError): Reply {
  return { status: e.status, body: e.toJSON(), goError: true };
}

/** Host is a loopback name (`localhost`, `127.x.x.x`, `[::1]`), with or without a port */
export function loopbackHost(host: string | undefined): boolean {
  if (host === undefined) return true;
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(host.trim().toLowerCase());
  if (!m) return false;
  const name = m[1]!;
  return name === 'localhost' || name === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name) || name.endsWith('.localhost');
}

export class ToxiproxyServer {
  private readonly servers: http.Server[] = [];
  private readonly routes: Route[];
  url = '';
  port = 0;

  constructor(readonly proxies: ProxyCollection) {
    const c = proxies;
    const s = <T>(fn: () => Promise<T>): Promise<T> => c.serial(fn);
    const name = (p: string[], i = 0): string => decodeURIComponent(p[i]!);
    this.routes = [
      {
        pattern: /^\/version$/,
        methods: {
          GET: () => Promise.resolve({ status: 200, body: `{"version": "${TOXIPROXY_API_VERSION}"}\n`, contentType: 'application/json;charset=utf-8' }),
        },
      },
      { pattern: /^\/reset$/, methods: { POST: () => s(async () => (await c.reset(), { status: 204 })) } },
      {
        pattern: /^\/proxies$/,
        methods: {
          GET: () => Promise.resolve({ status: 200, body: c.index() }),
          POST: async (_p, body) => {
            const input = decodeProxyCreate(await body());
            return s(async () => ({ status: 201, body: await c.create(input) }));
          },
        },
      },
      {
        pattern: /^\/populate$/,
        methods: {
          POST: async (_p, body) => {
            const inputs = decodePopulate(await body());
            const r = await s(() => c.populate(inputs));
            if (r.error) return { status: r.error.status, body: { ...r.error.toJSON(), proxies: r.proxies } };
            return { status: 201, body: { proxies: r.proxies } };
          },
        },
      },
      {
        pattern: /^\/proxies\/([^/]+)$/,
        methods: {
          GET: (p) => Promise.resolve({ status: 200, body: ProxyCollection.json(c.get(name(p))) }),
          POST: (p, body) => this.updateProxy(name(p), body),
          PATCH: (p, body) => this.updateProxy(name(p), body),
          DELETE: (p) => s(async () => (await c.remove(name(p)), { status: 204 })),
        },
      },
      {
        pattern: /^\/proxies\/([^/]+)\/toxics$/,
        methods: {
          GET: (p) => Promise.resolve({ status: 200, body: ProxyCollection.json(c.get(name(p))).toxics }),
          POST: async (p, body) => {
            const text = await body();
            return s(async () => {
              const proxy = c.get(name(p));
              const toxic = decodeToxicCreate(text, (n) => proxy.toxics.some((t) => t.name === n));
              return { status: 200, body: await c.addToxic(proxy.name, toxic) };
            });
          },
        },
      },
      {
        pattern: /^\/proxies\/([^/]+)\/toxics\/([^/]+)$/,
        methods: {
          GET: (p) => Promise.resolve({ status: 200, body: c.toxic(name(p), name(p, 1)) }),
          POST: (p, body) => this.updateToxic(name(p), name(p, 1), body),
          PATCH: (p, body) => this.updateToxic(name(p), name(p, 1), body),
          DELETE: (p) => s(async () => (await c.removeToxic(name(p), name(p, 1)), { status: 204 })),
        },
      },
    ];
  }

  private async updateProxy(proxyName: string, body: () => Promise<string>): Promise<Reply> {
    const text = await body();
    return this.proxies.serial(async () => {
      const p = this.proxies.get(proxyName);
      const input = decodeProxyUpdate(text, { name: p.name, listen: p.listen, upstream: p.upstream, enabled: p.enabled });
      return { status: 200, body: await this.proxies.update(proxyName, input) };
    });
  }

  private async updateToxic(proxyName: string, toxicName: string, body: () => Promise<string>): Promise<Reply> {
    const text = await body();
    return this.proxies.serial(async () => {
      this.proxies.get(proxyName);
      const current = this.proxies.toxic(proxyName, toxicName);
      return { status: 200, body: await this.proxies.updateToxic(proxyName, decodeToxicUpdate(text, current)) };
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const send = (r: Reply): void => {
      const headers: Record<string, string> = { 'x-meshbox-version': packageVersion() };
      let text = '';
      if (r.body !== undefined) text = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
      if (r.goError) {
        headers['content-type'] = 'text/plain; charset=utf-8';
        headers['x-content-type-options'] = 'nosniff';
        text += '\n';
      } else if (r.body !== undefined) headers['content-type'] = r.contentType ?? 'application/json';
      res.writeHead(r.status, headers);
      res.end(text);
    };
    const plain = (status: number, text: string): void => send({ status, body: text, goError: true });
    // a web page must not drive the sandbox: DNS rebinding (Host), cross-site requests (Origin), browsers
    const refuse = (message: string): void => send(errorReply(new ToxiproxyApiError(message, 403)));
    if (!loopbackHost(req.headers.host)) return refuse(`Host ${req.headers.host} not allowed: address the Toxiproxy API as localhost or 127.0.0.1`);
    if (req.headers.origin !== undefined) return refuse('requests from web pages (with an Origin header) are not allowed');
    if ((req.headers['user-agent'] ?? '').startsWith('Mozilla/')) return plain(403, 'User agent not allowed');

    const url = new URL(req.url ?? '/', 'http://toxiproxy');
    // Go's net/http refuses a path it cannot unescape before any handler runs
    try {
      decodeURIComponent(url.pathname);
    } catch {
      return plain(400, '400 Bad Request');
    }
    const route = this.routes.map((r) => ({ r, m: r.pattern.exec(url.pathname) })).find((x) => x.m);
    if (!route) return plain(404, '404 page not found');
    const handler = route.r.methods[req.method ?? 'GET'];
    if (!handler) {
      res.writeHead(405, { 'x-meshbox-version': packageVersion() });
      res.end();
      return;
    }
    const body = (): Promise<string> => readBody(req);
    try {
      send(await handler(route.m!.slice(1), body));
    } catch (e) {
      if (e instanceof ToxiproxyApiError) send(errorReply(e));
      else if (e instanceof MeshError) send(errorReply(new ToxiproxyApiError(`${e.message} (${e.hint})`, e.code === 'MESH_ERR_USAGE' ? 400 : 500)));
      else send(errorReply(new ToxiproxyApiError((e as Error).message, 500)));
    }
  }

  /**
   * Listens on `host:port` (port 0: the OS picks) and, for clients that resolve `localhost` to
   * ::1 first, on [::1] at the same port when `host` is 127.0.0.1 and ::1 is free.
   */
  async listen(host: string, port: number): Promise<string> {
    const first = await this.bind(host, port);
    this.port = (first.address() as AddressInfo).port;
    if (host === '127.0.0.1') await this.bind('::1', this.port).catch(() => undefined);
    this.url = `http://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
    return this.url;
  }

  private bind(host: string, port: number): Promise<http.Server> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') reject(new MeshError('MESH_ERR_PORT_IN_USE', ['the Toxiproxy API', `${host}:${port}`, '--toxiproxy-port (or --no-toxiproxy-api)']));
        else reject(new MeshError('MESH_ERR_LISTEN', ['the Toxiproxy API', `${host}:${port}`, err.message]));
      });
      server.listen({ host, port, exclusive: true }, () => {
        this.servers.push(server);
        resolve(server);
      });
    });
  }

  /** stops the API and every standalone proxy */
  async close(): Promise<void> {
    const servers = this.servers.splice(0);
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
    await this.proxies.close();
  }
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new ToxiproxyApiError('bad request body: http: request body too large', 400));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
