/**
 * The compiled sample services (dist/sample-services/*), run as child processes the way meshbox
 * runs them, checked against the reference behaviour: exact bodies, random error share, delays,
 * caller's status pass-through, forward-proxy addressing, header propagation, startup and shutdown.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SERVICES = ['callme', 'caller'] as const;
type ServiceName = (typeof SERVICES)[number];

interface Started {
  child: ChildProcess;
  port: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

const children = new Set<ChildProcess>();
const servers = new Set<http.Server>();

/** Builds when a compiled service is missing or older than one of its sources. */
function ensureBuilt(): void {
  const stale = SERVICES.some((name) => {
    const sourceDir = path.join(ROOT, 'sample-services', name);
    for (const file of readdirSync(sourceDir).filter((f) => f.endsWith('.ts'))) {
      const out = path.join(ROOT, 'dist/sample-services', name, file.replace(/\.ts$/, '.js'));
      if (!existsSync(out) || statSync(out).mtimeMs < statSync(path.join(sourceDir, file)).mtimeMs) return true;
    }
    return false;
  });
  if (!stale) return;
  const tsc = path.join(ROOT, 'node_modules/.bin/tsc');
  const result = spawnSync(tsc, ['-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
  for (const name of SERVICES) {
    if (!existsSync(path.join(ROOT, 'dist/sample-services', name, 'main.js'))) {
      throw new Error(`build did not produce dist/sample-services/${name}/main.js:\n${result.stdout}${result.stderr}`);
    }
  }
}

function spawnService(name: ServiceName, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/sample-services', name, 'main.js')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

async function startService(name: ServiceName, env: Record<string, string>): Promise<Started> {
  const port = await freePort();
  const child = spawnService(name, { PORT: String(port), ...env });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + 10_000;
  while (!out.includes(' listening on ')) {
    if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}: ${err}`);
    if (Date.now() > deadline) throw new Error(`${name} did not start: ${out}${err}`);
    await sleep(20);
  }
  return { child, port, stdout: () => out, stderr: () => err, exited };
}

function request(port: number, target: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: target, method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ms: performance.now() - started }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A stand-in forward proxy: records what it receives and answers a fixed text. */
async function recordingProxy(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const seen: { method: string; url: string; headers: http.IncomingHttpHeaders }[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    answer(req, res);
  });
  servers.add(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, seen };
}

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs}ms: ${condition.toString()}`);
    await sleep(10);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function killAll(): void {
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
  }
  children.clear();
}

beforeAll(() => ensureBuilt(), 120_000);

afterEach(async () => {
  killAll();
  await Promise.all([...servers].map((server) => new Promise((resolve) => server.close(resolve))));
  for (const server of servers) server.closeAllConnections();
  servers.clear();
});

afterAll(() => killAll());

async function instanceIdOf(port: number): Promise<string> {
  return JSON.parse((await request(port, '/callme/echo')).body).instance as string;
}

describe('service folders', () => {
  it('are self-contained: Node built-ins and their own files only, the same service kit in each', () => {
    for (const name of SERVICES) {
      const dir = path.join(ROOT, 'sample-services', name);
      for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
        const source = readFileSync(path.join(dir, file), 'utf8');
        for (const [, specifier] of source.matchAll(/^import[^'"]*['"]([^'"]+)['"]/gm)) {
          expect(specifier, `${name}/${file}`).toMatch(/^(node:|\.\/[a-z-]+\.js$|@grpc\/grpc-js$)/);
          // an npm package is linked into the compiled folder (sample-services/link-deps.mjs), so
          // the folder copied into a container image has it
          if (specifier.startsWith('@')) expect(existsSync(path.join(ROOT, 'dist/sample-services', name, 'node_modules', specifier, 'package.json')), `${name} links ${specifier}`).toBe(true);
        }
      }
    }
    const kit = (name: ServiceName) => readFileSync(path.join(ROOT, 'sample-services', name, 'service-kit.ts'), 'utf8');
    expect(kit('caller')).toBe(kit('callme'));
  });
});

describe('callme-service', () => {
  it('answers ping with the exact reference body as text/plain', async () => {
    const callme = await startService('callme', { VERSION: 'v1' });
    const answer = await request(callme.port, '/callme/ping');
    expect(answer.status).toBe(200);
    expect(answer.body).toBe("I'm callme-service v1");
    expect(answer.headers['content-type']).toMatch(/^text\/plain/);
    expect(callme.stdout()).toMatch(/callme-service v1 listening on http:\/\/127\.0\.0\.1:\d+/);
    await waitFor(() => /GET \/callme\/ping 200 \d+ms/.test(callme.stdout()));
  });

  it('answers 504 about half the time on ping-with-random-error, with the reference bodies', async () => {
    const callme = await startService('callme', { VERSION: 'v2', SEED: '12345' });
    const id = await instanceIdOf(callme.port);
    const statuses: number[] = [];
    for (let i = 0; i < 400; i++) {
      const answer = await request(callme.port, '/callme/ping-with-random-error');
      statuses.push(answer.status);
      if (answer.status === 504) expect(answer.body).toBe(`Surprise ${id} v2`);
      else expect(answer.body).toBe(`I'm callme-service${id} v2`);
    }
    const errors = statuses.filter((s) => s === 504).length;
    expect(errors / 400).toBeGreaterThan(0.42);
    expect(errors / 400).toBeLessThan(0.58);
    expect(statuses.every((s) => s === 504 || s === 200)).toBe(true);

    // the same SEED replays the same sequence in another process
    const replay = await startService('callme', { VERSION: 'v2', SEED: '12345' });
    for (let i = 0; i < 50; i++) expect((await request(replay.port, '/callme/ping-with-random-error')).status).toBe(statuses[i]);
  });

  it('delays ping-with-random-delay by 0..2999 ms', async () => {
    const callme = await startService('callme', { VERSION: 'v1', SEED: '7' });
    const answers = await Promise.all(Array.from({ length: 24 }, () => request(callme.port, '/callme/ping-with-random-delay')));
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body).toBe("I'm callme-service v1");
      expect(answer.ms).toBeLessThan(3000 + 400);
    }
    const times = answers.map((a) => a.ms);
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(1000);
  });

  it('serves the test extras: status, delay and echo', async () => {
    const callme = await startService('callme', { VERSION: 'v1' });
    const teapot = await request(callme.port, '/callme/status/418');
    expect([teapot.status, teapot.body]).toEqual([418, "I'm callme-service v1: 418"]);
    expect((await request(callme.port, '/callme/status/99')).status).toBe(400);

    const delayed = await request(callme.port, '/callme/delay/300');
    expect([delayed.status, delayed.body]).toEqual([200, "I'm callme-service v1"]);
    expect(delayed.ms).toBeGreaterThanOrEqual(295);
    expect(delayed.ms).toBeLessThan(1000);

    const echo = await request(callme.port, '/callme/echo?x=1', {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'x-custom': 'yes' },
      body: 'hello body',
    });
    const parsed = JSON.parse(echo.body);
    expect(echo.status).toBe(200);
    expect(parsed).toMatchObject({ version: 'v1', method: 'POST', url: '/callme/echo?x=1', body: 'hello body' });
    expect(parsed.instance).toMatch(/^[0-9a-f-]{36}$/);
    expect(parsed.headers['x-custom']).toBe('yes');
  });

  it('answers health, 404 for unknown paths and 405 for wrong methods', async () => {
    const callme = await startService('callme', { VERSION: 'v1' });
    for (const target of ['/actuator/health', '/healthz']) {
      const health = await request(callme.port, target);
      expect([health.status, health.body]).toEqual([200, '{"status":"UP"}']);
    }
    expect((await request(callme.port, '/nowhere')).status).toBe(404);
    const wrong = await request(callme.port, '/callme/ping', { method: 'DELETE' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('GET, HEAD');
  });

  it('exits non-zero with a message when VERSION is missing', async () => {
    const child = spawnService('callme', { PORT: String(await freePort()) });
    let err = '';
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).not.toBe(0);
    expect(err).toMatch(/VERSION is required/);
  });

  it('finishes in-flight requests on SIGTERM, refuses new connections, and exits 0', async () => {
    const callme = await startService('callme', { VERSION: 'v1' });
    const inFlight = request(callme.port, '/callme/delay/800');
    await sleep(200);
    process.kill(callme.child.pid!, 'SIGTERM');
    await sleep(100);
    await expect(request(callme.port, '/callme/ping')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const answer = await inFlight;
    expect([answer.status, answer.body]).toEqual([200, "I'm callme-service v1"]);
    expect(answer.headers.connection).toBe('close');
    expect(await callme.exited).toEqual({ code: 0, signal: null });
    expect(callme.stdout()).toMatch(/SIGTERM received/);
  });
});

describe('caller-service', () => {
  it('calls callme and prefixes its body, passing the status through', async () => {
    const callme = await startService('callme', { VERSION: 'v2', SEED: '99' });
    const caller = await startService('caller', { VERSION: 'v1', CALLME_URL: `http://127.0.0.1:${callme.port}` });

    const ping = await request(caller.port, '/caller/ping');
    expect([ping.status, ping.body]).toEqual([200, "I'm caller-service v1. Calling... I'm callme-service v2"]);

    const unavailable = await request(caller.port, '/caller/callme/status/503');
    expect([unavailable.status, unavailable.body]).toEqual([503, "I'm caller-service v1. Calling... I'm callme-service v2: 503"]);

    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const answer = await request(caller.port, '/caller/ping-with-random-error');
      seen.add(answer.status);
      expect(answer.body).toMatch(answer.status === 504 ? /^I'm caller-service v1\. Calling\.\.\. Surprise [0-9a-f-]{36} v2$/ : /^I'm caller-service v1\. Calling\.\.\. I'm callme-service[0-9a-f-]{36} v2$/);
    }
    expect([...seen].sort()).toEqual([200, 504]);

    const delayed = await request(caller.port, '/caller/ping-with-random-delay');
    expect([delayed.status, delayed.body]).toEqual([200, "I'm caller-service v1. Calling... I'm callme-service v2"]);

    const echo = await request(caller.port, '/caller/callme/echo?q=2', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    const inner = JSON.parse(echo.body.replace("I'm caller-service v1. Calling... ", ''));
    expect(inner).toMatchObject({ method: 'POST', url: '/callme/echo?q=2', body: '{"a":1}' });
    expect(inner.headers['content-type']).toBe('application/json');
  });

  it('sends its calls to HTTP_PROXY in absolute form with the logical Host', async () => {
    const proxy = await recordingProxy((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end("I'm callme-service v9"));
    const caller = await startService('caller', { VERSION: 'v1', HTTP_PROXY: `http://127.0.0.1:${proxy.port}` });
    const answer = await request(caller.port, '/caller/ping');
    expect([answer.status, answer.body]).toEqual([200, "I'm caller-service v1. Calling... I'm callme-service v9"]);
    expect(proxy.seen).toHaveLength(1);
    expect(proxy.seen[0]).toMatchObject({ method: 'GET', url: 'http://callme-service:8080/callme/ping' });
    expect(proxy.seen[0]!.headers.host).toBe('callme-service:8080');
    expect(caller.stdout()).toMatch(/callme-service at http:\/\/callme-service:8080 via proxy 127\.0\.0\.1:\d+/);
  });

  it('accepts MESHBOX_OUTBOUND without a scheme and honours NO_PROXY', async () => {
    const proxy = await recordingProxy((_req, res) => res.end('proxied'));
    const viaOutbound = await startService('caller', { VERSION: 'v1', MESHBOX_OUTBOUND: `127.0.0.1:${proxy.port}`, CALLME_URL: 'http://callme-service:9090' });
    expect((await request(viaOutbound.port, '/caller/ping')).body).toBe("I'm caller-service v1. Calling... proxied");
    expect(proxy.seen[0]!.url).toBe('http://callme-service:9090/callme/ping');
    expect(proxy.seen[0]!.headers.host).toBe('callme-service:9090');

    const callme = await startService('callme', { VERSION: 'v1' });
    const direct = await startService('caller', {
      VERSION: 'v1',
      HTTP_PROXY: `http://127.0.0.1:${proxy.port}`,
      NO_PROXY: 'example.com,127.0.0.1',
      CALLME_URL: `http://127.0.0.1:${callme.port}`,
    });
    expect((await request(direct.port, '/caller/ping')).body).toBe("I'm caller-service v1. Calling... I'm callme-service v1");
    expect(proxy.seen).toHaveLength(1);
  });

  it('propagates trace and routing headers, and only those', async () => {
    const proxy = await recordingProxy((_req, res) => res.end('ok'));
    const caller = await startService('caller', { VERSION: 'v1', HTTP_PROXY: `http://127.0.0.1:${proxy.port}` });
    const propagated: Record<string, string> = {
      'x-request-id': '6b1e4a7c-0d7e-4c59-9a52-1f0c2c6c7d11',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      tracestate: 'congo=t61rcWkgMzE',
      b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90',
      'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7',
      'x-b3-spanid': 'e457b5a2e4d86bd1',
      'x-b3-parentspanid': '05e3ac9a4f6e3b90',
      'x-b3-sampled': '1',
      'x-b3-flags': '1',
      'x-ot-span-context': 'abc;def;ghi',
      'end-user': 'jason',
      'user-agent': 'meshbox-test/1.0',
    };
    await request(caller.port, '/caller/ping', { headers: { ...propagated, 'x-not-propagated': 'no', cookie: 'a=b' } });
    const headers = proxy.seen[0]!.headers;
    for (const [name, value] of Object.entries(propagated)) expect(headers[name], name).toBe(value);
    expect(headers['x-not-propagated']).toBeUndefined();
    expect(headers.cookie).toBeUndefined();
  });

  it('answers 502 with the reason when callme cannot be reached or does not answer in time', async () => {
    const closedPort = await freePort();
    const refused = await startService('caller', { VERSION: 'v1', CALLME_URL: `http://127.0.0.1:${closedPort}` });
    const answer = await request(refused.port, '/caller/ping');
    expect(answer.status).toBe(502);
    expect(answer.body).toBe(`I'm caller-service v1. Calling... error: connect ECONNREFUSED 127.0.0.1:${closedPort}`);

    const silent = await recordingProxy(() => undefined);
    const slow = await startService('caller', { VERSION: 'v1', HTTP_PROXY: `http://127.0.0.1:${silent.port}`, CALLME_TIMEOUT_MS: '300' });
    const timedOut = await request(slow.port, '/caller/ping');
    expect([timedOut.status, timedOut.body]).toEqual([502, "I'm caller-service v1. Calling... error: timeout after 300ms"]);
    expect(timedOut.ms).toBeGreaterThanOrEqual(295);

    const resetting = await recordingProxy((req) => req.socket.destroy());
    const reset = await startService('caller', { VERSION: 'v1', HTTP_PROXY: `http://127.0.0.1:${resetting.port}` });
    const resetAnswer = await request(reset.port, '/caller/ping');
    expect(resetAnswer.status).toBe(502);
    expect(resetAnswer.body).toBe("I'm caller-service v1. Calling... error: socket hang up");
  });

  it('exits non-zero without VERSION and 0 on SIGTERM after finishing a call in flight', async () => {
    const missing = spawnService('caller', { PORT: String(await freePort()) });
    expect(await new Promise((resolve) => missing.on('exit', resolve))).toBe(1);

    const callme = await startService('callme', { VERSION: 'v1' });
    const caller = await startService('caller', { VERSION: 'v1', CALLME_URL: `http://127.0.0.1:${callme.port}` });
    const inFlight = request(caller.port, '/caller/callme/delay/600');
    await sleep(200);
    process.kill(caller.child.pid!, 'SIGTERM');
    expect((await inFlight).body).toBe("I'm caller-service v1. Calling... I'm callme-service v1");
    expect((await caller.exited).code).toBe(0);
  });
});
