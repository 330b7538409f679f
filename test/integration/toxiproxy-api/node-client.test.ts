/**
 * meshbox's Toxiproxy API driven by the official Node client (toxiproxy-node-client from npm),
 * on real sockets: a suite written for Toxiproxy runs unchanged, and bad input gets Toxiproxy's
 * statuses and error bodies.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Toxiproxy, type ICreateToxicBody, type Latency } from 'toxiproxy-node-client';
import { startToxiproxyApi } from '../../../sandbox/toxiproxy-api/toxiproxy-api.js';
import type { ToxiproxyServer } from '../../../sandbox/toxiproxy-api/toxiproxy-server.js';

/** an echo server: every chunk comes back as it is */
async function echoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('data', (d) => s.write(d));
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** one round trip through `port` on a fresh connection, in ms */
function roundTrip(port: number, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const s = net.connect(port, host, () => s.write('ping'));
    s.once('data', () => {
      resolve(performance.now() - start);
      s.destroy();
    });
    s.once('error', reject);
    setTimeout(() => {
      s.destroy();
      reject(new Error('no answer in 5 s'));
    }, 5000).unref();
  });
}

/** the fastest of three round trips: a loaded machine slows some, never all, and never below a toxic's latency */
async function fastest(port: number): Promise<number> {
  const times = [await roundTrip(port), await roundTrip(port), await roundTrip(port)];
  return Math.min(...times);
}

function portOf(listen: string): number {
  return Number(listen.slice(listen.lastIndexOf(':') + 1));
}

let api: ToxiproxyServer;
let echo: { port: number; close(): Promise<void> };
let url: string;

beforeAll(async () => {
  echo = await echoServer();
  api = await startToxiproxyApi({ port: 0, seed: 7, inProcess: process.env.MESHBOX_TEST_WORKER !== '1' });
  url = api.url;
});

afterAll(async () => {
  await api.close();
  await echo.close();
});

/**
 * A suite as written against Toxiproxy (only the URL is configuration): create a proxy, add a
 * latency toxic, measure it, remove it, reset.
 */
describe('a Toxiproxy test suite, unchanged', () => {
  let toxiproxy: Toxiproxy;
  beforeEach(async () => {
    toxiproxy = new Toxiproxy(url);
    await toxiproxy.reset();
    for (const p of Object.values(await toxiproxy.getAll())) await p.remove();
  });

  it('creates a proxy, adds a latency toxic, measures it, removes it, resets', async () => {
    const proxy = await toxiproxy.createProxy({ name: 'redis', listen: 'localhost:0', upstream: `localhost:${echo.port}` });
    expect(proxy.enabled).toBe(true);
    expect(proxy.listen).toMatch(/^127\.0\.0\.1:\d+$/);
    const port = portOf(proxy.listen);
    expect(await fastest(port)).toBeLessThan(250);

    const body: ICreateToxicBody<Latency> = { type: 'latency', name: 'slow', stream: 'downstream', toxicity: 1, attributes: { latency: 300, jitter: 0 } };
    const toxic = await proxy.addToxic(body);
    expect(toxic.toJson()).toEqual({ name: 'slow', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 300, jitter: 0 } });
    // a timer never fires early: every answer waits the toxic's 300 ms
    expect(await roundTrip(port)).toBeGreaterThanOrEqual(295);

    const again = await proxy.getToxic('slow');
    expect(again.attributes).toEqual({ latency: 300, jitter: 0 });
    const updated = await again.update({ ...again.toJson(), attributes: { latency: 0, jitter: 0 } } as ICreateToxicBody<Latency>);
    expect(updated.attributes).toEqual({ latency: 0, jitter: 0 });
    expect(await fastest(port)).toBeLessThan(250);

    await updated.remove();
    await expect(proxy.getToxic('slow')).rejects.toThrow('Request failed with status code 404');

    await proxy.addToxic({ type: 'latency', attributes: { latency: 300 } } as ICreateToxicBody<Latency>);
    const disabled = await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
    expect(disabled.enabled).toBe(false);
    await expect(roundTrip(port)).rejects.toThrow(/ECONNREFUSED/);

    await toxiproxy.reset();
    const after = await toxiproxy.get('redis');
    expect(after.enabled).toBe(true);
    const raw = (await (await fetch(`${url}/proxies/redis/toxics`)).json()) as unknown[];
    expect(raw).toEqual([]);
    expect(await fastest(portOf(after.listen))).toBeLessThan(250);
  });

  it('latency toxics on one stream stack, as in Toxiproxy 2', async () => {
    const proxy = await toxiproxy.createProxy({ name: 'stacked', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` });
    await proxy.addToxic({ type: 'latency', name: 'first', attributes: { latency: 150 } } as ICreateToxicBody<Latency>);
    await proxy.addToxic({ type: 'latency', name: 'second', attributes: { latency: 150 } } as ICreateToxicBody<Latency>);
    expect(await roundTrip(portOf(proxy.listen))).toBeGreaterThanOrEqual(295);
  });

  it('populates proxies and lists them', async () => {
    const created = await toxiproxy.populate([
      { name: 'pg', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` },
      { name: 'cache', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}`, enabled: false },
    ]);
    expect(Object.keys(created).sort()).toEqual(['cache', 'pg']);
    expect(created['cache']!.enabled).toBe(false);
    const all = await toxiproxy.getAll();
    expect(Object.keys(all)).toEqual(['cache', 'pg']);
    expect(await roundTrip(portOf(all['pg']!.listen))).toBeLessThan(1000);
    expect(await toxiproxy.getVersion()).toBe('{"version": "2.12.0"}\n');
  });
});

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; text: string; json: () => unknown; type: string | null }> {
  const res = await fetch(`${url}${path}`, { method, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body), headers });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as unknown, type: res.headers.get('content-type') };
}

describe("Toxiproxy's semantics for updates and populate", () => {
  beforeEach(async () => {
    await call('POST', '/reset');
    for (const name of Object.keys((await call('GET', '/proxies')).json() as object)) await call('DELETE', `/proxies/${name}`);
  });

  it('a new listen restarts the proxy there; the old port is closed', async () => {
    const created = (await call('POST', '/proxies', { name: 'mv', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` })).json() as { listen: string };
    const moved = await call('PATCH', '/proxies/mv', { listen: 'localhost:0' });
    expect(moved.status).toBe(200);
    const listen = (moved.json() as { listen: string }).listen;
    expect(listen).not.toBe(created.listen);
    expect(await roundTrip(portOf(listen))).toBeLessThan(1000);
    await expect(roundTrip(portOf(created.listen))).rejects.toThrow(/ECONNREFUSED/);
  });

  it('populate keeps an identical proxy (and its toxics), replaces one whose upstream changed', async () => {
    await call('POST', '/populate', [{ name: 'keep', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` }, { name: 'swap', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` }]);
    const before = (await call('GET', '/proxies')).json() as Record<string, { listen: string }>;
    await call('POST', '/proxies/keep/toxics', { type: 'latency', attributes: { latency: 1 } });
    await call('POST', '/proxies/swap/toxics', { type: 'latency', attributes: { latency: 1 } });
    const r = await call('POST', '/populate', [
      { name: 'keep', listen: before['keep']!.listen, upstream: `127.0.0.1:${echo.port}` },
      { name: 'swap', listen: before['swap']!.listen, upstream: `localhost:${echo.port}` },
    ]);
    expect(r.status).toBe(201);
    const proxies = (r.json() as { proxies: Array<{ name: string; toxics: unknown[]; upstream: string }> }).proxies;
    expect(proxies.map((p) => [p.name, p.toxics.length, p.upstream])).toEqual([
      ['keep', 1, `127.0.0.1:${echo.port}`],
      ['swap', 0, `localhost:${echo.port}`],
    ]);
  });

  it('populate stops at the first failure and answers what it did, with the error', async () => {
    const taken = await echoServer();
    try {
      const r = await call('POST', '/populate', [
        { name: 'ok', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` },
        { name: 'clash', listen: `127.0.0.1:${taken.port}`, upstream: `127.0.0.1:${echo.port}` },
        { name: 'never', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` },
      ]);
      expect(r.status).toBe(500);
      const body = r.json() as { error: string; status: number; proxies: Array<{ name: string }> };
      expect(body.error).toBe(`listen tcp 127.0.0.1:${taken.port}: bind: address already in use`);
      expect(body.proxies.map((p) => p.name)).toEqual(['ok']);
      expect(Object.keys((await call('GET', '/proxies')).json() as object)).toEqual(['ok']);
    } finally {
      await taken.close();
    }
  });

  it('a toxic update by PATCH changes its attributes on open connections at once', async () => {
    await call('POST', '/proxies', { name: 'live', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` });
    const port = portOf(((await call('GET', '/proxies/live')).json() as { listen: string }).listen);
    await call('POST', '/proxies/live/toxics', { type: 'latency', name: 'lag', attributes: { latency: 0 } });
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const rtt = (): Promise<number> =>
      new Promise((resolve) => {
        const t = performance.now();
        socket.once('data', () => resolve(performance.now() - t));
        socket.write('x');
      });
    const fast = await rtt();
    const r = await call('PATCH', '/proxies/live/toxics/lag', { attributes: { latency: 250 } });
    expect(r.json()).toEqual({ name: 'lag', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 250, jitter: 0 } });
    expect(await rtt()).toBeGreaterThanOrEqual(245);
    expect(fast).toBeLessThan(200);
    socket.destroy();
  });
});

describe("bad input answers as Toxiproxy's api.go does", () => {
  beforeEach(async () => {
    await call('POST', '/reset');
    for (const name of Object.keys((await call('GET', '/proxies')).json() as object)) await call('DELETE', `/proxies/${name}`);
    expect((await call('POST', '/proxies', { name: 'db', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` })).status).toBe(201);
  });

  it('unknown proxy and toxic: 404 with Toxiproxy error bodies', async () => {
    const r = await call('GET', '/proxies/nope');
    expect(r.status).toBe(404);
    expect(r.text).toBe('{"error":"proxy not found","status":404}\n');
    expect(r.type).toBe('text/plain; charset=utf-8');
    expect((await call('DELETE', '/proxies/db/toxics/nope')).text).toBe('{"error":"toxic not found","status":404}\n');
    expect((await call('POST', '/proxies/nope/toxics', { type: 'latency' })).status).toBe(404);
  });

  it('duplicate proxy and toxic names: 409', async () => {
    const dup = await call('POST', '/proxies', { name: 'db', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` });
    expect(dup.status).toBe(409);
    expect(dup.json()).toEqual({ error: 'proxy already exists', status: 409 });
    expect((await call('POST', '/proxies/db/toxics', { type: 'latency', attributes: { latency: 1 } })).status).toBe(200);
    const again = await call('POST', '/proxies/db/toxics', { type: 'latency', stream: 'downstream' });
    expect(again.status).toBe(409);
    expect(again.json()).toEqual({ error: 'toxic already exists', status: 409 });
  });

  it('unknown toxic type, bad stream, bad attributes: 400', async () => {
    expect((await call('POST', '/proxies/db/toxics', { type: 'corrupt_everything' })).json()).toEqual({ error: 'invalid toxic type', status: 400 });
    expect((await call('POST', '/proxies/db/toxics', { type: 'latency', stream: 'sideways' })).json()).toEqual({
      error: 'stream was invalid, can be either upstream or downstream',
      status: 400,
    });
    expect((await call('POST', '/proxies/db/toxics', { type: 'latency', attributes: { latency: 'slow' } })).json()).toEqual({
      error: 'bad request body: json: cannot unmarshal string into Go struct field LatencyToxic.attributes.latency of type int64',
      status: 400,
    });
    expect((await call('POST', '/proxies/db/toxics', { type: 'bandwidth', attributes: { rate: 1.5 } })).json()).toEqual({
      error: 'bad request body: json: cannot unmarshal number 1.5 into Go struct field BandwidthToxic.attributes.rate of type int64',
      status: 400,
    });
    expect((await call('POST', '/proxies/db/toxics', '{"type": "latency"')).json()).toEqual({ error: 'bad request body: unexpected EOF', status: 400 });
    expect((await call('POST', '/proxies', { listen: '127.0.0.1:0' })).json()).toEqual({ error: 'missing required field: name', status: 400 });
    expect((await call('POST', '/proxies', { name: 'x' })).json()).toEqual({ error: 'missing required field: upstream', status: 400 });
    expect((await call('POST', '/populate', [{ name: 'a', upstream: 'localhost:1' }, { name: 'b' }])).json()).toEqual({ error: 'missing required field: upstream at proxy 2', status: 400 });
    // nothing was added by the failed calls
    expect(((await call('GET', '/proxies/db/toxics')).json() as unknown[]).length).toBe(0);
    expect(Object.keys((await call('GET', '/proxies')).json() as object)).toEqual(['db']);
  });

  it('a listen port in use: 500 with Go\'s bind error, and no proxy is created', async () => {
    const taken = await echoServer();
    try {
      const r = await call('POST', '/proxies', { name: 'clash', listen: `127.0.0.1:${taken.port}`, upstream: `127.0.0.1:${echo.port}` });
      expect(r.status).toBe(500);
      expect(r.json()).toEqual({ error: `listen tcp 127.0.0.1:${taken.port}: bind: address already in use`, status: 500 });
      expect((await call('GET', '/proxies/clash')).status).toBe(404);
    } finally {
      await taken.close();
    }
  });

  it('unknown routes and methods: 404 page not found, 405', async () => {
    const r = await call('GET', '/nothing');
    expect(r.status).toBe(404);
    expect(r.text).toBe('404 page not found\n');
    expect((await call('PUT', '/proxies')).status).toBe(405);
    const bad = await call('GET', '/proxies/%zz');
    expect(bad.status).toBe(400);
    expect(bad.text).toBe('400 Bad Request\n');
  });

  it('refuses browsers, other Origins and non-loopback Host names', async () => {
    const ua = await call('POST', '/reset', undefined, { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)' });
    expect(ua.status).toBe(403);
    expect(ua.text).toBe('User agent not allowed\n');
    const origin = await call('GET', '/proxies', undefined, { origin: 'https://evil.example' });
    expect(origin.status).toBe(403);
    expect(origin.json()).toEqual({ error: 'requests from web pages (with an Origin header) are not allowed', status: 403 });
    // DNS rebinding: the page's host name resolves to 127.0.0.1 but the Host header says so
    const rebound = await new Promise<number>((resolve, reject) => {
      const s = net.connect(api.port, '127.0.0.1', () => s.write('GET /proxies HTTP/1.1\r\nHost: evil.example:8474\r\nConnection: close\r\n\r\n'));
      let data = '';
      s.on('data', (d) => (data += d.toString()));
      s.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1])));
      s.on('error', reject);
    });
    expect(rebound).toBe(403);
    // the proxy is still there: nothing above changed anything
    expect((await call('GET', '/proxies/db')).status).toBe(200);
  });
});
