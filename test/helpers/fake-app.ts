/**
 * A fake workload for proxy tests: an HTTP server that says who it is and misbehaves on demand.
 *   /status/<code>       answers that status
 *   /delay/<ms>          answers 200 after ms
 *   /flaky/<n>           answers 503 to the first n requests it sees on that path, then 200
 *   /slow-body/<ms>      sends the head and half of the body at once, the other half after ms
 *   anything else        200 JSON {instance, method, url, headers, bodyLength}
 * `fail` (set from the test) makes every request answer that status.
 *
 * Every request is recorded when it arrives (so a test can count what reached the app, even a
 * request whose client went away), with the body bytes received so far; `complete` turns true
 * once the whole body arrived. The app answers after the request body ended.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** the request body as received so far */
  readonly body: Buffer;
  /** the request body ended (false: the request was cut while its body arrived) */
  complete: boolean;
}

export interface FakeApp {
  instance: string;
  port: number;
  server: http.Server;
  requests: ReceivedRequest[];
  fail?: number;
  /** requests recorded with this x-request-id */
  requestsWithId(id: string): ReceivedRequest[];
  close(): Promise<void>;
}

export async function startFakeApp(instance: string): Promise<FakeApp> {
  const seen = new Map<string, number>();
  const app: FakeApp = {
    instance,
    port: 0,
    requests: [],
    requestsWithId: (id) => app.requests.filter((r) => r.headers['x-request-id'] === id),
    server: http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      const record: ReceivedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        get body() {
          return Buffer.concat(chunks);
        },
        complete: false,
      };
      app.requests.push(record);
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        record.complete = true;
        respond(req, res, record);
      });
    }),
    close: () =>
      new Promise((resolve) => {
        app.server.close(() => resolve());
        app.server.closeAllConnections();
      }),
  };
  const respond = (req: http.IncomingMessage, res: http.ServerResponse, record: ReceivedRequest): void => {
    const url = req.url ?? '/';
    const reply = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'x-instance': instance, 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (app.fail) return reply(app.fail, { instance, failing: true });
    let m = /^\/status\/(\d+)/.exec(url);
    if (m) return reply(Number(m[1]), { instance, status: Number(m[1]) });
    m = /^\/delay\/(\d+)/.exec(url);
    if (m) {
      const t = setTimeout(() => reply(200, { instance, delayed: Number(m![1]) }), Number(m[1]));
      res.on('close', () => clearTimeout(t));
      return;
    }
    m = /^\/flaky\/(\d+)/.exec(url);
    if (m) {
      const n = (seen.get(url) ?? 0) + 1;
      seen.set(url, n);
      return reply(n <= Number(m[1]) ? 503 : 200, { instance, n });
    }
    m = /^\/slow-body\/(\d+)/.exec(url);
    if (m) {
      const body = Buffer.from('x'.repeat(64));
      res.writeHead(200, { 'content-type': 'text/plain', 'x-instance': instance, 'content-length': body.length });
      res.write(body.subarray(0, 32));
      const t = setTimeout(() => res.end(body.subarray(32)), Number(m[1]));
      res.on('close', () => clearTimeout(t));
      return;
    }
    reply(200, { instance, method: req.method, url, headers: req.headers, bodyLength: record.body.length });
  };
  await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r));
  app.port = (app.server.address() as AddressInfo).port;
  return app;
}
