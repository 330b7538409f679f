/**
 * How caller-service reaches callme-service: meshbox's addressing contract.
 *
 * The app addresses the other service by its logical name (`http://callme-service:8080`, or
 * `CALLME_URL`). When a forward proxy is configured (`MESHBOX_OUTBOUND`, `http_proxy` or
 * `HTTP_PROXY`, first one set wins) and the host is not excluded by `NO_PROXY`/`no_proxy`, the
 * request goes to the proxy in absolute form, exactly as curl or any HTTP client configured with a
 * proxy sends it:
 *
 *     GET http://callme-service:8080/callme/ping HTTP/1.1
 *     Host: callme-service:8080
 *
 * meshbox points that variable at the app's own outbound sidecar, which routes by Host. Without a
 * proxy the app connects to the name directly, as in Kubernetes where DNS resolves it.
 */
import http from 'node:http';

export interface OutboundTarget {
  /** base URL of the service, e.g. http://callme-service:8080 */
  base: URL;
  /** the forward proxy requests go through, when one applies to base's host */
  proxy?: URL;
}

export interface OutboundRequest {
  method: string;
  /** path and query, e.g. /callme/ping */
  path: string;
  headers: Record<string, string | string[]>;
  body?: Buffer;
}

export interface OutboundResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Headers copied from the incoming request to the call it triggers (tracing, Istio routing). */
export const PROPAGATED_HEADERS = [
  'x-request-id',
  'traceparent',
  'tracestate',
  'b3',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'x-ot-span-context',
  'end-user',
  'user-agent',
] as const;

export function propagatedHeaders(incoming: http.IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name of PROPAGATED_HEADERS) {
    const value = incoming[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** Parses a proxy setting: `http://127.0.0.1:15001`, `127.0.0.1:15001` or `localhost:15001`. */
export function parseProxy(value: string): URL {
  const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  if (url.protocol !== 'http:') throw new Error(`only http:// proxies are supported, got "${value}"`);
  return url;
}

/**
 * True when `host` (and `port`) is excluded by a NO_PROXY list: `*` excludes everything; an entry
 * matches the host itself and its subdomains (`example.com` and `.example.com` both match
 * `api.example.com`); an entry with a port (`callme-service:8080`) matches that port only.
 */
export function isNoProxy(host: string, port: string, noProxy: string | undefined): boolean {
  const name = host.toLowerCase().replace(/^\[|\]$/g, '');
  for (const raw of (noProxy ?? '').split(/[,\s]+/)) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    const portMatch = /^(.*?)(?::(\d+))?$/.exec(entry.replace(/^\[(.*)\](?=:|$)/, '$1'));
    const entryHost = (portMatch?.[1] ?? entry).replace(/^\*?\./, '');
    const entryPort = portMatch?.[2];
    if (entryPort !== undefined && entryPort !== port) continue;
    if (name === entryHost || name.endsWith(`.${entryHost}`)) return true;
  }
  return false;
}

/** Resolves the target of a dependency from its URL variable and the proxy variables. */
export function resolveTarget(baseUrl: string, env: NodeJS.ProcessEnv = process.env): OutboundTarget {
  const base = new URL(baseUrl);
  if (base.protocol !== 'http:') throw new Error(`only http:// targets are supported, got "${baseUrl}"`);
  const proxyValue = [env.MESHBOX_OUTBOUND, env.http_proxy, env.HTTP_PROXY].map((v) => v?.trim()).find((v) => v);
  if (!proxyValue) return { base };
  const port = base.port || '80';
  if (isNoProxy(base.hostname, port, env.no_proxy ?? env.NO_PROXY)) return { base };
  return { base, proxy: parseProxy(proxyValue) };
}

export function describeTarget(target: OutboundTarget): string {
  return target.proxy ? `${target.base.origin} via proxy ${target.proxy.host}` : `${target.base.origin} (direct)`;
}

const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 1000 });

/**
 * Sends one request and reads the whole answer as text. Rejects on connection errors and after
 * `timeoutMs` (error code `ETIMEDOUT`). A keep-alive socket the server closed while it sat idle
 * (ECONNRESET before any answer) is retried once on a fresh connection, as Node's docs advise.
 */
export async function send(target: OutboundTarget, request: OutboundRequest, timeoutMs: number): Promise<OutboundResponse> {
  const deadline = Date.now() + timeoutMs;
  try {
    return await attempt(target, request, timeoutMs);
  } catch (err) {
    if ((err as { staleSocket?: boolean }).staleSocket && Date.now() < deadline) {
      return attempt(target, request, deadline - Date.now());
    }
    throw err;
  }
}

function attempt(target: OutboundTarget, request: OutboundRequest, timeoutMs: number): Promise<OutboundResponse> {
  const { base, proxy } = target;
  const path = new URL(request.path, base);
  const headers: http.OutgoingHttpHeaders = { ...request.headers, host: base.host };
  if (request.body !== undefined) headers['content-length'] = request.body.length;
  const options: http.RequestOptions = proxy
    ? { host: proxy.hostname, port: proxy.port || 80, path: path.href }
    : { host: base.hostname, port: base.port || 80, path: path.pathname + path.search };
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request({ ...options, method: request.method, headers, agent }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', fail);
      res.on('close', () => {
        if (!res.complete) fail(Object.assign(new Error('connection closed before the answer ended'), { code: 'ECONNRESET' }));
      });
    });
    const timer = setTimeout(() => {
      req.destroy(Object.assign(new Error(`timeout after ${timeoutMs}ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    function fail(err: Error): void {
      clearTimeout(timer);
      const code = (err as NodeJS.ErrnoException).code;
      if (!answered && req.reusedSocket && code === 'ECONNRESET') Object.assign(err, { staleSocket: true });
      reject(err);
    }
    req.on('error', fail);
    req.end(request.body);
  });
}
