/**
 * Who may talk to the admin API (sandbox/admin/admin-guard.ts), on a real socket: loopback Host
 * only (DNS rebinding), no other site's web page (Origin, Sec-Fetch-Site), the admin token on
 * every route that changes the sandbox, JSON bodies only (a text/plain CSRF POST), and bodies
 * bounded before they are read.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminServer } from '../../sandbox/admin/admin-server.js';

const TOKEN = 'test-token-0123456789abcdefghijklmnopqrstuv';
const TOKEN_FILE = '/state/sandboxes/sample-abc123.token';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: { error?: string; hint?: string; code?: string; status?: number; tokenFile?: string } & Record<string, unknown>;
}

let server: AdminServer;
let port = 0;
/** what the state-changing routes were asked to do */
const calls: string[] = [];

function request(method: string, path: string, headers: Record<string, string | number> = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: Reply['body'];
        try {
          parsed = JSON.parse(text) as Reply['body'];
        } catch {
          parsed = { text };
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const auth = { authorization: `Bearer ${TOKEN}` };
const json = { 'content-type': 'application/json' };

beforeAll(async () => {
  server = new AdminServer();
  server
    .route('GET', '/config_dump', 'read-only', () => ({ body: { version: 1 } }))
    .route('POST', '/faults', 'state-changing', (req) => {
      calls.push(`POST /faults ${JSON.stringify(req.body)}`);
      return { status: 201, body: { added: req.body } };
    })
    .route('DELETE', '/faults', 'state-changing', () => {
      calls.push('DELETE /faults');
      return { body: { removed: 0 } };
    })
    .route('POST', /^\/workloads\/([^/]+)\/kill$/, 'state-changing', (req) => {
      calls.push(`kill ${req.params[0]}`);
      return { body: { done: true } };
    });
  const url = await server.listen('127.0.0.1', 0, { token: TOKEN, tokenFile: TOKEN_FILE });
  port = Number(new URL(url).port);
});

afterAll(async () => {
  await server.close();
});

describe('the admin API answers only to loopback names (DNS rebinding)', () => {
  it('refuses a Host that is not loopback, on read-only and state-changing routes, with what to do', async () => {
    calls.length = 0;
    const get = await request('GET', '/config_dump', { host: `evil.example:${port}`, origin: 'http://evil.example' });
    expect(get.status).toBe(403);
    expect(get.body).toMatchObject({ code: 'MESH_ERR_ADMIN_HOST', status: 403 });
    expect(get.body.error).toBe(`Host evil.example:${port} is not a loopback address: the admin API answers only on loopback`);
    expect(get.body.hint).toContain(`http://127.0.0.1:${port}`);
    const post = await request('POST', '/faults', { host: `evil.example:${port}`, ...auth, ...json }, '{"a":1}');
    expect(post.status).toBe(403);
    expect(calls).toEqual([]);
  });

  it('refuses look-alikes: user info, a loopback name as a prefix, a trailing dot, no Host at all', async () => {
    for (const host of [`evil.example@127.0.0.1:${port}`, `127.0.0.1.evil.example:${port}`, 'localhost.evil.example', 'localhost.', '10.0.0.1', '[::2]', '0.0.0.0']) {
      const r = await request('GET', '/config_dump', { host });
      expect(r.status, host).toBe(403);
      expect(r.body.code, host).toBe('MESH_ERR_ADMIN_HOST');
    }
    // HTTP/1.0 needs no Host (Node itself answers 400 to an HTTP/1.1 request without one)
    const socket = net.connect(port, '127.0.0.1');
    let none = '';
    socket.on('data', (c: Buffer) => (none += c.toString('utf8')));
    socket.write('GET /config_dump HTTP/1.0\r\n\r\n');
    await new Promise((resolve) => socket.once('close', resolve));
    expect(none).toMatch(/^HTTP\/1\.1 403 /);
    expect(none).toContain('Host (none) is not a loopback address');
  });

  it('accepts localhost, *.localhost, 127.0.0.0/8 and [::1], with or without a port', async () => {
    for (const host of ['localhost', `localhost:${port}`, `LocalHost:${port}`, 'meshbox.localhost', `a.b.localhost:${port}`, '127.0.0.1', `127.0.0.1:${port}`, '127.3.2.1:80', '[::1]', `[::1]:${port}`, '[::ffff:127.0.0.1]']) {
      const r = await request('GET', '/config_dump', { host });
      expect(r.status, host).toBe(200);
    }
  });
});

describe('the admin API refuses web pages (CSRF)', () => {
  it("refuses an Origin that is not the admin API itself, even with the right token", async () => {
    calls.length = 0;
    for (const origin of ['http://evil.example', 'null', `http://localhost:${port + 1}`, `https://127.0.0.1:${port}`, `http://127.0.0.1:${port}/x`]) {
      const get = await request('GET', '/config_dump', { origin });
      expect(get.status, origin).toBe(403);
      expect(get.body.code, origin).toBe('MESH_ERR_ADMIN_ORIGIN');
      const post = await request('POST', '/faults', { origin, ...auth, ...json }, '{}');
      expect(post.status, origin).toBe(403);
    }
    expect(calls).toEqual([]);
    const own = await request('GET', '/config_dump', { origin: `http://127.0.0.1:${port}` });
    expect(own.status).toBe(200);
    expect((await request('GET', '/config_dump', { origin: `http://localhost:${port}` })).status).toBe(200);
  });

  it('refuses what a browser marks as sent by another site (no-cors requests carry no Origin)', async () => {
    for (const site of ['cross-site', 'same-site']) {
      const r = await request('GET', '/config_dump', { 'sec-fetch-site': site });
      expect(r.status, site).toBe(403);
      expect(r.body.error).toContain(`Sec-Fetch-Site: ${site}`);
    }
    expect((await request('GET', '/config_dump', { 'sec-fetch-site': 'none' })).status).toBe(200);
    expect((await request('GET', '/config_dump', { 'sec-fetch-site': 'same-origin' })).status).toBe(200);
  });

  it('refuses a text/plain POST (a browser "simple" request) even with the token: 415', async () => {
    calls.length = 0;
    const r = await request('POST', '/workloads/callme-service-v1-1/kill', { 'content-type': 'text/plain', ...auth }, '{"signal":"SIGKILL"}');
    expect(r.status).toBe(415);
    expect(r.body).toMatchObject({ code: 'MESH_ERR_ADMIN_CONTENT_TYPE', hint: 'send the body with `Content-Type: application/json`' });
    const form = await request('POST', '/faults', { 'content-type': 'application/x-www-form-urlencoded', ...auth }, 'a=1');
    expect(form.status).toBe(415);
    const unlabelled = await request('POST', '/faults', { ...auth }, '{"a":1}');
    expect(unlabelled.status).toBe(415);
    expect(calls).toEqual([]);
    const ok = await request('POST', '/faults', { 'content-type': 'application/json; charset=utf-8', ...auth }, '{"a":1}');
    expect(ok.status).toBe(201);
    expect(calls).toEqual(['POST /faults {"a":1}']);
  });
});

describe('the admin token', () => {
  it('is required by every route that changes the sandbox: 401 naming the header and the token file', async () => {
    calls.length = 0;
    // the case: a text/plain POST without a User-Agent
    const kill = await request('POST', '/workloads/callme-service-v1-1/kill', { 'content-type': 'text/plain' }, '{}');
    expect(kill.status).toBe(401);
    expect(kill.headers['www-authenticate']).toBe('Bearer realm="meshbox admin"');
    expect(kill.body).toMatchObject({ code: 'MESH_ERR_ADMIN_TOKEN_MISSING', status: 401, tokenFile: TOKEN_FILE });
    expect(kill.body.error).toBe('POST /workloads/callme-service-v1-1/kill changes the sandbox and needs its admin token');
    expect(kill.body.hint).toContain('`Authorization: Bearer <token>`');
    expect(kill.body.hint).toContain(TOKEN_FILE);
    const del = await request('DELETE', '/faults');
    expect(del.status).toBe(401);
    const post = await request('POST', '/faults', json, '{}');
    expect(post.status).toBe(401);
    // a route that does not exist answers 401 too: nothing is learnt without the token
    expect((await request('PUT', '/nothing', json, '{}')).status).toBe(401);
    expect(calls).toEqual([]);
  });

  it('refuses a wrong token (another sandbox, a guess, a prefix) with invalid_token', async () => {
    calls.length = 0;
    for (const wrong of ['nope', TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase()]) {
      const r = await request('POST', '/faults', { authorization: `Bearer ${wrong}`, ...json }, '{}');
      expect(r.status, wrong).toBe(401);
      expect(r.body.code).toBe('MESH_ERR_ADMIN_TOKEN_INVALID');
      expect(r.headers['www-authenticate']).toBe('Bearer realm="meshbox admin", error="invalid_token"');
      expect(r.body.hint).toContain(TOKEN_FILE);
    }
    expect((await request('POST', '/faults', { authorization: TOKEN, ...json }, '{}')).status).toBe(401);
    expect(calls).toEqual([]);
  });

  it('lets the right token through; read-only routes need none (Prometheus scrapes /metrics)', async () => {
    calls.length = 0;
    expect((await request('POST', '/faults', { ...auth, ...json }, '{"n":2}')).status).toBe(201);
    expect((await request('DELETE', '/faults', { authorization: `bearer  ${TOKEN}` })).status).toBe(200);
    expect((await request('POST', '/workloads/a-1/kill', auth)).status).toBe(200);
    expect(calls).toEqual(['POST /faults {"n":2}', 'DELETE /faults', 'kill a-1']);
    expect((await request('GET', '/config_dump')).status).toBe(200);
  });
});

describe('request bodies are bounded', () => {
  it('refuses a declared 100 MB body with 413 before any of it is sent', async () => {
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/faults', agent: false, headers: { ...auth, ...json, 'content-length': 100 * 1024 * 1024 } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Reply['body'] }));
      });
      req.on('error', reject);
      req.flushHeaders(); // headers only: the server must answer without waiting for the body
    });
    expect(reply.status).toBe(413);
    expect(reply.body).toMatchObject({ code: 'MESH_ERR_ADMIN_BODY_TOO_LARGE', error: 'request body larger than 1048576 bytes' });
  });

  it('counts a streamed (chunked) body and answers 413 once it passes 1 MiB, without waiting for its end', async () => {
    calls.length = 0;
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    let answer = '';
    const answered = new Promise<void>((resolve) => {
      socket.on('data', (c: Buffer) => {
        answer += c.toString('latin1');
        if (answer.includes('\r\n\r\n')) resolve();
      });
      socket.on('close', () => resolve());
    });
    socket.on('error', () => undefined); // the server closes it: what was read is enough
    socket.write(`POST /faults HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    for (let sent = 0; sent < 1.5 * 1024 * 1024; sent += chunk.length) socket.write(`${chunk.length.toString(16)}\r\n${chunk.toString('latin1')}\r\n`);
    // the body never ends: only a server that counts can answer
    await answered;
    socket.destroy();
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(calls).toEqual([]);
  });

  it('closes the connection of a refused body that keeps coming (it is thrown away meanwhile)', async () => {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    let answer = '';
    let closed = false;
    socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
    socket.on('error', () => undefined);
    const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    void gone.then(() => (closed = true));
    socket.write(`POST /faults HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const chunk = `${(16 * 1024).toString(16)}\r\n${' '.repeat(16 * 1024)}\r\n`;
    // 16 KiB every 20 ms, for at most 15 s: a client that never stops
    for (let i = 0; i < 750 && !closed; i++) {
      socket.write(chunk);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(closed).toBe(true);
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
  });

  it('takes a body of exactly the limit', async () => {
    calls.length = 0;
    const body = `{"a":1}${' '.repeat(1024 * 1024 - 7)}`;
    const r = await request('POST', '/faults', { ...auth, ...json }, body);
    expect(r.status).toBe(201);
    expect(calls).toEqual(['POST /faults {"a":1}']);
  });
});

describe('the admin API listens on loopback only', () => {
  it('refuses to listen on another address', async () => {
    const other = new AdminServer();
    await expect(other.listen('0.0.0.0', 0, { token: TOKEN, tokenFile: TOKEN_FILE })).rejects.toMatchObject({ code: 'MESH_ERR_LISTEN', message: expect.stringContaining('it listens on loopback only') as unknown });
    await other.close();
  });
});
