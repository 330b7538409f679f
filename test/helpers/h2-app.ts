/**
 * An HTTP/2 (h2c) workload for proxy tests, on Node's http2 module:
 *   /reset              resets the stream (RST_STREAM INTERNAL_ERROR) before any response
 *   /refuse/<n>         RST_STREAM REFUSED_STREAM to the first n requests on that path, then 200
 *   /trailers           200 with a body and trailers `x-checksum: abc`
 *   /delay/<ms>         answers 200 after ms
 *   anything else       200 JSON {instance, httpVersion, method, path, authority, headers, bodyLength}
 * Every request is recorded (headers without pseudo-headers; `authority` and `path` apart).
 */
import http2 from 'node:http2';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeApp, ReceivedRequest } from './fake-app.js';

export interface H2App extends FakeApp {
  h2server: http2.Http2Server;
  /** streams open now, and the most seen at once */
  active: number;
  maxActive: number;
}

export async function startH2App(instance: string): Promise<H2App> {
  const seen = new Map<string, number>();
  const server = http2.createServer();
  const app: H2App = {
    instance,
    port: 0,
    requests: [],
    active: 0,
    maxActive: 0,
    requestsWithId: (id) => app.requests.filter((r) => r.headers['x-request-id'] === id),
    server: undefined as unknown as http.Server,
    h2server: server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    const path = String(headers[':path'] ?? '/');
    const plain: Record<string, string | string[] | undefined> = {};
    for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':')) plain[k] = v as string | string[] | undefined;
    const chunks: Buffer[] = [];
    const record: ReceivedRequest = {
      method: String(headers[':method']),
      url: path,
      headers: { ...plain, ':authority': String(headers[':authority'] ?? '') } as http.IncomingHttpHeaders,
      get body() {
        return Buffer.concat(chunks);
      },
      complete: false,
    };
    app.requests.push(record);
    app.active++;
    app.maxActive = Math.max(app.maxActive, app.active);
    stream.once('close', () => app.active--);
    stream.on('error', () => undefined);
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      record.complete = true;
      if (path === '/reset') {
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        return;
      }
      let m = /^\/refuse\/(\d+)/.exec(path);
      if (m) {
        const n = (seen.get(path) ?? 0) + 1;
        seen.set(path, n);
        if (n <= Number(m[1])) {
          stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
          return;
        }
      }
      if (path === '/trailers') {
        stream.respond({ ':status': 200, 'content-type': 'text/plain' }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'abc' }));
        stream.end('with trailers');
        return;
      }
      const text = JSON.stringify({ instance, httpVersion: '2.0', method: headers[':method'], path, authority: headers[':authority'], headers: plain, bodyLength: record.body.length });
      const send = (): void => {
        if (stream.destroyed) return;
        stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-instance': instance });
        stream.end(text);
      };
      m = /^\/delay\/(\d+)/.exec(path);
      if (m) setTimeout(send, Number(m[1]));
      else send();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  app.port = (server.address() as AddressInfo).port;
  return app;
}

/** an HTTP/2 prior-knowledge client (what `curl --http2-prior-knowledge` does) */
export interface H2Reply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  trailers?: http2.IncomingHttpHeaders;
  body: string;
  /** the stream's RST_STREAM code when it was reset */
  rstCode?: number;
}

export function h2Request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: string | Buffer): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const reply: H2Reply = { status: 0, headers: {}, body: '' };
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      reply.status = Number(h[':status']);
      reply.headers = h;
    });
    stream.on('trailers', (t) => (reply.trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => undefined);
    stream.on('close', () => {
      reply.body = Buffer.concat(chunks).toString('utf8');
      if (stream.rstCode !== undefined && stream.rstCode !== 0) reply.rstCode = stream.rstCode;
      if (reply.status === 0 && reply.rstCode === undefined) reject(new Error('stream closed without a response'));
      else resolve(reply);
    });
    if (body !== undefined) stream.end(body);
  });
}
