/**
 * A fake workload for proxy tests: an HTTP server that says who it is and misbehaves on demand.
 *   /status/<code>       answers that status
 *   /delay/<ms>          answers 200 after ms
 *   /flaky/<n>           answers 503 to the first n requests it sees on that path, then 200
 *   anything else        200 JSON {instance, method, url, headers}
 * `fail` (set from the test) makes every request answer that status.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeApp {
  instance: string;
  port: number;
  server: http.Server;
  requests: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders }>;
  fail?: number;
  close(): Promise<void>;
}

export async function startFakeApp(instance: string): Promise<FakeApp> {
  const seen = new Map<string, number>();
  const app: FakeApp = {
    instance,
    port: 0,
    requests: [],
    server: http.createServer((req, res) => {
      app.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      req.resume();
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
      reply(200, { instance, method: req.method, url, headers: req.headers });
    }),
    close: () =>
      new Promise((resolve) => {
        app.server.close(() => resolve());
        app.server.closeAllConnections();
      }),
  };
  await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r));
  app.port = (app.server.address() as AddressInfo).port;
  return app;
}
